"""A station's session summaries as the clinic reads them: in the station's order, each with
a number, a time and where that time comes from.

``seq`` restarts at 1 when a station's database is reset (a reflash, a new SD card), so each
restart begins a new *run*: runs are told apart by ``boot_id`` and by a ``seq`` seen again,
and ordered by when the clinic first received them (:func:`runs`). Sessions are ordered by
(run, ``seq``), never by the station's clock. A session whose envelope says ``clock_synced``
false (a Pi without a real-time clock boots at 1970) is dated by the clinic's receive time
instead, and says so (``time_source``): a summary reaches the clinic after its session, so
that time is the latest the session can have happened.

Missing ``seq`` values are looked for inside each run only (:func:`seq_gaps`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from mqtt_bridge import clocks
from mqtt_bridge.clinic_db import ClinicDB

SESSION_SCHEMA = "rehab.session/1"
#: Where a session's time comes from.
STATION_CLOCK = "station"
CLINIC_RECEIPT = "clinic_receipt"

parse_time = clocks.parse_iso


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def runs(messages: list[dict[str, Any]]) -> dict[str, int]:
    """``msg_id`` -> run number (0, 1, ...) of one station's messages (any kind: summaries,
    self-tests and plan results share the station's ``seq``).

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


def seq_gaps(db: ClinicDB, station_id: str) -> list[dict[str, Any]]:
    """Per run with a gap: ``{"run", "missing": [seq, ...]}``, the ``seq`` values between
    the lowest and the highest received in that run that have not arrived (late or lost).
    A reset station's new run is not compared with the old one: its low ``seq`` values are
    new messages, not the old run's missing ones."""
    messages = db.messages(station_id)
    seq_of = {m["msg_id"]: m["seq"] for m in messages}
    by_run: dict[int, set[int]] = defaultdict(set)
    for msg_id, run in runs(messages).items():
        by_run[run].add(seq_of[msg_id])
    out = []
    for run, seqs in sorted(by_run.items()):
        missing = [s for s in range(min(seqs), max(seqs)) if s not in seqs]
        if missing:
            out.append({"run": run + 1, "missing": missing})
    return out


def _trials(body: dict[str, Any]) -> int:
    """Trials the session journalled: the adherence count, else the protocols' sum."""
    n = (body.get("adherence") or {}).get("trials")
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    return sum(int(p.get("trials") or 0) for p in body.get("protocols") or [])


def sessions(db: ClinicDB, station_id: str) -> list[dict[str, Any]]:
    """The station's session summaries in (run, ``seq``) order, numbered from 1 (``number``,
    the way every figure of the report names its session), each with ``start`` (an aware
    datetime) and ``time_source`` (:data:`STATION_CLOCK` or :data:`CLINIC_RECEIPT`).

    ``complete`` is the station's word and at least one trial: a session that ran no trial
    did none of the programme, whatever its state says."""
    out = []
    messages = db.messages(station_id)
    run_of = runs(messages)
    for m in messages:
        if m["kind"] != "summary" or m["schema"] != SESSION_SCHEMA:
            continue
        body = m["body"]
        synced = m["clock_synced"]
        start = parse_time(body.get("started_at") or m["created_at"])
        minutes = (body.get("adherence") or {}).get("minutes")
        if minutes is None and body.get("ended_at"):
            minutes = (parse_time(body["ended_at"]) - start).total_seconds() / 60.0
        trials = _trials(body)
        out.append(
            {
                "msg_id": m["msg_id"],
                "run": run_of[m["msg_id"]],
                "seq": m["seq"],
                "session_id": body.get("session_id"),
                "start": start if synced else parse_time(m["received_at"]),
                "time_source": STATION_CLOCK if synced else CLINIC_RECEIPT,
                "received_at": m["received_at"],
                "reported_complete": bool(body.get("complete")),
                "complete": bool(body.get("complete")) and trials > 0,
                "trials": trials,
                "state": body.get("state", ""),
                "ended_reason": body.get("ended_reason", ""),
                "minutes": float(minutes or 0.0),
                "protocols": body.get("protocols") or [],
                "safety_events": body.get("safety_events") or [],
                "checkin": body.get("checkin") or {},
                "data_quality": body.get("data_quality") or {},
                "plan_version": body.get("plan_version"),
                "handedness": body.get("handedness"),
                # Kept for the sensory section: every session now has a usable time.
                "dated": True,
            }
        )
    out.sort(key=lambda s: (s["run"], s["seq"]))  # the station's order, whatever its clock
    for number, s in enumerate(out, 1):
        s["number"] = number
    return out


def when(s: dict[str, Any]) -> str:
    """A session's time as the report prints it, saying when it is the clinic's."""
    if s["time_source"] == CLINIC_RECEIPT:
        return f"received {iso(s['start'])} (station clock not synchronised)"
    return iso(s["start"])


def label(s: dict[str, Any]) -> str:
    """``session #4 (2026-11-23, s-...)``: how a figure names the session it comes from."""
    day = s["start"].date().isoformat()
    if s["time_source"] == CLINIC_RECEIPT:
        day = f"received {day}"
    return f"session #{s['number']} ({day}, {s['session_id']})"


def ref(s: dict[str, Any]) -> dict[str, Any]:
    """The session a figure comes from, for the JSON report."""
    return {
        "session": s["number"],
        "session_id": s["session_id"],
        "at": iso(s["start"]),
        "time_source": s["time_source"],
        "state": s["state"],
        "trials": s["trials"],
    }


__all__ = [
    "CLINIC_RECEIPT",
    "SESSION_SCHEMA",
    "STATION_CLOCK",
    "iso",
    "label",
    "parse_time",
    "ref",
    "runs",
    "seq_gaps",
    "sessions",
    "when",
]
