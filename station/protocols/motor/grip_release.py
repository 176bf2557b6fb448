"""Grip and release: as many full grip-and-release cycles as possible in ``duration_s``
(the 10-s G&R test, ``reference/CLINICAL.md`` §3.4; docs/motor.md ``## grip_release``).

Cycles are counted from the pad's force with hysteresis, with thresholds relative to the
trial's own range: baseline = the 5th percentile of the force, peak = the 95th; a grip
starts when the force rises above ``baseline + HIGH × (peak - baseline)`` (60 %) having
been below ``baseline + LOW × (peak - baseline)`` (30 %), and a cycle is complete when it
falls back below the low threshold. Reported: cycles per 10 s and the inter-cycle-interval
CV (a rhythm measure). The myelopathy-population norms are a speed reference only, never a
diagnosis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from station.catalog import GRIP_RELEASE
from station.journal import Trial
from station.protocols.base import MetricsContext, SessionContext
from station.protocols.metrics import metric
from station.protocols.motor.common import MotorProtocol, follow
from station.protocols.motor.squeezes import Missed, effort, stop_on_pad_gaps

#: Hysteresis thresholds, as fractions of the trial's own range above its baseline.
HIGH, LOW = 0.6, 0.3
#: The range's ends: percentiles of the trial's force (robust to a spike).
BASELINE_PCT, PEAK_PCT = 5.0, 95.0
#: A range below this is no grip-and-release (N).
MIN_RANGE_N = 1.0
#: Speed reference (CLINICAL.md §3.4): healthy volunteers, weaker side, cycles per 10 s.
REFERENCE = "healthy 21.5 ± 5.5 cycles/10 s (J Orthop Sci 2013); a speed reference only"


@dataclass(frozen=True)
class Cycles:
    """One trial's cycles: their start times (s, upward crossings of the high threshold of
    the complete cycles), the thresholds (N) and the range they came from."""

    starts_s: tuple[float, ...]
    baseline_n: float
    peak_n: float
    high_n: float
    low_n: float

    @property
    def count(self) -> int:
        return len(self.starts_s)

    def intervals_s(self) -> np.ndarray:
        return np.diff(np.asarray(self.starts_s))


def count_cycles(t_s: Any, force_n: Any) -> Cycles:
    """Complete grip-and-release cycles in ``(t_s, force_n)`` (NaN samples skipped)."""
    t, f = np.asarray(t_s, dtype=float), np.asarray(force_n, dtype=float)
    ok = np.isfinite(f)
    t, f = t[ok], f[ok]
    if not len(f):
        return Cycles((), math.nan, math.nan, math.nan, math.nan)
    base, peak = (float(v) for v in np.percentile(f, [BASELINE_PCT, PEAK_PCT]))
    span = peak - base
    high, low = base + HIGH * span, base + LOW * span
    if span < MIN_RANGE_N:
        return Cycles((), base, peak, high, low)
    starts: list[float] = []
    armed = bool(f[0] < low)  # a grip counts only from an open hand
    up: float | None = None
    for ti, fi in zip(t, f, strict=True):
        if up is None:
            if armed and fi > high:
                up = float(ti)
            elif fi < low:
                armed = True
        elif fi < low:
            starts.append(up)
            up = None
    return Cycles(tuple(starts), base, peak, high, low)


class GripRelease(MotorProtocol, spec=GRIP_RELEASE):
    """``trials`` timed sets of grip-and-release on the working pad, with a short rest."""

    intro_key = "release.intro"

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        self.place(ctx, side)
        trials: int = self.params["trials"]
        seconds: float = self.params["duration_s"]
        missed = Missed(self.name, side)
        full_scale = self.full_scale(ctx)
        done = index = 0
        best = 0
        while done < trials:
            ctx.ui.prompt("release.progress", trial=done + 1, total=trials, hand=side)
            ctx.wait(1.0)
            ctx.ui.countdown("motor.ready", 3, ctx.wait)
            pauses = ctx.pauses
            ctx.ui.cue("start")
            trace = follow(ctx, self.pad, seconds, "release.go", full_scale)
            ctx.ui.prompt("grip.relax")
            e = effort(trace, paused=ctx.pauses != pauses)
            c = count_cycles(trace.t_s, trace.force_n)
            ran_s = min(seconds, trace.last_s or 0.0)
            few = () if e.no_effort or c.count or e.pad_problem else ("no_cycles",)
            ctx.record_trial(self._journalled(ctx, side, primed, index, trace.t0, ran_s, e, c, few))
            index += 1
            stop_on_pad_gaps(ctx, e, self.pad, side)
            missed.add(ctx, e)
            if e.no_effort:
                continue
            done += 1
            best = max(best, c.count)
            ctx.wait(1.0)
            if done < trials:
                ctx.ui.countdown("grip.rest", int(ctx.caps.min_rest_s), ctx.wait)
        self.block_done(ctx, "release.result", cycles=best, seconds=round(seconds))

    def _journalled(
        self,
        ctx: SessionContext,
        side: str,
        primed: bool,
        index: int,
        t0: float,
        ran_s: float,
        e: Any,
        c: Cycles,
        extra: tuple[str, ...],
    ) -> Trial:
        ici = c.intervals_s()
        return self.journal_entry(
            ctx,
            side,
            primed,
            index,
            (t0, t0 + ran_s),
            {"duration_s": self.params["duration_s"], "high": HIGH, "low": LOW},
            {
                "cycles": c.count,
                "ran_s": round(ran_s, 3),
                "starts_s": [round(s, 3) for s in c.starts_s],
                "baseline_n": _r(c.baseline_n),
                "peak_n": _r(c.peak_n),
                "high_n": _r(c.high_n),
                "low_n": _r(c.low_n),
                "ici_mean_s": _r(float(np.mean(ici))) if len(ici) else None,
                "ici_cv_pct": _r(_cv(ici)),
                "samples": e.samples,
                "gaps": e.gaps,
            },
            e.quality(*extra),
            contact_force_n=_r(e.peak_n),
        )

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        ok = [
            t
            for t in trials
            if not {"no_effort", "pad_gaps", "paused"} & set(t.quality) and t.response["ran_s"] > 0
        ]
        out: dict[str, Any] = {"trials_valid": metric(len(ok), "count")}
        if not ok:
            return out
        rates = [10.0 * t.response["cycles"] / t.response["ran_s"] for t in ok]
        # a cycle cut by the window's start or end: ±1 cycle in the trial's time
        u = [10.0 / t.response["ran_s"] for t in ok]
        best = int(np.argmax(rates))
        out["cycles_per_10s"] = metric(
            float(np.mean(rates)), "cycles/10 s", float(np.mean(u)) / math.sqrt(len(ok)),
            n=len(ok), reference=REFERENCE, note="a speed reference only, never a diagnosis",
        )  # fmt: skip
        out["best_cycles_per_10s"] = metric(rates[best], "cycles/10 s", u[best])
        cvs = [t.response["ici_cv_pct"] for t in ok if t.response["ici_cv_pct"] is not None]
        ici = [t.response["ici_mean_s"] for t in ok if t.response["ici_mean_s"]]
        if cvs and ici:
            # timing: each crossing is known to a sample period (100 Hz: 10 ms, uniform)
            dt = 0.01 / math.sqrt(12) * math.sqrt(2)
            out["ici_cv"] = metric(
                float(np.mean(cvs)), "%", 100.0 * dt / float(np.mean(ici)),
                note="inter-cycle-interval CV: a rhythm measure",
            )  # fmt: skip
        return out


def _cv(x: np.ndarray) -> float | None:
    if len(x) < 2 or float(np.mean(x)) <= 0:
        return None
    return 100.0 * float(np.std(x, ddof=1)) / float(np.mean(x))


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)
