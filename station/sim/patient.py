"""The virtual patient: known, true abilities, acting only through the physical channels.

It reads the text the simulated HD44780 shows (its DDRAM, through the chip model), presses
buttons by driving gpiozero mock pins, and squeezes pads through the FSR model of the
simulated world. It never calls session code, so a simulated session measures it the way a
real session measures a person, and tests can compare the measurement with the truth.

Profiles (:data:`PROFILES`): ``typical`` (typical recovery), ``fatigue_prone``,
``inattentive`` (long reactions, lapses), ``pain_flare`` (pain rises during the session),
``walks_away`` (stops responding part-way). All randomness comes from one seeded generator.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

log = logging.getLogger(__name__)

STEP_S = 0.05  # how often the patient looks at the screen
PRESS_S = 0.12  # how long a button press lasts


@dataclass(frozen=True)
class Abilities:
    """The truth a session should measure. Forces are on the station's FSR pad (N)."""

    max_grip_n: dict[str, float] = field(default_factory=lambda: {"left": 14.0, "right": 9.0})
    steadiness_cv: float = 0.03  # relative force wobble while holding
    fatigue_per_trial: float = 0.02  # fraction of max lost per maximal squeeze
    reaction_time_s: float = 0.45
    reaction_sd_s: float = 0.08
    lapse_rate: float = 0.0  # chance of not reacting to a new screen for a while
    lapse_s: float = 8.0
    effort: float = 0.97  # fraction of true max produced on a maximal trial
    pain_before: int = 2
    pain_rise_per_check: int = 0
    new_numbness: bool = False
    wound_problem: bool = False
    walks_away_after_s: float | None = None
    #: Psychometric functions for later sensory protocols: dimension -> (threshold, slope).
    psychometric: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "vibration_amplitude_db": (-20.0, 3.5),
            "texture_log_ratio": (0.1, 3.0),
        }
    )


PROFILES: dict[str, Abilities] = {
    "typical": Abilities(),
    "fatigue_prone": Abilities(fatigue_per_trial=0.14, max_grip_n={"left": 15.0, "right": 10.0}),
    "inattentive": Abilities(reaction_time_s=0.9, reaction_sd_s=0.3, lapse_rate=0.25),
    "pain_flare": Abilities(pain_before=2, pain_rise_per_check=2),
    "walks_away": Abilities(walks_away_after_s=60.0),
}


def profile(name: str, **overrides: Any) -> Abilities:
    if name not in PROFILES:
        raise ValueError(f"unknown patient profile {name!r} (known: {', '.join(PROFILES)})")
    return replace(PROFILES[name], **overrides)


class VirtualPatient:
    """Drives the station's physical channels from what it sees on the LCD.

    ``read_lcd()`` returns the LCD's visible lines (from the simulated chip's DDRAM);
    ``pins`` maps button names to gpiozero mock pins; ``pads`` are the world's FSR pads,
    ``grip_pad`` the pad each hand squeezes.
    """

    def __init__(
        self,
        abilities: Abilities,
        clock: Any,
        read_lcd: Callable[[], list[str]],
        pins: dict[str, Any],
        pads: list[Any],
        grip_pad: int = 0,
        seed: int = 0,
        name: str = "",
    ) -> None:
        self.a = abilities
        self.profile_name = name
        self.clock = clock
        self.read_lcd = read_lcd
        self.pins = pins
        self.pads = pads
        self.grip_pad = grip_pad
        self.rng = random.Random(seed)
        self.t0 = clock.now()
        self._handle: Any = None
        self._screen = ""
        self._glance = ""  # the words at the last look, settled or not, and since when
        self._glance_t = 0.0
        self._busy_until = 0.0
        self._acted_on = ""
        self.squeezes: dict[str, int] = {"left": 0, "right": 0}
        #: The force each squeeze aimed at (N, the truth a grip measurement is checked by).
        self.targets: dict[str, list[float]] = {"left": [], "right": []}
        #: The true peak force of each squeeze (target with the hand's wobble).
        self.peaks: dict[str, list[float]] = {"left": [], "right": []}
        self.pain_checks = 0
        self.log: list[tuple[float, str]] = []
        self._squeezing = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._handle = self.clock.every(STEP_S, self._step, name="virtual-patient")

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._release()

    @property
    def gone(self) -> bool:
        after = self.a.walks_away_after_s
        return after is not None and self.clock.now() - self.t0 >= after

    # -- the loop ------------------------------------------------------------------------

    def _step(self) -> None:
        # Words only: custom glyphs (a force bar moving) do not make a new screen.
        text = " ".join(line.strip() for line in self.read_lcd()).lower()
        text = re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f-\xff]", " ", text)).strip()
        now = self.clock.now()
        # A person reads a screen once it has settled: a glimpse of the LCD mid-resync (its
        # nibble resync passes through one-line mode, rows 2 and 4 dark for an instant) is
        # not a new screen to react to.
        if text != self._glance:
            self._glance, self._glance_t = text, now
        if now - self._glance_t < STEP_S / 2:
            return
        if text != self._screen:
            self._screen = text
            self._acted_on = ""
            delay = max(0.15, self.rng.gauss(self.a.reaction_time_s, self.a.reaction_sd_s))
            if self.rng.random() < self.a.lapse_rate:
                delay += self.a.lapse_s
            self._busy_until = now + delay
            if self._squeezing and not _is_squeeze(text):
                self._release()
            return
        if now < self._busy_until or self._acted_on == text or self.gone:
            return
        self._act(text)

    def _act(self, text: str) -> None:
        if _is_squeeze(text):
            self._squeeze(text)
            self._acted_on = text
            return
        if "pain" in text and (_rating_unset(text) or _rating_value(text) is not None):
            self._answer_rating(text)
            return
        if "numb" in text or "tingl" in text:
            self._answer_yes_no(text, self.a.new_numbness)
        elif "wound" in text:
            self._answer_yes_no(text, self.a.wound_problem)
        elif re.search(r"\bok\b", text):
            self._press("ok")
        else:
            return
        self._acted_on = text

    # -- answers -------------------------------------------------------------------------

    def _pain_now(self, text: str) -> int:
        if "before" in text or "today" in text or "start" in text:
            return self.a.pain_before
        # The first question after the check-in already shows one rise.
        rises = self.pain_checks + 1
        return min(10, self.a.pain_before + self.a.pain_rise_per_check * rises)

    def _answer_rating(self, text: str) -> None:
        current = _rating_value(text)
        target = self._pain_now(text)
        if current is None or current < target:  # unset: the first press shows a value
            self._press("right")
        elif current > target:
            self._press("left")
        else:
            self._press("ok")
            if not ("before" in text or "today" in text or "start" in text):
                self.pain_checks += 1
            self._acted_on = text
            return
        # Re-read after the display updates; no reaction delay for a held gaze.
        self._busy_until = self.clock.now() + 0.25

    def _answer_yes_no(self, text: str, yes: bool) -> None:
        self._press("right" if _yes_is_right(text) == yes else "left")
        self._press_later("ok", 0.4)

    # -- the body ------------------------------------------------------------------------

    def _squeeze(self, text: str) -> None:
        hand = "left" if "left" in text else "right"
        n = self.squeezes[hand]
        self.squeezes[hand] += 1
        true_max = self.a.max_grip_n[hand] * max(0.0, 1.0 - self.a.fatigue_per_trial * n)
        target = true_max * self.a.effort
        self.targets[hand].append(target)
        t_start = self.clock.now()
        rise_s = 0.35
        cv = self.a.steadiness_cv
        rng = random.Random(self.rng.random())
        wobble = [rng.gauss(0.0, cv) for _ in range(64)]
        self.peaks[hand].append(target * (1.0 + max(0.0, max(wobble))))

        def force(t: float) -> float:
            dt = t - t_start
            if dt <= 0:
                return 0.0
            ramp = min(1.0, dt / rise_s)
            return max(0.0, target * ramp * (1.0 + wobble[int(dt * 20) % 64]))

        self.pads[self.grip_pad].set_force_profile(force)
        self._squeezing = True
        self.log.append((t_start, f"squeeze {hand} {target:.2f} N"))

    def _release(self) -> None:
        if self._squeezing:
            self.pads[self.grip_pad].set_force(0.0)
            self._squeezing = False

    def _press(self, key: str) -> None:
        pin = self.pins[key]
        pin.drive_low()
        self.clock.call_later(PRESS_S, pin.drive_high, name=f"release-{key}")
        self.log.append((self.clock.now(), f"press {key}"))

    def _press_later(self, key: str, delay_s: float) -> None:
        self.clock.call_later(delay_s, lambda: self._press(key), name=f"press-{key}")


def _is_squeeze(text: str) -> bool:
    return "squeeze" in text and "rest" not in text


def _rating_unset(text: str) -> bool:
    """A rating that shows no value yet (``< -- >``)."""
    return re.search(r"<\s*-+\s*>", text) is not None


def _rating_value(text: str) -> int | None:
    m = re.search(r"<\s*(10|\d)\s*>", text) or re.search(r"\b(10|\d)\s*/\s*10\b", text)
    return int(m.group(1)) if m else None


def _yes_is_right(text: str) -> bool:
    """On a two-choice screen, is "yes" the right-hand option?"""
    yes, no = text.rfind("yes"), text.rfind("no")
    return yes > no if yes >= 0 and no >= 0 else True
