"""The simulated ADS1115 against the datasheet facts of HARDWARE.md §5 and §12."""

from __future__ import annotations

import pytest

from drivers.sim.ads1115 import RDY_PULSE_S, SimADS1115
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock

ADDR = 0x48
# Config words: OS | MUX | PGA | MODE | DR | COMP_QUE
START_AIN0_4V_475 = 0xC3C3  # OS=1, AIN0-GND, ±4.096 V, single-shot, 475 SPS, comparator off


@pytest.fixture
def adc(clock: SimClock, bus: SimI2CBus) -> SimADS1115:
    chip = SimADS1115(clock)
    bus.attach(ADDR, chip)
    return chip


def write(bus: SimI2CBus, reg: int, value: int) -> None:
    bus.writeto(ADDR, bytes([reg, value >> 8, value & 0xFF]))


def read(bus: SimI2CBus, reg: int | None = None, n: int = 2) -> bytes:
    buf = bytearray(n)
    if reg is None:
        bus.readfrom_into(ADDR, buf)
    else:
        bus.readfrom_mem_into(ADDR, reg, buf)
    return bytes(buf)


def word(data: bytes) -> int:
    return (data[0] << 8) | data[1]


def signed(data: bytes) -> int:
    value = word(data)
    return value - 0x10000 if value & 0x8000 else value


def convert(bus: SimI2CBus, clock: SimClock, config: int, dr_sps: int = 475) -> int:
    write(bus, 1, config)
    clock.sleep(1.0 / dr_sps)
    return signed(read(bus, 0))


def test_sim_ads1115_reset_values(bus: SimI2CBus, adc: SimADS1115) -> None:
    assert word(read(bus, 0)) == 0x0000
    assert word(read(bus, 1)) == 0x8583
    assert word(read(bus, 2)) == 0x8000
    assert word(read(bus, 3)) == 0x7FFF
    assert adc.conversions == 0


def test_sim_ads1115_pointer_selects_register_for_later_reads(
    bus: SimI2CBus, adc: SimADS1115
) -> None:
    bus.writeto(ADDR, bytes([0x03]))  # pointer only
    assert word(read(bus)) == 0x7FFF
    assert word(read(bus)) == 0x7FFF  # repeated reads need no new pointer write
    write(bus, 2, 0x1234)
    assert adc.pointer == 2
    assert word(read(bus)) == 0x1234


def test_sim_ads1115_conversion_register_ignores_writes(bus: SimI2CBus, adc: SimADS1115) -> None:
    write(bus, 0, 0x5555)
    assert word(read(bus, 0)) == 0x0000
    assert adc.flags["conversion_write"] == 1


def test_sim_ads1115_long_read_repeats_register_and_is_flagged(
    bus: SimI2CBus, adc: SimADS1115
) -> None:
    assert read(bus, 1, n=4) == bytes([0x85, 0x83, 0x85, 0x83])
    assert adc.flags["long_read"] == 1
    read(bus, 1)
    assert adc.flags["long_read"] == 1


def test_sim_ads1115_malformed_writes_are_flagged(bus: SimI2CBus, adc: SimADS1115) -> None:
    bus.writeto(ADDR, bytes([0x02, 0x12]))
    assert adc.flags["short_write"] == 1
    assert adc.thresholds == (0x8000, 0x7FFF)
    bus.writeto(ADDR, bytes([0x02, 0x12, 0x34, 0x56]))
    assert adc.flags["long_write"] == 1


def test_sim_ads1115_os_low_while_converting_for_one_over_dr(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    adc.set_input(0, 1.0)
    write(bus, 1, START_AIN0_4V_475)
    t_start = clock.now() - bus.log[-1].wire_s  # the chip saw the write at its START
    assert word(read(bus, 1)) == 0x43C3  # OS = 0: converting
    clock.run_until(t_start + 1 / 475 - 300e-6)  # the two reads below take 192 us of wire
    assert word(read(bus)) & 0x8000 == 0
    assert word(read(bus, 0)) == 0x0000  # no result yet
    clock.run_until(t_start + 1 / 475)
    assert word(read(bus, 1)) == 0xC3C3  # OS = 1: idle again
    assert signed(read(bus, 0)) == 8000  # 1.0 V / 125 uV
    assert adc.conversions == 1


def test_sim_ads1115_bus_hz_starts_conversion_at_config_latch(
    clock: SimClock, bus: SimI2CBus
) -> None:
    adc = SimADS1115(clock, bus_hz=400_000)
    bus.attach(ADDR, adc)
    write(bus, 1, START_AIN0_4V_475)
    t_start = clock.now() - bus.log[-1].wire_s
    latch_s = 37 / 400_000
    clock.run_until(t_start + latch_s + 1 / 475 - 1e-6)
    assert adc.converting()
    clock.run_until(t_start + latch_s + 1 / 475)
    assert not adc.converting()


def test_sim_ads1115_oscillator_factor_scales_conversion_time(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    adc.oscillator_factor = 1.1
    write(bus, 1, START_AIN0_4V_475)
    t_start = clock.now() - bus.log[-1].wire_s
    clock.run_until(t_start + 1.05 / 475)
    assert adc.converting()
    clock.run_until(t_start + 1.1 / 475)
    assert not adc.converting()


def test_sim_ads1115_os_write_while_converting_is_ignored(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 1, START_AIN0_4V_475)
    t_start = clock.now() - bus.log[-1].wire_s
    clock.sleep(0.5 / 475)
    write(bus, 1, START_AIN0_4V_475)  # would restart the conversion if it were honoured
    clock.run_until(t_start + 1 / 475)
    assert not adc.converting()
    assert adc.conversions == 1
    assert adc.flags["os_while_converting"] == 1


def test_sim_ads1115_os_zero_write_does_not_start(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 1, 0x43C3)
    assert not adc.converting()
    clock.sleep(0.01)
    assert adc.conversions == 0
    assert word(read(bus, 1)) == 0xC3C3


def test_sim_ads1115_input_sampled_at_end_of_conversion(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    seen: list[float] = []

    def ramp(t_s: float) -> float:
        seen.append(t_s)
        return 1.0 * t_s

    adc.set_input_source(0, ramp)
    clock.sleep(0.5)
    write(bus, 1, START_AIN0_4V_475)
    t_start = clock.now() - bus.log[-1].wire_s
    clock.sleep(0.01)
    assert signed(read(bus, 0)) == int((t_start + 1 / 475) / 125e-6)
    assert seen == [pytest.approx(t_start + 1 / 475)]


@pytest.mark.parametrize(
    ("mux", "expected_v"),
    [
        (0b000, 1.0 - 2.0),  # AIN0 - AIN1
        (0b001, 1.0 - 0.5),  # AIN0 - AIN3
        (0b010, 2.0 - 0.5),  # AIN1 - AIN3
        (0b011, 1.5 - 0.5),  # AIN2 - AIN3
        (0b100, 1.0),
        (0b101, 2.0),
        (0b110, 1.5),
        (0b111, 0.5),
    ],
)
def test_sim_ads1115_mux_codes(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115, mux: int, expected_v: float
) -> None:
    for ch, v in enumerate((1.0, 2.0, 1.5, 0.5)):
        adc.set_input(ch, v)
    config = 0x8000 | (mux << 12) | 0x03C3  # ±4.096 V, single-shot, 475 SPS
    assert convert(bus, clock, config) == round(expected_v / 125e-6)


@pytest.mark.parametrize(
    ("pga", "fsr_v"),
    list(enumerate((6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256))),
)
def test_sim_ads1115_pga_scaling(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115, pga: int, fsr_v: float
) -> None:
    adc.set_input(0, fsr_v / 4)
    config = 0xC1C3 | (pga << 9)
    assert convert(bus, clock, config) == 8192


def test_sim_ads1115_clips_beyond_full_scale(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    adc.set_input(0, 3.0)
    adc.set_input(1, 0.0)
    assert word(_raw(bus, clock, 0xC5C3)) == 0x7FFF  # 3.0 V on ±2.048 V
    assert word(_raw(bus, clock, 0x85C3)) == 0x7FFF  # AIN0-AIN1 = +3.0 V
    adc.set_input(0, 0.0)
    adc.set_input(1, 3.0)
    assert word(_raw(bus, clock, 0x85C3)) == 0x8000  # AIN0-AIN1 = -3.0 V
    adc.set_input(0, 4.0951)
    assert word(_raw(bus, clock, 0xC3C3)) == 0x7FF8  # just inside ±4.096 V: floor(v / LSB)


def _raw(bus: SimI2CBus, clock: SimClock, config: int) -> bytes:
    write(bus, 1, config)
    clock.sleep(1 / 475)
    return read(bus, 0)


def test_sim_ads1115_continuous_cadence(clock: SimClock, bus: SimI2CBus, adc: SimADS1115) -> None:
    adc.set_input_source(0, lambda t: t)
    write(bus, 1, 0x42E3)  # AIN0, ±4.096 V, continuous, 860 SPS
    t_start = clock.now() - bus.log[-1].wire_s
    assert word(read(bus, 1)) & 0x8000 == 0  # always converting
    clock.run_until(t_start + 10.5 / 860)
    assert adc.conversions == 10
    assert signed(read(bus, 0)) == int((t_start + 10 / 860) / 125e-6)
    clock.run_until(t_start + 1000.5 / 860)
    assert adc.conversions == 1000
    assert signed(read(bus, 0)) == int((t_start + 1000 / 860) / 125e-6)


def test_sim_ads1115_continuous_config_change_applies_from_next_conversion(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    adc.set_input(0, 1.0)
    adc.set_input(1, 2.0)
    write(bus, 1, 0x42E3)  # AIN0 continuous 860 SPS
    t_start = clock.now() - bus.log[-1].wire_s
    clock.run_until(t_start + 0.5 / 860)
    write(bus, 1, 0x52E3)  # switch to AIN1 mid-conversion
    clock.run_until(t_start + 1.5 / 860)
    assert signed(read(bus, 0)) == 8000  # the conversion in progress kept AIN0
    clock.run_until(t_start + 2.5 / 860)
    assert signed(read(bus, 0)) == 16000


def test_sim_ads1115_back_to_single_shot_powers_down_after_conversion(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 1, 0x42E3)
    t_start = clock.now() - bus.log[-1].wire_s
    clock.run_until(t_start + 2.5 / 860)
    write(bus, 1, 0x43E3)  # single-shot, OS = 0
    assert adc.converting()
    clock.run_until(t_start + 3 / 860)
    assert not adc.converting()
    clock.sleep(0.1)
    assert adc.conversions == 3


def test_sim_ads1115_alert_pin_high_z_when_comparator_disabled(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    assert adc.alert_pin() is True
    write(bus, 1, START_AIN0_4V_475)
    assert adc.alert_pin() is True


def test_sim_ads1115_alert_rdy_mirrors_os_in_single_shot(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 2, 0x0000)
    write(bus, 3, 0x8000)
    write(bus, 1, 0xC3C0)  # start, COMP_QUE = 00, active low
    assert adc.alert_pin() is True  # converting: not asserted
    clock.sleep(1 / 475)
    assert adc.alert_pin() is False  # done: asserted low
    write(bus, 1, 0xC3C8)  # active high this time
    assert adc.alert_pin() is False
    clock.sleep(1 / 475)
    assert adc.alert_pin() is True


def test_sim_ads1115_alert_rdy_pulses_in_continuous(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 2, 0x0000)
    write(bus, 3, 0x8000)
    write(bus, 1, 0x42E0)  # continuous 860 SPS, COMP_QUE = 00
    t_start = clock.now() - bus.log[-1].wire_s
    clock.run_until(t_start + 1 / 860 + RDY_PULSE_S / 2)
    assert adc.alert_pin() is False  # pulse low
    clock.run_until(t_start + 1 / 860 + 2 * RDY_PULSE_S)
    assert adc.alert_pin() is True


def test_sim_ads1115_traditional_comparator_with_hysteresis(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 2, 4000)  # Lo 0.5 V
    write(bus, 3, 8000)  # Hi 1.0 V
    adc.set_input(0, 1.2)
    convert(bus, clock, 0xC3C1)  # COMP_QUE = 01: two conversions beyond Hi
    assert adc.alert_pin() is True
    convert(bus, clock, 0xC3C1)
    assert adc.alert_pin() is False
    adc.set_input(0, 0.7)  # between the thresholds: stays asserted (hysteresis)
    convert(bus, clock, 0xC3C1)
    assert adc.alert_pin() is False
    adc.set_input(0, 0.3)
    convert(bus, clock, 0xC3C1)
    assert adc.alert_pin() is True


def test_sim_ads1115_window_comparator_latch_clears_on_conversion_read(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 2, 4000)
    write(bus, 3, 8000)
    adc.set_input(0, 0.3)  # below the window
    write(bus, 1, 0xC3D4)  # window, latching, COMP_QUE = 00
    clock.sleep(1 / 475)
    assert adc.alert_pin() is False
    adc.set_input(0, 0.7)  # back inside: latched, still asserted
    write(bus, 1, 0xC3D4)
    clock.sleep(1 / 475)
    assert adc.alert_pin() is False
    read(bus, 0)
    assert adc.alert_pin() is True


def test_sim_ads1115_stuck_never_finishes(clock: SimClock, bus: SimI2CBus, adc: SimADS1115) -> None:
    adc.stuck = True
    write(bus, 1, START_AIN0_4V_475)
    clock.sleep(1.0)
    assert word(read(bus, 1)) & 0x8000 == 0
    assert adc.conversions == 0
    adc.stuck = False
    assert word(read(bus, 1)) & 0x8000


def test_sim_ads1115_power_cycle_restores_reset_state(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    adc.set_input(0, 1.0)
    convert(bus, clock, START_AIN0_4V_475)
    write(bus, 2, 0x0000)
    adc.power_cycle()
    assert adc.pointer == 0
    assert word(read(bus)) == 0x0000
    assert word(read(bus, 1)) == 0x8583
    assert adc.thresholds == (0x8000, 0x7FFF)


def test_sim_ads1115_unplugged_nacks_and_keeps_state(
    clock: SimClock, bus: SimI2CBus, adc: SimADS1115
) -> None:
    write(bus, 2, 0x1234)
    adc.unplug()
    with pytest.raises(OSError) as exc:
        read(bus, 2)
    assert exc.value.errno == 121
    adc.plug()
    assert word(read(bus, 2)) == 0x1234


def test_sim_ads1115_rejects_bad_channel(adc: SimADS1115) -> None:
    with pytest.raises(ValueError, match=r"0\.\.3"):
        adc.set_input(4, 1.0)
