"""The bilateral task's metrics, from its journalled holds alone: each hand's mean force,
steadiness (CV) and time in band over the steady part, and the limb symmetry index with
the difference handedness leads one to expect (``reference/CLINICAL.md`` §2.4, §3.6, §11).

LSI = involved / uninvolved x 100 of the mean hold forces. Right-handers' dominant hand is
about 12.7 % stronger, left-handers' hands about equal (Petersen 1989), so the expected
LSI is 112.7 % when a right-hander's involved hand is the dominant one, 88.7 % when it is
not, and 100 % for a left-handed or ambidextrous patient. ``lsi_vs_expected`` (LSI /
expected x 100) is flagged only beyond the larger of the grip MDC (15 %, §11) and 1.96
times its own uncertainty: never a fixed 10 %.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from station.journal import Trial
from station.protocols.base import MetricsContext
from station.protocols.metrics import mean_sd, mean_uncertainty, metric

#: Petersen 1989: the dominant hand's extra strength, right- and left-handers (%).
DOMINANCE_PCT = {"right": 12.72, "left": -0.08}
#: Relative MDC of grip (GripAble, CLINICAL.md §11: MDC < 15 %), %.
LSI_MDC_PCT = 15.0
#: Hand wobble decorrelates in about this long: a steady window of T seconds holds about
#: T / this independent values (the sampling uncertainty of one hold's CV and time in band).
DECORRELATION_S = 0.05
#: Flags that leave a hold out of the figures.
EXCLUDED = ("pad_gaps", "paused", "at_force_cap", "no_effort_left", "no_effort_right")


def usable(trials: list[Trial]) -> list[Trial]:
    """The holds whose steady part both hands completed."""
    return [t for t in trials if not any(f in t.quality for f in EXCLUDED)]


def expected_lsi(involved: str, dominant: str | None) -> float:
    """The LSI (%) handedness alone predicts for ``involved`` ("left"/"right")."""
    if dominant not in DOMINANCE_PCT:
        return 100.0
    extra = 1.0 + DOMINANCE_PCT[dominant] / 100.0
    return 100.0 * (extra if involved == dominant else 1.0 / extra)


def metrics(trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
    good = usable(trials)
    out: dict[str, Any] = {
        "holds": metric(len(good), "count", 0.0, excluded=len(trials) - len(good)),
    }
    if not good:
        return out
    roles = good[0].stimulus["roles"]
    tol = ctx.calibration_tolerance
    window_s = good[0].stimulus["window_s"][1] - good[0].stimulus["window_s"][0]
    n_eff = max(1.0, window_s / DECORRELATION_S)
    means: dict[str, tuple[float, float]] = {}
    for role in ("involved", "uninvolved"):
        side = roles[role]
        hands = [t.response[side] for t in good]
        m_list = [h["mean_n"] for h in hands]
        m, _sd = mean_sd(m_list)
        u = mean_uncertainty(m_list, tol)
        means[role] = (m, u)
        out[f"{role}_mean_force"] = metric(m, "N", u, hand=side, n=len(m_list))
        targets = [t.stimulus["target_n"][side] for t in good]
        target = float(np.mean(targets))
        out[f"{role}_target"] = metric(target, "N", target * tol, hand=side)
        cvs = [h["cv_pct"] for h in hands if h.get("cv_pct") is not None]
        cv = float(np.mean(cvs)) if cvs else 0.0
        if cvs:
            one = cv / math.sqrt(2.0 * n_eff)  # sampling uncertainty of one hold's CV
            u_cv = math.sqrt(_spread(cvs) ** 2 + one**2 / len(cvs))
            out[f"{role}_cv"] = metric(cv, "%", u_cv, hand=side, formula="100 SD / mean")
        ratios = [100.0 * a / b for a, b in zip(m_list, targets, strict=True)]
        acc = float(np.mean(ratios))
        # A comfortable reference comes from the same pad as the hold, so the calibration
        # cancels in the ratio; what is left is the scatter and each hold's own wobble.
        u_acc = math.sqrt(_spread(ratios) ** 2 + (acc * cv / 100) ** 2 / (n_eff * len(ratios)))
        out[f"{role}_accuracy"] = metric(
            acc, "%", u_acc, hand=side, formula="mean force / target x 100"
        )
        bands = [100.0 * h["in_band"] for h in hands]
        p = float(np.mean(bands))
        u_p = math.sqrt(max(p * (100 - p), 100.0) / (n_eff * len(bands)))
        out[f"{role}_time_in_band"] = metric(p, "%", u_p, hand=side, band="target +-20 %")
        ref = good[0].stimulus["reference"][side]
        out[f"{role}_reference"] = metric(
            ref["force_n"], "N", ref["uncertainty_n"], hand=side, source=ref["source"]
        )
    if roles.get("involved") and any(t.stimulus.get("lead") == "uninvolved" for t in good):
        onsets = [t.response[roles["involved"]].get("onset_s") for t in good]
        found = [o for o in onsets if o is not None]
        if found:
            u_o = math.sqrt(_spread(found) ** 2 + 0.02**2)  # plus the 10 ms sample + feedback
            out["follow_onset"] = metric(
                float(np.mean(found)), "s", u_o, hand=roles["involved"],
                note="involved hand's onset after its cue, copying the other",
            )  # fmt: skip
    out.update(_symmetry(means, roles["involved"], _dominant(good, ctx), tol))
    return out


def _symmetry(
    means: dict[str, tuple[float, float]], involved: str, dominant: str | None, tol: float
) -> dict[str, Any]:
    (m_i, u_i), (m_u, u_u) = means["involved"], means["uninvolved"]
    if m_u <= 0:
        return {}
    lsi = 100.0 * m_i / m_u
    rel = math.sqrt((u_i / m_i) ** 2 + (u_u / m_u) ** 2) if m_i > 0 else tol * math.sqrt(2)
    u_lsi = lsi * rel
    expected = expected_lsi(involved, dominant)
    adjusted = 100.0 * lsi / expected
    u_adj = adjusted * rel
    threshold = max(LSI_MDC_PCT, 1.96 * u_adj)
    return {
        "limb_symmetry_index": metric(lsi, "%", u_lsi, formula="involved / uninvolved x 100"),
        "expected_lsi": metric(
            expected, "%", 0.0, dominant=dominant or "none", source="Petersen 1989"
        ),
        "lsi_vs_expected": metric(
            adjusted,
            "%",
            u_adj,
            formula="LSI / expected LSI x 100",
            threshold_pct=round(threshold, 2),
            beyond_expected=abs(adjusted - 100.0) > threshold,
            judged_against="max(MDC 15 %, 1.96 x uncertainty)",
        ),
    }


def _dominant(trials: list[Trial], ctx: MetricsContext) -> str | None:
    """The dominant hand the holds were journalled with, else the station's."""
    journalled = trials[0].stimulus.get("dominant", ctx.dominant)
    return journalled if journalled in ("left", "right") else None


def _spread(values: list[float]) -> float:
    """Standard error of the mean of ``values`` (0 for one value)."""
    if len(values) < 2:
        return 0.0
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))
