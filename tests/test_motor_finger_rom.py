"""finger_rom on the simulated station with the IMU glove: the virtual patient moves the
world's hand (each finger to its true furthest flexion and extension, the hand raised with
or without a tremor) and the glove's IMUs feel it; what the session measured is checked
against that truth. The glove unplugged mid-protocol ends only this protocol.

A glove-fitted simulated station costs about 0.05 s of CPU a simulated second: each
session test is one short session, with all it checks of that session.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SimCalibrations
from test_session_e2e import make_plan

from station import config
from station.app import App
from station.journal import Trial
from station.kinds import DecisionKind, Scope
from station.protocols.motor.finger_results import (
    GLOVE_ACCURACY_DEG,
    TREMOR_FLOOR_DPS,
    extreme,
    finger_metrics,
    held,
    tremor_amplitude_deg,
)
from station.runner import Outcome
from station.sim.hand import FINGERS
from station.sim.motor_acts import MotorAbilities
from station.sim.motor_fingers import FingerMove
from station.sim.patient import VirtualPatient

SEED = 4  # the glove station of test_session_faults: its calibration records are shared
#: Each finger's flexion and extension are measured within the glove's stated accuracy of
#: the truth; the active ROM (a difference of two) within √2 of it.
ANGLE_TOL_DEG = GLOVE_ACCURACY_DEG
ROM_TOL_DEG = GLOVE_ACCURACY_DEG * math.sqrt(2.0)
#: Tremor: frequency within two of its stated uncertainties, amplitude within 15 %.
TREMOR_HZ_TOL, TREMOR_AMP_REL_TOL = 0.5, 0.15
TREMOR_HZ, TREMOR_DEG = 6.0, 0.5


@pytest.fixture
def app(tmp_path: Path, sim_calibrations: SimCalibrations) -> Iterator[App]:
    """The simulated station with the glove, calibrated (records shared with the other
    glove tests of this seed)."""
    cfg = config.validate({"glove": {"fitted": True}})
    data = sim_calibrations.data_dir(tmp_path / "data", cfg, SEED)
    app = App(cfg, data, sim=True, seed=SEED).open()
    try:
        yield app
    finally:
        app.close()


def run(
    app: App, items: list[dict], maximal: bool = False, **motor: Any
) -> tuple[Outcome, VirtualPatient, list[Trial]]:
    """One session with a virtual patient of ``motor`` truth; its finger_rom trials."""
    st = app.station
    assert st is not None and st.sim is not None
    truth = dataclasses.replace(MotorAbilities(), **motor)
    p = st.sim.patient("typical", st.clock, app.config["buttons"], seed=SEED, motor=truth)
    p.start()
    try:
        outcome = app.run_session(make_plan(app, items, maximal=maximal))
    finally:
        p.stop()
    assert outcome is not None and app.journal is not None
    return outcome, p, app.journal.trials(outcome.session_id, "finger_rom")


def rom_item(**params: Any) -> dict:
    return {"protocol": "finger_rom", "days": "daily", "params": params}


# -- the held angle of one try --------------------------------------------------------------


def test_finger_rom_the_held_angle_is_the_end_of_the_hold_not_where_it_started() -> None:
    """A finger with an extension lag starts straight (0°) and lifts to +5°: the held angle
    is +5°, where the extreme of the whole window would say 0°."""
    t = np.arange(0.0, 3.0, 1 / 104)
    angle = np.where(t < 0.5, 0.0, np.minimum(5.0, (t - 0.5) * 10.0))
    assert held(t, angle, 2.0) == pytest.approx(5.0)
    assert extreme(angle, "extension") == pytest.approx(0.0)
    one_glitch = angle.copy()
    one_glitch[200] = 60.0
    assert extreme(one_glitch, "flexion") == pytest.approx(5.0)


def test_finger_rom_a_tremor_amplitude_is_the_peak_of_its_rotation() -> None:
    """A rotation A·sin(2πft) has a rate of 2πfA·cos(2πft): rms 2πfA/√2."""
    rate_rms = 2 * math.pi * 6.0 * 0.5 / math.sqrt(2.0)
    assert tremor_amplitude_deg(rate_rms, 6.0) == pytest.approx(0.5)


def test_finger_rom_a_paused_or_gappy_try_does_not_count() -> None:
    """The best of the tries is taken over the usable ones: a try with a pause in it (the
    finger may have moved while the patient was away) or a gap in its samples is kept in
    the journal but not in the metrics."""

    def hold(k: int, angle: float, quality: tuple[str, ...] = ()) -> Trial:
        stimulus = {"task": "hold", "finger": "ring", "direction": "flexion", "try": k}
        response = {"angle_deg": angle, "samples": 300}
        return Trial("finger_rom", k, "right", stimulus, response, None, None, 0, 1, quality)

    trials = [hold(1, 60.0), hold(2, 95.0, ("paused",)), hold(3, 90.0, ("glove_gaps",))]
    m = finger_metrics(trials)
    assert (m["ring_flexion"]["value"], m["ring_flexion"]["best_try"]) == (60.0, 1)
    assert m["ring_flexion"]["tries"] == 1 and "ring_active_rom" not in m
    assert finger_metrics([trials[1]])["fingers_measured"]["value"] == 0


# -- whole sessions -------------------------------------------------------------------------


def test_finger_rom_measures_each_finger_and_a_tremor_within_tolerance(app: App) -> None:
    """Every finger, one try each; the hand raised shows a 6 Hz, 0.5° tremor."""
    outcome, _p, trials = run(
        app, [rom_item(tries=1, hold_s=2.0)], tremor_hz=TREMOR_HZ, tremor_deg=TREMOR_DEG
    )
    assert (outcome.state, outcome.reason) == ("complete", "")
    m = outcome.summary["protocols"][0]["metrics"]
    truth = MotorAbilities()
    for i, finger in enumerate(FINGERS):
        flex, ext = truth.finger_flexion_deg[i], truth.finger_extension_deg[i]
        assert m[f"{finger}_flexion"]["value"] == pytest.approx(flex, abs=ANGLE_TOL_DEG)
        assert m[f"{finger}_extension"]["value"] == pytest.approx(ext, abs=ANGLE_TOL_DEG)
        assert m[f"{finger}_active_rom"]["value"] == pytest.approx(flex - ext, abs=ROM_TOL_DEG)
        assert m[f"{finger}_flexion"]["unit"] == "deg"
        assert m[f"{finger}_flexion"]["uncertainty"] == GLOVE_ACCURACY_DEG
        assert m[f"{finger}_flexion"]["best_try"] == m[f"{finger}_extension"]["best_try"] == 1
    assert m["fingers_measured"]["value"] == 5
    # every hold journalled, in the order asked: the tremor window, then each finger's two
    holds = [(t.stimulus["finger"], t.stimulus["direction"]) for t in trials[1:]]
    assert trials[0].stimulus["task"] == "tremor" and len(trials) == 11
    assert holds == [(f, d) for f in FINGERS for d in ("flexion", "extension")]
    assert all(t.quality == () for t in trials)
    # the tremor that is there, with its units
    assert m["tremor_present"]["value"] == 1.0
    assert m["tremor_frequency"]["value"] == pytest.approx(TREMOR_HZ, abs=TREMOR_HZ_TOL)
    amp = m["tremor_amplitude"]
    assert amp["unit"] == "deg" and amp["uncertainty"] > 0
    assert amp["value"] == pytest.approx(TREMOR_DEG, rel=TREMOR_AMP_REL_TOL)
    assert m["tremor_band_power"]["unit"] == "dps2" and m["tremor_band_power"]["value"] > 0


def test_finger_rom_a_hand_that_cannot_keep_still_ends_it_after_a_second_try(app: App) -> None:
    """A tremor even at rest: the reference pose is refused (the gyros move), asked for
    once more, then the protocol ends; nothing is measured against a wrong zero."""
    outcome, _p, trials = run(
        app, [rom_item(fingers=["index"], tries=1)], tremor_hz=6.0, rest_tremor_deg=0.3
    )
    assert outcome.state == "stopped"
    assert outcome.reason == "finger_rom: the hand did not keep still for the reference pose"
    (event,) = outcome.summary["safety_events"]
    assert (event["kind"], event["detail"]["scope"]) == (DecisionKind.NOT_STILL, Scope.PROTOCOL)
    assert event["detail"]["tries"] == 2
    assert trials == [] and outcome.summary["protocols"][0]["metrics"] == {}


def test_finger_rom_the_glove_unplugged_ends_only_this_protocol(app: App) -> None:
    """Two fingers, two tries each (each falling short by up to 10°), no tremor; the glove
    is unplugged as the middle finger's first bend shows; a grip protocol follows. What was
    measured before is kept (the best of the index finger's tries, no tremor), and the
    grip work runs."""
    st = app.station
    assert st is not None and st.sim is not None
    sim = st.sim
    unplugged: list[float] = []

    def watch() -> None:
        if "middle" in " ".join(sim.lcd_lines()).lower() and not unplugged:
            sim.world.unplug_glove()
            unplugged.append(st.clock.now())

    handle = st.clock.every(0.05, watch, "unplug-glove")
    grip = {
        "protocol": "max_grip",
        "days": "daily",
        "params": {"hands": ["involved"], "trials_per_hand": 1},
    }
    items = [rom_item(fingers=["index", "middle"], tries=2, hold_s=2.0), grip]
    try:
        outcome, p, trials = run(app, items, maximal=True, finger_shortfall_deg=10.0)
    finally:
        handle.cancel()
    assert len(unplugged) == 1
    # finger_rom ended on the glove (the station's problem), and the grip work still ran
    assert outcome.state == "incomplete"
    assert outcome.reason.startswith("finger_rom: glove_unplugged")
    (event,) = outcome.summary["safety_events"]
    assert event["kind"] == DecisionKind.GLOVE_FAULT
    assert (event["detail"]["scope"], event["detail"]["part"]) == (Scope.PROTOCOL, "glove")
    rom, grip_result = outcome.summary["protocols"]
    assert grip_result["metrics"]["involved_trials"]["value"] == 1
    assert any("glove" in f for f in outcome.summary["data_quality"]["sensor_faults"])
    # what was measured before the fault is kept: the index finger, nothing of the middle
    assert [t.stimulus.get("finger") for t in trials] == [None, *["index"] * 4]
    m = rom["metrics"]
    assert "index_active_rom" in m and "middle_flexion" not in m
    # the best of the index finger's two tries, each checked against what the hand did
    act = next(a for a in p.acts if isinstance(a, FingerMove))
    for direction, best in (("flexion", max), ("extension", min)):
        tries = [t for t in trials if t.stimulus.get("direction") == direction]
        assert len(tries) == 2
        chosen = best(tries, key=lambda t: t.response["angle_deg"])
        got = m[f"index_{direction}"]
        assert (got["value"], got["best_try"], got["tries"]) == (
            chosen.response["angle_deg"],
            chosen.stimulus["try"],
            2,
        )
        true_best = best(a for f, d, a in act.reached if (f, d) == ("index", direction))
        assert got["value"] == pytest.approx(true_best, abs=ANGLE_TOL_DEG)
    # no tremor reported where there is none
    assert m["tremor_present"]["value"] == 0.0
    assert m["tremor_present"]["band_rms_dps"] < TREMOR_FLOOR_DPS / 5
    assert not {"tremor_frequency", "tremor_band_power", "tremor_amplitude"} & set(m)
