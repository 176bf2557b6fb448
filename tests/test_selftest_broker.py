"""The self-test's broker check and report against a real mosquitto: reachable, the
report delivered to the clinic's topic; a broker that is down fails the check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mqtt_helpers import Clinic

from mqtt_bridge import schema
from station import cli
from station import config as config_mod

RECORDS_CONFIG = config_mod.validate({"glove": {"fitted": False}})
SEED = 3


@pytest.fixture
def data_dir(tmp_path: Path, sim_calibrations: Any) -> Path:
    return sim_calibrations.data_dir(tmp_path / "data", RECORDS_CONFIG, SEED)


def selftest(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    argv = [
        "selftest",
        "--sim",
        "-y",
        "--json",
        "--data-dir",
        str(data_dir),
        "--seed",
        str(SEED),
        *args,
    ]
    rc = cli.main([*argv, "--only", "broker,clock", "--broker-timeout", "2"])
    report = json.loads(capsys.readouterr().out)
    return rc, {c["name"]: c for c in report["checks"]}


def test_selftest_broker_reachable_and_the_report_reaches_the_clinic(
    broker: Any, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic = Clinic(broker.port)
    try:
        rc, checks = selftest(data_dir, capsys, "--broker", broker.url)
        message = clinic.next("/selftest")
    finally:
        clinic.close()
    assert rc == 0
    assert checks["broker"]["status"] == "PASS"
    assert "connected, subscriptions accepted" in checks["broker"]["detail"]
    envelope = json.loads(message.payload)
    assert envelope["schema"] == "rehab.selftest/1"
    schema.validate(envelope["body"], schema.load("rehab.selftest/1"))
    assert envelope["body"]["passed"] is True
    assert [c["name"] for c in envelope["body"]["checks"]] == ["broker", "clock"]


@pytest.mark.parametrize("how", ["injected", "stopped"])
def test_selftest_broker_down_fails_the_broker_check(
    how: str, broker: Any, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--broker", broker.url]
    if how == "injected":
        args += ["--inject-fault", "broker-down"]
    else:
        broker.stop()
    rc, checks = selftest(data_dir, capsys, *args)
    assert rc == 1
    assert checks["broker"]["status"] == "FAIL" and checks["broker"]["code"] == "T-MQTT-01"
    assert "not connected after 2 s" in checks["broker"]["detail"]
    assert checks["clock"]["status"] == "PASS"
