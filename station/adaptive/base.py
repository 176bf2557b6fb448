"""The interface every adaptive procedure implements, its estimate, and shared checks.

Stimuli are in the procedure's own scale: ``"log10"`` (log10 of a ratio: Δf/f, groove width,
amplitude ratio) or ``"dB"`` (20·log10 of an amplitude ratio, re the per-unit calibration
table), CLINICAL.md §4.7 and §7.9. States are plain JSON (``rehab.adaptive/1``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

Scale = Literal["log10", "dB"]
SCALES: tuple[Scale, ...] = ("log10", "dB")
#: log10 units per scale unit: 1 for log10, 1/20 for dB (amplitude).
LOG10_PER_UNIT: dict[str, float] = {"log10": 1.0, "dB": 1.0 / 20.0}
STATE_SCHEMA = "rehab.adaptive/1"


class EstimateUnavailable(RuntimeError):
    """Too few data for an estimate (e.g. a staircase with fewer than 4 usable reversals)."""


@dataclass(frozen=True)
class Estimate:
    """A threshold with its intervals, all in the procedure's scale.

    ``threshold`` is the posterior median of the threshold (QUEST+) or of the level at
    ``target_p`` given every trial (staircases); ``ci68``/``ci95`` are (low, high);
    ``interval`` names how they were made;
    ``target_p`` is the proportion correct the threshold refers to; ``slope``/``lapse`` are
    posterior means (QUEST+ only)."""

    threshold: float
    ci68: tuple[float, float]
    ci95: tuple[float, float]
    scale: Scale
    interval: str
    target_p: float
    n_trials: int
    slope: float | None = None
    lapse: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "ci68": list(self.ci68),
            "ci95": list(self.ci95),
            "scale": self.scale,
            "interval": self.interval,
            "target_p": self.target_p,
            "n_trials": self.n_trials,
            "slope": self.slope,
            "lapse": self.lapse,
        }


class Procedure(Protocol):
    """What protocols, tests and benchmarks use of any adaptive procedure."""

    @property
    def scale(self) -> Scale: ...

    def next_stimulus(self) -> float:
        """The next level to present, in ``scale`` units; repeated calls give the same
        level until ``update``."""
        ...

    def update(self, stimulus: float, correct: bool) -> None:
        """Record the response to ``stimulus`` (the level actually presented)."""
        ...

    def estimate(self) -> Estimate: ...

    def finished(self) -> bool:
        """True once the procedure's stopping rule is met."""
        ...

    def to_state(self) -> dict[str, Any]:
        """Plain JSON; ``from_state`` of it reproduces the next stimulus exactly."""
        ...


# -- argument checks ------------------------------------------------------------------------


def check_range(
    name: str, value: float, lo: float, hi: float, *, open_lo: bool = False, open_hi: bool = False
) -> float:
    """``value`` as float if lo <(=) value <(=) hi, else ValueError naming the range."""
    v = float(value)
    ok = (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
    if not ok or math.isnan(v):
        left = "(" if open_lo else "["
        right = ")" if open_hi else "]"
        raise ValueError(f"{name} must be in {left}{lo:g}, {hi:g}{right}, got {value!r}")
    return v


def check_int(name: str, value: int, lo: int, hi: int | None = None) -> int:
    """``value`` if it is an int in [lo, hi] (hi None: no upper bound), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        upper = "∞)" if hi is None else f"{hi}]"
        raise ValueError(f"{name} must be in [{lo}, {upper}, got {value}")
    return int(value)


def check_scale(scale: str) -> Scale:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return scale  # type: ignore[return-value]


def check_grid(
    name: str,
    values: Sequence[float] | np.ndarray,
    lo: float = -math.inf,
    hi: float = math.inf,
    min_len: int = 1,
) -> np.ndarray:
    """A strictly increasing 1-D float grid within [lo, hi], else ValueError."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size < min_len:
        raise ValueError(f"{name} must be a 1-D sequence of at least {min_len} values")
    if not np.all(np.isfinite(arr)) or np.any(arr < lo) or np.any(arr > hi):
        raise ValueError(f"{name} values must be finite and in [{lo:g}, {hi:g}]")
    if np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    return arr


def check_state(state: dict[str, Any], kind: str) -> None:
    if state.get("schema") != STATE_SCHEMA or state.get("kind") != kind:
        raise ValueError(
            f"not a {kind} state: schema {state.get('schema')!r} (want {STATE_SCHEMA!r}), "
            f"kind {state.get('kind')!r}"
        )


# -- the random generator as JSON -----------------------------------------------------------


def rng_to_json(rng: np.random.Generator) -> dict[str, Any]:
    """PCG64 state with its 128-bit integers as decimal strings (safe in any JSON reader)."""
    st = rng.bit_generator.state
    return {
        "bit_generator": st["bit_generator"],
        "state": {k: str(v) for k, v in st["state"].items()},
        "has_uint32": int(st["has_uint32"]),
        "uinteger": int(st["uinteger"]),
    }


def rng_from_json(data: dict[str, Any]) -> np.random.Generator:
    if data.get("bit_generator") != "PCG64":
        raise ValueError(f"rng state must be PCG64, got {data.get('bit_generator')!r}")
    bitgen: Any = np.random.PCG64()
    state: dict[str, Any] = {
        "bit_generator": "PCG64",
        "state": {k: int(v) for k, v in data["state"].items()},
        "has_uint32": int(data["has_uint32"]),
        "uinteger": int(data["uinteger"]),
    }
    bitgen.state = state
    return np.random.Generator(bitgen)
