"""A seeded simulated observer for tests and benchmarks: answers by a psychometric function.

Not the virtual patient of ``station/sim`` (which acts through the simulated hardware): this
one answers a procedure directly, so procedures can be scored against a known truth.
"""

from __future__ import annotations

import math

import numpy as np

from .base import EstimateUnavailable, Procedure, Scale, check_range, check_scale
from .psychometric import Form, check_form, level_at, p_correct


class SimulatedObserver:
    """Answers correctly with probability ψ(x) (CLINICAL.md §7.1).

    ``threshold`` in scale units; ``slope`` the Weibull shape (or logistic slope per log10
    unit), in (0, 50]; ``guess`` γ in [0, 1) (1/m for m-AFC); ``lapse`` λ in [0, 0.5];
    ``seed`` makes the answers reproducible."""

    def __init__(
        self,
        threshold: float,
        slope: float = 3.5,
        guess: float = 0.5,
        lapse: float = 0.02,
        *,
        form: Form = "weibull",
        scale: Scale = "log10",
        seed: int | None = None,
    ) -> None:
        self.threshold = float(threshold)
        self.slope = check_range("slope", slope, 0.0, 50.0, open_lo=True)
        self.guess = check_range("guess", guess, 0.0, 1.0, open_hi=True)
        self.lapse = check_range("lapse", lapse, 0.0, 0.5)
        if self.guess + self.lapse >= 1.0:
            raise ValueError(f"guess + lapse must be < 1, got {self.guess + self.lapse:g}")
        self.form = check_form(form)
        self.scale = check_scale(scale)
        self._rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return (
            f"SimulatedObserver(threshold={self.threshold:g} {self.scale}, "
            f"slope={self.slope:g}, guess={self.guess:g}, lapse={self.lapse:g}, {self.form})"
        )

    def p_correct(self, stimulus: float) -> float:
        return float(
            p_correct(
                stimulus, self.threshold, self.slope, self.guess, self.lapse, self.form, self.scale
            )
        )

    def respond(self, stimulus: float) -> bool:
        """One seeded answer to ``stimulus`` (scale units): True if correct."""
        return bool(self._rng.random() < self.p_correct(stimulus))

    def level_at(self, p: float) -> float:
        """The stimulus where this observer is correct with probability ``p``."""
        return level_at(
            p, self.threshold, self.slope, self.guess, self.lapse, self.form, self.scale
        )


def run(
    procedure: Procedure, observer: SimulatedObserver, max_trials: int | None = None
) -> list[float]:
    """Run ``procedure`` against ``observer`` until it finishes (or ``max_trials``); the
    threshold estimate after each trial (NaN while none is available)."""
    out: list[float] = []
    while not procedure.finished() and (max_trials is None or len(out) < max_trials):
        x = procedure.next_stimulus()
        procedure.update(x, observer.respond(x))
        try:
            out.append(procedure.estimate().threshold)
        except EstimateUnavailable:
            out.append(math.nan)
    return out
