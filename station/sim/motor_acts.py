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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from station.sim.act import Act
from station.sim.motor_bilateral import TwoBarHands
from station.sim.motor_fast import FAST_ACTS
from station.sim.motor_fingers import FINGER_ACTS
from station.sim.motor_track import SteadyHold, Tracking


@dataclass(frozen=True)
class MotorAbilities:
    """Motor truth beyond maximal grip (``Abilities.max_grip_n``, ``steadiness_cv``)."""

    # -- a comfortable effort, steadiness and tracking -------------------------------------
    #: A firm, comfortable squeeze as a fraction of the hand's maximal grip.
    comfortable_fraction: float = 0.5
    #: Visuomotor delay from what the eyes see on the bar to the force (s): the tracking
    #: lag a tracking task should measure once the station's own latency is taken out.
    tracking_lag_s: float = 0.15
    #: Relative force wobble (SD / force) while following a moving band.
    tracking_noise_cv: float = 0.03
    #: Growth of the steadiness wobble (``Abilities.steadiness_cv``) from one hold to the
    #: next in a session, relative (1.0: each hold twice as wobbly as the one before).
    steadiness_rise_per_hold: float = 0.0
    #: Force produced / force aimed at on the bar: 1 matches the band, 0 is no squeeze.
    force_match: float = 1.0
    # -- fast squeezes, grip-release, sustained hold ---------------------------------------
    #: A fast squeeze rises as ``peak (1 - exp(-t / rfd_tau_s))`` from rest: its true RFD
    #: over a window is the profile's slope there (``station.sim.motor_fast.true_rfd``).
    rfd_tau_s: float = 0.08
    #: A fast squeeze's peak as a fraction of the hand's maximal grip.
    rfd_fraction: float = 0.9
    #: Force kept on the pad while told to keep the hand loose (N; 0: complete rest).
    rfd_pretension_n: float = 0.0
    #: One grip-and-release cycle (s), a raised cosine from 0 to its peak and back.
    release_cycle_s: float = 0.5
    #: Each grip's peak as a fraction of the hand's maximal grip.
    release_fraction: float = 0.6
    #: Fraction of the first peak lost per maximal contraction of an intermittent set.
    fatigue_per_rep: float = 0.025
    #: Fraction of the maximum lost per second of a sustained maximal hold (linear).
    fatigue_per_hold_s: float = 0.02
    # -- bilateral -------------------------------------------------------------------------
    #: Where each hand holds its bar on a two-bar screen, as a fraction of its band's
    #: middle (1.0: on target; 0.85: 15 % short; 0: no effort on that hand).
    bilateral_hold: dict[str, float] = field(default_factory=lambda: {"left": 1.0, "right": 1.0})
    #: How long the following hand takes to start once its marks appear (s), copying the
    #: other hand that already holds.
    follow_lag_s: float = 0.4
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
ACTS: tuple[type[Act], ...] = (
    Comfortable,
    SteadyHold,
    Tracking,
    *FAST_ACTS,
    BilateralHold,
    *FINGER_ACTS,
)

__all__ = ["ACTS", "Act", "Comfortable", "MotorAbilities", "wobble_profile"]


def wobble_profile(
    wobble: Sequence[float], target_n: float, t_start: float, rise_s: float
) -> Callable[[float], float]:
    """``force(t)``: a rise to ``target_n`` over ``rise_s`` from ``t_start``, then a hold
    with the relative ``wobble`` (its values in turn, a new one every 50 ms)."""

    def force(t: float) -> float:
        dt = t - t_start
        if dt <= 0:
            return 0.0
        ramp = min(1.0, dt / rise_s)
        return max(0.0, target_n * ramp * (1.0 + wobble[int(dt * 20) % 64]))

    return force
