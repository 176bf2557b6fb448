"""Grip and release: cycles counted with hysteresis on known signals, then a session on the
simulated station whose virtual patient grips and lets go at a known rate (the count must be
exact), behind a closed maximal gate (it is not a maximal test). The force cap ending a set
is tested with the fatigue set's (tests/test_motor_sustained.py)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import SimCalibrations
from test_session_e2e import (
    assert_summarised,
    events,
    make_plan,
    module_app,
    patient,
    run,
)

from station.app import App
from station.protocols.motor.grip_release import HIGH, LOW, count_cycles
from station.sim.motor_acts import MotorAbilities
from station.sim.motor_fast import GripAndRelease


def cosine_cycles(
    n: float, period_s: float = 0.5, peak_n: float = 6.0, rate_hz: float = 100.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` raised-cosine grip-and-release cycles (0 -> peak -> 0) after 0.3 s of rest."""
    t = np.arange(0.0, 0.3 + n * period_s, 1.0 / rate_hz)
    dt = np.maximum(t - 0.3, 0.0)
    return t, peak_n * 0.5 * (1.0 - np.cos(2 * math.pi * dt / period_s))


def test_grip_release_counts_complete_cycles_only() -> None:
    t, f = cosine_cycles(7.5)  # seven and a half: the last grip is not released
    c = count_cycles(t, f)
    assert c.count == 7
    assert np.allclose(c.intervals_s(), 0.5, atol=0.011)
    assert c.low_n == pytest.approx(c.baseline_n + LOW * (c.peak_n - c.baseline_n))
    assert c.high_n == pytest.approx(c.baseline_n + HIGH * (c.peak_n - c.baseline_n))


def test_grip_release_a_wobble_at_the_top_is_one_grip_not_two() -> None:
    """Hysteresis: the force dipping below the high threshold but not the low one inside a
    grip does not start a second one."""
    t, f = cosine_cycles(4.0)
    wobble = 1.5 * np.sin(2 * math.pi * 12.0 * t) * (f > 0.8 * 6.0)
    assert count_cycles(t, f + wobble).count == 4


def test_grip_release_a_trial_that_starts_mid_grip_counts_from_the_first_open_hand() -> None:
    t, f = cosine_cycles(5.0)
    start = np.searchsorted(t, 0.3 + 0.25)  # at the top of the first grip
    assert count_cycles(t[start:], f[start:]).count == 4
    # and NaN samples (a pad glitch) are skipped, not counted as releases
    f2 = f.copy()
    f2[::7] = np.nan
    assert count_cycles(t, f2).count == 5


def test_grip_release_no_range_is_no_cycle() -> None:
    t = np.arange(0.0, 10.0, 0.01)
    f = 0.4 + 0.3 * np.sin(2 * math.pi * 2.0 * t)  # under 1 N of range
    assert count_cycles(t, f).count == 0


# -- sessions -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, sim_calibrations: SimCalibrations
) -> Iterator[App]:
    with module_app(tmp_path_factory, sim_calibrations, "release") as a:
        yield a


def item(protocol: str = "grip_release", **params: Any) -> dict[str, Any]:
    return {"protocol": protocol, "days": "daily", "params": params}


def expected_cycles(t0: float, cycle_s: float, t_from: float, t_to: float) -> int:
    """Raised-cosine cycles from ``t0`` whose rise past the high threshold and fall past the
    low one both lie in ``[t_from, t_to]`` (thresholds on the true 0..peak range)."""
    up = math.acos(1 - 2 * HIGH) / (2 * math.pi)  # phase of the upward high crossing
    down = 1 - math.acos(1 - 2 * LOW) / (2 * math.pi)  # of the downward low crossing
    k = np.arange(0, 100)
    starts = t0 + (k + up) * cycle_s
    ends = t0 + (k + down) * cycle_s
    return int(np.count_nonzero((starts >= t_from) & (ends <= t_to)))


def test_grip_release_counts_the_patients_cycles_exactly_behind_a_closed_gate(app: App) -> None:
    """Maximal tests locked: rate of force development is held back, grip-release (not a
    maximal test) runs and counts every cycle the patient made in its 6 s."""
    cycle_s = 0.45
    p = patient(app, motor=MotorAbilities(release_cycle_s=cycle_s))
    try:
        plan = make_plan(
            app,
            [item("rate_of_force_development", trials=1), item(trials=1, duration_s=6.0)],
            maximal=False,
        )
        outcome = run(app, plan)
    finally:
        p.stop()
    assert outcome.state == "complete"
    assert events(outcome) == [("maximal_not_allowed", "S-GATE")]
    assert app.journal is not None
    assert app.journal.trials(outcome.session_id, "rate_of_force_development") == []
    (trial,) = app.journal.trials(outcome.session_id, "grip_release")
    (done,) = next(a for a in p.acts if isinstance(a, GripAndRelease)).done
    truth = expected_cycles(done["t0"], cycle_s, trial.t_start_s, trial.t_end_s)
    assert truth >= 12
    assert trial.response["cycles"] == truth
    assert trial.response["ici_mean_s"] == pytest.approx(cycle_s, abs=0.005)
    assert trial.response["ici_cv_pct"] < 3.0  # a steady rhythm: only the 10 ms sampling
    assert trial.response["peak_n"] == pytest.approx(done["peak_n"], rel=0.25)
    body = assert_summarised(app, outcome)
    (entry,) = [e for e in body["protocols"] if e["protocol"] == "grip_release"]
    m = entry["metrics"]
    assert m["cycles_per_10s"]["value"] == pytest.approx(
        10.0 * truth / trial.response["ran_s"], abs=1e-3
    )
    assert m["cycles_per_10s"]["unit"] == "cycles/10 s"
    # ±1 cycle in the trial's time, as cycles per 10 s
    assert m["cycles_per_10s"]["uncertainty"] == pytest.approx(
        10.0 / trial.response["ran_s"], abs=1e-3
    )
    assert "never a diagnosis" in m["cycles_per_10s"]["note"]
    assert m["ici_cv"]["unit"] == "%"
