"""A simulated monotonic clock that advances instantly and steps the simulated world.

Time moves in two ways:

* :meth:`SimClock.sleep` (and :meth:`run_until`) move time forward and run every event
  scheduled up to the new time, in time order. This is how the simulated world, the
  virtual patient and periodic tasks (the acquisition loop) get their turn.
* :meth:`SimClock.advance` moves time without running events. The simulated bus uses it to
  account for wire time, so no event ever runs in the middle of a bus transaction; events
  that fell due meanwhile run at the next ``sleep`` (late, as a real thread would be).

With ``realtime_factor`` set, ``sleep`` also waits in real time (divided by the factor) so
a demo can be paced for a person to watch.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers import clock as _real


@dataclass(slots=True)
class _Event:
    """A scheduled call; on the heap as ``(t, order, event)``, so that the heap compares
    floats and ints, never events (``order`` is unique: ties run in scheduling order)."""

    t: float
    order: int
    fn: Callable[[], None]
    period_s: float | None = None
    cancelled: bool = False
    name: str = "event"

    def cancel(self) -> None:
        self.cancelled = True


class SimTime:
    """The simulated time (s) in one mutable cell. The clock keeps it; a simulated bus on
    the clock reads and advances it in place while it holds :attr:`SimClock.lock` (two
    method calls fewer per transaction)."""

    __slots__ = ("s",)

    def __init__(self, s: float) -> None:
        self.s = s


def time_cell(clock: object) -> SimTime | None:
    """``clock``'s time cell if it is a :class:`SimClock`, else None (a real clock)."""
    time = getattr(clock, "time", None)
    return time if isinstance(time, SimTime) else None


class SimClock:
    """Simulated time in seconds, starting at ``start_s``."""

    def __init__(self, start_s: float = 0.0, realtime_factor: float | None = None) -> None:
        #: The time, :meth:`now`; a simulated bus advances it in place (see SimTime).
        self.time = SimTime(float(start_s))
        self._events: list[tuple[float, int, _Event]] = []
        self._order = itertools.count()
        self._dispatching = False
        #: Guards the time and the event heap, never held across an event's own code or
        #: any other lock: a simulated bus on this clock holds it for its transactions too
        #: (and advances :attr:`time` inside), so that no second lock is taken inside it.
        self.lock = self._lock = threading.RLock()
        self.realtime_factor = realtime_factor
        self._real = _real.MonotonicClock()

    def __repr__(self) -> str:
        return f"SimClock(now={self.time.s:.6f}, events={len(self._events)})"

    def now(self) -> float:
        return self.time.s

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` without running events."""
        if seconds < 0:
            raise ValueError(f"cannot advance time backwards ({seconds} s)")
        # ``with``, never acquire() then try: see SimI2CBus._simple.
        with self._lock:
            self.time.s += seconds

    def sleep(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every event that falls due."""
        if seconds < 0:
            seconds = 0.0
        self.run_until(self.time.s + seconds)
        if self.realtime_factor:
            self._real.sleep(seconds / self.realtime_factor)

    def run_until(self, t: float) -> None:
        """Run events in time order until time ``t`` (events may schedule more).

        The lock guards the event heap and the time, never an event's own code: an event
        may wait for a lock (a bus, a mux) that another thread holds while it advances the
        clock, and holding the clock's lock across the event would deadlock the two.
        """
        with self._lock:
            if self._dispatching:
                # Called from inside an event (or by another thread while one runs): just
                # move time; the dispatching loop runs the events.
                self.time.s = max(self.time.s, t)
                return
            self._dispatching = True
        events = self._events
        lock = self._lock
        try:
            while True:
                with lock:  # never acquire() then try: see SimI2CBus._simple
                    if not (events and events[0][0] <= t):
                        if t > self.time.s:
                            self.time.s = t
                        return
                    ev = heapq.heappop(events)[2]
                    if ev.cancelled:
                        continue
                    if ev.t > self.time.s:
                        self.time.s = ev.t
                    if ev.period_s is not None:
                        ev.t += ev.period_s
                        while ev.t <= self.time.s - ev.period_s:  # skip periods lost to lag
                            ev.t += ev.period_s
                        ev.order = next(self._order)
                        heapq.heappush(events, (ev.t, ev.order, ev))
                ev.fn()
        finally:
            self._dispatching = False

    def call_at(self, t: float, fn: Callable[[], None], name: str = "event") -> _Event:
        """Run ``fn`` once when time reaches ``t``; returns a handle with ``cancel()``."""
        with self._lock:
            ev = _Event(max(t, self.time.s), next(self._order), fn, None, False, name)
            heapq.heappush(self._events, (ev.t, ev.order, ev))
            return ev

    def call_later(self, delay_s: float, fn: Callable[[], None], name: str = "event") -> _Event:
        return self.call_at(self.time.s + delay_s, fn, name)

    def every(self, period_s: float, fn: Callable[[], None], name: str = "periodic") -> _Event:
        """Run ``fn`` every ``period_s`` (first call one period from now) until cancelled."""
        if period_s <= 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        with self._lock:
            ev = _Event(self.time.s + period_s, next(self._order), fn, period_s, False, name)
            heapq.heappush(self._events, (ev.t, ev.order, ev))
            return ev

    def pending(self) -> int:
        """Number of scheduled, not cancelled events."""
        return sum(1 for e in self._events if not e[2].cancelled)


class RealTimeClock(_real.MonotonicClock):
    """The real clock for simulated chips and buses, to measure the host side in real time
    (loop jitter): wire time is not waited for, only the host's own time passes."""

    def advance(self, seconds: float) -> None:
        """The bus accounts for wire time here; in real time nothing waits for it."""
