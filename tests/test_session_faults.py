"""Sensor faults and sessions: a part that failed and came back before a session does not
end it; a fault of a part no protocol of the session uses (the glove, for grip) is kept in
the summary's data quality but does not end the grip work."""

from __future__ import annotations

from pathlib import Path

from station import config
from station.app import App

SEED = 4


def open_app(tmp_path: Path) -> App:
    return App(config.validate({}), tmp_path, sim=True, seed=SEED).open()  # glove fitted


def run_with_patient(app: App) -> dict:
    st = app.station
    assert st is not None and st.sim is not None
    patient = st.sim.patient("typical", st.clock, app.config["buttons"], seed=SEED)
    patient.start()
    try:
        outcome = app.run_session()
    finally:
        patient.stop()
    assert outcome is not None
    return outcome.summary


def test_session_glove_unplugged_and_back_at_the_menu_is_no_fault_of_the_session(
    tmp_path: Path,
) -> None:
    app = open_app(tmp_path)
    try:
        st = app.station
        assert st is not None and st.sim is not None and st.acquisition is not None
        st.sim.world.unplug_glove()  # at the menu, between sessions
        st.clock.sleep(0.5)
        assert "glove" in st.acquisition.active_faults
        st.sim.world.plug_glove()
        st.clock.sleep(0.5)
        summary = run_with_patient(app)
        assert (summary["state"], summary["safety_events"]) == ("complete", [])
        assert summary["protocols"][0]["metrics"]["involved_trials"]["value"] == 3
    finally:
        app.close()


def test_session_glove_unplugged_during_grip_work_does_not_end_it(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    try:
        st = app.station
        assert st is not None and st.sim is not None
        st.sim.world.unplug_glove()  # for good: the session never uses the glove
        summary = run_with_patient(app)
        assert summary["state"] == "complete"
        metrics = summary["protocols"][0]["metrics"]
        assert metrics["involved_trials"]["value"] == metrics["uninvolved_trials"]["value"] == 3
        quality = summary["data_quality"]
        assert any("glove" in f for f in quality["sensor_faults"]) and quality["bus_errors"] > 0
        # the next session reports its own figures, not the service's since it started
        st.sim.world.plug_glove()
        st.clock.sleep(0.5)
        quality = run_with_patient(app)["data_quality"]
        assert (quality["sensor_faults"], quality["bus_errors"]) == ([], 0)
    finally:
        app.close()
