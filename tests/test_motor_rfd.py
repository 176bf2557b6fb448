"""Rate of force development: the onset, windows and discard rules on known curves, then
sessions on the simulated station whose virtual patient squeezes with a known exponential
rise (its analytic RFD is the truth), and the task's stop paths."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import SimCalibrations
from test_max_grip import PadInput
from test_session_e2e import (
    assert_summarised,
    events,
    make_plan,
    module_app,
    patient,
    press,
    run,
    when_lcd_shows,
)

from station.app import App
from station.journal import Trial
from station.protocols.motor.rfd import (
    BASELINE_S,
    COUNTERMOVEMENT_N,
    ONSET_N,
    PRETENSION_N,
    WINDOWS_S,
    rapid_squeeze,
)
from station.runner import Outcome
from station.sim.motor_acts import MotorAbilities
from station.sim.motor_fast import FastSqueeze, true_rfd

#: The focused pad's sample rate on the simulated station (1.1/860 s + 0.3 ms a tick).
RATE_HZ = 1.0 / (1.1 / 860 + 0.0003)
#: Measured RFD vs the analytic RFD of the patient's rise: the pad's calibration and its
#: loading-branch error (a few %) and sampling; docs/motor.md states it.
RFD_TOL = 0.10
T_GO = 20.0


def curve(
    peak_n: float = 8.0,
    tau_s: float = 0.08,
    react_s: float = 0.4,
    base_n: float = 0.0,
    rate_hz: float = RATE_HZ,
    seconds: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """A fast squeeze sampled at ``rate_hz``: ``base`` until ``react_s`` after the cue, then
    ``base + peak (1 - exp(-t/tau))``; starts BASELINE_S before the cue."""
    t = T_GO - BASELINE_S + np.arange(0.0, seconds + BASELINE_S, 1.0 / rate_hz)
    dt = np.maximum(t - T_GO - react_s, 0.0)
    return t, base_n + peak_n * (1.0 - np.exp(-dt / tau_s))


# -- the measurement of one squeeze ---------------------------------------------------------


def test_rfd_windows_and_peak_match_the_analytic_slope_of_a_known_rise() -> None:
    t, f = curve()
    r = rapid_squeeze(t, f, T_GO)
    assert r.flags() == ()
    t_on = 0.4 - 0.08 * math.log(1 - ONSET_N / 8.0)
    assert r.onset_s == pytest.approx(t_on, abs=0.2 / RATE_HZ)
    for w, rfd, n in zip(WINDOWS_S, r.rfd_n_s, r.window_samples, strict=True):
        assert rfd == pytest.approx(true_rfd(8.0, 0.08, ONSET_N, w), rel=0.01)
        assert n == pytest.approx(w * RATE_HZ, abs=1)  # 32, 63, 126 samples
    # the steepest 10 ms is the first one from onset: peak e^(-t/tau) (1 - e^(-w/tau)) / w
    steepest = (8.0 - ONSET_N) * (1 - math.exp(-0.01 / 0.08)) / 0.01
    assert r.peak_rfd_n_s == pytest.approx(steepest, rel=0.01)
    assert r.peak_n == pytest.approx(8.0, rel=1e-3)
    assert r.rate_hz == pytest.approx(RATE_HZ, rel=1e-6)


def test_rfd_at_100_hz_has_five_samples_in_the_first_50_ms() -> None:
    """Why the burst: the regular rotation gives a 0-50 ms window 5 samples."""
    t, f = curve(rate_hz=100.0)
    r = rapid_squeeze(t, f, T_GO)
    assert r.window_samples[0] in (4, 5)
    assert r.rfd_n_s[0] == pytest.approx(true_rfd(8.0, 0.08, ONSET_N, 0.05), rel=0.05)


def test_rfd_a_squeeze_from_pre_tension_is_flagged() -> None:
    t, f = curve(base_n=PRETENSION_N + 0.3)
    r = rapid_squeeze(t, f, T_GO)
    assert r.baseline_n == pytest.approx(PRETENSION_N + 0.3)
    assert r.flags() == ("pretension",)
    # onset from the baseline: the windows are still the rise's slope
    assert r.rfd_n_s[1] == pytest.approx(true_rfd(8.0, 0.08, ONSET_N, 0.1), rel=0.01)


def test_rfd_a_countermovement_before_the_rise_is_flagged() -> None:
    """A small squeeze let go before the fast one: a dip before the onset."""
    t, f = curve()
    bump = (t > T_GO + 0.1) & (t < T_GO + 0.3)
    f[bump] += ONSET_N * 0.9  # stays under the onset threshold
    assert rapid_squeeze(t, f, T_GO).flags() == ("countermovement",)
    f2 = curve()[1]
    f2[bump] += COUNTERMOVEMENT_N * 0.5  # a wobble smaller than the rule is not one
    assert rapid_squeeze(t, f2, T_GO).flags() == ()


def test_rfd_a_window_past_the_samples_is_none_not_a_guess() -> None:
    t, f = curve()
    keep = t < T_GO + 0.4 + 0.12  # the squeeze cut 120 ms after it started (the force cap)
    r = rapid_squeeze(t[keep], f[keep], T_GO)
    assert r.rfd_n_s[0] is not None and r.rfd_n_s[1] is not None
    assert r.rfd_n_s[2] is None


# -- sessions -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, sim_calibrations: SimCalibrations
) -> Iterator[App]:
    with module_app(tmp_path_factory, sim_calibrations, "rfd") as a:
        yield a


def item(**params: Any) -> dict[str, Any]:
    return {"protocol": "rate_of_force_development", "days": "daily", "params": params}


def session(
    app: App, plan_items: list[dict[str, Any]], maximal: bool = True, **abilities: Any
) -> tuple[Outcome, list[Trial], Any]:
    p = patient(app, **abilities)
    try:
        outcome = run(app, make_plan(app, plan_items, maximal=maximal))
    finally:
        p.stop()
    assert app.journal is not None
    return outcome, app.journal.trials(outcome.session_id, "rate_of_force_development"), p


def metrics(app: App, outcome: Outcome) -> dict[str, Any]:
    return assert_summarised(app, outcome)["protocols"][0]["metrics"]


def test_rfd_session_measures_the_patients_rise_within_10_percent(app: App) -> None:
    outcome, trials, p = session(app, [item(trials=1)])
    assert (outcome.state, outcome.reason, events(outcome)) == ("complete", "", [])
    (act,) = [a for a in p.acts if isinstance(a, FastSqueeze)]
    assert len(trials) == len(act.done) == 1
    for trial, done in zip(trials, act.done, strict=True):
        r = trial.response
        assert trial.quality == ()
        assert r["sample_rate_hz"] == pytest.approx(RATE_HZ, rel=0.01)
        for w in WINDOWS_S:
            ms = round(w * 1000)
            truth = true_rfd(done["peak_n"], done["tau_s"], ONSET_N, w)
            assert r[f"rfd_0_{ms}_n_s"] == pytest.approx(truth, rel=RFD_TOL), ms
            assert r[f"samples_0_{ms}"] >= round(w * RATE_HZ) - 1  # none lost
        assert r["peak_force_n"] == pytest.approx(done["peak_n"], rel=RFD_TOL)
        # onset after the cue: the patient's reaction plus the rise to 0.5 N
        assert done["t0"] - trial.t_start_s < r["onset_s"] < done["t0"] - trial.t_start_s + 0.01
    m = metrics(app, outcome)
    assert m["trials_valid"]["value"] == 1
    assert m["rfd_0_50"]["unit"] == "N/s" and m["rfd_0_50"]["samples_in_window"] >= 31
    assert m["rfd_0_50"]["uncertainty"] >= 0.1 * m["rfd_0_50"]["value"]  # calibration
    assert m["sample_rate"]["value"] == pytest.approx(RATE_HZ, rel=0.01)
    assert m["peak_force"]["unit"] == "N" and "peak_rfd" in m
    acq = app.station.acquisition  # type: ignore[union-attr]
    assert acq is not None and acq.sampler is not None and acq.sampler.focus is None
    assert acq.running and acq.period_s == pytest.approx(0.0025)


def test_rfd_is_not_run_behind_a_closed_gate(app: App) -> None:
    outcome, trials, p = session(app, [item(trials=1)], maximal=False)
    assert (outcome.state, outcome.reason) == (
        "incomplete",
        "nothing to run today: rate_of_force_development (maximal tests not allowed)",
    )
    assert events(outcome) == [("maximal_not_allowed", "S-GATE")]
    assert trials == [] and not [a for a in p.acts if isinstance(a, FastSqueeze) and a.done]


def test_rfd_declined_at_the_start_runs_no_squeeze(app: App) -> None:
    clock = app.station.clock  # type: ignore[union-attr]
    # Back once the screen is up and before the patient's OK (its reaction takes 0.45 s)
    when_lcd_shows(app, "Quick grips", lambda t: clock.call_later(0.2, lambda: press(app, "back")))
    outcome, trials, p = session(app, [item(trials=1)])
    assert trials == [] and not next(a for a in p.acts if isinstance(a, FastSqueeze)).done
    assert events(outcome)[0] == ("declined", "S-PROTO")
    # the Back press still held at the runner's next check reads as a pause (the runner's
    # behaviour after any decline, not this task's)
    assert {e for e, _ in events(outcome)[1:]} <= {"paused", "resumed"}
    assert outcome.reason.endswith("right hand declined or no answer")


def test_rfd_no_squeeze_twice_ends_the_task(app: App) -> None:
    """The patient barely touches the pad (0.45 N): asked once to try again, the second
    miss ends the task as no effort."""
    again = when_lcd_shows(app, "try again", lambda t: None)
    outcome, trials, _ = session(app, [item(trials=2)], max_grip_n={"left": 0.5, "right": 0.5})
    assert [t.quality for t in trials] == [("no_effort",), ("no_effort",)]
    assert events(outcome) == [("no_effort", "S-PROTO")]
    assert outcome.reason.endswith("no squeeze (right hand)")
    assert again


def test_rfd_a_pad_open_for_most_of_the_burst_stops_as_a_pad_problem(app: App) -> None:
    glitch = PadInput(app, 0, lambda n: n % 3 != 0, after_s=0.0)
    try:
        outcome, trials, _ = session(app, [item(trials=2)])
    finally:
        glitch.cancel()
    (trial,) = trials
    assert "pad_gaps" in trial.quality and trial.response["peak_force_n"] is None
    assert trial.response["gaps"] > trial.response["samples"] / 2
    assert trial.response["samples"] > 0.9 * 1.2 * RATE_HZ  # the burst: 632 samples/s
    assert outcome.reason.startswith("rate_of_force_development: pad 0 gave no force")
    assert outcome.state == "incomplete"


def test_rfd_the_force_cap_ends_a_squeeze_from_pre_tension_at_once(app: App) -> None:
    """The patient keeps 1.2 N on the pad when told to keep the hand loose, and its fast
    squeeze would go far past the plan's 3 N cap: the squeeze ends at the cap, the 0-200 ms
    window is not guessed, and the squeeze is discarded as not from rest."""
    cap_n = 3.0
    p = patient(app, motor=MotorAbilities(rfd_pretension_n=1.2))
    try:
        outcome = run(app, make_plan(app, [item(trials=1)], max_force_n=cap_n))
    finally:
        p.stop()
    assert app.journal is not None
    (trial,) = app.journal.trials(outcome.session_id, "rate_of_force_development")
    assert outcome.state == "complete"
    assert set(trial.quality) == {"at_force_cap", "pretension"}
    assert trial.response["baseline_n"] == pytest.approx(1.2, abs=0.3 + 0.25 * 1.2)
    (done,) = next(a for a in p.acts if isinstance(a, FastSqueeze)).done
    assert done["base_n"] + done["peak_n"] > 2 * cap_n  # it would have gone well past it
    slope = done["peak_n"] / done["tau_s"]  # the steepest the rise gets (N/s)
    assert cap_n <= trial.response["peak_force_n"] <= (cap_n + slope * 0.02) * 1.25
    assert trial.t_end_s - trial.t_start_s < 0.6  # ended at the cap, not after 1.5 s
    assert trial.response["rfd_0_200_n_s"] is None  # cut before 200 ms: no guess
    m = metrics(app, outcome)
    assert m["trials_valid"]["value"] == 0 and m["trials_discarded"]["value"] == 1
    assert "rfd_0_50" not in m


def test_rfd_a_pause_in_the_burst_discards_the_squeeze_and_the_burst_ends(app: App) -> None:
    """Back held as the squeeze rises: the pause screen comes up inside the focused burst,
    the patient resumes with OK; the squeeze is journalled as paused, left out of the
    metrics, and the loop is back in its rotation."""
    st = app.station
    assert st is not None and st.sim is not None
    sim, clock = st.sim, st.clock
    back = sim.button_pins(app.config["buttons"])["back"]
    held: list[float] = []

    def look() -> None:
        if sim.world.pads[0].force_at(clock.now()) > 2.0:  # the fast squeeze rising
            held.append(clock.now())
            back.drive_low()
            clock.call_later(0.3, back.drive_high, "release-back")
            watch.cancel()

    watch = clock.every(0.005, look, "watch-squeeze")
    outcome, trials, _ = session(app, [item(trials=1)])
    assert held
    (trial,) = trials
    assert "paused" in trial.quality
    assert [e for e, _ in events(outcome)] == ["paused", "resumed"]
    m = metrics(app, outcome)
    assert m["trials_valid"]["value"] == 0 and m["trials_discarded"]["value"] == 1
    acq = st.acquisition
    assert acq is not None and acq.sampler is not None and acq.sampler.focus is None
    assert acq.running and acq.period_s == pytest.approx(0.0025)
