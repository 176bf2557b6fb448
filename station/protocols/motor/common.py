"""What every motor-relearning protocol shares: the working hand and pad, priming, the
biofeedback loop, the reference force, progression between sessions, a word after each
block, and metrics kept apart for primed and unprimed blocks.

A protocol (``force_steadiness``, ``force_tracking``, ...) subclasses
:class:`MotorProtocol` and writes :meth:`MotorProtocol.practise` (the task itself, straight
line code over the :class:`~station.protocols.base.SessionContext`) and
:meth:`MotorProtocol.task_metrics` (its metrics from the journalled trials);
:meth:`MotorProtocol.run` primes first when the plan asks for it, and
:meth:`MotorProtocol.metrics` splits the trials by priming.

Forces are calibrated pad newtons (``reference/CLINICAL.md`` §2.6): every force metric
carries the pad's calibration tolerance in its uncertainty.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensors.faults import PadGap
from station.journal import Trial
from station.kinds import DecisionKind, Scope
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.base import Protocol as ProtocolBase
from station.protocols.max_grip import counted_peaks
from station.protocols.metrics import metric
from station.protocols.motor import priming
from station.protocols.motor.feedback import FrameLog, wait_for_sample
from station.protocols.motor.priming import is_priming
from station.safety import Decision, clamp_force_target

#: Biofeedback: the bar is redrawn as soon as the pad has a new sample
#: (:mod:`station.protocols.motor.feedback`); this is the pad sample period at the default
#: 100 Hz per pad, when the next sample is due, and the fixed refresh for a force port that
#: does not know its sample times. ``rehab-station bench`` measures force-to-LCD latency.
FEEDBACK_S = 0.01
#: The lightest sub-maximal target (N): the lightest calibration weight. Below it an FSR
#: pad reads near its break force (about 0.2 N), where its calibration does not hold (5 %
#: of a weak hand's comfortable squeeze would ask for 0.2 N and measure the pad instead).
MIN_TARGET_N = 0.5
#: Priming: a vibration this far above the motor's reference level (dB), felt clearly.
PRIMING_DB = 0.0
#: The comfortable sub-maximal effort that stands in for a maximal reference when the plan
#: does not allow maximal tests: its length and the window its plateau is read from.
COMFORTABLE_S = 4.0
COMFORTABLE_PLATEAU = (1.5, 3.5)


@dataclass(frozen=True)
class Reference:
    """The force a task's targets are a percentage of, and where it came from.

    ``source``: ``max_grip`` (the mean of the last maximal grip trials of that hand, this
    session or an earlier one) or ``comfortable`` (a firm, comfortable squeeze the protocol
    measured itself, when the plan keeps maximal tests closed)."""

    force_n: float
    uncertainty_n: float
    source: str
    session: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "force_n": round(self.force_n, 3),
            "uncertainty_n": round(self.uncertainty_n, 3),
            "source": self.source,
            "session": self.session,
        }


@dataclass(frozen=True)
class Trace:
    """What one biofeedback run recorded: sample times (s from ``t0``), forces (N), the
    target shown at each sample time (N; NaN where none), whether the force cap ended it,
    and its bar frames (rows of force sample, drawing start, last byte on the LCD bus; s
    from ``t0``: :func:`station.protocols.motor.feedback.latency`)."""

    t0: float
    t_s: np.ndarray
    force_n: np.ndarray
    target_n: np.ndarray
    at_cap: bool
    gaps: int
    frames: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.force_n)

    @property
    def last_s(self) -> float | None:
        """The last sample's time (s from ``t0``); None without samples."""
        return float(self.t_s[-1]) if len(self.t_s) else None

    @property
    def span(self) -> tuple[float, float]:
        """The run's start and its last sample (clock s; the start twice without one)."""
        return self.t0, self.t0 + (self.last_s or 0.0)


TargetFn = Callable[[float], float | None]


class MotorProtocol(ProtocolBase):
    """Base of the motor protocols: ``hand``, ``pad`` and ``priming_s`` params (the ones
    a protocol declares), priming, and the shared pieces below."""

    #: Message key of the task's introduction (OK to start, Back to decline).
    intro_key = "motor.intro"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.role: str = self.params.get("hand", "involved")
        self.pad: int = self.params.get("pad", 0)
        self.priming_s: float = float(self.params.get("priming_s", 0.0))
        self.priming_sites: list[int] = list(self.params.get("priming_sites", [self.pad]))

    def pads_used(self) -> tuple[int, ...]:
        return (self.pad,)

    # -- running ---------------------------------------------------------------------------

    def run(self, ctx: SessionContext) -> None:
        side = ctx.hands[self.role]
        ask = functools.partial(ctx.ui.ask_ok, self.intro_key, ctx.no_response_s, hand=side)
        if not ctx.answer(ask):
            raise ProtocolStop(declined(self.name, side))
        primed = self.prime(ctx, side)
        self.practise(ctx, side, primed)

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        """The task itself; every trial journalled with ``primed`` in its stimulus."""
        raise NotImplementedError

    def prime(self, ctx: SessionContext, side: str) -> bool:
        """A short vibration block on the working hand's sites just before the task when
        the plan asks for it (``priming_s``), counted in the dose; whether it ran in full
        (:func:`station.protocols.motor.priming.prime`: a day without vibration leaves the
        task unprimed and says so; every block is journalled; the motors are off after)."""
        return priming.prime(ctx, self.name, side, self.priming_s, self.priming_sites, PRIMING_DB)

    # -- shared pieces ---------------------------------------------------------------------

    def place(self, ctx: SessionContext, side: str, key: str = "motor.place") -> None:
        """Ask for the hand on the pad; Back (or nobody) declines the protocol."""
        ask = functools.partial(ctx.ui.ask_ok, key, ctx.no_response_s, hand=side,
                                pad=self.pad + 1)  # fmt: skip
        if not ctx.answer(ask):
            raise ProtocolStop(declined(self.name, side))

    def block_done(self, ctx: SessionContext, key: str, **params: Any) -> None:
        """The block's result in the patient's terms, then a short word of encouragement."""
        ctx.ui.prompt(key, **params)
        ctx.wait(2.5)
        ctx.ui.prompt(ctx.rng.choice(("encourage.well_done", "encourage.steady")))
        ctx.wait(1.5)

    def reference(self, ctx: SessionContext, side: str) -> Reference:
        """The force the targets are a percentage of (see :class:`Reference`); measures a
        comfortable squeeze when no maximal grip may stand in."""
        if ctx.maximal_tests:
            found = last_max_grip(ctx, side)
            if found is not None:
                return found
        return self.comfortable(ctx, side)

    def comfortable(self, ctx: SessionContext, side: str) -> Reference:
        """A firm, comfortable squeeze (never a maximal effort): the median of its plateau."""
        assert ctx.forces is not None
        ctx.ui.countdown("motor.ready", 3, ctx.wait)
        full_scale = self.full_scale(ctx)
        trace = follow(ctx, self.pad, COMFORTABLE_S, "motor.comfortable", full_scale, hand=side)
        ctx.ui.prompt("grip.relax")
        ctx.wait(2.0)
        if trace.at_cap:
            # A "comfortable" squeeze that reached the force cap ended there (the caps
            # hold): the cap is the reference, and no target goes above it anyway.
            cap = ctx.caps.max_force_n
            return Reference(cap, cap * 0.1, "comfortable, at the force cap")
        lo, hi = COMFORTABLE_PLATEAU
        keep = trace.valid & (trace.t_s >= lo) & (trace.t_s <= hi)
        if not np.any(keep) or float(np.median(trace.force_n[keep])) < 1.0:
            raise ProtocolStop(no_effort(self.name, side))
        value = float(np.median(trace.force_n[keep]))
        return Reference(value, value * 0.1, "comfortable")

    def full_scale(self, ctx: SessionContext) -> float:
        """The bar's full scale: the pads' range, never far above the force cap."""
        assert ctx.forces is not None
        return min(ctx.forces.full_scale_n(), ctx.caps.max_force_n * 1.25)

    def capped_target(
        self, ctx: SessionContext, target_n: float, other_hand_n: float | None
    ) -> float:
        """A target no plan pushes past the caps (``max_force_n``, % of the other hand), and
        not under :data:`MIN_TARGET_N` (where a pad's reading is not to be trusted) unless
        the caps themselves are lower: the caps always win."""
        limit = clamp_force_target(math.inf, ctx.caps, other_hand_n)
        capped = clamp_force_target(target_n, ctx.caps, other_hand_n)
        return min(max(capped, MIN_TARGET_N), limit)

    def journal_entry(
        self,
        ctx: SessionContext,
        side: str,
        primed: bool,
        index: int,
        span: tuple[float, float],
        stimulus: dict[str, Any],
        response: dict[str, Any],
        quality: tuple[str, ...],
        reaction_time_s: float | None = None,
        contact_force_n: float | None = None,
    ) -> Trial:
        """One trial of this task as the journal keeps it: the hand's role, the pad, the
        priming and the force cap it ran under, then the task's own ``stimulus`` and
        ``response``; ``span`` its start and end (clock s)."""
        return Trial(
            protocol=self.name,
            trial_index=index,
            hand=side,
            stimulus={
                "role": self.role,
                "pad": self.pad,
                "primed": primed,
                "force_cap_n": ctx.caps.max_force_n,
                **stimulus,
            },
            response=response,
            reaction_time_s=reaction_time_s,
            contact_force_n=contact_force_n,
            t_start_s=round(span[0], 4),
            t_end_s=round(span[1], 4),
            quality=quality,
        )

    # -- metrics ---------------------------------------------------------------------------

    def metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        """The task's metrics; primed and unprimed trials apart when both are present
        (``primed_`` prefixes the primed ones), a ``primed`` flag on each metric, and the
        priming blocks themselves (``priming``: seconds played, and why not where not)."""
        blocks = [t for t in trials if is_priming(t)]
        task = [t for t in trials if not is_priming(t)]
        primed = [t for t in task if t.stimulus.get("primed")]
        plain = [t for t in task if not t.stimulus.get("primed")]
        out: dict[str, Any] = {}
        for group, flag, prefix in ((plain, False, ""), (primed, True, "primed_" if plain else "")):
            if not group:
                continue
            for name, value in self.task_metrics(group, ctx).items():
                if isinstance(value, dict):
                    value = {**value, "primed": flag}
                out[prefix + name] = value
        if blocks:
            out["priming"] = priming.priming_metric(blocks)
        return out

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        raise NotImplementedError


def follow(
    ctx: SessionContext,
    pad: int,
    seconds: float,
    title_key: str,
    full_scale_n: float,
    target: TargetFn | None = None,
    band_n: float | None = None,
    stop_at_cap: bool = True,
    **params: Any,
) -> Trace:
    """Show ``pad``'s force on the bar for ``seconds`` (with ``target(t)`` ± ``band_n`` as
    the band, t from the start), then the samples of that time with the target at each.

    The bar is redrawn as soon as the pad has a new sample (at most :data:`FEEDBACK_S`
    after one was due), the target as of the redraw; a sample that read open (a pad
    glitch) is not drawn, as in maximal grip. At the force cap the run ends early (the caps
    hold whatever the target)."""
    assert ctx.forces is not None
    forces = ctx.forces
    cap = ctx.caps.max_force_n
    t0 = ctx.clock.now()
    at_cap = False
    newest = getattr(forces, "latest_t_s", None)

    def newest_t() -> float | None:
        return None if newest is None else newest(pad)

    log = FrameLog()
    drawn: float | None = None
    while (now := ctx.clock.now()) - t0 < seconds:
        sample_t = newest_t()
        try:
            force = forces.latest_n(pad)
        except PadGap:
            drawn = sample_t if sample_t is not None else drawn
            wait_for_sample(ctx.clock, newest_t, drawn, FEEDBACK_S, ctx.check)
            continue
        goal = None if target is None else target(now - t0)
        band = None
        if goal is not None and band_n is not None:
            band = (max(0.0, goal - band_n), goal + band_n)
        ctx.ui.biofeedback(title_key, force, full_scale_n, band, **params)
        log.add(sample_t, now, ctx.clock.now())
        if stop_at_cap and force >= cap:
            at_cap = True
            break
        drawn = sample_t
        wait_for_sample(ctx.clock, newest_t, drawn, FEEDBACK_S, ctx.check)
    t, f = ctx.forces.window_n(pad, ctx.clock.now() - t0 + 0.05)
    t, f = np.asarray(t, dtype=float), np.asarray(f, dtype=float)
    keep = t >= t0
    t, f = t[keep] - t0, f[keep]
    gaps = int(np.count_nonzero(~np.isfinite(f)))
    if target is None:
        goal_at = np.full(len(t), math.nan)
    else:
        goal_at = np.array([_nan(target(x)) for x in t], dtype=float)
    return Trace(t0, t, f, goal_at, at_cap, gaps, log.array(t0))


def last_max_grip(ctx: SessionContext, side: str) -> Reference | None:
    """The mean peak of the last maximal grip trials of ``side`` (this session first, then
    the latest earlier session that has any), or None."""
    here = ctx.journal.trials(ctx.session_id, "max_grip")
    sessions: list[tuple[str | None, Sequence[Trial]]] = [(None, here)]
    for past_uid, _started, past in ctx.journal.previous_trials("max_grip", ctx.session_id):
        sessions.append((past_uid, past))
    for uid, trials in sessions:
        peaks = counted_peaks(trials, side)
        if peaks:
            m = sum(peaks) / len(peaks)
            return Reference(m, m * 0.1, "max_grip", uid)
    return None


def force_metric(value_n: float | None, relative_u: float, **extra: Any) -> dict[str, Any]:
    """A force in N with the calibration tolerance as its uncertainty."""
    return metric(value_n, "N", None if value_n is None else abs(value_n) * relative_u, **extra)


def declined(name: str, side: str) -> Decision:
    """The patient declined this task (Back) or did not answer: only this task stops (the
    runner names the protocol before the reason)."""
    reason = f"{side} hand declined or no answer"
    detail = {"hand": side, "protocol": name}
    return Decision(DecisionKind.DECLINED, Scope.PROTOCOL, reason, detail)


def no_effort(name: str, side: str) -> Decision:
    """No squeeze where one was asked for: force work stops, as in maximal grip."""
    reason = f"no squeeze ({side} hand)"
    return Decision(DecisionKind.NO_EFFORT, Scope.FORCE, reason, {"hand": side, "protocol": name})


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
