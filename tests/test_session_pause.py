"""Pause and resume: Back held during a protocol pauses it (motors off, journalled), OK
resumes; nobody coming back ends the session as incomplete. On the simulated station with
the virtual patient, who presses OK on the pause screen as on any OK screen."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SimCalibrations

from station import config
from station.app import App
from station.plan import default_sim_plan, from_dict

SEED = 3


#: The built-in simulated station without the IMU glove: pausing never uses it.
CONFIG = config.validate({"glove": {"fitted": False}})


@pytest.fixture(scope="module")
def calibrated(sim_calibrations: SimCalibrations) -> Path:
    return sim_calibrations.records(CONFIG, SEED)


def app_in(tmp_path: Path, calibrated: Path) -> App:
    shutil.copytree(calibrated, tmp_path / "calibration")
    return App(CONFIG, tmp_path, sim=True, seed=SEED).open()


def one_hand_plan(station_id: str) -> Any:
    raw = dict(default_sim_plan(station_id).raw)
    raw["schedule"] = [
        {
            "protocol": "max_grip",
            "days": "daily",
            "params": {"hands": ["involved"], "trials_per_hand": 2},
        }
    ]
    return from_dict(raw, station_id)


def when_lcd_shows(app: App, word: str, then: Any, every_s: float = 0.01) -> None:
    """Run ``then()`` once, the first time the simulated LCD shows ``word``."""
    st = app.station
    assert st is not None and st.sim is not None
    done = []

    def look() -> None:
        if not done and word in " ".join(st.sim.lcd_lines()):
            done.append(st.clock.now())
            handle.cancel()
            then()

    handle = st.clock.every(every_s, look, "look-at-lcd")


def hold_back(app: App, seconds: float = 0.3) -> None:
    st = app.station
    assert st is not None and st.sim is not None
    pin = st.sim.button_pins(app.config["buttons"])["back"]
    pin.drive_low()
    st.clock.call_later(seconds, pin.drive_high, "release-back")


def test_session_pause_during_a_squeeze_is_journalled_and_resumed(
    tmp_path: Path, calibrated: Path
) -> None:
    app = app_in(tmp_path, calibrated)
    try:
        st = app.station
        assert st is not None and st.sim is not None and app.journal is not None
        patient = st.sim.patient("typical", st.clock, app.config["buttons"], seed=SEED)
        patient.start()
        # A vibration running when Back is held must stop at the pause.
        assert st.haptics is not None

        def squeeze_screen() -> None:
            st.haptics.drive_raw(1, 0.5)
            st.clock.call_later(0.5, lambda: hold_back(app), "press-back")

        when_lcd_shows(app, "Squeeze", squeeze_screen)
        outcome = app.run_session(one_hand_plan(app.config.station_id))
        patient.stop()
        assert outcome is not None
        kinds = [e["kind"] for e in outcome.summary["safety_events"]]
        assert "paused" in kinds and "resumed" in kinds
        assert outcome.state == "complete"
        paused_at = next(
            e["t_s"] for e in outcome.summary["safety_events"] if e["kind"] == "paused"
        )
        motor, drv = st.sim.world.motors[1], st.sim.chips.drvs[1]
        assert motor.vibration_at(paused_at - 0.05)[0] > 0.1  # it was running
        assert drv.drive_at(paused_at + 0.001) == 0.0  # commanded off at the pause
        assert motor.vibration_at(paused_at + 0.2)[0] < 0.01  # and spun down
        trials = app.journal.trials(outcome.session_id, "max_grip")
        assert [("paused" in t.quality) for t in trials] == [True, False]
        # the interrupted squeeze does not count towards the mean
        metrics = outcome.summary["protocols"][0]["metrics"]
        assert metrics["involved_trials"]["value"] == 1
    finally:
        app.close()


def test_session_pause_nobody_back_ends_incomplete(tmp_path: Path, calibrated: Path) -> None:
    app = app_in(tmp_path, calibrated)
    try:
        st = app.station
        assert st is not None and st.sim is not None
        # the patient answers the check-in, then walks away during the first rest
        patient = st.sim.patient("typical", st.clock, app.config["buttons"], seed=SEED)
        patient.start()
        when_lcd_shows(app, "Rest", lambda: (patient.stop(), hold_back(app)))
        outcome = app.run_session(one_hand_plan(app.config.station_id))
        assert outcome is not None
        assert outcome.state == "incomplete"
        codes = [e["code"] for e in outcome.summary["safety_events"]]
        assert "S-PAUSE" in codes and codes[-1] == "S-NORESPONSE"
        assert "resumed" not in [e["kind"] for e in outcome.summary["safety_events"]]
    finally:
        app.close()
