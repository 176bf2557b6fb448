"""The simulated station's chips, wired as a configuration says, and its technician.

:func:`attach_chips` hangs a register-level simulated chip at every address the
configuration names (ADS1115s, the haptic mux with a DRV2605L per channel, the glove mux
with six LSM6DSOX, the LCD backpack) on the simulated buses, and connects each to the
physical :class:`~station.sim.world.World`: pads to ADC inputs, motors to drivers, hand
segments to IMUs. The real drivers then talk to these chips through the same bus contract
as on a Pi (``station/hardware.py`` builds them).

:func:`calibrate` is the technician of the simulated station: it loads the pads with known
weights from a jig and holds a reference accelerometer on each motor's pad, as a real
technician does at set-up, and stores the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drivers.sim.ads1115 import SimADS1115
from drivers.sim.bus import SimI2CBus
from drivers.sim.drv2605l import SimDRV2605L
from drivers.sim.hd44780 import SimHD44780
from drivers.sim.lsm6dsox import SimLSM6DSOX
from drivers.sim.tca9548a import SimTCA9548A
from sensors.calibration import CalibrationRecord, CalibrationStore
from sensors.force_pads import PadChannel, SupplyReference, calibrate_pads
from sensors.glove import WIRING
from sensors.motor_calibration import calibrate_motor
from station.sim.world import World

if TYPE_CHECKING:
    from sensors.acquisition import Acquisition
    from sensors.haptics import Haptics
    from station.config import Config

DRV2605L_ADDRESS = 0x5A
#: The technician's calibration weights (N), spanning the pads' working range.
WEIGHTS_N = (0.5, 1.0, 2.0, 3.5, 5.0, 7.5, 10.0, 15.0, 20.0)


@dataclass
class SimChips:
    """The simulated chips, for tests, the virtual patient and fault injection."""

    adcs: list[SimADS1115] = field(default_factory=list)
    haptic_mux: SimTCA9548A | None = None
    drvs: list[SimDRV2605L] = field(default_factory=list)
    glove_mux: SimTCA9548A | None = None
    imus: dict[str, SimLSM6DSOX] = field(default_factory=dict)
    lcd: SimHD44780 | None = None


def make_buses(
    clock: Any,
    buses_cfg: Mapping[str, Any],
    roles: Iterable[str] = ("station", "glove", "lcd"),
) -> dict[str, SimI2CBus]:
    """The buses of ``roles`` (``station``, ``glove``, ``lcd``) at the configured speeds;
    the station passes the roles a fitted part is on, as on a Pi."""
    return {
        role: SimI2CBus(clock, buses_cfg[f"{role}_speed_hz"], f"sim-{role}-bus", log_size=256)
        for role in roles
    }


def attach_chips(
    cfg: Config,
    clock: Any,
    buses: Mapping[str, SimI2CBus],
    world: World,
    pad_layout: tuple[Sequence[PadChannel], SupplyReference | None] = ((), None),
    seed: int = 0,
) -> SimChips:
    """Simulated chips at the configuration's addresses, connected to ``world``;
    ``pad_layout`` is ``(channels, supply reference or None)`` as the station wires them."""
    chips = SimChips()
    if cfg["pads"]["fitted"]:
        station_bus = buses["station"]
        for address in cfg["pads"]["adc_addresses"]:
            adc = SimADS1115(clock, bus_hz=station_bus.speed_hz)
            station_bus.attach(address, adc)
            chips.adcs.append(adc)
        channels, ref = pad_layout
        for c in channels:
            world.connect_pad(c.pad, chips.adcs[c.adc], c.ain)
        if ref is not None:
            world.connect_supply_reference(chips.adcs[ref.adc], ref.ain, ref.ratio)
    if cfg["haptics"]["fitted"] and cfg["haptics"]["driver"] == "drv2605l":
        mux = SimTCA9548A()
        buses["station"].attach(cfg["haptics"]["mux_address"], mux)
        chips.haptic_mux = mux
        for motor, channel in enumerate(cfg["haptics"]["channels"]):
            drv = mux.attach(channel, DRV2605L_ADDRESS, SimDRV2605L(clock))
            world.connect_motor(motor, drv.drive_at)
            chips.drvs.append(drv)
    if cfg["glove"]["fitted"]:
        mux = SimTCA9548A()
        buses["glove"].attach(cfg["glove"]["mux_address"], mux)
        chips.glove_mux = mux
        for i, (segment, channel, address) in enumerate(WIRING):
            imu = mux.attach(channel, address, SimLSM6DSOX(clock, address, seed=seed * 31 + i))
            world.connect_imu(segment, imu)
            chips.imus[segment] = imu
    if cfg["lcd"]["fitted"]:
        cols, rows = (int(n) for n in cfg["lcd"]["size"].split("x"))
        chips.lcd = SimHD44780(clock, cols, rows, bus_hz=buses["lcd"].speed_hz)
        buses["lcd"].attach(cfg["lcd"]["address"], chips.lcd)
    return chips


def calibrate(
    world: World,
    store: CalibrationStore,
    acquisition: Acquisition | None = None,
    haptics: Haptics | None = None,
    pads: Sequence[int] = (),
    motors: Sequence[int] = (),
    weights_n: Sequence[float] = WEIGHTS_N,
) -> dict[str, CalibrationRecord]:
    """Calibrate ``pads`` (all at once, on a weight jig) and ``motors`` (each against a
    reference accelerometer on its pad); save the records and apply them.

    The acquisition loop must be running for the pads; the pads are tared first.
    """
    saved: dict[str, CalibrationRecord] = {}
    if pads:
        assert acquisition is not None and acquisition.pads is not None
        acquisition.tare(0.3)

        def place(weight: float | None) -> None:
            for pad in pads:
                world.pads[pad].set_force(weight or 0.0)

        for pad, record in calibrate_pads(acquisition, list(pads), weights_n, place).items():
            stored = store.save(record)
            acquisition.pads.set_calibration(pad, stored)
            saved[f"pad{pad}"] = stored
    for motor in motors:
        assert haptics is not None
        meter = world.reference_accelerometer(motor)
        stored = store.save(calibrate_motor(haptics, motor, meter.read))
        haptics.set_calibration(motor, stored)
        saved[f"motor{motor}"] = stored
    return saved
