"""The acquisition loop's book of sensor faults, events and counters.

The loop writes it (a count, an event, a fault raised, a part recovered); the session's
thread reads it (:meth:`FaultBook.check`, :meth:`FaultBook.pending_faults`,
:meth:`FaultBook.forget_recovered`, :meth:`FaultBook.counters_snapshot`). ``lock`` guards
``active_faults``, the faults not raised yet, ``counters`` and ``events``; it is held for one
update or copy, never across the ``on_fault`` callback or bus I/O.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, TypeVar

from sensors.faults import Event, SensorFault

T = TypeVar("T")

#: The book's keys of the supply reference and of the whole glove (every IMU failing at once).
SUPPLY_REF = "supply_ref"
GLOVE = "glove"


def pad_key(pad: int) -> str:
    """The book's key of pad ``pad`` ("pad0")."""
    return f"pad{pad}"


def imu_key(segment: str) -> str:
    """The book's key of the IMU on ``segment`` ("imu:back")."""
    return f"imu:{segment}"


class BusFailed(Exception):
    """A bus call failed, and failed again when retried; ``errno`` is the second error's."""

    def __init__(self, errno: int | None) -> None:
        super().__init__(f"bus call failed twice (errno {errno})")
        self.errno = errno


class FaultBook:
    """Faults by part key (:func:`pad_key`, :func:`imu_key`, :data:`GLOVE`, :data:`SUPPLY_REF`), the
    newest ``max_events`` events stamped on ``clock``, and counters by event kind.

    ``on_fault`` is called with each new fault, outside the lock (the station turns the
    motors off there). The loop is the only writer of ``active_faults``.
    """

    def __init__(
        self,
        clock: Any,
        on_fault: Callable[[SensorFault], None] | None = None,
        max_events: int = 1000,
        lock: threading.Lock | None = None,
    ) -> None:
        self.clock = clock
        self.on_fault = on_fault
        self.lock = lock if lock is not None else threading.Lock()
        self.active_faults: dict[str, SensorFault] = {}
        self.events: deque[Event] = deque(maxlen=max_events)
        #: Events counted by kind; another thread reads them with :meth:`counters_snapshot`.
        self.counters: Counter[str] = Counter()
        self._unraised: list[SensorFault] = []

    def __repr__(self) -> str:
        return f"FaultBook({sorted(self.active_faults)} active, {len(self.events)} events)"

    # -- the loop's side -------------------------------------------------------------------

    def attempt(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, tried again once on ``OSError`` (counted as ``retries``); raises
        :class:`BusFailed` if the retry fails too."""
        try:
            return fn(*args)
        except OSError:
            return self.retry(fn, *args)

    def retry(self, fn: Callable[..., T], *args: Any) -> T:
        """The second try of :meth:`attempt`, for a caller that made the first ``fn(*args)``
        itself and met ``OSError``: counts ``retries``, raises :class:`BusFailed` if the
        retry fails too."""
        self.count("retries")
        try:
            return fn(*args)
        except OSError as exc:
            raise BusFailed(exc.errno) from exc

    def count(self, key: str, n: int = 1) -> None:
        # Under the lock: a reader copying the counters on another thread must not see the
        # dict change size (a new key) while it iterates.
        with self.lock:
            self.counters[key] += n

    def event(
        self,
        kind: str,
        part: str,
        errno: int | None = None,
        detail: str = "",
        fault: SensorFault | None = None,
    ) -> None:
        """Count ``kind`` and keep the event, stamped now."""
        ev = Event(self.clock.now(), kind, part, errno, detail, fault)
        with self.lock:
            self.counters[kind] += 1
            self.events.append(ev)

    def fault(self, key: str, fault: SensorFault) -> None:
        """``fault`` is active for part ``key`` until :meth:`recovered`: record it, then
        tell ``on_fault``."""
        with self.lock:
            self.active_faults[key] = fault
            self._unraised.append(fault)
        self.event(fault.kind, fault.part, fault.errno, fault.detail, fault)
        if self.on_fault is not None:
            self.on_fault(fault)

    def recovered(self, key: str) -> None:
        """Part ``key`` answers again: its fault (if any) is no longer active."""
        if key not in self.active_faults:
            return  # the common case, every sample: no lock (the loop is the only writer)
        with self.lock:
            gone = self.active_faults.pop(key, None)
        if gone is not None:
            self.event("recovered", key)

    # -- the readers' side -----------------------------------------------------------------

    def raise_active(self, *keys: str) -> None:
        """Raise the active fault of the first of ``keys`` that has one."""
        for key in keys:
            # .get(): the loop may clear a fault between a membership test and an index.
            fault = self.active_faults.get(key)
            if fault is not None:
                raise fault

    def counters_snapshot(self) -> dict[str, int]:
        """A copy of :attr:`counters`, safe to iterate on any thread while the loop runs."""
        with self.lock:
            return dict(self.counters)

    def check(self, relevant: Callable[[SensorFault], bool] | None = None) -> None:
        """Raise the oldest fault not raised yet (PadFault, ImuFault, GloveUnplugged), of
        those ``relevant`` accepts (default: all); the others stay for another check."""
        with self.lock:
            for i, fault in enumerate(self._unraised):
                if relevant is None or relevant(fault):
                    del self._unraised[i]
                    break
            else:
                return
        raise fault

    def pending_faults(self) -> list[SensorFault]:
        """The faults not raised yet, oldest first (a copy of the list)."""
        with self.lock:
            return list(self._unraised)

    def forget_recovered(self) -> list[SensorFault]:
        """Drop the unraised faults of parts that have recovered since (a glove unplugged
        and plugged back at the menu must not end the next session); returns them."""
        with self.lock:
            active = {id(f) for f in self.active_faults.values()}
            gone = [f for f in self._unraised if id(f) not in active]
            self._unraised = [f for f in self._unraised if id(f) in active]
        return gone
