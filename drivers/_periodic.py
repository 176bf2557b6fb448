"""A fixed-rate thread for :meth:`drivers.clock.MonotonicClock.every` (CPython only)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol


class _Now(Protocol):
    def now(self) -> float: ...


log = logging.getLogger(__name__)


class PeriodicThread:
    """Calls ``fn`` every ``period_s`` on its own thread; ``cancel()`` stops and joins it.

    Missed periods are skipped, not bunched: after an overrun the next call is aligned to
    the next period boundary and ``overruns`` counts the periods lost.
    """

    def __init__(self, clock: _Now, period_s: float, fn: Callable[[], None], name: str) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0, got %r" % (period_s,))
        self._clock = clock
        self._period_s = period_s
        self._fn = fn
        self._stop = threading.Event()
        self.overruns = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_t = self._clock.now() + self._period_s
        while not self._stop.is_set():
            delay = next_t - self._clock.now()
            if delay > 0 and self._stop.wait(delay):
                break
            try:
                self._fn()
            except Exception:
                self.errors += 1
                log.exception("periodic task %s failed", self._thread.name)
            next_t += self._period_s
            lag = self._clock.now() - next_t
            if lag > 0:
                skipped = int(lag // self._period_s) + 1
                self.overruns += skipped
                next_t += skipped * self._period_s

    def cancel(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
