"""The virtual patient's acts on the finger range-of-motion and motor-imagery screens.

* :class:`FingerMove`: "bend" or "lift" with a finger named: that finger of the world's
  hand moves to its true furthest flexion or extension (``MotorAbilities``) and holds there
  until the screen moves on, then relaxes to straight; the glove's IMUs feel it.
* :class:`HandRaised`: "raise" your hand: the hand, unsupported, shows its postural tremor
  (none while it rests on the table) until the screen moves on.
* :class:`HandResting`: "keep your hand still": still, or shaking with a tremor at rest.
* :class:`ImageryRound`: the end of an imagery round: OK to go on, or Back once the patient
  has done its ``imagery_rounds``.

They act only through the physical channels: the world's hand and the buttons.
"""

from __future__ import annotations

import re
from typing import Any

from station.sim.act import Act
from station.sim.hand import FINGERS

_FINGER = re.compile(r"\b(thumb|index|middle|ring|little)\b")
_ROUND = re.compile(r"\bround (\d+) done\b")
#: How long a finger takes to relax back to straight (s).
RELAX_MOVE_S = 0.5


class FingerMove(Act):
    """A finger to its furthest flexion ("bend") or extension ("lift"), held; every try's
    true angle in :attr:`reached` (the truth a try's measurement is checked by)."""

    def __init__(self, patient: Any) -> None:
        super().__init__(patient)
        self.finger = ""
        #: (finger, "flexion" or "extension", the angle held, deg) of each try.
        self.reached: list[tuple[str, str, float]] = []

    def claims(self, text: str) -> bool:
        return ("bend" in text or "lift" in text) and _FINGER.search(text) is not None

    def start(self, text: str) -> None:
        super().start(text)
        m = _FINGER.search(text)
        assert m is not None
        self.finger = m.group(1)
        a = self.p.a.motor
        i = FINGERS.index(self.finger)
        bend = "bend" in text
        short = self.p.rng.uniform(0.0, a.finger_shortfall_deg)
        angle = a.finger_flexion_deg[i] - short if bend else a.finger_extension_deg[i] + short
        self.p.world.hand.set_flexion(self.finger, angle, a.finger_move_s)
        self.reached.append((self.finger, "flexion" if bend else "extension", angle))
        what = "bend" if bend else "lift"
        self.p.log.append((self.p.clock.now(), f"{what} {self.finger} to {angle:.1f} deg"))

    def end(self) -> None:
        super().end()
        self.p.world.hand.set_flexion(self.finger, 0.0, RELAX_MOVE_S)


class HandRaised(Act):
    """The hand held up off the table, with the patient's postural tremor."""

    words = ("raise", "hand")

    def start(self, text: str) -> None:
        super().start(text)
        a = self.p.a.motor
        self.p.world.hand.set_tremor(a.tremor_hz, a.tremor_deg)
        self.p.log.append((self.p.clock.now(), f"hand raised, tremor {a.tremor_deg} deg"))

    def end(self) -> None:
        super().end()
        self.p.world.hand.set_tremor(0.0, 0.0)


class HandResting(Act):
    """The hand flat on the table for the glove's reference pose: still, unless the patient
    has a tremor at rest."""

    words = ("keep your hand still",)

    def start(self, text: str) -> None:
        super().start(text)
        a = self.p.a.motor
        if a.rest_tremor_deg > 0:
            self.p.world.hand.set_tremor(a.tremor_hz, a.rest_tremor_deg)

    def end(self) -> None:
        super().end()
        self.p.world.hand.set_tremor(0.0, 0.0)


class ImageryRound(Act):
    """An imagery round done: OK to go on, Back after ``imagery_rounds`` rounds."""

    def claims(self, text: str) -> bool:
        return _ROUND.search(text) is not None and "back" in text

    def start(self, text: str) -> None:
        super().start(text)
        m = _ROUND.search(text)
        assert m is not None
        enough = self.p.a.motor.imagery_rounds
        key = "back" if enough is not None and int(m.group(1)) >= enough else "ok"
        self.p._press(key)  # a button, as the patient's other answers press it


FINGER_ACTS: tuple[type[Act], ...] = (FingerMove, HandRaised, HandResting, ImageryRound)
