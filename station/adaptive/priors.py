"""Priors for QUEST+: the population prior of a first assessment, and the carry-over rule
that turns the last assessment's posterior into the next prior (CLINICAL.md §7.8-7.9).

Population prior (independent factors on the grid):
- threshold: Gaussian in scale units, by default centred on the threshold grid with SD a
  quarter of its span (set both from the task's patient population when known);
- slope: log-normal, median 3, SD 0.5 in ln units (between vision's 3.5 and the shallower
  slopes expected, but unmeasured, on reinnervated skin);
- lapse: ∝ exp(−λ / 0.04), favouring small lapse rates without excluding 0.1.

Carry-over: the posterior convolved along the threshold axis with a scale mixture of two
Gaussians, SD ``narrow_sd`` (default 0.08 log10 = 1.6 dB: day-to-day drift and recovery)
with weight 1 − ``broad_weight`` and SD ``broad_sd`` (default 0.35 log10 = 7 dB: a halved or
doubled threshold within one SD) with weight ``broad_weight`` (default 0.6). The narrow part
keeps a stable patient's knowledge; the broad part keeps a changed patient from being
trapped (measured: within run-to-run noise of the population prior for a halved or
doubled threshold; figures in docs/adaptive.md).
Slope and lapse posteriors carry over unchanged.
"""

from __future__ import annotations

import numpy as np

from .base import LOG10_PER_UNIT, check_range
from .grid import QuestGrid

SLOPE_MEDIAN = 3.0
SLOPE_LN_SD = 0.5
LAPSE_SCALE = 0.04
NARROW_SD_LOG10 = 0.08
BROAD_SD_LOG10 = 0.35
BROAD_WEIGHT = 0.6


def population_prior(
    grid: QuestGrid, threshold_mean: float | None = None, threshold_sd: float | None = None
) -> np.ndarray:
    """The flat prior (sums to 1) of a first assessment; mean and SD in scale units."""
    t = grid.thresholds
    mean = float((t[0] + t[-1]) / 2) if threshold_mean is None else float(threshold_mean)
    span = float(t[-1] - t[0])
    sd = (span / 4 if span > 0 else 1.0) if threshold_sd is None else threshold_sd
    sd = check_range("threshold_sd", sd, 0.0, np.inf, open_lo=True, open_hi=True)
    p_t = np.exp(-0.5 * ((t - mean) / sd) ** 2)
    p_b = np.exp(-0.5 * ((np.log(grid.slopes) - np.log(SLOPE_MEDIAN)) / SLOPE_LN_SD) ** 2)
    p_l = np.exp(-grid.lapses / LAPSE_SCALE)
    prior = p_t[:, None, None] * p_b[None, :, None] * p_l[None, None, :]
    if not prior.sum() > 0:
        raise ValueError(f"threshold_mean {mean:g} is too far outside the threshold grid")
    return (prior / prior.sum()).ravel()


def widen(grid: QuestGrid, posterior: np.ndarray, widen_sd: float) -> np.ndarray:
    """``posterior`` convolved along the threshold axis with N(0, widen_sd²) (scale units);
    mass that would leave the grid stays at its edge cells (columns renormalised)."""
    post = np.asarray(posterior, dtype=float).reshape(grid.shape)
    t = grid.thresholds
    kernel = np.exp(-0.5 * ((t[:, None] - t[None, :]) / widen_sd) ** 2)
    kernel /= kernel.sum(axis=0, keepdims=True)
    return np.einsum("ij,jbl->ibl", kernel, post).ravel()


def carry_over_prior(
    grid: QuestGrid,
    posterior: np.ndarray,
    *,
    narrow_sd: float | None = None,
    broad_sd: float | None = None,
    broad_weight: float = BROAD_WEIGHT,
) -> np.ndarray:
    """The next assessment's prior from the last one's ``posterior`` (flat, on ``grid``).

    ``narrow_sd`` and ``broad_sd`` in scale units (defaults 0.08 and 0.35 log10, i.e. 1.6
    and 7 dB), each in (0, 2 log10]; ``broad_weight`` in [0, 1]."""
    post = grid.distribution(posterior, "posterior")
    unit = LOG10_PER_UNIT[grid.scale]
    narrow = NARROW_SD_LOG10 / unit if narrow_sd is None else narrow_sd
    broad = BROAD_SD_LOG10 / unit if broad_sd is None else broad_sd
    narrow = check_range("narrow_sd", narrow, 0.0, 2.0 / unit, open_lo=True)
    broad = check_range("broad_sd", broad, 0.0, 2.0 / unit, open_lo=True)
    w = check_range("broad_weight", broad_weight, 0.0, 1.0)
    prior = (1.0 - w) * widen(grid, post, narrow) + w * widen(grid, post, broad)
    return prior / prior.sum()
