"""finger_rom on the simulated station with the IMU glove: the virtual patient moves the
world's hand (each finger to its true furthest flexion and extension, the hand raised with
or without a tremor) and the glove's IMUs feel it; what the session measured is checked
against that truth. The glove unplugged mid-protocol ends only this protocol.

One station for the module (a glove-fitted simulated station costs about 0.05 s of CPU a
simulated second): each session runs once, in order, and the tests look at what it did.
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
TREMOR = {"tremor_hz": 6.0, "tremor_deg": 0.5}


class Sessions:
    """The module's glove-fitted station and the sessions run on it, once each."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.done: dict[str, tuple[Outcome, VirtualPatient, list[Trial]]] = {}

    def patient(self, **motor: Any) -> VirtualPatient:
        st = self.app.station
        assert st is not None and st.sim is not None
        truth = dataclasses.replace(MotorAbilities(), **motor)
        p = st.sim.patient("typical", st.clock, self.app.config["buttons"], seed=SEED, motor=truth)
        p.start()
        return p

    def run(self, name: str, items: list[dict], maximal: bool = False, **motor: Any):
        if name not in self.done:
            p = self.patient(**motor)
            try:
                outcome = self.app.run_session(make_plan(self.app, items, maximal=maximal))
            finally:
                p.stop()
            assert outcome is not None and self.app.journal is not None
            trials = self.app.journal.trials(outcome.session_id, "finger_rom")
            self.done[name] = (outcome, p, trials)
        return self.done[name]


@pytest.fixture(scope="module")
def sessions(
    tmp_path_factory: pytest.TempPathFactory, sim_calibrations: SimCalibrations
) -> Iterator[Sessions]:
    cfg = config.validate({"glove": {"fitted": True}})
    data: Path = sim_calibrations.data_dir(tmp_path_factory.mktemp("finger-rom"), cfg, SEED)
    app = App(cfg, data, sim=True, seed=SEED).open()
    try:
        yield Sessions(app)
    finally:
        app.close()


def rom_item(**params: Any) -> dict:
    return {"protocol": "finger_rom", "days": "daily", "params": params}


def all_fingers(s: Sessions):
    """Every finger, one try each, with a tremor when the hand is raised."""
    return s.run("all", [rom_item(tries=1, hold_s=2.0)], **TREMOR)


def glove_pulled(s: Sessions):
    """Two fingers, two tries each (falling short by up to 10°), no tremor; the glove is
    unplugged as the middle finger's first bend shows, then a grip protocol follows."""
    if "pulled" in s.done:
        return s.done["pulled"]
    st = s.app.station
    assert st is not None and st.sim is not None
    sim = st.sim

    def watch() -> None:
        if "middle" in " ".join(sim.lcd_lines()).lower() and not unplugged:
            sim.world.unplug_glove()
            unplugged.append(st.clock.now())

    unplugged: list[float] = []
    handle = st.clock.every(0.05, watch, "unplug-glove")
    try:
        grip = {
            "protocol": "max_grip",
            "days": "daily",
            "params": {"hands": ["involved"], "trials_per_hand": 1},
        }
        items = [rom_item(fingers=["index", "middle"], tries=2, hold_s=2.0), grip]
        result = s.run("pulled", items, maximal=True, finger_shortfall_deg=10.0)
    finally:
        handle.cancel()
        sim.world.plug_glove()
    assert len(unplugged) == 1
    return result


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


# -- whole sessions -------------------------------------------------------------------------


def test_finger_rom_measures_each_finger_within_the_glove_accuracy(sessions: Sessions) -> None:
    outcome, _p, trials = all_fingers(sessions)
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


def test_finger_rom_reports_a_tremor_that_is_there(sessions: Sessions) -> None:
    outcome, _p, _trials = all_fingers(sessions)
    m = outcome.summary["protocols"][0]["metrics"]
    assert m["tremor_present"]["value"] == 1.0
    assert m["tremor_frequency"]["value"] == pytest.approx(TREMOR["tremor_hz"], abs=TREMOR_HZ_TOL)
    amp = m["tremor_amplitude"]
    assert amp["unit"] == "deg" and amp["uncertainty"] > 0
    assert amp["value"] == pytest.approx(TREMOR["tremor_deg"], rel=TREMOR_AMP_REL_TOL)
    assert m["tremor_band_power"]["unit"] == "dps2" and m["tremor_band_power"]["value"] > 0


def test_finger_rom_reports_no_tremor_when_there_is_none(sessions: Sessions) -> None:
    outcome, _p, _trials = glove_pulled(sessions)
    m = outcome.summary["protocols"][0]["metrics"]
    assert m["tremor_present"]["value"] == 0.0
    assert m["tremor_present"]["band_rms_dps"] < TREMOR_FLOOR_DPS / 5
    assert not {"tremor_frequency", "tremor_band_power", "tremor_amplitude"} & set(m)


def test_finger_rom_takes_the_best_of_the_tries(sessions: Sessions) -> None:
    outcome, p, trials = glove_pulled(sessions)
    m = outcome.summary["protocols"][0]["metrics"]
    act = next(a for a in p.acts if isinstance(a, FingerMove))
    for direction, best in (("flexion", max), ("extension", min)):
        tries = [t for t in trials if t.stimulus.get("direction") == direction]
        tries = [t for t in tries if t.stimulus["finger"] == "index"]
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


def test_finger_rom_the_glove_unplugged_ends_only_this_protocol(sessions: Sessions) -> None:
    outcome, _p, trials = glove_pulled(sessions)
    # finger_rom ended on the glove (the station's problem), and the grip work still ran
    assert outcome.state == "incomplete"
    assert outcome.reason.startswith("finger_rom: glove_unplugged")
    (event,) = [e for e in outcome.summary["safety_events"] if e["kind"] != "paused"]
    assert event["kind"] == DecisionKind.GLOVE_FAULT
    assert (event["detail"]["scope"], event["detail"]["part"]) == (Scope.PROTOCOL, "glove")
    rom, grip = outcome.summary["protocols"]
    assert grip["metrics"]["involved_trials"]["value"] == 1
    # what was measured before the fault is kept: the index finger, nothing of the middle
    assert [t.stimulus.get("finger") for t in trials] == [None, *["index"] * 4]
    assert "index_active_rom" in rom["metrics"] and "middle_flexion" not in rom["metrics"]
