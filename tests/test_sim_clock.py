"""The simulated clock: instant time, ordered events, no events during advance()."""

from __future__ import annotations

import pytest

from drivers.clock import MonotonicClock, wait_until
from drivers.sim.clock import SimClock


def test_sim_clock_runs_events_in_time_order() -> None:
    clock = SimClock()
    seen: list[tuple[str, float]] = []
    clock.call_at(0.3, lambda: seen.append(("b", clock.now())))
    clock.call_at(0.1, lambda: seen.append(("a", clock.now())))
    clock.sleep(0.2)
    assert seen == [("a", 0.1)]
    assert clock.now() == pytest.approx(0.2)
    clock.sleep(1.0)
    assert seen == [("a", 0.1), ("b", 0.3)]
    assert clock.now() == pytest.approx(1.2)


def test_sim_clock_every_repeats_until_cancelled() -> None:
    clock = SimClock()
    ticks: list[float] = []
    handle = clock.every(0.01, lambda: ticks.append(clock.now()))
    clock.sleep(0.1)
    assert len(ticks) == 10
    assert ticks[0] == pytest.approx(0.01)
    handle.cancel()
    clock.sleep(0.1)
    assert len(ticks) == 10


def test_sim_clock_advance_does_not_run_events() -> None:
    clock = SimClock()
    ran: list[float] = []
    clock.call_at(0.05, lambda: ran.append(clock.now()))
    clock.advance(0.1)
    assert ran == []
    clock.sleep(0)
    assert ran == [pytest.approx(0.1)]  # late, as a real thread would be


def test_sim_clock_nested_sleep_in_an_event_only_moves_time() -> None:
    clock = SimClock()
    order: list[str] = []

    def first() -> None:
        order.append("first")
        clock.sleep(0.5)  # e.g. a driver waiting for a conversion inside the acquisition poll
        order.append("first-done")

    clock.call_at(0.1, first)
    clock.call_at(0.2, lambda: order.append("second"))
    clock.sleep(1.0)
    assert order == ["first", "first-done", "second"]
    assert clock.now() == pytest.approx(1.0)


def test_sim_clock_rejects_backwards_time() -> None:
    with pytest.raises(ValueError):
        SimClock().advance(-1)


def test_wait_until_is_bounded_on_the_sim_clock() -> None:
    clock = SimClock()
    assert wait_until(clock, lambda: False, timeout_s=2.0, poll_s=0.1) is False
    assert clock.now() == pytest.approx(2.0, abs=0.11)
    flag = {"v": False}
    clock.call_at(2.5, lambda: flag.update(v=True))
    assert wait_until(clock, lambda: flag["v"], timeout_s=5.0, poll_s=0.1) is True
    assert clock.now() < 2.7


def test_monotonic_clock_every_runs_on_a_thread_and_stops() -> None:
    clock = MonotonicClock()
    ticks: list[float] = []
    handle = clock.every(0.005, lambda: ticks.append(clock.now()), name="t")
    assert wait_until(clock, lambda: len(ticks) >= 3, timeout_s=5.0, poll_s=0.005)
    handle.cancel()
    n = len(ticks)
    clock.sleep(0.03)
    assert len(ticks) == n
