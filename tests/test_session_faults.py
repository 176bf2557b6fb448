"""Sensor faults and sessions: a part that failed and came back before a session does not
end it, one still failed does and is named; a fault of a part no protocol of the session
uses (the glove, or a pad other than the grip pad) is kept in the summary's data quality
but does not end the grip work nor block the tare."""

from __future__ import annotations

from pathlib import Path

from conftest import SimCalibrations

from station import config
from station import plan as plan_mod
from station.app import App

SEED = 4


def open_app(tmp_path: Path, calibrations: SimCalibrations, glove: bool = False) -> App:
    """The simulated station, calibrated; the IMU glove only where the test is about it."""
    cfg = config.validate({"glove": {"fitted": glove}})
    return App(cfg, calibrations.data_dir(tmp_path, cfg, SEED), sim=True, seed=SEED).open()


def grip_plan(app: App) -> plan_mod.Plan:
    """The built-in simulated plan (maximal grip, both hands) with one trial a hand: a whole
    session of it, at a third of the simulated time."""
    return plan_mod.default_sim_plan(app.config.station_id, app.today(), trials_per_hand=1)


def run_with_patient(app: App) -> dict:
    """One session of :func:`grip_plan` with the typical virtual patient; its summary."""
    st = app.station
    assert st is not None and st.sim is not None
    patient = st.sim.patient("typical", st.clock, app.config["buttons"], seed=SEED)
    patient.start()
    try:
        outcome = app.run_session(grip_plan(app))
    finally:
        patient.stop()
    assert outcome is not None
    return outcome.summary


def test_session_a_pad_unplugged_and_back_at_the_menu_is_no_fault_of_the_session(
    tmp_path: Path, sim_calibrations: SimCalibrations
) -> None:
    app = open_app(tmp_path, sim_calibrations)
    try:
        st = app.station
        assert st is not None and st.sim is not None and st.acquisition is not None
        st.sim.world.pads[0].unplug()  # the grip pad, at the menu, between sessions
        # 1 s: just after opening with a glove fitted, the loop first drains six full glove
        # FIFOs (80 ms each), and pad 0 may be read only twice in the first 0.5 s (a fault
        # takes three reads).
        st.clock.sleep(1.0)
        assert "pad0" in st.acquisition.active_faults
        st.sim.world.pads[0].plug()
        st.clock.sleep(0.5)
        summary = run_with_patient(app)
        assert (summary["state"], summary["safety_events"]) == ("complete", [])
        assert summary["protocols"][0]["metrics"]["involved_trials"]["value"] == 1
    finally:
        app.close()


def test_session_the_grip_pad_still_unplugged_ends_it_and_the_summary_names_it(
    tmp_path: Path, sim_calibrations: SimCalibrations
) -> None:
    app = open_app(tmp_path, sim_calibrations)
    try:
        st = app.station
        assert st is not None and st.sim is not None
        st.sim.world.pads[0].unplug()  # at the menu, and nobody plugs it back
        st.clock.sleep(0.5)
        summary = run_with_patient(app)
        assert summary["state"] == "incomplete" and summary["ended_reason"].startswith("fault")
        assert any("pad 0" in f for f in summary["data_quality"]["sensor_faults"])
    finally:
        app.close()


def test_session_an_unplugged_pad_no_protocol_reads_does_not_block_the_tare(
    tmp_path: Path, sim_calibrations: SimCalibrations
) -> None:
    """Pad 7 reads open (full scale): it is left out of the tare, which zeroes the grip
    pad; nobody is asked to lift their hands from pads they are not touching."""
    app = open_app(tmp_path, sim_calibrations)
    try:
        st = app.station
        assert st is not None and st.sim is not None
        st.sim.world.pads[7].unplug()
        asked: list[float] = []
        st.clock.every(
            0.05, lambda: asked.append(1) if "hands off" in " ".join(st.sim.lcd_lines()) else None
        )
        summary = run_with_patient(app)
        assert asked == []
        assert summary["data_quality"]["pads_tared"] is True
        assert summary["state"] == "complete"
    finally:
        app.close()


def test_session_glove_unplugged_during_grip_work_does_not_end_it(
    tmp_path: Path, sim_calibrations: SimCalibrations
) -> None:
    app = open_app(tmp_path, sim_calibrations, glove=True)
    try:
        st = app.station
        assert st is not None and st.sim is not None
        st.sim.world.unplug_glove()  # for good: the session never uses the glove
        summary = run_with_patient(app)
        assert summary["state"] == "complete"
        metrics = summary["protocols"][0]["metrics"]
        assert metrics["involved_trials"]["value"] == metrics["uninvolved_trials"]["value"] == 1
        quality = summary["data_quality"]
        assert any("glove" in f for f in quality["sensor_faults"]) and quality["bus_errors"] > 0
        # the next session reports its own figures, not the service's since it started
        st.sim.world.plug_glove()
        st.clock.sleep(0.5)
        quality = run_with_patient(app)["data_quality"]
        assert (quality["sensor_faults"], quality["bus_errors"]) == ([], 0)
    finally:
        app.close()
