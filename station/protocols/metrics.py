"""Metric helpers shared by protocols: values with units and their uncertainty."""

from __future__ import annotations

import math
from typing import Any


def metric(
    value: float | None, unit: str, uncertainty: float | None = None, **extra: Any
) -> dict[str, Any]:
    """A metric as the summary carries it: ``{"value", "unit", "uncertainty", ...}``.

    ``uncertainty`` is a standard uncertainty in the metric's unit (1 SD of the estimate).
    """
    out: dict[str, Any] = {"value": None if value is None else round(float(value), 3), "unit": unit}
    if uncertainty is not None:
        out["uncertainty"] = round(float(uncertainty), 3)
    out.update(extra)
    return out


def mean_sd(values: list[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        raise ValueError("mean of no values")
    m = sum(values) / n
    if n == 1:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def mean_uncertainty(values: list[float], relative_calibration: float) -> float:
    """Standard uncertainty of a mean: trial scatter (SD/sqrt n) and the calibration
    tolerance (relative, applied to the mean) combined in quadrature."""
    m, sd = mean_sd(values)
    return math.sqrt((sd / math.sqrt(len(values))) ** 2 + (m * relative_calibration) ** 2)
