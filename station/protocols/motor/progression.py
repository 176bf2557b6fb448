"""Progressive loading of the force-control tasks from session to session, and the trend
the summary names (progress, plateau, regression).

The plan sets a task's starting level (``level_pct`` of the reference force), a step
(``step_pct``, percentage points per session) taken when the last session met the task's
criterion, and a ceiling (``max_level_pct``). The force a level gives is clamped to the
caps by the protocol (:meth:`~station.protocols.motor.common.MotorProtocol.capped_target`),
so no plan moves a target past the clinician's force ceiling or the station's caps. A
changed ``level_pct`` in the plan is a new prescription: the level starts again from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from station.journal import Trial
from station.protocols.motor.change import real_change


@dataclass(frozen=True)
class Loading:
    """This session's level (% of the reference), the last session's, and why."""

    level_pct: float
    previous_pct: float | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "level_pct": round(self.level_pct, 2),
            "previous_pct": None if self.previous_pct is None else round(self.previous_pct, 2),
            "reason": self.reason,
        }


def loading(
    history: Sequence[Sequence[Trial]],
    plan_pct: float,
    step_pct: float,
    ceiling_pct: float,
    met: Callable[[Sequence[Trial]], bool | None],
) -> Loading:
    """The level for this session from the task's earlier sessions (``history``, newest
    first; each a session's trials, which journal ``level_pct`` and ``plan_level_pct``) and
    ``met(trials)``: whether a session met the criterion (None: no usable result)."""
    ceiling = max(plan_pct, ceiling_pct)
    for trials in history:
        levelled = [t for t in trials if t.stimulus.get("level_pct") is not None]
        if not levelled:
            continue
        last = levelled[-1].stimulus
        before = float(last["level_pct"])
        if last.get("plan_level_pct") != plan_pct:
            return Loading(plan_pct, before, "new prescription: the plan's level")
        ok = met(trials)
        if ok and step_pct > 0:
            level, reason = before + step_pct, "criterion met last session: one step up"
        elif ok:
            level, reason = before, "criterion met, no step in the plan"
        else:
            level = before
            reason = "criterion not met last session" if ok is False else "no usable result"
        if level > ceiling:
            level, reason = ceiling, f"{reason}, held at the plan's ceiling"
        return Loading(level, before, reason)
    return Loading(plan_pct, None, "first session: the plan's level")


@dataclass(frozen=True)
class Point:
    """One session's result: value and standard uncertainty, at a level, in a session."""

    value: float
    u: float
    level_pct: float
    session: str | None = None


def trend(
    now: Point,
    past: Sequence[Point],
    plateau_sessions: int,
    lower_is_better: bool = True,
    mdc: float | None = None,
) -> dict[str, Any]:
    """This session against the earlier ones (``past``, newest first): ``regression`` (a
    real change for the worse since the last session), ``progress`` (a real change for the
    better, or a higher level), ``plateau`` (the same level and no real change over the
    last ``plateau_sessions`` sessions and this one), else ``steady``; None without a
    past. Real change: :func:`~station.protocols.motor.change.real_change`."""
    if not past:
        return {"trend": None, "sessions": 1}
    last = past[0]
    change = real_change(now.value, now.u, last.value, last.u, mdc, lower_is_better)
    out: dict[str, Any] = {
        "previous_session": last.session,
        "previous_value": round(last.value, 4),
        "change": change.as_json(),
        "sessions": 1 + len(past),
    }
    if change.direction == "worse":
        return {**out, "trend": "regression", "note": "worse than last session (real change)"}
    if change.direction == "better" or now.level_pct > last.level_pct:
        return {**out, "trend": "progress"}
    window = list(past[:plateau_sessions])
    if len(window) >= plateau_sessions and all(p.level_pct == now.level_pct for p in window):
        first = window[-1]
        since = real_change(now.value, now.u, first.value, first.u, mdc, lower_is_better)
        if not since.flag:
            note = f"no real change over {len(window) + 1} sessions at the same level"
            return {**out, "trend": "plateau", "note": note}
    return {**out, "trend": "steady"}
