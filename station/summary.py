"""The session summary (``rehab.session/1``) and its outbox row, in one transaction.

The summary carries per-protocol metrics with units and uncertainty, adherence (minutes,
trials, days this week), the check-in answers, every safety event, data quality (bus errors,
overruns, calibration age, journal rows that could not be read), and the software and plan
versions. It is written together with its outbox row (``mqtt_bridge.outbox``) so a crash can
never leave one without the other; the row leaves the outbox only when the clinic
acknowledges it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from station import __version__
from station.journal import Journal
from station.kinds import PAIN_STOP_RULES, SessionState

log = logging.getLogger(__name__)

SCHEMA = "rehab.session/1"
#: ``ended_reason`` is at most this long in the schema: a longer reason (several protocol
#: stops, a long fault message) is cut, never a reason to lose the summary.
MAX_REASON_CHARS = 500

#: What the summary carries of each safety event.
EVENT_FIELDS = ("t_s", "at", "kind", "code", "detail")

#: (connection, schema, body) -> msg_id: enqueue inside the caller's transaction.
Enqueue = Callable[[Any, str, dict[str, Any]], str]


@dataclass(frozen=True)
class ProtocolResult:
    """One protocol's part of the summary: its journalled trials and its metrics."""

    protocol: str
    trials: int
    metrics: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "trials": self.trials, "metrics": self.metrics}


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def adherence(journal: Journal, session_id: int, duration_s: float | None = None) -> dict[str, Any]:
    """Minutes of the session (``duration_s`` on the session's clock when known, else from
    the journal's wall-clock times), its trials, and the days with trials this week."""
    s = journal.session(session_id)
    start = _parse(s["started_at"])
    end = _parse(s["ended_at"]) if s["ended_at"] else dt.datetime.now(dt.UTC)
    if duration_s is not None:
        end = start + dt.timedelta(seconds=duration_s)
    week_start = (start - dt.timedelta(days=start.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    week = journal.sessions_between(
        week_start.isoformat().replace("+00:00", "Z"),
        (week_start + dt.timedelta(days=7)).isoformat().replace("+00:00", "Z"),
    )
    days = {w["started_at"][:10] for w in week if journal.trials(w["id"])}
    trials = journal.trials(session_id)
    if trials:
        days.add(s["started_at"][:10])
    return {
        "minutes": round((end - start).total_seconds() / 60.0, 2),
        "trials": len(trials),
        "days_this_week": len(days),
    }


def build(
    journal: Journal,
    session_id: int,
    results: Sequence[ProtocolResult],
    data_quality: dict[str, Any],
    plan_version: int | None,
    duration_s: float | None = None,
    handedness: str | None = None,
) -> dict[str, Any]:
    """The summary body for ``session_id`` from the journal and the protocols' metrics;
    ``handedness`` (config ``station.handedness``) lets the clinic judge the symmetry of
    the hands without asking for it again."""
    s = journal.session(session_id)
    events = journal.events(session_id)
    unreadable = journal.unreadable_rows(session_id)
    if unreadable:
        log.warning("session %s: %d journal row(s) unreadable, left out", session_id, unreadable)
        data_quality = {**data_quality, "unreadable_rows": unreadable}
    return {
        "session_id": s["session_uid"],
        "started_at": s["started_at"],
        "ended_at": s["ended_at"],
        "complete": s["state"] == SessionState.COMPLETE,
        "state": s["state"],
        "ended_reason": _shortened(s["ended_reason"] or "", MAX_REASON_CHARS),
        "protocols": [r.as_json() for r in results],
        "adherence": adherence(journal, session_id, duration_s),
        "checkin": _checkin(s["checkin"] or {}, s["checkout"] or {}, events),
        "safety_events": [{k: e[k] for k in EVENT_FIELDS} for e in events],
        "data_quality": data_quality,
        "software_version": __version__,
        "plan_version": plan_version,
        **({"handedness": handedness} if handedness else {}),
    }


def _checkin(
    checkin: dict[str, Any], checkout: dict[str, Any], events: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "pain_before": checkin.get("pain"),
        "pain_after": checkout.get("pain"),
        # every pain check between two protocols, in order (a rule may have fired on one)
        "pain_between": list(checkout.get("pain_between", [])),
        "new_numbness": checkin.get("new_numbness"),
        "wound_problem": checkin.get("wound_problem"),
        # The pain stop rule a later pain answer fired (a rise from check-in, or the
        # limit), so the clinic sees it without reading the safety events.
        "pain_stop_rule": next((e["kind"] for e in events if e["kind"] in PAIN_STOP_RULES), None),
    }


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write(journal: Journal, session_id: int, body: dict[str, Any], enqueue: Enqueue) -> str:
    """Store the summary and its outbox row in one transaction; returns the msg_id."""
    with journal.transaction() as conn:
        msg_id = enqueue(conn, SCHEMA, body)
        journal.mark_summarised(conn, session_id, msg_id)
    log.info("session %s summarised as %s (%s)", session_id, msg_id, body["state"])
    return msg_id
