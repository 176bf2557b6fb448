"""Real change between two sessions' results (``reference/CLINICAL.md`` §11): a difference
counts only beyond the larger of the measure's minimal detectable change (MDC95) and the
95 % interval of the difference from the two results' own uncertainties, so one session's
noise is never flagged. Shared by the motor protocols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Z95 = 1.96


def sem_from_icc(sd_between: float, icc: float) -> float:
    """Standard error of measurement from a test-retest ICC and the between-subject SD:
    SEM = SD·√(1 − ICC). Raises ValueError for an ICC outside 0..1."""
    if not 0.0 <= icc <= 1.0:
        raise ValueError(f"icc must be within 0..1, got {icc}")
    return sd_between * math.sqrt(1.0 - icc)


def mdc95(sem: float) -> float:
    """Minimal detectable change at 95 %: 1.96·√2·SEM (two measurements, each with SEM)."""
    return Z95 * math.sqrt(2.0) * sem


@dataclass(frozen=True)
class Change:
    """``now`` against ``before``: the difference, the threshold it was judged against,
    whether it is a real change and which way (``better``/``worse``)."""

    difference: float
    threshold: float
    flag: bool
    direction: str | None
    rule: str

    def as_json(self) -> dict[str, Any]:
        return {
            "difference": round(self.difference, 4),
            "threshold": round(self.threshold, 4),
            "flag": self.flag,
            "direction": self.direction,
            "rule": self.rule,
        }


def real_change(
    now: float,
    now_u: float,
    before: float,
    before_u: float,
    mdc: float | None = None,
    lower_is_better: bool = True,
) -> Change:
    """Is ``now`` really different from ``before``? ``*_u``: standard uncertainties;
    ``mdc``: the measure's MDC95 in the same unit, when one is known."""
    own = Z95 * math.sqrt(now_u**2 + before_u**2)
    threshold = max(own, mdc or 0.0)
    rule = "MDC95" if mdc is not None and mdc >= own else "95 % interval of the difference"
    d = now - before
    flag = abs(d) > threshold
    direction = None
    if flag:
        direction = "better" if (d < 0) == lower_is_better else "worse"
    return Change(d, threshold, flag, direction, rule)
