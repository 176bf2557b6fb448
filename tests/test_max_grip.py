"""Maximal grip: the peak of a squeeze with pad glitches in it, and which trials the stop
rules count. Unit tests of the peak extraction and the per-hand rules, then whole sessions
on the simulated station where the pad's ADC input floats for chosen conversions (a pad
glitch, a failing pad) or the patient pauses mid-squeeze."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from test_session_e2e import (  # noqa: F401  (calibrated, stations: fixtures)
    FORCE_TOL_N,
    FORCE_TOL_REL,
    Stations,
    assert_summarised,
    calibrated,
    events,
    grip_item,
    grip_trials,
    make_plan,
    patient,
    run,
    stations,
    when_lcd_shows,
)

from station import hardware
from station.app import App
from station.protocols.max_grip import (
    MAX_MISSED,
    NO_EFFORT_N,
    SQUEEZE_S,
    HandTrials,
    squeeze_peak,
)
from station.safety import FATIGUE_DROP
from station.sim.fsr import FLOATING_INPUT_V

RATE_HZ = 100.0
T0 = 10.0


def squeeze(peak_n: float = 18.0, seconds: float = 4.0, onset_s: float = 0.5):
    """A 4 s squeeze sampled at 100 Hz: rest, a 0.3 s ramp from ``onset_s``, a plateau."""
    t = T0 + np.arange(0.0, seconds, 1.0 / RATE_HZ)
    f = np.clip((t - T0 - onset_s) / 0.3, 0.0, 1.0) * peak_n
    return t, f


# -- the peak of one squeeze ----------------------------------------------------------------


@pytest.mark.parametrize("where_s", [0.2, 0.6, 2.0, 3.99])  # at rest, ramp, plateau, last
def test_max_grip_one_open_sample_neither_hides_nor_makes_the_peak(where_s: float) -> None:
    t, f = squeeze()
    f[int(where_s * RATE_HZ)] = np.nan
    s = squeeze_peak(t, f, T0)
    assert s.peak_n == pytest.approx(18.0)
    assert (s.samples, s.gaps, s.pad_problem) == (400, 1, False)
    # the onset is that of the force, not moved by the gap
    assert s.reaction_time_s == pytest.approx(0.5 + 0.3 * 0.1, abs=0.011)


def test_max_grip_a_gap_next_to_a_spike_does_not_let_the_spike_through() -> None:
    """The median is taken over the samples that have a force: a gap beside a one-sample
    spike must not turn the spike's neighbourhood into NaN or into the spike."""
    t, f = squeeze(peak_n=10.0)
    f[200] = 60.0  # a spike on the plateau
    f[199] = np.nan
    f[300:302] = np.nan  # and two gaps in a row elsewhere
    s = squeeze_peak(t, f, T0)
    assert s.peak_n == pytest.approx(10.0)
    assert s.gaps == 3 and not s.pad_problem


def test_max_grip_samples_before_the_start_do_not_count() -> None:
    t, f = squeeze()
    t0 = T0 + 1.0  # the window handed over starts 1 s early
    f[:50] = np.nan
    s = squeeze_peak(t, f, t0)
    assert (s.samples, s.gaps) == (300, 0)


@pytest.mark.parametrize(
    ("open_every", "gaps", "problem"),
    [(2, 200, False), (3, 266, True), (1, 400, True)],  # every 2nd: half; 2 of 3: most
)
def test_max_grip_most_of_a_squeeze_open_is_a_pad_problem(
    open_every: int, gaps: int, problem: bool
) -> None:
    t, f = squeeze()
    idx = np.arange(len(f))
    if open_every == 1:
        f[:] = np.nan
    elif open_every == 2:
        f[idx % 2 == 1] = np.nan
    else:
        f[idx % 3 != 0] = np.nan
    s = squeeze_peak(t, f, T0)
    assert (s.samples, s.gaps, s.pad_problem) == (400, gaps, problem)
    if open_every == 1:
        assert s.peak_n is None and s.reaction_time_s is None


def test_max_grip_an_empty_window_is_a_pad_problem_not_no_effort() -> None:
    s = squeeze_peak(np.array([]), np.array([]), T0)
    assert (s.peak_n, s.samples, s.gaps, s.pad_problem) == (None, 0, 0, True)


# -- the stop rules of one hand -------------------------------------------------------------


def test_max_grip_a_paused_low_squeeze_is_not_fatigue() -> None:
    low = 18.0 * (1.0 - FATIGUE_DROP) - 2.0
    hand = HandTrials("right")
    assert hand.add(18.0) is None
    assert hand.add(low, ("paused",)) is None
    assert hand.add(17.5) is None and hand.peaks == [18.0, 17.5]
    # the same squeeze not paused is a drop the rule stops on
    unpaused = HandTrials("right")
    unpaused.add(18.0)
    decision = unpaused.add(low)
    assert decision is not None and decision.kind == "fatigue"


def test_max_grip_a_paused_trial_without_a_squeeze_is_not_a_miss() -> None:
    hand = HandTrials("left")
    assert hand.add(None) is None
    assert hand.add(None, ("paused",)) is None  # not the second miss in a row
    assert hand.missed == MAX_MISSED - 1
    decision = hand.add(None)
    assert decision is not None and decision.kind == "no_effort"


def test_max_grip_a_missed_squeeze_does_not_take_a_trials_place() -> None:
    """A miss is tried again (after a re-prompt), so only squeezes and paused trials fill
    the hand's trials; a second miss in a row is the stop rule."""
    hand = HandTrials("right")
    assert hand.add(None) is None and hand.done == 0
    assert hand.add(12.0) is None and (hand.done, hand.missed) == (1, 0)
    assert hand.add(None) is None
    decision = hand.add(None)
    assert decision is not None and decision.kind == "no_effort"
    assert decision.detail == {"hand": "right", "missed": MAX_MISSED} and hand.done == 1


# -- whole sessions -------------------------------------------------------------------------


class PadInput:
    """Pad ``pad``'s ADS1115 input, floating (an open pad) on chosen conversions of each
    squeeze: ``open_on(n)`` for the n-th conversion (1, 2, ...) from ``after_s`` into the
    squeeze screen until the relax screen."""

    def __init__(self, app: App, pad: int, open_on: Callable[[int], bool], after_s: float):
        st = app.station
        assert st is not None and st.sim is not None
        self.clock, self.lcd = st.clock, st.sim.lcd_lines
        self.open_on, self.after_s = open_on, after_s
        channel = next(c for c in hardware.pad_layout(app.config["pads"])[0] if c.pad == pad)
        self.volts = st.sim.world.pads[pad].voltage_at
        st.sim.chips.adcs[channel.adc].set_input_source(channel.ain, self._input)
        self.start: float | None = None
        self.n = 0
        self.opened: list[int] = []  # per squeeze, conversions read open
        self._watch = self.clock.every(0.01, self._look, "pad-input-look")

    def _look(self) -> None:
        text = " ".join(self.lcd())
        if "Squeeze" in text and self.start is None:
            self.start, self.n = self.clock.now(), 0
            self.opened.append(0)
        elif "Relax" in text:
            self.start = None

    def _input(self, t: float) -> float:
        v = self.volts(t)
        if self.start is None or t < self.start + self.after_s:
            return v
        self.n += 1
        if not self.open_on(self.n):
            return v
        self.opened[-1] += 1
        return FLOATING_INPUT_V

    def cancel(self) -> None:
        self._watch.cancel()


def test_max_grip_session_one_open_sample_per_squeeze_is_a_flagged_measurement(
    stations: Stations,  # noqa: F811  (the fixture imported above)
) -> None:
    """One conversion of each squeeze reads open: before, its NaN made every peak NaN, the
    squeezes were journalled as no effort and the second ended the hand's trials as "no
    squeeze on 2 trials in a row". Now each peak is measured and flagged."""
    app = stations.open()
    glitch = PadInput(app, 0, lambda n: n == 50, after_s=1.0)
    p = patient(app)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 3)]))
    p.stop()
    glitch.cancel()
    assert glitch.opened == [1, 1, 1]
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert events(outcome) == []
    trials = grip_trials(app, outcome)
    assert [t.quality for t in trials] == [("sensor_gaps",)] * 3
    assert [t.response["gaps"] for t in trials] == [1, 1, 1]
    for trial, true_peak in zip(trials, p.peaks["right"], strict=True):
        assert trial.response["peak_force_n"] == pytest.approx(
            true_peak, abs=FORCE_TOL_N + FORCE_TOL_REL * true_peak
        )
    metrics = assert_summarised(app, outcome)["protocols"][0]["metrics"]
    assert metrics["involved_trials"]["value"] == 3


def test_max_grip_session_a_pad_open_for_most_of_a_squeeze_stops_as_a_pad_problem(
    stations: Stations,  # noqa: F811  (the fixture imported above)
) -> None:
    """Two of every three conversions read open (never three in a row, so the acquisition
    raises no fault): the squeeze is not the patient's, the protocol stops on the pad."""
    app = stations.open()
    glitch = PadInput(app, 0, lambda n: n % 3 != 0, after_s=0.0)
    shown = when_lcd_shows(app, "Code E-PAD-000", lambda t: None)
    p = patient(app)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 3)]))
    p.stop()
    glitch.cancel()
    assert len(glitch.opened) == 1 and glitch.opened[0] > 100
    (trial,) = grip_trials(app, outcome)
    assert "pad_gaps" in trial.quality and "no_effort" not in trial.quality
    assert trial.response["peak_force_n"] is None
    assert trial.response["gaps"] > trial.response["samples"] / 2
    assert outcome.reason.startswith("max_grip: pad 0 gave no force for ")
    assert outcome.state == "incomplete"  # the station's problem, not the patient's
    (event,) = outcome.summary["safety_events"]
    assert (event["kind"], event["detail"]["pad"]) == ("pad_gaps", 0)
    assert "no squeeze" not in outcome.reason
    metrics = assert_summarised(app, outcome)["protocols"][0]["metrics"]
    assert metrics["involved_trials"]["value"] == 0
    assert shown  # the pad error screen, with its technician code


def test_max_grip_session_a_squeeze_paused_early_does_not_fire_the_fatigue_rule(
    stations: Stations,  # noqa: F811  (the fixture imported above)
) -> None:
    """The patient lets go and holds Back as the second squeeze starts, and comes back after
    the squeeze's time is up: its peak is low because it was interrupted. Before, the
    fatigue rule took it as a drop of over 25 % and stopped force work."""
    app = stations.open()
    st = app.station
    assert st is not None and st.sim is not None
    sim, clock = st.sim, st.clock
    back = sim.button_pins(app.config["buttons"])["back"]
    p = patient(app)
    held: list[float] = []

    def look() -> None:
        if held or p.squeezes["right"] < 2:
            return
        if sim.world.pads[0].force_at(clock.now()) > 2.0:  # the second squeeze rising
            held.append(clock.now())
            p.stop()  # lets go of the pad
            back.drive_low()
            clock.call_later(0.3, back.drive_high, "release-back")
            clock.call_later(SQUEEZE_S + 0.5, p.start, "patient-back")
            watch.cancel()

    watch = clock.every(0.01, look, "watch-second-squeeze")
    outcome = run(app, make_plan(app, [grip_item(("involved",), 3)]))
    p.stop()
    assert held
    trials = grip_trials(app, outcome)
    assert [("paused" in t.quality) for t in trials] == [False, True, False]
    first, paused, third = (t.response["peak_force_n"] for t in trials)
    assert NO_EFFORT_N < paused < first * (1.0 - FATIGUE_DROP)  # would read as a drop
    assert third > first * (1.0 - FATIGUE_DROP)
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert [e["kind"] for e in outcome.summary["safety_events"]] == ["paused", "resumed"]
    metrics = assert_summarised(app, outcome)["protocols"][0]["metrics"]
    assert metrics["involved_trials"]["value"] == 2
