"""Any protocol's metrics over a station's sessions: the latest result of each (and the
session it comes from), trends with real-change flags, and the grip symmetry adjusted for
handedness.

A change since the first session is flagged as real when it is larger than both the
minimal detectable change (MDC) of ``reference/CLINICAL.md`` §11 and the 95 % interval of
the difference of the two measurements themselves (their stated uncertainties): whichever is
larger is the threshold. Pad newtons are not dynamometer kilograms (§2.6), so the grip MDC
used is the relative one (15 %), not 4.9 kg. Metrics the reference calls unreliable
(sub-maximal fatigue indices) or data quality only (the CV across trials, §2.5) are shown and
never flagged. The report describes measurements; it never diagnoses.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

from mqtt_bridge import clinic_sensory
from mqtt_bridge.clinic_sessions import CLINIC_RECEIPT, iso, ref

#: Metric units that are tallies, not measurements: shown as latest, never trended.
TALLY_UNITS = ("count",)
#: CLINICAL.md §11: grip MDC under 15 % (GripAble vs raters); relative, so it applies to
#: the pads' newtons, which the kilogram MDCs of a Jamar do not (§2.6).
GRIP_MDC_REL = 0.15
GRIP_MDC_SOURCE = "15 % of the first value (grip MDC, CLINICAL.md §11; pad force, not kg)"
#: The symmetry index is a ratio of two grips: judged against the grip MDC of both hands.
SYMMETRY_MDC_REL = GRIP_MDC_REL * math.sqrt(2.0)
SYMMETRY_MDC_SOURCE = "the grip MDC of both hands, 21 % of the first value (CLINICAL.md §11)"
#: CLINICAL.md §2.4 (Petersen 1989): the dominant hand of a right-hander is 12.72 % stronger;
#: a left-hander's hands are equal (-0.08 %), and so are an ambidextrous person's.
RIGHT_HANDER_DOMINANT_EXCESS = 0.1272
Z95 = 1.96

_FORCE = re.compile(r"(.*_)?(mean|best|peak|max)_force")
_LOWER_IS_BETTER = re.compile(r".*(_cv|rmse|error|_time_s|reaction).*")
_HIGHER_IS_BETTER = re.compile(r"(.*_)?(mean|best|peak|max)_force|.*rfd.*")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def not_judged_reason(name: str, m: dict[str, Any]) -> str | None:
    """Why a metric is never flagged, or None."""
    if "fatigue" in name:
        return "sub-maximal fatigue indices are not reliable (CLINICAL.md §11): exploratory only"
    if "data quality" in str(m.get("note", "")):
        return "the CV across trials is a data-quality note only (CLINICAL.md §2.5)"
    return None


def mdc_for(name: str, m: dict[str, Any], first: float) -> tuple[float | None, str]:
    """(MDC in the metric's unit, where it comes from) for metric ``name``; the metric's own
    ``mdc``/``mdc95`` when it states one, else §11's figure where there is one."""
    for key in ("mdc", "mdc95"):
        v = _num(m.get(key))
        if v is not None and v > 0:
            return v, "stated by the station"
    if _FORCE.fullmatch(name) and m.get("unit") == "N":
        return GRIP_MDC_REL * abs(first), GRIP_MDC_SOURCE
    if name == "limb_symmetry_index":
        return SYMMETRY_MDC_REL * abs(first), SYMMETRY_MDC_SOURCE
    return None, "CLINICAL.md §11 gives no MDC for this measure"


def _u(m: dict[str, Any]) -> float | None:
    """The standard uncertainty of a point: stated, else from its 95 % interval."""
    u = _num(m.get("uncertainty"))
    if u is not None:
        return u
    ci = clinic_sensory.interval(m.get("ci95"))
    return None if ci is None else (ci[1] - ci[0]) / (2 * Z95)


def better_when(name: str) -> str | None:
    """ "higher" or "lower" when the metric has a known good direction, else None."""
    if _HIGHER_IS_BETTER.fullmatch(name):
        return "higher"
    if _LOWER_IS_BETTER.fullmatch(name):
        return "lower"
    return None


def judge_change(
    name: str, m: dict[str, Any], first: dict[str, Any], last: dict[str, Any]
) -> dict[str, Any]:
    """The verdict on the change from ``first`` to ``last`` (metric points)."""
    change = float(last["value"]) - float(first["value"])
    unit = m.get("unit", "")
    mdc, source = mdc_for(name, m, float(first["value"]))
    u1, u2 = _u(first), _u(last)
    own = None if u1 is None or u2 is None else Z95 * math.hypot(u1, u2)
    out: dict[str, Any] = {
        "change": round(change, 3),
        "mdc": None if mdc is None else round(mdc, 3),
        "mdc_source": source,
        "interval95": None if own is None else round(own, 3),
        "flag": False,
        "reading": None,
    }
    reason = not_judged_reason(name, m)
    if reason:
        out["judgement"] = f"not judged: {reason}"
        return out
    limits = [x for x in (mdc, own) if x is not None]
    if not limits:
        out["judgement"] = (
            "not judged: CLINICAL.md §11 gives no MDC for this measure and it states no uncertainty"
        )
        return out
    threshold = max(limits)
    basis = "the MDC" if mdc is not None and threshold == mdc else "the measurements' interval"
    out["threshold"] = round(threshold, 3)
    direction = "increase" if change > 0 else "decrease"
    if abs(change) > threshold:
        out["flag"] = True
        good = better_when(name)
        if good is not None:
            out["reading"] = "better" if (change > 0) == (good == "higher") else "worse"
        reading = f" ({out['reading']})" if out["reading"] else ""
        out["judgement"] = (
            f"REAL CHANGE{reading}: {direction} of {abs(change):.3g} {unit} exceeds "
            f"{basis} ({threshold:.3g} {unit})"
        )
    else:
        out["judgement"] = (
            f"{direction} of {abs(change):.3g} {unit} within {basis} ({threshold:.3g} {unit}): "
            "not distinguishable from measurement error"
        )
    return out


def slope_per_week(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(days, value)`` points, in value units per week.

    None with fewer than two distinct times (no slope can be estimated)."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return 7.0 * sxy / sxx


def series(sessions: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(protocol, metric) -> points in station order: the metric dict plus ``s`` (its
    session). A sensory protocol's per-site metrics are left to the sensory section."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        for p in s["protocols"]:
            proto = p.get("protocol", "?")
            for name, m in (p.get("metrics") or {}).items():
                if not isinstance(m, dict) or _num(m.get("value")) is None:
                    continue
                if clinic_sensory.is_site_metric(proto, name):
                    continue
                out[(proto, name)].append({**m, "s": s})
    return out


def _point(p: dict[str, Any]) -> dict[str, Any]:
    return {**ref(p["s"]), "value": p["value"], "uncertainty": _u(p)}


def latest(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each metric's latest value, with the session it comes from; ``older`` says when that
    is not the protocol's latest session (which then did not measure it)."""
    last_run: dict[str, dict[str, Any]] = {}
    for s in sessions:
        for p in s["protocols"]:
            last_run[p.get("protocol", "?")] = s
    rows = []
    for (proto, name), pts in sorted(series(sessions).items()):
        last = pts[-1]
        newest = last_run[proto]
        rows.append(
            {
                "protocol": proto,
                "metric": name,
                "value": last["value"],
                "unit": last.get("unit", ""),
                "uncertainty": _u(last),
                "hand": last.get("hand"),
                **ref(last["s"]),
                "older": last["s"] is not newest,
                "protocol_latest_session": newest["number"],
            }
        )
    return rows


def trends(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (protocol, metric) with a unit that is not a tally: first and last with their
    sessions, the slope per week, and the real-change verdict (:func:`judge_change`)."""
    out = []
    for (proto, name), pts in sorted(series(sessions).items()):
        last = pts[-1]
        if last.get("unit") in TALLY_UNITS:
            continue
        first = pts[0]
        t0 = first["s"]["start"]
        slope = slope_per_week(
            [((p["s"]["start"] - t0).total_seconds() / 86400.0, float(p["value"])) for p in pts]
        )
        row: dict[str, Any] = {
            "protocol": proto,
            "metric": name,
            "unit": last.get("unit", ""),
            "hand": last.get("hand"),
            "sessions": len(pts),
            "receipt_dated": sum(1 for p in pts if p["s"]["time_source"] == CLINIC_RECEIPT),
            "first": _point(first),
            "last": _point(last),
            "slope_per_week": None if slope is None else round(slope, 3),
            "points": [_point(p) for p in pts],
        }
        if len(pts) > 1:
            row.update(judge_change(name, last, first, last))
        else:
            row.update(change=None, flag=False, reading=None, judgement="one session only")
        if isinstance(last.get("real_change"), dict):
            row["station_real_change"] = last["real_change"]
        out.append(row)
    return out


def expected_ratio(handedness: str | None, involved_hand: str | None) -> float | None:
    """Involved / uninvolved grip expected before the injury (CLINICAL.md §2.4), or None when
    handedness or the involved side is unknown."""
    if handedness in ("left", "ambidextrous") and involved_hand in ("left", "right"):
        return 1.0
    if handedness == "right" and involved_hand == "right":
        return 1.0 + RIGHT_HANDER_DOMINANT_EXCESS
    if handedness == "right" and involved_hand == "left":
        return 1.0 / (1.0 + RIGHT_HANDER_DOMINANT_EXCESS)
    return None


def symmetry(sessions: list[dict[str, Any]], handedness: str | None) -> dict[str, Any]:
    """The involved/uninvolved grip ratio per session (both hands from the same session,
    never mixed), raw and adjusted for handedness: adjusted = raw / expected, so 100 % is the
    patient's own pre-injury balance."""
    points = []
    involved_hand = None
    for s in sessions:
        for p in s["protocols"]:
            m = p.get("metrics") or {}
            inv, uninv = m.get("involved_mean_force") or {}, m.get("uninvolved_mean_force") or {}
            a, b = _num(inv.get("value")), _num(uninv.get("value"))
            if a is None or b is None or b <= 0:
                continue
            involved_hand = inv.get("hand") or involved_hand
            raw = 100.0 * a / b
            ua, ub = _u(inv), _u(uninv)
            u = None if ua is None or ub is None or a <= 0 else raw * math.hypot(ua / a, ub / b)
            points.append(
                {
                    **ref(s),
                    "protocol": p.get("protocol"),
                    "raw_pct": round(raw, 1),
                    "uncertainty": None if u is None else round(u, 1),
                }
            )
    expected = expected_ratio(handedness, involved_hand)
    for pt in points:
        pt["adjusted_pct"] = None if expected is None else round(pt["raw_pct"] / expected, 1)
    out: dict[str, Any] = {
        "handedness": handedness,
        "involved_hand": involved_hand,
        "expected_pct": None if expected is None else round(100.0 * expected, 1),
        "source": "CLINICAL.md §2.4 (Petersen 1989): dominant +12.7 % in right-handers, "
        "equal hands in left-handers",
        "points": points,
    }
    if points and expected is None:
        out["note"] = (
            "handedness unknown: the ratio is not adjusted (set it with "
            "'rehab-station clinic station --station ID --handedness right|left|ambidextrous')"
        )
    if len(points) > 1 and expected is not None:
        key = "adjusted_pct"
        first = {"value": points[0][key], "uncertainty": _scaled(points[0], expected)}
        last = {"value": points[-1][key], "uncertainty": _scaled(points[-1], expected)}
        out["change"] = judge_change("limb_symmetry_index", {"unit": "%"}, first, last)
    return out


def _scaled(pt: dict[str, Any], expected: float) -> float | None:
    return None if pt["uncertainty"] is None else pt["uncertainty"] / expected


def real_declines(trend_rows: list[dict[str, Any]]) -> list[str]:
    """Plain words for every trend flagged as a real change for the worse."""
    return [
        f"{t['protocol']}.{t['metric']}: {t['judgement']} (from session #{t['first']['session']}"
        f" to #{t['last']['session']})"
        for t in trend_rows
        if t.get("flag") and t.get("reading") == "worse"
    ]


__all__ = [
    "GRIP_MDC_REL",
    "expected_ratio",
    "iso",
    "judge_change",
    "latest",
    "mdc_for",
    "real_declines",
    "series",
    "slope_per_week",
    "symmetry",
    "trends",
]
