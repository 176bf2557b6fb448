"""What a clinician reads: adherence, the latest results, trends and safety events per station.

Built from the session summaries (``rehab.session/1``) in the clinic database. Numbers keep
their units and uncertainty. A trend is the least-squares slope per week and the change since
the first session; the change is judged only against a minimal detectable change (MDC) that
the summary itself states (a metric's ``mdc`` or ``mdc95`` key). Without one the change is
reported and explicitly not judged. The report describes measurements; it never diagnoses.

A station's sessions are ordered by run, then by the envelope's ``seq`` (in the order the
station made them), never by their clock. ``seq`` restarts at 1 when a station's database is
reset (a reflash, a new SD card), so each such restart begins a new run: runs are told apart
by ``boot_id`` and by a ``seq`` seen again, and ordered by when the clinic first received
them (:func:`_runs`). A session whose envelope says ``clock_synced``
false (a Pi without a real-time clock can boot at 1970) has no trustworthy date: it counts in
the totals, the latest values and the change since the first session, but not per week, not
in the slope per week and not on a time axis; the report says how many there are.

The sensory protocols' per-site thresholds (assessments and training apart, with their
intervals and the station's real-change verdicts) are a section of their own
(:mod:`mqtt_bridge.clinic_sensory`), not generic trends.

Plots (:func:`write_plots`) need matplotlib, the optional ``clinic`` extra; it is imported
inside that function only, so the rest of the report works without it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from mqtt_bridge import clinic_sensory, clocks
from mqtt_bridge.clinic_db import ClinicDB

SESSION_SCHEMA = "rehab.session/1"
#: Metric units that are tallies, not measurements: shown as latest, never trended.
TALLY_UNITS = ("count",)


#: An ISO 8601 timestamp (``Z`` or offset; naive taken as UTC) as an aware datetime.
parse_time = clocks.parse_iso


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _week_of(t: dt.datetime) -> str:
    y, w, _ = t.isocalendar()
    return f"{y}-W{w:02d}"


def _runs(messages: list[dict[str, Any]]) -> dict[str, int]:
    """``msg_id`` -> run number (0, 1, ...) of one station's messages.

    A run is one life of the station's database, over which ``seq`` only grows. The messages
    of one ``boot_id`` are cut into segments where a ``seq`` comes again (the database reset
    without a reboot), in the order the clinic received them. Segments are taken in the
    order of their first ``received_at`` (the clinic's clock); one whose lowest ``seq`` is
    not above the highest of the run so far begins a new run."""
    by_boot: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in messages:
        by_boot[m["boot_id"]].append(m)
    segments: list[list[dict[str, Any]]] = []
    for group in by_boot.values():
        group.sort(key=lambda m: (m["received_at"], m["seq"]))
        seg: list[dict[str, Any]] = []
        seen: set[int] = set()
        for m in group:
            if m["seq"] in seen:
                segments.append(seg)
                seg, seen = [], set()
            seg.append(m)
            seen.add(m["seq"])
        segments.append(seg)
    segments.sort(key=lambda sg: min((m["received_at"], m["seq"]) for m in sg))
    run, top = 0, None
    out: dict[str, int] = {}
    for sg in segments:
        seqs = [m["seq"] for m in sg]
        if top is not None and min(seqs) <= top:
            run, top = run + 1, None
        top = max(seqs) if top is None else max(top, max(seqs))
        out.update((m["msg_id"], run) for m in sg)
    return out


def _sessions(db: ClinicDB, station_id: str) -> list[dict[str, Any]]:
    """The station's session summaries with a parsed start time, in (run, ``seq``) order;
    ``dated`` is false when the station's clock was not synchronised (the start is then
    unreliable)."""
    out = []
    messages = db.messages(station_id, "summary")
    runs = _runs(messages)
    for m in messages:
        if m["schema"] != SESSION_SCHEMA:
            continue
        body = m["body"]
        start = parse_time(body.get("started_at") or m["created_at"])
        minutes = (body.get("adherence") or {}).get("minutes")
        if minutes is None and body.get("ended_at"):
            minutes = (parse_time(body["ended_at"]) - start).total_seconds() / 60.0
        out.append(
            {
                "msg_id": m["msg_id"],
                "run": runs[m["msg_id"]],
                "seq": m["seq"],
                "session_id": body.get("session_id"),
                "start": start,
                "complete": bool(body.get("complete")),
                "state": body.get("state", ""),
                "ended_reason": body.get("ended_reason", ""),
                "minutes": float(minutes or 0.0),
                "protocols": body.get("protocols") or [],
                "safety_events": body.get("safety_events") or [],
                "dated": m["clock_synced"],
            }
        )
    out.sort(key=lambda s: (s["run"], s["seq"]))  # the station's order, whatever its clock
    return out


def adherence(sessions: list[dict[str, Any]], now: dt.datetime) -> dict[str, Any]:
    """Sessions, minutes, active days and completion per ISO week and for this week (dated
    sessions only), totals over all, and how many are ``undated``."""
    weeks: dict[str, dict[str, Any]] = {}
    for s in (s for s in sessions if s["dated"]):
        w = weeks.setdefault(
            _week_of(s["start"]), {"sessions": 0, "complete": 0, "minutes": 0.0, "days": set()}
        )
        w["sessions"] += 1
        w["complete"] += 1 if s["complete"] else 0
        w["minutes"] += s["minutes"]
        w["days"].add(s["start"].date().isoformat())
    per_week = [
        {
            "week": k,
            "sessions": v["sessions"],
            "complete": v["complete"],
            "minutes": round(v["minutes"], 1),
            "days_active": len(v["days"]),
            "completion_pct": round(100.0 * v["complete"] / v["sessions"], 1),
        }
        for k, v in sorted(weeks.items())
    ]
    this_week = weeks.get(_week_of(now))
    total = len(sessions)
    done = sum(1 for s in sessions if s["complete"])
    return {
        "sessions": total,
        "complete": done,
        "completion_pct": round(100.0 * done / total, 1) if total else None,
        "days_active_this_week": len(this_week["days"]) if this_week else 0,
        "sessions_this_week": this_week["sessions"] if this_week else 0,
        "minutes_this_week": round(this_week["minutes"], 1) if this_week else 0.0,
        "last_session_at": _iso(sessions[-1]["start"])
        if sessions and sessions[-1]["dated"]
        else None,
        "undated_sessions": sum(1 for s in sessions if not s["dated"]),
        "per_week": per_week,
    }


def _series(sessions: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(protocol, metric) -> points in ``seq`` order, each the metric dict plus time, whether
    that time is trustworthy (``dated``) and session. A sensory protocol's per-site metrics
    are left to :mod:`mqtt_bridge.clinic_sensory` (a trend over training and assessment
    results together would mix two procedures)."""
    series: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        for p in s["protocols"]:
            for name, m in (p.get("metrics") or {}).items():
                if not isinstance(m, dict) or not isinstance(m.get("value"), int | float):
                    continue
                if clinic_sensory.is_site_metric(p.get("protocol", "?"), name):
                    continue
                series[(p.get("protocol", "?"), name)].append(
                    {"t": s["start"], "dated": s["dated"], "session_id": s["session_id"], **m}
                )
    return series


def _mdc(m: dict[str, Any]) -> float | None:
    for key in ("mdc", "mdc95"):
        v = m.get(key)
        if isinstance(v, int | float) and v > 0:
            return float(v)
    return None


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


def judge(change: float | None, mdc: float | None, unit: str) -> str:
    """Plain wording for a change against the MDC; describes measurement, not health."""
    if change is None:
        return "one session only: no trend yet"
    if mdc is None:
        return "no minimal detectable change stated for this metric: change not judged"
    direction = "increase" if change > 0 else "decrease"
    if abs(change) >= mdc:
        return f"{direction} exceeds the MDC of {mdc:g} {unit}: likely a real change"
    return f"within the MDC of {mdc:g} {unit}: not distinguishable from measurement error"


def trends(sessions: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """(latest results, trends) for every protocol metric."""
    latest, out = [], []
    for (proto, name), pts in sorted(_series(sessions).items()):
        last = pts[-1]
        latest.append(
            {
                "protocol": proto,
                "metric": name,
                "value": last["value"],
                "unit": last.get("unit", ""),
                "uncertainty": last.get("uncertainty"),
                "at": _iso(last["t"]) if last["dated"] else None,
                "session_id": last["session_id"],
            }
        )
        if last.get("unit") in TALLY_UNITS:
            continue
        first = float(pts[0]["value"])
        change = round(float(last["value"]) - first, 3) if len(pts) > 1 else None
        dated = [p for p in pts if p["dated"]]
        t0 = dated[0]["t"] if dated else None
        slope = slope_per_week(
            [((p["t"] - t0).total_seconds() / 86400.0, float(p["value"])) for p in dated]
        )
        mdc = _mdc(last)
        out.append(
            {
                "protocol": proto,
                "metric": name,
                "unit": last.get("unit", ""),
                "sessions": len(pts),
                "undated_sessions": len(pts) - len(dated),
                "first": first,
                "last": float(last["value"]),
                "change_vs_first": change,
                "slope_per_week": None if slope is None else round(slope, 3),
                "mdc": mdc,
                "judgement": judge(change, mdc, last.get("unit", "")),
                "points": [
                    {
                        "at": _iso(p["t"]) if p["dated"] else None,
                        "value": p["value"],
                        "uncertainty": p.get("uncertainty"),
                    }
                    for p in pts
                ],
            }
        )
    return latest, out


def _safety(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = []
    for s in sessions:
        for e in s["safety_events"]:
            events.append(
                {
                    "session_id": s["session_id"],
                    "at": e.get("at") or _iso(s["start"]),
                    "kind": e.get("kind"),
                    "code": e.get("code"),
                    "detail": e.get("detail"),
                    "clock_synced": s["dated"],
                }
            )
        if s["state"] == "stopped" and not s["safety_events"]:
            events.append(
                {
                    "session_id": s["session_id"],
                    "at": _iso(s["start"]),
                    "kind": "session_stopped",
                    "code": None,
                    "detail": s["ended_reason"],
                    "clock_synced": s["dated"],
                }
            )
    return events


def station_report(db: ClinicDB, station: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    sid = station["station_id"]
    sessions = _sessions(db, sid)
    latest, trend = trends(sessions)
    selftests = db.messages(sid, "selftest")
    rejected = db.rejected(sid)
    return {
        "station_id": sid,
        "status": station.get("last_status"),
        "last_seen": station.get("last_seen"),
        "missing_seq": db.seq_gaps(sid),
        "rejected_messages": len(rejected),
        "rejected": [
            {k: r[k] for k in ("received_at", "msg_id", "topic", "reason")} for r in rejected
        ],
        "id_conflicts": db.id_conflicts(sid),
        "adherence": adherence(sessions, now),
        "latest": latest,
        "trends": trend,
        "sensory": clinic_sensory.sensory(sessions),
        "safety_events": _safety(sessions),
        "last_selftest": (
            {"created_at": selftests[-1]["created_at"], "body": selftests[-1]["body"]}
            if selftests
            else None
        ),
    }


def _all_stations(db: ClinicDB) -> list[dict[str, Any]]:
    """Every station with a stored message or status, and every one whose messages were
    all rejected (it must not vanish from the report because nothing of it could be kept)."""
    stations = db.stations()
    known = {s["station_id"] for s in stations}
    stations += [
        {"station_id": sid, "last_status": None, "last_seen": None, "max_seq": None}
        for sid in db.rejected_station_ids()
        if sid not in known
    ]
    return sorted(stations, key=lambda s: str(s["station_id"]))


def build_report(
    db: ClinicDB, station_id: str | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The report for every station (or one); ``now`` sets "this week" (default: now)."""
    now = now or clocks.utc_now()
    stations = [s for s in _all_stations(db) if station_id in (None, s["station_id"])]
    return {
        "generated_at": _iso(now),
        "stations": [station_report(db, s, now) for s in stations],
    }


def _fmt(v: float | None, unit: str = "", u: float | None = None) -> str:
    if v is None:
        return "-"
    s = f"{v:g}"
    if u is not None:
        s += f" ± {u:g}"
    return f"{s} {unit}".rstrip()


def _plan_line(plan: dict[str, Any] | None) -> str:
    """What the station's last status says of its active plan (``rehab.status/1`` ``plan``)."""
    if not plan:
        return "plan: not reported by the station"
    if plan["state"] == "none":
        return "plan: none stored on the station"
    version = f"plan_version {plan.get('version')}"
    if plan["state"] == "refused":
        return f"plan: {version} REFUSED by the station ({plan.get('reason', '')}): send a new plan"
    return f"plan: {version} in force"


def format_text(report: dict[str, Any]) -> str:
    """The report as plain text for a terminal."""
    lines = [f"clinic report, generated {report['generated_at']}"]
    if not report["stations"]:
        lines.append("no stations in the database")
    for st in report["stations"]:
        a = st["adherence"]
        state = (st["status"] or {}).get("state", "unknown")
        lines += [
            "",
            f"== station {st['station_id']}  (status {state}, last seen {st['last_seen']})",
            _plan_line((st["status"] or {}).get("plan")),
            f"adherence: {a['sessions']} sessions, completion "
            f"{_fmt(a['completion_pct'], '%')}; this week {a['sessions_this_week']} sessions, "
            f"{a['minutes_this_week']:g} min, {a['days_active_this_week']} days active",
        ]
        if a["undated_sessions"]:
            lines.append(
                f"  {a['undated_sessions']} sessions with the station clock not synchronised: "
                "ordered by seq, dates unknown, not counted per week"
            )
        for w in a["per_week"]:
            lines.append(
                f"  {w['week']}: {w['sessions']} sessions, {w['minutes']:g} min, "
                f"{w['days_active']} days, {w['completion_pct']:g} % complete"
            )
        lines.append("latest results:")
        for r in st["latest"]:
            lines.append(
                f"  {r['protocol']}.{r['metric']}: {_fmt(r['value'], r['unit'], r['uncertainty'])}"
                f"  ({r['at'] or 'date unknown: station clock not synchronised'})"
            )
        lines.append("trends:")
        for t in st["trends"]:
            lines.append(
                f"  {t['protocol']}.{t['metric']}: {t['sessions']} sessions, "
                f"slope {_fmt(t['slope_per_week'], t['unit'] + '/week')}, change vs first "
                f"{_fmt(t['change_vs_first'], t['unit'])}; {t['judgement']}"
                + (
                    f"; slope from dated sessions only ({t['undated_sessions']} with the "
                    "station clock not synchronised)"
                    if t["undated_sessions"]
                    else ""
                )
            )
        lines += clinic_sensory.format_lines(st["sensory"])
        lines.append(f"safety events: {len(st['safety_events'])}")
        for e in st["safety_events"]:
            detail = e["detail"] if isinstance(e["detail"], str) else json.dumps(e["detail"])
            clock = "" if e["clock_synced"] else " (station clock not synchronised)"
            line = f"  {e['at']} {e['kind']} {e['code'] or ''} {detail or ''}".rstrip()
            lines.append(line + clock)
        if st["missing_seq"]:
            lines.append(f"messages not received yet (seq): {st['missing_seq'][:20]}")
        lines += _conflict_lines(st["id_conflicts"])
        lines += _rejected_lines(st["rejected"])
    return "\n".join(lines)


#: Rejected messages and id conflicts listed one by one per station (--json has them all).
SHOW_LISTED = 10


def _conflict_lines(conflicts: list[dict[str, Any]]) -> list[str]:
    if not conflicts:
        return []
    n = len(conflicts)
    lines = [
        f"{n} message{'s' if n > 1 else ''} reused an id with different content; the first was kept"
    ]
    for c in conflicts[-SHOW_LISTED:]:
        lines.append(
            f"  {c['received_at']} msg_id {c['msg_id']} ({c['kind']} seq {c['seq']}): "
            f"kept sha256 {c['first_digest'][:12]}, this one {c['digest'][:12]}"
        )
    return lines


def _rejected_lines(rejected: list[dict[str, Any]]) -> list[str]:
    if not rejected:
        return []
    lines = [f"rejected messages: {len(rejected)}"]
    for r in rejected[-SHOW_LISTED:]:
        reason = r["reason"] if len(r["reason"]) <= 200 else r["reason"][:199] + "…"
        lines.append(f"  {r['received_at']} msg_id {r['msg_id'] or '-'}: {reason}")
    return lines


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def plot_name(station_id: str, protocol: str, metric: str) -> str:
    """A file name safe on any filesystem for one station's metric plot."""
    return "__".join(_UNSAFE.sub("_", p) for p in (station_id, protocol, metric)) + ".png"


def write_plots(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """One PNG per station and trended metric into ``out_dir``, and one of each station's
    sensory thresholds (:func:`mqtt_bridge.clinic_sensory.plot`); returns the paths.

    Raises ``RuntimeError`` naming the ``clinic`` extra when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.dates import AutoDateFormatter, AutoDateLocator, date2num
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RuntimeError("plots need matplotlib: pip install 'rehab-station[clinic]'") from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for st in report["stations"]:
        for t in st["trends"]:
            # Figure + Agg canvas, not pyplot: no global state, no display needed.
            fig = Figure(figsize=(6.4, 3.6), dpi=100)
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            pts = t["points"]
            dated = all(p["at"] is not None for p in pts)
            # Undated sessions have no place on a time axis: then the axis is the order.
            times = (
                date2num([parse_time(p["at"]) for p in pts]) if dated else range(1, len(pts) + 1)
            )
            values = [p["value"] for p in pts]
            errs = [p["uncertainty"] or 0.0 for p in pts]
            ax.errorbar(times, values, yerr=errs, fmt="o-", capsize=3, label="measured ± u")
            if t["mdc"] is not None:
                ax.axhspan(
                    t["first"] - t["mdc"],
                    t["first"] + t["mdc"],
                    alpha=0.15,
                    label=f"first ± MDC ({t['mdc']:g} {t['unit']})",
                )
            ax.set_title(f"{st['station_id']}: {t['protocol']}.{t['metric']}")
            ax.set_ylabel(t["unit"])
            if dated:
                locator = AutoDateLocator()
                ax.xaxis.set_major_locator(locator)
                ax.xaxis.set_major_formatter(AutoDateFormatter(locator))
            else:
                ax.set_xlabel("session, in the station's order (its clock was not synchronised)")
            ax.legend(loc="best", fontsize="small")
            fig.autofmt_xdate()
            path = out / plot_name(st["station_id"], t["protocol"], t["metric"])
            fig.savefig(path, format="png")
            written.append(path)
        path = out / plot_name(st["station_id"], "sensory", "thresholds")
        if clinic_sensory.plot(st["station_id"], st["sensory"], path):
            written.append(path)
    return written


__all__ = [
    "adherence",
    "build_report",
    "format_text",
    "judge",
    "parse_time",
    "plot_name",
    "slope_per_week",
    "trends",
    "write_plots",
]
