"""What the virtual patient's fingertips do and feel, and how it judges (CLINICAL.md §4, §7.1).

A :class:`Sense` is the truth of one dimension: a Weibull psychometric function
(:func:`weibull`, the form of ``station.adaptive.psychometric``) with a threshold, a slope,
per-site offsets and an optional improvement per week. The felt quantities come from the simulated
world only: :class:`FeltVibration` samples the motors under the rested pads
(``SiteMotor.vibration_at``), the texture judgements take the groove widths of the pads
actually touched. :class:`Judge` turns what was felt into an answer with a high-threshold
model: with probability ``lapse`` a random answer; otherwise "detected" with probability
F(felt; threshold, slope), answered by what was felt; otherwise a uniform guess.

Units: vibration levels are dB re 1 g rms at the pad (a physical reference, independent of
the station's motor calibration); amplitude differences in dB; frequency and groove-width
differences in log10 of their ratio.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from station.sim.fsr import FsrPad
from station.sim.motors import SiteMotor

Scale = Literal["dB", "log10"]
#: log10 units per scale unit: 1 for log10, 1/20 for dB (amplitude).
LOG10_PER_UNIT: dict[str, float] = {"log10": 1.0, "dB": 1.0 / 20.0}
Dimension = Literal["vibration", "amplitude", "frequency", "texture", "localisation"]
DIMENSIONS: tuple[Dimension, ...] = (
    "vibration",
    "amplitude",
    "frequency",
    "texture",
    "localisation",
)
#: Felt level of an interval in which nothing moved (dB re 1 g rms): far below any threshold.
NOTHING_DB = -120.0
#: A resting fingertip's force stays in this range (N), inside the protocols' 0.3-3 N band.
CONTACT_MIN_N, CONTACT_MAX_N = 0.5, 2.0
SLIP_FORCES_N = (0.1, 4.5)  # a fingertip that slipped: too light, or leaning too hard
PAD_PRESS_S = 0.6  # how long pressing a pad (an answer) lasts
SUBSAMPLES = 5  # vibration samples per patient step (10 ms apart at a 50 ms step)


@dataclass(frozen=True)
class Sense:
    """One dimension's truth: threshold (scale units), Weibull slope, per-site offsets.

    ``site_offsets`` maps a site (pad index, 0-based) to what it adds to the threshold.
    ``per_week`` lowers the threshold by that much per week of improvement, never below
    ``best`` (None: no floor).
    """

    threshold: float
    slope: float
    scale: Scale
    site_offsets: Mapping[int, float] = field(default_factory=dict)
    per_week: float = 0.0
    best: float | None = None

    def threshold_at(self, site: int, weeks: float = 0.0) -> float:
        """The threshold at ``site`` after ``weeks`` of improvement."""
        t = self.threshold + self.site_offsets.get(site, 0.0)
        if self.per_week and weeks > 0.0:
            improved = t - self.per_week * weeks
            floor = -math.inf if self.best is None else self.best + self.site_offsets.get(site, 0.0)
            t = max(improved, min(t, floor))
        return t

    def with_offset(self, site: int, offset: float) -> Sense:
        """This sense with ``offset`` added at ``site``."""
        return replace(self, site_offsets={**self.site_offsets, site: offset})


def default_senses() -> dict[str, Sense]:
    """A typical fingertip: VPT -20 dB re 1 g, amplitude JND 2.5 dB, frequency Weber
    fraction 0.25, groove width 0.1 log10, localisation 6 dB above the VPT."""
    return {
        "vibration": Sense(-20.0, 3.5, "dB"),
        "amplitude": Sense(2.5, 3.5, "dB"),
        "frequency": Sense(math.log10(1.25), 3.5, "log10"),
        "texture": Sense(0.1, 3.0, "log10"),
        "localisation": Sense(-14.0, 3.5, "dB"),
    }


def weibull(x: float, threshold: float, slope: float, scale: Scale) -> float:
    """F(x) = 1 - exp(-10^(slope·u·(x - threshold))), u = 1 per log10 unit, 1/20 per dB:
    ``station.adaptive.psychometric.rising_part(..., "weibull", scale)``, written out here
    because the simulated world never imports the station's logic (tests check they agree).
    """
    z = slope * LOG10_PER_UNIT[scale] * (x - threshold)
    return 1.0 if z > 3.0 else -math.expm1(-(10.0**z))  # 10^3: F = 1 - e^-1000


def level_db(amplitude_g: float) -> float:
    """A vibration amplitude as felt level, dB re 1 g rms (:data:`NOTHING_DB` for none)."""
    return 20.0 * math.log10(amplitude_g) if amplitude_g > 0.0 else NOTHING_DB


@dataclass(frozen=True)
class Felt:
    """The strongest vibration felt on one pad during one interval."""

    peak_g: float
    frequency_hz: float

    @property
    def level_db(self) -> float:
        return level_db(self.peak_g)


class FeltVibration:
    """Peak vibration per interval (``"1"``, ``"2"``, ``"where"``...) and pad, sampled
    from the world's motors under the pads a fingertip rests on."""

    def __init__(self, motors: Sequence[SiteMotor]) -> None:
        self.motors = motors
        self.felt: dict[str, dict[int, Felt]] = {}

    def __repr__(self) -> str:
        return f"FeltVibration({sorted(self.felt)})"

    def clear(self) -> None:
        self.felt.clear()

    def sample(self, key: str, pads: Sequence[int], t0_s: float, t1_s: float) -> None:
        """Feel the motors under ``pads`` at :data:`SUBSAMPLES` times in (t0, t1]."""
        per_pad = self.felt.setdefault(key, {})
        dt = (t1_s - t0_s) / SUBSAMPLES
        for pad in pads:
            if not 0 <= pad < len(self.motors):
                continue  # no motor under this pad: nothing to feel
            vibration_at = self.motors[pad].vibration_at
            best = per_pad.get(pad, Felt(0.0, 0.0))
            for i in range(1, SUBSAMPLES + 1):
                amp, freq = vibration_at(t0_s + i * dt)
                if amp > best.peak_g:
                    best = Felt(amp, freq)
            per_pad[pad] = best

    def strongest(self, key: str) -> tuple[int, Felt] | None:
        """The pad felt most strongly in interval ``key`` and what was felt; None: nothing."""
        per_pad = self.felt.get(key, {})
        moving = [(felt.peak_g, pad) for pad, felt in per_pad.items() if felt.peak_g > 0.0]
        if not moving:
            return None
        _, pad = max(moving)
        return pad, per_pad[pad]


class Fingertips:
    """The fingertips on the world's pads: resting with a light contact force (drawn per
    trial around ``contact_force_n``, log-normal ``spread_rel``, kept inside the band),
    touching one pad, pressing one to answer; ``slip_rate`` is the chance per stimulus
    interval that a resting fingertip slips out of the band until asked to correct it."""

    def __init__(
        self,
        pads: Sequence[FsrPad],
        clock: Any,
        rng: random.Random,
        contact_force_n: float = 1.0,
        spread_rel: float = 0.15,
        slip_rate: float = 0.0,
    ) -> None:
        self.pads = pads
        self.clock = clock
        self.rng = rng
        self.contact_force_n = contact_force_n
        self.spread_rel = spread_rel
        self.slip_rate = slip_rate
        self.rested: list[int] = []  # pads a fingertip rests on (0-based)
        self.rest_force_n = 0.0
        self.touching: int | None = None
        self.touched: list[int] = []  # pads touched this trial, in order

    def __repr__(self) -> str:
        return f"Fingertips(rested={self.rested}, touching={self.touching})"

    def contact_n(self) -> float:
        """A light contact force for this trial (N)."""
        force = self.contact_force_n * math.exp(self.rng.gauss(0.0, self.spread_rel))
        return min(CONTACT_MAX_N, max(CONTACT_MIN_N, force))

    def rest_on(self, pads: Sequence[int]) -> None:
        """Rest a fingertip on each of ``pads`` (and lift any other resting one)."""
        self.lift_rested()
        self.rested = [p for p in pads if 0 <= p < len(self.pads)]
        self.hold(self.contact_n())

    def hold(self, force_n: float) -> None:
        """Rest on the rested pads with ``force_n``."""
        self.rest_force_n = force_n
        for pad in self.rested:
            self.pads[pad].set_force(force_n)

    def new_trial(self) -> None:
        """A new trial (or a repeat): a fresh contact force, nothing touched yet."""
        self.touched = []
        if self.rested:
            self.hold(self.contact_n())

    def maybe_slip(self) -> None:
        """At a stimulus interval: with ``slip_rate``, slip too light or too hard."""
        if self.rested and self.slip_rate > 0.0 and self.rng.random() < self.slip_rate:
            self.hold(self.rng.choice(SLIP_FORCES_N))

    def touch(self, pad: int) -> None:
        """Touch ``pad`` lightly (and lift from the one touched before)."""
        if not 0 <= pad < len(self.pads):
            return
        self.lift_touch()
        force = self.contact_n()
        if self.slip_rate > 0.0 and self.rng.random() < self.slip_rate:
            force = self.rng.choice(SLIP_FORCES_N)
        self.pads[pad].set_force(force)
        self.touching = pad
        self.touched.append(pad)

    def press(self, pad: int, force_n: float) -> None:
        """Press ``pad`` with ``force_n`` for :data:`PAD_PRESS_S`, then rest on it (or off)."""
        t0 = self.clock.now()
        after_n = self.rest_force_n if pad in self.rested else 0.0
        self.pads[pad].set_force_profile(lambda t: force_n if t < t0 + PAD_PRESS_S else after_n)

    def lift_touch(self) -> None:
        if self.touching is not None:
            self.pads[self.touching].set_force(0.0)
            self.touching = None

    def lift_rested(self) -> None:
        for pad in self.rested:
            self.pads[pad].set_force(0.0)
        self.rested = []

    def lift_all(self) -> None:
        self.lift_touch()
        self.lift_rested()


class Judge:
    """Answers from felt quantities, with the patient's senses, lapse and generator.

    Every method returns the index of the option chosen (0-based). ``weeks`` is how long
    the patient's senses have been improving (see :meth:`Sense.threshold_at`).
    """

    def __init__(
        self,
        senses: Mapping[str, Sense],
        lapse: float,
        rng: random.Random,
        weeks: float = 0.0,
    ) -> None:
        if not 0.0 <= lapse <= 1.0:
            raise ValueError(f"sensory lapse must be in [0, 1], got {lapse}")
        self.senses = senses
        self.lapse = lapse
        self.rng = rng
        self.weeks = weeks

    def threshold(self, dimension: str, site: int) -> float:
        """The true threshold of ``dimension`` at ``site`` (scale units of its sense)."""
        if dimension not in self.senses:
            raise ValueError(f"dimension must be one of {sorted(self.senses)}, got {dimension!r}")
        return self.senses[dimension].threshold_at(site, self.weeks)

    def p_detect(self, dimension: str, site: int, x: float) -> float:
        """F(x): the probability of detecting ``x`` (scale units) of ``dimension``."""
        s = self.senses[dimension]
        t = self.threshold(dimension, site)
        return weibull(x, t, s.slope, s.scale)

    def choose(self, n: int, felt_answer: int | None, dimension: str, site: int, x: float) -> int:
        """One of ``n`` options: a lapse, the felt answer if ``x`` is detected, or a guess."""
        if self.rng.random() < self.lapse or felt_answer is None:
            return self.rng.randrange(n)
        if self.rng.random() < self.p_detect(dimension, site, x):
            return felt_answer
        return self.rng.randrange(n)

    # -- the tasks -----------------------------------------------------------------------

    def which_interval(self, task: str, felt: Sequence[tuple[int, Felt] | None]) -> int:
        """2AFC on vibration intervals: ``task`` "detect", "stronger" or "faster";
        ``felt[i]`` is interval i's strongest (pad, Felt), None when nothing moved."""
        n = len(felt)
        levels = [pf[1].level_db if pf else NOTHING_DB for pf in felt]
        loud = max(range(n), key=levels.__getitem__)
        strongest = felt[loud]
        if strongest is None:  # nothing moved in any interval
            return self.choose(n, None, "vibration", 0, NOTHING_DB)
        pad, loudest = strongest
        if task == "detect":
            return self.choose(n, loud, "vibration", pad, loudest.level_db)
        if task == "stronger":
            quiet = min(levels)
            return self.choose(n, loud, "amplitude", pad, levels[loud] - quiet)
        if task == "faster":
            freqs = [pf[1].frequency_hz if pf else 0.0 for pf in felt]
            if min(freqs) <= 0.0:
                return self.choose(n, None, "frequency", pad, 0.0)  # nothing to compare
            fast = max(range(n), key=freqs.__getitem__)
            x = math.log10(freqs[fast] / min(freqs))
            return self.choose(n, fast, "frequency", pad, x)
        raise ValueError(f"task must be 'detect', 'stronger' or 'faster', got {task!r}")

    def where(self, pads: Sequence[int], strongest: tuple[int, Felt] | None) -> int:
        """Which of the rested ``pads`` buzzed (returns a pad index from ``pads``)."""
        if not pads:
            raise ValueError("no rested pads to choose from")
        answer = pads.index(strongest[0]) if strongest and strongest[0] in pads else None
        site = strongest[0] if strongest else pads[0]
        level = strongest[1].level_db if strongest else NOTHING_DB
        return pads[self.choose(len(pads), answer, "localisation", site, level)]

    def rougher(self, pads: Sequence[int], widths_mm: Sequence[float]) -> int:
        """Which touched pad felt rougher (wider grooves): an index into ``pads``."""
        if len(pads) != 2:
            raise ValueError(f"a rougher judgement needs 2 touched pads, got {len(pads)}")
        w = [widths_mm[p] for p in pads]
        x = abs(math.log10(w[0] / w[1]))
        answer = 0 if w[0] > w[1] else 1
        return self.choose(2, answer if x > 0 else None, "texture", pads[answer], x)

    def odd_one(self, pads: Sequence[int], widths_mm: Sequence[float]) -> int:
        """Which of 3 touched pads felt different: an index into ``pads``."""
        if len(pads) != 3:
            raise ValueError(f"an odd-one-out judgement needs 3 touched pads, got {len(pads)}")
        logs = [math.log10(widths_mm[p]) for p in pads]

        def apart(i: int) -> float:  # how far pad i is from the nearer of the other two
            return min(abs(logs[i] - logs[j]) for j in range(3) if j != i)

        odd = max(range(3), key=apart)
        x = apart(odd)
        return self.choose(3, odd if x > 0 else None, "texture", pads[odd], x)
