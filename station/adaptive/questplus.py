"""QUEST+ (Watson 2017) over threshold x slope x lapse: minimum expected entropy, optional
random choice among the best k levels, catch trials, a credible-interval stop.

The likelihood table is computed once; the posterior is one flat array. Expected entropy of
every level is three matrix-vector products: for outcome o with table P_o (levels x
parameters) and posterior π, Σ_o p_o·H_o = Σ_o [p_o ln p_o − (P_o ln P_o)·π − P_o·(π ln π)].
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import (
    STATE_SCHEMA,
    Estimate,
    Scale,
    check_int,
    check_range,
    check_state,
    rng_from_json,
    rng_to_json,
)
from .grid import QuestGrid
from .priors import population_prior
from .stats import grid_quantiles

INTERVAL = "equal-tailed posterior credible interval"
#: Quantiles reported: 95 % low, 68 % low, median, 68 % high, 95 % high.
_PROBS = (0.025, 0.158655, 0.5, 0.841345, 0.975)


def _xlogx(a: np.ndarray) -> np.ndarray:
    """a·ln a with 0·ln 0 = 0."""
    return a * np.log(a, out=np.zeros_like(a), where=a > 0)


class QuestPlus:
    """QUEST+ on ``grid`` from ``prior`` (flat or grid-shaped; None: the population prior).

    - ``best_k`` (1-10): pick at random among the k levels of lowest expected entropy, never
      presenting one level more than ``max_run`` (1-10) times in a row; 1 = pure minimum.
    - ``catch_rate`` ([0, 0.5]): share of catch trials at ``catch_stimulus`` (scale units;
      default the highest level). They are ordinary trials to the posterior, so their misses
      inform the lapse rate.
    - Stop at ``max_trials`` (≥ 1, catch trials count), or once ``min_trials`` are done and
      the 95 % interval is at most ``ci95_width`` wide (scale units; None: never).
    - ``seed`` seeds the choices (catch draws, best-k picks)."""

    kind = "questplus"

    def __init__(
        self,
        grid: QuestGrid,
        prior: np.ndarray | None = None,
        *,
        best_k: int = 1,
        max_run: int = 2,
        catch_rate: float = 0.1,
        catch_stimulus: float | None = None,
        max_trials: int = 50,
        min_trials: int = 0,
        ci95_width: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.grid = grid
        self.best_k = check_int("best_k", best_k, 1, min(10, grid.stimuli.size))
        self.max_run = check_int("max_run", max_run, 1, 10)
        self.catch_rate = check_range("catch_rate", catch_rate, 0.0, 0.5)
        self.catch_stimulus = float(grid.stimuli[-1] if catch_stimulus is None else catch_stimulus)
        self.max_trials = check_int("max_trials", max_trials, 1)
        self.min_trials = check_int("min_trials", min_trials, 0, self.max_trials)
        self.ci95_width = (
            None
            if ci95_width is None
            else check_range("ci95_width", ci95_width, 0.0, math.inf, open_lo=True, open_hi=True)
        )
        if prior is None:
            prior = population_prior(grid)
        self._post = grid.distribution(prior, "prior")
        self._rng = np.random.default_rng(seed)
        self._pending: tuple[float, bool] | None = None
        self.history: list[tuple[float, bool, bool]] = []
        p = grid.p_table
        self._outcomes = np.vstack([p, 1.0 - p])  # rows: correct at each level, then wrong
        self._outcomes_xlogx = _xlogx(self._outcomes)

    def __repr__(self) -> str:
        g = self.grid
        return (
            f"QuestPlus({g.stimuli.size} levels x {g.shape} params, {g.n_afc}AFC {g.form} "
            f"{g.scale}, trials={len(self.history)})"
        )

    @property
    def scale(self) -> Scale:
        return self.grid.scale

    @property
    def posterior(self) -> np.ndarray:
        """A copy of the flat posterior (threshold-major, see ``QuestGrid``)."""
        return self._post.copy()

    def marginal(self, axis: int) -> np.ndarray:
        """The posterior marginal over thresholds (0), slopes (1) or lapses (2)."""
        post = self._post.reshape(self.grid.shape)
        others = tuple(a for a in range(3) if a != check_int("axis", axis, 0, 2))
        return post.sum(axis=others)

    def expected_entropy(self) -> np.ndarray:
        """Expected posterior entropy (nats) after a trial at each grid level."""
        ac = self._outcomes @ np.column_stack([self._post, _xlogx(self._post)])
        b = self._outcomes_xlogx @ self._post
        h = _xlogx(ac[:, 0]) - b - ac[:, 1]
        n = self.grid.stimuli.size
        return h[:n] + h[n:]

    @property
    def pending_catch(self) -> bool:
        """Whether the stimulus :meth:`next_stimulus` gave (and not yet updated) is a catch
        trial's."""
        return self._pending is not None and self._pending[1]

    def next_stimulus(self) -> float:
        if self._pending is None:
            self._pending = self._choose()
        return self._pending[0]

    def _choose(self) -> tuple[float, bool]:
        if self.catch_rate > 0 and self._rng.random() < self.catch_rate:
            return (self.catch_stimulus, True)
        ent = self.expected_entropy()
        if self.best_k == 1:
            return (float(self.grid.stimuli[int(np.argmin(ent))]), False)
        best = [float(self.grid.stimuli[i]) for i in np.argsort(ent, kind="stable")]
        recent = [h[0] for h in self.history[-self.max_run :]]
        if len(recent) == self.max_run and len(set(recent)) == 1:
            best = [x for x in best if x != recent[0]]
        pick = best[: self.best_k]
        return (pick[int(self._rng.integers(len(pick)))], False)

    def update(self, stimulus: float, correct: bool) -> None:
        x = float(stimulus)
        rows = np.flatnonzero(np.abs(self.grid.stimuli - x) <= 1e-9 * max(1.0, abs(x)))
        p = self.grid.p_table[rows[0]] if rows.size else self.grid.p_correct_row(x)
        post = self._post * (p if correct else 1.0 - p)
        total = post.sum()
        if not total > 0:
            raise ValueError(
                f"a {'correct' if correct else 'wrong'} answer at {x:g} has zero likelihood "
                "everywhere on the grid: widen the threshold or lapse grid"
            )
        self._post = post / total
        catch = self._pending is not None and self._pending[1] and self._pending[0] == x
        self.history.append((x, bool(correct), catch))
        self._pending = None

    def estimate(self) -> Estimate:
        g = self.grid
        q = grid_quantiles(g.thresholds, self.marginal(0), _PROBS)
        slope = float(self.marginal(1) @ g.slopes)
        lapse = float(self.marginal(2) @ g.lapses)
        rise = 1.0 - math.exp(-1.0) if g.form == "weibull" else 0.5
        target = g.guess + (1.0 - g.guess - lapse) * rise
        return Estimate(
            q[2],
            (q[1], q[3]),
            (q[0], q[4]),
            g.scale,
            INTERVAL,
            target,
            len(self.history),
            slope,
            lapse,
        )

    def finished(self) -> bool:
        n = len(self.history)
        if n >= self.max_trials:
            return True
        if self.ci95_width is None or n < self.min_trials:
            return False
        lo, hi = self.estimate().ci95
        return hi - lo <= self.ci95_width

    def to_state(self) -> dict[str, Any]:
        return {
            "schema": STATE_SCHEMA,
            "kind": self.kind,
            "grid": self.grid.to_json(),
            "params": {
                "best_k": self.best_k,
                "max_run": self.max_run,
                "catch_rate": self.catch_rate,
                "catch_stimulus": self.catch_stimulus,
                "max_trials": self.max_trials,
                "min_trials": self.min_trials,
                "ci95_width": self.ci95_width,
            },
            "posterior": self._post.tolist(),
            "rng": rng_to_json(self._rng),
            "pending": None if self._pending is None else list(self._pending),
            "history": [list(h) for h in self.history],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> QuestPlus:
        check_state(state, cls.kind)
        grid = QuestGrid.from_json(state["grid"])
        obj = cls(grid, np.ones(grid.size), **state["params"])
        post = np.asarray(state["posterior"], dtype=float)
        if post.size != grid.size:
            raise ValueError(f"posterior has {post.size} values, the grid {grid.size}")
        obj._post = post
        obj._rng = rng_from_json(state["rng"])
        pend = state["pending"]
        obj._pending = None if pend is None else (float(pend[0]), bool(pend[1]))
        obj.history = [(float(x), bool(c), bool(k)) for x, c, k in state["history"]]
        return obj
