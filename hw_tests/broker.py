"""The clinic's broker: reachable, and this station allowed in (connected, subscriptions
accepted). Whether the broker takes the self-test report itself is seen when the report
is sent (``rehab-station outbox`` shows a refused one)."""

from __future__ import annotations

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed, skipped


def check(ctx: CheckContext) -> list[CheckResult]:
    if ctx.broker_probe is None:
        return [skipped("broker", "MQTT is off (mqtt.enabled = false and no --broker)")]
    result = ctx.broker_probe()
    if result.ok:
        return [passed("broker", result.detail)]
    return [
        failed(
            "broker",
            result.detail,
            "the network, mqtt.broker, and the station's certificate or password and ACL "
            "at the clinic",
            "T-MQTT-01",
        )
    ]
