"""The station service's loop (``rehab-station run`` on a Pi), on the simulated station:
idle menu, OK starts today's session, back to the menu; SIGTERM at the menu exits 0 with
the motors off. The virtual patient presses OK on the menu like on any OK screen."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from conftest import SimCalibrations

from station import config
from station.app import App
from station.commands import run_cmd

SEED = 5


def open_with_patient(tmp_path: Path, calibrations: SimCalibrations) -> tuple[App, Any, Any]:
    """The built-in simulated station, calibrated, without the IMU glove (the service
    never uses it), and a typical virtual patient at it."""
    cfg = config.validate({"glove": {"fitted": False}})
    app = App(cfg, calibrations.data_dir(tmp_path, cfg, SEED), sim=True, seed=SEED).open()
    st = app.station
    assert st is not None and st.sim is not None and app.journal is not None
    patient = st.sim.patient("typical", st.clock, app.config["buttons"], seed=SEED)
    patient.start()
    return app, st, patient


def test_run_service_menu_session_and_sigterm(
    tmp_path: Path, sim_calibrations: SimCalibrations
) -> None:
    app, st, patient = open_with_patient(tmp_path, sim_calibrations)
    try:
        assert app.journal is not None
        seen: list[str] = []

        def look() -> None:
            text = " ".join(st.sim.lcd_lines())
            if "Choose, then OK" in text and (not seen or seen[-1] != "menu"):
                seen.append("menu")
            if "All done for today" in text and "done" not in seen:
                seen.append("done")
                # the patient leaves; a motor is running when the service is stopped
                patient.stop()
                assert st.haptics is not None
                st.haptics.drive_raw(0, 0.6)
                st.clock.call_later(5.0, lambda: os.kill(os.getpid(), signal.SIGTERM))

        st.clock.every(0.05, look, "look-at-lcd")
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        rc = run_cmd._service(app)
        assert rc == 0
        # the service put the signal handlers back as it found them
        assert {s: signal.getsignal(s) for s in before} == before
        assert seen[:2] == ["menu", "done"]
        sessions = app.journal.conn.execute("SELECT state FROM sessions").fetchall()
        assert sessions == [("complete",)]
        # SIGTERM turned the running motor off (from a thread of its own)
        for t in threading.enumerate():
            if t.name == "motors-off":
                t.join(5.0)
        t_off = st.clock.now()
        assert st.sim.chips.drvs[0].drive_at(t_off) == 0.0  # the driver was commanded off
        st.clock.sleep(0.3)  # and the ERM has spun down
        assert st.sim.world.motors[0].vibration_at(st.clock.now())[0] < 0.01
    finally:
        app.close()


def test_run_service_stop_during_a_session_returns_to_the_menu(
    tmp_path: Path, sim_calibrations: SimCalibrations
) -> None:
    """Stop mid-squeeze ends the session as stopped; the service clears the latch and waits
    at the menu again (before, the latched Stop raised out of the goodbye wait and the
    service died with a traceback and a dark LCD)."""
    app, st, patient = open_with_patient(tmp_path, sim_calibrations)
    try:
        assert app.journal is not None
        stop_pin = st.sim.button_pins(app.config["buttons"])["stop"]
        seen: list[str] = []

        def look() -> None:
            text = " ".join(st.sim.lcd_lines())
            if "Squeeze" in text and "stop" not in seen:
                seen.append("stop")
                stop_pin.drive_low()
                st.clock.call_later(0.2, stop_pin.drive_high)
            if "Choose, then OK" in text and seen == ["stop"]:
                seen.append("menu again")
                patient.stop()
                st.clock.call_later(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM))

        st.clock.every(0.05, look, "look-at-lcd")
        assert run_cmd._service(app) == 0
        assert seen == ["stop", "menu again"]
        sessions = app.journal.conn.execute("SELECT state, ended_reason FROM sessions")
        assert sessions.fetchall() == [("stopped", "stop button pressed")]
    finally:
        app.close()
