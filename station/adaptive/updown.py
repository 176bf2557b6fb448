"""Transformed up-down staircases (Levitt 1971) with García-Pérez's step ratios, and the
weighted up-down method (Kaernbach 1991): CLINICAL.md §7.2-7.3.

Both move one level on a fixed step schedule: ``steps`` are the *up* step sizes Δ⁺ (scale
units), the k-th used from the ``step_reversals[k-1]``-th reversal on; a down step is
``down_ratio``·Δ⁺. A reversal is a step against the previous step's direction, recorded at
the level of the trial that caused it. The estimate is the mean of the last ``n_estimate``
reversals after the first ``discard`` is kept as ``reversal_mean()``; ``estimate()`` reports
the posterior median and intervals of the level at ``target_p`` from every trial
(``likelihood``), once 4 reversals after the first ``discard`` are in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import (
    Estimate,
    EstimateUnavailable,
    Scale,
    check_int,
    check_range,
    check_scale,
    check_state,
)
from .likelihood import INTERVAL, target_level_interval

#: García-Pérez (1998) Δ⁻/Δ⁺ for n-down/1-up: converges on 77.85, 80.35, 83.15, 85.84 %.
GARCIA_PEREZ_RATIO = {1: 0.2845, 2: 0.5488, 3: 0.7393, 4: 0.8415}
#: Up steps and where they change (CLINICAL.md §7.2): 0.2 log10, halved at reversals 2 and 4.
DEFAULT_STEPS: dict[str, tuple[float, ...]] = {"log10": (0.2, 0.1, 0.05), "dB": (4.0, 2.0, 1.0)}
DEFAULT_STEP_REVERSALS = (2, 4)


class _Track:
    """Level, step schedule, reversals and stopping rule, shared by both procedures."""

    def __init__(
        self,
        start: float,
        scale: Scale,
        steps: Sequence[float] | None,
        step_reversals: Sequence[int] | None,
        down_ratio: float,
        bounds: tuple[float, float] | None,
        n_reversals: int | None,
        min_trials: int,
        max_trials: int | None,
        n_estimate: int,
        discard: int,
        n_afc: int,
    ) -> None:
        self.scale = check_scale(scale)
        self.n_afc = check_int("n_afc", n_afc, 2, 4)
        self.steps = tuple(DEFAULT_STEPS[scale] if steps is None else steps)
        self.step_reversals = tuple(
            (DEFAULT_STEP_REVERSALS if steps is None else ())
            if step_reversals is None
            else step_reversals
        )
        if not self.steps or any(not (s > 0 and math.isfinite(s)) for s in self.steps):
            raise ValueError(f"steps must be finite and > 0, got {self.steps!r}")
        if len(self.step_reversals) != len(self.steps) - 1 or any(
            b <= a for a, b in zip((0, *self.step_reversals), self.step_reversals, strict=False)
        ):
            raise ValueError(
                f"step_reversals must be {len(self.steps) - 1} increasing reversal counts "
                f"≥ 1 (one per step change), got {self.step_reversals!r}"
            )
        self.down_ratio = check_range("down_ratio", down_ratio, 0.0, 10.0, open_lo=True)
        if bounds is not None:
            lo, hi = float(bounds[0]), float(bounds[1])
            if not lo < hi:
                raise ValueError(f"bounds must be (low, high) with low < high, got {bounds!r}")
            bounds = (lo, hi)
        self.bounds = bounds
        self.start = self._clamp(float(start))
        if n_reversals is None and max_trials is None:
            raise ValueError("set n_reversals, max_trials or both (a stopping rule)")
        self.n_reversals = None if n_reversals is None else check_int("n_reversals", n_reversals, 1)
        self.max_trials = None if max_trials is None else check_int("max_trials", max_trials, 1)
        self.min_trials = check_int("min_trials", min_trials, 0, self.max_trials)
        self.n_estimate = check_int("n_estimate", n_estimate, 2)
        if self.n_estimate % 2:
            raise ValueError(f"n_estimate must be even (peaks and valleys), got {n_estimate}")
        self.discard = check_int("discard", discard, 0)
        self.level = self.start
        self.direction = 0
        self.reversals: list[float] = []
        self.history: list[tuple[float, bool]] = []

    def _clamp(self, x: float) -> float:
        if self.bounds is None:
            return x
        return min(max(x, self.bounds[0]), self.bounds[1])

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "scale": self.scale,
            "steps": list(self.steps),
            "step_reversals": list(self.step_reversals),
            "bounds": None if self.bounds is None else list(self.bounds),
            "n_reversals": self.n_reversals,
            "min_trials": self.min_trials,
            "max_trials": self.max_trials,
            "n_estimate": self.n_estimate,
            "discard": self.discard,
            "n_afc": self.n_afc,
        }

    def record(self, stimulus: float, correct: bool, direction: int) -> None:
        """One trial at ``stimulus``; direction +1 steps up, -1 down, 0 stays."""
        self.history.append((float(stimulus), bool(correct)))
        self.level = float(stimulus)
        if direction == 0:
            return
        if self.direction and direction != self.direction:
            self.reversals.append(self.level)
        self.direction = direction
        k = sum(1 for r in self.step_reversals if len(self.reversals) >= r)
        up = self.steps[k]
        self.level = self._clamp(self.level + (up if direction > 0 else -self.down_ratio * up))

    def finished(self) -> bool:
        n = len(self.history)
        if self.max_trials is not None and n >= self.max_trials:
            return True
        return (
            self.n_reversals is not None
            and len(self.reversals) >= self.n_reversals
            and n >= self.min_trials
        )

    def usable_reversals(self) -> list[float]:
        usable = self.reversals[self.discard :][-self.n_estimate :]
        if len(usable) % 2:
            usable = usable[1:]
        if len(usable) < 4:
            raise EstimateUnavailable(
                f"{len(self.reversals)} reversals: the estimate needs at least 4 after the "
                f"first {self.discard}"
            )
        return usable

    def estimate(self, target_p: float) -> Estimate:
        # Reversal midpoints are correlated and biased, so a t-interval over them covered
        # only 67-78 % for a nominal 95 %; the trials themselves give an honest interval.
        self.usable_reversals()
        guess = 1.0 / self.n_afc
        if not target_p > guess:
            raise EstimateUnavailable(
                f"target_p {target_p:.3f} is not above the guess rate {guess:.3f}: "
                "no threshold to estimate"
            )
        median, ci68, ci95 = target_level_interval(self.history, target_p, guess, self.scale)
        return Estimate(median, ci68, ci95, self.scale, INTERVAL, target_p, len(self.history))

    def dynamic_state(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "direction": self.direction,
            "reversals": self.reversals,
            "history": [[x, c] for x, c in self.history],
        }

    def load(self, state: dict[str, Any]) -> None:
        self.level = float(state["level"])
        self.direction = int(state["direction"])
        self.reversals = [float(r) for r in state["reversals"]]
        self.history = [(float(x), bool(c)) for x, c in state["history"]]


class _UpDown:
    """What both up-down rules share: the track of levels and reversals, the estimate at
    the rule's ``target_p``, and the state as JSON. A rule says only how it steps."""

    kind = ""
    _track: _Track

    @property
    def scale(self) -> Scale:
        return self._track.scale

    @property
    def target_p(self) -> float:
        raise NotImplementedError

    @property
    def reversals(self) -> list[float]:
        return list(self._track.reversals)

    def next_stimulus(self) -> float:
        return self._track.level

    def finished(self) -> bool:
        return self._track.finished()

    def estimate(self) -> Estimate:
        """Posterior median and 68/95 % intervals of the level at ``target_p``, from every
        trial (slope and lapse marginalised); EstimateUnavailable before 4 reversals after
        the first ``discard``."""
        return self._track.estimate(self.target_p)

    def reversal_mean(self) -> float:
        """The classic estimate: mean of the last ``n_estimate`` reversals after the first
        ``discard`` (EstimateUnavailable with fewer than 4)."""
        return float(np.mean(self._track.usable_reversals()))

    def _described(self, rule: str) -> str:
        t = self._track
        return (
            f"{type(self).__name__}({rule}, level={t.level:g} {t.scale}, "
            f"trials={len(t.history)}, reversals={len(t.reversals)})"
        )

    def _state(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "schema": "rehab.adaptive/1",
            "kind": self.kind,
            "params": {**self._track.params(), **params},
            **extra,
            **self._track.dynamic_state(),
        }

    @classmethod
    def _restored(cls, state: dict[str, Any]) -> Any:
        check_state(state, cls.kind)
        p = dict(state["params"])
        p["bounds"] = None if p["bounds"] is None else tuple(p["bounds"])
        obj = cls(**p)
        obj._track.load(state)
        return obj


class Staircase(_UpDown):
    """n-down/1-up transformed staircase (``n_down`` 1-4), 1-down/1-up until the first
    reversal when ``initial_one_down``.

    ``down_ratio`` Δ⁻/Δ⁺ defaults to García-Pérez's for ``n_down``; the level converged on
    is then p = (1/(1 + ratio))^(1/n_down) correct (80.35 % for 2-down). Stop at
    ``max_trials``, or at ``n_reversals`` once ``min_trials`` are done."""

    kind = "staircase"

    def __init__(
        self,
        start: float,
        *,
        n_down: int = 2,
        scale: Scale = "log10",
        steps: Sequence[float] | None = None,
        step_reversals: Sequence[int] | None = None,
        down_ratio: float | None = None,
        initial_one_down: bool = True,
        bounds: tuple[float, float] | None = None,
        n_reversals: int | None = 10,
        min_trials: int = 0,
        max_trials: int | None = 80,
        n_estimate: int = 6,
        discard: int = 2,
        n_afc: int = 2,
    ) -> None:
        self.n_down = check_int("n_down", n_down, 1, 4)
        ratio = GARCIA_PEREZ_RATIO[self.n_down] if down_ratio is None else down_ratio
        self.initial_one_down = bool(initial_one_down)
        self._track = _Track(
            start, scale, steps, step_reversals, ratio, bounds,
            n_reversals, min_trials, max_trials, n_estimate, discard, n_afc,
        )  # fmt: skip
        self._run = 0

    def __repr__(self) -> str:
        return self._described(f"{self.n_down}-down/1-up")

    @property
    def target_p(self) -> float:
        """The proportion correct this rule and step ratio converge on."""
        return (1.0 / (1.0 + self._track.down_ratio)) ** (1.0 / self.n_down)

    def update(self, stimulus: float, correct: bool) -> None:
        needed = 1 if self.initial_one_down and not self._track.reversals else self.n_down
        direction = 0
        if not correct:
            self._run, direction = 0, 1
        else:
            self._run += 1
            if self._run >= needed:
                self._run, direction = 0, -1
        self._track.record(stimulus, correct, direction)

    def to_state(self) -> dict[str, Any]:
        params = {
            "n_down": self.n_down,
            "down_ratio": self._track.down_ratio,
            "initial_one_down": self.initial_one_down,
        }
        return self._state(params, run=self._run)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Staircase:
        obj: Staircase = cls._restored(state)
        obj._run = int(state["run"])
        return obj


class WeightedUpDown(_UpDown):
    """Kaernbach's weighted up-down: every correct answer steps down by Δ⁻, every error up
    by Δ⁺ = Δ⁻·p/(1 − p), converging on ``target_p`` correct (in [0.55, 0.95]).

    ``steps`` are the up steps Δ⁺ as for ``Staircase``; stopping rule likewise."""

    kind = "weighted_up_down"

    def __init__(
        self,
        start: float,
        *,
        target_p: float = 0.8,
        scale: Scale = "log10",
        steps: Sequence[float] | None = None,
        step_reversals: Sequence[int] | None = None,
        bounds: tuple[float, float] | None = None,
        n_reversals: int | None = 10,
        min_trials: int = 0,
        max_trials: int | None = 80,
        n_estimate: int = 6,
        discard: int = 2,
        n_afc: int = 2,
    ) -> None:
        self._target_p = check_range("target_p", target_p, 0.55, 0.95)
        ratio = (1.0 - self._target_p) / self._target_p
        self._track = _Track(
            start, scale, steps, step_reversals, ratio, bounds,
            n_reversals, min_trials, max_trials, n_estimate, discard, n_afc,
        )  # fmt: skip

    def __repr__(self) -> str:
        return self._described(f"target {self._target_p:.0%}")

    @property
    def target_p(self) -> float:
        return self._target_p

    def update(self, stimulus: float, correct: bool) -> None:
        self._track.record(stimulus, correct, -1 if correct else 1)

    def to_state(self) -> dict[str, Any]:
        return self._state({"target_p": self._target_p})

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WeightedUpDown:
        obj: WeightedUpDown = cls._restored(state)
        return obj
