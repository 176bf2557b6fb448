"""The LSM6DSOX driver against the simulated chip: bytes on the wire, values, faults."""

from __future__ import annotations

import errno
import math

import pytest

from drivers.bus import DeviceNotFound
from drivers.lsm6dsox import LSM6DSOX, DeviceReset
from drivers.sim.bus import SimI2CBus, Transaction
from drivers.sim.clock import SimClock
from drivers.sim.lsm6dsox import SimLSM6DSOX

ADDR = 0x6A
ACCEL_LSB_G = 0.122e-3  # +-4 g
GYRO_LSB_DPS = 17.5e-3  # 500 dps


def make(**chip_kwargs) -> tuple[SimClock, SimI2CBus, SimLSM6DSOX, LSM6DSOX]:
    clock = SimClock()
    bus = SimI2CBus(clock, 400_000, "glove")
    chip = SimLSM6DSOX(clock, **chip_kwargs)
    bus.attach(ADDR, chip)
    return clock, bus, chip, LSM6DSOX(bus, ADDR, clock)


def wire(log: list[Transaction]) -> list[tuple[tuple[str, bytes], ...]]:
    return [tuple((s.kind, s.data) for s in t.segments) for t in log]


def test_lsm6dsox_init_bytes_on_the_wire() -> None:
    _, bus, _, imu = make()
    imu.init()
    assert wire(list(bus.log)) == [
        (("W", b"\x0f"), ("R", b"\x6c")),  # WHO_AM_I
        (("W", b"\x12\x05"),),  # CTRL3_C: SW_RESET | IF_INC
        (("W", b"\x12"), ("R", b"\x04")),  # SW_RESET has self-cleared
        (("W", b"\x12\x44"),),  # BDU | IF_INC
        (("W", b"\x07\x00\x00\x44\x06"),),  # WTM 0, BDR 104 Hz both, continuous mode
        (("W", b"\x10\x48\x44"),),  # 104 Hz +-4 g, 104 Hz 500 dps
    ]


def test_lsm6dsox_init_encodes_other_rates_and_full_scales() -> None:
    _, bus, chip, imu = make()
    imu.init(odr_hz=208, accel_fs_g=16, gyro_fs_dps=2000)
    assert wire(list(bus.log))[-2:] == [
        (("W", b"\x07\x00\x00\x55\x06"),),
        (("W", b"\x10\x54\x5c"),),  # FS_XL 01 is +-16 g
    ]
    imu.init(odr_hz=12.5, accel_fs_g=2, gyro_fs_dps=125)
    assert (chip.register(0x10), chip.register(0x11)) == (0x10, 0x12)


def test_lsm6dsox_init_without_fifo_leaves_it_in_bypass() -> None:
    _, _, chip, imu = make()
    imu.init(fifo=False)
    assert chip.register(0x0A) == 0x00
    with pytest.raises(ValueError, match="fifo=True"):
        imu.read_fifo()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"odr_hz": 100}, "odr_hz must be one of 12.5, 26"),
        ({"accel_fs_g": 6}, "accel_fs_g must be 2, 4, 8 or 16"),
        ({"gyro_fs_dps": 300}, "gyro_fs_dps must be 125, 250"),
    ],
)
def test_lsm6dsox_init_rejects_out_of_range_settings_before_any_traffic(kwargs, match) -> None:
    _, bus, _, imu = make()
    with pytest.raises(ValueError, match=match):
        imu.init(**kwargs)
    assert bus.stats.transactions == 0


def test_lsm6dsox_rejects_an_address_the_part_cannot_have() -> None:
    clock = SimClock()
    with pytest.raises(ValueError, match="0x6A or 0x6B"):
        LSM6DSOX(SimI2CBus(clock), 0x68, clock)


def test_lsm6dsox_fifo_drain_is_status_read_then_one_burst() -> None:
    clock, bus, _, imu = make()
    imu.init()
    clock.sleep(0.040)
    bus.reset_stats()
    batch = imu.read_fifo()
    log = wire(list(bus.log))
    assert len(log) == 2
    assert log[0] == (("W", b"\x3a"), ("R", bytes((8, 0))))  # 4 slots in 40 ms
    assert log[1][0] == ("W", b"\x78")
    assert log[1][1][0] == "R" and len(log[1][1][1]) == 8 * 7
    assert (batch.words, len(batch.accel_g), len(batch.gyro_dps)) == (8, 4, 4)
    assert not batch.overrun and batch.unpaired == 0 and batch.other_tags == 0


def test_lsm6dsox_after_one_second_at_104_hz_reads_104_pairs() -> None:
    clock, _, _, imu = make()
    imu.init()
    clock.sleep(1.0)
    batch = imu.read_fifo()
    assert len(batch.accel_g) == len(batch.gyro_dps) == 104
    assert batch.words == 208


def test_lsm6dsox_motion_in_is_motion_out_within_quantisation() -> None:
    clock, _, chip, imu = make()
    truth: dict[float, tuple] = {}

    def hand(t: float):
        motion = (
            (0.3 * math.sin(2 * math.pi * t), -0.5, 0.8 + 0.2 * math.cos(3 * t)),
            (120 * math.sin(5 * t), -45.0, 200 * math.cos(2 * math.pi * 1.5 * t)),
        )
        truth[t] = motion
        return motion

    chip.set_motion_source(hand)
    imu.init()
    accel, gyro = [], []
    for _ in range(25):  # one second in 40 ms drains, as the glove loop does
        clock.sleep(0.040)
        batch = imu.read_fifo()
        accel += batch.accel_g
        gyro += batch.gyro_dps
    ticks = sorted(truth)
    assert len(accel) == len(gyro) >= 100
    for i, (a, g) in enumerate(zip(accel, gyro, strict=True)):
        want_a, want_g = truth[ticks[i]]
        assert a == pytest.approx(want_a, abs=ACCEL_LSB_G / 2 + 1e-9)
        assert g == pytest.approx(want_g, abs=GYRO_LSB_DPS / 2 + 1e-9)


def test_lsm6dsox_read_accel_gyro_is_one_12_byte_read() -> None:
    clock, bus, chip, imu = make()
    chip.set_motion(accel_g=(0.25, -0.5, 1.0), gyro_dps=(30.0, -60.0, 90.0))
    imu.init()
    clock.sleep(0.02)
    bus.reset_stats()
    accel, gyro = imu.read_accel_gyro()
    log = wire(list(bus.log))
    assert len(log) == 1 and log[0][0] == ("W", b"\x22") and len(log[0][1][1]) == 12
    assert accel == pytest.approx((0.25, -0.5, 1.0), abs=ACCEL_LSB_G)
    assert gyro == pytest.approx((30.0, -60.0, 90.0), abs=GYRO_LSB_DPS)


def test_lsm6dsox_16_g_full_scale_decodes_large_accelerations() -> None:
    clock, _, chip, imu = make()
    chip.set_motion(accel_g=(10.0, -12.0, 15.0))
    imu.init(accel_fs_g=16)
    clock.sleep(0.1)
    batch = imu.read_fifo()
    assert batch.accel_g[-1] == pytest.approx((10.0, -12.0, 15.0), abs=0.5e-3)


def test_lsm6dsox_temperature() -> None:
    clock, _, _, imu = make(temperature_c=33.25)
    imu.init()
    clock.sleep(0.02)
    assert imu.temperature_c() == pytest.approx(33.25, abs=1 / 256)


def test_lsm6dsox_self_test_passes_and_restores_the_configuration() -> None:
    clock, _, chip, imu = make(
        self_test_accel_mg=(300, 500, 900), self_test_gyro_dps=(200, 400, 600)
    )
    imu.init()
    before = [chip.register(r) for r in (0x07, 0x08, 0x09, 0x0A, 0x10, 0x11, 0x12, 0x14)]
    result = imu.self_test()
    assert result.passed and result.accel_ok and result.gyro_ok
    assert result.accel_delta_mg == pytest.approx((300, 500, 900), abs=0.2)
    assert result.gyro_delta_dps == pytest.approx((200, 400, 600), abs=0.1)
    assert [chip.register(r) for r in (0x07, 0x08, 0x09, 0x0A, 0x10, 0x11, 0x12, 0x14)] == before
    clock.sleep(0.1)
    batch = imu.read_fifo()
    assert len(batch.accel_g) >= 10 and batch.unpaired == 0
    assert batch.accel_g[-1] == pytest.approx((0.0, 0.0, 1.0), abs=ACCEL_LSB_G)  # no ST shift


@pytest.mark.parametrize(
    ("chip_kwargs", "accel_ok", "gyro_ok"),
    [
        ({"self_test_accel_mg": (20.0, 450.0, 450.0)}, False, True),  # below 50 mg
        ({"self_test_accel_mg": (450.0, 450.0, 1800.0)}, False, True),  # above 1700 mg
        ({"self_test_gyro_dps": (300.0, 100.0, 300.0)}, True, False),  # below 150 dps
        ({"self_test_gyro_dps": (300.0, 300.0, 750.0)}, True, False),  # above 700 dps
    ],
)
def test_lsm6dsox_self_test_fails_outside_the_datasheet_limits(chip_kwargs, accel_ok, gyro_ok):
    _, _, _, imu = make(**chip_kwargs)
    imu.init()
    result = imu.self_test()
    assert (result.accel_ok, result.gyro_ok, result.passed) == (accel_ok, gyro_ok, False)


def test_lsm6dsox_absent_at_init_raises_remote_io_error() -> None:
    clock = SimClock()
    bus = SimI2CBus(clock, 400_000, "glove")
    with pytest.raises(OSError) as exc:
        LSM6DSOX(bus, ADDR, clock).init()
    assert exc.value.errno == errno.EREMOTEIO


@pytest.mark.parametrize(
    ("who", "hint"),
    [
        (0x6A, "LSM6DS3TR-C"),
        (0x69, "LSM6DS33"),
        (0xFF, "check SDA/SCL wiring"),
        (0x33, "check SA0"),
    ],
)
def test_lsm6dsox_wrong_who_am_i_raises_device_not_found(who: int, hint: str) -> None:
    _, bus, _, imu = make(who_am_i=who)
    with pytest.raises(DeviceNotFound, match=hint) as exc:
        imu.init()
    assert (exc.value.address, exc.value.expected, exc.value.found) == (ADDR, 0x6C, who)
    assert exc.value.bus == "glove"
    assert bus.stats.transactions == 1  # identity only: nothing written to a stranger


def test_lsm6dsox_slow_sw_reset_is_polled_until_it_clears() -> None:
    _, bus, _, imu = make(sw_reset_s=0.005)
    imu.init()
    polls = [t for t in wire(list(bus.log)) if t[0] == ("W", b"\x12") and len(t) == 2]
    assert len(polls) >= 4 and polls[-1][1] == ("R", b"\x04")


def test_lsm6dsox_stuck_sw_reset_times_out() -> None:
    clock, _, _, imu = make(sw_reset_s=10.0)
    with pytest.raises(OSError, match="SW_RESET did not self-clear") as exc:
        imu.init()
    assert exc.value.errno == errno.ETIMEDOUT
    assert clock.now() < 0.2


def test_lsm6dsox_eio_in_the_middle_of_a_drain_then_recovers() -> None:
    clock, bus, _, imu = make()
    imu.init()
    clock.sleep(1.5)  # 312 words: three bursts of 128, 128, 56
    bus.fail_nth(3, errno.EIO)  # status, first burst, then the second burst fails
    with pytest.raises(OSError) as exc:
        imu.read_fifo()
    assert exc.value.errno == errno.EIO
    bus.reset_stats()
    batch = imu.read_fifo()
    log = wire(list(bus.log))
    assert log[1] == (("W", b"\x10"), ("R", b"\x48\x44\x44"))  # configuration checked
    assert batch.words > 0 and len(batch.accel_g) == len(batch.gyro_dps)
    assert batch.unpaired == 0


def test_lsm6dsox_unplug_and_replug_reports_device_reset_until_init() -> None:
    clock, bus, chip, imu = make()
    imu.init()
    clock.sleep(0.04)
    imu.read_fifo()
    chip.unplug()
    clock.sleep(0.04)
    with pytest.raises(OSError) as exc:
        imu.read_fifo()
    assert exc.value.errno == errno.EREMOTEIO
    chip.plug()
    clock.sleep(0.04)
    with pytest.raises(DeviceReset, match="call init"):
        imu.read_fifo()
    bus.reset_stats()
    with pytest.raises(DeviceReset):
        imu.read_fifo()
    assert bus.stats.transactions == 0  # no traffic until init()
    imu.init()
    clock.sleep(0.1)
    assert len(imu.read_fifo().accel_g) >= 10


def test_lsm6dsox_silent_power_glitch_is_caught_when_the_fifo_stays_empty() -> None:
    clock, _, chip, imu = make()
    imu.init()
    clock.sleep(0.04)
    assert imu.read_fifo().words == 8
    chip.power_cycle()
    clock.sleep(0.04)
    assert imu.read_fifo().words == 0  # within the 0.25 s grace: just no data yet
    clock.sleep(0.25)
    with pytest.raises(DeviceReset, match="power cycle"):
        imu.read_fifo()


def test_lsm6dsox_overrun_is_reported_and_pairs_stay_aligned() -> None:
    clock, _, chip, imu = make()
    chip.set_motion_source(lambda t: ((t / 10, 0.0, 0.0), (t * 10, 0.0, 0.0)))  # tell time
    imu.init()
    clock.sleep(0.04)
    imu.read_fifo()
    clock.sleep(6.0)
    batch = imu.read_fifo()
    assert batch.overrun and batch.fifo_level == 512
    assert len(batch.accel_g) == len(batch.gyro_dps) >= 255
    pairs = zip(batch.accel_g, batch.gyro_dps, strict=True)
    assert all(a[0] * 100 == pytest.approx(g[0], abs=0.05) for a, g in pairs)  # same slot
    clock.sleep(0.04)
    assert not imu.read_fifo().overrun


def test_lsm6dsox_max_words_carries_a_half_slot_to_the_next_drain() -> None:
    clock, _, _, imu = make()
    imu.init()
    clock.sleep(0.04)
    first = imu.read_fifo(max_words=3)
    assert (first.words, len(first.accel_g)) == (3, 1)
    second = imu.read_fifo()
    assert len(second.accel_g) == len(second.gyro_dps) == 3
    assert first.unpaired == second.unpaired == 0
    with pytest.raises(ValueError, match=r"1\.\.512"):
        imu.read_fifo(max_words=0)


def test_lsm6dsox_close_powers_down_once() -> None:
    _, bus, chip, imu = make()
    imu.init()
    bus.reset_stats()
    imu.close()
    imu.close()
    assert wire(list(bus.log)) == [(("W", b"\x10\x00\x00"),), (("W", b"\x0a\x00"),)]
    assert (chip.register(0x10), chip.register(0x11), chip.register(0x0A)) == (0, 0, 0)
    with pytest.raises(DeviceReset):
        imu.read_accel_gyro()


def test_lsm6dsox_close_that_misses_the_chip_keeps_the_error_and_is_tried_again() -> None:
    _, bus, chip, imu = make()
    imu.init()
    bus.nack(ADDR, times=1)  # the power-down write is lost (the glove connector wiggles)
    imu.close()  # never raises
    assert isinstance(imu.close_error, OSError) and imu.close_error.errno == errno.EREMOTEIO
    # the ODR write was lost (still sampling); the FIFO bypass write after it was tried
    assert chip.register(0x10) != 0 and chip.register(0x0A) == 0
    imu.close()  # tried again: now the IMU stops sampling
    assert imu.close_error is None
    assert (chip.register(0x10), chip.register(0x11), chip.register(0x0A)) == (0, 0, 0)


def test_lsm6dsox_close_without_init_touches_nothing() -> None:
    clock = SimClock()
    bus = SimI2CBus(clock, 400_000, "glove")
    with LSM6DSOX(bus, ADDR, clock):
        pass
    assert bus.stats.transactions == 0
