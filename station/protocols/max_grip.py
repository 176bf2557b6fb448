"""Maximal grip, ASHT style (``reference/CLINICAL.md`` §2.1).

Three trials per hand, at least 15 s rest between trials (the plan's ``min_rest_s``, never
less than the station's floor), a squeeze of at least 3 s; the mean of the three trials and
the best trial are reported, each with its uncertainty, plus the coefficient of variation as
a data-quality note only (§2.5: never a sincerity-of-effort verdict) and the involved /
uninvolved ratio. Runs only when the plan enables maximal tests.

Force is measured on an FSR pad, so the figures are calibrated pad newtons (a per-session
zero and the pad's calibration record), not dynamometer kilograms (§2.6).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensors.faults import PadGap
from station.catalog import MAX_GRIP
from station.journal import Trial
from station.kinds import Code, DecisionKind, Scope
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.base import Protocol as ProtocolBase
from station.protocols.metrics import mean_sd, mean_uncertainty, metric
from station.safety import Decision, fatigue_decision

SQUEEZE_S = 4.0  # ASHT: at least 3 s; the peak is taken over the whole window
GET_READY_S = 3
ONSET_FRACTION = 0.1  # reaction time: force above 10 % of the trial's peak
MIN_ONSET_N = 0.5
NO_EFFORT_N = 0.5  # a "squeeze" below this is no response, not a 0 N measurement
#: Biofeedback refresh: 20 Hz keeps force-to-bar latency under 100 ms (one LCD row update
#: is about 12 ms of a 100 kHz bus, HARDWARE.md §4.4).
FEEDBACK_S = 0.05
#: Trials in a row without a squeeze that end the protocol for that hand.
MAX_MISSED = 2
#: A squeeze window with more than this fraction of its samples missing (the pad read open,
#: NaN) is a pad problem: its peak would be a guess, and the pad is not usable today.
MAX_GAP_FRACTION = 0.5
#: Technician code of the pad-gaps screen: a pad read open with no errno, as the session
#: runner codes the acquisition's own open-pad fault.
PAD_GAPS_CODE = "E-PAD-000"


class MaxGrip(ProtocolBase, spec=MAX_GRIP):
    """Its pad must be calibrated (:meth:`~station.protocols.base.Protocol.check_ready`)."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.hands: list[str] = self.params["hands"]
        self.trials_per_hand: int = self.params["trials_per_hand"]
        self.pad: int = self.params["pad"]

    def pads_used(self) -> tuple[int, ...]:
        return (self.pad,)

    def run(self, ctx: SessionContext) -> None:
        done = 0  # trials that took their place, over the hands so far
        for role in self.hands:
            side = ctx.hands[role]
            if not ctx.answer(
                functools.partial(self._place, ctx, side)
            ):  # Back: the patient does not want this hand today
                raise ProtocolStop(_declined(side))
            done += self._hand(ctx, role, side, done)

    def _hand(self, ctx: SessionContext, role: str, side: str, done_before: int) -> int:
        """One hand's trials; how many took their place. Raises ProtocolStop for a stop
        rule (fatigue, no squeeze twice in a row) or a hand declined."""
        planned = len(self.hands) * self.trials_per_hand
        hand = HandTrials(side)
        index = 0  # every try is journalled, a missed one too
        while hand.done < self.trials_per_hand:
            before = hand.done
            decision = hand.add(*self._trial(ctx, role, side, index, before + 1))
            index += 1
            if decision is not None and decision.kind == DecisionKind.NO_EFFORT:
                decision = _trials_lost(decision, planned - done_before - before, planned)
            if decision is not None and decision.kind == DecisionKind.FATIGUE:
                ctx.safety.decision(decision, Code.FATIGUE)
                raise ProtocolStop(decision, journalled=True)
            if decision is not None:
                raise ProtocolStop(decision)
            if hand.done == before:
                # No squeeze (looked away, say): a kind word and the same try again; a
                # second miss in a row gives the hand up (HandTrials).
                if not ctx.answer(functools.partial(self._again, ctx)):
                    raise ProtocolStop(_declined(side))
            elif hand.done < self.trials_per_hand:
                ctx.ui.countdown("grip.rest", int(ctx.caps.min_rest_s), ctx.wait)
        return hand.done

    @staticmethod
    def _again(ctx: SessionContext) -> bool | None:
        return ctx.ui.ask_ok("grip.again", ctx.no_response_s)

    @staticmethod
    def _place(ctx: SessionContext, side: str) -> bool | None:
        return ctx.ui.ask_ok("grip.place", ctx.no_response_s, hand=side)

    def _trial(
        self, ctx: SessionContext, role: str, side: str, index: int, try_no: int
    ) -> tuple[float | None, tuple[str, ...]]:
        """One squeeze, journalled; its peak force (None when there was no squeeze) and its
        quality flags. Raises ProtocolStop (``pad_gaps``) when the pad gave no force for
        most of the squeeze, after journalling it."""
        assert ctx.forces is not None
        ctx.ui.prompt("grip.progress", trial=try_no, total=self.trials_per_hand, hand=side)
        ctx.wait(1.0)
        ctx.ui.countdown("grip.ready", GET_READY_S, ctx.wait)
        pauses = ctx.pauses
        window = self._squeeze(ctx, side)
        ctx.ui.prompt("grip.relax")
        t, f = ctx.forces.window_n(self.pad, window.t_end - window.t0 + 0.05)
        squeeze = squeeze_peak(t, f, window.t0)
        quality = squeeze.quality(window.at_cap, paused=ctx.pauses != pauses)
        ctx.record_trial(self._journalled(ctx, role, side, index, window, squeeze, quality))
        if squeeze.pad_problem:
            # Not the patient's doing: the acquisition's own fault if it reported one (the
            # session ends on it), else this protocol stops as the station's problem.
            ctx.check()
            ctx.ui.error("error.pads", PAD_GAPS_CODE)
            ctx.wait(5.0)
            raise ProtocolStop(_pad_gaps(self.pad, side, squeeze))
        ctx.wait(1.0)
        return (None if "no_effort" in quality else squeeze.peak_n), quality

    def _squeeze(self, ctx: SessionContext, side: str) -> SqueezeWindow:
        """The squeeze itself, with its force on the LCD; stops early at the force cap."""
        assert ctx.forces is not None
        cap = ctx.caps.max_force_n
        full_scale = min(ctx.forces.full_scale_n(), cap * 1.25)
        ctx.ui.cue("start")
        t0 = ctx.clock.now()
        while ctx.clock.now() - t0 < SQUEEZE_S:
            try:
                force = ctx.forces.latest_n(self.pad)
            except PadGap:
                # The newest sample read open (a pad glitch): skip this refresh. A pad that
                # stays open is a fault of the acquisition, which ctx.wait raises; gaps in
                # the squeeze are judged from the whole window below. Any other PadFault (a
                # stale reading, a faulty pad) ends the squeeze as what it is.
                ctx.wait(FEEDBACK_S)
                continue
            ctx.ui.biofeedback("grip.squeeze", force, full_scale, hand=side)
            if force >= cap:  # the force ceiling holds during maximal tests too
                return SqueezeWindow(t0, ctx.clock.now(), cap, at_cap=True)
            ctx.wait(FEEDBACK_S)
        return SqueezeWindow(t0, ctx.clock.now(), cap, at_cap=False)

    def _journalled(
        self,
        ctx: SessionContext,
        role: str,
        side: str,
        index: int,
        window: SqueezeWindow,
        squeeze: Squeeze,
        quality: tuple[str, ...],
    ) -> Trial:
        """The trial as the journal keeps it (a pad problem leaves no peak)."""
        peak = None if squeeze.pad_problem or squeeze.peak_n is None else round(squeeze.peak_n, 3)
        rt = squeeze.reaction_time_s
        return Trial(
            protocol=self.name,
            trial_index=index,
            hand=side,
            stimulus={
                "role": role,
                "squeeze_s": SQUEEZE_S,
                "pad": self.pad,
                "force_cap_n": window.cap_n,
            },
            response={"peak_force_n": peak, "samples": squeeze.samples, "gaps": squeeze.gaps},
            reaction_time_s=None if peak is None or rt is None else round(rt, 3),
            contact_force_n=peak,
            t_start_s=round(window.t0, 4),
            t_end_s=round(window.t_end, 4),
            quality=quality,
        )

    def metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        means: dict[str, float] = {}
        for role in self.hands:
            side = ctx.hands[role]
            peaks = counted_peaks(trials, side)
            out[f"{role}_trials"] = metric(len(peaks), "count")
            if not peaks:
                continue
            m, sd = mean_sd(peaks)
            means[role] = m
            u = mean_uncertainty(peaks, ctx.calibration_tolerance)
            out[f"{role}_mean_force"] = metric(
                m, "N", u, hand=side, n=len(peaks), method="mean of trials (ASHT)"
            )
            out[f"{role}_best_force"] = metric(
                max(peaks), "N", max(peaks) * ctx.calibration_tolerance, hand=side
            )
            if len(peaks) > 1 and m > 0:
                out[f"{role}_cv"] = metric(100.0 * sd / m, "%", note="data quality only")
        if "involved" in means and "uninvolved" in means and means["uninvolved"] > 0:
            ratio = 100.0 * means["involved"] / means["uninvolved"]
            rel = ctx.calibration_tolerance * np.sqrt(2)
            out["limb_symmetry_index"] = metric(
                ratio, "%", ratio * rel, formula="involved / uninvolved x 100"
            )
        return out


def counted_peaks(trials: Sequence[Trial], side: str) -> list[float]:
    """The peaks of ``side``'s squeezes that count as maxima: not a missed squeeze, and not
    an interrupted one (a paused squeeze is not a maximum)."""
    return [
        t.response["peak_force_n"]
        for t in trials
        if t.hand == side
        and t.response.get("peak_force_n") is not None
        and "no_effort" not in t.quality
        and "paused" not in t.quality
    ]


class HandTrials:
    """One hand's trials so far, for its stop rules: the fatigue rule on the peaks of the
    squeezes that count, and squeezes missed in a row (``reference/CLINICAL.md``). A missed
    squeeze is tried again, so it does not take a trial's place; a paused one does."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.peaks: list[float] = []
        self.missed = 0
        self.done = 0  # trials that took their place

    def add(self, peak_n: float | None, quality: Sequence[str] = ()) -> Decision | None:
        """Count one trial (``peak_n`` None: no squeeze); the stop rule it fires, or None."""
        if "paused" in quality:
            # An interrupted squeeze is not a maximum (the metrics leave it out too): a low
            # one is not fatigue, and a missing one is not a missed squeeze.
            self.done += 1
            return None
        if peak_n is None:
            # No squeeze is no answer, not a weak one: it is not fatigue.
            self.missed += 1
            return _no_effort(self.side, self.missed) if self.missed >= MAX_MISSED else None
        self.missed = 0
        self.done += 1
        self.peaks.append(peak_n)
        return fatigue_decision(self.peaks)


@dataclass(frozen=True)
class Squeeze:
    """What one squeeze window measured."""

    #: Peak force (N) of the median-filtered samples; None without a usable sample.
    peak_n: float | None
    #: From ``t0`` to the first sample above 10 % of the peak (at least 0.5 N), s.
    reaction_time_s: float | None
    #: Samples in the window, and how many of them had no force (NaN: the pad read open).
    samples: int
    gaps: int

    @property
    def pad_problem(self) -> bool:
        """No samples at all, or most of them missing: the pad, not the patient."""
        return self.samples == 0 or self.gaps > MAX_GAP_FRACTION * self.samples

    def quality(self, at_cap: bool, paused: bool) -> tuple[str, ...]:
        """The trial's quality flags: what the window held, and what happened in it."""
        flags = {
            "no_samples": self.samples == 0,
            "sensor_gaps": self.gaps > 0,
            "pad_gaps": self.pad_problem,
            "at_force_cap": at_cap,
            "paused": paused,
            # no squeeze (looked away, say), unless the pad gave nothing to judge
            "no_effort": not self.pad_problem and (self.peak_n or 0.0) < NO_EFFORT_N,
        }
        return tuple(flag for flag, raised in flags.items() if raised)


@dataclass(frozen=True)
class SqueezeWindow:
    """When the squeeze ran (clock s), the force cap it ran under, and whether it hit it."""

    t0: float
    t_end: float
    cap_n: float
    at_cap: bool


def squeeze_peak(t_s: Any, force_n: Any, t0: float) -> Squeeze:
    """Peak force and reaction time of the samples ``(t_s, force_n)`` at or after ``t0``.

    Samples without a force (NaN: the pad read open for one conversion, a glitch) are
    dropped before the 3-sample median, so that one neither spreads to its neighbours nor
    makes the peak NaN; ``gaps`` counts them. The median rejects single-sample spikes
    without flattening the peak.

    The peak, not the highest mean over 0.5 s: a hold that wobbles keeps an FSR partly on
    its unloading branch, which reads high (that mean: +3.9 % over 48 simulated squeezes),
    while the peak is on the loading branch the pad was calibrated on (+0.1 % there).
    """
    t, f = np.asarray(t_s, dtype=float), np.asarray(force_n, dtype=float)
    keep = t >= t0
    t, f = t[keep], f[keep]
    valid = np.isfinite(f)
    gaps = int(len(f) - np.count_nonzero(valid))
    t, f = t[valid], f[valid]
    if len(f) == 0:
        return Squeeze(None, None, len(valid), gaps)
    smooth = _median3(f)
    peak = float(np.max(smooth))
    onset = np.nonzero(smooth >= max(MIN_ONSET_N, ONSET_FRACTION * peak))[0]
    rt = float(t[onset[0]] - t0) if len(onset) else None
    return Squeeze(peak, rt, len(valid), gaps)


def _median3(f: np.ndarray) -> np.ndarray:
    if len(f) < 3:
        return f
    padded = np.concatenate(([f[0]], f, [f[-1]]))
    stacked = np.stack([padded[:-2], padded[1:-1], padded[2:]])
    return np.median(stacked, axis=0)


def _no_effort(side: str, missed: int) -> Decision:
    return Decision(
        DecisionKind.NO_EFFORT,
        Scope.FORCE,
        f"no squeeze on {missed} tries in a row ({side} hand)",
        {"hand": side, "missed": missed},
    )


def _trials_lost(decision: Decision, lost: int, planned: int) -> Decision:
    """``decision`` saying how many of the planned trials it leaves undone."""
    return dataclasses.replace(
        decision,
        reason=f"{decision.reason}, {lost} of {planned} trials not done",
        detail={**decision.detail, "trials_lost": lost, "trials_planned": planned},
    )


def _pad_gaps(pad: int, side: str, squeeze: Squeeze) -> Decision:
    what = (
        f"no force for {squeeze.gaps} of {squeeze.samples} samples"
        if squeeze.samples
        else "no samples"
    )
    return Decision(
        DecisionKind.PAD_GAPS,
        Scope.FORCE,
        f"pad {pad} gave {what} of a squeeze",
        {"pad": pad, "hand": side, "samples": squeeze.samples, "gaps": squeeze.gaps},
    )


def _declined(side: str) -> Decision:
    reason = f"{side} hand grip declined or no answer"
    return Decision(DecisionKind.DECLINED, Scope.FORCE, reason, {"hand": side})
