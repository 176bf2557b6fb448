"""The composition root: builds the real or the simulated station from the config.

This is the only module that decides real or simulated hardware: the only one that imports
smbus2, a ``sim`` module, or gpiozero's pin factories. Everything else receives what it
needs (buses, drivers, a clock, a pin factory) from here.

Both stations are built by the same code: the buses and the pin factory differ (Linux I2C
through smbus2 and lgpio on a Pi; simulated buses carrying register-level chip models and
gpiozero's mock pins in ``--sim``), and from there :func:`station.parts.assemble` makes
the same drivers, sensors and LCD objects (and names a missing chip, see there).

Bus plan (``reference/HARDWARE.md`` §2): station bus (ADS1115s, haptic mux with
DRV2605Ls), glove bus (mux with six LSM6DSOX, two per channel), LCD bus (PCF8574 +
HD44780).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.clock import MonotonicClock
from sensors.calibration import CalibrationStore
from station.config import Config, bus_roles_in_use
from station.parts import (  # noqa: F401  (the station's parts, re-exported for callers)
    HardwareError,
    Station,
    ads1115_range_v,
    assemble,
    n_motors,
    pad_layout,
)

if TYPE_CHECKING:  # the simulator is imported only when a simulated station is built
    from gpiozero.pins.mock import MockPin

    from station.sim.handles import SimHandles

log = logging.getLogger(__name__)


def build(
    config: Config,
    *,
    sim: bool,
    data_dir: Path,
    clock: Any = None,
    seed: int = 0,
    speed: float | None = None,
    calibrate_sim: bool = True,
    prepare_sim: Callable[[SimHandles], None] | None = None,
    texture_grades: Sequence[int] | None = None,
) -> Station[SimHandles] | Station[None]:
    """Build the station ``config`` describes: the real one, or the simulated one.

    ``data_dir`` holds the calibration records (``calibration/``). For the simulated station
    ``clock`` defaults to a simulated clock running ``speed`` times real time (None: as
    fast as the host can), ``seed`` seeds the simulated world, pads and motors without
    a record are calibrated by the simulated technician (``calibrate_sim``), and
    ``prepare_sim`` is called with the simulated world once its chips are wired, before any
    driver talks to them (to detach a chip or arm a bus fault, as tests do).
    ``texture_grades`` are the simulated pads' overlays (0 smooth .. 7 coarse, one per pad;
    None: pad i has grade i % 8).

    Raises :class:`HardwareError` when a bus cannot be opened or a fitted chip does not
    answer or is another chip; what was built is closed first.
    """
    store = CalibrationStore(Path(data_dir) / "calibration")
    if sim:
        return _build_sim(
            config, store, clock, seed, speed, calibrate_sim, prepare_sim, texture_grades
        )
    clock = clock or MonotonicClock()
    buses = {role: _linux_bus(config, role) for role in bus_roles_in_use(config)}
    return assemble(config, clock, buses, _lgpio_factory(), store, None)


# -- real parts ------------------------------------------------------------------------------


def _linux_bus(config: Config, role: str) -> Any:
    try:
        from smbus2 import SMBus, i2c_msg
    except ImportError as exc:  # pragma: no cover - smbus2 is a runtime dependency
        raise HardwareError("smbus2 is not installed") from exc
    from drivers.smbus2_bus import SMBus2Bus

    b = config["buses"]
    number = b[f"{role}_bus"]
    try:
        return SMBus2Bus(
            number,
            SMBus,
            i2c_msg,
            speed_hz=b[f"{role}_speed_hz"],
            name=f"{role} bus (i2c-{number})",
        )
    except OSError as exc:
        raise HardwareError(
            f"cannot open /dev/i2c-{number} for the {role} bus ({exc.strerror}); "
            f"is I2C enabled and buses.{role}_bus right?"
        ) from exc


def _lgpio_factory() -> Any:
    try:
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    except Exception as exc:
        raise HardwareError(
            f"no GPIO access ({exc}); on a Raspberry Pi install the 'pi' extra (lgpio), "
            "or run with --sim"
        ) from exc


# -- the simulated station -------------------------------------------------------------------


def _build_sim(
    config: Config,
    store: CalibrationStore,
    clock: Any,
    seed: int,
    speed: float | None,
    calibrate: bool,
    prepare: Callable[[SimHandles], None] | None,
    texture_grades: Sequence[int] | None,
) -> Station[SimHandles]:
    """The simulated station: simulated buses (those a fitted part is on, as on a Pi),
    chips at the configured addresses wired to a physical world, gpiozero's mock pins."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from drivers.sim.clock import SimClock
    from station.sim import rig
    from station.sim.handles import SimHandles
    from station.sim.world import World

    clock = clock or SimClock(realtime_factor=speed)
    layout = pad_layout(config["pads"])
    world = World(
        clock,
        seed=seed,
        n_pads=max(len(layout[0]), 1),
        n_motors=n_motors(config),
        actuator=config["haptics"]["actuator"],
        supply_v=config["pads"]["supply_v"],
        divider_ohm=config["pads"]["divider_ohm"],
        texture_grades=texture_grades,
        # the configured overlays; none set: the world's grades (the standard kit's ladder)
        texture_widths_mm=config["pads"]["textures_mm"] or None,
    )
    buses = rig.make_buses(clock, config["buses"], bus_roles_in_use(config))
    factory = MockFactory(pin_class=MockPWMPin)
    chips = rig.attach_chips(config, clock, buses, world, layout, seed)
    handles = SimHandles(world, buses, chips, factory)
    if prepare is not None:
        prepare(handles)
    station = assemble(config, clock, buses, factory, store, handles)
    try:
        if config["haptics"]["fitted"] and config["haptics"]["driver"] == "pwm":
            for motor, pin in enumerate(config["haptics"]["pwm_pins"]):
                world.connect_motor(motor, _pin_drive(factory.pin(pin)))
        if calibrate and station.uncalibrated:
            _sim_technician(station)
    except BaseException:
        station.close()
        raise
    return station


def _pin_drive(pin: MockPin) -> Callable[[float], float]:
    """A PWM motor's drive at time t: the mock pin's duty cycle."""

    def drive(_t: float) -> float:
        return float(pin.state)

    return drive


def _sim_technician(station: Station[SimHandles]) -> None:
    """First start of a simulated station: calibrate what has no record, as a technician
    would at set-up, so that the station's figures are calibrated newtons and dB."""
    from station.sim import rig

    pads = [int(p[3:]) for p in station.uncalibrated if p.startswith("pad")]
    motors = [int(m[5:]) for m in station.uncalibrated if m.startswith("motor")]
    log.info("simulated technician: calibrating pads %s and motors %s", pads, motors)
    world = station.sim.world
    if pads and station.acquisition is not None:
        station.acquisition.start()
        try:
            rig.calibrate(world, station.calibrations, station.acquisition, pads=pads)
        finally:
            station.acquisition.stop()
    if motors and station.haptics is not None:
        rig.calibrate(world, station.calibrations, haptics=station.haptics, motors=motors)
    station.uncalibrated = []
