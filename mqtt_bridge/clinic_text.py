"""The clinic report (:func:`mqtt_bridge.clinic_report.build_report`) as plain text."""

from __future__ import annotations

from typing import Any

from mqtt_bridge import clinic_checkin, clinic_sensory

#: Rejected messages and id conflicts listed one by one per station (--json has them all).
SHOW_LISTED = 10


def fmt(v: float | None, unit: str = "", u: float | None = None) -> str:
    if v is None:
        return "-"
    s = f"{v:.4g}"
    if u is not None:
        s += f" ± {u:.2g}"
    return f"{s} {unit}".rstrip()


def _session(r: dict[str, Any]) -> str:
    day = r["at"][:10]
    if r["time_source"] != "station":
        day = f"received {day}, station clock not synchronised"
    return f"session #{r['session']} ({day})"


def plan_line(plan: dict[str, Any] | None) -> str:
    """What the station's last status says of its active plan (``rehab.status/1`` ``plan``)."""
    if not plan:
        return "plan: not reported by the station"
    if plan["state"] == "none":
        return "plan: none stored on the station"
    version = f"plan_version {plan.get('version')}"
    if plan["state"] == "refused":
        return f"plan: {version} REFUSED by the station ({plan.get('reason', '')}): send a new plan"
    return f"plan: {version} in force"


def _adherence(a: dict[str, Any]) -> list[str]:
    lines = [
        f"adherence: {a['sessions']} sessions, {a['minutes']:g} min, {a['complete']} complete "
        f"({fmt(a['completion_pct'], '%')}; a session with no trial is not complete); this "
        f"week {a['sessions_this_week']} sessions, {a['minutes_this_week']:g} min, "
        f"{a['days_active_this_week']} days active",
        f"  planned per week: {a['planned_note']}",
    ]
    if a["receipt_dated_sessions"]:
        lines.append(
            f"  {a['receipt_dated_sessions']} sessions with the station clock not synchronised:"
            " in the station's order, dated by the clinic's receive time"
        )
    for w in a["per_week"]:
        numbers = ", ".join(f"#{n}" for n in w["session_numbers"])
        if not w["sessions"]:
            lines.append(f"  {w['week']}: no session (MISSED WEEK)")
            continue
        planned = "" if w["planned"] is None else f" of {w['planned']} planned"
        lines.append(
            f"  {w['week']}: {w['sessions']}{planned} sessions ({numbers}), {w['minutes']:g} min, "
            f"{w['days_active']} days, {w['completion_pct']:g} % complete"
        )
    return lines


def _results(st: dict[str, Any]) -> list[str]:
    lines = ["latest results (each from the session named):"]
    for r in st["latest"]:
        hand = f" {r['hand']} hand" if r["hand"] else ""
        line = (
            f"  {r['protocol']}.{r['metric']}{hand}: {fmt(r['value'], r['unit'], r['uncertainty'])}"
            f"  from {_session(r)}"
        )
        if r["older"]:
            line += (
                f"; NOT the latest {r['protocol']} session (#{r['protocol_latest_session']},"
                " which did not measure it)"
            )
        lines.append(line)
    lines.append("trends (change since the first session; real change against the larger of")
    lines.append("  the MDC of CLINICAL.md §11 and the measurements' own 95 % interval):")
    for t in st["trends"]:
        hand = f" {t['hand']} hand" if t["hand"] else ""
        lines.append(
            f"  {t['protocol']}.{t['metric']}{hand}: {t['sessions']} sessions, "
            f"#{t['first']['session']} {fmt(t['first']['value'], t['unit'])} -> "
            f"#{t['last']['session']} {fmt(t['last']['value'], t['unit'])}, slope "
            f"{fmt(t['slope_per_week'], t['unit'] + '/week')}; {t['judgement']}"
            + _station_verdict(t.get("station_real_change"))
        )
    return lines


def _station_verdict(rc: Any) -> str:
    """The station's own real-change verdict on the last session, when it sent one."""
    if not isinstance(rc, dict):
        return ""
    verdict = "a real change" if rc.get("flag") else "no real change"
    why = f" ({rc['rule']})" if rc.get("rule") else ""
    return f"; the station's verdict on its last session: {verdict}{why}"


def _symmetry(sym: dict[str, Any]) -> list[str]:
    if not sym["points"]:
        return []
    last = sym["points"][-1]
    lines = [
        f"grip symmetry (involved {sym['involved_hand']} / uninvolved, both from one session; "
        f"handedness {sym['handedness'] or 'unknown'}):",
        f"  latest {_session(last)}: raw {fmt(last['raw_pct'], '%', last['uncertainty'])}",
    ]
    if sym["expected_pct"] is not None:
        lines[-1] += (
            f", expected before injury {sym['expected_pct']:g} %, adjusted "
            f"{fmt(last['adjusted_pct'], '%')} ({sym['source']})"
        )
    if sym.get("note"):
        lines.append(f"  {sym['note']}")
    if sym.get("change"):
        lines.append(
            f"  adjusted since session #{sym['points'][0]['session']}: {sym['change']['judgement']}"
        )
    return lines


def _station(st: dict[str, Any]) -> list[str]:
    state = (st["status"] or {}).get("state", "unknown")
    lines = [
        "",
        f"== station {st['station_id']}  (status {state}, last seen {st['last_seen']})",
        plan_line((st["status"] or {}).get("plan")),
    ]
    if st["attention"]:
        lines.append("NEEDS ATTENTION: " + "; ".join(st["attention"]))
    lines += _adherence(st["adherence"])
    lines += clinic_checkin.format_lines(st["checkin"])
    lines += _results(st)
    lines += _symmetry(st["symmetry"])
    lines += clinic_sensory.format_lines(st["sensory"])
    cal = st["calibration"]
    if cal is not None:
        old = " (OLD: recalibrate)" if cal["old"] else ""
        if cal["future"]:
            old += " (a record is dated after this report: check the station's clock)"
        lines.append(
            f"calibration: {len(cal['parts'])} parts, oldest {fmt(cal['oldest_age_days'])} days"
            f"{old}, as reported by {_session(cal)}"
        )
    t = st["last_selftest"]
    if t is None:
        lines.append("self-test: none received")
    else:
        verdict = (
            "passed"
            if t["passed"]
            else "FAILED: " + ", ".join(f"{c['name']} {c['status']}" for c in t["failed"])
        )
        lines.append(f"last self-test {t['at']}: {verdict}")
    if st["data_quality"]:
        lines.append("data quality:")
        lines += [f"  {n}" for n in st["data_quality"]]
    lines.append(f"safety events: {len(st['safety_events'])}")
    lines += [f"  {_session(e)}: {e['words']}" for e in st["safety_events"]]
    for gap in st["missing_seq"]:
        lines.append(f"messages not received yet (run {gap['run']}, seq): {gap['missing'][:20]}")
    lines += _conflict_lines(st["id_conflicts"])
    lines += _rejected_lines(st["rejected"])
    return lines


def format_text(report: dict[str, Any]) -> str:
    """The report as plain text for a terminal."""
    lines = [f"clinic report, generated {report['generated_at']}"]
    if not report["stations"]:
        lines.append("no stations in the database")
    for st in report["stations"]:
        lines += _station(st)
    return "\n".join(lines)


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


__all__ = ["format_text", "plan_line"]
