"""The ADS1115 driver against the simulated chip: byte-exact transactions and injected faults."""

from __future__ import annotations

import errno

import pytest

from drivers.ads1115 import ADS1115
from drivers.bus import DeviceNotFound
from drivers.sim.ads1115 import SimADS1115
from drivers.sim.bus import Segment, SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock

ADDR = 0x48


@pytest.fixture
def chip(clock: SimClock, bus: SimI2CBus) -> SimADS1115:
    sim = SimADS1115(clock, bus_hz=400_000)
    for ch, volts in enumerate((0.5, 1.0, 1.5, 2.0)):
        sim.set_input(ch, volts)
    bus.attach(ADDR, sim)
    return sim


@pytest.fixture
def adc(clock: SimClock, bus: SimI2CBus, chip: SimADS1115) -> ADS1115:
    a = ADS1115(bus, clock=clock)
    a.init()
    bus.reset_stats()
    return a


def W(*data: int) -> tuple[Segment, ...]:
    return (Segment(ADDR, "W", bytes(data)),)


def R(*data: int) -> tuple[Segment, ...]:
    return (Segment(ADDR, "R", bytes(data)),)


def RP(reg: int, *data: int) -> tuple[Segment, ...]:
    """A register read with the pointer write: W ptr, repeated START, R data."""
    return (Segment(ADDR, "W", bytes([reg])), Segment(ADDR, "R", bytes(data)))


def wire(bus: SimI2CBus) -> list[tuple[Segment, ...]]:
    return [t.segments for t in bus.log]


def test_ads1115_init_writes_config_and_reads_it_back(
    clock: SimClock, bus: SimI2CBus, chip: SimADS1115
) -> None:
    ADS1115(bus, clock=clock).init()
    # 0x43C3: OS=0, AIN0-GND, ±4.096 V, single-shot, 475 SPS, comparator off; the read needs
    # no pointer write (the write left it on config) and returns OS=1 (idle).
    assert wire(bus) == [W(0x01, 0x43, 0xC3), R(0xC3, 0xC3)]
    assert chip.conversions == 0


def test_ads1115_start_single_ain0_and_ain2_bytes(bus: SimI2CBus, adc: ADS1115) -> None:
    adc.start_single(0)
    adc.start_single(2)  # ignored by the chip (converting), but the bytes are what matter
    # OS=1 | MUX 100 (AIN0) or 110 (AIN2) | PGA 001 | MODE 1 | DR 110 | COMP_QUE 11
    assert wire(bus) == [W(0x01, 0xC3, 0xC3), W(0x01, 0xE3, 0xC3)]
    assert bus.log[0].bits == 38


def test_ads1115_config_word_follows_pga_and_data_rate(
    clock: SimClock, bus: SimI2CBus, chip: SimADS1115
) -> None:
    adc = ADS1115(bus, clock=clock, pga_v=2.048, data_rate_sps=860)
    adc.start_single(3)
    assert wire(bus) == [W(0x01, 0xF5, 0xE3)]  # AIN3, ±2.048 V, 860 SPS


def test_ads1115_read_single_transactions_and_value(
    bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    counts = adc.read_single(2)
    assert counts == 12000  # 1.5 V / 125 uV
    assert adc.counts_to_volts(counts) == pytest.approx(1.5)
    assert wire(bus) == [
        W(0x01, 0xE3, 0xC3),  # start AIN2
        R(0xE3, 0xC3),  # OS = 1 after the 1.1/DR sleep: pointer still on config
        RP(0x00, 0x2E, 0xE0),  # conversion register, pointer moved to 0
    ]
    assert [t.bits for t in bus.log] == [38, 29, 48]


def test_ads1115_read_raw_skips_pointer_write_when_already_on_conversion(
    bus: SimI2CBus, adc: ADS1115
) -> None:
    adc.read_single(1)
    bus.reset_stats()
    assert adc.read_raw() == 8000
    assert adc.read_raw() == 8000
    assert wire(bus) == [R(0x1F, 0x40), R(0x1F, 0x40)]
    assert bus.log[0].bits == 29


def test_ads1115_read_single_sleeps_the_margin_on_the_clock(
    clock: SimClock, bus: SimI2CBus, adc: ADS1115
) -> None:
    assert adc.conversion_time_s() == pytest.approx(1.1 / 475)
    t0 = clock.now()
    adc.read_single(0)
    assert clock.now() - t0 == pytest.approx(1.1 / 475 + bus.stats.wire_s)


def test_ads1115_negative_counts_are_signed(bus: SimI2CBus, chip: SimADS1115) -> None:
    chip.set_input(0, 0.0)
    chip.set_input(1, 1.0)
    bus.writeto(ADDR, bytes([0x01, 0x83, 0xC3]))  # AIN0 - AIN1, start
    bus.clock.sleep(0.01)
    adc = ADS1115(bus, clock=bus.clock)
    assert adc.read_raw() == -8000


def test_ads1115_slow_oscillator_is_polled_until_done(
    clock: SimClock, bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    chip.oscillator_factor = 1.3  # outside the ±10 % budget
    assert adc.read_single(0) == 4000
    kinds = [t.segments[-1].kind for t in bus.log]
    assert kinds[0] == "W" and kinds[-1] == "R"
    polls = len(bus.log) - 2
    assert 2 <= polls <= 3  # every DR/8 until done, not a busy loop
    assert chip.conversions == 1


def test_ads1115_stuck_conversion_times_out(
    clock: SimClock, bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    chip.stuck = True
    t0 = clock.now()
    with pytest.raises(OSError) as exc:
        adc.read_single(3, timeout_s=0.01)
    assert exc.value.errno == errno.ETIMEDOUT
    assert "AIN3" in str(exc.value)
    elapsed = clock.now() - t0
    assert 0.01 <= elapsed < 0.01 + 0.001
    assert len(bus.log) < 0.01 / (1.1 / 475 / 8) + 3  # bounded polling


def test_ads1115_stuck_then_recovers_on_next_call(chip: SimADS1115, adc: ADS1115) -> None:
    chip.stuck = True
    with pytest.raises(OSError):
        adc.read_single(0)
    chip.stuck = False
    assert adc.read_single(1) == 8000


def test_ads1115_absent_at_init_raises_121(clock: SimClock, bus: SimI2CBus) -> None:
    with pytest.raises(OSError) as exc:
        ADS1115(bus, address=0x49, clock=clock).init()
    assert exc.value.errno == errno.EREMOTEIO


class _RegisterFile(SimChip):
    """Something else at 0x48: a register-pointer chip whose config register has
    read-only bits (a TMP102-style temperature sensor)."""

    def __init__(self) -> None:
        super().__init__()
        self.regs = [0x0000, 0x60A0, 0x4B00, 0x5000]
        self.ptr = 0

    def write(self, data: bytes) -> None:
        if data:
            self.ptr = data[0] & 3
        if len(data) == 3 and self.ptr == 1:
            self.regs[1] = ((data[1] << 8) | data[2]) & 0x1FFF | 0x6000

    def read(self, n: int) -> bytes:
        v = self.regs[self.ptr]
        return bytes([v >> 8, v & 0xFF])[:n]


def test_ads1115_init_other_chip_raises_device_not_found(clock: SimClock, bus: SimI2CBus) -> None:
    bus.attach(ADDR, _RegisterFile())
    with pytest.raises(DeviceNotFound) as exc:
        ADS1115(bus, clock=clock).init()
    assert exc.value.found == 0x63C3
    assert exc.value.expected == 0xC3C3
    assert "station" in str(exc.value) and "ADDR pin" in str(exc.value)


def test_ads1115_init_silent_chip_raises_device_not_found(clock: SimClock, bus: SimI2CBus) -> None:
    bus.attach(ADDR, SimChip())  # ACKs but drives nothing: reads 0xFF
    with pytest.raises(DeviceNotFound) as exc:
        ADS1115(bus, clock=clock).init()
    assert exc.value.found == 0xFFFF


def test_ads1115_eio_mid_read_propagates_and_next_read_rewrites_pointer(
    bus: SimI2CBus, adc: ADS1115
) -> None:
    adc.read_single(0)
    bus.fail_nth(1, errno.EIO)  # the pointer-less conversion read
    with pytest.raises(OSError) as exc:
        adc.read_raw()
    assert exc.value.errno == errno.EIO
    bus.reset_stats()
    assert adc.read_raw() == 4000
    assert wire(bus) == [RP(0x00, 0x0F, 0xA0)]  # pointer state forgotten: written again


def test_ads1115_eio_during_os_check_propagates(bus: SimI2CBus, adc: ADS1115) -> None:
    bus.fail_nth(2, errno.EIO)
    with pytest.raises(OSError) as exc:
        adc.read_single(0)
    assert exc.value.errno == errno.EIO
    assert adc.read_single(0) == 4000


def test_ads1115_unplug_and_replug_recovers_on_next_call(
    bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    assert adc.read_single(1) == 8000
    chip.unplug()
    with pytest.raises(OSError) as exc:
        adc.read_single(1)
    assert exc.value.errno == errno.EREMOTEIO
    chip.power_cycle()  # lost power too: config back to 0x8583 (±2.048 V, 128 SPS)
    chip.plug()
    assert adc.read_single(1) == 8000  # the start rewrote PGA and DR


def test_ads1115_continuous_waits_two_conversions_after_switch(
    clock: SimClock, bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    adc.start_continuous(0)
    assert wire(bus) == [W(0x01, 0x42, 0xC3)]
    t0 = clock.now()
    assert adc.read_latest() == 4000
    assert clock.now() - t0 >= 2 * 1.1 / 475 - bus.log[0].wire_s
    adc.start_continuous(3)
    assert adc.read_latest() == 16000  # not the stale AIN0 result
    bus.reset_stats()
    t1 = clock.now()
    assert adc.read_latest() == 16000
    assert wire(bus) == [R(0x3E, 0x80)]  # no wait, no pointer write
    assert clock.now() - t1 == pytest.approx(bus.log[0].wire_s)


def test_ads1115_enable_ready_pin_sequence_and_pin(
    clock: SimClock, bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    adc.enable_ready_pin()
    assert wire(bus) == [W(0x02, 0x00, 0x00), W(0x03, 0x80, 0x00), W(0x01, 0x43, 0xC0)]
    adc.start_single(0)
    assert wire(bus)[-1] == W(0x01, 0xC3, 0xC0)  # COMP_QUE 00 kept by later starts
    assert chip.alert_pin() is True  # converting
    clock.sleep(adc.conversion_time_s())
    assert chip.alert_pin() is False  # done: active low


def test_ads1115_close_powers_down_and_disables_alert(
    clock: SimClock, bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    adc.enable_ready_pin()
    adc.start_continuous(0)
    bus.reset_stats()
    adc.close()
    adc.close()
    assert wire(bus) == [W(0x01, 0x43, 0xC3)] * 2
    assert adc.close_error is None
    clock.sleep(0.01)
    assert not chip.converting()
    assert chip.alert_pin() is True


def test_ads1115_close_never_raises_and_keeps_error(
    bus: SimI2CBus, chip: SimADS1115, adc: ADS1115
) -> None:
    chip.unplug()
    adc.close()
    assert isinstance(adc.close_error, OSError)
    assert adc.close_error.errno == errno.EREMOTEIO
    chip.plug()
    adc.close()
    assert adc.close_error is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"address": 0x50}, r"0x48\.\.0x4B"),
        ({"pga_v": 3.3}, "6.144, 4.096"),
        ({"data_rate_sps": 100}, "8, 16, 32"),
    ],
)
def test_ads1115_constructor_rejects_out_of_range(
    bus: SimI2CBus, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ADS1115(bus, **kwargs)


def test_ads1115_rejects_bad_channel_and_timeout(adc: ADS1115, bus: SimI2CBus) -> None:
    with pytest.raises(ValueError, match=r"AIN0\.\.AIN3"):
        adc.start_single(4)
    with pytest.raises(ValueError, match=r"AIN0\.\.AIN3"):
        adc.start_continuous(-1)
    with pytest.raises(ValueError, match="timeout_s"):
        adc.read_single(0, timeout_s=0)
    assert len(bus.log) == 0
