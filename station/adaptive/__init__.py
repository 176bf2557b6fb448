"""Adaptive psychophysical procedures (CLINICAL.md §7): transformed and weighted up-down
staircases and QUEST+, behind one interface (``Procedure``); pure numpy, no I/O.

``restore(state)`` rebuilds any procedure from its ``to_state()`` JSON (session resume).
"""

from __future__ import annotations

from typing import Any

from .base import STATE_SCHEMA, Estimate, EstimateUnavailable, Procedure, Scale
from .grid import DEFAULT_LAPSES, DEFAULT_SLOPES, QuestGrid
from .observer import SimulatedObserver, run
from .priors import carry_over_prior, population_prior
from .psychometric import Form, level_at, p_correct
from .questplus import QuestPlus
from .updown import GARCIA_PEREZ_RATIO, Staircase, WeightedUpDown

__all__ = [
    "DEFAULT_LAPSES",
    "DEFAULT_SLOPES",
    "GARCIA_PEREZ_RATIO",
    "STATE_SCHEMA",
    "Estimate",
    "EstimateUnavailable",
    "Form",
    "Procedure",
    "QuestGrid",
    "QuestPlus",
    "Scale",
    "SimulatedObserver",
    "Staircase",
    "WeightedUpDown",
    "carry_over_prior",
    "level_at",
    "p_correct",
    "population_prior",
    "restore",
    "run",
]

_KINDS: dict[str, Any] = {
    Staircase.kind: Staircase,
    WeightedUpDown.kind: WeightedUpDown,
    QuestPlus.kind: QuestPlus,
}


def restore(state: dict[str, Any]) -> Staircase | WeightedUpDown | QuestPlus:
    """The procedure ``state`` (from ``to_state()``) describes, ready for its next trial."""
    kind = state.get("kind")
    if state.get("schema") != STATE_SCHEMA or kind not in _KINDS:
        raise ValueError(
            f"not an adaptive-procedure state: schema {state.get('schema')!r} "
            f"(want {STATE_SCHEMA!r}), kind {kind!r} (one of {sorted(_KINDS)})"
        )
    proc: Staircase | WeightedUpDown | QuestPlus = _KINDS[kind].from_state(state)
    return proc
