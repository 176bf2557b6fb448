"""Force steadiness: hold a constant sub-maximal force in a band on the bar
(``reference/CLINICAL.md`` §3.1; docs/motor.md "force_steadiness").

``trials`` holds of ``hold_s`` at ``level_pct`` of the reference force (the level moves
between sessions by :mod:`~station.protocols.motor.progression`), the band ± ``band_pct`` of
the target, with the target in the middle of the bar. Each hold's steady part (from 1.5 s
after the force first reached the band to 0.5 s before the end, low-passed at 15 Hz) gives
CV, detrended CV, CVT and the mean absolute deviation from the target. Stop rule (§6.4): a
hold whose CV is twice the session's first usable hold's stops force work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from station.catalog import FORCE_STEADINESS
from station.journal import Trial
from station.kinds import Code, DecisionKind, Scope
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.metrics import metric
from station.protocols.motor import analysis, progression
from station.protocols.motor.bartask import (
    UNUSABLE,
    BarTask,
    common_stimulus,
    history_points,
    mean_u,
    setting_metrics,
    trace_response,
    usable,
)
from station.protocols.motor.common import force_metric
from station.safety import Decision

#: The target sits at this fraction of the bar (the bar is zoomed to the target).
TARGET_ON_BAR = 0.5
#: The stop rule compares with the first hold's CV, but never with less than this (%):
#: a very steady first hold must not make the pad's own noise look like a doubling.
CV_FLOOR_PCT = 1.0
#: One hold's CV is known to about this fraction of itself (an 8-10 s steady part of a
#: wobble of a few Hz: some 50 independent swings): the floor of a CV's uncertainty.
CV_REL_U = 0.1


class ForceSteadiness(BarTask, spec=FORCE_STEADINESS):
    intro_key = "steady.intro"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        p = self.params
        self.trials: int = p["trials"]
        self.hold_s: float = p["hold_s"]

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        self.place(ctx, side)
        ref = self.reference(ctx, side)
        load = self.level(ctx, self.met)
        wanted = ref.force_n * load.level_pct / 100.0
        target = self.capped_target(ctx, wanted, self.other_hand_n(ctx, side))
        band = target * self.params["band_pct"] / 100.0
        full = min(self.full_scale(ctx), target / TARGET_ON_BAR)
        stimulus = {
            **common_stimulus(self, ref, load),
            "target_n": round(target, 4),
            "wanted_n": round(wanted, 4),
            "capped": target < wanted - 1e-9,
            "band_n": round(band, 4),
            "full_scale_n": round(full, 3),
            "hold_s": self.hold_s,
        }
        first_cv: float | None = None
        missed = done = index = 0
        while done < self.trials:
            trace, quality = self.trial(
                ctx, self.hold_s, "steady.hold", full, lambda _t: target, band, side
            )
            h = analysis.hold(trace.t_s, trace.force_n, target, band, self.hold_s)
            if h.cv_pct is None and "no_effort" not in quality:
                quality += ("no_steady_part",)
            response = {**h.as_json(), **trace_response(trace)}
            ctx.record_trial(
                self.journal_entry(
                    ctx, side, primed, index, trace.span, stimulus, response, quality
                )
            )
            index += 1
            missed = self.after(ctx, side, quality, missed)
            if "no_effort" in quality:
                continue
            done += 1
            if h.cv_pct is not None and not UNUSABLE.intersection(quality):
                if first_cv is None:
                    first_cv = h.cv_pct
                elif h.cv_pct >= 2.0 * max(first_cv, CV_FLOOR_PCT):
                    decision = _unsteady(side, first_cv, h.cv_pct)
                    ctx.safety.decision(decision, Code.FATIGUE)
                    raise ProtocolStop(decision, journalled=True)
            wobble = "--" if h.cv_pct is None else f"{h.cv_pct:.1f}"
            self.block_done(ctx, "steady.result", wobble=wobble)
            if done < self.trials:
                ctx.ui.countdown("rest.title", int(self.params["rest_s"]), ctx.wait)

    def met(self, trials: Sequence[Trial]) -> bool | None:
        """The progression criterion: the session's mean CV at most ``advance_cv_pct``."""
        cvs = _cvs(trials)
        if not cvs:
            return None
        return sum(cvs) / len(cvs) <= self.params["advance_cv_pct"]

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        tol = ctx.calibration_tolerance
        last = trials[-1].stimulus
        ok = [t for t in usable(trials) if t.response.get("cv_pct") is not None]
        out: dict[str, Any] = {
            "holds": metric(len(ok), "count", tried=len(trials), planned=self.trials),
            **setting_metrics(trials, ctx),
            "target_force": force_metric(
                last["target_n"], tol, capped=last["capped"], band_n=last["band_n"]
            ),
        }
        if not ok:
            return out
        method = "steady part: 1.5 s after reaching the band to 0.5 s before the end, 15 Hz"
        cv, u = mean_u([t.response["cv_pct"] for t in ok], CV_REL_U)
        now = progression.Point(cv, u, float(last["level_pct"]))
        past = history_points(ctx, self.name, self.point)
        out["steadiness_cv"] = metric(
            cv, "%", u, n=len(ok), method=f"SD/mean, {method}",
            progression=progression.trend(now, past, self.params["plateau_sessions"]),
        )  # fmt: skip
        dcv, du = mean_u([t.response["detrended_cv_pct"] for t in ok], CV_REL_U)
        out["detrended_cv"] = metric(dcv, "%", du, method="SD about a fitted line / mean")
        cvt, tu = mean_u([t.response["cvt_pct"] for t in ok], CV_REL_U)
        out["cvt"] = metric(cvt, "%", tu, method="SD / target (Blomkvist 2018)")
        mad, mu = mean_u([t.response["mad_n"] for t in ok], 0.0)
        out["mean_abs_deviation"] = metric(
            mad, "N", (mu**2 + (tol * last["target_n"]) ** 2) ** 0.5, method="|force - target|"
        )
        lat = [t.response["latency"]["force_p50_ms"] for t in ok]
        lat = [x for x in lat if x is not None]
        if lat:
            out["display_latency_ms"] = metric(
                sum(lat) / len(lat), "ms", note="force sample to bar on the LCD, median"
            )
        return out

    def point(self, trials: Sequence[Trial], session: str | None) -> progression.Point | None:
        cvs = _cvs(trials)
        if not cvs:
            return None
        cv, u = mean_u(cvs, CV_REL_U)
        return progression.Point(cv, u, float(trials[-1].stimulus["level_pct"]), session)


def _cvs(trials: Sequence[Trial]) -> list[float]:
    return [t.response["cv_pct"] for t in usable(trials) if t.response.get("cv_pct") is not None]


def _unsteady(side: str, first_cv: float, cv: float) -> Decision:
    return Decision(
        DecisionKind.FATIGUE,
        Scope.FORCE,
        f"steadiness CV doubled: {cv:.1f} % against {first_cv:.1f} % in the first hold",
        {
            "hand": side,
            "rule": "steadiness_cv_doubled",
            "first_cv_pct": round(first_cv, 2),
            "cv_pct": round(cv, 2),
            "floor_pct": CV_FLOOR_PCT,
        },
    )
