"""Rate of force development: fast squeezes from complete rest (``reference/CLINICAL.md``
§3.3; docs/motor.md ``## rate_of_force_development``).

``trials`` squeezes "as fast and as hard as possible", each from a loose hand, with the
plan's rest (``min_rest_s``, at least 15 s) between them, as maximal grip. While a squeeze
runs, the working pad is sampled alone on its ADS1115 at 860 SPS (a focused burst of the
acquisition, :meth:`sensors.acquisition.Acquisition.focus`: 632 samples/s on a 400 kHz
bus), so a 0-50 ms window holds about 32 samples instead of 5.

Onset: the first time the force rises :data:`ONSET_N` above the baseline (the mean of the
:data:`BASELINE_S` before the go cue), interpolated between samples. Mean RFD over 0-50,
0-100 and 0-200 ms from onset (N/s), peak RFD (the steepest :data:`PEAK_WINDOW_S` slope in
the first 200 ms) and peak force. A squeeze that does not start from rest is discarded
(flagged): a baseline above :data:`PRETENSION_N` (pre-tension) or a dip of more than
:data:`COUNTERMOVEMENT_N` between the cue and the onset (a countermovement).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensors.faults import PadGap
from station.catalog import RATE_OF_FORCE_DEVELOPMENT
from station.journal import Trial
from station.protocols.base import MetricsContext, SessionContext
from station.protocols.metrics import metric
from station.protocols.motor.common import FEEDBACK_S, MotorProtocol, Trace, force_metric
from station.protocols.motor.squeezes import (
    Effort,
    Missed,
    effort,
    median3,
    stop_on_pad_gaps,
)

#: The get-ready countdown (s); the burst runs from its last second (the baseline's).
READY_S = 3
#: The squeeze after the go cue (s): a reaction (0.2-0.8 s) and 200 ms of rise.
SQUEEZE_S = 1.2
#: The baseline: the mean force over this long before the go cue (s).
BASELINE_S = 0.3
#: Onset: the force this far above the baseline (N; a few % of a pad grip, §3.3).
ONSET_N = 0.5
#: Pre-tension: a baseline above this is not "complete rest" (N).
PRETENSION_N = 0.5
#: Countermovement: the force falling this far below its running maximum between the cue
#: and the onset (N).
COUNTERMOVEMENT_N = 0.3
#: The RFD windows from onset (s).
WINDOWS_S = (0.05, 0.1, 0.2)
#: Peak RFD: the steepest slope over this window (s) within the first 200 ms (§3.3: 2-10 ms).
PEAK_WINDOW_S = 0.01
NOTE = "RFD is less reliable than maximal force (CLINICAL.md §3.3): a trend, pad newtons"
#: Flags that discard a squeeze from the RFD metrics.
DISCARD = ("pretension", "countermovement", "no_effort", "pad_gaps", "paused", "no_onset")


@dataclass(frozen=True)
class Rapid:
    """One fast squeeze as measured: forces (N), times from the go cue (s), RFDs (N/s,
    None where the window ran past the samples) and the samples in each window."""

    baseline_n: float
    baseline_sd_n: float
    onset_s: float | None
    peak_n: float | None
    rfd_n_s: tuple[float | None, ...]
    window_samples: tuple[int, ...]
    peak_rfd_n_s: float | None
    rate_hz: float
    pretension: bool
    countermovement: bool

    def flags(self) -> tuple[str, ...]:
        flags = {
            "pretension": self.pretension,
            "countermovement": self.countermovement,
            # a squeeze, but no crossing of the threshold from below after the cue
            "no_onset": self.onset_s is None
            and self.peak_n is not None
            and self.peak_n >= self.baseline_n + ONSET_N,
        }
        return tuple(f for f, on in flags.items() if on)


def rapid_squeeze(t_s: Any, force_n: Any, t_go: float) -> Rapid:
    """Measure one fast squeeze from its samples ``(t_s, force_n)`` around ``t_go``."""
    t, f = np.asarray(t_s, dtype=float), np.asarray(force_n, dtype=float)
    ok = np.isfinite(f)
    t, f = t[ok], f[ok]
    pre = (t >= t_go - BASELINE_S) & (t < t_go)
    base = float(np.mean(f[pre])) if np.any(pre) else 0.0
    base_sd = float(np.std(f[pre])) if np.count_nonzero(pre) > 1 else 0.0
    post = t >= t_go
    tp, fp = t[post], f[post]
    rate = 1.0 / float(np.median(np.diff(tp))) if len(tp) > 2 else math.nan
    none = (None,) * len(WINDOWS_S)
    if len(fp) < 2:
        return Rapid(base, base_sd, None, None, none, (0,) * 3, None, rate, False, False)
    peak = float(np.max(median3(fp)))
    above = np.nonzero(fp >= base + ONSET_N)[0]
    pretension = base > PRETENSION_N
    if not len(above) or above[0] == 0:
        return Rapid(base, base_sd, None, peak, none, (0,) * 3, None, rate, pretension, False)
    i = int(above[0])
    thr = base + ONSET_N
    # interpolated crossing between the last sample below and the first above
    t_on = float(tp[i - 1] + (thr - fp[i - 1]) * (tp[i] - tp[i - 1]) / (fp[i] - fp[i - 1]))
    lead = median3(fp[:i])
    countermovement = bool(np.max(np.maximum.accumulate(lead) - lead) > COUNTERMOVEMENT_N)
    rfd: list[float | None] = []
    counts: list[int] = []
    for w in WINDOWS_S:
        inside = (tp > t_on) & (tp <= t_on + w)
        counts.append(int(np.count_nonzero(inside)))
        if tp[-1] < t_on + w:
            rfd.append(None)
            continue
        rfd.append((float(np.interp(t_on + w, tp, fp)) - thr) / w)
    starts = tp[(tp >= t_on) & (tp + PEAK_WINDOW_S <= min(tp[-1], t_on + WINDOWS_S[-1]))]
    peak_rfd = None
    if len(starts):
        slopes = (np.interp(starts + PEAK_WINDOW_S, tp, fp) - np.interp(starts, tp, fp)) / (
            PEAK_WINDOW_S
        )
        peak_rfd = float(np.max(slopes))
    return Rapid(
        base,
        base_sd,
        t_on - t_go,
        peak,
        tuple(rfd),
        tuple(counts),
        peak_rfd,
        rate,
        pretension,
        countermovement,
    )


def fast_squeeze(ctx: SessionContext, pad: int, full_scale: float, side: str) -> Trace:
    """The squeeze after the go cue: the bar drawn at the cue and once more with the
    squeeze's peak at the end, the force cap watched every :data:`FEEDBACK_S` (a cap ends
    it at once). A ballistic squeeze is over before sight could steer it, and bar updates
    in the burst would cost the loop samples where it shares a thread with the display (the
    simulator; on the Pi the LCD has its own bus)."""
    assert ctx.forces is not None
    cap = ctx.caps.max_force_n
    ctx.ui.biofeedback("rfd.go", 0.0, full_scale, hand=side)
    ctx.ui.cue("start")
    t0 = ctx.clock.now()
    at_cap = False
    while ctx.clock.now() - t0 < SQUEEZE_S:
        with contextlib.suppress(PadGap):
            if ctx.forces.latest_n(pad) >= cap:
                at_cap = True
                break
        ctx.wait(FEEDBACK_S)
    t, f = ctx.forces.window_n(pad, ctx.clock.now() - t0 + 0.01)
    t, f = np.asarray(t, dtype=float), np.asarray(f, dtype=float)
    keep = t >= t0
    t, f = t[keep] - t0, f[keep]
    valid = f[np.isfinite(f)]
    if len(valid):
        ctx.ui.biofeedback("rfd.go", float(np.max(median3(valid))), full_scale, hand=side)
    gaps = int(np.count_nonzero(~np.isfinite(f)))
    return Trace(t0, t, f, np.full(len(t), math.nan), at_cap, gaps)


class RateOfForceDevelopment(MotorProtocol, spec=RATE_OF_FORCE_DEVELOPMENT):
    """Fast squeezes on the focused pad; only when the plan allows maximal tests."""

    intro_key = "rfd.intro"

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        self.place(ctx, side)
        trials: int = self.params["trials"]
        missed = Missed(self.name, side)
        full_scale = self.full_scale(ctx)
        done = index = 0
        while done < trials:
            ctx.ui.prompt("rfd.progress", trial=done + 1, total=trials, hand=side)
            ctx.wait(1.0)
            e = self._trial(ctx, side, primed, index, full_scale)
            index += 1
            stop_on_pad_gaps(ctx, e, self.pad, side)
            missed.add(ctx, e)
            if e.no_effort:
                continue
            done += 1
            if done < trials:
                ctx.ui.countdown("grip.rest", int(ctx.caps.min_rest_s), ctx.wait)
        self.block_done(ctx, "rfd.result", done=done, total=trials)

    def _trial(
        self, ctx: SessionContext, side: str, primed: bool, index: int, full_scale: float
    ) -> Effort:
        """One fast squeeze in a focused burst, journalled as it ends."""
        assert ctx.forces is not None
        pauses = ctx.pauses
        # A force port without focused bursts (not the acquisition) samples at its normal
        # rate: the trial journals the rate it got and the samples in each window.
        focus = getattr(ctx.forces, "focus", None)
        burst = focus(self.pad) if focus is not None else contextlib.nullcontext()
        ctx.ui.countdown("rfd.ready", READY_S - 1, ctx.wait)
        with burst:  # from the countdown's last second: the baseline, then the squeeze
            ctx.ui.countdown("rfd.ready", 1, ctx.wait)
            trace = fast_squeeze(ctx, self.pad, full_scale, side)
            t_go = trace.t0  # the cue: the go screen is up
            t, f = ctx.forces.window_n(self.pad, ctx.clock.now() - t_go + BASELINE_S + 0.01)
        ctx.ui.prompt("grip.relax")
        e = effort(trace, paused=ctx.pauses != pauses)
        r = rapid_squeeze(t, f, t_go)
        ctx.record_trial(self._journalled(ctx, side, primed, index, trace, e, r))
        ctx.wait(1.0)
        return e

    def _journalled(
        self,
        ctx: SessionContext,
        side: str,
        primed: bool,
        index: int,
        trace: Trace,
        e: Effort,
        r: Rapid,
    ) -> Trial:
        response: dict[str, Any] = {
            "peak_force_n": _r(None if e.pad_problem else r.peak_n),
            "baseline_n": _r(r.baseline_n),
            "baseline_sd_n": _r(r.baseline_sd_n),
            "onset_s": _r(r.onset_s),
            "peak_rfd_n_s": _r(r.peak_rfd_n_s, 1),
            "sample_rate_hz": _r(r.rate_hz, 1),
            "samples": e.samples,
            "gaps": e.gaps,
        }
        for w, rfd, n in zip(WINDOWS_S, r.rfd_n_s, r.window_samples, strict=True):
            ms = round(w * 1000)
            response[f"rfd_0_{ms}_n_s"] = _r(rfd, 1)
            response[f"samples_0_{ms}"] = n
        return self.journal_entry(
            ctx,
            side,
            primed,
            index,
            trace.span,
            {"onset_n": ONSET_N, "squeeze_s": SQUEEZE_S},
            response,
            e.quality(*r.flags()),
            reaction_time_s=_r(r.onset_s),
            contact_force_n=response["peak_force_n"],
        )

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        tol = ctx.calibration_tolerance
        ok = [t for t in trials if not set(t.quality) & set(DISCARD)]
        out: dict[str, Any] = {
            "trials_valid": metric(len(ok), "count"),
            "trials_discarded": metric(
                len(trials) - len(ok), "count", flags=sorted({q for t in trials for q in t.quality})
            ),
        }
        if not ok:
            return out
        rates = [t.response["sample_rate_hz"] for t in ok if t.response["sample_rate_hz"]]
        rate = float(np.median(rates)) if rates else math.nan
        sd_b = float(np.median([t.response["baseline_sd_n"] for t in ok]))
        out["sample_rate"] = metric(rate, "Hz", note="focused burst: the working pad alone")
        for w in WINDOWS_S:
            ms = round(w * 1000)
            vals = [t.response[f"rfd_0_{ms}_n_s"] for t in ok]
            vals = [v for v in vals if v is not None]
            if not vals:
                continue
            m = float(np.mean(vals))
            n_win = int(np.median([t.response[f"samples_0_{ms}"] for t in ok]))
            out[f"rfd_0_{ms}"] = metric(
                m,
                "N/s",
                rfd_uncertainty(m, tol, sd_b, rate, w, len(vals)),
                n=len(vals),
                samples_in_window=n_win,
                onset=f"force {ONSET_N} N above the pre-cue baseline",
            )
        peaks_rfd = [t.response["peak_rfd_n_s"] for t in ok if t.response["peak_rfd_n_s"]]
        if peaks_rfd:
            m = float(np.mean(peaks_rfd))
            u = rfd_uncertainty(m, tol, sd_b, rate, PEAK_WINDOW_S, len(peaks_rfd))
            out["peak_rfd"] = metric(m, "N/s", u, n=len(peaks_rfd), window_ms=10)
        peaks = [t.response["peak_force_n"] for t in ok if t.response["peak_force_n"]]
        if peaks:
            out["peak_force"] = force_metric(float(np.mean(peaks)), tol, n=len(peaks))
        for value in out.values():
            value["note"] = NOTE
        return out


def rfd_uncertainty(
    rfd: float, tol: float, noise_sd_n: float, rate_hz: float, window_s: float, n: int
) -> float:
    """Standard uncertainty of a mean RFD (N/s): the calibration tolerance (a gain error,
    common to every trial), plus sampling: the noise of the two forces a window's slope is
    taken from and the timing of its ends (half a sample period each), over ``n`` trials."""
    dt = 1.0 / rate_hz if rate_hz and math.isfinite(rate_hz) else 0.01
    sampling = math.hypot(math.sqrt(2) * noise_sd_n / window_s, abs(rfd) * dt / (2 * window_s))
    return abs(rfd) * tol + sampling / math.sqrt(max(n, 1))


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)
