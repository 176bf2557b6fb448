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
from dataclasses import dataclass

from station.sim.act import Act
from station.sim.motor_fingers import FINGER_ACTS


@dataclass(frozen=True)
class MotorAbilities:
    """Motor truth beyond maximal grip (``Abilities.max_grip_n``, ``steadiness_cv``)."""

    # -- a comfortable effort, steadiness and tracking -------------------------------------
    #: A firm, comfortable squeeze as a fraction of the hand's maximal grip.
    comfortable_fraction: float = 0.5
    # -- fast squeezes, grip-release, sustained hold ---------------------------------------
    # -- bilateral -------------------------------------------------------------------------
    # -- fingers and imagery ---------------------------------------------------------------
    #: Each finger's furthest active flexion (deg, relative to the back of the hand), in the
    #: order thumb, index, middle, ring, little.
    finger_flexion_deg: tuple[float, ...] = (50.0, 80.0, 85.0, 78.0, 72.0)
    #: Each finger's furthest active extension, as a flexion angle (deg): negative past
    #: straight, positive when the finger cannot straighten fully (a lag).
    finger_extension_deg: tuple[float, ...] = (-8.0, -15.0, 5.0, -12.0, -20.0)
    #: How long a finger takes to reach its furthest flexion or extension (s).
    finger_move_s: float = 0.6
    #: Each try falls short of the furthest range by up to this much (deg, uniform).
    finger_shortfall_deg: float = 0.0
    #: Postural tremor while the hand is held up unsupported (none while it rests on the
    #: table): frequency (Hz) and peak rotation about the hand's flexion axis (deg).
    tremor_hz: float = 0.0
    tremor_deg: float = 0.0
    #: Tremor (deg, at ``tremor_hz``) even while the hand rests flat: it cannot keep still.
    rest_tremor_deg: float = 0.0
    #: Imagery rounds after which the patient presses Back (None: goes on when asked).
    imagery_rounds: int | None = None


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


#: Every act, tried in order on a settled screen before the patient's other reactions.
ACTS: tuple[type[Act], ...] = (Comfortable, *FINGER_ACTS)


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
