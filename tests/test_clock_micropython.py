"""drivers.clock on MicroPython: ticks that wrap at 2**30, single-precision floats.

A fake ``time`` module stands in for MicroPython's: ``ticks_ms``/``ticks_us`` wrap at 2**30,
``ticks_diff`` is signed, there is no ``monotonic``, and every float the code makes from a
tick is a ``numpy.float32``, as on the RP2040. Time is the fake's counter, moved only by
the code's own sleeps, so the tests never wait in real time.
"""

from __future__ import annotations

import errno

import numpy as np
import pytest

import drivers.clock as clock_mod
from drivers.ads1115 import ADS1115
from drivers.clock import MonotonicClock, wait_until

TICKS_PERIOD = 2**30  # MicroPython's ticks period on 32-bit ports (both ms and us)


class F32Int(int):
    """A tick: an int whose true division yields a single-precision float (RP2040)."""

    def __truediv__(self, other: object) -> np.float32:  # type: ignore[override]
        return np.float32(int(self)) / np.float32(other)  # type: ignore[arg-type]


class FakeMicroPythonTime:
    """MicroPython's ``time`` ticks API over a microsecond counter that only sleeps move.

    ``elapsed_us`` is the fake time since the start; sleeping more than ``limit_us`` in
    total fails the test (a wait that never ends).
    """

    def __init__(self, start_us: int, limit_us: int = 10_000_000) -> None:
        self.us = start_us
        self.start_us = start_us
        self.limit_us = limit_us

    @property
    def elapsed_us(self) -> int:
        return self.us - self.start_us

    def ticks_us(self) -> F32Int:
        return F32Int(self.us % TICKS_PERIOD)

    def ticks_ms(self) -> F32Int:
        return F32Int(self.us // 1000 % TICKS_PERIOD)

    def ticks_add(self, ticks: int, delta: int) -> F32Int:
        if not -TICKS_PERIOD // 2 < delta < TICKS_PERIOD // 2:
            raise OverflowError("ticks interval overflow")  # as MicroPython 1.27
        return F32Int((ticks + delta) % TICKS_PERIOD)

    def ticks_diff(self, a: int, b: int) -> F32Int:
        return F32Int((a - b + TICKS_PERIOD // 2) % TICKS_PERIOD - TICKS_PERIOD // 2)

    def sleep_us(self, us: int) -> None:
        self._advance(int(us))

    def sleep_ms(self, ms: int) -> None:
        self._advance(int(ms) * 1000)

    def sleep(self, seconds: float) -> None:
        self._advance(int(np.float32(seconds) * np.float32(1_000_000)))

    def _advance(self, us: int) -> None:
        assert us >= 0, f"negative sleep {us} us"
        self.us += us
        assert self.elapsed_us <= self.limit_us, "the wait never ended (deadline never fired)"


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> FakeMicroPythonTime:
    """MicroPython's time just after boot; tests move it with :func:`start_at`."""
    fake = FakeMicroPythonTime(1_000_000)
    monkeypatch.setattr(clock_mod, "time", fake)
    return fake


def start_at(board: FakeMicroPythonTime, us: int) -> None:
    board.us = board.start_us = us


def clock_up_72_hours(board: FakeMicroPythonTime) -> MonotonicClock:
    """A clock made at boot and read every hour until 72 h of uptime (now() about 259200 s,
    where a float32 resolves only 15.6 ms)."""
    clock = MonotonicClock()
    for _ in range(72):
        board.us += 3600 * 1_000_000
        clock.now()
    board.start_us = board.us
    return clock


def f32(x: float) -> np.float32:
    return np.float32(x)


# -- wait_until and deadlines -----------------------------------------------------------------


def test_clock_micropython_short_timeout_is_waited_in_full_at_72_hours(
    board: FakeMicroPythonTime,
) -> None:
    # 72 h in float32 seconds has a resolution of 15.6 ms: a 5 ms timeout added to it
    # vanishes, and the wait would give up at once.
    clock = clock_up_72_hours(board)
    assert wait_until(clock, lambda: False, f32(0.005), f32(0.001)) is False
    assert 5000 <= board.elapsed_us <= 6000


def test_clock_micropython_condition_met_late_within_timeout_at_72_hours(
    board: FakeMicroPythonTime,
) -> None:
    clock = clock_up_72_hours(board)
    assert wait_until(clock, lambda: board.elapsed_us >= 3000, f32(0.0046), f32(0.0005))
    assert 3000 <= board.elapsed_us < 4600


def test_clock_micropython_wait_until_times_out_across_the_ticks_ms_wrap(
    board: FakeMicroPythonTime,
) -> None:
    start_at(board, (TICKS_PERIOD - 2) * 1000)  # ticks_ms two ms before it wraps to 0
    clock = MonotonicClock()
    assert wait_until(clock, lambda: False, f32(0.005), f32(0.001)) is False
    assert 5000 <= board.elapsed_us <= 6000
    assert board.ticks_ms() < 10  # the wait did cross the wrap


def test_clock_micropython_wait_until_times_out_across_the_ticks_us_wrap(
    board: FakeMicroPythonTime,
) -> None:
    start_at(board, 3 * TICKS_PERIOD - 2000)  # ticks_us 2 ms before a wrap
    clock = MonotonicClock()
    assert wait_until(clock, lambda: False, f32(0.005), f32(0.001)) is False
    assert 5000 <= board.elapsed_us <= 6000


def test_clock_micropython_deadline_left_counts_down_across_the_wrap(
    board: FakeMicroPythonTime,
) -> None:
    start_at(board, 5 * TICKS_PERIOD - 1500)
    end = clock_mod.deadline(MonotonicClock(), f32(0.004))
    board.sleep_us(3000)
    assert end.left_s() == pytest.approx(0.001, abs=1e-6)
    assert not end.expired()
    board.sleep_us(1000)
    assert end.expired()


def test_clock_micropython_deadline_checked_long_after_stays_passed(
    board: FakeMicroPythonTime,
) -> None:
    # ticks_diff is signed over half a period: 2**29 us later a 10 ms deadline would look
    # 10 ms away again if it were taken at face value.
    end = clock_mod.deadline(clock_up_72_hours(board), f32(0.01))
    board.us += TICKS_PERIOD // 2 + 5000
    assert end.expired()
    board.us += TICKS_PERIOD // 2 - 10_000  # now ticks_diff says "5 ms left"
    assert end.expired() and end.left_s() <= 0


def test_clock_micropython_ten_minute_deadline_counts_in_ms_ticks(
    board: FakeMicroPythonTime,
) -> None:
    # 600 s is more microsecond ticks than ticks_add takes (2**29).
    end = clock_mod.deadline(clock_up_72_hours(board), f32(600.0))
    board.us += 599_000_000
    assert end.left_s() == pytest.approx(1.0, abs=0.002) and not end.expired()
    board.us += 1_000_000
    assert end.expired()


def test_clock_micropython_deadline_beyond_half_the_ms_period_is_refused(
    board: FakeMicroPythonTime,
) -> None:
    with pytest.raises(ValueError, match="timeout_s must be at most"):
        clock_mod.deadline(MonotonicClock(), 7 * 24 * 3600.0)


def test_clock_micropython_now_is_monotonic_across_the_ticks_ms_wrap(
    board: FakeMicroPythonTime,
) -> None:
    start_at(board, (TICKS_PERIOD - 10) * 1000)
    clock = MonotonicClock()
    t0 = clock.now()
    board.sleep_ms(20)
    assert clock.now() - t0 == pytest.approx(0.020, abs=1e-6)


def test_clock_micropython_sleep_uses_integer_ms_and_us(board: FakeMicroPythonTime) -> None:
    clock = MonotonicClock()
    clock.sleep(f32(0.0025))
    assert board.elapsed_us == 2500
    clock.sleep(0)
    clock.sleep(-1.0)
    assert board.elapsed_us == 2500


# -- a driver wait at 72 h ------------------------------------------------------------------


class LateADS1115Bus:
    """An ADS1115 whose conversion ends ``late_us`` after the start write (OS bit), on the
    fake board's time; the conversion register reads -1234 counts."""

    def __init__(self, board: FakeMicroPythonTime, late_us: int) -> None:
        self.board = board
        self.late_us = late_us
        self.name = "fake-i2c"
        self._started_us = -(10**12)
        self._pointer = 0
        self._config = 0x8583

    def writeto_mem(self, addr: int, memaddr: int, buf: bytes, addrsize: int = 8) -> None:
        self._pointer = memaddr
        if memaddr == 1:
            self._config = (buf[0] << 8) | buf[1]
            if self._config & 0x8000:
                self._started_us = self.board.us

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: bytearray, addrsize: int = 8) -> None:
        self._pointer = memaddr
        self.readfrom_into(addr, buf)

    def readfrom_into(self, addr: int, buf: bytearray, stop: bool = True) -> None:
        if self._pointer == 0:
            value = -1234 & 0xFFFF
        else:
            done = self.board.us - self._started_us >= self.late_us
            value = (self._config & 0x7FFF) | (0x8000 if done else 0)
        buf[0], buf[1] = value >> 8, value & 0xFF

    def writeto(self, addr: int, buf: bytes, stop: bool = True) -> int:
        raise AssertionError("the ADS1115 driver never uses plain writes")

    def scan(self) -> list[int]:
        return [0x48]


def test_clock_micropython_ads1115_late_conversion_at_72_hours_is_read(
    board: FakeMicroPythonTime,
) -> None:
    # 475 SPS: the driver sleeps 2.3 ms and polls until 4.6 ms; the chip finishes at 3 ms.
    adc = ADS1115(LateADS1115Bus(board, late_us=3000), clock=clock_up_72_hours(board))
    adc.init()
    assert adc.read_single(0) == -1234
    assert 3000 <= board.elapsed_us < 4700


def test_clock_micropython_ads1115_stuck_conversion_times_out_after_the_timeout(
    board: FakeMicroPythonTime,
) -> None:
    adc = ADS1115(LateADS1115Bus(board, late_us=10**9), clock=clock_up_72_hours(board))
    adc.init()
    with pytest.raises(OSError) as exc:
        adc.read_single(0)
    assert exc.value.errno == errno.ETIMEDOUT
    assert 4600 <= board.elapsed_us < 5000
