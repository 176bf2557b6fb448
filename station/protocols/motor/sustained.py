"""Sustained-hold fatigue (``reference/CLINICAL.md`` §3.5; docs/motor.md
``## sustained_hold``): exploratory trends, never a verdict.

``intermittent``: ``reps`` maximal contractions of :data:`REP_S` with :data:`REST_S` rest
(12 × 3 s / 5 s, Jamar protocol); fatigue index FI = (first peak - last peak) / first peak
× 100, and the same over the means of the first 3 and last 3. ``sustained``: one maximal
hold of ``hold_s``; FR75 / FR50 = time from the maximum (0.5 s moving mean) until the force
falls to 75 / 50 % of it.

Safety: the session's fatigue rule (``station.safety.fatigue_decision``, §6.4: a 25 % drop
stops force work) would stop a fatigue test at the typical healthy FI (≈ 30 %) it exists to
measure, so within the set the hard limit is :data:`HARD_DROP` (a 50 % drop from the first
peak ends the set and is journalled as a fatigue stop for the session's force work). The
Stop button, the session's pain and time rules and the force cap still hold: the cap ends a
contraction at once and the set with it (capped peaks measure the cap, not fatigue). A
sustained hold ends once the force is below 50 % (nothing more to measure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensors.faults import PadGap
from station.catalog import SUSTAINED_HOLD
from station.journal import Trial
from station.kinds import Code, DecisionKind, Scope
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.metrics import metric
from station.protocols.motor.common import (
    FEEDBACK_S,
    MotorProtocol,
    Trace,
    follow,
    force_metric,
    no_effort,
)
from station.protocols.motor.squeezes import (
    Effort,
    Missed,
    effort,
    moving_mean,
    stop_on_pad_gaps,
)
from station.safety import Decision

REP_S = 3.0
REST_S = 5
#: Within a set, a drop beyond this from the first peak ends it (a fatigue stop).
HARD_DROP = 0.5
#: FR levels (fractions of the maximum) and the smoothing the maximum is read with (s).
FR_LEVELS = (0.75, 0.5)
SMOOTH_S = 0.5
#: Excluded from the fatigue indices.
DISCARD = ("no_effort", "pad_gaps", "paused", "at_force_cap")
#: Single-part repeatability of an FSR pad (CLINICAL.md §2.6): what a ratio of two peaks
#: keeps of the calibration's uncertainty.
REPEATABILITY = 0.02
NOTE = "fatigue indices are exploratory trends (CLINICAL.md §3.5), not a verdict"


@dataclass(frozen=True)
class Hold:
    """A sustained hold: its maximum (N, smoothed), when (s from the start), and the time
    from it to each FR level (s; None if the force never fell that far)."""

    max_n: float | None
    t_max_s: float | None
    fr_s: tuple[float | None, ...]


def fatigue_resistance(t_s: Any, force_n: Any) -> Hold:
    """FR75 / FR50 of one hold's samples (times from its start)."""
    t, f = np.asarray(t_s, dtype=float), np.asarray(force_n, dtype=float)
    ok = np.isfinite(f)
    t, f = t[ok], f[ok]
    if not len(f):
        return Hold(None, None, (None,) * len(FR_LEVELS))
    s = moving_mean(t, f, SMOOTH_S)
    i = int(np.argmax(s))
    fr: list[float | None] = []
    for level in FR_LEVELS:
        below = np.nonzero(s[i:] <= level * s[i])[0]
        fr.append(float(t[i + below[0]] - t[i]) if len(below) else None)
    return Hold(float(s[i]), float(t[i]), tuple(fr))


def fatigue_index(peaks: list[float], k: int = 1) -> float | None:
    """(mean of the first ``k`` peaks - mean of the last ``k``) / first × 100 (%)."""
    if len(peaks) < 2 * k:
        return None
    first, last = float(np.mean(peaks[:k])), float(np.mean(peaks[-k:]))
    return None if first <= 0 else 100.0 * (first - last) / first


class SustainedHold(MotorProtocol, spec=SUSTAINED_HOLD):
    """Intermittent maximal contractions or one sustained hold; only when the plan allows
    maximal tests."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.mode: str = self.params["mode"]
        self.intro_key = "hold.intro" if self.mode == "intermittent" else "hold.intro_long"

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        self.place(ctx, side)
        full_scale = self.full_scale(ctx)
        if self.mode == "sustained":
            self._hold(ctx, side, primed, full_scale)
        else:
            self._reps(ctx, side, primed, full_scale)

    def _reps(self, ctx: SessionContext, side: str, primed: bool, full_scale: float) -> None:
        reps: int = self.params["reps"]
        missed = Missed(self.name, side)
        peaks: list[float] = []
        done = index = 0
        ctx.ui.countdown("motor.ready", 3, ctx.wait)
        while done < reps:
            pauses = ctx.pauses
            ctx.ui.cue("start")
            trace = follow(ctx, self.pad, REP_S, "hold.rep", full_scale, rep=done + 1, reps=reps)
            e = effort(trace, paused=ctx.pauses != pauses)
            ctx.record_trial(self._journalled(ctx, side, primed, index, trace, e, {}))
            index += 1
            stop_on_pad_gaps(ctx, e, self.pad, side)
            if e.no_effort:
                ctx.ui.prompt("grip.relax")
                missed.add(ctx, e)
                ctx.ui.countdown("motor.ready", 3, ctx.wait)
                continue
            missed.add(ctx, e)
            done += 1
            if e.at_cap:
                break  # the cap ends the set: capped peaks measure the cap, not fatigue
            if e.peak_n is not None and not e.paused:
                peaks.append(e.peak_n)
                self._hard_limit(ctx, side, peaks)
            if done < reps:
                ctx.ui.countdown("hold.rest", REST_S, ctx.wait)
        ctx.ui.prompt("grip.relax")
        ctx.wait(1.0)
        self.block_done(ctx, "hold.result", done=done)

    def _hard_limit(self, ctx: SessionContext, side: str, peaks: list[float]) -> None:
        drop = (peaks[0] - peaks[-1]) / peaks[0] if peaks[0] > 0 else 0.0
        if drop <= HARD_DROP:
            return
        decision = Decision(
            DecisionKind.FATIGUE,
            Scope.FORCE,
            f"{self.name}: peak force fell {drop:.0%} from the first grip",
            {"hand": side, "first_n": round(peaks[0], 2), "last_n": round(peaks[-1], 2),
             "drop": round(drop, 3), "limit": HARD_DROP},
        )  # fmt: skip
        ctx.ui.prompt("grip.relax")
        ctx.safety.decision(decision, Code.FATIGUE)
        raise ProtocolStop(decision, journalled=True)

    def _hold(self, ctx: SessionContext, side: str, primed: bool, full_scale: float) -> None:
        hold_s: float = self.params["hold_s"]
        ctx.ui.countdown("motor.ready", 3, ctx.wait)
        pauses = ctx.pauses
        ctx.ui.cue("start")
        trace = hold_until_half(ctx, self.pad, hold_s, full_scale)
        ctx.ui.prompt("grip.relax")
        e = effort(trace, paused=ctx.pauses != pauses)
        h = fatigue_resistance(trace.t_s, trace.force_n)
        extra = {
            "max_n": _r(h.max_n),
            "t_max_s": _r(h.t_max_s),
            "fr75_s": _r(h.fr_s[0]),
            "fr50_s": _r(h.fr_s[1]),
            "held_s": _r(trace.last_s or 0.0),
        }
        ctx.record_trial(self._journalled(ctx, side, primed, 0, trace, e, extra))
        stop_on_pad_gaps(ctx, e, self.pad, side)
        if e.no_effort:  # one hold, one try: a second would not be a fresh maximum
            raise ProtocolStop(no_effort(self.name, side))
        ctx.wait(1.0)
        self.block_done(ctx, "hold.result_long", seconds=round(extra["held_s"] or 0.0))

    def _journalled(
        self,
        ctx: SessionContext,
        side: str,
        primed: bool,
        index: int,
        trace: Trace,
        e: Effort,
        extra: dict[str, Any],
    ) -> Trial:
        peak = None if e.pad_problem or e.peak_n is None else round(e.peak_n, 3)
        return self.journal_entry(
            ctx,
            side,
            primed,
            index,
            trace.span,
            {"mode": self.mode},
            {"peak_force_n": peak, "samples": e.samples, "gaps": e.gaps, **extra},
            e.quality(),
            contact_force_n=peak,
        )

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        """Fatigue resistance of the holds and fatigue indices of the intermittent grips
        (a session may have both)."""
        tol = ctx.calibration_tolerance
        ok = [t for t in trials if not set(DISCARD) & set(t.quality)]
        out: dict[str, Any] = {"trials_valid": metric(len(ok), "count", note=NOTE)}
        holds = [t for t in ok if t.stimulus.get("mode") == "sustained"]
        if holds:
            r = holds[-1].response
            out["max_force"] = force_metric(r["max_n"], tol)
            for key, name in (("fr75_s", "fr75"), ("fr50_s", "fr50")):
                # the 0.5 s mean's lag; the FSR's unloading branch reads a falling force
                # high, so FR is late (docs/motor.md): a trend for this pad and patient
                out[name] = metric(
                    r[key], "s", None if r[key] is None else SMOOTH_S / 2,
                    held_s=r["held_s"], note=NOTE,
                )  # fmt: skip
        peaks = [t.response["peak_force_n"] for t in ok if t.stimulus.get("mode") != "sustained"]
        if not peaks:
            return out
        out["first_peak"] = force_metric(peaks[0], tol)
        out["last_peak"] = force_metric(peaks[-1], tol)
        for k, name in ((1, "fatigue_index"), (3, "fatigue_index_3")):
            fi = fatigue_index(peaks, k)
            if fi is None:
                continue
            # the calibration gain cancels in a ratio; the pad's repeatability (±2 %, §2.6)
            # of each mean of k peaks does not: FI = 100 (1 - L/F)
            u = 100.0 * (1.0 - fi / 100.0) * REPEATABILITY * math.sqrt(2.0 / k)
            out[name] = metric(fi, "%", u, reps=len(peaks), k=k, note=NOTE)
        return out


def hold_until_half(ctx: SessionContext, pad: int, hold_s: float, full_scale: float) -> Trace:
    """The hold on the bar for up to ``hold_s``; it ends a second after the force (its
    :data:`SMOOTH_S` mean) has fallen to half its maximum (nothing more to measure), or at
    the force cap (the cap holds)."""
    assert ctx.forces is not None
    cap = ctx.caps.max_force_n
    t0 = ctx.clock.now()
    best, end_s, at_cap = 0.0, hold_s, False
    while (now := ctx.clock.now()) - t0 < end_s:
        try:
            force = ctx.forces.latest_n(pad)
        except PadGap:
            ctx.wait(FEEDBACK_S)
            continue
        ctx.ui.biofeedback("hold.hold", force, full_scale)
        if force >= cap:
            at_cap = True
            break
        _, f = ctx.forces.window_n(pad, SMOOTH_S)
        f = np.asarray(f, dtype=float)
        f = f[np.isfinite(f)]
        if len(f) and now - t0 >= SMOOTH_S:
            m = float(np.mean(f))
            best = max(best, m)
            if end_s == hold_s and best > 1.0 and m <= FR_LEVELS[-1] * best:
                end_s = min(hold_s, now - t0 + 1.0)
        ctx.wait(FEEDBACK_S)
    t, f = ctx.forces.window_n(pad, ctx.clock.now() - t0 + 0.05)
    t, f = np.asarray(t, dtype=float), np.asarray(f, dtype=float)
    keep = t >= t0
    t, f = t[keep] - t0, f[keep]
    gaps = int(np.count_nonzero(~np.isfinite(f)))
    return Trace(t0, t, f, np.full(len(t), math.nan), at_cap, gaps)


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)
