"""The keyboard player: key actions -> button presses and pad forces, on the simulated
world (FSR pads, motors) and gpiozero mock pins read by the station's own Buttons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.sim.clock import SimClock
from station.sim import player as player_mod
from station.sim.player import Player
from station.sim.world import World
from ui_lcd.buttons import Buttons

PINS = {"ok": 5, "back": 6, "left": 13, "right": 19, "stop": 26}


class RealTime:
    """The real clock the player reads auto-repeat gaps on, moved by the test."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Rig:
    clock: SimClock
    real: RealTime
    world: World
    buttons: Buttons
    player: Player
    grip_peak_n: float = 0.0  # the grip pad's force, sampled every 10 ms of a run

    def run(self, seconds: float, repeat_s: float | None = None, action: str = "squeeze"):
        """``seconds`` of time (real = simulated, speed 1), typing ``action`` every
        ``repeat_s`` (the terminal's auto-repeat) if given."""
        step, t, next_key = 0.01, 0.0, repeat_s
        while t < seconds - 1e-9:
            self.clock.sleep(step)
            self.real.t += step
            self.grip_peak_n = max(self.grip_peak_n, self.world.pads[0].force_at(self.clock.now()))
            t += step
            if repeat_s is not None and next_key is not None and t >= next_key - 1e-9:
                self.player.act(action)
                next_key += repeat_s


@pytest.fixture
def rig() -> Iterator[Rig]:
    factory = MockFactory()
    clock = SimClock()
    world = World(clock, seed=3, n_pads=4, n_motors=2)
    buttons = Buttons(PINS, clock, pin_factory=factory)
    real = RealTime()
    pins = {key: factory.pin(pin) for key, pin in PINS.items()}
    player = Player(clock, pins, world.pads, world.motors, real_now=real)
    player.start()
    try:
        yield Rig(clock, real, world, buttons, player)
    finally:
        player.stop()
        buttons.close()
        factory.reset()


def test_player_held_space_ramps_the_grip_pad_to_its_maximum_and_lets_go(rig: Rig) -> None:
    rig.player.act("squeeze")
    rig.run(0.5)  # the terminal's delay before it repeats
    rig.run(1.5, repeat_s=0.033)  # then a repeat every 33 ms
    grip = rig.world.pads[0]
    assert grip.force_at(rig.clock.now()) == pytest.approx(16.0)
    assert rig.player.squeezing
    rig.run(0.15 + 0.5)  # no repeat: let go after 0.15 s, then 40 N/s down
    assert grip.force_at(rig.clock.now()) == 0.0
    assert [s.peak_n for s in rig.player.squeezes] == [pytest.approx(16.0)]


def test_player_a_single_space_is_a_short_squeeze(rig: Rig) -> None:
    rig.player.act("squeeze")
    rig.run(2.0)
    (squeeze,) = rig.player.squeezes
    # held until the first repeat could have come (0.7 s) at 12 N/s, one 20 ms tick late
    expected = player_mod.RAMP_N_PER_S * player_mod.FIRST_REPEAT_S
    assert squeeze.peak_n == pytest.approx(expected, abs=player_mod.RAMP_N_PER_S * 0.021)
    assert rig.grip_peak_n == pytest.approx(squeeze.peak_n, abs=0.01)  # the pad's truth


def test_player_taps_each_key_event_once_even_typed_at_once(rig: Rig) -> None:
    for _ in range(3):
        rig.player.act("right")
    rig.player.act("ok")
    events = []
    while (ev := rig.buttons.wait_for(["right", "ok"], timeout_s=1.0)) is not None:
        events.append(ev.key)
    assert sorted(events) == ["ok", "right", "right", "right"]
    assert not any(rig.player.buttons_down().values())


def test_player_back_stays_down_while_its_key_repeats(rig: Rig) -> None:
    rig.player.act("back")
    rig.run(0.5)
    rig.run(1.0, repeat_s=0.04, action="back")
    assert rig.buttons.is_pressed("back")  # a protocol reads this as "pause"
    rig.run(0.3)
    assert not rig.buttons.is_pressed("back")


def test_player_chooses_a_pad_and_steps_its_force(rig: Rig) -> None:
    rig.player.act("pad3")
    for _ in range(6):
        rig.player.act("harder")
    rig.player.act("softer")
    rig.run(0.1)
    now = rig.clock.now()
    assert [p.force_at(now) for p in rig.world.pads] == [0.0, 0.0, 1.25, 0.0]
    for _ in range(10):
        rig.player.act("softer")  # never below nothing
    rig.player.act("pad2")
    rig.player.act("harder")
    rig.player.act("lift")
    rig.run(0.1)
    assert rig.player.force_n() == [0.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="action must be one of"):
        rig.player.act("jump")


def test_player_feels_the_motor_under_each_pad(rig: Rig) -> None:
    rig.world.connect_motor(1, lambda _t: 0.8)
    rig.run(0.2)
    felt = rig.player.vibration_g()
    assert felt[0] == 0.0 and felt[2:] == [0.0, 0.0]
    assert felt[1] > 0.1
