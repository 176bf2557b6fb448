"""The virtual patient's fast squeezes, grip-and-release and fatiguing holds: acts on the
screens of ``rate_of_force_development``, ``grip_release`` and ``sustained_hold``, through
the grip pad's force profile only (:mod:`station.sim.motor_acts`).

Each act keeps what it did (``done``: start time and the profile's numbers), the truth a
test compares a measurement with; :func:`true_rfd` is the analytic RFD of a fast squeeze.
"""

from __future__ import annotations

import math
from typing import Any

from station.sim.act import Act


def true_rfd(peak_n: float, tau_s: float, onset_n: float, window_s: float) -> float:
    """Mean RFD (N/s) of ``peak (1 - exp(-t/tau))`` over ``window_s`` from where it crosses
    ``onset_n`` (the analytic truth of a fast squeeze's 0-``window_s`` RFD)."""
    t_on = -tau_s * math.log(1.0 - onset_n / peak_n)
    f = peak_n * (1.0 - math.exp(-(t_on + window_s) / tau_s))
    return (f - onset_n) / window_s


class _PadAct(Act):
    """An act on the grip pad, with a log of what it did (``done``)."""

    def __init__(self, patient: Any) -> None:
        super().__init__(patient)
        self.done: list[dict[str, float]] = []

    def _max(self) -> float:
        return float(self.p.a.max_grip_n[self.p.hand_seen])

    def _pad(self) -> Any:
        return self.p.pads[self.p.grip_pad]

    def end(self) -> None:
        super().end()
        self._pad().set_force(0.0)


class LooseHand(Act):
    """Told to keep the hand loose before a fast squeeze: rests it with the patient's
    ``rfd_pretension_n`` (0: complete rest)."""

    words = ("then go fast",)

    def start(self, text: str) -> None:
        super().start(text)
        pre = self.p.a.motor.rfd_pretension_n
        self.p.pads[self.p.grip_pad].set_force(pre)
        if pre:
            self.p.log.append((self.p.clock.now(), f"pre-tension {pre:.2f} N"))


class FastSqueeze(_PadAct):
    """As fast and as hard as possible: ``peak (1 - exp(-t/tau))`` on top of any
    pre-tension, ``peak = rfd_fraction × max grip``."""

    words = ("squeeze fast",)

    def start(self, text: str) -> None:
        super().start(text)
        m = self.p.a.motor
        peak, tau, base = self._max() * m.rfd_fraction, m.rfd_tau_s, m.rfd_pretension_n
        t0 = self.p.clock.now()

        def force(t: float) -> float:
            dt = t - t0
            return base if dt <= 0 else base + peak * (1.0 - math.exp(-dt / tau))

        self._pad().set_force_profile(force)
        self.done.append({"t0": t0, "peak_n": peak, "tau_s": tau, "base_n": base})
        self.p.log.append((t0, f"fast squeeze {peak:.2f} N, tau {tau * 1000:.0f} ms"))


class GripAndRelease(_PadAct):
    """Grip and let go, again and again: a raised cosine from 0 to ``release_fraction`` of
    the maximal grip, one cycle every ``release_cycle_s``."""

    words = ("squeeze and let go",)

    def start(self, text: str) -> None:
        super().start(text)
        m = self.p.a.motor
        peak, period = self._max() * m.release_fraction, m.release_cycle_s
        t0 = self.p.clock.now()

        def force(t: float) -> float:
            dt = t - t0
            return 0.0 if dt <= 0 else peak * 0.5 * (1.0 - math.cos(2 * math.pi * dt / period))

        self._pad().set_force_profile(force)
        self.done.append({"t0": t0, "peak_n": peak, "cycle_s": period})
        self.p.log.append((t0, f"grip and release {peak:.2f} N every {period:.2f} s"))


class HardSqueeze(_PadAct):
    """A maximal contraction of a fatigue set. Intermittent reps: each peak
    ``fatigue_per_rep`` of the first lower than the one before; a sustained hold ("hold"):
    the force falls by ``fatigue_per_hold_s`` of its maximum per second after the rise."""

    words = ("squeeze hard",)
    RISE_S = 0.3

    def start(self, text: str) -> None:
        super().start(text)
        m = self.p.a.motor
        t0 = self.p.clock.now()
        hold = "hold" in text
        reps = sum(1 for d in self.done if not d["hold"])
        peak = self._max() * (1.0 if hold else max(0.0, 1.0 - m.fatigue_per_rep * reps))
        rate, rise = m.fatigue_per_hold_s if hold else 0.0, self.RISE_S

        def force(t: float) -> float:
            dt = t - t0
            if dt <= 0:
                return 0.0
            if dt < rise:
                return peak * dt / rise
            return peak * max(0.0, 1.0 - rate * (dt - rise))

        self._pad().set_force_profile(force)
        self.done.append({"t0": t0, "peak_n": peak, "hold": float(hold), "rate_per_s": rate})
        self.p.log.append((t0, f"hard squeeze {peak:.2f} N{' and hold' if hold else ''}"))


#: The acts of this module, in the order they are tried.
FAST_ACTS: tuple[type[Act], ...] = (LooseHand, FastSqueeze, GripAndRelease, HardSqueeze)
