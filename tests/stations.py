"""Simulated stations for the sensor tests, built by the product's own wiring.

:func:`sim_station` is ``station.hardware.build(config, sim=True, ...)`` with a config
made as a technician's file would be (only the parts named fitted, other keys by section)
and validated as one: the station returned is the one ``build`` built, nothing added, so
these tests exercise the station the product runs (its locked muxes, its "a sensor fault
stops the motors"). The simulated technician is not called at build (``calibrate=False``):
a test calibrates what it needs with :func:`calibrate`, the product's technician
(``station.sim.rig.calibrate``), and the other parts stay uncalibrated.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from sensors.calibration import CalibrationRecord
from station import config, hardware
from station.parts import Station
from station.sim import rig
from station.sim.handles import SimHandles

#: The parts a config can fit; the LCD only where a test asks for it (none here reads it).
PARTS = ("pads", "haptics", "glove", "lcd")


def sim_config(fitted: Collection[str], **sections: dict[str, Any]) -> config.Config:
    """The built-in simulated station with only ``fitted`` parts fitted and ``sections``
    (``acquisition={"buffer_s": 5.0}``) changed; validated as a file is."""
    unknown = set(fitted) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; parts are {', '.join(PARTS)}")
    data: dict[str, Any] = {"schema": config.SCHEMA}
    for part in PARTS:
        data[part] = {"fitted": part in fitted}
    for section, keys in sections.items():
        data.setdefault(section, {}).update(keys)
    return config.validate(data)


def sim_station(
    data_dir: Path,
    *,
    fitted: Collection[str] = ("pads", "haptics", "glove"),
    seed: int = 0,
    clock: Any = None,
    texture_grades: Sequence[int] | None = None,
    calibrate: bool = False,
    **sections: dict[str, Any],
) -> Station[SimHandles]:
    """The simulated station :func:`sim_config` describes, calibration records in
    ``data_dir``; its acquisition loop not started."""
    station = hardware.build(
        sim_config(fitted, **sections),
        sim=True,
        data_dir=data_dir,
        clock=clock,
        seed=seed,
        calibrate_sim=calibrate,
        texture_grades=texture_grades,
    )
    assert station.sim is not None
    return station


def calibrate(
    station: Station[SimHandles],
    pads: Sequence[int] = (),
    motors: Sequence[int] = (),
    weights_n: Sequence[float] = rig.WEIGHTS_N,
) -> dict[str, CalibrationRecord]:
    """The simulated technician calibrates ``pads`` (tared first; the loop must run) and
    ``motors``; returns the stored records by part (``"pad0"``, ``"motor1"``)."""
    return rig.calibrate(
        station.sim.world,
        station.calibrations,
        station.acquisition,
        station.haptics,
        pads=pads,
        motors=motors,
        weights_n=weights_n,
    )
