"""At start-up: close the sessions a crash or a power cut interrupted, and summarise every
session whose summary was never written.

An interrupted session ends at its last trial or event, not at the restart (hours later,
perhaps). Its metrics come from the protocols and params it ran with, which the journal
keeps (:meth:`~station.journal.Journal.plan_items`), not from the plan in force at the
restart. The fallback, for a session an older software version journalled without them
(or whose record of them cannot be read): each protocol it lists takes the params of the
active plan's item of that name, or its defaults when the active plan no longer lists it
(it is never dropped). That is the session's own plan when the active plan has its
version (the station never stores two plans of one version); otherwise the params are a
guess, and the summary's data quality says ``"plan_params": "assumed"``.
"""

from __future__ import annotations

import logging

from station import summary
from station.journal import Journal
from station.kinds import Code, EventKind, SessionState
from station.plan import Plan
from station.protocols.base import MetricsContext
from station.session_results import PlannedProtocol, protocol_results

log = logging.getLogger(__name__)

#: ``ended_reason`` of a session closed at the next start.
CLOSED_AT_RESTART = "station stopped during the session (closed at restart)"


def recover(
    journal: Journal, enqueue: summary.Enqueue, plan: Plan, ctx: MetricsContext
) -> list[str]:
    """Close interrupted sessions as incomplete and summarise every unsummarised one; the
    summaries' message ids. A session that cannot be summarised (the outbox is full, say)
    is logged and left for the next start; the others still are."""
    close_interrupted(journal)
    msg_ids = []
    for sid in journal.unsummarised():
        try:
            msg_ids.append(_summarise(journal, sid, enqueue, plan, ctx))
        except Exception:
            log.exception("session %s could not be summarised; trying at the next start", sid)
    return msg_ids


def close_interrupted(journal: Journal) -> None:
    """End each session still open as incomplete, at its last trial or event."""
    for sid in journal.interrupted():
        log.warning("session %s was interrupted; marking it incomplete", sid)
        last = journal.last_activity(sid)
        journal.record_event(
            sid, EventKind.INTERRUPTED, {"reason": "station restarted"}, code=Code.RESTART
        )
        journal.end_session(sid, SessionState.INCOMPLETE, CLOSED_AT_RESTART, ended_at=last)


def ran_with(journal: Journal, session_id: int, plan: Plan) -> tuple[list[PlannedProtocol], bool]:
    """The protocols and params the session ran with, and whether they are assumed (the
    fallback, when the journal has none for it and the active plan is another version)."""
    items = journal.plan_items(session_id)
    if items is not None:
        try:
            return [PlannedProtocol.from_json(i) for i in items], False
        except ValueError as exc:
            log.warning("session %s: its plan items cannot be used: %s", session_id, exc)
    active: dict[str, PlannedProtocol] = {}
    for item in plan.schedule:
        active.setdefault(item.protocol, PlannedProtocol(item.protocol, dict(item.params)))
    session = journal.session(session_id)
    names: list[str] = session["protocols"]
    planned = [active.get(name, PlannedProtocol(name)) for name in names]
    return planned, plan.plan_version != session["plan_version"]


def _summarise(
    journal: Journal, sid: int, enqueue: summary.Enqueue, plan: Plan, ctx: MetricsContext
) -> str:
    session = journal.session(sid)
    planned, assumed = ran_with(journal, sid, plan)
    quality = {"recovered": True, **({"plan_params": "assumed"} if assumed else {})}
    results = protocol_results(journal, sid, planned, ctx)
    body = summary.build(journal, sid, results, quality, session["plan_version"])
    return summary.write(journal, sid, body, enqueue)
