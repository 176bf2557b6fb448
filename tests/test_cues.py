"""Audio cues on a gpiozero TonalBuzzer over a mock PWM pin, timed by the SimClock."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from gpiozero import TonalBuzzer
from gpiozero.pins.mock import MockFactory, MockPWMPin

from drivers.sim.clock import SimClock
from ui_lcd.cues import SEQUENCES, Cues

PIN = 18


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory(pin_class=MockPWMPin)
    try:
        yield f
    finally:
        f.reset()


@pytest.fixture
def buzzer(factory: MockFactory) -> Iterator[TonalBuzzer]:
    b = TonalBuzzer(PIN, pin_factory=factory)
    try:
        yield b
    finally:
        b.close()


def probe(clock: SimClock, factory: MockFactory, times: list[float]) -> list[tuple[float, float]]:
    """(frequency Hz or 0 when silent) sampled at ``times`` while a cue plays."""
    pin = factory.pin(PIN)
    seen: list[tuple[float, float]] = []

    def sample() -> None:
        seen.append((clock.now(), round(pin.frequency, 1) if pin.state else 0.0))

    for t in times:
        clock.call_at(t, sample)
    return seen


def test_cues_start_plays_low_then_mid_tone(factory: MockFactory, buzzer: TonalBuzzer) -> None:
    clock = SimClock()
    seen = probe(clock, factory, [0.05, 0.12, 0.20])
    Cues(buzzer, clock).start()
    # A4 = 440 Hz is the buzzer's mid tone; 5 semitones below is E4 = 329.6 Hz.
    assert seen == [(0.05, 329.6), (0.12, 0.0), (0.20, 440.0)]
    assert clock.now() == pytest.approx(0.29)
    assert factory.pin(PIN).state == 0  # silent afterwards


def test_cues_correct_rises_and_incorrect_is_one_low_tone(
    factory: MockFactory, buzzer: TonalBuzzer
) -> None:
    clock = SimClock()
    cues = Cues(buzzer, clock)
    seen = probe(clock, factory, [0.04, 0.15])
    cues.correct()
    assert seen == [(0.04, 554.4), (0.15, 659.3)]  # C#5 then E5
    seen = probe(clock, factory, [0.30])
    cues.incorrect()
    assert seen == [(0.30, 329.6)]
    assert [name for _, name in cues.played] == ["correct", "incorrect"]


def test_cues_rest_over_is_three_beeps(factory: MockFactory, buzzer: TonalBuzzer) -> None:
    clock = SimClock()
    seen = probe(clock, factory, [0.05, 0.14, 0.23, 0.32, 0.41])
    Cues(buzzer, clock).rest_over()
    assert [f for _, f in seen] == [440.0, 0.0, 440.0, 0.0, 440.0]


def test_cues_every_sequence_fits_the_buzzer_range(buzzer: TonalBuzzer) -> None:
    clock = SimClock()
    cues = Cues(buzzer, clock)
    for name in SEQUENCES:
        cues.play(name)  # TonalBuzzer.play raises ValueError out of range; Cues would log it
    assert len(cues.played) == len(SEQUENCES)
    assert all(sum(s for _, s in seq) < 0.5 for seq in SEQUENCES.values())


def test_cues_disabled_is_silent_and_takes_no_time(
    factory: MockFactory, buzzer: TonalBuzzer
) -> None:
    clock = SimClock()
    states = list(factory.pin(PIN).states)
    cues = Cues(buzzer, clock, enabled=False)
    cues.start()
    cues.rest_over()
    assert factory.pin(PIN).states == states
    assert clock.now() == 0.0 and cues.played == []


def test_cues_without_buzzer_are_no_ops() -> None:
    clock = SimClock()
    cues = Cues(None, clock)
    cues.correct()
    assert clock.now() == 0.0 and not cues.active


def test_cues_unknown_name_rejected() -> None:
    with pytest.raises(ValueError, match="rest_over"):
        Cues(None, SimClock()).play("fanfare")


class BrokenBuzzer:
    """A buzzer whose pin has gone: play fails, stop still works."""

    def __init__(self, mid_tone: object) -> None:
        self.mid_tone = mid_tone
        self.stops = 0

    def play(self, tone: object) -> None:
        raise OSError(5, "Input/output error")

    def stop(self) -> None:
        self.stops += 1


def test_cues_buzzer_fault_is_logged_not_raised(
    buzzer: TonalBuzzer, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenBuzzer(buzzer.mid_tone)
    with caplog.at_level(logging.ERROR, logger="ui_lcd.cues"):
        Cues(broken, SimClock()).start()
    assert broken.stops == 1
    assert "audio cue 'start' failed" in caplog.text


def test_cues_a_session_stop_during_a_cue_is_not_swallowed(
    factory: MockFactory, buzzer: TonalBuzzer
) -> None:
    """SIGTERM's handler raises SessionStop wherever the main thread is, here inside a cue:
    the cue's best-effort error handling must let it through (the session then ends and
    the motors go off), and the buzzer is silent."""
    from station.safety import SessionStop

    clock = SimClock()

    def signal_arrives() -> None:
        raise SessionStop("SIGTERM received", "incomplete", "S-SIGNAL")

    clock.call_at(0.1, signal_arrives)
    with pytest.raises(SessionStop):
        Cues(buzzer, clock).start()
    assert factory.pin(PIN).state == 0
