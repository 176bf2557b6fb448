"""The simulated LSM6DSOX against the datasheet facts (HARDWARE.md 9.2, 9.3, 12)."""

from __future__ import annotations

import errno
import math
import struct

import pytest

from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.lsm6dsox import SimLSM6DSOX

ADDR = 0x6A


def make(**kwargs) -> tuple[SimClock, SimI2CBus, SimLSM6DSOX]:
    clock = SimClock()
    bus = SimI2CBus(clock, 400_000, "glove")
    chip = SimLSM6DSOX(clock, **kwargs)
    bus.attach(ADDR, chip)
    return clock, bus, chip


def rd(bus: SimI2CBus, reg: int, n: int = 1) -> bytes:
    buf = bytearray(n)
    bus.readfrom_mem_into(ADDR, reg, buf)
    return bytes(buf)


def wr(bus: SimI2CBus, reg: int, *values: int) -> None:
    bus.writeto_mem(ADDR, reg, bytes(values))


def start_fifo(bus: SimI2CBus, odr_code: int = 4, mode: int = 6) -> None:
    """Batch both sensors at the ODR in ``mode``, then start both at ODR ``odr_code``."""
    wr(bus, 0x09, odr_code << 4 | odr_code)
    wr(bus, 0x0A, mode)
    wr(bus, 0x10, odr_code << 4 | 0x08, odr_code << 4 | 0x04)  # +-4 g, 500 dps


def fifo_status(bus: SimI2CBus) -> tuple[int, int]:
    s1, s2 = rd(bus, 0x3A, 2)
    return s1 | (s2 & 0x03) << 8, s2


def drain(bus: SimI2CBus, n: int) -> list[bytes]:
    data = rd(bus, 0x78, 7 * n)
    return [data[i : i + 7] for i in range(0, len(data), 7)]


def test_sim_lsm6dsox_reset_values() -> None:
    _, bus, _ = make()
    assert rd(bus, 0x0F) == b"\x6c"
    assert rd(bus, 0x12) == b"\x04"
    assert rd(bus, 0x07, 4) == b"\x00\x00\x00\x00"
    assert rd(bus, 0x10, 2) == b"\x00\x00"
    assert rd(bus, 0x18) == b"\xe0"
    assert rd(bus, 0x3A, 2) == b"\x00\x00"


def test_sim_lsm6dsox_who_am_i_is_configurable_for_other_parts() -> None:
    _, bus, _ = make(who_am_i=0x69)
    assert rd(bus, 0x0F) == b"\x69"


def test_sim_lsm6dsox_who_am_i_ignores_writes() -> None:
    _, bus, _ = make()
    wr(bus, 0x0F, 0x00)
    assert rd(bus, 0x0F) == b"\x6c"


def test_sim_lsm6dsox_sw_reset_restores_defaults_and_self_clears_after_its_time() -> None:
    clock, bus, _ = make(sw_reset_s=0.01)
    start_fifo(bus)
    clock.sleep(0.1)
    wr(bus, 0x12, 0x05)
    assert rd(bus, 0x12) == b"\x05"  # still resetting
    assert rd(bus, 0x10, 2) == b"\x00\x00"
    assert rd(bus, 0x3A, 2) == b"\x00\x00"  # FIFO emptied
    clock.sleep(0.01)
    assert rd(bus, 0x12) == b"\x04"


def test_sim_lsm6dsox_sw_reset_default_time_has_passed_by_the_next_transaction() -> None:
    _, bus, _ = make()
    wr(bus, 0x12, 0x05)
    assert rd(bus, 0x12) == b"\x04"


def test_sim_lsm6dsox_boot_self_clears_and_keeps_user_registers() -> None:
    clock, bus, _ = make()
    wr(bus, 0x10, 0x48)
    wr(bus, 0x12, 0x84)
    assert rd(bus, 0x12) == b"\x84"
    clock.sleep(SimLSM6DSOX.BOOT_S)
    assert rd(bus, 0x12) == b"\x04"
    assert rd(bus, 0x10) == b"\x48"


def test_sim_lsm6dsox_auto_increment_follows_if_inc() -> None:
    _, bus, _ = make()
    wr(bus, 0x10, 0x12, 0x34)  # IF_INC set at reset: two consecutive registers
    assert rd(bus, 0x10, 2) == b"\x12\x34"
    wr(bus, 0x12, 0x00)  # IF_INC off: every byte hits the same register
    wr(bus, 0x10, 0x56, 0x78)
    assert rd(bus, 0x10, 2) == b"\x78\x78"


@pytest.mark.parametrize(
    ("fs_code", "mg_per_lsb"), [(0, 0.061), (1, 0.488), (2, 0.122), (3, 0.244)]
)
def test_sim_lsm6dsox_accel_scaling_follows_the_fs_code_order(
    fs_code: int, mg_per_lsb: float
) -> None:
    clock, bus, chip = make()
    chip.set_motion(accel_g=(0.5, -1.0, 1.5))
    wr(bus, 0x10, 0x40 | fs_code << 2)
    clock.sleep(0.02)
    raw = struct.unpack("<hhh", rd(bus, 0x28, 6))
    expected = [round(v * 1000 / mg_per_lsb) for v in (0.5, -1.0, 1.5)]
    assert list(raw) == [max(-32768, min(32767, e)) for e in expected]


def test_sim_lsm6dsox_accel_saturates_at_full_scale() -> None:
    clock, bus, chip = make()
    chip.set_motion(accel_g=(3.0, -3.0, 0.0))
    wr(bus, 0x10, 0x40)  # +-2 g
    clock.sleep(0.02)
    assert struct.unpack("<hhh", rd(bus, 0x28, 6)) == (32767, -32768, 0)


@pytest.mark.parametrize(
    ("ctrl2_fs", "mdps"), [(0x00, 8.75), (0x02, 4.375), (0x04, 17.5), (0x08, 35.0), (0x0C, 70.0)]
)
def test_sim_lsm6dsox_gyro_scaling_per_full_scale(ctrl2_fs: int, mdps: float) -> None:
    clock, bus, chip = make()
    chip.set_motion(gyro_dps=(100.0, -50.0, 12.5))
    wr(bus, 0x11, 0x40 | ctrl2_fs)
    clock.sleep(0.02)
    raw = struct.unpack("<hhh", rd(bus, 0x22, 6))
    assert list(raw) == [round(v * 1000 / mdps) for v in (100.0, -50.0, 12.5)]


def test_sim_lsm6dsox_status_bits_set_at_odr_and_cleared_by_reading_outputs() -> None:
    clock, bus, _ = make()
    assert rd(bus, 0x1E) == b"\x00"
    wr(bus, 0x10, 0x40, 0x40)
    assert rd(bus, 0x1E)[0] & 0x03 == 0  # no sample before the first 104 Hz tick
    clock.sleep(1 / 104)
    assert rd(bus, 0x1E)[0] & 0x07 == 0x07  # XLDA, GDA, TDA
    rd(bus, 0x28, 6)
    assert rd(bus, 0x1E)[0] & 0x07 == 0x06
    rd(bus, 0x20, 8)  # temperature and gyro
    assert rd(bus, 0x1E) == b"\x00"


def test_sim_lsm6dsox_temperature_output() -> None:
    clock, bus, _ = make(temperature_c=31.5)
    wr(bus, 0x10, 0x40)
    clock.sleep(0.02)
    assert struct.unpack("<h", rd(bus, 0x20, 2))[0] == round(6.5 * 256)


def test_sim_lsm6dsox_fifo_after_one_second_at_104_hz_holds_104_of_each() -> None:
    clock, bus, _ = make()
    start_fifo(bus)
    clock.sleep(1.0)
    level, _ = fifo_status(bus)
    assert level == 208
    words = drain(bus, level)
    tags = [w[0] >> 3 for w in words]
    assert tags.count(1) == 104 and tags.count(2) == 104
    assert tags[:4] == [1, 2, 1, 2]  # gyro then accel in every slot
    counts = [(w[0] >> 1) & 0x03 for w in words]
    assert all(counts[i] == counts[i + 1] for i in range(0, 208, 2))  # one count per slot
    assert all((counts[i + 2] - counts[i]) % 4 == 1 for i in range(0, 206, 2))
    assert fifo_status(bus)[0] == 6  # the 33 ms burst itself let three more slots in


def test_sim_lsm6dsox_fifo_burst_rolls_back_from_7e_to_78() -> None:
    clock, bus, _ = make()
    start_fifo(bus)
    clock.sleep(0.05)
    burst = rd(bus, 0x78, 21)
    clock2, bus2, _ = make()
    start_fifo(bus2)
    clock2.sleep(0.05)
    singles = b"".join(rd(bus2, 0x78, 7) for _ in range(3))
    assert burst == singles
    assert burst[0] >> 3 == 1 and burst[7] >> 3 == 2 and burst[14] >> 3 == 1


def test_sim_lsm6dsox_fifo_overrun_overwrites_oldest_and_flags_it() -> None:
    clock, bus, chip = make()
    chip.set_motion_source(lambda t: ((t, 0.0, 0.0), (0.0, 0.0, 0.0)))
    start_fifo(bus)
    clock.sleep(3.0)  # 312 slots = 624 words into 512
    level, s2 = fifo_status(bus)
    assert level == 512
    assert s2 & 0x40 and s2 & 0x08 and s2 & 0x20  # OVR_IA, OVR_LATCHED, FULL_IA
    assert chip.words_overwritten == 624 - 512
    assert fifo_status(bus)[1] & 0x08 == 0  # OVR_LATCHED cleared by the read
    first = drain(bus, 2)
    oldest_t = struct.unpack("<h", first[1][1:3])[0] * 0.122e-3
    assert oldest_t == pytest.approx(57 / 104, abs=1e-3)  # slots 1..56 were overwritten
    assert fifo_status(bus)[1] & 0x40 == 0  # reading made room


def test_sim_lsm6dsox_fifo_mode_stops_collecting_when_full() -> None:
    clock, bus, chip = make()
    chip.set_motion_source(lambda t: ((t, 0.0, 0.0), (0.0, 0.0, 0.0)))
    start_fifo(bus, mode=1)
    clock.sleep(3.0)
    level, s2 = fifo_status(bus)
    assert level == 512 and s2 & 0x48 == 0
    first = drain(bus, 2)
    assert struct.unpack("<h", first[1][1:3])[0] * 0.122e-3 == pytest.approx(1 / 104, abs=1e-3)


def test_sim_lsm6dsox_bypass_empties_the_fifo() -> None:
    clock, bus, _ = make()
    start_fifo(bus)
    clock.sleep(0.2)
    wr(bus, 0x0A, 0x00)
    assert fifo_status(bus) == (0, 0)


def test_sim_lsm6dsox_watermark_flag() -> None:
    clock, bus, _ = make()
    wr(bus, 0x07, 10)
    start_fifo(bus)
    clock.sleep(4 / 104)
    assert fifo_status(bus)[1] & 0x80 == 0
    clock.sleep(1 / 104)
    assert fifo_status(bus)[1] & 0x80


def test_sim_lsm6dsox_timestamp_and_temperature_words() -> None:
    clock, bus, _ = make(temperature_c=30.0)
    wr(bus, 0x19, 0x20)  # TIMESTAMP_EN
    wr(bus, 0x0A, 0x40 | 0x30 | 6)  # DEC_TS 1, temperature batched at 52 Hz, continuous
    wr(bus, 0x09, 0x44)
    wr(bus, 0x10, 0x48, 0x44)
    clock.sleep(1.0)
    level, _ = fifo_status(bus)
    words = drain(bus, level)
    tags = [w[0] >> 3 for w in words]
    assert (tags.count(1), tags.count(2), tags.count(3), tags.count(4)) == (104, 104, 52, 104)
    ts = [struct.unpack("<I", w[1:5])[0] for w in words if w[0] >> 3 == 4]
    assert ts[1] - ts[0] == round(1 / 104 / 25e-6)
    temps = [struct.unpack("<h", w[1:3])[0] for w in words if w[0] >> 3 == 3]
    assert set(temps) == {5 * 256}


def test_sim_lsm6dsox_motion_source_is_sampled_at_every_tick() -> None:
    clock, bus, chip = make()
    calls: list[float] = []

    def hand(t: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        calls.append(t)
        return (math.sin(t), 0.0, 1.0), (0.0, 90 * math.cos(t), 0.0)

    chip.set_motion_source(hand)
    start_fifo(bus)
    clock.sleep(0.5)
    words = drain(bus, fifo_status(bus)[0])
    ticks = sorted(set(calls))
    assert len(ticks) == len(words) // 2 == 52
    accel_x = [struct.unpack("<h", w[1:3])[0] * 0.122e-3 for w in words if w[0] >> 3 == 2]
    assert accel_x == pytest.approx([math.sin(t) for t in ticks], abs=0.061e-3)


@pytest.mark.parametrize(("st", "sign"), [(0x01, 1), (0x02, -1)])
def test_sim_lsm6dsox_accel_self_test_shifts_the_output(st: int, sign: int) -> None:
    clock, bus, _ = make(self_test_accel_mg=(500.0, 600.0, 700.0))
    wr(bus, 0x10, 0x38)
    wr(bus, 0x14, st)
    clock.sleep(0.05)
    raw = struct.unpack("<hhh", rd(bus, 0x28, 6))
    mg = [r * 0.122 for r in raw]
    assert mg == pytest.approx([sign * 500, sign * 600, 1000 + sign * 700], abs=0.1)


@pytest.mark.parametrize(("st", "sign"), [(0x04, 1), (0x0C, -1)])
def test_sim_lsm6dsox_gyro_self_test_shift_scales_with_full_scale(st: int, sign: int) -> None:
    clock, bus, _ = make(self_test_gyro_dps=(400.0, 400.0, 400.0))
    wr(bus, 0x11, 0x5C)  # 2000 dps: the configured shift
    wr(bus, 0x14, st)
    clock.sleep(0.02)
    assert struct.unpack("<h", rd(bus, 0x22, 2))[0] * 0.070 == pytest.approx(sign * 400, abs=0.1)
    wr(bus, 0x11, 0x50)  # 250 dps: an eighth of it, inside 20..80 dps
    clock.sleep(0.02)
    assert struct.unpack("<h", rd(bus, 0x22, 2))[0] * 0.00875 == pytest.approx(sign * 50, abs=0.01)


def test_sim_lsm6dsox_noise_is_seeded() -> None:
    def samples(seed: int) -> bytes:
        clock, bus, _ = make(seed=seed, accel_noise_g=0.01, gyro_noise_dps=0.5)
        start_fifo(bus)
        clock.sleep(0.2)
        return rd(bus, 0x78, 7 * 20)

    assert samples(1) == samples(1)
    assert samples(1) != samples(2)


def test_sim_lsm6dsox_unplugged_chip_nacks_and_plug_is_a_power_on_reset() -> None:
    clock, bus, chip = make()
    start_fifo(bus)
    clock.sleep(0.1)
    chip.unplug()
    with pytest.raises(OSError) as exc:
        rd(bus, 0x0F)
    assert exc.value.errno == errno.EREMOTEIO
    chip.plug()
    assert rd(bus, 0x10, 3) == b"\x00\x00\x04"
    clock.sleep(0.1)
    assert fifo_status(bus) == (0, 0)
