"""The acquisition's fault book: faults raised and recovered, events, counters, the checks
the session thread makes, and the bus retry policy."""

from __future__ import annotations

import errno
from collections import Counter

import pytest

from drivers.sim.clock import SimClock
from sensors.fault_book import GLOVE, SUPPLY_REF, BusFailed, FaultBook, imu_key, pad_key
from sensors.faults import GloveUnplugged, ImuFault, PadFault, SensorFault, SupplyRefFault


def test_fault_book_keys_name_the_part() -> None:
    assert (pad_key(3), imu_key("back"), GLOVE, SUPPLY_REF) == (
        "pad3",
        "imu:back",
        "glove",
        "supply_ref",
    )


def test_fault_book_fault_is_active_kept_as_an_event_and_told() -> None:
    clock = SimClock()
    told: list[SensorFault] = []
    book = FaultBook(clock, on_fault=told.append)
    clock.advance(1.5)
    fault = PadFault(2, errno.EREMOTEIO, "ADS1115 read failed")
    book.fault("pad2", fault)
    assert book.active_faults == {"pad2": fault} and told == [fault]
    (ev,) = book.events
    assert (ev.t_s, ev.kind, ev.part, ev.errno, ev.detail, ev.fault) == (
        1.5,
        "pad_fault",
        "pad 2",
        121,
        "ADS1115 read failed",
        fault,
    )
    assert book.counters_snapshot() == {"pad_fault": 1}


def test_fault_book_recovered_clears_the_fault_once() -> None:
    book = FaultBook(SimClock())
    book.recovered("pad0")  # nothing active: nothing happens
    assert not book.events
    book.fault("pad0", PadFault(0))
    book.recovered("pad0")
    book.recovered("pad0")
    assert not book.active_faults
    assert [(e.kind, e.part) for e in book.events] == [
        ("pad_fault", "pad 0"),
        ("recovered", "pad0"),
    ]
    assert book.counters["recovered"] == 1


def test_fault_book_check_raises_the_oldest_relevant_fault_once() -> None:
    book = FaultBook(SimClock())
    imu, pad = ImuFault("index", 121), PadFault(1, 121)
    book.fault(imu_key("index"), imu)
    book.fault(pad_key(1), pad)
    with pytest.raises(PadFault) as exc:
        book.check(lambda f: isinstance(f, PadFault))
    assert exc.value is pad
    assert book.pending_faults() == [imu]  # the IMU fault waits for another check
    with pytest.raises(ImuFault):
        book.check()
    book.check()  # nothing left: returns
    assert book.active_faults == {"imu:index": imu, "pad1": pad}  # raised, still active


def test_fault_book_forget_recovered_drops_only_the_recovered_parts_faults() -> None:
    book = FaultBook(SimClock())
    glove, supply = GloveUnplugged(121), SupplyRefFault(None, "reads 2.1 V")
    book.fault(GLOVE, glove)
    book.fault(SUPPLY_REF, supply)
    book.recovered(GLOVE)
    assert book.forget_recovered() == [glove]
    assert book.pending_faults() == [supply]


def test_fault_book_raise_active_raises_the_first_key_with_a_fault() -> None:
    book = FaultBook(SimClock())
    book.raise_active(GLOVE, "imu:back")  # none active: returns
    back, glove = ImuFault("back", 121), GloveUnplugged(121)
    book.fault("imu:back", back)
    with pytest.raises(ImuFault) as exc:
        book.raise_active(GLOVE, "imu:back")
    assert exc.value is back
    book.fault(GLOVE, glove)
    with pytest.raises(GloveUnplugged):
        book.raise_active(GLOVE, "imu:back")


def test_fault_book_keeps_the_newest_max_events() -> None:
    clock = SimClock()
    book = FaultBook(clock, max_events=3)
    for i in range(5):
        clock.advance(1.0)
        book.event("overrun", "loop", detail=f"{i} ticks late")
    assert [e.detail for e in book.events] == ["2 ticks late", "3 ticks late", "4 ticks late"]
    assert book.counters["overrun"] == 5  # every event is counted


class _Flaky:
    """A bus call that fails with ``errnos`` in turn, then returns ``value``."""

    def __init__(self, *errnos: int, value: int = 7) -> None:
        self.errnos = list(errnos)
        self.value = value
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, *args: int) -> int:
        self.calls.append(args)
        if self.errnos:
            raise OSError(self.errnos.pop(0), "I/O error")
        return self.value


def test_fault_book_attempt_retries_a_failed_call_once() -> None:
    book = FaultBook(SimClock())
    assert book.attempt(_Flaky(), 3) == 7 and not book.counters
    call = _Flaky(errno.EIO)
    assert book.attempt(call, 3) == 7
    assert call.calls == [(3,), (3,)] and book.counters["retries"] == 1


def test_fault_book_attempt_raises_bus_failed_with_the_second_errno() -> None:
    book = FaultBook(SimClock())
    call = _Flaky(errno.EIO, errno.EREMOTEIO)
    with pytest.raises(BusFailed) as exc:
        book.attempt(call)
    assert exc.value.errno == errno.EREMOTEIO and len(call.calls) == 2
    assert book.counters == Counter(retries=1)
    assert not book.events  # a failed call is the caller's event, naming its part


class _LockChecked(Counter):
    """Counters that fail if changed without holding ``lock``."""

    def __init__(self, lock: object) -> None:
        super().__init__()
        self.lock = lock

    def __setitem__(self, key: str, value: int) -> None:
        assert self.lock.locked(), f"counter {key!r} changed without the lock"  # type: ignore[attr-defined]
        super().__setitem__(key, value)


def test_fault_book_counts_under_its_lock_and_snapshots_a_copy() -> None:
    book = FaultBook(SimClock())
    book.counters = _LockChecked(book.lock)
    book.count("late_conversions", 2)
    book.event("bus_error", "pad0", 121, "read")
    book.fault("pad0", PadFault(0, 121))
    book.recovered("pad0")
    book.attempt(_Flaky(errno.EIO))
    snapshot = book.counters_snapshot()
    assert snapshot == {
        "late_conversions": 2,
        "bus_error": 1,
        "pad_fault": 1,
        "recovered": 1,
        "retries": 1,
    }
    book.count("retries")
    assert snapshot["retries"] == 1  # a copy
