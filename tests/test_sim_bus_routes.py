"""The simulated bus's route cache: an address resolved once is kept only while nothing
that could re-route it has changed (a switch selecting, a chip plugged, unplugged,
attached or detached), and a switch that does not report its changes is asked every time."""

from __future__ import annotations

import errno

import pytest

from drivers.sim.bus import SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock
from drivers.sim.tca9548a import SimTCA9548A

MUX, DEV = 0x70, 0x5A


class Echo(SimChip):
    """Answers every read with ``reply``; counts the writes it receives."""

    def __init__(self, reply: int) -> None:
        super().__init__()
        self.reply = reply
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def read(self, n: int) -> bytes:
        return bytes([self.reply]) * n


class SilentSwitch(SimChip):
    """A switch whose selection is a plain attribute: it reports no change."""

    def __init__(self) -> None:
        super().__init__()
        self.selected: SimChip | None = None

    def routes(self, address: int) -> list[SimChip]:
        return [self.selected] if address == DEV and self.selected is not None else []


@pytest.fixture
def bus() -> SimI2CBus:
    return SimI2CBus(SimClock(), speed_hz=400_000, name="routes")


def read(bus: SimI2CBus, address: int = DEV) -> int:
    buf = bytearray(1)
    bus.readfrom_into(address, buf)
    return buf[0]


def test_sim_bus_absent_address_nacks_every_time(bus: SimI2CBus) -> None:
    for _ in range(3):
        with pytest.raises(OSError) as info:
            read(bus, 0x48)
        assert info.value.errno == errno.EREMOTEIO
    with pytest.raises(OSError):
        bus.transfer([(0x48, "W", b"\x00"), (0x48, "R", 1)])
    assert bus.stats.errors == 4


def test_sim_bus_follows_a_mux_reselecting_after_a_cached_route(bus: SimI2CBus) -> None:
    mux = bus.attach(MUX, SimTCA9548A())
    mux.attach(0, DEV, Echo(0x11))
    mux.attach(1, DEV, Echo(0x22))
    bus.writeto(MUX, b"\x01")
    assert [read(bus) for _ in range(2)] == [0x11, 0x11]
    bus.writeto(MUX, b"\x02")
    assert read(bus) == 0x22
    mux.register = 0x01  # set from outside the bus (as a test or a RESET would)
    assert read(bus) == 0x11
    mux.reset()
    with pytest.raises(OSError):
        read(bus)


def test_sim_bus_follows_a_nested_mux(bus: SimI2CBus) -> None:
    outer = bus.attach(MUX, SimTCA9548A())
    inner = outer.attach(3, 0x71, SimTCA9548A())
    inner.attach(0, DEV, Echo(0x33))
    inner.attach(1, DEV, Echo(0x44))
    bus.writeto(MUX, b"\x08")
    bus.writeto(0x71, b"\x01")
    assert read(bus) == 0x33
    bus.writeto(0x71, b"\x02")
    assert read(bus) == 0x44
    bus.writeto(MUX, b"\x00")
    with pytest.raises(OSError):
        read(bus)


def test_sim_bus_follows_plugging_attaching_and_detaching(bus: SimI2CBus) -> None:
    mux = bus.attach(MUX, SimTCA9548A())
    dev = mux.attach(0, DEV, Echo(0x55))
    bus.writeto(MUX, b"\x01")
    assert read(bus) == 0x55
    dev.unplug()
    with pytest.raises(OSError):
        read(bus)
    dev.plug()
    assert read(bus) == 0x55
    mux.detach(0, DEV, dev)
    with pytest.raises(OSError):
        read(bus)
    direct = bus.attach(DEV, Echo(0x66))
    assert read(bus) == 0x66
    bus.detach(DEV, direct)
    with pytest.raises(OSError):
        read(bus)


def test_sim_bus_asks_a_switch_that_does_not_report_every_time(bus: SimI2CBus) -> None:
    switch = bus.attach(MUX, SilentSwitch())
    switch.selected = Echo(0x77)
    assert read(bus) == 0x77
    switch.selected = Echo(0x88)
    assert read(bus) == 0x88
    switch.selected = None
    with pytest.raises(OSError):
        read(bus)


def test_sim_bus_fan_out_is_counted_per_transaction_on_a_cached_route(bus: SimI2CBus) -> None:
    mux = bus.attach(MUX, SimTCA9548A())
    a, b = mux.attach(0, DEV, Echo(0b1100)), mux.attach(1, DEV, Echo(0b1010))
    bus.writeto(MUX, b"\x03")
    for _ in range(3):
        assert read(bus) == 0b1000  # wired-AND
        bus.writeto(DEV, b"\x00")
    assert (mux.collisions, mux.broadcasts, bus.stats.collisions) == (3, 3, 3)
    assert a.writes == b.writes == 3


def test_sim_bus_mux_on_one_bus_leaves_another_bus_routes_alone() -> None:
    clock = SimClock()
    glove, station = SimI2CBus(clock, name="glove"), SimI2CBus(clock, name="station")
    mux = glove.attach(MUX, SimTCA9548A())
    mux.attach(0, DEV, Echo(0x01))
    adc = station.attach(0x48, Echo(0x02))
    assert read(station, 0x48) == 0x02
    glove.writeto(MUX, b"\x01")
    assert read(glove) == 0x01 and read(station, 0x48) == 0x02
    adc.unplug()
    with pytest.raises(OSError):
        read(station, 0x48)


class CountingMux(SimTCA9548A):
    """A TCA9548A that counts how often a bus asks it for routes."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def routes(self, address: int) -> list[SimChip]:
        self.asked += 1
        return super().routes(address)


def test_sim_bus_keeps_the_routes_of_a_selection_that_comes_back(bus: SimI2CBus) -> None:
    mux = bus.attach(MUX, CountingMux())
    mux.attach(0, DEV, Echo(0x11))
    mux.attach(1, DEV, Echo(0x22))
    one, two = (b"\x01", 0x11), (b"\x02", 0x22)
    for select, reply in (one, two, one):
        bus.writeto(MUX, select)
        assert read(bus) == reply
    assert mux.asked > 0
    mux.asked = 0
    for select, reply in (two, one, two):
        bus.writeto(MUX, select)  # a selection seen before: its routes are kept
        assert read(bus) == reply
    assert mux.asked == 0
    mux.attach(2, DEV, Echo(0x33))  # wiring changed: every kept route is void
    bus.writeto(MUX, b"\x04")
    assert read(bus) == 0x33 and mux.asked > 0


class ReportingSwitch(SilentSwitch):
    """A switch that reports its changes (its routes may be cached) but cannot describe its
    state: a bus must not take up the routes of an earlier selection for it."""

    def __init__(self) -> None:
        super().__init__()
        self.parents: list[SimI2CBus] = []

    def wired_to(self, parent: object) -> None:
        self.parents.append(parent)  # type: ignore[arg-type]

    def routes_cacheable(self) -> bool:
        return True

    def select(self, chip: SimChip | None) -> None:
        self.selected = chip
        for parent in self.parents:
            parent.routing_changed()


def test_sim_bus_does_not_reuse_routes_of_a_switch_that_cannot_say_its_state(
    bus: SimI2CBus,
) -> None:
    switch = bus.attach(MUX, ReportingSwitch())
    first, second = Echo(0x77), Echo(0x88)
    switch.select(first)
    assert read(bus) == 0x77
    switch.select(second)
    assert read(bus) == 0x88
    switch.select(first)
    assert read(bus) == 0x77
    switch.select(None)
    with pytest.raises(OSError):
        read(bus)
