"""What a clinician reads per station: adherence, pain and check-in, each protocol's results
with the session they come from, trends with real-change flags, the handedness-adjusted grip
symmetry, sensory thresholds, calibration and self-test, data quality and safety events.

Built from the summaries in the clinic database (:mod:`mqtt_bridge.clinic_sessions` reads
them in the station's order; :mod:`mqtt_bridge.clinic_metrics` judges the numbers;
:mod:`mqtt_bridge.clinic_checkin` words pain and safety; :mod:`mqtt_bridge.clinic_sensory`
the thresholds). Every figure names its session. The text form is
:mod:`mqtt_bridge.clinic_text`; the plots :mod:`mqtt_bridge.clinic_plots`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mqtt_bridge import clinic_checkin, clinic_metrics, clinic_sensory, clinic_settings, clocks
from mqtt_bridge.clinic_db import ClinicDB
from mqtt_bridge.clinic_sessions import CLINIC_RECEIPT, iso, parse_time, ref, seq_gaps, sessions

#: Days after which a calibration record is reported as old (the pads drift, §2.6).
CALIBRATION_OLD_DAYS = 90
#: A station whose oldest unacknowledged message is older than this needs a look.
OUTBOX_LATE_S = 86400.0


def _week_of(t: dt.datetime) -> str:
    y, w, _ = t.isocalendar()
    return f"{y}-W{w:02d}"


def _weeks_between(a: dt.datetime, b: dt.datetime) -> list[str]:
    """Every ISO week from ``a``'s to ``b``'s, in order."""
    out, t = [], a - dt.timedelta(days=a.weekday())
    while t.date() <= b.date():
        out.append(_week_of(t))
        t += dt.timedelta(days=7)
    return out


@dataclass
class _Week:
    sessions: int = 0
    complete: int = 0
    minutes: float = 0.0
    days: set[str] = field(default_factory=set)
    numbers: list[int] = field(default_factory=list)

    def as_json(self, week: str) -> dict[str, Any]:
        return {
            "week": week,
            "sessions": self.sessions,
            "session_numbers": self.numbers,
            "complete": self.complete,
            "minutes": round(self.minutes, 1),
            "days_active": len(self.days),
            "completion_pct": round(100.0 * self.complete / self.sessions, 1)
            if self.sessions
            else None,
        }


def adherence(
    ss: list[dict[str, Any]], now: dt.datetime, plan: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Sessions, minutes, active days and completion per ISO week (every week from the first
    session to ``now``, empty ones too: a missed week shows), totals, and how many sessions
    are dated by the clinic's receipt. Complete means complete with at least one trial."""
    weeks: dict[str, _Week] = {}
    if ss:
        for name in _weeks_between(ss[0]["start"], max(now, ss[-1]["start"])):
            weeks[name] = _Week()
    for s in ss:
        w = weeks.setdefault(_week_of(s["start"]), _Week())
        w.sessions += 1
        w.complete += 1 if s["complete"] else 0
        w.minutes += s["minutes"]
        w.days.add(s["start"].date().isoformat())
        w.numbers.append(s["number"])
    per_week = [v.as_json(k) for k, v in sorted(weeks.items())]
    days = clinic_settings.planned_days(plan) if plan else None
    for row in per_week:
        row["planned"] = None if days is None else len(days)
    this_week = weeks.get(_week_of(now))
    total = len(ss)
    done = sum(1 for s in ss if s["complete"])
    return {
        "sessions": total,
        "complete": done,
        "no_trial_sessions": sum(1 for s in ss if s["trials"] == 0),
        "completion_pct": round(100.0 * done / total, 1) if total else None,
        "minutes": round(sum(s["minutes"] for s in ss), 1),
        "days_active_this_week": len(this_week.days) if this_week else 0,
        "sessions_this_week": this_week.sessions if this_week else 0,
        "minutes_this_week": round(this_week.minutes, 1) if this_week else 0.0,
        "last_session": ref(ss[-1]) if ss else None,
        "receipt_dated_sessions": sum(1 for s in ss if s["time_source"] == CLINIC_RECEIPT),
        "missed_weeks": [w["week"] for w in per_week[:-1] if w["sessions"] == 0],
        # Past weeks with fewer sessions than the plan in force now asks for.
        "short_weeks": [
            r["week"] for r in per_week[:-1] if days is not None and r["sessions"] < len(days)
        ],
        "planned_per_week": None if days is None else len(days),
        "planned_note": (
            "not known: no plan for this station was seen on the broker"
            if plan is None
            else f"{len(days or [])} ({', '.join(days or [])}; plan_version "
            f"{plan.get('plan_version')}, the plan retained for the station now)"
        ),
        "per_week": per_week,
    }


def calibration(ss: list[dict[str, Any]], now: dt.datetime) -> dict[str, Any] | None:
    """The calibration records the latest session reports, their oldest age (days) as of
    ``now`` and the session that reported them."""
    for s in reversed(ss):
        cal = s["data_quality"].get("calibration")
        if not isinstance(cal, dict) or not cal:
            continue
        ages = {}
        for part, rec in cal.items():
            date = rec.get("date") if isinstance(rec, dict) else None
            if isinstance(date, str):
                try:
                    ages[part] = round((now - parse_time(date)).total_seconds() / 86400.0, 1)
                except ValueError:
                    continue
        oldest = max(ages.values()) if ages else None
        return {
            **ref(s),
            "parts": sorted(cal),
            "oldest_age_days": oldest,
            "old": oldest is not None and oldest > CALIBRATION_OLD_DAYS,
            # A record dated after the report's time: the station's clock was wrong then.
            "future": any(age < 0 for age in ages.values()),
        }
    return None


def data_quality(ss: list[dict[str, Any]]) -> list[str]:
    """Notes on the measurement itself, each naming its session."""
    notes = []
    for s in ss:
        dq, where = s["data_quality"], f"session #{s['number']}"
        if dq.get("bus_errors"):
            notes.append(f"{where}: {dq['bus_errors']} bus errors")
        for fault in dq.get("sensor_faults") or []:
            notes.append(f"{where}: sensor fault {fault}")
        if dq.get("unreadable_rows"):
            notes.append(f"{where}: {dq['unreadable_rows']} journal rows unreadable, left out")
        if dq.get("pads_tared") is False:
            notes.append(f"{where}: pads not zeroed before force work")
        if s["reported_complete"] and s["trials"] == 0:
            notes.append(f"{where}: reported complete but ran no trial: counted as not complete")
    simulated = [f"#{s['number']}" for s in ss if s["data_quality"].get("simulated")]
    if simulated:
        notes.append(f"sessions {', '.join(simulated)}: a simulated station, not a patient's data")
    return notes


def selftest(db: ClinicDB, station_id: str) -> dict[str, Any] | None:
    tests = db.messages(station_id, "selftest")
    if not tests:
        return None
    last = tests[-1]
    body = last["body"]
    failed = [c for c in body.get("checks") or [] if c.get("status") in ("FAIL", "ERROR")]
    return {
        "at": last["created_at"] if last["clock_synced"] else last["received_at"],
        "time_source": "station" if last["clock_synced"] else CLINIC_RECEIPT,
        "passed": bool(body.get("passed")),
        "failed": [{k: c.get(k) for k in ("name", "status", "detail", "hint")} for c in failed],
        "body": body,
    }


def attention(st: dict[str, Any]) -> list[str]:
    """What needs the clinician's attention, in words (the dashboard's flags)."""
    out = []
    for r in st["checkin"]:
        if r["stop_rules"]:
            out.append(f"pain or check-in stop rule in session #{r['session']}")
    out += [f"real decline: {d}" for d in clinic_metrics.real_declines(st["trends"])]
    for c in st["sensory"]["series"]:
        out += [
            f"real decline: {x['text']}" for x in c["changes"] if x["flag"] and "worse" in x["text"]
        ]
    if st["adherence"]["missed_weeks"]:
        out.append(f"missed weeks: {', '.join(st['adherence']['missed_weeks'])}")
    if st["last_selftest"] is not None and not st["last_selftest"]["passed"]:
        out.append("the last self-test failed")
    if st["rejected_messages"]:
        out.append(f"{st['rejected_messages']} messages rejected by the clinic")
    waiting = (st["status"] or {}).get("outbox_oldest_pending_s")
    if isinstance(waiting, int | float) and waiting > OUTBOX_LATE_S:
        depth = (st["status"] or {}).get("outbox_depth")
        out.append(
            f"{depth} messages waiting in the station's outbox, the oldest for "
            f"{waiting / 86400:.1f} days"
        )
    return out


def handedness(settings: dict[str, Any], ss: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The patient's dominant hand and where it comes from: what the clinic recorded
    (``clinic station --handedness``) first, else what the newest summary says the station
    is configured with; (None, None) when neither says."""
    if settings.get("handedness"):
        return settings["handedness"], "clinic"
    told = next((s["handedness"] for s in reversed(ss) if s.get("handedness")), None)
    return (told, "station") if told else (None, None)


def station_report(db: ClinicDB, station: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    sid = station["station_id"]
    ss = sessions(db, sid)
    rejected = db.rejected(sid)
    settings = clinic_settings.get(db, sid)
    handed, handed_from = handedness(settings, ss)
    rep = {
        "station_id": sid,
        "status": station.get("last_status"),
        "last_seen": station.get("last_seen"),
        "handedness": handed,
        "handedness_from": handed_from,
        "sessions": [
            {**ref(s), "minutes": round(s["minutes"], 1), "complete": s["complete"]} for s in ss
        ],
        "missing_seq": seq_gaps(db, sid),
        "rejected_messages": len(rejected),
        "rejected": [
            {k: r[k] for k in ("received_at", "msg_id", "topic", "reason")} for r in rejected
        ],
        "id_conflicts": db.id_conflicts(sid),
        "adherence": adherence(ss, now, clinic_settings.plan(db, sid)),
        "checkin": clinic_checkin.timeline(ss),
        "latest": clinic_metrics.latest(ss),
        "trends": clinic_metrics.trends(ss),
        "symmetry": clinic_metrics.symmetry(ss, handed),
        "sensory": clinic_sensory.sensory(ss),
        "calibration": calibration(ss, now),
        "last_selftest": selftest(db, sid),
        "data_quality": data_quality(ss),
        "safety_events": clinic_checkin.safety_events(ss),
    }
    rep["attention"] = attention(rep)
    return rep


def all_stations(db: ClinicDB) -> list[dict[str, Any]]:
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
    stations = [s for s in all_stations(db) if station_id in (None, s["station_id"])]
    return {
        "generated_at": iso(now),
        "stations": [station_report(db, s, now) for s in stations],
    }


__all__ = [
    "adherence",
    "all_stations",
    "attention",
    "build_report",
    "calibration",
    "station_report",
]
