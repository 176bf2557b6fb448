"""The self-test's questions, answered on the simulated station's buttons through
gpiozero's mock pins by a simulated technician who reads the LCD; and the motors are off
however the self-test ends."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from stations import sim_station

from hw_tests import runner
from hw_tests.ask import Asker
from hw_tests.context import CheckContext
from hw_tests.report import CheckResult
from hw_tests.sim_technician import SimTechnician as Technician
from station import cli, config
from station.app import App
from station.commands import run_cmd
from station.paths import station_db
from ui_lcd.screens import Screens

FITTED = ("pads", "haptics", "lcd")


@pytest.fixture
def station(tmp_path: Path) -> Any:
    st = sim_station(tmp_path, fitted=FITTED)
    try:
        yield st
    finally:
        st.close()


def attended(station: Any, timeout_s: float = 30.0) -> CheckContext:
    asker = Asker(Screens("20x4"), station.buttons, station.clock, station.display,
                  timeout_s=timeout_s)  # fmt: skip
    return CheckContext(station, station.calibrations.directory.parent, asker=asker)


def statuses(results: list[CheckResult]) -> dict[str, str]:
    return {r.name: r.status for r in results}


def motors_still(station: Any) -> bool:
    now = station.clock.now()
    return all(drv.drive_at(now) == 0.0 for drv in station.sim.chips.drvs)


def test_selftest_attended_checks_pass_when_the_technician_answers(station: Any) -> None:
    tech = Technician(station)
    steps = runner.select(only=("motors", "lcd", "buttons"))
    results = runner.run(attended(station), steps)
    tech.close()
    got = statuses(results)
    for n in range(4):
        assert got[f"motors.motor{n}.felt"] == "PASS"
    for key in ("ok", "back", "left", "right", "stop"):
        assert got[f"buttons.{key}.pressed"] == "PASS"
    assert got["lcd.pattern"] == "PASS"
    assert any(t.startswith("\x00" * 20 + " ABCDEFGHIJKLMNOPQRST") for t in tech.seen)
    assert {n: s for n, s in got.items() if s != "PASS"} == {}
    assert motors_still(station)


def test_selftest_a_motor_nobody_felt_fails_and_the_others_pass(station: Any) -> None:
    station.sim.chips.drvs[2].inject_actuator_fault("open")
    tech = Technician(station)
    results = runner.run(attended(station), runner.select(only=("motors",)))
    tech.close()
    felt = {r.name: r for r in results if r.name.endswith(".felt")}
    assert felt["motors.motor2.felt"].status == "FAIL"
    assert felt["motors.motor2.felt"].code == "T-MOTOR-05"
    assert felt["motors.motor2.felt"].detail == "not felt"
    assert [felt[f"motors.motor{n}.felt"].status for n in (0, 1, 3)] == ["PASS"] * 3


def test_selftest_stop_ends_the_questions_with_the_motors_off(station: Any) -> None:
    tech = Technician(station, stop_at="Did motor 1 buzz?")
    results = runner.run(attended(station), runner.select(only=("motors", "buttons")))
    tech.close()
    got = statuses(results)
    assert got["motors.felt"] == "SKIP"
    assert got["buttons.pressed"] == "SKIP"  # no more questions after Stop
    assert got["buttons.ok.released"] == "PASS"
    assert not station.buttons.stop_requested()
    assert motors_still(station)


def test_selftest_unanswered_question_fails_as_no_answer(station: Any) -> None:
    results = runner.run(attended(station, timeout_s=1.0), runner.select(only=("lcd",)))
    pattern = next(r for r in results if r.name == "lcd.pattern")
    assert (pattern.status, pattern.detail, pattern.code) == ("FAIL", "no answer", "T-LCD-02")


def test_selftest_motors_are_off_when_a_check_raises_mid_buzz(station: Any) -> None:
    def buzz_then_fail(ctx: CheckContext) -> list[CheckResult]:
        assert ctx.station.haptics is not None
        ctx.station.haptics.drive_raw(1, 0.5)
        assert not motors_still(ctx.station)
        raise RuntimeError("bus gone")

    step = runner.Step("motors", "motors.boom", buzz_then_fail, "buzz, then fail")
    results = runner.run(CheckContext(station, Path(".")), [step])
    assert [(r.name, r.status, r.code) for r in results] == [("motors.boom", "ERROR", "T-SW-01")]
    assert "RuntimeError: bus gone" in results[0].detail
    assert motors_still(station)


def test_selftest_sim_cli_attended_confirms_and_asks_on_the_station(
    tmp_path: Path, sim_calibrations: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without -y the simulated station's technician confirms the start and answers."""
    records = config.validate({"glove": {"fitted": False}})  # the session tests' (seed 3)
    data_dir = sim_calibrations.data_dir(tmp_path / "data", records, 3)
    argv = ["selftest", "--sim", "--json", "--data-dir", str(data_dir), "--seed", "3"]
    rc = cli.main([*argv, "--skip", "pads,imus,storage", "--inject-fault", "motor-open:3"])
    out = capsys.readouterr()
    report = json.loads(out.out)
    checks = {c["name"]: c["status"] for c in report["checks"]}
    assert rc == 1 and report["attended"] is True
    assert "Station self-test Start it now?" in out.err
    assert checks["motors.motor3.felt"] == "FAIL" and checks["motors.motor2.felt"] == "PASS"
    assert checks["lcd.pattern"] == "PASS" and checks["buttons.stop.pressed"] == "PASS"
    assert "SKIP" not in {s for n, s in checks.items() if n != "broker"}


def test_selftest_from_the_service_menu_runs_on_the_lcd_and_queues_the_report(
    tmp_path: Path, sim_calibrations: Any
) -> None:
    cfg = config.validate({"glove": {"fitted": False}})
    app = App(cfg, sim_calibrations.data_dir(tmp_path, cfg, 3), sim=True, seed=3).open()
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        st = app.station
        assert st is not None
        tech = Technician(st)
        done: list[str] = []

        def look() -> None:
            text = tech.text()
            if text.startswith("Choose, then OK") and not done:
                done.append("chosen")
                tech.press("right")
                tech.press("ok", 0.2)
            if "Self-test passed" in text and done == ["chosen"]:
                done.append("passed")
                os.kill(os.getpid(), signal.SIGTERM)

        st.clock.every(0.05, look, "look-at-lcd")
        assert run_cmd._service(app) == 0
        assert done == ["chosen", "passed"]
        with sqlite3.connect(station_db(app.data_dir)) as conn:
            rows = conn.execute("SELECT schema, body FROM outbox").fetchall()
        assert [r[0] for r in rows] == ["rehab.selftest/1"]
        body = json.loads(rows[0][1])
        checks = {c["name"]: c["status"] for c in body["checks"]}
        assert body["passed"] is True and body["attended"] is True
        assert checks["motors.motor0.felt"] == "PASS" and checks["buttons.ok.pressed"] == "PASS"
        assert motors_still(st)
    finally:
        app.close()
        for s, handler in old.items():
            signal.signal(s, handler)
