"""Test rig: the simulated station's sensor side, one builder function per part.

Clock, buses, the physical world, the simulated chips and the real drivers and sensors on
top, wired as ``station/hardware.py`` will wire them (the lead lifts these functions there):
station bus at 400 kHz with 2 ADS1115 (0x48, 0x49, 4 pads each) and a TCA9548A (0x70) with a
DRV2605L per channel 0..3; glove bus at 400 kHz with a TCA9548A (0x70) and six LSM6DSOX,
two per channel (``GLOVE_LAYOUT``).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from drivers.ads1115 import ADS1115
from drivers.clock import MonotonicClock
from drivers.drv2605l import DRV2605L
from drivers.lsm6dsox import LSM6DSOX
from drivers.sim.ads1115 import SimADS1115
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.drv2605l import SimDRV2605L
from drivers.sim.lsm6dsox import SimLSM6DSOX
from drivers.sim.tca9548a import SimTCA9548A
from drivers.tca9548a import TCA9548A
from sensors.acquisition import Acquisition
from sensors.calibration import CalibrationRecord
from sensors.force_pads import ForcePads, SupplyReference, calibrate_pad, default_layout
from sensors.glove import WIRING, Glove
from sensors.haptics import Haptics, VibrationCaps
from sensors.motor_calibration import calibrate_motor
from station.sim.world import World

GLOVE_LAYOUT = WIRING  # the station's glove wiring (sensors.glove)
ADC_ADDRESSES = (0x48, 0x49)
MUX_ADDRESS = 0x70
DRV_ADDRESS = 0x5A
WEIGHTS_N = (0.5, 1.0, 2.0, 3.5, 5.0, 7.5, 10.0, 15.0, 20.0)
EREMOTEIO = errno.EREMOTEIO


class RealTimeClock(MonotonicClock):
    """The real clock for simulated chips and buses: wire time is not waited for (only the
    host's own time passes), so real-time runs measure the host side."""

    def advance(self, seconds: float) -> None:
        pass


def make_buses(clock: SimClock, speed_hz: int = 400_000) -> tuple[SimI2CBus, SimI2CBus]:
    """The station bus (pads, motors) and the glove bus."""
    return (
        SimI2CBus(clock, speed_hz, "sim-station-bus", log_size=256),
        SimI2CBus(clock, speed_hz, "sim-glove-bus", log_size=256),
    )


def make_pads(
    clock: SimClock,
    bus: SimI2CBus,
    world: World,
    pads_per_adc: int = 4,
    supply_ref: bool = False,
    data_rate_sps: int = 475,
) -> tuple[ForcePads, list[SimADS1115]]:
    """ADS1115s wired to the world's pads; with ``supply_ref`` the last ADC's AIN3 reads
    half the supply (so that chip carries 3 pads)."""
    chips, drivers = [], []
    for address in ADC_ADDRESSES:
        chip = SimADS1115(clock, bus_hz=bus.speed_hz)
        bus.attach(address, chip)
        chips.append(chip)
        drivers.append(ADS1115(bus, address, clock, 4.096, data_rate_sps))
    layout = default_layout(len(chips), pads_per_adc)
    ref = None
    if supply_ref:
        layout = [c for c in layout if not (c.adc == len(chips) - 1 and c.ain == 3)]
        ref = SupplyReference(len(chips) - 1, 3, 0.5)
        world.connect_supply_reference(chips[-1], 3, 0.5)
    for c in layout:
        world.connect_pad(c.pad, chips[c.adc], c.ain)
    pads = ForcePads(drivers, layout, divider_ohm=10_000, supply_v=3.3, supply_ref=ref)
    pads.init()
    return pads, chips


def make_haptics(
    clock: SimClock,
    bus: SimI2CBus,
    world: World,
    caps: VibrationCaps | None = None,
    actuator: str = "erm",
) -> tuple[Haptics, list[SimDRV2605L], SimTCA9548A]:
    """A TCA9548A with one DRV2605L per channel, each driving the world's motor."""
    mux_chip = SimTCA9548A()
    bus.attach(MUX_ADDRESS, mux_chip)
    mux = TCA9548A(bus, MUX_ADDRESS)
    mux.init()
    chips, drivers = [], []
    for i in range(len(world.motors)):
        chip = mux_chip.attach(i, DRV_ADDRESS, SimDRV2605L(clock))
        world.connect_motor(i, chip.drive_at)
        chips.append(chip)
        drivers.append(DRV2605L(mux.channel(i), DRV_ADDRESS, clock))
    caps = caps or VibrationCaps(max_vibration_g=3.0, daily_vibration_min=30.0)
    haptics = Haptics(drivers, clock, caps, actuator=actuator)
    haptics.init()
    return haptics, chips, mux_chip


def make_glove(
    clock: SimClock, bus: SimI2CBus, world: World, odr_hz: int = 104
) -> tuple[Glove, dict[str, SimLSM6DSOX], SimTCA9548A]:
    """The glove's mux and six IMUs, their motion from the world's hand."""
    mux_chip = SimTCA9548A()
    bus.attach(MUX_ADDRESS, mux_chip)
    mux = TCA9548A(bus, MUX_ADDRESS)
    mux.init()
    chips, drivers = {}, {}
    for seed, (segment, channel, address) in enumerate(GLOVE_LAYOUT):
        chip = mux_chip.attach(channel, address, SimLSM6DSOX(clock, address, seed=seed + 100))
        world.connect_imu(segment, chip)
        chips[segment] = chip
        drivers[segment] = LSM6DSOX(mux.channel(channel), address, clock)
    glove = Glove(drivers, clock, odr_hz=odr_hz)
    glove.init()
    return glove, chips, mux_chip


@dataclass
class Rig:
    clock: SimClock
    station_bus: SimI2CBus
    glove_bus: SimI2CBus
    world: World
    acquisition: Acquisition | None
    pads: ForcePads | None = None
    adc_chips: list[SimADS1115] = field(default_factory=list)
    glove: Glove | None = None
    imu_chips: dict[str, SimLSM6DSOX] = field(default_factory=dict)
    haptics: Haptics | None = None
    drv_chips: list[SimDRV2605L] = field(default_factory=list)
    faults: list[Any] = field(default_factory=list)

    @property
    def buses(self) -> dict[str, SimI2CBus]:
        return {"station": self.station_bus, "glove": self.glove_bus}

    def close(self) -> None:
        if self.acquisition is not None:
            self.acquisition.stop()
        if self.haptics is not None:
            self.haptics.close()
        if self.glove is not None:
            self.glove.close()


def build_rig(
    seed: int = 0,
    pads: bool = True,
    glove: bool = True,
    haptics: bool = True,
    actuator: str = "erm",
    supply_ref: bool = False,
    caps: VibrationCaps | None = None,
    buffer_s: float = 30.0,
    texture_grades: Sequence[int] | None = None,
    clock: Any = None,
) -> Rig:
    """The default simulated sensor station; the acquisition loop is not started.

    ``clock`` defaults to a fresh SimClock; :class:`RealTimeClock` runs the simulated chips
    in real time (for jitter figures)."""
    clock = clock or SimClock()
    station_bus, glove_bus = make_buses(clock)
    world = World(clock, seed=seed, actuator=actuator, texture_grades=texture_grades)
    rig_pads, adc_chips = (
        make_pads(clock, station_bus, world, supply_ref=supply_ref)
        if pads
        else (
            None,
            [],
        )
    )
    rig_glove, imu_chips, _ = make_glove(clock, glove_bus, world) if glove else (None, {}, None)
    rig_haptics, drv_chips, _ = (
        make_haptics(clock, station_bus, world, caps, actuator) if haptics else (None, [], None)
    )
    faults: list[Any] = []

    def on_fault(fault: Any) -> None:
        faults.append(fault)
        if rig_haptics is not None:
            rig_haptics.stop_all()  # any sensor fault stops stimulation

    acquisition = (
        Acquisition(clock, rig_pads, rig_glove, buffer_s=buffer_s, on_fault=on_fault)
        if rig_pads is not None or rig_glove is not None
        else None
    )
    return Rig(  # the acquisition loop is None when neither pads nor glove are fitted
        clock, station_bus, glove_bus, world, acquisition, rig_pads, adc_chips, rig_glove,
        imu_chips, rig_haptics, drv_chips, faults,
    )  # fmt: skip


def calibrate_pads(
    rig: Rig, pads: Sequence[int] | None = None, weights_n: Sequence[float] = WEIGHTS_N
) -> dict[int, CalibrationRecord]:
    """Tare, then calibrate ``pads`` (default all) with known weights; loop must run."""
    assert rig.pads is not None and rig.acquisition is not None
    rig.acquisition.tare(0.3)
    records = {}
    for pad in pads if pads is not None else range(rig.pads.n_pads):

        def place(weight: float | None, pad: int = pad) -> None:
            rig.world.pads[pad].set_force(weight or 0.0)

        record = calibrate_pad(rig.acquisition, pad, weights_n, place)
        rig.pads.set_calibration(pad, record)
        records[pad] = record
    return records


def calibrate_motors(rig: Rig, motors: Sequence[int] | None = None) -> dict[int, Any]:
    """Calibrate each motor against a reference accelerometer on its pad."""
    assert rig.haptics is not None
    records = {}
    for motor in motors if motors is not None else range(len(rig.haptics.motors)):
        meter = rig.world.reference_accelerometer(motor)
        record = calibrate_motor(rig.haptics, motor, meter.read)
        rig.haptics.set_calibration(motor, record)
        records[motor] = record
    return records
