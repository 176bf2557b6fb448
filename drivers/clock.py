"""The clock seam: a monotonic clock with ``now()`` and ``sleep()``.

Drivers, sensors and the session take a clock object instead of calling ``time`` directly,
so tests and ``--sim`` can run on :class:`drivers.sim.clock.SimClock`, which advances
instantly and steps the simulated world. This module is the only product code that calls
``time.sleep``.
"""

import time

try:
    from typing import Callable, Protocol
except ImportError:  # MicroPython
    Protocol = object  # type: ignore[assignment]


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


class MonotonicClock:
    """The real clock: ``time.monotonic`` on CPython, ``ticks_ms`` on MicroPython."""

    def now(self) -> float:
        mono = getattr(time, "monotonic", None)
        if mono is not None:
            return mono()
        return time.ticks_ms() / 1000.0  # type: ignore[attr-defined]

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def every(self, period_s, fn, name="periodic"):
        """Run ``fn`` at a fixed rate in a thread owned by the returned handle (CPython)."""
        from drivers._periodic import PeriodicThread  # CPython only: uses threading

        return PeriodicThread(self, period_s, fn, name)


def wait_until(clock, predicate, timeout_s: float, poll_s: float = 0.001) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes; returns its last value.

    Every wait in the product is bounded: this never blocks longer than ``timeout_s`` plus
    one ``poll_s``.
    """
    deadline = clock.now() + timeout_s
    while True:
        if predicate():
            return True
        if clock.now() >= deadline:
            return bool(predicate())
        clock.sleep(poll_s)
