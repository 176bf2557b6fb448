"""Station figures for ``rehab-station bench``: start-up, acquisition, LCD, biofeedback
latency and a whole session, each beside the limit it is judged by.

Every figure is measured on the station as built (simulated with ``--sim``); the figures
that need to see what the patient sees (biofeedback latency, the virtual patient's
session) need the simulated station, whose LCD can be read back.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from drivers.clock import MonotonicClock
from sensors.bench import acquisition_figures, max_rss_mib
from sensors.faults import PadFault
from station.protocols.max_grip import FEEDBACK_S
from ui_lcd.bench import measure as lcd_figures

#: Goal for force change to bar change on the LCD (ARCHITECTURE.md, biofeedback).
BIOFEEDBACK_GOAL_S = 0.100
#: Resident memory goal for the whole station process on a Pi.
RSS_GOAL_MIB = 80.0


def acquisition(app: Any, seconds: float) -> dict[str, Any]:
    """The acquisition loop's figures (it is restarted under the measurement)."""
    st = app.station
    st.acquisition.stop()
    try:
        return acquisition_figures(st, seconds=seconds)
    finally:
        st.acquisition.start()


def lcd(app: Any) -> dict[str, Any]:
    st = app.station
    bus = st.buses["lcd"]
    figures = lcd_figures(st.display, lambda: bus.stats.wire_s, lambda: bus.stats.transactions)
    figures["bus_hz"] = bus.speed_hz
    return figures


def _fresh(acq: Any, clock: Any, pad: int, timeout_s: float = 5.0) -> None:
    """Wait (bounded) until ``pad`` has a fresh reading: after a start, or after the LCD
    benchmark held the clock, the loop needs a moment to catch up."""
    deadline = clock.now() + timeout_s
    while True:
        clock.sleep(0.05)
        try:
            acq.latest_n(pad)
            return
        except PadFault:
            if clock.now() >= deadline:
                raise


def biofeedback_latency(app: Any, steps: int = 20, force_n: float = 10.0, seed: int = 0) -> dict:
    """Force steps 0 -> ``force_n`` on the grip pad at random phases of the feedback loop;
    the time until the LCD (read back from the simulated chip) shows the first bar cell
    and 90 % of the final bar. The loop is the maximal-grip protocol's own: read the newest
    force, draw the bar, wait ``FEEDBACK_S``."""
    st = app.station
    assert st.sim is not None, "biofeedback latency reads the simulated LCD back"
    clock, acq, ui = st.clock, st.acquisition, app.ui
    pad = st.sim.world.pads[0]
    full_scale = min(acq.full_scale_n(), app.config["safety"]["max_force_n"] * 1.25)
    rng = random.Random(seed)
    row = -1
    acq.start()

    def cells() -> int:
        return sum(1 for c in st.sim.lcd_lines()[row] if c != " ")

    def feedback(seconds: float) -> None:
        end = clock.now() + seconds
        while clock.now() < end:
            ui.biofeedback("grip.squeeze", acq.latest_n(0), full_scale, hand="right")
            clock.sleep(FEEDBACK_S)

    first, ninety = [], []
    try:
        pad.set_force(force_n)
        _fresh(acq, clock, 0)  # the loop has caught up after a (re)start
        feedback(1.5)
        final = cells()
        for _ in range(steps):
            pad.set_force(0.0)
            feedback(1.5 + rng.uniform(0.0, FEEDBACK_S))
            seen: dict[str, float] = {}
            t0 = clock.now()
            pad.set_force(force_n)

            def probe(t0: float = t0, seen: dict[str, float] = seen) -> None:
                n = cells()
                if n and "first" not in seen:
                    seen["first"] = clock.now() - t0
                if n >= 0.9 * final and "ninety" not in seen:
                    seen["ninety"] = clock.now() - t0

            handle = clock.every(0.0005, probe, "latency-probe")
            feedback(0.5)
            handle.cancel()
            first.append(seen.get("first", float("inf")))
            ninety.append(seen.get("ninety", float("inf")))
    finally:
        pad.set_force(0.0)

    def stats(xs: list[float]) -> dict[str, float]:
        a = np.array(xs) * 1e3
        return {
            "p50_ms": round(float(np.percentile(a, 50)), 1),
            "max_ms": round(float(np.max(a)), 1),
        }

    return {
        "steps": steps,
        "step_n": force_n,
        "feedback_period_ms": FEEDBACK_S * 1e3,
        "first_cell": stats(first),
        "ninety_percent": stats(ninety),
        "goal_ms": BIOFEEDBACK_GOAL_S * 1e3,
        "ratio_to_goal": round(float(np.max(ninety)) / BIOFEEDBACK_GOAL_S, 2),
    }


def session(app: Any, profile: str = "typical", seed: int = 1) -> dict[str, Any]:
    """One whole session with a virtual patient: wall time against simulated time, and the
    process's CPU time (on a shared host the wall time also counts other processes)."""
    st = app.station
    patient = st.sim.patient(profile, st.clock, app.config["buttons"], seed=seed)
    wall = MonotonicClock()
    t_sim, t_wall, t_cpu = st.clock.now(), wall.now(), time.process_time()
    patient.start()
    try:
        outcome = app.run_session()
    finally:
        patient.stop()
    sim_s, wall_s = st.clock.now() - t_sim, wall.now() - t_wall
    cpu_s = time.process_time() - t_cpu
    return {
        "state": outcome.state if outcome else "no_session",
        "simulated_s": round(sim_s, 1),
        "wall_s": round(wall_s, 2),
        "speed_x_real_time": round(sim_s / wall_s, 1) if wall_s else None,
        "cpu_s": round(cpu_s, 2),
        "speed_x_cpu_time": round(sim_s / cpu_s, 1) if cpu_s else None,
        "max_rss_mib": max_rss_mib(),
        "rss_goal_mib": RSS_GOAL_MIB,
    }
