"""What the steadiness and tracking tasks share: one trial on the banded bar with its stop
paths, the level from progressive loading, the capped target, and the summary pieces
(reference, loading, trend) computed from the journalled trials alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from station.journal import Trial
from station.kinds import DecisionKind, Scope
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.metrics import metric
from station.protocols.motor import progression
from station.protocols.motor.common import (
    MotorProtocol,
    Reference,
    Trace,
    declined,
    follow,
    last_max_grip,
    no_effort,
)
from station.protocols.motor.feedback import latency
from station.safety import Decision

#: A trial whose force never rose above this (N) had no squeeze in it.
NO_EFFORT_N = 0.3
#: Trials in a row without a squeeze that end the task.
MAX_MISSED = 2
#: More than this fraction of a trial's samples without a force: the pad, not the patient.
MAX_GAP_FRACTION = 0.5
#: Flags that keep a trial out of the metrics.
UNUSABLE = frozenset(
    {
        "no_effort",
        "paused",
        "at_force_cap",
        "pad_gaps",
        "no_samples",
        "no_steady_part",
        "no_tracking_part",
    }
)


class BarTask(MotorProtocol):
    """A motor task of trials on the banded bar; subclasses write the task."""

    def other_hand_n(self, ctx: SessionContext, side: str) -> float | None:
        """The other hand's last maximal grip (N), for the plan's ceiling in % of it."""
        other = "left" if side == "right" else "right"
        found = last_max_grip(ctx, other)
        return None if found is None else found.force_n

    def level(self, ctx: SessionContext, met: Callable[[Sequence[Trial]], bool | None]) -> Any:
        """This session's :class:`~station.protocols.motor.progression.Loading`."""
        earlier = ctx.journal.previous_trials(self.name, ctx.session_id)
        past = [trials for _uid, _at, trials in earlier]
        p = self.params
        return progression.loading(past, p["level_pct"], p["step_pct"], p["max_level_pct"], met)

    def trial(
        self,
        ctx: SessionContext,
        seconds: float,
        title_key: str,
        full_scale_n: float,
        target: Callable[[float], float | None],
        band_n: float,
        side: str,
    ) -> tuple[Trace, tuple[str, ...]]:
        """One run on the bar after a short countdown; its trace and quality flags."""
        ctx.ui.countdown("motor.ready", 3, ctx.wait)
        pauses = ctx.pauses
        trace = follow(ctx, self.pad, seconds, title_key, full_scale_n, target=target,
                       band_n=band_n, hand=side)  # fmt: skip
        ctx.ui.prompt("grip.relax")
        n = len(trace.force_n)
        valid = trace.force_n[trace.valid]
        pad_problem = n == 0 or trace.gaps > MAX_GAP_FRACTION * n
        flags = {
            "no_samples": n == 0,
            "sensor_gaps": trace.gaps > 0,
            "pad_gaps": pad_problem,
            "at_force_cap": trace.at_cap,
            "paused": ctx.pauses != pauses,
            "no_effort": not pad_problem and (not len(valid) or float(valid.max()) < NO_EFFORT_N),
        }
        return trace, tuple(f for f, raised in flags.items() if raised)

    def after(self, ctx: SessionContext, side: str, quality: Sequence[str], missed: int) -> int:
        """The stop paths after a journalled trial; returns the misses in a row. A pad that
        gave no force stops the task as the station's problem; no squeeze twice in a row
        stops it as no effort; one miss asks kindly to try again (Back declines)."""
        if "pad_gaps" in quality:
            ctx.check()  # the acquisition's own fault, if it has one, ends the session
            ctx.ui.error("error.pads", "E-PAD-000")
            ctx.wait(5.0)
            reason = f"{self.name}: pad {self.pad} gave no force for most of a trial"
            raise ProtocolStop(
                Decision(DecisionKind.PAD_GAPS, Scope.FORCE, reason, {"pad": self.pad})
            )
        if "no_effort" not in quality:
            return 0
        missed += 1
        if missed >= MAX_MISSED:
            raise ProtocolStop(no_effort(self.name, side))
        ask = functools.partial(ctx.ui.ask_ok, "motor.again", ctx.no_response_s)
        if not ctx.answer(ask):
            raise ProtocolStop(declined(self.name, side))
        return missed


def common_stimulus(proto: BarTask, ref: Reference, load: Any) -> dict[str, Any]:
    """What every trial of a bar task journals about its setting, beside what every motor
    trial does (:meth:`~station.protocols.motor.common.MotorProtocol.journal_entry`)."""
    return {
        "plan_level_pct": proto.params["level_pct"],
        "level_pct": load.level_pct,
        "loading": load.as_json(),
        "reference": ref.as_json(),
    }


def trace_response(trace: Trace) -> dict[str, Any]:
    """The trace's sample counts and the station's own latency in it."""
    return {
        "samples": len(trace.force_n),
        "gaps": trace.gaps,
        "latency": latency(trace.frames, trace.last_s).as_json(),
    }


def usable(trials: Sequence[Trial]) -> list[Trial]:
    return [t for t in trials if not UNUSABLE.intersection(t.quality)]


def mean_u(values: Sequence[float], floor_rel: float) -> tuple[float, float]:
    """Mean of per-trial values and its standard uncertainty: SD/√n, at least
    ``floor_rel`` of the mean (one trial's own sampling error)."""
    a = np.asarray(values, dtype=float)
    m = float(a.mean())
    sem = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0
    return m, max(sem, abs(m) * floor_rel)


def setting_metrics(trials: Sequence[Trial], ctx: MetricsContext) -> dict[str, Any]:
    """Reference (source, value, uncertainty), level and loading of the task's last trial."""
    s = trials[-1].stimulus
    ref = s["reference"]
    return {
        "reference_force": metric(
            ref["force_n"], "N", ref["uncertainty_n"], source=ref["source"], session=ref["session"]
        ),
        "level": metric(s["level_pct"], "% of reference", loading=s["loading"]),
    }


def history_points(
    ctx: MetricsContext,
    name: str,
    point: Callable[[Sequence[Trial], str | None], progression.Point | None],
) -> list[progression.Point]:
    """The task's earlier sessions as trend points, newest first."""
    if ctx.history is None:
        return []
    out = []
    for uid, _at, trials in ctx.history(name):
        p = point(trials, uid)
        if p is not None:
            out.append(p)
    return out
