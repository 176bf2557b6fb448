"""No grip in uncalibrated units: maximal grip on a pad without a calibration record is
refused with a screen for the patient and a code for the technician; the session goes on."""

from __future__ import annotations

from pathlib import Path

from station import config
from station.app import App


def test_max_grip_refuses_an_uncalibrated_pad(tmp_path: Path) -> None:
    cfg = config.validate({"schema": config.SCHEMA, "glove": {"fitted": False}})
    app = App(cfg, tmp_path, sim=True, seed=2, calibrate_sim=False).open()
    try:
        st = app.station
        assert st is not None and st.sim is not None and st.acquisition is not None
        assert "pad0" in st.uncalibrated and not st.acquisition.calibrated(0)
        shown: list[str] = []

        def look() -> None:
            text = " ".join(st.sim.lcd_lines())
            if "Code E-CAL-01" in text and not shown:
                shown.append(text)

        st.clock.every(0.05, look, "look-at-lcd")
        patient = st.sim.patient("typical", st.clock, app.config["buttons"], seed=2)
        patient.start()
        outcome = app.run_session()
        patient.stop()
        assert outcome is not None
        assert shown and "Grip pad not set up" in shown[0]
        # the check-in and end check still ran, but the station could not run the grip
        assert (outcome.state, outcome.reason) == (
            "incomplete",
            "max_grip: pad 0 has no calibration record",
        )
        assert outcome.summary["complete"] is False
        events = [(e["kind"], e["code"]) for e in outcome.summary["safety_events"]]
        assert events == [("uncalibrated", "S-PROTO")]
        assert app.journal is not None and app.journal.trials(outcome.session_id) == []
        assert patient.peaks == {"left": [], "right": []}  # never asked to squeeze
    finally:
        app.close()
