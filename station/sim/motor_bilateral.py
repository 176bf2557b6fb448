"""The virtual patient's hands on the two-bar screens (the ``bilateral`` task).

The patient notes which grip pad each hand goes on from the placing screen ("L: pad 1,
R: pad 2"), then on a screen with two labelled bars (``L`` above, ``R`` below) it looks at
each bar as a person does: the bar's length from the lit pixel columns of the glyphs in
that row (DDRAM codes, CGRAM bitmaps through the simulated chip) and its band from the
``[`` ``]`` marks. A bar without marks on both rows asks for a firm, comfortable grip
(``MotorAbilities.comfortable_fraction`` of the hand's maximal grip); a bar with marks is
held with the bar's tip at ``MotorAbilities.bilateral_hold`` of the band's middle,
corrected by eye every :data:`CORRECT_S`; a hand whose bar has no marks while the other's
has waits, and starts ``MotorAbilities.follow_lag_s`` after its marks appear. It never sees
a target in newtons, only the bars.

:attr:`TwoBarHands.drives` keeps each hand's true force over time (the truth a session's
per-hand forces are checked by: :meth:`TwoBarHands.true_mean`). The act registered in
``station.sim.motor_acts.ACTS`` (``BilateralHold``) delegates to :class:`TwoBarHands`, so
this module needs nothing from that one.
"""

from __future__ import annotations

import bisect
import random
import re
from typing import Any

#: How often the patient looks at the bars, and how often it corrects a hand by eye (s).
LOOK_S = 0.05
CORRECT_S = 0.2
#: A hand's force moves to a new level over this long (s).
RAMP_S = 0.3
#: A first guess for a hold, as a fraction of the comfortable grip, before the eye corrects.
FIRST_GUESS = 0.3
#: The eye leaves a bar alone within this relative distance of where it aims.
DEAD_BAND = 0.04
LABELS = {"l": "left", "r": "right"}
_PADS = (re.compile(r"\bl: pad (\d+), r: pad (\d+)\b"), re.compile(r"\bgrip pads (\d+)\+(\d+)\b"))


class HandDrive:
    """One hand's force on its pad: a level that moves linearly over :data:`RAMP_S` to each
    new level, times the hand's wobble (relative ``cv``, a new value every 50 ms); every
    change kept, so the true force at any past time is known."""

    def __init__(self, rng: random.Random, cv: float) -> None:
        self.wobble = [rng.gauss(0.0, cv) for _ in range(64)]
        self.changes: list[tuple[float, float, float]] = [(float("-inf"), 0.0, 0.0)]
        self.times: list[float] = [float("-inf")]

    def level_at(self, t: float) -> float:
        i = bisect.bisect_right(self.times, t) - 1
        t0, l0, l1 = self.changes[i]
        return l1 if t - t0 >= RAMP_S else l0 + (l1 - l0) * (t - t0) / RAMP_S

    def set(self, t: float, level_n: float) -> None:
        """Move to ``level_n`` from ``t`` on (never into the past)."""
        t = max(t, self.times[-1])
        self.changes.append((t, self.level_at(t), max(0.0, level_n)))
        self.times.append(t)

    @property
    def goal_n(self) -> float:
        return self.changes[-1][2]

    def force(self, t: float) -> float:
        return max(0.0, self.level_at(t) * (1.0 + self.wobble[int(t * 20) % 64]))


class TwoBarHands:
    """Both hands on a two-bar screen (see the module docstring): what the act
    ``station.sim.motor_acts.BilateralHold`` does. ``p`` is the
    :class:`~station.sim.patient.VirtualPatient` whose hands act."""

    def __init__(self, patient: Any) -> None:
        self.p = patient
        self.active = False
        self.pads: dict[str, int] = {}
        self.drives: dict[str, HandDrive] = {}
        self._look: Any = None
        self._waiting_since: dict[str, float] = {}
        self._next_fix: dict[str, float] = {}

    def claims(self, text: str) -> bool:
        for pattern in _PADS:  # the placing screen: note the pads (not an act of its own)
            if m := pattern.search(text):
                self.pads = {"left": int(m.group(1)) - 1, "right": int(m.group(2)) - 1}
        return bars_seen(self.p) is not None

    def start(self) -> None:
        """The patient has read a two-bar screen and reacts."""
        self.active = True
        if not self.pads:
            self.p.log.append((self.p.clock.now(), "two bars, but which pads? (no act)"))
            return
        if not self.drives:  # one drive a hand for the whole session: its past is the truth
            rng = random.Random(self.p.rng.random())
            cv = self.p.a.steadiness_cv
            self.drives = {side: HandDrive(rng, cv) for side in self.pads}
        for side, pad in self.pads.items():
            self.p.pads[pad].set_force_profile(self.drives[side].force)
        self._waiting_since, self._next_fix = {}, {}
        self._look = self.p.clock.every(LOOK_S, self.look, name="bilateral-look")
        self.look()

    def end(self) -> None:
        """The two-bar screen is gone: both hands let go."""
        self.active = False
        if self._look is not None:
            self._look.cancel()
            self._look = None
        now = self.p.clock.now()
        for side, drive in self.drives.items():
            drive.set(now, 0.0)
            self.p.pads[self.pads[side]].set_force(0.0)

    def look(self) -> None:
        """One look at both bars, and what each hand does about it."""
        if not self.active:
            return
        seen = bars_seen(self.p)
        if seen is None:
            return
        now = self.p.clock.now()
        a = self.p.a
        banded = [side for side, bar in seen.items() if bar.band is not None]
        for side, bar in seen.items():
            drive = self.drives[side]
            if not banded:  # no marks anywhere: a firm, comfortable grip
                if drive.goal_n == 0.0:
                    drive.set(now, a.max_grip_n[side] * a.motor.comfortable_fraction)
                continue
            if bar.band is None:  # the other hand leads: wait for this one's marks
                self._waiting_since[side] = now
                continue
            aim = a.motor.bilateral_hold[side]
            if aim <= 0.0:
                continue  # no effort on this hand
            if drive.goal_n == 0.0:
                lag = a.motor.follow_lag_s if side in self._waiting_since else 0.0
                guess = a.max_grip_n[side] * a.motor.comfortable_fraction * FIRST_GUESS
                drive.set(now + lag, guess)
                self._next_fix[side] = now + lag + RAMP_S + CORRECT_S
                continue
            if now < self._next_fix.get(side, 0.0):
                continue
            self._next_fix[side] = now + CORRECT_S
            lo, hi = bar.band
            goal_px = aim * (lo + hi) / 2.0
            ratio = 2.0 if bar.tip_px == 0 else goal_px / bar.tip_px
            if abs(ratio - 1.0) > DEAD_BAND:
                drive.set(now, drive.goal_n * min(2.0, max(0.5, ratio)) ** 0.6)

    def true_forces(
        self, side: str, t_from: float, t_to: float, step_s: float = 0.01
    ) -> list[float]:
        """The true force (N) of ``side`` every ``step_s`` from ``t_from`` to ``t_to``."""
        drive = self.drives[side]
        n = max(1, round((t_to - t_from) / step_s))
        return [drive.force(t_from + i * step_s) for i in range(n + 1)]

    def true_mean(self, side: str, t_from: float, t_to: float) -> float:
        """The mean true force (N) of ``side`` from ``t_from`` to ``t_to`` (clock s)."""
        forces = self.true_forces(side, t_from, t_to)
        return sum(forces) / len(forces)


class Bar:
    """One bar as the patient sees it: the tip (lit pixel columns of its glyph cells) and
    the band's first and last pixel column (None: no marks)."""

    def __init__(self, tip_px: int, band: tuple[int, int] | None) -> None:
        self.tip_px = tip_px
        self.band = band


def bars_seen(patient: Any) -> dict[str, Bar] | None:
    """The two labelled bars on the LCD's last two rows, or None when it shows none."""
    lines = patient.read_lcd()
    if len(lines) < 2:
        return None
    out = {}
    for line in lines[-2:]:
        side = LABELS.get(line[:1].lower())
        body = line[1:]
        if side is None or side in out:
            return None
        if any(not (ord(c) < 8 or c in " []") for c in body):
            return None
        out[side] = read_bar(patient, body)
    return out if len(out) == 2 else None


def read_bar(patient: Any, body: str) -> Bar:
    """A bar row (after its label) as pixels: glyph cells count their lit columns."""
    glyph = _glyphs(patient)
    tip = cells = 0
    lo = hi = None
    for ch in body:
        if ch == "[":
            lo = cells * 5
            continue
        if ch == "]":
            hi = cells * 5
            continue
        if ord(ch) < 8:
            tip += bin(glyph(ord(ch))[3] & 0x1F).count("1")  # a fill row of the bitmap
        cells += 1
    band = (lo, hi) if lo is not None and hi is not None else None
    return Bar(tip, band)


def _glyphs(patient: Any) -> Any:
    """The simulated chip's CGRAM bitmaps, ``glyph(slot)``: what the patient sees of a
    custom character (through the same handles its ``read_lcd`` reads DDRAM with)."""
    handles = getattr(patient.read_lcd, "__self__", None)
    chip = getattr(getattr(handles, "chips", None), "lcd", None)
    if chip is None:
        raise RuntimeError("the virtual patient cannot see the LCD's glyphs")
    return chip.glyph
