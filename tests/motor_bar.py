"""Sessions of the bar tasks (force steadiness and tracking) on the simulated station, with
a virtual patient of known steadiness, lag and noise, and the truth it produced.

The truth of a trial is the patient's own force (its :class:`~station.sim.motor_track.
Follower`, evaluated on a 100 Hz grid over the part of the trial the station analysed),
never a value the station computed; the station's figures are read from the journal and
the summary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from conftest import SimCalibrations
from test_session_e2e import SEED, Stations, make_plan, patient, run

from station import config as config_mod
from station.app import App
from station.journal import Trial
from station.runner import Outcome
from station.sim.motor_acts import MotorAbilities
from station.sim.motor_track import Follower
from station.sim.patient import VirtualPatient

#: A patient strong enough that sub-maximal targets sit well above the FSR's break force:
#: a comfortable squeeze of 15 N.
STRONG: dict[str, Any] = {"max_grip_n": {"left": 30.0, "right": 30.0}}


def bar_config() -> config_mod.Config:
    """A station with the one pad these tasks use (one ADS1115, one input), no glove: the
    same product, a fifth of the acquisition's simulation cost of the default 8 pads."""
    return config_mod.validate(
        {"glove": {"fitted": False}, "pads": {"adc_addresses": [0x48], "pads_per_adc": 1}}
    )


def bar_station_set(tmp_path: Path, sim_calibrations: SimCalibrations) -> Iterator[Stations]:
    """Apps of :func:`bar_config`'s station, calibrated once by the simulated technician
    (each test module's ``bar_stations`` fixture)."""
    cfg = bar_config()
    s = Stations(tmp_path, sim_calibrations.records(cfg, SEED), default=cfg)
    try:
        yield s
    finally:
        s.close()


def ideal_pad(app: App, pad: int = 0) -> None:
    """Take the FSR's hysteresis off ``pad`` (a drivable fake's parameter): the validity
    tests check the station's analysis against the truth without the pad's own hysteresis,
    whose effect a separate test pins (docs/motor.md)."""
    st = app.station
    assert st is not None and st.sim is not None
    p = st.sim.world.pads[pad]
    p.params = dataclasses.replace(p.params, hysteresis=0.0)


def motor(**fields: Any) -> MotorAbilities:
    return MotorAbilities(**fields)


def session(
    app: App,
    items: list[dict[str, Any]],
    maximal: bool = False,
    caps: dict[str, Any] | None = None,
    **abilities: Any,
) -> tuple[Outcome, VirtualPatient]:
    """One session of ``items`` with a patient of ``abilities`` (over :data:`STRONG`)."""
    p = patient(app, "typical", **{**STRONG, **abilities})
    try:
        outcome = run(app, make_plan(app, items, maximal=maximal, **(caps or {})))
    finally:
        p.stop()
    return outcome, p


def item(protocol: str, **params: Any) -> dict[str, Any]:
    return {"protocol": protocol, "days": "daily", "params": params}


def trials(app: App, outcome: Outcome, protocol: str) -> list[Trial]:
    assert app.journal is not None
    return app.journal.trials(outcome.session_id, protocol)


def metrics(outcome: Outcome, protocol: str) -> dict[str, Any]:
    found = [p for p in outcome.summary["protocols"] if p["protocol"] == protocol]
    assert found, outcome.summary["protocols"]
    return found[0]["metrics"]


def followers(p: VirtualPatient, act: str) -> list[Follower]:
    """The patient's bar followers of act ``act`` (``SteadyHold``, ``Tracking``), in order."""
    return [f for a in p.acts if type(a).__name__ == act for f in a.followers]


def true_force(f: Follower, t0: float, t_from: float, t_to: float) -> tuple[Any, Any]:
    """The patient's own force on a 100 Hz grid from ``t_from`` to ``t_to`` (s after the
    trial's start ``t0``): the grid and the forces."""
    grid = np.arange(t_from, t_to, 0.01)
    return grid, np.array([f.force(t0 + x) for x in grid])
