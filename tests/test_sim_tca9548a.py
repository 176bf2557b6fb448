"""The simulated TCA9548A against the datasheet facts of HARDWARE.md §8 and §12."""

from __future__ import annotations

import errno

import pytest

from drivers.sim.bus import SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.tca9548a import SimTCA9548A

MUX = 0x70
DEV = 0x5A


class Recorder(SimChip):
    """A downstream device that records what it is sent and answers with ``reply``."""

    def __init__(self, reply: int = 0xFF) -> None:
        super().__init__()
        self.reply = reply
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def read(self, n: int) -> bytes:
        return bytes([self.reply]) * n


@pytest.fixture
def mux(bus: SimI2CBus) -> SimTCA9548A:
    m = SimTCA9548A()
    bus.attach(MUX, m)
    return m


def read_mux(bus: SimI2CBus) -> int:
    buf = bytearray(1)
    bus.readfrom_into(MUX, buf)
    return buf[0]


def test_sim_tca9548a_power_up_no_channel(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    dev = mux.attach(0, DEV, Recorder())
    assert read_mux(bus) == 0x00
    assert mux.enabled == []
    with pytest.raises(OSError) as exc:
        bus.writeto(DEV, b"\x01")
    assert exc.value.errno == errno.EREMOTEIO
    assert dev.writes == []


def test_sim_tca9548a_read_returns_register_every_byte(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    bus.writeto(MUX, b"\xa5")
    buf = bytearray(3)
    bus.readfrom_into(MUX, buf)
    assert buf == b"\xa5\xa5\xa5"


def test_sim_tca9548a_last_byte_wins(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    bus.writeto(MUX, bytes([0x01, 0x80, 0x04]))
    assert read_mux(bus) == 0x04
    assert mux.enabled == [2]


def test_sim_tca9548a_probe_changes_nothing(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    bus.writeto(MUX, b"\x02")
    bus.writeto(MUX, b"")  # address-only probe, as scan() sends
    assert read_mux(bus) == 0x02


def test_sim_tca9548a_selection_takes_effect_after_stop(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    old = mux.attach(1, DEV, Recorder())
    new = mux.attach(2, DEV, Recorder())
    bus.writeto(MUX, b"\x02")  # channel 1
    # One combined transfer: select channel 2, repeated START, write the device.
    bus.transfer([(MUX, "W", b"\x04"), (DEV, "W", b"\x01\x05")])
    assert old.writes == [b"\x01\x05"]  # the old channel set still applied
    assert new.writes == []
    assert mux.register == 0x04  # effective from the STOP
    bus.writeto(DEV, b"\x01\x06")
    assert new.writes == [b"\x01\x06"]


def test_sim_tca9548a_select_in_combined_transfer_from_no_channel_nacks(
    bus: SimI2CBus, mux: SimTCA9548A
) -> None:
    dev = mux.attach(3, DEV, Recorder())
    with pytest.raises(OSError) as exc:
        bus.transfer([(MUX, "W", b"\x08"), (DEV, "W", b"\x00")])
    assert exc.value.errno == errno.EREMOTEIO
    assert mux.register == 0x08  # the STOP after the NACK still applied the selection
    bus.writeto(DEV, b"\x00")
    assert dev.writes == [b"\x00"]


def test_sim_tca9548a_broadcast_writes_reach_every_enabled_channel(
    bus: SimI2CBus, mux: SimTCA9548A
) -> None:
    chips = [mux.attach(ch, DEV, Recorder()) for ch in range(4)]
    bus.writeto(MUX, b"\x0b")  # channels 0, 1, 3
    bus.writeto(DEV, b"\x02\x7f")
    assert [c.writes for c in chips] == [[b"\x02\x7f"], [b"\x02\x7f"], [], [b"\x02\x7f"]]
    assert mux.broadcasts == 1
    assert mux.collisions == 0
    assert bus.stats.collisions == 0


def test_sim_tca9548a_reads_from_two_channels_are_wired_and_and_counted(
    bus: SimI2CBus, mux: SimTCA9548A
) -> None:
    mux.attach(0, DEV, Recorder(reply=0xE0))
    mux.attach(5, DEV, Recorder(reply=0x6F))
    bus.writeto(MUX, b"\x21")
    buf = bytearray(2)
    bus.readfrom_mem_into(DEV, 0x00, buf)
    assert buf == bytes([0x60, 0x60])
    assert bus.stats.collisions == 1
    assert mux.collisions == 1
    assert mux.broadcasts == 1  # the register-address write went to both


def test_sim_tca9548a_single_channel_read_is_not_a_collision(
    bus: SimI2CBus, mux: SimTCA9548A
) -> None:
    mux.attach(0, DEV, Recorder(reply=0xE0))
    mux.attach(5, DEV, Recorder(reply=0x6F))
    bus.writeto(MUX, b"\x20")
    buf = bytearray(1)
    bus.readfrom_into(DEV, buf)
    assert buf == b"\x6f"
    assert mux.collisions == 0 and bus.stats.collisions == 0


def test_sim_tca9548a_unplugged_device_behind_mux_nacks(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    dev = mux.attach(2, DEV, Recorder())
    bus.writeto(MUX, b"\x04")
    dev.unplug()
    with pytest.raises(OSError) as exc:
        bus.writeto(DEV, b"\x00")
    assert exc.value.errno == errno.EREMOTEIO
    assert DEV not in bus.scan()
    dev.plug()
    bus.writeto(DEV, b"\x00")
    assert dev.writes == [b"\x00"]


def test_sim_tca9548a_nested_mux_consults_present(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    inner = SimTCA9548A()
    mux.attach(7, 0x71, inner)
    dev = inner.attach(1, DEV, Recorder())
    bus.writeto(MUX, b"\x80")
    bus.writeto(0x71, b"\x02")
    bus.writeto(DEV, b"\x01")
    assert dev.writes == [b"\x01"]
    dev.unplug()
    with pytest.raises(OSError):
        bus.writeto(DEV, b"\x02")
    dev.plug()
    inner.unplug()  # the inner switch off the bus takes its channels with it
    with pytest.raises(OSError):
        bus.writeto(DEV, b"\x03")
    assert dev.writes == [b"\x01"]


def test_sim_tca9548a_unplugged_mux_nacks_and_keeps_register(
    bus: SimI2CBus, mux: SimTCA9548A
) -> None:
    mux.attach(0, DEV, Recorder())
    bus.writeto(MUX, b"\x01")
    mux.unplug()
    with pytest.raises(OSError):
        read_mux(bus)
    with pytest.raises(OSError):
        bus.writeto(DEV, b"\x00")  # nothing routes through an absent switch
    mux.plug()
    assert read_mux(bus) == 0x01


def test_sim_tca9548a_reset_disables_every_channel(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    bus.writeto(MUX, b"\xff")
    mux.reset()
    assert read_mux(bus) == 0x00


def test_sim_tca9548a_scan_sees_selected_channel_only(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    mux.attach(0, 0x5A, Recorder())
    mux.attach(1, 0x6A, Recorder())
    bus.writeto(MUX, b"\x02")
    assert bus.scan() == [0x6A, MUX]
    assert mux.register == 0x02


def test_sim_tca9548a_detach(bus: SimI2CBus, mux: SimTCA9548A) -> None:
    a = mux.attach(0, DEV, Recorder())
    mux.attach(0, 0x48, Recorder())
    mux.detach(0, DEV, a)
    assert [addr for addr, _ in mux.chips_on(0)] == [0x48]


def test_sim_tca9548a_attach_checks_channel_and_address(mux: SimTCA9548A) -> None:
    with pytest.raises(ValueError, match="channel must be"):
        mux.attach(8, DEV, Recorder())
    with pytest.raises(ValueError, match="7-bit"):
        mux.attach(0, 0x80, Recorder())
