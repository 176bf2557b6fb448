"""The virtual patient on the steady-hold and tracking screens: it reads the bar as a person
sees it and squeezes the grip pad to keep its own fill in the band.

The bar is read from the simulated LCD only: the bar row's characters (DDRAM) and the
custom characters they show (CGRAM bitmaps; slot plan in :mod:`ui_lcd.bar`). A column lit
on every row is a band end; a column lit on the fill rows and not on the top row is fill.
The patient does not know what a bar step is in newtons: it learns that from watching its
own fill answer its own squeeze (force produced / fill seen), then aims at the band's
middle. Its truth (:class:`~station.sim.motor_acts.MotorAbilities`): a visuomotor delay
(``tracking_lag_s``), a smooth force wobble (``Abilities.steadiness_cv`` on a hold,
``tracking_noise_cv`` on a moving band) and ``force_match`` (force produced / force aimed).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from station.sim.act import Act

#: How often the patient looks at the bar (s); what it saw between two looks is
#: interpolated, so the look rate adds no lag on average.
LOOK_S = 0.01
#: Its own force it compares the fill with, this long ago (s): about the bar's delay.
OWN_DELAY_S = 0.01
#: How fast the patient's idea of the bar's scale follows what it sees (per look): quickly
#: while it first finds the band, then slowly (a person keeps the scale once learnt, and
#: does not re-learn it with every swing of a moving band).
LEARN_RATE, KEEP_RATE = 0.05, 0.002
LEARN_S = 1.5
#: Fills this small or this near full say little about the scale.
MIN_FILL, MAX_FILL = 0.05, 0.97
#: Wobble: a sum of this many sines between these frequencies (Hz), random phases.
WOBBLE_SINES = 10
WOBBLE_HZ = (0.5, 4.0)


@dataclass(frozen=True)
class BarSeen:
    """The bar as seen: its fill and its band (lo, hi; fractions of the bar) or None."""

    fill: float
    band: tuple[float, float] | None

    @property
    def centre(self) -> float | None:
        return None if self.band is None else (self.band[0] + self.band[1]) / 2.0


def read_bar(lines: list[str], glyphs: list[tuple[int, ...]]) -> BarSeen | None:
    """The bar on the LCD's last row, or None when that row is not a bar (text on it)."""
    if not lines or len(glyphs) < 8:
        return None
    row = lines[-1]
    steps = len(row) * 5
    last_fill, ticks = -1, []
    for cell, ch in enumerate(row):
        if ch == " ":
            continue
        code = ord(ch)
        if code >= 8:
            return None
        bitmap = glyphs[code]
        for j in range(5):
            bit, col = 0x10 >> j, cell * 5 + j
            if bitmap[0] & bit:
                ticks.append(col)
            elif bitmap[3] & bit:
                last_fill = col
    band = None if not ticks else (min(ticks) / steps, (max(ticks) + 1) / steps)
    return BarSeen((last_fill + 1) / steps, band)


def wobble(rng: random.Random, cv: float) -> Callable[[float], float]:
    """A smooth relative wobble ``w(t)`` with SD ``cv`` (sines of 0.5-4 Hz): slow enough
    that a 10-20 Hz low-pass keeps it whole, fast enough that a linear detrend over a hold
    does not take it away."""
    amp = cv * math.sqrt(2.0 / WOBBLE_SINES)
    parts = [
        (2 * math.pi * rng.uniform(*WOBBLE_HZ), rng.uniform(0, 2 * math.pi))
        for _ in range(WOBBLE_SINES)
    ]
    return lambda t: amp * sum(math.sin(w * t + ph) for w, ph in parts)


class Follower:
    """One hand following the bar: what it aimed at each look, and its force at any time.

    ``lag_s``: visuomotor delay; ``cv``: wobble; ``match``: force produced / aimed;
    ``feel_n_per_s``: how fast it squeezes while it has not yet seen the bar move."""

    def __init__(
        self,
        read: Callable[[], BarSeen | None],
        clock: Any,
        rng: random.Random,
        lag_s: float,
        cv: float,
        match: float,
        feel_n_per_s: float,
        most_n: float,
    ) -> None:
        self.read = read
        self.clock = clock
        self.lag_s = lag_s
        self.match = match
        self.feel_n_per_s = feel_n_per_s
        self.most_n = most_n
        self.wobble = wobble(rng, cv)
        self.look_t: list[float] = []
        self.aim_n: list[float] = []
        #: Newtons per bar (force produced / fill seen), once learnt.
        self.scale_n: float | None = None
        self.learnt_at = 0.0

    def look(self) -> None:
        now = self.clock.now()
        bar = self.read()
        last = self.aim_n[-1] if self.aim_n else 0.0
        if bar is None:
            self.look_t.append(now)
            self.aim_n.append(last)
            return
        own = self.force(now - OWN_DELAY_S)
        if MIN_FILL <= bar.fill <= MAX_FILL and own > 0:
            seen = own / bar.fill
            s = self.scale_n
            if s is None:
                self.learnt_at = now
                self.scale_n = seen
            else:
                rate = LEARN_RATE if now - self.learnt_at < LEARN_S else KEEP_RATE
                self.scale_n = s + rate * (seen - s)
        centre = bar.centre
        if centre is None:
            aim = last
        elif self.scale_n is None:  # feeling for the bar: squeeze gently until it moves
            aim = min(self.most_n, last + self.feel_n_per_s * LOOK_S)
        else:
            aim = self.scale_n * centre
        self.look_t.append(now)
        self.aim_n.append(aim)

    def aimed(self, t: float) -> float:
        """What the hand aimed at, at ``t`` (from the looks around ``t``; 0 before)."""
        ts = self.look_t
        i = bisect.bisect_right(ts, t)
        if i == 0:
            return 0.0
        if i == len(ts):
            return self.aim_n[-1]
        t0, t1 = ts[i - 1], ts[i]
        a0, a1 = self.aim_n[i - 1], self.aim_n[i]
        return a0 + (a1 - a0) * (t - t0) / (t1 - t0) if t1 > t0 else a1

    def force(self, t: float) -> float:
        """The force on the pad at ``t`` (N): aimed ``lag_s`` earlier, with the wobble."""
        return max(0.0, self.match * self.aimed(t - self.lag_s) * (1.0 + self.wobble(t)))


class _BarAct(Act):
    """Squeeze the grip pad as a :class:`Follower` of the bar while the screen shows;
    ``followers``: one per showing, in order (the truth of each trial)."""

    def __init__(self, patient: Any) -> None:
        super().__init__(patient)
        self.followers: list[Follower] = []

    def cv(self) -> float:
        raise NotImplementedError

    def start(self, text: str) -> None:
        super().start(text)
        p = self.p
        m = p.a.motor
        hand = p.hand_seen

        def seen() -> BarSeen | None:
            return read_bar(p.read_lcd(), p.read_glyphs())

        self.follower = Follower(
            seen,
            p.clock,
            random.Random(p.rng.random()),
            m.tracking_lag_s,
            self.cv(),
            m.force_match,
            feel_n_per_s=0.1 * p.a.max_grip_n[hand],
            most_n=p.a.max_grip_n[hand],
        )
        self.followers.append(self.follower)
        p.pads[p.grip_pad].set_force_profile(self.follower.force)
        self._handle = p.clock.every(LOOK_S, self.follower.look, "patient-eyes")
        p.log.append((p.clock.now(), f"{type(self).__name__} {hand}"))

    def end(self) -> None:
        super().end()
        self._handle.cancel()
        self.p.pads[self.p.grip_pad].set_force(0.0)


class SteadyHold(_BarAct):
    """Keep the bar in a fixed band: the wobble is the hand's steadiness, which may grow
    from hold to hold (``steadiness_rise_per_hold``)."""

    def claims(self, text: str) -> bool:
        return "band" in text and ("keep the bar in" in text or "keep in band" in text)

    def cv(self) -> float:
        a = self.p.a
        return a.steadiness_cv * (1.0 + a.motor.steadiness_rise_per_hold) ** len(self.followers)


class Tracking(_BarAct):
    """Follow a moving band, with the hand's tracking noise."""

    def claims(self, text: str) -> bool:
        return "follow the band" in text

    def cv(self) -> float:
        return float(self.p.a.motor.tracking_noise_cv)
