"""Quantiles of a probability mass on a grid."""

from __future__ import annotations

import numpy as np


def grid_quantiles(
    values: np.ndarray, mass: np.ndarray, probs: tuple[float, ...], refine: int = 8
) -> list[float]:
    """Quantiles of a posterior known at the increasing grid ``values`` (``mass`` per point).

    The density at each point is its mass over its cell width; its logarithm is interpolated
    linearly on a ``refine`` times finer grid, so a posterior narrower than the grid spacing
    is not widened to whole cells. Quantiles are clipped to the grid's ends."""
    if values.size == 1:
        return [float(values[0])] * len(probs)
    m = np.asarray(mass, dtype=float)
    edges = np.concatenate(([values[0]], (values[1:] + values[:-1]) / 2, [values[-1]]))
    width = np.diff(edges)
    with np.errstate(divide="ignore"):
        log_dens = np.log(m / width)
    log_dens = np.maximum(log_dens - log_dens.max(), -700.0)
    fine = np.interp(
        np.linspace(0, values.size - 1, (values.size - 1) * refine + 1),
        np.arange(values.size),
        values,
    )
    dens = np.exp(np.interp(fine, values, log_dens))
    cdf = np.concatenate(([0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(fine))))
    cdf /= cdf[-1]
    # np.interp needs increasing x: stretches with no mass give flat steps, so nudge them.
    cdf = cdf + np.arange(cdf.size) * 1e-15
    return [float(v) for v in np.interp(np.asarray(probs), cdf, fine)]
