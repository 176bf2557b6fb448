"""The sensory part of the clinic report: thresholds per protocol, site and hand over sessions.

The five sensory protocols put per-site metrics in a session summary (``site{n}_threshold``
with its 68 % and 95 % intervals, ``site{n}_trials``, ``site{n}_percent_correct``, ...;
``docs/mqtt-contract.md``, "Sensory protocols"). This module gathers them by (protocol,
site, hand), keeps assessments (QUEST+, a credible interval) apart from training (up-down, a
likelihood interval) and words the station's real-change verdicts
(:mod:`mqtt_bridge.clinic_plots` draws them). Lower thresholds are better for every sensory
protocol.

It takes the sessions as :mod:`mqtt_bridge.clinic_sessions` reads them (station order, a
number, a start time and where that time comes from).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

#: Plan name -> what its threshold is, in words.
SENSORY_PROTOCOLS = {
    "vibration_threshold": "vibration threshold",
    "amplitude_discrimination": "amplitude discrimination threshold",
    "frequency_discrimination": "frequency discrimination threshold",
    "texture_discrimination": "texture discrimination threshold",
    "localisation": "localisation threshold",
}
#: Plan name -> the scale of its threshold (``docs/mqtt-contract.md``).
SCALES = {
    "vibration_threshold": "dB re the motor's calibration reference",
    "amplitude_discrimination": "dB amplitude difference at the pedestal",
    "frequency_discrimination": "log10(f2/f1)",
    "texture_discrimination": "log10 of the groove-width ratio",
    "localisation": "dB re the motor's calibration reference",
}
LOWER_IS_BETTER = "lower thresholds are better: a lower threshold means finer sensation"
#: ``site{n}_{what}``: n is the pad index, 0-based (the LCD and this report show n + 1).
SITE_METRIC = re.compile(r"site([0-9]+)_([a-z0-9_]+)")
#: Training sessions listed one by one per series in the text (--json has them all).
SHOW_TRAINING = 7


def is_site_metric(protocol: str, metric: str) -> bool:
    """A per-site metric of a sensory protocol: reported here, not as a generic trend."""
    return protocol in SENSORY_PROTOCOLS and SITE_METRIC.fullmatch(metric) is not None


def interval(v: Any) -> tuple[float, float] | None:
    """``[lo, hi]`` with finite numbers and lo <= hi, else None (the schema cannot compare
    the two items, so this is where an inverted interval is caught)."""
    if not isinstance(v, list) or len(v) != 2:
        return None
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
        return None
    lo, hi = float(v[0]), float(v[1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        return None
    return lo, hi


def _num(m: Any, key: str = "value") -> float | None:
    if not isinstance(m, dict):
        return None
    v = m.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _count(m: Any, key: str) -> int | None:
    v = _num(m, key)
    return None if v is None else int(v)


def _iso(s: dict[str, Any]) -> str | None:
    return s["start"].isoformat(timespec="seconds").replace("+00:00", "Z") if s["dated"] else None


def _mode(threshold: dict[str, Any]) -> str:
    mode = threshold.get("mode")
    if mode in ("training", "assessment"):
        return str(mode)
    return "assessment" if threshold.get("procedure") == "quest_plus" else "training"


def _point(
    number: int, s: dict[str, Any], site: dict[str, Any], problems: list[str], where: str
) -> dict[str, Any]:
    """One session's result for one site, from its ``site{n}_*`` metrics."""
    thr = site["threshold"]
    cis: dict[str, list[float] | None] = {}
    for key in ("ci68", "ci95"):
        ci = interval(thr.get(key))
        if thr.get(key) is not None and ci is None:
            problems.append(f"{where}: {key} {thr.get(key)!r} is not [lo, hi]: left out")
        cis[key] = None if ci is None else list(ci)
    phys = thr.get("physical") if isinstance(thr.get("physical"), dict) else None
    catch, compliance = site.get("catch_correct"), site.get("contact_compliance")
    return {
        "session": number,
        "session_id": s["session_id"],
        "at": _iso(s),
        "value": _num(thr),
        "uncertainty": _num(thr, "uncertainty"),
        "ci68": cis["ci68"],
        "ci95": cis["ci95"],
        "interval": thr.get("interval"),
        "procedure": thr.get("procedure"),
        "physical": None
        if phys is None
        else {
            "value": _num(phys),
            "unit": phys.get("unit", ""),
            "ci95": None if interval(phys.get("ci95")) is None else list(phys["ci95"]),
        },
        "trials": _count(site.get("trials"), "value"),
        "percent_correct": _num(site.get("percent_correct")),
        "catch_correct": None if catch is None else {"value": _num(catch), "n": _count(catch, "n")},
        "lapse": _num(site.get("lapse")),
        "contact_compliance": None
        if compliance is None
        else {"value": _num(compliance), "repeats": _count(compliance, "repeats")},
        "real_change": thr.get("real_change") if isinstance(thr.get("real_change"), dict) else None,
    }


def _sites(metrics: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Pad index -> {what: metric} of one protocol entry's ``site{n}_*`` metrics."""
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    for name, m in metrics.items():
        hit = SITE_METRIC.fullmatch(name)
        if hit and isinstance(m, dict):
            out[int(hit.group(1))][hit.group(2)] = m
    return out


def sensory(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """Every sensory series of one station's sessions (in station order): per (protocol,
    site, hand) the assessments and the training results, the real-change verdicts in words
    (``changes``), the raised flags (``flags``) and data the report had to leave out."""
    groups: dict[tuple[str, int, str], dict[str, Any]] = {}
    problems: list[str] = []
    for number, s in enumerate(sessions, 1):
        for p in s["protocols"]:
            proto = p.get("protocol")
            if proto not in SENSORY_PROTOCOLS or not isinstance(p.get("metrics"), dict):
                continue
            for site_no, site in sorted(_sites(p["metrics"]).items()):
                thr = site.get("threshold")
                if thr is None:
                    continue
                hand = thr.get("hand") if isinstance(thr.get("hand"), str) else "hand unknown"
                where = f"session {number} ({s['session_id']}) {proto} site {site_no + 1}"
                g = groups.setdefault(
                    (proto, site_no, hand),
                    {
                        "protocol": proto,
                        "site": site_no,
                        "label": f"site {site_no + 1} ({hand})",
                        "hand": hand,
                        "unit": thr.get("unit", ""),
                        "assessments": [],
                        "training": [],
                    },
                )
                kind = "assessments" if _mode(thr) == "assessment" else "training"
                g[kind].append(_point(number, s, site, problems, where))
    by_id = {s["session_id"]: (n, s) for n, s in enumerate(sessions, 1)}
    series = []
    for _, g in sorted(groups.items()):
        g["changes"] = [
            {
                "session_id": a["session_id"],
                "flag": bool(a["real_change"].get("flag")),
                "text": change_words(g, a, by_id),
            }
            for a in g["assessments"]
            if a["real_change"] is not None
        ]
        series.append(g)
    return {
        "note": LOWER_IS_BETTER,
        "series": series,
        "flags": [c["text"] for g in series for c in g["changes"] if c["flag"]],
        "problems": problems,
    }


def _when(session_id: Any, by_id: dict[Any, tuple[int, dict[str, Any]]]) -> str:
    """The previous assessment as a reader finds it: its date, else its place in order."""
    if session_id not in by_id:
        return f"in session {session_id} (not in the clinic database)"
    number, s = by_id[session_id]
    if s.get("time_source", "station") == "station":
        return f"on {s['start'].date().isoformat()}"
    return (
        f"in session #{number} (received {s['start'].date().isoformat()}: station clock "
        "not synchronised)"
    )


def _amount(d: float, unit: str) -> str:
    if unit == "log10 ratio":
        return f"{abs(d):.2f} log10 (ratio x{10**d:.2f})"
    return f"{abs(d):.1f} {unit}".rstrip()


def change_words(
    g: dict[str, Any], a: dict[str, Any], by_id: dict[Any, tuple[int, dict[str, Any]]]
) -> str:
    """The station's real-change verdict on assessment ``a`` of series ``g`` in plain words,
    e.g. ``site 1 (right): vibration threshold 4.1 dB lower than on 2026-11-16, outside both
    95 % intervals (a real change: better)``."""
    rc = a["real_change"]
    what = f"{g['label']}: {SENSORY_PROTOCOLS[g['protocol']]}"
    prev = _num(rc, "previous_value")
    when = _when(rc.get("previous_session"), by_id)
    if a["value"] is None or prev is None:
        return f"{what}: not measured, no comparison with the assessment {when}"
    d = a["value"] - prev
    if d == 0:
        moved = f"unchanged from the assessment {when}"
    else:
        moved = f"{_amount(d, g['unit'])} {'lower' if d < 0 else 'higher'} than {when}"
    rule = rc.get("rule")
    if rc.get("flag"):
        why = (
            "outside both 95 % intervals"
            if rule == "95 % intervals do not overlap"
            else "a change held across two sessions"
        )
        text = f"{what} {moved}, {why} (a real change: {rc.get('direction')})"
        expected = "better" if d < 0 else "worse"
        if rc.get("direction") != expected:
            text += f"; lower is better, so this reads {expected}: check the station"
    else:
        text = f"{what} {moved}; the 95 % intervals overlap: not a real change"
    if rc.get("flag") and rule == "95 % intervals do not overlap" and _overlap(a, rc):
        text += "; yet the stored 95 % intervals overlap: check the station"
    return text


def _overlap(a: dict[str, Any], rc: dict[str, Any]) -> bool:
    """Whether this assessment's 95 % interval and the previous one's, as stored, overlap."""
    now, before = interval(a["ci95"]), interval(rc.get("previous_ci95"))
    return bool(now and before and now[0] <= before[1] and before[0] <= now[1])


def _ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:g}, {ci[1]:g}]"


def _result(p: dict[str, Any], unit: str) -> str:
    when = p["at"][:10] if p["at"] else "date unknown"
    if p["value"] is None:
        return f"#{p['session']} {when}  not measured"
    out = f"#{p['session']} {when}  {p['value']:g} {unit}"
    if p["ci68"] is not None:
        out += f"  68 % {_ci(p['ci68'])}"
    out += f"  95 % {_ci(p['ci95'])}"
    phys = p["physical"]
    if phys and phys["value"] is not None:
        out += f"  = {phys['value']:g} {phys['unit']} (95 % {_ci(phys['ci95'])})"
    parts = []
    if p["trials"] is not None:
        parts.append(f"{p['trials']} trials")
    if p["percent_correct"] is not None:
        parts.append(f"{p['percent_correct']:g} % correct")
    if p["catch_correct"] and p["catch_correct"]["value"] is not None:
        parts.append(f"catch {p['catch_correct']['value']:g} % of {p['catch_correct']['n']}")
    if p["lapse"] is not None:
        parts.append(f"lapse {p['lapse']:g}")
    cc = p["contact_compliance"]
    if cc and cc["value"] is not None:
        parts.append(f"contact in band {cc['value']:g} %, {cc['repeats']} repeated")
    return out + ("; " + ", ".join(parts) if parts else "")


def format_lines(sens: dict[str, Any]) -> list[str]:
    """The sensory section of the text report (nothing when the station has none)."""
    if not sens["series"]:
        return []
    lines = [f"sensory thresholds ({sens['note']}):"]
    for g in sens["series"]:
        lines.append(f"  {g['protocol']} {g['label']}, {g['unit']} ({SCALES[g['protocol']]}):")
        if g["assessments"]:
            lines.append("    assessments (QUEST+, posterior median and credible intervals):")
            lines += [f"      {_result(a, g['unit'])}" for a in g["assessments"]]
        if g["training"]:
            n = len(g["training"])
            shown = f"; the last {SHOW_TRAINING} shown" if n > SHOW_TRAINING else ""
            lines.append(f"    training ({n} sessions{shown}):")
            lines += [f"      {_result(t, g['unit'])}" for t in g["training"][-SHOW_TRAINING:]]
        lines += [f"    {c['text']}" for c in g["changes"]]
    lines.append(f"real-change flags: {len(sens['flags'])}")
    lines += [f"  {f}" for f in sens["flags"]]
    lines += [f"  left out: {p}" for p in sens["problems"]]
    return lines


__all__ = [
    "LOWER_IS_BETTER",
    "SENSORY_PROTOCOLS",
    "change_words",
    "format_lines",
    "interval",
    "is_site_metric",
    "sensory",
]
