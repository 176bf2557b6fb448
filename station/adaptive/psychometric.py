"""Psychometric functions on the log10 and dB scales (CLINICAL.md §7.1).

ψ(x) = γ + (1 − γ − λ)·F(x), with threshold t, slope β, guess rate γ and lapse rate λ.

- ``"weibull"``: F = 1 − exp(−10^(β·u·(x − t))), the Weibull in log units (Quick/QUEST):
  β is the Weibull shape of the linear stimulus, u = 1 for log10 and 1/20 for dB. The
  threshold sits at F = 1 − e⁻¹ (≈ 80.4 % correct in 2AFC with λ = 0.02).
- ``"logistic"``: F = 1 / (1 + exp(−β·u·(x − t))), β per log10 unit; t is the midpoint.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .base import LOG10_PER_UNIT, Scale, check_range, check_scale

Form = Literal["weibull", "logistic"]
FORMS: tuple[Form, ...] = ("weibull", "logistic")


def check_form(form: str) -> Form:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return form  # type: ignore[return-value]


def rising_part(
    x: ArrayLike, threshold: ArrayLike, slope: ArrayLike, form: Form, scale: Scale
) -> np.ndarray:
    """F(x) in [0, 1], broadcast over all arguments (stimulus and threshold in scale units)."""
    z = (
        np.asarray(slope, dtype=float)
        * LOG10_PER_UNIT[scale]
        * (np.asarray(x, dtype=float) - np.asarray(threshold, dtype=float))
    )
    if form == "weibull":
        # 10**z overflows to inf far above threshold; exp(-inf) = 0 is the right limit.
        with np.errstate(over="ignore"):
            return -np.expm1(-np.power(10.0, z))
    return 1.0 / (1.0 + np.exp(-np.clip(z, -700.0, 700.0)))


def p_correct(
    x: ArrayLike,
    threshold: ArrayLike,
    slope: ArrayLike,
    guess: ArrayLike,
    lapse: ArrayLike,
    form: Form = "weibull",
    scale: Scale = "log10",
) -> np.ndarray:
    """ψ(x): probability of a correct response, broadcast over all arguments."""
    g = np.asarray(guess, dtype=float)
    lam = np.asarray(lapse, dtype=float)
    return g + (1.0 - g - lam) * rising_part(x, threshold, slope, form, scale)


def level_at(
    p: float,
    threshold: float,
    slope: float,
    guess: float,
    lapse: float,
    form: Form = "weibull",
    scale: Scale = "log10",
) -> float:
    """The stimulus (scale units) where ψ = ``p``; ``p`` must lie in (γ, 1 − λ)."""
    check_scale(scale)
    check_range("p", p, guess, 1.0 - lapse, open_lo=True, open_hi=True)
    f = (p - guess) / (1.0 - guess - lapse)
    weibull = check_form(form) == "weibull"
    z = math.log10(-math.log1p(-f)) if weibull else math.log(f / (1.0 - f))
    return threshold + z / (slope * LOG10_PER_UNIT[scale])
