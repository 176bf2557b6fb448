"""A signal handler that raises (SIGTERM ending a session) never leaves a lock held.

The station's handler raises in the main thread between two bytecodes. CPython runs it at
its eval-breaker checks, one of which ends every call: after ``lock.acquire()`` returns
and before a ``try`` that would release it. A lock taken that way leaks when the signal
lands there, and the thread that turns the motors off on a signal then waits for it for
ever (seen: a station that did not exit after SIGTERM). ``with lock:`` has no such gap.
This drives thousands of interrupts into the hot paths that hold the simulated clock's and
the sample store's locks and checks, after each, that nothing is left held.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from test_sim_bus_shortcut import _Reg

from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from sensors.force_pads import PadSample
from sensors.ring import SampleStore

#: Interrupts per path: the gap is a few bytecodes of each loop, so with this many a
#: leaking path is caught many times over (it leaked within the first hundred).
INTERRUPTS = 1500


LockLike = Any  # threading.Lock or RLock (factory functions, not types)


class _Interrupt(Exception):
    pass


def _raise(*_: object) -> None:
    raise _Interrupt


def _held_by_nobody(lock: LockLike) -> bool:
    """True if no thread holds ``lock`` (another thread can take it at once)."""
    got: list[bool] = []

    def take() -> None:
        got.append(lock.acquire(timeout=0.5))
        if got[0]:
            lock.release()

    t = threading.Thread(target=take)
    t.start()
    t.join()
    return got[0]


def _interrupted(work: Callable[[], None], lock: LockLike) -> int:
    """Run ``work`` in a loop, interrupted ``INTERRUPTS`` times by a raising SIGALRM
    handler; fail as soon as ``lock`` is left held. Returns the interrupts delivered."""
    old = signal.signal(signal.SIGALRM, _raise)
    delivered = 0
    try:
        for k in range(INTERRUPTS):
            try:
                signal.setitimer(signal.ITIMER_REAL, 1e-5 * (1 + k % 7))
                while True:
                    work()
            except _Interrupt:
                delivered += 1
            assert _held_by_nobody(lock), f"lock left held after interrupt {k}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return delivered


def test_a_raising_signal_handler_never_leaves_the_simulated_clock_or_bus_lock_held() -> None:
    clock = SimClock()
    bus = SimI2CBus(clock, speed_hz=400_000, name="signals")
    bus.attach(0x48, _Reg())
    rx = bytearray(2)
    clock.every(0.001, lambda: None, "tick")

    def work() -> None:
        bus.readfrom_mem_into(0x48, 1, rx)  # the bus's shortcut, under the clock's lock
        clock.advance(1e-6)
        clock.sleep(0.002)  # run_until: the event loop's lock

    assert _interrupted(work, clock.lock) == INTERRUPTS


def test_a_raising_signal_handler_never_leaves_the_sample_stores_lock_held() -> None:
    store = SampleStore(1, 64, (), 8)
    sample = PadSample(0.0, 0, 1000, 0.5, 1e-4, 1.0, True, False, False)

    def work() -> None:
        store.put_pad(sample, 0)

    assert _interrupted(work, store.lock) == INTERRUPTS
