"""The simulated station's handles: what a simulated station has that a real one has not.

:func:`station.hardware.build` hands a :class:`SimHandles` to ``prepare_sim`` and keeps it
as ``Station.sim``: the physical world (pads, hand, motors), the simulated buses and chips
(for fault injection: detach a chip, arm a bus fault) and the mock pin factory behind the
buttons. The station's own parts never see it; the virtual patient, tests and benchmarks
act on the station through it, as a person or a technician with a probe would.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers.sim.bus import SimI2CBus
from station.sim.rig import SimChips
from station.sim.world import World
from ui_lcd.buttons import KEYS

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory, MockPin

    from station.sim.calibration_watch import CalibrationWatch
    from station.sim.motor_track import Follower
    from station.sim.patient import VirtualPatient
    from station.sim.player import Player


@dataclass
class SimHandles:
    """The simulated world, buses (by role: ``station``, ``glove``, ``lcd``; only those a
    fitted part is on), chips and mock pins of one simulated station."""

    world: World
    buses: dict[str, SimI2CBus]
    chips: SimChips
    pin_factory: MockFactory

    def lcd_lines(self) -> list[str]:
        """The text the simulated LCD shows (its DDRAM, read through the chip model)."""
        return list(self.chips.lcd.lines()) if self.chips.lcd is not None else []

    def lcd_glyphs(self) -> list[tuple[int, ...]]:
        """The LCD's 8 custom characters (CGRAM, 8 rows of 5 bits each), as the chip holds
        them: with :meth:`lcd_lines`, what a person sees of a bar."""
        lcd = self.chips.lcd
        return [lcd.glyph(slot) for slot in range(8)] if lcd is not None else []

    def bar_follower(
        self,
        clock: Any,
        feel_n_per_s: float,
        most_n: float,
        lag_s: float = 0.0,
        cv: float = 0.0,
        seed: int = 0,
    ) -> Follower:
        """A hand that follows the band of this LCD's bar (read off DDRAM and CGRAM,
        :mod:`station.sim.motor_track`) with visuomotor delay ``lag_s`` and wobble ``cv``:
        the perfect patient of the latency benchmark (0, 0). Drive a pad with it
        (``world.pads[i].set_force_profile(f.force)``) and let it look
        (``clock.every(0.01, f.look)``)."""
        from station.sim.motor_track import Follower, read_bar

        return Follower(
            lambda: read_bar(self.lcd_lines(), self.lcd_glyphs()),
            clock,
            random.Random(seed),
            lag_s=lag_s,
            cv=cv,
            match=1.0,
            feel_n_per_s=feel_n_per_s,
            most_n=most_n,
        )

    def button_pins(self, buttons_cfg: dict[str, Any]) -> dict[str, MockPin]:
        """The mock pins of the buttons, to press them as a person would."""
        return {k: self.pin_factory.pin(buttons_cfg[k]) for k in KEYS}

    def patient(
        self,
        profile: str,
        clock: Any,
        buttons_cfg: dict[str, Any],
        seed: int = 0,
        day: float = 0.0,
        **kw: Any,
    ) -> VirtualPatient:
        """A virtual patient with ``profile``'s abilities (``kw`` overrides them) at this
        simulated station, on ``day`` of its programme, acting only through its LCD,
        buttons and pads and feeling its motors and pad textures (``station.sim.patient``)."""
        from station.sim import patient as patient_mod

        return patient_mod.VirtualPatient(
            patient_mod.profile(profile, **kw),
            clock,
            self.lcd_lines,
            self.button_pins(buttons_cfg),
            self.world.pads,
            seed=seed,
            name=profile,
            world=self.world,
            day=day,
            read_glyphs=self.lcd_glyphs,
        )

    def player(self, clock: Any, buttons_cfg: dict[str, Any], **kw: Any) -> Player:
        """A person at the keyboard as the patient (``station.sim.player``): key actions
        press these buttons and put force on these pads; ``kw`` goes to the Player."""
        from station.sim.player import Player

        return Player(
            clock, self.button_pins(buttons_cfg), self.world.pads, self.world.motors, **kw
        )

    def watch_calibration(self, report: Callable[[int, int], None]) -> CalibrationWatch:
        """Report ``report(done, total)`` as the simulated technician calibrates
        (``station.sim.calibration_watch``)."""
        from station.sim.calibration_watch import CalibrationWatch

        return CalibrationWatch(self.world, report)
