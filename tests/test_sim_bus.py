"""The simulated I2C bus: routing, NACK errno, wire-time arithmetic, log, faults."""

from __future__ import annotations

import errno

import pytest

from drivers.sim.bus import SimI2CBus, transaction_bits
from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock


class RegChip(SimChip):
    """A minimal register file: write [reg, data...] sets, read returns from the pointer."""

    part = "REG"

    def __init__(self, size: int = 16) -> None:
        super().__init__()
        self.regs = bytearray(range(size))
        self.ptr = 0
        self.stops = 0

    def write(self, data: bytes) -> None:
        if data:
            self.ptr = data[0]
            for i, b in enumerate(data[1:]):
                self.regs[(self.ptr + i) % len(self.regs)] = b

    def read(self, n: int) -> bytes:
        out = bytes(self.regs[(self.ptr + i) % len(self.regs)] for i in range(n))
        self.ptr = (self.ptr + n) % len(self.regs)
        return out

    def stop(self) -> None:
        self.stops += 1


class Switch(SimChip):
    """A one-register switch: the mask written takes effect at STOP (TCA9548A style)."""

    def __init__(self) -> None:
        super().__init__()
        self.mask = 0
        self._pending: int | None = None
        self.channels: dict[int, dict[int, SimChip]] = {}

    def write(self, data: bytes) -> None:
        if data:
            self._pending = data[-1]

    def read(self, n: int) -> bytes:
        return bytes([self.mask]) * n

    def stop(self) -> None:
        if self._pending is not None:
            self.mask, self._pending = self._pending, None

    def routes(self, address: int) -> list[SimChip]:
        return [
            chips[address]
            for ch, chips in sorted(self.channels.items())
            if self.mask & (1 << ch) and address in chips
        ]


@pytest.fixture
def bus() -> SimI2CBus:
    return SimI2CBus(SimClock(), speed_hz=400_000, name="test-bus")


def test_bus_routes_by_address(bus: SimI2CBus) -> None:
    a, b = RegChip(), RegChip()
    b.regs[3] = 0xAB
    bus.attach(0x48, a)
    bus.attach(0x49, b)
    buf = bytearray(1)
    bus.readfrom_mem_into(0x49, 3, buf)
    assert buf == b"\xab"
    bus.writeto_mem(0x48, 2, b"\x55\x66")
    assert a.regs[2:4] == b"\x55\x66"
    assert b.regs[2] == 2
    assert bus.scan() == [0x48, 0x49]


def test_bus_absent_address_raises_121_remote_io_error(bus: SimI2CBus) -> None:
    with pytest.raises(OSError) as info:
        bus.writeto(0x50, b"\x00")
    assert info.value.errno == errno.EREMOTEIO == 121
    assert "Remote I/O error" in str(info.value)
    assert bus.log[-1].error == 121
    assert bus.stats.errors == 1


def test_bus_nack_errno_is_configurable() -> None:
    bus = SimI2CBus(SimClock(), nack_errno=errno.ENXIO)
    with pytest.raises(OSError) as info:
        bus.writeto(0x50, b"")
    assert info.value.errno == 6


def test_bus_wire_time_matches_hand_computed_figures(bus: SimI2CBus) -> None:
    bus.attach(0x48, RegChip())
    clock = bus.clock
    # ADS1115 config write: START + (addr, ptr, MSB, LSB) * 9 + STOP = 38 bits -> 95 us at 400k
    bus.writeto(0x48, b"\x01\xc3\xe3")
    assert bus.log[-1].bits == 38
    assert bus.log[-1].wire_s == pytest.approx(95e-6)
    # read with pointer write: S + 2*9 + Sr + 3*9 + P = 48 bits -> 120 us
    bus.readfrom_mem_into(0x48, 0, bytearray(2))
    assert bus.log[-1].bits == 48
    assert bus.log[-1].wire_s == pytest.approx(120e-6)
    # read with the pointer already set: S + 3*9 + P = 29 bits -> 72.5 us
    bus.readfrom_into(0x48, bytearray(2))
    assert bus.log[-1].bits == 29
    # LSM6DSOX 12-byte read with register write: 138 bits (HARDWARE.md 4.1)
    bus.readfrom_mem_into(0x48, 0x22, bytearray(12))
    assert bus.log[-1].bits == 138
    assert bus.stats.bits == 38 + 48 + 29 + 138
    assert clock.now() == pytest.approx((38 + 48 + 29 + 138) / 400_000)


def test_transaction_bits_at_100k_match_the_budget_table() -> None:
    # TCA9548A select 20 bits = 200 us; PCF8574 one byte 20 bits; DRV2605L write 29 bits.
    assert transaction_bits([1]) == 20
    assert transaction_bits([2]) == 29
    assert transaction_bits([1, 14]) == 156  # MPU-6050 14-byte read


def test_bus_keeps_a_bounded_log() -> None:
    bus = SimI2CBus(SimClock(), log_size=5)
    bus.attach(0x20, RegChip())
    for i in range(12):
        bus.writeto(0x20, bytes([i]))
    assert len(bus.log) == 5
    assert [t.segments[0].data for t in bus.log] == [bytes([i]) for i in range(7, 12)]
    assert bus.stats.transactions == 12


def test_bus_read_not_last_is_rejected_like_bcm2835(bus: SimI2CBus) -> None:
    bus.attach(0x48, RegChip())
    with pytest.raises(OSError) as info:
        bus.transfer([(0x48, "R", 1), (0x48, "W", b"\x00")])
    assert info.value.errno == errno.EOPNOTSUPP


def test_bus_routes_through_a_switch_after_stop(bus: SimI2CBus) -> None:
    sw = Switch()
    dev = RegChip()
    dev.regs[0] = 0x77
    sw.channels[2] = {0x5A: dev}
    bus.attach(0x70, sw)
    # Select and access in one combined transfer: the new selection is not active yet.
    with pytest.raises(OSError) as info:
        bus.transfer([(0x70, "W", b"\x04"), (0x5A, "R", 1)])
    assert info.value.errno == 121
    # After the STOP the channel is enabled.
    assert bus.transfer([(0x5A, "W", b"\x00"), (0x5A, "R", 1)]) == [b"\x77"]


def test_bus_same_address_on_two_channels_collides(bus: SimI2CBus) -> None:
    sw = Switch()
    a, b = RegChip(), RegChip()
    a.regs[0], b.regs[0] = 0b1100, 0b1010
    sw.channels = {0: {0x5A: a}, 1: {0x5A: b}}
    bus.attach(0x70, sw)
    bus.writeto(0x70, b"\x03")
    bus.writeto_mem(0x5A, 5, b"\x99")  # broadcast write reaches both
    assert a.regs[5] == b.regs[5] == 0x99
    buf = bytearray(1)
    bus.readfrom_mem_into(0x5A, 0, buf)
    assert buf[0] == 0b1000  # wired-AND of the two replies
    assert bus.stats.collisions == 1


@pytest.mark.parametrize("code", [errno.EIO, errno.ETIMEDOUT])
def test_bus_fail_nth_raises_on_exactly_that_transaction(bus: SimI2CBus, code: int) -> None:
    bus.attach(0x48, RegChip())
    bus.fail_nth(3, errno=code)
    bus.writeto(0x48, b"\x00")
    bus.writeto(0x48, b"\x00")
    with pytest.raises(OSError) as info:
        bus.writeto(0x48, b"\x00")
    assert info.value.errno == code
    bus.writeto(0x48, b"\x00")  # one-shot
    assert bus.stats.errors_by_errno == {code: 1}


def test_bus_nack_fault_on_one_address_only(bus: SimI2CBus) -> None:
    bus.attach(0x48, RegChip())
    bus.attach(0x49, RegChip())
    bus.nack(0x49, times=2)
    bus.writeto(0x48, b"\x00")
    for _ in range(2):
        with pytest.raises(OSError) as info:
            bus.writeto(0x49, b"\x00")
        assert info.value.errno == 121
    bus.writeto(0x49, b"\x00")
    assert bus.faults_fired() == 2


def test_bus_random_faults_are_seeded_and_reproducible() -> None:
    def run(seed: int) -> list[int]:
        bus = SimI2CBus(SimClock())
        bus.attach(0x48, RegChip())
        bus.fail_randomly(0.3, errno=errno.EIO, seed=seed)
        failed = []
        for i in range(200):
            try:
                bus.writeto(0x48, b"\x00")
            except OSError as exc:
                assert exc.errno == errno.EIO
                failed.append(i)
        return failed

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    assert 30 < len(first) < 90  # about 30 % of 200


def test_bus_device_detached_and_reattached(bus: SimI2CBus) -> None:
    chip = RegChip()
    bus.attach(0x48, chip)
    chip.unplug()
    with pytest.raises(OSError) as info:
        bus.writeto(0x48, b"\x00")
    assert info.value.errno == 121
    chip.plug()
    bus.writeto(0x48, b"\x05\x01")
    assert chip.regs[5] == 1
    bus.detach(0x48)
    assert bus.scan() == []
    bus.attach(0x48, chip)
    assert bus.scan() == [0x48]


def test_bus_stop_reaches_every_chip_addressed(bus: SimI2CBus) -> None:
    a = RegChip()
    bus.attach(0x48, a)
    bus.readfrom_mem_into(0x48, 0, bytearray(2))
    assert a.stops == 1
    with pytest.raises(OSError):
        bus.transfer([(0x48, "W", b"\x00"), (0x50, "R", 1)])
    assert a.stops == 2  # STOP still ends the failed transaction


def test_bus_rejects_bad_addresses(bus: SimI2CBus) -> None:
    with pytest.raises(ValueError, match="7-bit"):
        bus.attach(0x80, RegChip())
