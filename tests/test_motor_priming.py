"""Priming (``MotorProtocol.prime``): a short vibration block on the priming sites just
before a motor task, counted in the day's dose, stopped on every exit path; a day without
vibration runs the task unprimed and says so; the summary keeps primed and unprimed results
apart. Whole sessions on the simulated station with a minimal motor task of this module
(one firm grip on the grip pad), so that priming is tested apart from any one protocol."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from conftest import SimCalibrations
from test_session_e2e import Stations, make_plan, patient, run, when_lcd_shows

from station import config as config_mod
from station import runner as runner_mod
from station.app import App
from station.journal import Trial
from station.plan import DAYS, Plan, ScheduleItem
from station.protocol_params import IntParam, NumberParam, OneOfParam, PadsParam, Param
from station.protocols.base import MetricsContext, SessionContext
from station.protocols.motor.common import MotorProtocol, follow, force_metric, is_priming

SEED = 6
#: Played time against the stimulus asked for: the first 10 ms drive step of each site is
#: the ramp's zero (the dose ledger counts what was driven).
PLAYED_TOL_S = 0.03


class OneGrip(MotorProtocol):
    """A minimal motor task: one firm grip of 2 s on the grip pad, its mean journalled."""

    name = "one_grip"
    uses_force = True
    intro_key = "rest.over"  # "Press OK when ready": any plain OK screen will do
    PARAMS: ClassVar[Mapping[str, Param]] = {
        "hand": OneOfParam(("involved", "uninvolved"), default="involved"),
        "pad": IntParam(0, 3, default=0),
        "priming_s": NumberParam(0.0, 60.0, default=0.0, unit="s"),
        "priming_sites": PadsParam(1, 4, default=(0,)),
    }

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        self.place(ctx, side)
        trace = follow(ctx, self.pad, 2.0, "motor.comfortable", self.full_scale(ctx), hand=side)
        keep = trace.valid & (trace.t_s >= 1.0)
        ctx.record_trial(
            Trial(
                self.name,
                0,
                side,
                {"primed": primed},
                {"mean_n": round(float(np.mean(trace.force_n[keep])), 4)},
                None,
                None,
                trace.t0,
                ctx.clock.now(),
            )
        )

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        mean = float(np.mean([t.response["mean_n"] for t in trials]))
        return {"mean_force": force_metric(mean, ctx.calibration_tolerance)}


def config() -> config_mod.Config:
    """One ADS1115 with four pads (and four motors) at 25 Hz, no glove: a small station."""
    pads = {"adc_addresses": [0x48], "rate_hz": 25, "data_rate_sps": 128}
    return config_mod.validate({"glove": {"fitted": False}, "pads": pads})


@pytest.fixture(scope="module")
def calibrated(sim_calibrations: SimCalibrations) -> Path:
    return sim_calibrations.records(config(), SEED)


@pytest.fixture
def stations(
    tmp_path: Path, calibrated: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stations]:
    monkeypatch.setitem(runner_mod.PROTOCOLS, OneGrip.name, OneGrip)
    s = Stations(tmp_path, calibrated, config(), SEED)
    try:
        yield s
    finally:
        s.close()


def plan(app: App, *items: dict[str, Any], **caps: Any) -> Plan:
    """Today's plan of ``one_grip`` items (``params`` each), with ``caps`` changed."""
    schedule = tuple(ScheduleItem(OneGrip.name, DAYS, params) for params in items)
    return dataclasses.replace(make_plan(app, maximal=False, **caps), schedule=schedule)


class Motors:
    """Which motors vibrate when, sampled every 10 ms of the session's clock."""

    def __init__(self, app: App) -> None:
        st = app.station
        assert st is not None and st.sim is not None
        self.clock, self.motors = st.clock, st.sim.world.motors
        self.on: dict[int, list[float]] = {m: [] for m in range(len(self.motors))}
        self._h = self.clock.every(0.01, self._look, "watch-motors")

    def _look(self) -> None:
        t = self.clock.now()
        for m, motor in enumerate(self.motors):
            if motor.vibration_at(t)[0] > 0.01:
                self.on[m].append(t)

    def seconds(self, m: int) -> float:
        return len(self.on[m]) * 0.01


def trials(app: App, out: Any) -> tuple[list[Trial], list[Trial]]:
    """The session's priming blocks and its task trials."""
    assert app.journal is not None
    all_ = app.journal.trials(out.session_id, OneGrip.name)
    return [t for t in all_ if is_priming(t)], [t for t in all_ if not is_priming(t)]


def metrics(out: Any) -> dict[str, Any]:
    (result,) = [r for r in out.summary["protocols"] if r["protocol"] == OneGrip.name]
    return result["metrics"]


def test_priming_buzzes_its_sites_just_before_the_task_and_counts_in_the_dose(
    stations: Stations,
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.haptics is not None
    motors = Motors(app)
    gripping = when_lcd_shows(app, "Squeeze firmly", lambda _t: None)
    dose0 = st.ledger.vibration_s_today()
    patient(app)
    out = run(app, plan(app, {"priming_s": 3.0, "priming_sites": [1, 2]}))
    assert out.state == "complete", out.reason
    # 1.5 s on each site (motor n under pad n), nothing elsewhere, all over before the grip
    assert motors.seconds(1) == pytest.approx(1.5, abs=0.05)
    assert motors.seconds(2) == pytest.approx(1.5, abs=0.05)
    assert motors.seconds(0) == motors.seconds(3) == 0
    assert max(motors.on[1] + motors.on[2]) < gripping[0]
    assert not st.haptics.running()
    # counted in the day's dose, and journalled
    assert st.ledger.vibration_s_today() - dose0 == pytest.approx(3.0, abs=PLAYED_TOL_S)
    (block,), (task,) = trials(app, out)
    assert block.response["played_s"] == pytest.approx(3.0, abs=PLAYED_TOL_S)
    assert (block.stimulus["sites"], block.response["primed"]) == ([1, 2], True)
    assert block.t_end_s <= task.t_start_s < block.t_end_s + 10.0  # just before the task
    assert task.stimulus["primed"] is True
    m = metrics(out)
    assert m["mean_force"]["primed"] is True and "primed_mean_force" not in m
    assert m["priming"]["value"] == pytest.approx(3.0, abs=PLAYED_TOL_S)
    assert m["priming"]["unit"] == "s" and m["priming"]["not_primed"] == []


@pytest.mark.parametrize("day", ["new numbness", "dose used up"])
def test_priming_a_day_without_vibration_runs_the_task_unprimed_and_says_so(
    stations: Stations, day: str
) -> None:
    app = stations.open()
    motors = Motors(app)
    said = when_lcd_shows(app, "No warm-up buzz", lambda _t: None)
    patient(app, new_numbness=day == "new numbness")
    caps = {"daily_vibration_min": 0.0} if day == "dose used up" else {}
    out = run(app, plan(app, {"priming_s": 3.0, "priming_sites": [1]}, **caps))
    assert all(motors.seconds(m) == 0 for m in motors.on)
    assert said
    (block,), (task,) = trials(app, out)
    why = "daily vibration dose used up" if day == "dose used up" else "no vibration today"
    assert block.response["primed"] is False and block.response["not_primed"].startswith(why)
    assert block.response["played_s"] == 0.0
    assert task.stimulus["primed"] is False and task.response["mean_n"] > 1.0  # it ran
    m = metrics(out)
    assert m["mean_force"]["primed"] is False
    assert m["priming"]["value"] == 0.0 and m["priming"]["not_primed"][0].startswith(why)


def test_priming_stop_mid_buzz_turns_the_motors_off_and_journals_what_played(
    stations: Stations,
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.sim is not None and st.haptics is not None
    stop = st.sim.button_pins(app.config["buttons"])["stop"]
    motors = Motors(app)

    def press_stop(_t: float) -> None:
        st.clock.call_later(1.0, stop.drive_low, "press-stop")

    buzzing = when_lcd_shows(app, "Warm-up buzz", press_stop)
    patient(app)
    out = run(app, plan(app, {"priming_s": 4.0, "priming_sites": [1]}))
    assert out.state == "stopped"
    # the motor ran from the buzz screen until the press, not a step after it
    assert motors.on[1] and max(motors.on[1]) <= buzzing[0] + 1.0 + 0.03
    assert not st.haptics.running()
    (block,), task = trials(app, out)
    assert task == []
    assert block.response["not_primed"] == "stopped"
    assert block.response["played_s"] == pytest.approx(motors.seconds(1), abs=0.05)


def test_priming_a_pause_mid_buzz_stops_it_and_the_task_runs_unprimed(
    stations: Stations,
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.sim is not None
    back = st.sim.button_pins(app.config["buttons"])["back"]
    motors = Motors(app)
    paused: list[float] = []

    def hold_back(t: float) -> None:
        def press() -> None:
            paused.append(st.clock.now())
            back.drive_low()

        st.clock.call_later(1.0, press, "hold-back")
        st.clock.call_later(1.3, back.drive_high, "release-back")

    when_lcd_shows(app, "Warm-up buzz", hold_back)
    patient(app)
    out = run(app, plan(app, {"priming_s": 4.0, "priming_sites": [1]}))
    assert out.state == "complete", out.reason
    assert max(motors.on[1]) <= paused[0] + 0.05  # off at the pause, never back on
    (block,), (task,) = trials(app, out)
    assert (block.response["primed"], block.response["not_primed"]) == (False, "paused")
    # What the dose ledger counted: at least what played (1 s). It counts the pause too
    # (sensors/haptics.py accounts the time until() blocked at the level before it), so
    # only the lower bound is the behaviour to keep.
    assert block.response["played_s"] >= motors.seconds(1) - 0.05
    assert task.stimulus["primed"] is False


def test_priming_the_summary_keeps_primed_and_unprimed_results_apart(
    stations: Stations,
) -> None:
    """The same task twice in a session, primed and then not: two sets of figures."""
    app = stations.open()
    patient(app)
    out = run(app, plan(app, {"priming_s": 2.0, "priming_sites": [1]}, {}))
    assert out.state == "complete", out.reason
    (block,), (primed, plain) = trials(app, out)
    assert block.response["primed"] is True  # the first item's block; the second has none
    assert (primed.stimulus["primed"], plain.stimulus["primed"]) == (True, False)
    m = metrics(out)
    assert m["mean_force"]["value"] == pytest.approx(plain.response["mean_n"], abs=1e-3)
    assert m["primed_mean_force"]["value"] == pytest.approx(primed.response["mean_n"], abs=1e-3)
    assert (m["mean_force"]["primed"], m["primed_mean_force"]["primed"]) == (False, True)
    assert m["priming"]["value"] == pytest.approx(2.0, abs=PLAYED_TOL_S)
