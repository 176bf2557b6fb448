"""Both hands at once: a sub-maximal hold of each hand at ``level_pct`` of its own reference,
both bars on the LCD, ``trials`` times (``reference/CLINICAL.md`` §3.1, §3.6; docs/motor.md).

Each hand's bar is scaled so that its target sits in the middle of its band (the two-bar
screen, :meth:`station.ui.SessionUi.biofeedback2`), so the two bands line up and the
patient matches positions, not newtons. With ``lead: uninvolved`` the uninvolved hand
starts alone (its band only) and the involved hand copies it after :data:`LEAD_S`
("copy your other hand": mirror-style). Every hold is journalled the moment it ends with
each hand's summary numbers over the steady part; the metrics
(:mod:`station.protocols.motor.bilateral_metrics`) come from those alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensors.faults import PadGap
from station.catalog import BILATERAL
from station.journal import Trial
from station.kinds import DecisionKind, Scope
from station.protocol_params import ParamError
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.motor import bilateral_metrics
from station.protocols.motor.common import (
    COMFORTABLE_PLATEAU,
    COMFORTABLE_S,
    MotorProtocol,
    Reference,
    declined,
    last_max_grip,
    no_effort,
)
from station.safety import Decision

#: Refresh of the two bars: an update of both costs about 3.4 ms of a 20x4's bus during a
#: hold (``tests/test_two_bars.py``), so 50 Hz keeps the LCD at 17 % of its bus.
FEEDBACK_S = 0.02
#: The two-bar screen's band: target ±20 % (``station.ui.two_bar_band_rel``, both sizes).
BAND_REL = 0.2
#: ``lead: uninvolved``: the uninvolved hand holds alone this long before the other copies.
LEAD_S = 2.0
#: The steady part of a hold: from this long after both hands were cued to this long
#: before the end (the ramp up and the let-go left out, CLINICAL.md §3.1).
STEADY_FROM_S, STEADY_END_S = 2.0, 0.5
#: A hand whose steady mean is below this (N), or below this fraction of its target when
#: that is lower, made no effort on that hold.
NO_EFFORT_N, NO_EFFORT_REL = 0.5, 0.25
#: Holds in a row with no effort on a hand that end the protocol (as maximal grip).
MAX_MISSED = 2
#: A hand with more than this fraction of its samples open: a pad problem, not the hand's.
MAX_GAP_FRACTION = 0.5
PAD_GAPS_CODE = "E-PAD-000"
#: Rest between holds (sub-maximal: the ASHT 15 s floor is for maximal trials), s.
REST_S = 3
#: Onset of a hand: its force first at this fraction of its target after its cue.
ONSET_FRACTION = 0.5


@dataclass(frozen=True)
class HandHold:
    """One hand's samples of one hold: times (s from the start), forces (N)."""

    t_s: np.ndarray
    force_n: np.ndarray

    def summary(self, target_n: float, window: tuple[float, float], cue_s: float) -> dict:
        """The numbers the journal keeps of this hand's hold (see module docstring)."""
        valid = np.isfinite(self.force_n)
        keep = valid & (self.t_s >= window[0]) & (self.t_s <= window[1])
        f = self.force_n[keep]
        out: dict[str, Any] = {"samples": len(self.force_n), "gaps": int(np.sum(~valid))}
        out["steady_samples"] = len(f)
        if len(f):
            mean, sd = float(np.mean(f)), float(np.std(f, ddof=1)) if len(f) > 1 else 0.0
            inside = np.abs(f - target_n) <= BAND_REL * target_n
            out |= {
                "mean_n": round(mean, 4),
                "sd_n": round(sd, 4),
                "cv_pct": round(100.0 * sd / mean, 3) if mean > 0 else None,
                "in_band": round(float(np.mean(inside)), 4),
            }
        after = valid & (self.t_s >= cue_s) & (self.force_n >= ONSET_FRACTION * target_n)
        onset = np.nonzero(after)[0]
        out["onset_s"] = round(float(self.t_s[onset[0]] - cue_s), 3) if len(onset) else None
        return out


class Bilateral(MotorProtocol, spec=BILATERAL):
    """Both pads must be calibrated (:meth:`~station.protocols.base.Protocol.check_ready`)."""

    intro_key = "bilateral.intro"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.pads = {"left": int(self.params["left_pad"]), "right": int(self.params["right_pad"])}
        if self.pads["left"] == self.pads["right"]:
            raise ParamError("right_pad", "must differ from left_pad (one pad per hand)")
        self.level_pct = float(self.params["level_pct"])
        self.hold_s = float(self.params["hold_s"])
        self.trials = int(self.params["trials"])
        self.lead = str(self.params["lead"])

    def pads_used(self) -> tuple[int, ...]:
        return (self.pads["left"], self.pads["right"])

    # -- running ---------------------------------------------------------------------------

    def run(self, ctx: SessionContext) -> None:
        involved = ctx.hands["involved"]
        ask = functools.partial(ctx.ui.ask_ok, self.intro_key, ctx.no_response_s)
        if not ctx.answer(ask):
            raise ProtocolStop(declined(self.name, "both"))
        primed = self.prime(ctx, involved)
        self.practise(ctx, involved, primed)

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        left, right = self.pads["left"] + 1, self.pads["right"] + 1  # the pads' labels
        ask = functools.partial(
            ctx.ui.ask_ok, "bilateral.place", ctx.no_response_s, left=left, right=right
        )
        if not ctx.answer(ask):
            raise ProtocolStop(declined(self.name, "both"))
        refs = self.references(ctx)
        targets = self.targets(ctx, refs)
        done = missed = index = 0
        in_band: list[float] = []
        if self.lead == "uninvolved":
            unv, inv = ctx.hands["uninvolved"], ctx.hands["involved"]
            ctx.ui.prompt("bilateral.mirror", lead=unv, follow=inv)
            ctx.wait(3.0)
        while done < self.trials:
            ctx.ui.countdown("motor.ready", 3, ctx.wait)
            pauses = ctx.pauses
            trial = self.hold(ctx, index, refs, targets, primed, paused_from=pauses)
            ctx.record_trial(trial)
            index += 1
            if "pad_gaps" in trial.quality:
                ctx.check()  # the acquisition's own fault first, if it found one
                ctx.ui.error("error.pads", PAD_GAPS_CODE)
                ctx.wait(5.0)
                raise ProtocolStop(_pad_gaps(trial))
            lazy = [s for s in ("left", "right") if f"no_effort_{s}" in trial.quality]
            if lazy:
                missed += 1
                if missed >= MAX_MISSED:
                    raise ProtocolStop(no_effort(self.name, lazy[0]))
                again = functools.partial(ctx.ui.ask_ok, "bilateral.again", ctx.no_response_s)
                if not ctx.answer(again):
                    raise ProtocolStop(declined(self.name, "both"))
                continue
            missed = 0
            done += 1
            in_band += [trial.response[s].get("in_band", 0.0) for s in ("left", "right")]
            if "at_force_cap" in trial.quality:
                ctx.ui.prompt("bilateral.too_hard")
                ctx.wait(2.5)
            if done < self.trials:
                ctx.ui.countdown("rest.title", REST_S, ctx.wait)
        pct = round(100 * float(np.mean(in_band))) if in_band else 0
        self.block_done(ctx, "bilateral.result", pct=pct)

    def references(self, ctx: SessionContext) -> dict[str, Reference]:
        """Each hand's reference: its last maximal grip where the plan allows one and both
        hands have one (the two from one kind of effort, or the LSI compares unlike
        things), else one firm, comfortable grip of both hands together, measured here."""
        found = {s: last_max_grip(ctx, s) if ctx.maximal_tests else None for s in self.pads}
        if all(r is not None for r in found.values()):
            return {s: r for s, r in found.items() if r is not None}
        assert ctx.forces is not None
        ctx.ui.countdown("motor.ready", 3, ctx.wait)
        holds, at_cap = self.show_both(ctx, COMFORTABLE_S, lambda _t: ("bilateral.comfortable",
                                       (None, None), (False, False), {}))  # fmt: skip
        ctx.ui.prompt("bilateral.too_hard" if at_cap else "grip.relax")
        ctx.wait(2.0)
        lo, hi = COMFORTABLE_PLATEAU
        cap = ctx.caps.max_force_n
        out = {}
        for side, hold in holds.items():
            if at_cap:  # cut short: what the hand held since it rose (the cap at most)
                lo, hi = 0.5, float(hold.t_s[-1]) if len(hold.t_s) else 0.0
            valid = np.isfinite(hold.force_n)
            if not len(valid) or np.count_nonzero(~valid) > MAX_GAP_FRACTION * len(valid):
                ctx.ui.error("error.pads", PAD_GAPS_CODE)
                ctx.wait(5.0)
                raise ProtocolStop(_gaps(self.pads[side], side, len(valid), int(np.sum(~valid))))
            keep = valid & (hold.t_s >= lo) & (hold.t_s <= hi)
            value = min(cap, float(np.median(hold.force_n[keep]))) if np.any(keep) else 0.0
            if value < min(1.0, 0.5 * cap):
                raise ProtocolStop(no_effort(self.name, side))
            source = "comfortable, cut short at the force cap" if at_cap else "comfortable"
            out[side] = Reference(value, value * 0.1, source)
        return out

    def targets(self, ctx: SessionContext, refs: dict[str, Reference]) -> dict[str, float]:
        """Each hand's target: ``level_pct`` of its reference, within the caps (the
        involved hand's also within the plan's % of the other hand), with its band's top
        under the force cap."""
        inv, unv = ctx.hands["involved"], ctx.hands["uninvolved"]
        out = {}
        for side in self.pads:
            other = refs[unv].force_n if side == inv else None
            goal = self.capped_target(ctx, refs[side].force_n * self.level_pct / 100.0, other)
            out[side] = min(goal, ctx.caps.max_force_n / (1.0 + BAND_REL))
        return out

    def hold(
        self,
        ctx: SessionContext,
        index: int,
        refs: dict[str, Reference],
        targets: dict[str, float],
        primed: bool,
        paused_from: int,
    ) -> Trial:
        """One hold of both hands, as the journal keeps it."""
        inv, unv = ctx.hands["involved"], ctx.hands["uninvolved"]
        lead_s = LEAD_S if self.lead == "uninvolved" else 0.0
        goals = (targets["left"], targets["right"])

        def screen(t: float) -> tuple[str, Any, Any, dict[str, Any]]:
            if lead_s and t < lead_s:
                shown = (unv == "left", unv == "right")
                return "bilateral.lead", goals, shown, {"hand": unv}
            if lead_s:
                return "bilateral.copy", goals, (True, True), {"hand": inv}
            return "bilateral.hold", goals, (True, True), {}

        t0 = ctx.clock.now()
        holds, at_cap = self.show_both(ctx, lead_s + self.hold_s, screen)
        end = lead_s + self.hold_s - STEADY_END_S
        window = (lead_s + STEADY_FROM_S, end)
        response = {}
        quality = set()
        for side, hold in holds.items():
            cue = lead_s if side == inv else 0.0
            response[side] = hold.summary(targets[side], window, cue)
            r = response[side]
            if r["samples"] == 0 or r["gaps"] > MAX_GAP_FRACTION * r["samples"]:
                quality.add("pad_gaps")
            elif r["gaps"]:
                quality.add("sensor_gaps")
            lazy = r.get("mean_n", 0.0) < min(NO_EFFORT_N, NO_EFFORT_REL * targets[side])
            if not at_cap and "pad_gaps" not in quality and lazy:
                quality.add(f"no_effort_{side}")
        if at_cap:
            quality.add("at_force_cap")
        if ctx.pauses != paused_from:
            quality.add("paused")
        stimulus = {
            "roles": {"involved": inv, "uninvolved": unv},
            "pads": dict(self.pads),
            "level_pct": self.level_pct,
            "target_n": {s: round(v, 4) for s, v in targets.items()},
            "reference": {s: r.as_json() for s, r in refs.items()},
            "band_rel": BAND_REL,
            "lead": self.lead,
            "lead_s": lead_s,
            "hold_s": self.hold_s,
            "window_s": [round(window[0], 3), round(window[1], 3)],
            "force_cap_n": ctx.caps.max_force_n,
            "dominant": ctx.dominant,
            "primed": primed,
        }
        return Trial(
            protocol=self.name,
            trial_index=index,
            hand=None,
            stimulus=stimulus,
            response=response,
            reaction_time_s=response[inv].get("onset_s") if lead_s else None,
            contact_force_n=None,
            t_start_s=round(t0, 4),
            t_end_s=round(ctx.clock.now(), 4),
            quality=tuple(sorted(quality)),
        )

    def show_both(
        self, ctx: SessionContext, seconds: float, screen: Any
    ) -> tuple[dict[str, HandHold], bool]:
        """Both forces on the two-bar screen for ``seconds``; ``screen(t)`` gives the title
        key, the targets (left, right; None: no band), which bands show and the params. A
        sample that read open skips one refresh; the force cap ends it early."""
        assert ctx.forces is not None
        cap = ctx.caps.max_force_n
        full_scale = self.full_scale(ctx)
        t0 = ctx.clock.now()
        at_cap = False
        while (now := ctx.clock.now()) - t0 < seconds:
            key, goals, shown, params = screen(now - t0)
            try:
                forces = (
                    ctx.forces.latest_n(self.pads["left"]),
                    ctx.forces.latest_n(self.pads["right"]),
                )
            except PadGap:
                ctx.wait(FEEDBACK_S)
                continue
            ctx.ui.biofeedback2(key, forces, goals, full_scale, shown, **params)
            if max(forces) >= cap:
                at_cap = True
                break
            ctx.wait(FEEDBACK_S)
        span = ctx.clock.now() - t0 + 0.05
        holds = {}
        for side, pad in self.pads.items():
            t, f = ctx.forces.window_n(pad, span)
            t, f = np.asarray(t, dtype=float), np.asarray(f, dtype=float)
            keep = t >= t0
            holds[side] = HandHold(t[keep] - t0, f[keep])
        return holds, at_cap

    # -- metrics ---------------------------------------------------------------------------

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        return bilateral_metrics.metrics(trials, ctx)


def _pad_gaps(trial: Trial) -> Decision:
    """The pad-gap decision of a hold (the first hand whose pad read open for most of it)."""
    for side in ("left", "right"):
        r = trial.response[side]
        if r["samples"] == 0 or r["gaps"] > MAX_GAP_FRACTION * r["samples"]:
            return _gaps(trial.stimulus["pads"][side], side, r["samples"], r["gaps"])
    raise ValueError("no pad of this hold read open for most of it")


def _gaps(pad: int, side: str, samples: int, gaps: int) -> Decision:
    reason = f"pad {pad} gave no force for {gaps} of {samples} samples of a hold"
    detail = {"pad": pad, "hand": side, "samples": samples, "gaps": gaps}
    return Decision(DecisionKind.PAD_GAPS, Scope.FORCE, reason, detail)
