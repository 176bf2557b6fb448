"""A person at the keyboard as the patient: key actions become button presses and pad forces.

The player stands where :class:`~station.sim.patient.VirtualPatient` stands: it presses the
buttons by driving gpiozero mock pins and puts force on the pads through the FSR model of
the simulated world, on the simulated clock; it never calls session code. What it feels
(:meth:`Player.vibration_g`) is the world's motor under each pad.

Actions (:data:`ACTIONS`), as a terminal front end names them:

* ``ok``, ``left``, ``right``, ``stop``: one tap of that button per key event (a key held
  down auto-repeats, so holding Right walks a rating up);
* ``back``: the Back button, held down while its key is held (a protocol reads a held
  Back as "pause");
* ``squeeze``: the grip pad, with a force ramping up at :data:`RAMP_N_PER_S` while the key
  is held, up to ``max_force_n``, falling back to the pad's resting force when let go;
* ``pad1``..``pad8``: choose the pad ``harder`` and ``softer`` act on;
* ``harder``, ``softer``: the chosen pad's resting force up or down by :data:`STEP_N`;
* ``lift``: every finger off every pad.

Terminals report key presses, not releases. A key counts as held from its first event
until its auto-repeat stops: until :data:`FIRST_REPEAT_S` after the first event (the
longest usual delay before a terminal starts repeating), then :data:`REPEAT_GAP_S` after
the last repeat. Those gaps are real time (``real_now``), as auto-repeat is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BUTTON_TAPS = ("ok", "left", "right", "stop")
PADS = tuple(f"pad{i}" for i in range(1, 9))
ACTIONS = (*BUTTON_TAPS, "back", "squeeze", "harder", "softer", "lift", *PADS)

#: How long a tapped button stays down, and the gap before a queued second tap (simulated
#: s): both longer than the buttons' 30 ms debounce.
TAP_S = 0.12
TAP_GAP_S = 0.06
#: A key with no repeat yet is held this long (real s): auto-repeat starts after 0.25-0.66 s
#: on common terminals (X11's default delay is 660 ms).
FIRST_REPEAT_S = 0.7
#: A repeating key is let go once no repeat came for this long (real s): repeats come every
#: 30-50 ms.
REPEAT_GAP_S = 0.15
#: The squeeze's rise and fall (N per simulated second) and a resting-force step (N).
RAMP_N_PER_S = 12.0
FALL_N_PER_S = 40.0
STEP_N = 0.25


@dataclass
class _Held:
    """A key's auto-repeat, in real time: first event, last event, repeats seen."""

    first_t: float
    last_t: float
    repeats: int = 0

    def held(self, now: float) -> bool:
        gap = REPEAT_GAP_S if self.repeats else FIRST_REPEAT_S
        return now - self.last_t < gap


@dataclass
class Squeeze:
    """One squeeze of the grip pad: when it started (simulated s) and its true peak (N)."""

    t_s: float
    peak_n: float


class Player:
    """Key actions -> the station's buttons and pads (see the module docstring).

    ``pins``: button name -> mock pin; ``pads``: the world's FSR pads; ``motors``: the
    world's motors (motor i under pad i); ``grip_pad``: the pad ``squeeze`` presses;
    ``max_force_n``: the strongest squeeze (N). Raises ``ValueError`` for a grip pad that
    does not exist or a maximum force outside 1..100 N.
    """

    def __init__(
        self,
        clock: Any,
        pins: dict[str, Any],
        pads: list[Any],
        motors: list[Any],
        grip_pad: int = 0,
        max_force_n: float = 16.0,
        real_now: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= grip_pad < len(pads):
            raise ValueError(f"grip_pad must be 0..{len(pads) - 1}, got {grip_pad}")
        if not 1.0 <= max_force_n <= 100.0:
            raise ValueError(f"max_force_n must be 1..100 N, got {max_force_n}")
        self.clock = clock
        self.pins = pins
        self.pads = pads
        self.motors = motors
        self.grip_pad = grip_pad
        self.max_force_n = float(max_force_n)
        self.real_now = real_now
        #: The pad ``harder``/``softer`` act on (0-based).
        self.chosen = grip_pad
        #: Each pad's resting force (N), set with ``harder``/``softer``.
        self.rest_n = [0.0] * len(pads)
        #: Every squeeze of the grip pad, in order: the truth a grip measurement is checked by.
        self.squeezes: list[Squeeze] = []
        self._held: dict[str, _Held] = {}
        self._down: dict[str, bool] = {}
        self._queued: dict[str, int] = {}
        self._force = 0.0  # the grip pad's squeeze force above its resting force, now
        self._force_t = clock.now()
        self._slope = 0.0
        self._handle: Any = None

    def __repr__(self) -> str:
        return f"Player(chosen=pad{self.chosen + 1}, squeezing={self.squeezing})"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, period_s: float = 0.02) -> None:
        """Follow held keys every ``period_s`` of simulated time."""
        self._handle = self.clock.every(period_s, self.tick, name="player")

    def stop(self) -> None:
        """Stop following keys; every button up, every finger off (idempotent)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for key, pin in self.pins.items():
            if self._down.get(key):
                pin.drive_high()
            self._down[key] = False
        self._held.clear()
        self._force, self._slope = 0.0, 0.0
        self.rest_n = [0.0] * len(self.pads)
        for pad in self.pads:
            pad.set_force(0.0)

    # -- what the front end shows --------------------------------------------------------

    @property
    def squeezing(self) -> bool:
        return self._is_held("squeeze")

    def force_n(self) -> list[float]:
        """Each pad's true force now (N)."""
        now = self.clock.now()
        return [pad.force_at(now) for pad in self.pads]

    def vibration_g(self) -> list[float]:
        """The vibration under each pad now (g rms; 0 where no motor sits)."""
        now = self.clock.now()
        out = [0.0] * len(self.pads)
        for i, motor in enumerate(self.motors[: len(self.pads)]):
            out[i] = motor.vibration_at(now)[0]
        return out

    def buttons_down(self) -> dict[str, bool]:
        return {key: bool(self._down.get(key)) for key in self.pins}

    # -- keys ----------------------------------------------------------------------------

    def act(self, action: str) -> None:
        """One key event of ``action`` (:data:`ACTIONS`); ``ValueError`` for another."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}; got {action!r}")
        if action in BUTTON_TAPS:
            self._tap(action)
        elif action in ("back", "squeeze"):
            self._repeat(action)
            if action == "back" and not self._down.get("back"):
                self._pin("back", True)
        elif action in PADS:
            if PADS.index(action) < len(self.pads):  # a pad not fitted: nothing to choose
                self.chosen = PADS.index(action)
        elif action == "lift":
            self.rest_n = [0.0] * len(self.pads)
        else:
            step = STEP_N if action == "harder" else -STEP_N
            pad = self.chosen
            self.rest_n[pad] = min(self.max_force_n, max(0.0, self.rest_n[pad] + step))
        self.tick()

    def _repeat(self, key: str) -> None:
        now = self.real_now()
        held = self._held.get(key)
        if held is not None and held.held(now):
            held.last_t, held.repeats = now, held.repeats + 1
        else:
            self._held[key] = _Held(now, now)

    def _is_held(self, key: str) -> bool:
        held = self._held.get(key)
        return held is not None and held.held(self.real_now())

    def _tap(self, key: str) -> None:
        if self._down.get(key):
            self._queued[key] = self._queued.get(key, 0) + 1
            return
        self._pin(key, True)
        self.clock.call_later(TAP_S, lambda: self._untap(key), name=f"untap-{key}")

    def _untap(self, key: str) -> None:
        self._pin(key, False)
        if self._queued.get(key):
            self._queued[key] -= 1
            self.clock.call_later(TAP_GAP_S, lambda: self._tap(key), name=f"tap-{key}")

    def _pin(self, key: str, down: bool) -> None:
        pin = self.pins.get(key)
        if pin is None:
            return
        if down:
            pin.drive_low()  # pull-up buttons: pressed = low
        else:
            pin.drive_high()
        self._down[key] = down

    # -- the body, every tick ------------------------------------------------------------

    def tick(self) -> None:
        """Let go of keys no longer held; move the squeeze; put the forces on the pads."""
        now = self.clock.now()
        if self._down.get("back") and not self._is_held("back"):
            self._pin("back", False)
        dt = max(0.0, now - self._force_t)
        top = max(0.0, self.max_force_n - self.rest_n[self.grip_pad])
        # What the pad did since the last tick (the profile then set), then what it does next.
        self._force = min(top, max(0.0, self._force + self._slope * dt))
        self._force_t = now
        squeezing = self._is_held("squeeze")
        if squeezing and self._slope <= 0.0 and self._force == 0.0:
            self.squeezes.append(Squeeze(now, 0.0))
        if self.squeezes and (squeezing or self._force > 0.0):
            last = self.squeezes[-1]
            last.peak_n = max(last.peak_n, self.rest_n[self.grip_pad] + self._force)
        self._slope = RAMP_N_PER_S if squeezing else -FALL_N_PER_S
        for i, pad in enumerate(self.pads):
            rest = self.rest_n[i]
            if i == self.grip_pad and (self._force > 0.0 or squeezing):
                pad.set_force_profile(_ramp(now, self._force, self._slope, rest, top))
            else:
                pad.set_force(rest)


def _ramp(t0: float, f0: float, slope: float, rest: float, top: float) -> Callable[[float], float]:
    """Force at t: ``rest`` plus ``f0`` moving at ``slope`` N/s from ``t0``, kept in 0..top."""

    def force(t: float) -> float:
        return rest + min(top, max(0.0, f0 + slope * (t - t0)))

    return force
