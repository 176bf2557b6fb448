"""A session's per-protocol results, from its journalled trials and the protocols and
params it ran with (which the journal keeps: a session summarised after a restart gets
the metrics it would have had, whatever plan is in force by then)."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from station.journal import Journal
from station.plan import ScheduleItem
from station.protocols import PROTOCOLS
from station.protocols.base import MetricsContext
from station.summary import ProtocolResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedProtocol:
    """A protocol of the session, with the plan params it ran with."""

    protocol: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, items: Sequence[ScheduleItem]) -> list[PlannedProtocol]:
        return [cls(i.protocol, dict(i.params)) for i in items]

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> PlannedProtocol:
        """One entry as the journal keeps it; ``ValueError`` when it is not one."""
        name, params = item.get("protocol"), item.get("params", {})
        if not isinstance(name, str) or not isinstance(params, dict):
            raise ValueError(f"not a planned protocol: {item!r}")
        return cls(name, params)

    def as_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "params": self.params}


def protocol_results(
    journal: Journal, session_id: int, planned: Sequence[PlannedProtocol], ctx: MetricsContext
) -> list[ProtocolResult]:
    """One result per protocol this station runs, in plan order; a protocol listed twice
    is one set of metrics, with the params it was first listed with."""
    # Each protocol's history is the sessions before this one (a session summarised after a
    # restart judges change against what came before it, not after).
    ctx = dataclasses.replace(
        ctx, history=functools.partial(journal.previous_trials, before_session=session_id)
    )
    first: dict[str, PlannedProtocol] = {}
    for p in planned:
        first.setdefault(p.protocol, p)
    out = []
    for item in first.values():
        factory = PROTOCOLS.get(item.protocol)
        if factory is None:
            continue
        trials = journal.trials(session_id, item.protocol)
        try:
            metrics = factory(item.params).metrics(trials, ctx) if trials else {}
        except ValueError as exc:  # params an older version took and this one refuses
            log.warning("session %s: no metrics for %s: %s", session_id, item.protocol, exc)
            metrics = {}
        out.append(ProtocolResult(item.protocol, len(trials), metrics))
    return out
