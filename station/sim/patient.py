"""The virtual patient: known, true abilities, acting only through the physical channels.

It reads the text the simulated HD44780 shows (its DDRAM, through the chip model), presses
buttons by driving gpiozero mock pins, squeezes, rests on, touches and presses pads through
the FSR model of the simulated world, and feels the world's motors and pad textures
(:mod:`station.sim.perception`). It never calls session code nor sees a stimulus value a
protocol asked for, so a simulated session measures it the way a real session measures a
person (a miscalibrated motor shows as a shifted threshold), and tests can compare the
measurement with the truth (:meth:`VirtualPatient.true_threshold`).

Profiles (:data:`PROFILES`): ``typical`` (typical recovery), ``fatigue_prone``,
``inattentive`` (long reactions, lapses, random sensory answers), ``pain_flare`` (pain rises
during the session), ``walks_away`` (stops responding part-way), ``improving`` (sensation
improves week by week from a raised start), ``numb_site`` (pad :data:`NUMB_SITE` feels
vibration 25 dB less). All randomness comes from one seeded generator.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from station.sim.motor_acts import ACTS, MotorAbilities, wobble_profile
from station.sim.perception import FeltVibration, Fingertips, Judge, Sense, default_senses

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
    #: Sensory truth, dimension -> Sense (threshold, slope, per-site offsets, improvement):
    #: "vibration" dB re 1 g rms at the pad, "amplitude" dB, "frequency" and "texture"
    #: log10 ratios, "localisation" dB re 1 g rms. Sites are pad indices (0-based).
    senses: dict[str, Sense] = field(default_factory=default_senses)
    sensory_lapse: float = 0.02  # chance a sensory answer is a random one
    improving_since_day: float = 0.0  # senses with ``per_week`` improve from this day
    tingling_after_vibration: bool = False
    contact_force_n: float = 1.0  # a fingertip resting on (or touching) a pad
    contact_spread_rel: float = 0.15  # its trial-to-trial spread (log-normal sd)
    contact_slip_rate: float = 0.0  # chance per stimulus interval of slipping out of the band
    press_force_n: float = 5.5  # pressing a pad to answer "which pad"
    #: Motor truth beyond maximal grip (steadiness, tracking, speed, fatigue, fingers).
    motor: MotorAbilities = field(default_factory=MotorAbilities)


#: The pad whose vibration sense ``numb_site`` has lost.
NUMB_SITE = 1


def _improving_senses() -> dict[str, Sense]:
    """Raised thresholds that fall week by week to the typical ones (about 6 weeks)."""
    typical = default_senses()
    start = {
        "vibration": (-5.0, 2.5),  # threshold at day 0, improvement per week
        "amplitude": (6.0, 0.6),
        "frequency": (math.log10(1.6), 0.02),
        "texture": (0.25, 0.025),
        "localisation": (1.0, 2.5),
    }
    return {
        dim: replace(typical[dim], threshold=t0, per_week=rate, best=typical[dim].threshold)
        for dim, (t0, rate) in start.items()
    }


def _numb_site_senses() -> dict[str, Sense]:
    senses = default_senses()
    for dim in ("vibration", "localisation"):
        senses[dim] = senses[dim].with_offset(NUMB_SITE, 25.0)
    return senses


PROFILES: dict[str, Abilities] = {
    "typical": Abilities(),
    "fatigue_prone": Abilities(fatigue_per_trial=0.14, max_grip_n={"left": 15.0, "right": 10.0}),
    "inattentive": Abilities(
        reaction_time_s=0.9, reaction_sd_s=0.3, lapse_rate=0.25, sensory_lapse=0.15
    ),
    "pain_flare": Abilities(pain_before=2, pain_rise_per_check=2),
    "walks_away": Abilities(walks_away_after_s=60.0),
    "improving": Abilities(senses=_improving_senses()),
    "numb_site": Abilities(senses=_numb_site_senses()),
}


def with_site_offsets(abilities: Abilities, dimension: str, offsets: dict[int, float]) -> Abilities:
    """``abilities`` with ``offsets`` (site -> what it adds to the threshold, in the
    dimension's units) on ``dimension``: e.g. the involved hand's pads feel less."""
    if dimension not in abilities.senses:
        raise ValueError(f"dimension must be one of {sorted(abilities.senses)}, got {dimension!r}")
    sense = abilities.senses[dimension]
    for site, offset in offsets.items():
        sense = sense.with_offset(site, offset)
    return replace(abilities, senses={**abilities.senses, dimension: sense})


def profile(name: str, **overrides: Any) -> Abilities:
    if name not in PROFILES:
        raise ValueError(f"unknown patient profile {name!r} (known: {', '.join(PROFILES)})")
    return replace(PROFILES[name], **overrides)


class VirtualPatient:
    """Drives the station's physical channels from what it sees on the LCD.

    ``read_lcd()`` returns the LCD's visible lines (from the simulated chip's DDRAM);
    ``pins`` maps button names to gpiozero mock pins; ``pads`` are the world's FSR pads,
    ``grip_pad`` the pad each hand squeezes. ``world`` (a :class:`~station.sim.world.World`)
    gives the senses their channels: its motors and its pads' ``texture_widths_mm``; without
    it the patient feels nothing. ``day`` is the session's day in the patient's programme
    (day 0 = its start): senses with a ``per_week`` improvement have improved for
    ``(day - improving_since_day) / 7`` weeks.
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
        world: Any = None,
        day: float = 0.0,
        read_glyphs: Callable[[], list[tuple[int, ...]]] | None = None,
    ) -> None:
        self.a = abilities
        #: The LCD's custom characters (CGRAM bitmaps): with ``read_lcd``, the bar as seen.
        self.read_glyphs = read_glyphs or (lambda: [])
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
        #: The hand the last screen that named one asked for (a short screen may not).
        self.hand_seen = "right"
        self.world = world
        self.day = float(day)
        weeks = max(0.0, self.day - abilities.improving_since_day) / 7.0
        self.judge = Judge(abilities.senses, abilities.sensory_lapse, self.rng, weeks)
        self.felt = FeltVibration(world.motors if world is not None else [])
        self._widths_mm: list[float] = list(world.texture_widths_mm) if world is not None else []
        a = abilities
        self.fingers = Fingertips(
            pads, clock, self.rng, a.contact_force_n, a.contact_spread_rel, a.contact_slip_rate
        )
        self._feel_key: str | None = None
        self._feel_t = clock.now()
        #: Every sensory answer: (time, task, option chosen, 0-based; a pad for "which pad").
        self.answers: list[tuple[float, str, int]] = []
        #: The motor acts (``station.sim.motor_acts``), tried before the other reactions.
        self.acts = [act(self) for act in ACTS]

    def true_threshold(self, dimension: str, site: int) -> float:
        """The true threshold of ``dimension`` at pad ``site`` (0-based) at this session's
        day, in the units of :attr:`Abilities.senses` (dB re 1 g rms, dB, log10)."""
        return self.judge.threshold(dimension, site)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._handle = self.clock.every(STEP_S, self._step, name="virtual-patient")

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._release()
        self.fingers.lift_all()

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
        self._feel(text, now)
        if text != self._glance:
            self._glance, self._glance_t = text, now
        if now - self._glance_t < STEP_S / 2:
            return
        if text != self._screen:
            self._screen = text
            if m := _HAND_WORD.search(text):
                self.hand_seen = m.group(1)
            self._acted_on = ""
            delay = max(0.15, self.rng.gauss(self.a.reaction_time_s, self.a.reaction_sd_s))
            if self.rng.random() < self.a.lapse_rate:
                delay += self.a.lapse_s
            self._busy_until = now + delay
            for act in self.acts:
                if act.active and not act.claims(text):
                    act.end()
            if self._squeezing and not _is_squeeze(text):
                self._release()
            self._lift(text)
            return
        if now < self._busy_until or self._acted_on == text or self.gone:
            return
        self._act(text)

    def _act(self, text: str) -> None:
        act = next((a for a in self.acts if a.claims(text)), None)
        if act is not None:
            if not act.active:
                act.start(text)
            self._acted_on = text
            return
        if _is_squeeze(text):
            self._squeeze(text)
            self._acted_on = text
            return
        if "pain" in text and (_rating_unset(text) or _rating_value(text) is not None):
            self._answer_rating(text)
            return
        if self._act_sensory(text):
            pass
        elif "numb" in text:
            self._answer_yes_no(text, self.a.new_numbness)
        elif "tingl" in text:  # after a vibration block (the check-in's question says "numb")
            self._answer_yes_no(text, self.a.tingling_after_vibration)
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

    # -- the senses ----------------------------------------------------------------------

    def _feel(self, text: str, now: float) -> None:
        """Feel the motors under the rested pads over the last step while a stimulus screen
        shows; the step goes to the screen shown at its start, else to the one at its end
        (a stimulus starts after its screen is up and may ring on after it is replaced)."""
        key = _stimulus_key(text)
        if key is not None and key != self._feel_key:
            self._stimulus_starts(key)
        window = self._feel_key or key
        if window is not None and self.fingers.rested and now > self._feel_t:
            self.felt.sample(window, self.fingers.rested, self._feel_t, now)
        self._feel_key, self._feel_t = key, now

    def _stimulus_starts(self, key: str) -> None:
        if key in ("1", "where"):
            self.felt.clear()  # the first interval of a trial
        self.fingers.maybe_slip()

    def _act_sensory(self, text: str) -> bool:
        """React to a sensory protocol's screen; False if ``text`` is not one."""
        fingers = self.fingers
        if m := _PLACE_MANY.search(text):
            fingers.rest_on(list(range(int(m.group(1)) - 1, int(m.group(2)))))
            self._note_rest()
            self._press_later("ok", 0.3)
        elif m := _PLACE.search(text):
            fingers.rest_on([int(m.group(1)) - 1])
            self._note_rest()
            self._press_later("ok", 0.3)
        elif _TRIAL.search(text) or "firmer" in text or "lighter" in text:
            self.felt.clear()  # a trial starts, or one starts again
            fingers.new_trial()
        elif m := _TOUCH.search(text):
            fingers.touch(int(m.group(1)) - 1)
        elif task := _question(text):
            self._answer(task, text)
        else:
            return False
        return True

    def _answer(self, task: str, text: str) -> None:
        judge, fingers, choice = self.judge, self.fingers, None
        if task in ("detect", "stronger", "faster"):
            choice = judge.which_interval(task, [self.felt.strongest(k) for k in ("1", "2")])
        elif task == "rougher":
            pair = fingers.touched[-2:]
            choice = judge.rougher(pair, self._widths_mm) if len(pair) == 2 else None
        elif task == "where" and fingers.rested:
            choice = judge.where(fingers.rested, self.felt.strongest("where"))
            fingers.press(choice, self.a.press_force_n)
        elif task == "odd" and len(fingers.touched) >= 3:
            three = fingers.touched[-3:]
            choice = three[judge.odd_one(three, self._widths_mm)]
            fingers.press(choice, self.a.press_force_n)
        if choice is None:  # nothing to judge (no finger was on a pad): a guess
            choice = self.rng.randrange(2)
        if task in ("detect", "stronger", "faster", "rougher"):
            self._press("left" if (choice == 0) == _first_is_left(text) else "right")
        self.answers.append((self.clock.now(), task, choice))
        self.log.append((self.clock.now(), f"answer {task}: {choice}"))
        self.felt.clear()
        fingers.touched = []

    def _note_rest(self) -> None:
        f = self.fingers
        pads = ", ".join(str(p + 1) for p in f.rested)
        self.log.append((self.clock.now(), f"rest on pad(s) {pads} at {f.rest_force_n:.2f} N"))

    def _lift(self, text: str) -> None:
        """Lift the fingers the new screen ``text`` no longer asks for."""
        m = _TOUCH.search(text)
        if not (m and int(m.group(1)) - 1 == self.fingers.touching):
            self.fingers.lift_touch()
        if _ENDS_BLOCK.search(text):
            self.fingers.lift_rested()

    # -- the body ------------------------------------------------------------------------

    def _squeeze(self, text: str) -> None:
        hand = "left" if "left" in text else "right"
        n = self.squeezes[hand]
        self.squeezes[hand] += 1
        true_max = self.a.max_grip_n[hand] * max(0.0, 1.0 - self.a.fatigue_per_trial * n)
        target = true_max * self.a.effort
        self.targets[hand].append(target)
        wobble = self.squeeze_to(target, hand, f"squeeze {hand}")
        self.peaks[hand].append(target * (1.0 + max(0.0, max(wobble))))

    def squeeze_to(
        self, target_n: float, hand: str, what: str, rise_s: float = 0.35
    ) -> list[float]:
        """Squeeze the grip pad up to ``target_n`` with the hand's wobble; the wobble drawn
        (relative, a value every 50 ms), which is the squeeze's truth."""
        rng = random.Random(self.rng.random())
        wobble = [rng.gauss(0.0, self.a.steadiness_cv) for _ in range(64)]
        t_start = self.clock.now()
        profile = wobble_profile(wobble, target_n, t_start, rise_s)
        self.pads[self.grip_pad].set_force_profile(profile)
        self._squeezing = True
        self.log.append((t_start, f"{what} {target_n:.2f} N"))
        return wobble

    def release(self) -> None:
        """Let go of the grip pad."""
        self._release()

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


# -- the sensory screens (ui_lcd/messages.py "sense.*", 20x4 and 16x2) ------------------------

_HAND_WORD = re.compile(r"\b(left|right)\b")
_PLACE = re.compile(r"\bon pad (\d+)\b")
_PLACE_MANY = re.compile(r"\bpads (\d+) ?(?:to|-) ?(\d+)\b")
_TRIAL = re.compile(r"\btrial \d+ of \d+\b")
_TOUCH = re.compile(r"\btouch pad (\d+)\b")
_INTERVAL = re.compile(r"\bbuzz (\d+) of \d+\b")
#: Screens after which no fingertip rests on a pad any longer: a block's end, another
#: task, the session's end (not a pause, nor a rest, which a block may hold between trials).
_ENDS_BLOCK = re.compile(
    r"set done|hands off|squeeze|buzzing|all done|stopped|ended|stop for today|"
    r"over for today|problem|\b(buzz|strength|speed|texture|where) test\b"
)
_QUESTIONS = (
    ("which one buzzed", "detect"),
    ("which buzzed", "detect"),
    ("which buzz felt stronger", "stronger"),
    ("which stronger", "stronger"),
    ("which buzz felt faster", "faster"),
    ("which faster", "faster"),
    ("which pad felt rougher", "rougher"),
    ("which rougher", "rougher"),
    ("press the pad that buzzed", "where"),
    ("press the pad that felt different", "odd"),
    ("press the pad that differs", "odd"),
)


def _stimulus_key(text: str) -> str | None:
    """The stimulus interval a screen shows: "1", "2".. ("Buzz k of m"), "where", or None."""
    if m := _INTERVAL.search(text):
        return m.group(1)
    if "which pad buzzes" in text or "which buzzes" in text:
        return "where"
    return None


def _question(text: str) -> str | None:
    return next((task for phrase, task in _QUESTIONS if phrase in text), None)


def _first_is_left(text: str) -> bool:
    """On a two-choice screen, is "First" the left-hand option?"""
    first, second = (
        max(text.rfind("first"), text.rfind("1st")),
        max(text.rfind("second"), text.rfind("2nd")),
    )
    return first < second if first >= 0 and second >= 0 else True
