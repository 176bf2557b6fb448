"""The TCA9548A driver and its channel buses against the simulated switch."""

from __future__ import annotations

import errno

import pytest

from drivers.bus import DeviceNotFound
from drivers.drv2605l import DRV2605L
from drivers.sim.bus import Segment, SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.tca9548a import SimTCA9548A
from drivers.tca9548a import TCA9548A

MUX = 0x70
DEV = 0x5A


class Register(SimChip):
    """A one-register device: a write sets it (last byte), a read returns it."""

    def __init__(self, value: int = 0x00) -> None:
        super().__init__()
        self.value = value
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        if data:
            self.value = data[-1]

    def read(self, n: int) -> bytes:
        return bytes([self.value]) * n


class Fixed(SimChip):
    """Answers every read with ``value`` whatever was written (a switch held in reset, or
    another part)."""

    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value

    def read(self, n: int) -> bytes:
        return bytes([self.value]) * n


@pytest.fixture
def sim(bus: SimI2CBus) -> SimTCA9548A:
    m = SimTCA9548A()
    bus.attach(MUX, m)
    return m


@pytest.fixture
def devs(sim: SimTCA9548A) -> list[Register]:
    return [sim.attach(ch, DEV, Register()) for ch in range(4)]


@pytest.fixture
def mux(bus: SimI2CBus, sim: SimTCA9548A) -> TCA9548A:
    m = TCA9548A(bus)
    m.init()
    bus.reset_stats()
    return m


def W(addr: int, *data: int) -> tuple[Segment, ...]:
    return (Segment(addr, "W", bytes(data)),)


def R(addr: int, *data: int) -> tuple[Segment, ...]:
    return (Segment(addr, "R", bytes(data)),)


def wire(bus: SimI2CBus) -> list[tuple[Segment, ...]]:
    return [t.segments for t in bus.log]


def test_tca9548a_init_writes_zero_and_reads_back(bus: SimI2CBus, sim: SimTCA9548A) -> None:
    sim.register = 0x0F
    TCA9548A(bus).init()
    assert wire(bus) == [W(MUX, 0x00), R(MUX, 0x00)]
    assert [t.bits for t in bus.log] == [20, 20]
    assert sim.register == 0x00


def test_tca9548a_absent_at_init_raises_121(bus: SimI2CBus) -> None:
    with pytest.raises(OSError) as exc:
        TCA9548A(bus, address=0x71).init()
    assert exc.value.errno == errno.EREMOTEIO


def test_tca9548a_init_other_device_raises_device_not_found(bus: SimI2CBus) -> None:
    bus.attach(MUX, Fixed(0x11))  # e.g. a PCA9685 answering its ALL_CALL address
    with pytest.raises(DeviceNotFound) as exc:
        TCA9548A(bus).init()
    assert (exc.value.expected, exc.value.found) == (0x00, 0x11)
    assert "PCA9685" in str(exc.value)


def test_tca9548a_select_writes_only_on_change(bus: SimI2CBus, mux: TCA9548A) -> None:
    mux.select(2)
    mux.select(2)
    mux.select([0, 3])
    mux.select((3, 0))
    assert wire(bus) == [W(MUX, 0x04), R(MUX, 0x04), W(MUX, 0x09), R(MUX, 0x09)]


def test_tca9548a_selected_reads_the_chip(bus: SimI2CBus, sim: SimTCA9548A, mux: TCA9548A) -> None:
    sim.register = 0x30
    assert mux.selected() == 0x30
    assert wire(bus) == [R(MUX, 0x30)]


def test_tca9548a_select_rejects_bad_channels(bus: SimI2CBus, mux: TCA9548A) -> None:
    for bad in (8, -1, [1, 9], ["2"]):
        with pytest.raises(ValueError, match=r"0\.\.7"):
            mux.select(bad)
    with pytest.raises(ValueError, match=r"0\.\.7"):
        mux.channel(8)
    assert len(bus.log) == 0


def test_tca9548a_select_not_held_raises_and_forgets_cache(bus: SimI2CBus) -> None:
    bus.attach(MUX, Fixed(0x00))  # a switch held in reset: ACKs, always reads 0x00
    mux = TCA9548A(bus)
    mux.init()  # 0x00 reads back 0x00: indistinguishable so far
    with pytest.raises(DeviceNotFound) as exc:
        mux.select(2)
    assert (exc.value.expected, exc.value.found) == (0x04, 0x00)
    assert "RESET" in str(exc.value)
    bus.reset_stats()
    with pytest.raises(DeviceNotFound):
        mux.select(2)
    assert wire(bus) == [W(MUX, 0x04), R(MUX, 0x00)]  # written again, not trusted


def test_tca9548a_selection_not_held_through_a_channel_is_a_bus_error(
    bus: SimI2CBus, devs: list[Register], mux: TCA9548A
) -> None:
    """Through a channel the mismatch is an OSError (EIO), which the drivers' stop and close
    paths handle; it names the channel and what to check, and nothing reaches the device."""
    bus.attach(MUX, Fixed(0x00))  # a second part answering 0x70: the read-back is ANDed
    with pytest.raises(OSError) as exc:
        mux.channel(2).writeto(DEV, b"\x07")
    assert exc.value.errno == errno.EIO
    assert "station/mux0x70/ch2" in str(exc.value) and "RESET" in str(exc.value)
    assert devs[2].writes == []
    bus.detach(MUX, bus.chips_at(MUX)[1])  # the other part is gone: the channel works again
    mux.channel(2).writeto(DEV, b"\x07")
    assert devs[2].writes == [b"\x07"]


def test_tca9548a_channel_selects_once_then_passes_through(
    bus: SimI2CBus, devs: list[Register], mux: TCA9548A
) -> None:
    ch2 = mux.channel(2)
    ch2.writeto_mem(DEV, 0x01, b"\x05")
    buf = bytearray(1)
    ch2.readfrom_mem_into(DEV, 0x01, buf)
    ch2.writeto(DEV, b"\x07")
    ch2.readfrom_into(DEV, buf)
    assert buf == b"\x07"
    assert wire(bus) == [
        W(MUX, 0x04),
        R(MUX, 0x04),
        W(DEV, 0x01, 0x05),
        (Segment(DEV, "W", b"\x01"), Segment(DEV, "R", b"\x01")),  # last byte wins
        W(DEV, 0x07),
        R(DEV, 0x07),
    ]
    assert devs[2].writes == [b"\x01\x05", b"\x01", b"\x07"]
    assert devs[0].writes == devs[1].writes == devs[3].writes == []


def test_tca9548a_channels_alternate_with_one_select_each(
    bus: SimI2CBus, devs: list[Register], mux: TCA9548A
) -> None:
    for n in (0, 1, 0):
        mux.channel(n).writeto(DEV, bytes([n + 1]))
    assert [d.writes for d in devs[:2]] == [[b"\x01", b"\x01"], [b"\x02"]]
    assert sum(1 for t in bus.log if t.segments[0].address == MUX) == 6  # 3 x (write + read)


def test_tca9548a_channel_name_reaches_device_not_found(
    bus: SimI2CBus, sim: SimTCA9548A, mux: TCA9548A
) -> None:
    sim.attach(2, DEV, Fixed(0x00))  # something that is not a DRV2605L (DEVICE_ID 0)
    ch2 = mux.channel(2)
    assert ch2.name == "station/mux0x70/ch2"
    with pytest.raises(DeviceNotFound) as exc:
        DRV2605L(ch2, clock=bus.clock).init()
    assert "station/mux0x70/ch2" in str(exc.value)


def test_tca9548a_broadcast_channels_write_all_and_refuse_reads(
    bus: SimI2CBus, sim: SimTCA9548A, devs: list[Register], mux: TCA9548A
) -> None:
    group = mux.channels([0, 1, 2, 3])
    assert group.name == "station/mux0x70/ch0+1+2+3"
    group.writeto_mem(DEV, 0x02, b"\x00")
    assert [d.writes for d in devs] == [[b"\x02\x00"]] * 4
    assert wire(bus) == [W(MUX, 0x0F), R(MUX, 0x0F), W(DEV, 0x02, 0x00)]
    buf = bytearray(1)
    with pytest.raises(ValueError, match="wired-AND"):
        group.readfrom_into(DEV, buf)
    with pytest.raises(ValueError, match="wired-AND"):
        group.readfrom_mem_into(DEV, 0x00, buf)
    assert len(bus.log) == 3
    assert sim.collisions == 0 and bus.stats.collisions == 0
    with pytest.raises(ValueError, match="at least one"):
        mux.channels([])


def test_tca9548a_scan_through_channel(bus: SimI2CBus, sim: SimTCA9548A, mux: TCA9548A) -> None:
    sim.attach(1, 0x6A, Register())
    sim.attach(1, 0x6B, Register())
    sim.attach(2, 0x5A, Register())
    assert mux.channel(1).scan() == [0x6A, 0x6B, MUX]
    assert mux.channel(2).scan() == [0x5A, MUX]


def test_tca9548a_eio_mid_read_forgets_selection_and_reselects(
    bus: SimI2CBus, devs: list[Register], mux: TCA9548A
) -> None:
    ch1 = mux.channel(1)
    ch1.writeto(DEV, b"\x42")
    bus.fail_nth(1, errno.EIO)
    buf = bytearray(1)
    with pytest.raises(OSError) as exc:
        ch1.readfrom_into(DEV, buf)
    assert exc.value.errno == errno.EIO
    bus.reset_stats()
    ch1.readfrom_into(DEV, buf)
    assert buf == b"\x42"
    assert wire(bus) == [W(MUX, 0x02), R(MUX, 0x02), R(DEV, 0x42)]


def test_tca9548a_eio_during_select_propagates(bus: SimI2CBus, mux: TCA9548A) -> None:
    bus.fail_nth(2, errno.EIO)  # the read-back
    with pytest.raises(OSError) as exc:
        mux.select(5)
    assert exc.value.errno == errno.EIO
    bus.reset_stats()
    mux.select(5)
    assert wire(bus) == [W(MUX, 0x20), R(MUX, 0x20)]


def test_tca9548a_switch_reset_recovers_on_next_call(
    bus: SimI2CBus, sim: SimTCA9548A, devs: list[Register], mux: TCA9548A
) -> None:
    ch3 = mux.channel(3)
    ch3.writeto(DEV, b"\x01")
    sim.reset()  # power glitch or RESET pulse: back to no channel
    with pytest.raises(OSError) as exc:
        ch3.writeto(DEV, b"\x02")
    assert exc.value.errno == errno.EREMOTEIO
    ch3.writeto(DEV, b"\x03")
    assert devs[3].writes == [b"\x01", b"\x03"]


def test_tca9548a_unplugged_switch_then_plugged_back(
    bus: SimI2CBus, sim: SimTCA9548A, devs: list[Register], mux: TCA9548A
) -> None:
    ch0 = mux.channel(0)
    sim.unplug()
    with pytest.raises(OSError) as exc:
        ch0.writeto(DEV, b"\x01")
    assert exc.value.errno == errno.EREMOTEIO
    sim.plug()
    ch0.writeto(DEV, b"\x02")
    assert devs[0].writes == [b"\x02"]


def test_tca9548a_device_behind_mux_unplugged_then_plugged_back(
    bus: SimI2CBus, devs: list[Register], mux: TCA9548A
) -> None:
    ch2 = mux.channel(2)
    ch2.writeto(DEV, b"\x01")
    devs[2].unplug()
    with pytest.raises(OSError) as exc:
        ch2.writeto(DEV, b"\x02")
    assert exc.value.errno == errno.EREMOTEIO
    devs[2].plug()
    ch2.writeto(DEV, b"\x03")
    assert devs[2].writes == [b"\x01", b"\x03"]


def test_tca9548a_disable_all_always_writes(
    bus: SimI2CBus, sim: SimTCA9548A, mux: TCA9548A
) -> None:
    mux.disable_all()
    mux.disable_all()
    assert wire(bus) == [W(MUX, 0x00), R(MUX, 0x00)] * 2


def test_tca9548a_close_disables_and_never_raises(
    bus: SimI2CBus, sim: SimTCA9548A, mux: TCA9548A
) -> None:
    mux.select([1, 2])
    mux.close()
    assert sim.register == 0x00 and mux.close_error is None
    mux.select(1)
    sim.unplug()
    mux.close()
    assert isinstance(mux.close_error, OSError)
    sim.plug()
    mux.close()
    assert mux.close_error is None and sim.register == 0x00


class CountingLock:
    def __init__(self) -> None:
        self.entered = 0
        self.depth = 0

    def __enter__(self) -> CountingLock:
        self.entered += 1
        self.depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1


def test_tca9548a_lock_wraps_select_and_access(
    bus: SimI2CBus, devs: list[Register], sim: SimTCA9548A
) -> None:
    lock = CountingLock()
    mux = TCA9548A(bus, lock=lock)
    mux.channel(1).writeto(DEV, b"\x01")
    mux.select(2)
    assert lock.entered == 2 and lock.depth == 0


def test_tca9548a_rejects_bad_address(bus: SimI2CBus) -> None:
    with pytest.raises(ValueError, match=r"0x70\.\.0x77"):
        TCA9548A(bus, address=0x48)
