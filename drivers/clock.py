"""The clock seam: a monotonic clock with ``now()`` and ``sleep()``, and deadlines.

Drivers, sensors and the session take a clock object instead of calling ``time`` directly,
so tests and ``--sim`` can run on :class:`drivers.sim.clock.SimClock`, which advances
instantly and steps the simulated world. This module is the only product code that calls
``time.sleep``.

Drivers bound their waits with :func:`deadline`, never with ``now() + timeout``: on
MicroPython the clock counts integer ticks that wrap every 2**30 and are compared with
``ticks_diff``, because a float of seconds since boot is single precision on an RP2040 and
after about two days no longer resolves the few milliseconds a driver waits.
"""

import time

try:
    from typing import Callable, Protocol
except ImportError:  # MicroPython
    Protocol = object  # type: ignore[assignment]


#: Longest timeout kept in ``ticks_us`` (a quarter of their 2**30 us period).
TICKS_US_MAX_S = 2**28 / 1_000_000
#: Longest timeout at all: under half the 2**30 ms period of ``ticks_ms`` (6.2 days).
TICKS_MS_MAX_S = 2**29 // 1000 - 1


class Cancellable(Protocol):  # type: ignore[misc,valid-type]
    def cancel(self) -> None: ...


class Clock(Protocol):  # type: ignore[misc,valid-type]
    """What every consumer of time needs."""

    def now(self) -> float:
        """Monotonic time in seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (on a simulated clock: advance and step the world)."""
        ...

    def every(
        self, period_s: float, fn: "Callable[[], None]", name: str = "periodic"
    ) -> Cancellable:
        """Call ``fn`` every ``period_s`` until the returned handle is cancelled."""
        ...


class Deadline(Protocol):  # type: ignore[misc,valid-type]
    """A point in time a bounded wait must not pass."""

    def left_s(self) -> float:
        """Seconds until the deadline; 0 or less once it has passed."""
        ...

    def expired(self) -> bool:
        """True once the deadline has passed."""
        ...


class SecondsDeadline:
    """``timeout_s`` after now on ``clock``, in float seconds: CPython (double precision)
    and the simulated clock."""

    def __init__(self, clock: Clock, timeout_s: float) -> None:
        self._clock = clock
        self._at = clock.now() + timeout_s

    def left_s(self) -> float:
        return self._at - self._clock.now()

    def expired(self) -> bool:
        return self.left_s() <= 0


class TicksDeadline:
    """``timeout_s`` after now in integer ticks (MicroPython): ``ticks_us`` up to
    :data:`TICKS_US_MAX_S`, ``ticks_ms`` beyond (at most :data:`TICKS_MS_MAX_S`).

    Ticks wrap every 2**30 and are only compared through ``ticks_diff``, so a deadline
    holds across the wrap. ``ticks_diff`` is only meaningful within half a period: a
    deadline first checked longer than that after it passed can look pending, so more
    time left than the whole timeout counts as passed, and a passed deadline stays passed.
    A stale check therefore waits at most one timeout too long.
    """

    def __init__(self, timeout_s: float) -> None:
        if timeout_s < TICKS_US_MAX_S:
            self._ticks = time.ticks_us  # type: ignore[attr-defined]
            self._per_s = 1_000_000
        elif timeout_s <= TICKS_MS_MAX_S:
            self._ticks = time.ticks_ms  # type: ignore[attr-defined]
            self._per_s = 1000
        else:
            raise ValueError("timeout_s must be at most %d s, got %r" % (TICKS_MS_MAX_S, timeout_s))
        self._timeout = max(0, int(timeout_s * self._per_s))
        self._end = time.ticks_add(self._ticks(), self._timeout)  # type: ignore[attr-defined]
        self._passed = False

    def left_ticks(self) -> int:
        """Ticks (us or ms) until the deadline; 0 or less once it has passed."""
        if self._passed:
            return 0
        left = time.ticks_diff(self._end, self._ticks())  # type: ignore[attr-defined]
        if left <= 0 or left > self._timeout:
            self._passed = True
            return min(left, 0)
        return left

    def left_s(self) -> float:
        return self.left_ticks() / self._per_s

    def expired(self) -> bool:
        return self.left_ticks() <= 0


class MonotonicClock:
    """The real clock: ``time.monotonic`` on CPython, integer ticks on MicroPython.

    On MicroPython ``now()`` counts seconds since the clock was made, unwrapped from
    ``ticks_ms`` (call it at least every six days); it is single precision on an RP2040,
    so use :meth:`deadline` for waits, which stays in integer microsecond ticks.
    """

    def __init__(self) -> None:
        self._ticks = hasattr(time, "ticks_us")
        self._last_ms = 0
        self._elapsed_ms = 0
        if self._ticks:
            self._last_ms = time.ticks_ms()  # type: ignore[attr-defined]

    def now(self) -> float:
        if not self._ticks:
            return time.monotonic()  # type: ignore[attr-defined]
        t = time.ticks_ms()  # type: ignore[attr-defined]
        self._elapsed_ms += time.ticks_diff(t, self._last_ms)  # type: ignore[attr-defined]
        self._last_ms = t
        return self._elapsed_ms / 1000

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if not self._ticks:
            time.sleep(seconds)
            return
        # Whole milliseconds, then the rest: sleep_us takes at most a small int.
        ms, us = divmod(int(seconds * 1_000_000), 1000)
        if ms:
            time.sleep_ms(ms)  # type: ignore[attr-defined]
        if us:
            time.sleep_us(us)  # type: ignore[attr-defined]

    def deadline(self, timeout_s: float) -> Deadline:
        """``timeout_s`` from now: integer ticks on MicroPython, seconds on CPython."""
        if self._ticks:
            return TicksDeadline(timeout_s)
        return SecondsDeadline(self, timeout_s)

    def every(
        self, period_s: float, fn: "Callable[[], None]", name: str = "periodic"
    ) -> Cancellable:
        """Run ``fn`` at a fixed rate in a thread owned by the returned handle (CPython)."""
        from drivers._periodic import PeriodicThread  # CPython only: uses threading

        return PeriodicThread(self, period_s, fn, name)


def deadline(clock: Clock, timeout_s: float) -> Deadline:
    """A deadline ``timeout_s`` from now on ``clock``: the real clock's own (integer ticks
    on MicroPython), otherwise float seconds from ``clock.now()``."""
    if isinstance(clock, MonotonicClock):
        return clock.deadline(timeout_s)
    return SecondsDeadline(clock, timeout_s)


def wait_until(
    clock: Clock, predicate: "Callable[[], bool]", timeout_s: float, poll_s: float = 0.001
) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes; returns its last value.

    Every wait in the product is bounded: this never blocks longer than ``timeout_s`` plus
    one ``poll_s``.
    """
    end = deadline(clock, timeout_s)
    while True:
        if predicate():
            return True
        if end.expired():
            return bool(predicate())
        clock.sleep(poll_s)
