"""Send a clinician's plan to one station and wait for its answer.

The plan is checked locally first with the station's own rules (:func:`mqtt_bridge.plans.
parse_plan`), so an invalid plan never reaches a station. Then: subscribe to the station's
``plan/result`` (before publishing, so the answer cannot be missed), publish the plan
retained with QoS 1 on ``plan`` (the retained message and the station's persistent session
deliver it even if the station is off now), and wait for the result that carries this
``plan_version``. Outcomes map to the command's exit codes: accepted 0; rejected (by the
station or locally) and no answer within the timeout 1 (2 is for usage errors only).
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_bridge import envelope, plans, topics
from mqtt_bridge.clinic import BrokerOptions, make_client, stop_loop

SendOutcome = Literal["accepted", "rejected", "invalid", "no_answer"]
EXIT_CODES: dict[SendOutcome, int] = {"accepted": 0, "rejected": 1, "invalid": 1, "no_answer": 1}


@dataclass(frozen=True)
class SendResult:
    """``outcome``: accepted | rejected (by the station) | invalid (refused locally) |
    no_answer; ``reason`` says why, or for accepted what the station added (the caps it
    tightens), if anything."""

    outcome: SendOutcome
    plan_version: int | None
    reason: str = ""

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    def describe(self) -> str:
        v = f"plan_version {self.plan_version}" if self.plan_version is not None else "plan"
        if self.outcome == "accepted":
            return f"accepted: {v}; {self.reason}" if self.reason else f"accepted: {v}"
        if self.outcome == "invalid":
            return f"rejected locally, not sent: {self.reason}"
        if self.outcome == "rejected":
            return f"rejected by the station: {v}: {self.reason}"
        return f"no answer: {v}: {self.reason}"


def validate(station_id: str, data: bytes) -> dict[str, Any]:
    """The plan checked with the station's rules (size, UTF-8, schema and ranges, dates),
    addressed to ``station_id``; raises ``plans.PlanRejected`` (a ``ValueError``)."""
    return plans.parse_plan(data, station_id=station_id)


def _answer(msg: mqtt.MQTTMessage, plan_version: int, correlation: bytes) -> dict | None:
    """The station's ``rehab.plan_result/1`` body if this message answers our plan, else None.

    The answer is the body of an envelope; it matches by the correlation data the plan
    carried or, failing that, by ``plan_version`` (a result for an older plan is ignored)."""
    try:
        env = envelope.loads(msg.payload)
    except ValueError:  # not UTF-8, not JSON, nested too deeply: not our answer
        return None
    result = env.get("body") if isinstance(env, dict) else None
    if not isinstance(result, dict) or result.get("status") not in ("accepted", "rejected"):
        return None
    corr = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
    if corr == correlation or result.get("plan_version") == plan_version:
        return result
    return None


def send_plan(opts: BrokerOptions, station_id: str, data: bytes, timeout_s: float) -> SendResult:
    """Validate, publish and wait up to ``timeout_s`` for the station's answer."""
    try:
        plan = validate(station_id, data)
    except ValueError as exc:
        return SendResult("invalid", None, str(exc))
    version = int(plan["plan_version"])
    # Unique per sending: the station answers a plan message (bytes and correlation data)
    # once, so the same file sent again (after the station's limits changed, say) is a new
    # question and gets a new answer, while the retained copy's replays stay unanswered.
    correlation = f"{station_id}/plan/{version}/{uuid.uuid4().hex}".encode()
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    subscribed, published = threading.Event(), threading.Event()
    client, connect = make_client(opts, persistent=False)

    def on_connect(c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if not rc.is_failure:
            c.subscribe(topics.plan_result(station_id), qos=1)

    def on_subscribe(c: mqtt.Client, u: Any, mid: int, codes: Any, props: Any) -> None:
        if codes and not codes[0].is_failure:
            subscribed.set()

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            result = _answer(msg, version, correlation)
        finally:
            c.ack(msg.mid, msg.qos)
        if result is not None:
            answers.put(result)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_publish = lambda c, u, mid, rc, props: published.set()
    # Real time, not a seam: the deadline bounds real waits on the broker and the station.
    deadline = time.monotonic() + timeout_s
    connect()
    client.loop_start()
    try:
        if not subscribed.wait(timeout_s):
            return SendResult(
                "no_answer", version, f"broker {opts.url} not reachable within {timeout_s:g} s"
            )
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        props.PayloadFormatIndicator = 1
        props.ResponseTopic = topics.plan_result(station_id)
        props.CorrelationData = correlation
        client.publish(topics.plan(station_id), data, qos=1, retain=True, properties=props)
        try:
            result = answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            where = (
                "the plan stays retained on the broker and the station takes it when it connects"
                if published.is_set()
                else "the broker did not confirm the plan either"
            )
            return SendResult(
                "no_answer", version, f"the station did not answer within {timeout_s:g} s; {where}"
            )
    finally:
        client.disconnect()
        stop_loop(client)
    if result["status"] == "accepted":
        return SendResult("accepted", version, str(result.get("reason") or ""))
    return SendResult("rejected", version, str(result.get("reason") or "no reason given"))


__all__ = ["EXIT_CODES", "SendResult", "send_plan", "validate"]
