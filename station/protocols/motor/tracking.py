"""Force tracking: follow a moving target band on the bar (``reference/CLINICAL.md`` §3.2;
docs/motor.md "force_tracking").

One trial per profile of ``profiles``: a 2 s lead-in at the profile's first value, then
``duration_s`` of the profile around a centre of ``level_pct`` of the reference force
(``ramp``: 0.5 to 1.5 times the centre and back, a trapezoid; ``sine``: the centre ± half
of it at 0.25 Hz; ``steps``: 0.5, 1.5 and 1 times the centre, 2.5 s each). The band is
± ``band_pct`` of the reference (§3.2: ±10 % standard). Metrics over the profile part
(low-passed at 15 Hz): RMSE, relative error RMSE / RMS(target), constant and variable
error, time in band, and the lag of force behind target by cross-correlation, less the
station's own display latency (measured on every frame, stated beside it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from station.catalog import FORCE_TRACKING
from station.journal import Trial
from station.protocols.base import MetricsContext, SessionContext
from station.protocols.metrics import metric
from station.protocols.motor import analysis, progression
from station.protocols.motor.bartask import (
    BarTask,
    common_stimulus,
    history_points,
    mean_u,
    setting_metrics,
    trace_response,
    usable,
)
from station.protocols.motor.common import force_metric
from station.protocols.motor.feedback import latency

LEAD_S = 2.0
SINE_HZ = 0.25
STEP_S = 2.5
STEP_LEVELS = (0.5, 1.5, 1.0)
#: The highest target of every profile, in units of its centre (caps apply to it).
PEAK = 1.5
#: The band's top sits at this fraction of the bar at the profile's peak.
PEAK_ON_BAR = 0.8
#: A lag is known to about a grid step's quantisation (10 ms / √12) at best (ms).
LAG_FLOOR_MS = 3.0


def shape(profile: str, u: float, duration_s: float) -> float:
    """The profile's target at ``u`` s into it, in units of its centre."""
    if profile == "ramp":
        x = u / duration_s
        return 0.5 + x / 0.4 if x < 0.4 else 1.5 if x < 0.6 else 1.5 - (x - 0.6) / 0.4
    if profile == "sine":
        return 1.0 + 0.5 * math.sin(2.0 * math.pi * SINE_HZ * u)
    if profile == "steps":
        return STEP_LEVELS[int(u // STEP_S) % len(STEP_LEVELS)]
    raise ValueError(f"profile must be ramp, sine or steps, got {profile!r}")


def target_fn(profile: str, centre_n: float, duration_s: float) -> Callable[[float], float]:
    """Target (N) at ``t`` s from the trial's start: the lead-in, then the profile."""
    lead = shape(profile, 0.0, duration_s)
    return lambda t: centre_n * (lead if t < LEAD_S else shape(profile, t - LEAD_S, duration_s))


class ForceTracking(BarTask, spec=FORCE_TRACKING):
    intro_key = "track.intro"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.profiles: list[str] = list(self.params["profiles"])
        self.duration_s: float = self.params["duration_s"]

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        self.place(ctx, side)
        ref = self.reference(ctx, side)
        load = self.level(ctx, self.met)
        wanted = PEAK * ref.force_n * load.level_pct / 100.0
        peak = self.capped_target(ctx, wanted, self.other_hand_n(ctx, side))
        centre = peak / PEAK
        band = min(ref.force_n * self.params["band_pct"] / 100.0, 0.5 * centre)
        full = min(self.full_scale(ctx), (peak + band) / PEAK_ON_BAR)
        setting = {
            **common_stimulus(self, ref, load),
            "centre_n": round(centre, 4),
            "peak_n": round(peak, 4),
            "capped": peak < wanted - 1e-9,
            "band_n": round(band, 4),
            "full_scale_n": round(full, 3),
            "duration_s": self.duration_s,
            "lead_s": LEAD_S,
        }
        missed = index = 0
        for k, profile in enumerate(self.profiles):
            goal = target_fn(profile, centre, self.duration_s)
            while True:
                trace, quality = self.trial(
                    ctx, LEAD_S + self.duration_s, "track.follow", full, goal, band, side
                )
                station_s = (latency(trace.frames, trace.last_s).target_ms or 0.0) / 1e3
                tr = analysis.tracked(trace.t_s, trace.force_n, trace.target_n, band, LEAD_S,
                                      LEAD_S + self.duration_s)  # fmt: skip
                response: dict[str, Any] = {**trace_response(trace), "station_lag_s":
                                            round(station_s, 4)}  # fmt: skip
                if tr is not None:
                    response.update(tr.as_json())
                    if tr.lag_s is not None:
                        response["patient_lag_s"] = round(tr.lag_s - station_s, 4)
                elif "no_effort" not in quality:
                    quality += ("no_tracking_part",)
                stimulus = {**setting, "profile": profile}
                entry = self.journal_entry(
                    ctx, side, primed, index, trace.span, stimulus, response, quality
                )
                ctx.record_trial(entry)
                index += 1
                missed = self.after(ctx, side, quality, missed)
                if "no_effort" not in quality:
                    break
            in_band = 0 if tr is None else round(tr.in_band_pct)
            self.block_done(ctx, "track.result", in_band=in_band)
            if k < len(self.profiles) - 1:
                ctx.ui.countdown("rest.title", int(self.params["rest_s"]), ctx.wait)

    def met(self, trials: Sequence[Trial]) -> bool | None:
        """The progression criterion: mean time in band at least ``advance_in_band_pct``."""
        ok = _tracked(trials)
        if not ok:
            return None
        mean = sum(t.response["in_band_pct"] for t in ok) / len(ok)
        return mean >= self.params["advance_in_band_pct"]

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        tol = ctx.calibration_tolerance
        last = trials[-1].stimulus
        ref_n = float(last["reference"]["force_n"])
        ref_u = float(last["reference"]["uncertainty_n"])
        ok = _tracked(trials)
        out: dict[str, Any] = {
            "profiles": metric(len(ok), "count", tried=len(trials), planned=len(self.profiles)),
            **setting_metrics(trials, ctx),
            "target_centre_force": force_metric(
                last["centre_n"],
                tol,
                peak_n=last["peak_n"],
                capped=last["capped"],
                band_n=last["band_n"],
            ),
        }
        if not ok:
            return out

        def each(key: str, scale: float = 1.0) -> dict[str, float]:
            return {t.stimulus["profile"]: round(t.response[key] * scale, 4) for t in ok}

        def values(key: str) -> list[float]:
            return [float(t.response[key]) for t in ok]

        rmse, u = mean_u(values("rmse_n"), 0.05)
        u_rmse = math.hypot(u, tol * rmse)
        out["rmse"] = metric(rmse, "N", u_rmse, by_profile=each("rmse_n"))
        pct = 100.0 * rmse / ref_n
        out["rmse_pct_reference"] = metric(pct, "% of reference", pct * math.hypot(
            u / rmse if rmse else 0.0, ref_u / ref_n))  # fmt: skip
        rel, ru = mean_u(values("relative_error"), 0.05)
        now = progression.Point(rel, ru, float(last["level_pct"]))
        past = history_points(ctx, self.name, self.point)
        out["relative_error"] = metric(
            rel, "ratio", ru, by_profile=each("relative_error"), method="RMSE / RMS(target)",
            progression=progression.trend(now, past, self.params["plateau_sessions"]),
        )  # fmt: skip
        ce, cu = mean_u(values("constant_error_n"), 0.0)
        out["constant_error"] = metric(ce, "N", math.hypot(cu, tol * last["centre_n"]),
                                       method="mean of force - target")  # fmt: skip
        ve, vu = mean_u(values("variable_error_n"), 0.05)
        out["variable_error"] = metric(ve, "N", math.hypot(vu, tol * ve),
                                       method="SD of force - target")  # fmt: skip
        ib, iu = mean_u(values("in_band_pct"), 0.0)
        out["time_in_band"] = metric(ib, "%", max(iu, 2.0), band_n=last["band_n"],
                                     by_profile=each("in_band_pct"))  # fmt: skip
        lagged = [t for t in ok if t.response.get("patient_lag_s") is not None]
        if lagged:
            lags = [1e3 * t.response["patient_lag_s"] for t in lagged]
            lag, lu = mean_u(lags, 0.0)
            out["lag"] = metric(
                lag, "ms", math.hypot(lu, LAG_FLOOR_MS),
                by_profile={t.stimulus["profile"]: round(1e3 * t.response["patient_lag_s"], 1)
                            for t in lagged},
                method="cross-correlation peak, less the station's display latency",
            )  # fmt: skip
        station = [1e3 * t.response["station_lag_s"] for t in ok]
        p50 = [t.response["latency"]["force_p50_ms"] for t in ok]
        p99 = [t.response["latency"]["force_p99_ms"] for t in ok]
        out["display_latency_ms"] = metric(
            sum(station) / len(station), "ms",
            note="mean age of the target on the LCD; subtracted from the lag",
            force_to_lcd_p50_ms=_mean(p50), force_to_lcd_p99_ms=_mean(p99),
        )  # fmt: skip
        return out

    def point(self, trials: Sequence[Trial], session: str | None) -> progression.Point | None:
        ok = _tracked(trials)
        if not ok:
            return None
        rel, ru = mean_u([float(t.response["relative_error"]) for t in ok], 0.05)
        return progression.Point(rel, ru, float(trials[-1].stimulus["level_pct"]), session)


def _tracked(trials: Sequence[Trial]) -> list[Trial]:
    return [t for t in usable(trials) if t.response.get("rmse_n") is not None]


def _mean(xs: list[Any]) -> float | None:
    got = [float(x) for x in xs if x is not None]
    return round(sum(got) / len(got), 2) if got else None
