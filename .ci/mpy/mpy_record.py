"""Record the drivers' bus and clock calls over the simulated chips, on CPython.

:func:`record_all` runs every scenario of ``mpy_scenarios.py`` against ``drivers/sim`` chips
through :class:`RecordingBus` and :class:`RecordingClock`, which log each call the driver
makes (method, address, register, bytes written, read length) with what it got back
(bytes, time, or an ``OSError`` errno). ``mpy_replay.py`` plays the log back on MicroPython.
Each scenario's world (:data:`WORLDS`) wires the chips and names the changes the scenario
stages between steps.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpy_scenarios as scenarios
from mpy_replay import encode

from drivers.sim.ads1115 import SimADS1115
from drivers.sim.bus import SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock
from drivers.sim.drv2605l import SimDRV2605L
from drivers.sim.hd44780 import SimHD44780
from drivers.sim.lsm6dsox import SimLSM6DSOX
from drivers.sim.tca9548a import SimTCA9548A

Event = dict[str, Any]


class RecordingBus:
    """The ``machine.I2C`` methods of ``bus``, each call appended to ``events``."""

    def __init__(self, bus: SimI2CBus, events: list[Event]) -> None:
        self._bus = bus
        self._events = events
        self.name = bus.name

    def scan(self) -> list[int]:
        event: Event = {"op": "scan"}
        found = self._call(event, self._bus.scan)
        event["found"] = found
        return found

    def writeto(self, addr: int, buf: Any, stop: bool = True) -> int:
        event = {"op": "writeto", "addr": addr, "wrote": bytes(buf).hex(), "stop": stop}
        return self._call(event, lambda: self._bus.writeto(addr, buf, stop))

    def readfrom_into(self, addr: int, buf: Any, stop: bool = True) -> None:
        event = {"op": "readfrom_into", "addr": addr, "n": len(buf), "stop": stop}
        self._call(event, lambda: self._bus.readfrom_into(addr, buf, stop))
        event["read"] = bytes(buf).hex()

    def writeto_mem(self, addr: int, memaddr: int, buf: Any, addrsize: int = 8) -> None:
        event = {"op": "writeto_mem", "addr": addr, "mem": memaddr, "wrote": bytes(buf).hex()}
        event["addrsize"] = addrsize
        self._call(event, lambda: self._bus.writeto_mem(addr, memaddr, buf, addrsize))

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: Any, addrsize: int = 8) -> None:
        event = {"op": "readfrom_mem_into", "addr": addr, "mem": memaddr, "n": len(buf)}
        event["addrsize"] = addrsize
        self._call(event, lambda: self._bus.readfrom_mem_into(addr, memaddr, buf, addrsize))
        event["read"] = bytes(buf).hex()

    def _call(self, event: Event, call: Callable[[], Any]) -> Any:
        self._events.append(event)
        try:
            return call()
        except OSError as exc:
            event["errno"] = exc.errno
            raise


class RecordingClock:
    """``clock.now()`` answers and ``clock.sleep()`` requests, appended to ``events``."""

    def __init__(self, clock: SimClock, events: list[Event]) -> None:
        self._clock = clock
        self._events = events

    def now(self) -> float:
        t = self._clock.now()
        self._events.append({"op": "now", "t": encode(float(t))})
        return t

    def sleep(self, seconds: float) -> None:
        self._events.append({"op": "sleep", "s": encode(float(seconds))})
        self._clock.sleep(seconds)

    def every(self, period_s: float, fn: Callable[[], None], name: str = "periodic") -> Any:
        raise AssertionError("drivers schedule no periodic tasks")


class SimWorld:
    """The simulated chips of one scenario and the changes it stages by name."""

    def __init__(self, stages: dict[str, Callable[[], object]]) -> None:
        self._stages = stages

    def stage(self, name: str) -> None:
        self._stages[name]()


class FrozenRegister(SimChip):
    """A part that ACKs and reads 0x00 whatever is written (a switch that holds nothing)."""

    def read(self, n: int) -> bytes:
        return bytes(n)


def ads1115_world(clock: SimClock, bus: SimI2CBus) -> SimWorld:
    adc = bus.attach(0x48, SimADS1115(clock, bus_hz=bus.speed_hz))
    bus.attach(0x49, SimChip())  # another part: reads 0xFF

    def inputs() -> None:
        for channel, volts in enumerate((1.5, -0.1, 4.2, 125e-6)):
            adc.set_input(channel, volts)

    return SimWorld(
        {
            "inputs": inputs,
            "NACK 121 once": lambda: bus.nack(0x48, errno.EREMOTEIO, times=1),
            "NACK 5 once": lambda: bus.nack(0x48, errno.EIO, times=1),
            "stuck": lambda: setattr(adc, "stuck", True),
            "unstuck": lambda: setattr(adc, "stuck", False),
        }
    )


def drv2605l_world(clock: SimClock, bus: SimI2CBus) -> SimWorld:
    drv = bus.attach(0x5A, SimDRV2605L(clock))
    bus.attach(0x5B, SimDRV2605L(clock, device_id=4))  # a DRV2604: no effect library
    return SimWorld(
        {
            "over temperature": lambda: (drv.inject_over_temp(), drv.inject_over_temp(False)),
            "GO stuck": lambda: drv.inject_go_stuck(True),
            "GO free": lambda: drv.inject_go_stuck(False),
            "second write NACKs": lambda: bus.fail_nth(2, errno.EREMOTEIO, 0x5A),
            "unplugged": drv.unplug,
            "plugged": drv.plug,
        }
    )


def lsm6dsox_world(clock: SimClock, bus: SimI2CBus) -> SimWorld:
    imu = bus.attach(0x6A, SimLSM6DSOX(clock, temperature_c=31.5))
    bus.attach(0x6B, SimLSM6DSOX(clock, 0x6B, who_am_i=0x69))  # an LSM6DS33

    def power_cycled() -> None:
        imu.plug()
        imu.power_cycle()

    return SimWorld(
        {
            "moving": lambda: imu.set_motion((0.12, -0.5, 0.98), (-12.5, 3.0, 250.0)),
            "unplugged": imu.unplug,
            "power cycled": power_cycled,
        }
    )


def hd44780_world(clock: SimClock, bus: SimI2CBus) -> SimWorld:
    bus.attach(0x27, SimHD44780(clock, 20, 4, bus_hz=bus.speed_hz))
    return SimWorld({"NACK 5 once": lambda: bus.nack(0x27, errno.EIO, times=1)})


def tca9548a_world(clock: SimClock, bus: SimI2CBus) -> SimWorld:
    mux = bus.attach(0x70, SimTCA9548A())
    motor = mux.attach(2, 0x5A, SimDRV2605L(clock))
    mux.attach(4, 0x5A, SimDRV2605L(clock))
    imu = mux.attach(5, 0x6A, SimLSM6DSOX(clock))
    imu.set_motion((0.0, 0.7, 0.7), (1.0, -2.0, 3.0))
    bus.attach(0x71, FrozenRegister())
    bus.attach(0x72, SimChip())  # another part: reads 0xFF
    return SimWorld(
        {
            "motor on channel 2 unplugged": motor.unplug,
            "motor on channel 2 plugged": motor.plug,
        }
    )


WORLDS: dict[str, Callable[[SimClock, SimI2CBus], SimWorld]] = {
    "ads1115": ads1115_world,
    "drv2605l": drv2605l_world,
    "lsm6dsox": lsm6dsox_world,
    "hd44780": hd44780_world,
    "tca9548a": tca9548a_world,
}


@dataclass(frozen=True)
class Recording:
    """One scenario's calls (``events``) and the values the driver decoded (``results``)."""

    name: str
    scenario: str
    bus_name: str
    events: list[Event]
    results: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scenario": self.scenario,
            "bus_name": self.bus_name,
            "events": self.events,
        }

    def bus_calls(self) -> int:
        return sum(1 for e in self.events if e["op"] not in ("now", "sleep"))


def record(scenario: str) -> Recording:
    """Run ``scenario`` on CPython over its simulated world and record it."""
    clock = SimClock()
    bus = SimI2CBus(clock, 400_000, "station")
    world = WORLDS[scenario](clock, bus)
    events: list[Event] = []
    results = getattr(scenarios, scenario)(
        RecordingBus(bus, events), RecordingClock(clock, events), world
    )
    return Recording(scenario, scenario, bus.name, events, encode(results))


def record_all() -> dict[str, Recording]:
    return {name: record(name) for name in scenarios.ALL}
