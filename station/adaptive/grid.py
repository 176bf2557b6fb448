"""The QUEST+ model: stimulus levels, the threshold x slope x lapse grid, guess rate and the
psychometric form, with the precomputed likelihood table (Watson 2017; CLINICAL.md §7.7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base import Scale, check_grid, check_int, check_scale
from .psychometric import Form, check_form, p_correct

#: Slopes 1-6 (CLINICAL.md §7.9), geometric: 1, 1.29, 1.67, 2.15, 2.78, 3.59, 4.63, 6.
DEFAULT_SLOPES: tuple[float, ...] = tuple(round(float(b), 4) for b in np.geomspace(1, 6, 8))
#: Lapse rates 0-0.1 (CLINICAL.md §7.1, §7.9).
DEFAULT_LAPSES: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1)


@dataclass(frozen=True, eq=False)
class QuestGrid:
    """Stimuli and thresholds (scale units, increasing), slopes (Weibull shape, (0, 50]),
    lapses ([0, 0.5)); ``n_afc`` 2-4 gives the guess rate 1/n_afc. The parameter grid is
    flattened threshold-major: index = (t·n_slopes + b)·n_lapses + l."""

    stimuli: np.ndarray
    thresholds: np.ndarray
    slopes: np.ndarray
    lapses: np.ndarray
    n_afc: int = 2
    form: Form = "weibull"
    scale: Scale = "log10"
    #: P(correct) for every stimulus (rows) and parameter point (columns).
    p_table: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "stimuli", check_grid("stimuli", self.stimuli))
        set_(self, "thresholds", check_grid("thresholds", self.thresholds))
        set_(self, "slopes", check_grid("slopes", self.slopes, 1e-3, 50.0))
        set_(self, "lapses", check_grid("lapses", self.lapses, 0.0, 0.49))
        set_(self, "n_afc", check_int("n_afc", self.n_afc, 2, 4))
        set_(self, "form", check_form(self.form))
        set_(self, "scale", check_scale(self.scale))
        set_(self, "p_table", self.p_correct_row(self.stimuli[:, None]))

    @classmethod
    def make(
        cls,
        stimuli: Sequence[float],
        thresholds: Sequence[float],
        slopes: Sequence[float] = DEFAULT_SLOPES,
        lapses: Sequence[float] = DEFAULT_LAPSES,
        *,
        n_afc: int = 2,
        form: Form = "weibull",
        scale: Scale = "log10",
    ) -> QuestGrid:
        return cls(
            np.asarray(stimuli, dtype=float),
            np.asarray(thresholds, dtype=float),
            np.asarray(slopes, dtype=float),
            np.asarray(lapses, dtype=float),
            n_afc,
            form,
            scale,
        )

    @property
    def guess(self) -> float:
        return 1.0 / self.n_afc

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.thresholds.size, self.slopes.size, self.lapses.size)

    @property
    def size(self) -> int:
        return self.thresholds.size * self.slopes.size * self.lapses.size

    def distribution(self, values: Any, what: str) -> np.ndarray:
        """``values`` as a flat distribution on this grid, summing to 1; ``ValueError``
        naming ``what`` unless they are :attr:`size` finite non-negative numbers, not all 0."""
        dist = np.asarray(values, dtype=float).ravel()
        if (
            dist.size != self.size
            or not np.all(np.isfinite(dist))
            or np.any(dist < 0)
            or not dist.sum() > 0
        ):
            raise ValueError(f"{what} must be {self.size} finite non-negative values, not all 0")
        return dist / dist.sum()

    def p_correct_row(self, stimulus: float | np.ndarray) -> np.ndarray:
        """ψ at ``stimulus`` for every parameter point (flat); an array of stimuli as a
        column gives one row per stimulus."""
        t = self.thresholds[:, None, None]
        b = self.slopes[None, :, None]
        lam = self.lapses[None, None, :]
        x = np.asarray(stimulus, dtype=float)
        x = x.reshape(x.shape[0], 1, 1, 1) if x.ndim else x
        p = p_correct(x, t, b, self.guess, lam, self.form, self.scale)
        return p.reshape(*((x.shape[0],) if x.ndim else ()), self.size)

    def to_json(self) -> dict[str, Any]:
        return {
            "stimuli": self.stimuli.tolist(),
            "thresholds": self.thresholds.tolist(),
            "slopes": self.slopes.tolist(),
            "lapses": self.lapses.tolist(),
            "n_afc": self.n_afc,
            "form": self.form,
            "scale": self.scale,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuestGrid:
        return cls.make(
            data["stimuli"],
            data["thresholds"],
            data["slopes"],
            data["lapses"],
            n_afc=data["n_afc"],
            form=data["form"],
            scale=data["scale"],
        )

    def same_model(self, other: QuestGrid) -> bool:
        return self.to_json() == other.to_json()
