"""Buttons on gpiozero mock pins: press, hold, software debounce, Stop priority."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.sim.clock import SimClock
from ui_lcd.buttons import Buttons, Event, StopPressed

PINS = {"ok": 5, "back": 6, "left": 13, "right": 19, "stop": 26}


class Rig:
    def __init__(self, factory: MockFactory, clock: SimClock, buttons: Buttons) -> None:
        self.factory, self.clock, self.buttons = factory, clock, buttons

    def at(self, t: float, key: str, down: bool) -> None:
        pin = self.factory.pin(PINS[key])
        self.clock.call_at(t, pin.drive_low if down else pin.drive_high)

    def tap(self, t: float, key: str, length_s: float = 0.12) -> None:
        self.at(t, key, True)
        self.at(t + length_s, key, False)


@pytest.fixture
def rig() -> Iterator[Rig]:
    factory = MockFactory()
    clock = SimClock()
    buttons = Buttons(PINS, clock, pin_factory=factory)
    try:
        yield Rig(factory, clock, buttons)
    finally:
        buttons.close()
        factory.reset()


def test_buttons_press_is_an_event_stamped_by_the_clock(rig: Rig) -> None:
    rig.tap(0.5, "ok")
    ev = rig.buttons.wait_for(["ok"], timeout_s=5.0)
    assert ev == Event("ok", "press", 0.5)
    assert 0.5 <= rig.clock.now() < 0.52


def test_buttons_wait_times_out_on_the_clock(rig: Rig) -> None:
    assert rig.buttons.wait_for(["ok"], timeout_s=3.0) is None
    assert 3.0 <= rig.clock.now() < 3.02


def test_buttons_other_keys_are_dropped(rig: Rig) -> None:
    rig.tap(0.2, "left")
    rig.tap(0.6, "right")
    assert rig.buttons.wait_for(["right"], timeout_s=2.0) == Event("right", "press", 0.6)


def test_buttons_since_drops_presses_made_before_the_screen(rig: Rig) -> None:
    rig.tap(0.1, "ok")
    rig.clock.sleep(0.5)
    rig.tap(1.0, "ok")
    assert rig.buttons.wait_for(["ok"], 2.0, since_s=0.5) == Event("ok", "press", 1.0)


def test_buttons_flush_drops_queued_presses(rig: Rig) -> None:
    rig.tap(0.1, "ok")
    rig.clock.sleep(0.5)
    rig.buttons.flush()
    assert rig.buttons.wait_for(["ok"], 1.0) is None


def test_buttons_bounce_within_bounce_time_is_ignored(rig: Rig) -> None:
    # MockPin ignores bounce_time, so the test makes the bounce: contacts chatter for 8 ms
    # on the press and on the release.
    for t, down in (
        (1.000, True),
        (1.002, False),
        (1.004, True),
        (1.008, False),
        (1.010, True),
        (1.200, False),
        (1.203, True),
        (1.206, False),
    ):
        rig.at(t, "ok", down)
    rig.tap(2.0, "ok")
    first = rig.buttons.wait_for(["ok"], 5.0)
    second = rig.buttons.wait_for(["ok"], 5.0)
    assert (first, second) == (Event("ok", "press", 1.0), Event("ok", "press", 2.0))


def test_buttons_edges_after_bounce_time_are_new_presses(rig: Rig) -> None:
    # The same chatter, but slower than bounce_s (30 ms): two real presses.
    for t, down in ((1.00, True), (1.04, False), (1.08, True), (1.20, False)):
        rig.at(t, "ok", down)
    assert rig.buttons.wait_for(["ok"], 5.0) == Event("ok", "press", 1.0)
    assert rig.buttons.wait_for(["ok"], 5.0) == Event("ok", "press", 1.08)


def test_buttons_tap_shorter_than_bounce_time_settles_released(rig: Rig) -> None:
    rig.tap(1.0, "left", length_s=0.01)  # the release edge falls inside the lock-out
    assert rig.buttons.wait_for(["left"], 5.0) == Event("left", "press", 1.0)
    rig.clock.sleep(0.1)
    rig.buttons.poll()
    assert not rig.buttons.is_pressed("left")
    # ... so no phantom hold later
    assert rig.buttons.wait_for(["left"], 3.0, kinds=("hold",)) is None


def test_buttons_hold_reported_at_press_plus_hold_time(rig: Rig) -> None:
    rig.tap(1.0, "back", length_s=2.5)
    assert rig.buttons.wait_for(["back"], 5.0) == Event("back", "press", 1.0)
    ev = rig.buttons.wait_for(["back"], 5.0, kinds=("hold",))
    assert ev == Event("back", "hold", 2.5)
    assert 2.5 <= rig.clock.now() < 2.52  # reported while still held


def test_buttons_short_press_is_not_a_hold(rig: Rig) -> None:
    rig.tap(1.0, "back", length_s=1.4)
    assert rig.buttons.wait_for(["back"], 5.0, kinds=("hold",)) is None


def test_buttons_hold_reported_at_release_when_nobody_polled(rig: Rig) -> None:
    pin = rig.factory.pin(PINS["ok"])
    pin.drive_low()
    rig.clock.advance(2.0)  # time passes, no poll
    pin.drive_high()
    assert rig.buttons.wait_for(["ok"], 0.0, kinds=("hold",)) == Event("ok", "hold", 1.5)


def test_buttons_stop_during_a_wait_for_other_keys_raises(rig: Rig) -> None:
    seen: list[tuple[float, Event]] = []
    rig.buttons.on_stop(lambda ev: seen.append((rig.clock.now(), ev)))
    rig.tap(0.3, "stop")
    with pytest.raises(StopPressed) as info:
        rig.buttons.wait_for(["ok", "left", "right"], timeout_s=10.0)
    assert info.value.event == Event("stop", "press", 0.3)
    assert seen == [(0.3, Event("stop", "press", 0.3))]  # the callback ran at the press
    assert rig.buttons.stop_requested()


def test_buttons_stop_stays_latched_until_cleared(rig: Rig) -> None:
    rig.tap(0.3, "stop")
    with pytest.raises(StopPressed):
        rig.buttons.wait_for(["ok"], 10.0)
    t = rig.clock.now()
    with pytest.raises(StopPressed):
        rig.buttons.wait_for(["ok"], 10.0)  # not swallowed by the next wait either
    assert rig.clock.now() == t
    rig.buttons.clear_stop()
    assert not rig.buttons.stop_requested()
    assert rig.buttons.wait_for(["ok"], 1.0) is None


def test_buttons_stop_callback_runs_in_the_driving_thread_without_a_wait(rig: Rig) -> None:
    calls: list[Event] = []
    rig.buttons.on_stop(calls.append)
    rig.factory.pin(PINS["stop"]).drive_low()
    assert calls == [Event("stop", "press", 0.0)]


def test_buttons_failing_stop_callback_does_not_block_the_others(rig: Rig) -> None:
    calls: list[str] = []

    def broken(ev: Event) -> None:
        raise RuntimeError("motor driver gone")

    rig.buttons.on_stop(broken)
    rig.buttons.on_stop(lambda ev: calls.append("motors off"))
    rig.factory.pin(PINS["stop"]).drive_low()
    assert calls == ["motors off"]
    assert rig.buttons.stop_requested()


def test_buttons_waiting_for_stop_returns_it(rig: Rig) -> None:
    rig.tap(0.4, "stop")
    assert rig.buttons.wait_for(["ok", "stop"], 5.0) == Event("stop", "press", 0.4)


def test_buttons_stop_bounce_runs_callbacks_once(rig: Rig) -> None:
    calls: list[Event] = []
    rig.buttons.on_stop(calls.append)
    for t, down in ((1.000, True), (1.003, False), (1.006, True)):
        rig.at(t, "stop", down)
    rig.clock.sleep(2.0)
    assert calls == [Event("stop", "press", 1.0)]


def test_buttons_reject_bad_arguments(rig: Rig) -> None:
    with pytest.raises(ValueError, match="menu"):
        rig.buttons.wait_for(["menu"], 1.0)
    with pytest.raises(ValueError, match="hold_s"):
        Buttons({"ok": 20}, rig.clock, pin_factory=rig.factory, hold_s=0.01)
    with pytest.raises(ValueError, match="unknown button"):
        Buttons({"select": 20}, rig.clock, pin_factory=rig.factory)


def test_buttons_close_releases_the_pins(rig: Rig) -> None:
    rig.buttons.close()
    rig.buttons.close()  # idempotent
    again = Buttons(PINS, rig.clock, pin_factory=rig.factory)  # pins free again
    try:
        rig.tap(0.1, "ok")
        assert again.wait_for(["ok"], 1.0) == Event("ok", "press", 0.1)
    finally:
        again.close()


def test_buttons_require_their_pin_factory() -> None:
    """No fallback to gpiozero's global default factory: it would pick real pins in a
    simulation, or mock pins on a Pi, by itself."""
    clock = SimClock()
    with pytest.raises(TypeError, match="pin_factory"):
        Buttons(PINS, clock)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="pin_factory"):
        Buttons(PINS, clock, pin_factory=None)
    with pytest.raises(TypeError, match="positional"):
        Buttons(PINS, clock, MockFactory())  # type: ignore[misc]
