"""The virtual patient's motor acts: what its hands do on a motor task's screens.

Each act claims the screens it acts on (by their words, as a person reads them), starts
when such a screen has settled and the patient has reacted, and ends when a screen it does
not claim replaces it. An act moves the patient's hands only through the physical
channels: forces on the world's FSR pads (``FsrPad.set_force_profile``), finger poses of
the world's hand (the glove's IMUs feel them). It may read the LCD (the bar included) as a
person would, never the session's code or a target value a protocol computed.

The truth a session should measure is :class:`MotorAbilities` (in
:class:`~station.sim.patient.Abilities`); tests compare the measurement with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from station.sim.motor_bilateral import TwoBarHands


@dataclass(frozen=True)
class MotorAbilities:
    """Motor truth beyond maximal grip (``Abilities.max_grip_n``, ``steadiness_cv``)."""

    # -- a comfortable effort, steadiness and tracking -------------------------------------
    #: A firm, comfortable squeeze as a fraction of the hand's maximal grip.
    comfortable_fraction: float = 0.5
    # -- fast squeezes, grip-release, sustained hold ---------------------------------------
    # -- bilateral -------------------------------------------------------------------------
    #: Where each hand holds its bar on a two-bar screen, as a fraction of its band's
    #: middle (1.0: on target; 0.85: 15 % short; 0: no effort on that hand).
    bilateral_hold: dict[str, float] = field(default_factory=lambda: {"left": 1.0, "right": 1.0})
    #: How long the following hand takes to start once its marks appear (s), copying the
    #: other hand that already holds.
    follow_lag_s: float = 0.4
    # -- fingers and imagery ---------------------------------------------------------------


class Act:
    """One kind of motor act; subclasses set :attr:`words` or override :meth:`claims`."""

    #: The act claims a screen whose words contain all of these.
    words: ClassVar[tuple[str, ...]] = ()

    def __init__(self, patient: Any) -> None:
        #: The :class:`~station.sim.patient.VirtualPatient` whose hands act (its truth
        #: ``p.a``, clock, pads, ``squeeze_to``/``release``, seeded ``rng``, ``log``).
        self.p = patient
        self.active = False

    def claims(self, text: str) -> bool:
        return bool(self.words) and all(w in text for w in self.words)

    def start(self, text: str) -> None:
        """The patient has read ``text`` (a screen this act claims) and reacts."""
        self.active = True

    def end(self) -> None:
        """A screen this act does not claim replaced its screen."""
        self.active = False


class Comfortable(Act):
    """A firm, comfortable squeeze (not a maximal one) on the grip pad, with the hand's
    wobble: ``comfortable_fraction`` of the hand's maximal grip."""

    words = ("squeeze firmly",)

    def start(self, text: str) -> None:
        super().start(text)
        p = self.p
        hand = self.p.hand_seen
        target = p.a.max_grip_n[hand] * p.a.motor.comfortable_fraction
        p.squeeze_to(target, hand, f"comfortable squeeze {hand}")

    def end(self) -> None:
        super().end()
        self.p.release()


class BilateralHold(Act):
    """Both hands on a two-bar screen (the ``bilateral`` task): the hands of
    :class:`~station.sim.motor_bilateral.TwoBarHands`, which read both bars."""

    def __init__(self, patient: Any) -> None:
        super().__init__(patient)
        self.hands = TwoBarHands(patient)

    def claims(self, text: str) -> bool:
        return self.hands.claims(text)

    def start(self, text: str) -> None:
        super().start(text)
        self.hands.start()

    def end(self) -> None:
        super().end()
        self.hands.end()


#: Every act, tried in order on a settled screen before the patient's other reactions.
ACTS: tuple[type[Act], ...] = (Comfortable, BilateralHold)


def wobble_profile(
    rng: random.Random, target_n: float, cv: float, t_start: float, rise_s: float
) -> Callable[[float], float]:
    """``force(t)``: a rise to ``target_n`` over ``rise_s`` from ``t_start``, then a hold
    with a relative wobble of ``cv`` (a new value every 50 ms, as maximal grip's)."""
    wobble = [rng.gauss(0.0, cv) for _ in range(64)]

    def force(t: float) -> float:
        dt = t - t_start
        if dt <= 0:
            return 0.0
        ramp = min(1.0, dt / rise_s)
        return max(0.0, target_n * ramp * (1.0 + wobble[int(dt * 20) % 64]))

    return force
