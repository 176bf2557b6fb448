"""Safety rules and the watchdog, each fault path with the input that triggers it."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.clock import MonotonicClock, wait_until
from drivers.sim.clock import SimClock
from station.plan import Caps
from station.safety import (
    SafetyLayer,
    SessionStop,
    checkin_decision,
    clamp_force_target,
    fatigue_decision,
    pain_decision,
)

CAPS = Caps(
    max_vibration_g=2.0,
    daily_vibration_min=20,
    max_force_n=15.0,
    max_session_min=20,
    min_rest_s=15,
    pain_stop_nrs=5,
    pain_rise_stop=2,
)


def test_checkin_rules() -> None:
    assert checkin_decision(0, False, False, CAPS) is None
    assert checkin_decision(4, False, False, CAPS) is None
    d = checkin_decision(5, False, False, CAPS)
    assert d is not None and d.scope == "session" and d.kind == "checkin_pain"
    d = checkin_decision(0, False, True, CAPS)
    assert d is not None and d.scope == "session" and d.kind == "checkin_wound"
    d = checkin_decision(1, True, False, CAPS)
    assert d is not None and d.scope == "vibration"


def test_pain_rules_limit_and_rise() -> None:
    assert pain_decision(2, 3, CAPS) is None
    rise = pain_decision(1, 3, CAPS)
    assert rise is not None and rise.kind == "pain_rise"
    limit = pain_decision(4, 5, CAPS)
    assert limit is not None and limit.kind == "pain_limit"


def test_fatigue_rule_fires_past_a_quarter_drop() -> None:
    assert fatigue_decision([10.0]) is None
    assert fatigue_decision([10.0, 9.0, 7.6]) is None
    d = fatigue_decision([10.0, 8.5, 7.4])
    assert d is not None and d.scope == "force" and d.detail["drop"] == pytest.approx(0.26)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.one_of(st.none(), st.floats(5, 100)),
    st.one_of(st.none(), st.floats(0, 1e4)),
)
def test_force_target_never_exceeds_the_caps(
    target: float, pct: float | None, other: float | None
) -> None:
    caps = Caps(**{**CAPS.__dict__, "force_ceiling_pct_other_hand": pct})
    out = clamp_force_target(target, caps, other)
    assert 0.0 <= out <= CAPS.max_force_n
    if pct is not None and other:
        assert out <= other * pct / 100.0 + 1e-9


class Motors:
    def __init__(self) -> None:
        self.off_calls = 0
        self.on = True

    def off(self) -> None:
        self.off_calls += 1
        self.on = False


def layer(clock: Any, watchdog_s: float = 0.5) -> tuple[SafetyLayer, Motors, list]:
    motors = Motors()
    events: list[tuple] = []
    s = SafetyLayer(motors.off, lambda *a, **k: events.append((a, k)), clock, watchdog_s)
    return s, motors, events


def test_stop_button_cuts_motors_immediately_and_latches() -> None:
    s, motors, _ = layer(SimClock())
    s.check_stop()
    s.on_stop_button()
    assert not motors.on and motors.off_calls == 1
    with pytest.raises(SessionStop) as info:
        s.check_stop()
    assert info.value.code == "S-STOP"


def test_watchdog_turns_motors_off_when_the_loop_stalls() -> None:
    s, motors, events = layer(SimClock(), watchdog_s=0.05)
    s.watchdog.start()
    try:
        # No heartbeats: the loop has stalled.
        assert wait_until(MonotonicClock(), lambda: not motors.on, timeout_s=5.0, poll_s=0.01)
    finally:
        s.watchdog.stop()
    assert s.watchdog.stalls >= 1
    assert events[0][0][1] == "watchdog"


def test_watchdog_fires_only_while_a_motor_may_be_running() -> None:
    """A loop that is slow while nothing vibrates (a journal commit on a slow SD card)
    is no stall; once a motor runs, the same silence turns it off."""
    motors = Motors()
    running = threading.Event()
    events: list[tuple] = []
    s = SafetyLayer(
        motors.off, lambda *a, **k: events.append((a, k)), SimClock(), 0.05, running.is_set
    )
    clock = MonotonicClock()
    s.watchdog.start()
    try:
        clock.sleep(0.4)  # eight timeouts of silence, no motor running
        assert s.watchdog.stalls == 0 and motors.on and events == []
        running.set()
        assert wait_until(clock, lambda: not motors.on, timeout_s=5.0, poll_s=0.01)
    finally:
        s.watchdog.stop()
    assert s.watchdog.stalls == 1 and events[0][0][1] == "watchdog"


def test_watchdog_fires_when_it_cannot_tell_whether_a_motor_runs() -> None:
    def unknown() -> bool:
        raise OSError(5, "Input/output error")

    motors = Motors()
    s = SafetyLayer(motors.off, lambda *a, **k: None, SimClock(), 0.05, unknown)
    s.watchdog.start()
    try:
        assert wait_until(MonotonicClock(), lambda: not motors.on, timeout_s=5.0, poll_s=0.01)
    finally:
        s.watchdog.stop()
    assert s.watchdog.stalls == 1


def test_watchdog_stays_quiet_while_heartbeats_arrive() -> None:
    s, motors, _ = layer(SimClock(), watchdog_s=0.2)
    clock = MonotonicClock()
    s.watchdog.start()
    try:
        end = clock.now() + 0.6
        while clock.now() < end:
            s.heartbeat()
            clock.sleep(0.01)
    finally:
        s.watchdog.stop()
    assert motors.on and s.watchdog.stalls == 0


def test_motors_off_never_raises() -> None:
    def broken() -> None:
        raise OSError(121, "Remote I/O error")

    s = SafetyLayer(broken, lambda *a, **k: None, SimClock(), 0.5)
    s.motors_off("test")  # logged, not raised
    assert s.motors_off_count == 1


def test_sigterm_turns_motors_off_and_ends_the_session() -> None:
    s, motors, _ = layer(SimClock())
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SessionStop) as info, s.signals():
        signal.raise_signal(signal.SIGTERM)
    assert info.value.state == "incomplete" and not motors.on
    assert signal.getsignal(signal.SIGTERM) is before  # whatever the test runner had


def test_signal_while_held_waits_for_the_session_then_ends_it() -> None:
    """While the session row is opened or closed, a signal must not unwind it: it waits,
    and ends the session when the window is released."""
    s, _, _ = layer(SimClock())
    with s.signals() as window:
        with window.hold():
            signal.raise_signal(signal.SIGTERM)  # no SessionStop here
        with pytest.raises(SessionStop) as info, window.released():
            pass
        assert (info.value.state, info.value.code) == ("incomplete", "S-SIGNAL")
        assert info.value.reason == "SIGTERM received"
        assert window.take() is None  # taken once


def test_signal_nobody_took_goes_on_to_the_handler_before() -> None:
    s, _, _ = layer(SimClock())
    got: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, _frame: got.append(signum))
    try:
        with s.signals() as window, window.hold():
            signal.raise_signal(signal.SIGINT)
            assert got == []  # the session's handler had it
        assert got == [signal.SIGINT]  # then the one from before, once the window closed
    finally:
        signal.signal(signal.SIGINT, old)


def test_stop_seen_by_the_loop_before_the_button_callback_ran_ends_the_session() -> None:
    """The buttons latch Stop, then call the safety layer's callback on their thread; a
    question's wait that looks in between sees the latch first. That is a Stop too (before,
    it surfaced as StopPressed, a 'software problem' E-SW-01)."""
    from gpiozero.pins.mock import MockFactory

    from station.ui import SessionUi
    from ui_lcd.buttons import Buttons
    from ui_lcd.screens import Screens

    factory = MockFactory()
    clock = SimClock()
    buttons = Buttons({"ok": 5, "back": 6, "left": 13, "right": 19, "stop": 26}, clock,
                      pin_factory=factory)  # fmt: skip
    s, _, _ = layer(clock)
    try:
        # the callback has not run yet: nothing registered on the buttons' Stop
        ui = SessionUi(Screens("20x4"), clock, buttons, on_stop=s.stop_seen)
        factory.pin(26).drive_low()
        with pytest.raises(SessionStop) as info:
            ui.ask_ok("grip.place", 5.0, hand="left")
        assert info.value.code == "S-STOP" and s.stop_pressed.is_set()
    finally:
        buttons.close()
        factory.reset()


def test_stop_button_latches_before_it_turns_the_motors_off() -> None:
    seen: list[bool] = []
    s = SafetyLayer(lambda: seen.append(s.stop_pressed.is_set()), lambda *a, **k: None,
                    SimClock(), 0.5)  # fmt: skip
    s.on_stop_button()
    assert seen == [True]  # the loop can never see motors going off without the Stop
