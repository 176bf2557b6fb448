"""Intervals for a staircase from its own trials: the posterior of the level at the
staircase's target proportion correct, given every (stimulus, correct) trial.

The model is the 2AFC-style Weibull of ``psychometric`` with the known guess rate; slope and
lapse are unknown, so the likelihood is marginalised over a small grid of both (``SLOPES``,
``LAPSES``, equal weights), with a flat prior on the target level. Trials at the same level
(within 0.01 log10) are pooled, k correct of n, so the cost grows with levels, not trials.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import LOG10_PER_UNIT, Scale
from .psychometric import level_at, p_correct
from .stats import grid_quantiles

#: Weibull shapes marginalised over, 2-5.6 in steps of √2 (CLINICAL.md §7.1: β unknown,
#: probably shallower than vision's 3.5). Down to 1.5 the 95 % interval over-covers at β 3.5.
SLOPES: tuple[float, ...] = (2.0, 2.8, 4.0, 5.6)
#: Lapse rates marginalised over (those below 1 − target_p are used).
LAPSES: tuple[float, ...] = (0.0, 0.02, 0.05)
#: Level grid: step and margin beyond the levels presented, in log10 units.
STEP_LOG10 = 0.02
MARGIN_LOG10 = 0.4
POOL_LOG10 = 0.01
INTERVAL = "posterior of the target level from all trials (Weibull, slope x lapse marginalised)"


def target_level_posterior(
    trials: Sequence[tuple[float, bool]], target_p: float, guess: float, scale: Scale
) -> tuple[np.ndarray, np.ndarray]:
    """Levels (scale units, increasing) and their posterior mass (sums to 1) for the
    stimulus where ψ = ``target_p``; ``trials`` are (stimulus, correct) pairs."""
    unit = LOG10_PER_UNIT[scale]
    # Levels pooled into POOL_LOG10 bins (at their mean): a 0.55 down/up step ratio makes
    # nearly every level distinct, and the bins are far narrower than any interval.
    x = np.array([s for s, _ in trials], dtype=float)
    c = np.array([k for _, k in trials], dtype=float)
    _, inverse = np.unique(np.round(x * unit / POOL_LOG10), return_inverse=True)
    n = np.bincount(inverse).astype(float)
    k = np.bincount(inverse, weights=c)
    levels_x = np.bincount(inverse, weights=x) / n
    step, margin = STEP_LOG10 / unit, MARGIN_LOG10 / unit
    grid = np.arange(levels_x[0] - margin, levels_x[-1] + margin + step / 2, step)
    combos = [(b, lam) for lam in LAPSES if guess < target_p < 1.0 - lam for b in SLOPES]
    slope = np.array([b for b, _ in combos])[:, None, None]
    lapse = np.array([lam for _, lam in combos])[:, None, None]
    # The Weibull threshold t that puts the target level at each grid point, per combination.
    offset = np.array(
        [level_at(target_p, 0.0, b, guess, lam, "weibull", scale) for b, lam in combos]
    )
    t = grid[None, :, None] - offset[:, None, None]
    p = p_correct(levels_x[None, None, :], t, slope, guess, lapse, "weibull", scale)
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    ll = (k * np.log(p) + (n - k) * np.log1p(-p)).sum(axis=2)
    like = np.exp(ll - ll.max()).sum(axis=0)
    return grid, like / like.sum()


def target_level_interval(
    trials: Sequence[tuple[float, bool]], target_p: float, guess: float, scale: Scale
) -> tuple[float, tuple[float, float], tuple[float, float]]:
    """Posterior median and equal-tailed 68 % and 95 % intervals of the target level."""
    grid, mass = target_level_posterior(trials, target_p, guess, scale)
    q = grid_quantiles(grid, mass, (0.025, 0.15865, 0.5, 0.84135, 0.975))
    return q[2], (q[1], q[3]), (q[0], q[4])
