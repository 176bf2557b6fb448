"""Inbound plans (``rehab.plan/1``): parse and validate at the edge, store durably.

:func:`parse_plan` turns the bytes of a plan message into a plan dict or raises
:class:`PlanRejected` with a reason a clinician can act on (which field, what is allowed).
It checks, in order: size (16 KiB), UTF-8, strict JSON, the schema (ranges included), a
real ``issued_at`` date, the target ``station_id`` and a ``plan_version`` strictly greater
than the active one. The station adds its own hard limits afterwards (the client's
``semantic_check``).

Accepted plans live in the station database, table ``plans(plan_version PRIMARY KEY,
received_at, body)``; the active plan is the one with the highest version. A rejected plan
is never stored, so it leaves the active plan untouched.

Every plan message answered (accepted or rejected) leaves its digest in ``plan_answers``
(the last :data:`MAX_ANSWERS`): the same message again (the retained plan replayed on every
reconnect, a QoS 1 redelivery) is recognised by its raw bytes and not answered twice. The
digest covers the MQTT ``CorrelationData`` too, so a clinic that sends identical bytes again
on purpose with new correlation data gets a new answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mqtt_bridge import clocks, envelope, outbox, schema

log = logging.getLogger(__name__)

SCHEMA = "rehab.plan/1"
RESULT_SCHEMA = "rehab.plan_result/1"
MAX_PLAN_BYTES = 16 * 1024
#: Schema errors listed in one reason at most (the rest are summarised by a count).
MAX_REASONS = 5

#: Digests of answered plan messages kept (a clinic sends a plan every few weeks).
MAX_ANSWERS = 32
#: The reason of the answer to the active plan sent again with new correlation data.
ALREADY_ACTIVE = "already the active plan"

PLANS_SQL = (
    """CREATE TABLE IF NOT EXISTS plans(
        plan_version INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS plan_answers(
        digest TEXT PRIMARY KEY,                -- message_digest(payload, correlation)
        answered_at TEXT NOT NULL,
        status TEXT NOT NULL,                   -- accepted | rejected
        plan_version INTEGER                    -- as answered; null when unreadable
    )""",
)


@dataclass(frozen=True)
class StationCap:
    """A cap of an accepted plan that the station's own hard limit tightens."""

    cap: str
    plan: float
    station: float
    unit: str

    def text(self) -> str:
        return f"{self.cap} {self.plan:g} -> {self.station:g} {self.unit}"

    def as_json(self) -> dict[str, Any]:
        return {"cap": self.cap, "plan": self.plan, "station": self.station, "unit": self.unit}


#: The station's own check of a plan that passed the schema: raises ``ValueError(reason)``
#: to refuse it, else returns the caps its hard limits tighten (None: none).
SemanticCheck = Callable[[dict[str, Any]], Sequence[StationCap] | None]
#: The reason of an accepted plan some of whose caps the station tightens starts so.
STATION_CAPS_APPLY = "the station's caps apply: "


def caps_reason(caps: Sequence[StationCap]) -> str:
    """``the station's caps apply: max_force_n 40 -> 30 N, ...``, or "" for none."""
    return STATION_CAPS_APPLY + ", ".join(c.text() for c in caps) if caps else ""


class PlanRejected(ValueError):
    """A plan refused; ``reason`` says what to change. ``plan_version`` is the version the
    plan carried when it could be read (for the ``plan/result`` answer), else None."""

    def __init__(self, reason: str, plan_version: int | None = None) -> None:
        self.reason = reason
        self.plan_version = plan_version
        super().__init__(reason)


def _version_of(doc: Any) -> int | None:
    v = doc.get("plan_version") if isinstance(doc, dict) else None
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if isinstance(v, float) and not v.is_integer():
        return None
    return int(v) if 1 <= v <= 2**31 - 1 else None


def parse_plan(
    payload: bytes, station_id: str | None = None, current_version: int | None = None
) -> dict[str, Any]:
    """The validated plan in ``payload``, or :class:`PlanRejected` naming the problem.

    ``station_id``: when given, the plan must be addressed to it. ``current_version``: the
    active plan's version (None: no plan yet); the new one must be strictly greater. Never
    raises anything but :class:`PlanRejected` (a test fuzzes this)."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise PlanRejected(f"the plan must be bytes, got {type(payload).__name__}")
    data = bytes(payload)
    if len(data) > MAX_PLAN_BYTES:
        raise PlanRejected(f"the plan is {len(data)} bytes; at most {MAX_PLAN_BYTES} are allowed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanRejected(f"the plan is not UTF-8 text (invalid byte at {exc.start})") from None
    try:
        doc = envelope.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanRejected(
            f"the plan is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise PlanRejected(f"the plan is not valid JSON: {exc}") from None
    version = _version_of(doc)
    errs = schema.errors(doc, schema.load(SCHEMA), limit=MAX_REASONS + 1)
    if errs:
        shown = "; ".join(str(e) for e in errs[:MAX_REASONS])
        more = " (and more)" if len(errs) > MAX_REASONS else ""
        raise PlanRejected(shown + more, version)
    if version is None:  # the schema already guarantees it; kept for python -O
        raise PlanRejected("plan_version: must be an integer from 1 to 2147483647")
    plan: dict[str, Any] = doc
    plan["plan_version"] = version
    for cap in ("pain_stop_nrs", "pain_rise_stop"):  # JSON Schema integers may be 3.0
        plan["caps"][cap] = int(plan["caps"][cap])
    try:
        dt.datetime.fromisoformat(plan["issued_at"].replace("Z", "+00:00"))
    except ValueError:
        raise PlanRejected(
            f"issued_at: {plan['issued_at']!r} is not a real date and time (ISO 8601 UTC)",
            version,
        ) from None
    if station_id is not None and plan["station_id"] != station_id:
        raise PlanRejected(
            f"station_id: the plan is for {plan['station_id']!r}, this station is {station_id!r}",
            version,
        )
    if current_version is not None and version <= current_version:
        raise PlanRejected(
            f"plan_version: {version} is not newer than the active plan_version "
            f"{current_version}; send it with plan_version {current_version + 1} or higher",
            version,
        )
    return plan


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Create the ``plans`` and ``plan_answers`` tables if missing (works inside an open
    transaction)."""
    for sql in PLANS_SQL:
        conn.execute(sql)


def message_digest(payload: bytes, correlation: bytes | None = None) -> str:
    """SHA-256 (hex) of a plan message: its ``CorrelationData`` (length-prefixed, so no
    two pairs collide) and its raw payload."""
    corr = correlation or b""
    return hashlib.sha256(b"%d:" % len(corr) + corr + bytes(payload)).hexdigest()


def was_answered(conn: sqlite3.Connection, digest: str) -> bool:
    """Whether the plan message with this :func:`message_digest` was answered already."""
    row = conn.execute("SELECT 1 FROM plan_answers WHERE digest = ?", (digest,)).fetchone()
    return row is not None


def _record_answer(
    conn: sqlite3.Connection, digest: str, outcome: PlanOutcome, answered_at: str
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO plan_answers(digest, answered_at, status, plan_version)"
        " VALUES (?, ?, ?, ?)",
        (digest, answered_at, outcome.status, outcome.plan_version),
    )
    conn.execute(
        "DELETE FROM plan_answers WHERE rowid NOT IN"
        " (SELECT rowid FROM plan_answers ORDER BY rowid DESC LIMIT ?)",
        (MAX_ANSWERS,),
    )


def store_plan(conn: sqlite3.Connection, plan: dict[str, Any], received_at: str) -> None:
    """Insert an accepted plan, inside the caller's transaction. Raises
    ``sqlite3.IntegrityError`` if that version is already stored."""
    conn.execute(
        "INSERT INTO plans(plan_version, received_at, body) VALUES (?, ?, ?)",
        (plan["plan_version"], received_at, json.dumps(plan, separators=(",", ":"))),
    )


def active_plan(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The stored plan with the highest version, or None."""
    row = conn.execute("SELECT body FROM plans ORDER BY plan_version DESC LIMIT 1").fetchone()
    if row is None:
        return None
    plan: dict[str, Any] = json.loads(row[0])
    return plan


def active_version(conn: sqlite3.Connection) -> int | None:
    """The active plan's version, or None when no plan was ever accepted."""
    row = conn.execute("SELECT max(plan_version) FROM plans").fetchone()
    return None if row is None or row[0] is None else int(row[0])


#: Longest ``reason`` of a plan state in the status message.
MAX_STATE_REASON = 500


@dataclass(frozen=True)
class PlanState:
    """The active plan as the status message reports it: ``in_force``, ``refused`` (stored
    by an earlier software version, refused by this one's checks: ``reason`` says why) or
    ``none`` (no plan accepted yet)."""

    version: int | None
    state: Literal["in_force", "refused", "none"]
    reason: str = ""

    def as_status(self) -> dict[str, Any]:
        return {"version": self.version, "state": self.state, "reason": self.reason}


def check_active(
    conn: sqlite3.Connection, station_id: str, semantic_check: SemanticCheck | None = None
) -> PlanState:
    """The stored active plan checked again with this software's rules (the schema, then
    ``semantic_check``): a plan an earlier version accepted may no longer pass."""
    version = active_version(conn)
    if version is None:
        return PlanState(None, "none")
    try:
        stored = active_plan(conn)
    except ValueError as exc:  # the database file was damaged or edited by hand
        return PlanState(version, "refused", f"the stored plan is not valid JSON ({exc})")
    try:
        body = json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode()
        plan = parse_plan(body, station_id)
        if semantic_check is not None:
            semantic_check(plan)
    except PlanRejected as exc:
        return PlanState(version, "refused", exc.reason[:MAX_STATE_REASON])
    except ValueError as exc:  # the station's own check refuses it
        return PlanState(version, "refused", str(exc)[:MAX_STATE_REASON])
    except Exception as exc:  # a bug in the station's check must not put a plan in force
        log.exception("checking the stored plan_version %s failed", version)
        reason = f"the station could not check the plan ({type(exc).__name__})"
        return PlanState(version, "refused", reason)
    return PlanState(version, "in_force")


def is_redelivery(conn: sqlite3.Connection, payload: bytes) -> bool:
    """Whether ``payload`` is the active plan again, by content (a retained plan replayed
    with other correlation data, or accepted before ``plan_answers`` existed): it needs no
    answer, unless it carries correlation data not answered yet (:func:`receive_plan`).
    Never raises for a malformed payload."""
    try:
        doc = envelope.loads(payload)
        version = _version_of(doc)
        if version is None or version != active_version(conn):
            return False
        stored = active_plan(conn)
        return stored is not None and json.dumps(doc, sort_keys=True) == json.dumps(
            stored, sort_keys=True
        )
    except (ValueError, TypeError, RecursionError):
        return False


def _commit_answer(
    conn: sqlite3.Connection,
    digest: str,
    outcome: PlanOutcome,
    answer: dict[str, Any],
    correlation: bytes | None,
    max_rows: int,
    wall_clock: clocks.WallClock,
) -> None:
    """In one transaction: store the plan when it was accepted, record the message as
    answered, queue the answer; all three stamped with one reading of ``wall_clock``. A
    full outbox costs the answer (an alarm is logged), never the decision."""
    now = wall_clock()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if outcome.plan is not None:
            store_plan(conn, outcome.plan, clocks.iso_utc(now))
        _record_answer(conn, digest, outcome, clocks.iso_utc(now))
        try:
            outbox.enqueue(
                conn,
                RESULT_SCHEMA,
                answer,
                max_rows=max_rows,
                ack_mode=outbox.ACK_PUBACK,
                correlation=correlation,
                wall_clock=lambda: now,
            )
        except outbox.OutboxFull:
            pass  # logged as an alarm by enqueue
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def answer_unhandled(
    conn: sqlite3.Connection,
    payload: bytes,
    correlation: bytes | None,
    reason: str,
    *,
    max_rows: int = outbox.DEFAULT_MAX_ROWS,
    wall_clock: clocks.WallClock = clocks.utc_now,
) -> None:
    """Answer a plan message the station failed to handle (an unforeseen error, not a
    database fault that can clear) as ``rejected`` with ``reason``, and record its digest as
    answered, in one transaction: the message is not handled again. The caller guards this
    (it may fail as well) and acknowledges the message in any case."""
    try:
        version = _version_of(envelope.loads(payload))
    except Exception:  # the payload is what failed; the answer names no version then
        version = None
    outcome = PlanOutcome("rejected", version, reason[:2000])
    answer = {
        "plan_version": version,
        "status": "rejected",
        "reason": outcome.reason,
        "active_plan_version": active_version(conn),
    }
    digest = message_digest(payload, correlation)
    _commit_answer(conn, digest, outcome, answer, correlation, max_rows, wall_clock)


#: What happened to one plan message (:class:`PlanOutcome`).
PlanStatus = Literal["accepted", "rejected", "redelivered", "cleared"]


@dataclass(frozen=True)
class PlanOutcome:
    """What happened to one plan message. ``status``: ``accepted``, ``rejected``,
    ``redelivered`` (a message answered before, or the active plan again without correlation
    data: no answer) or
    ``cleared`` (an empty retained message: no answer); ``plan`` is set when accepted, and
    ``station_caps`` names its caps the station's hard limits tighten."""

    status: PlanStatus
    plan_version: int | None = None
    reason: str = ""
    plan: dict[str, Any] | None = None
    station_caps: tuple[StationCap, ...] = ()


def receive_plan(
    conn: sqlite3.Connection,
    station_id: str,
    payload: bytes,
    *,
    semantic_check: SemanticCheck | None = None,
    correlation: bytes | None = None,
    max_rows: int = outbox.DEFAULT_MAX_ROWS,
    wall_clock: clocks.WallClock = clocks.utc_now,
) -> PlanOutcome:
    """Decide on one plan message and commit the decision: the accepted plan (if any), the
    ``plan/result`` answer (an outbox row deleted on PUBACK, echoing ``correlation``) and
    the message's digest in one transaction on ``conn`` (autocommit mode). A message
    answered before is ``redelivered`` and answered no more; so is the active plan again
    without correlation data, while with correlation data not seen before it is answered
    ``accepted`` with the reason :data:`ALREADY_ACTIVE` (nothing changes). A rejected plan
    changes nothing but the outbox and the digests. ``semantic_check`` raises
    ``ValueError(reason)`` to refuse (any other exception from it is a rejection too,
    logged) and returns the caps the station tightens, which the answer names. Database
    errors propagate: the caller then must not acknowledge the message and must try it
    again itself (a broker delivers an unacknowledged message again only on
    a new connection; the station's sender retries, then reconnects). ``wall_clock`` stamps
    what is written."""
    if not payload:
        return PlanOutcome("cleared")
    digest = message_digest(payload, correlation)
    if was_answered(conn, digest):
        return PlanOutcome("redelivered", active_version(conn))
    current = active_version(conn)
    if is_redelivery(conn, payload):
        if not correlation:
            return PlanOutcome("redelivered", current)
        # The active plan again with correlation data never answered: the clinic asks
        # again on purpose (send-plan uses new correlation data each time). It gets an
        # answer; nothing changes.
        outcome = PlanOutcome("accepted", current, ALREADY_ACTIVE)
    else:
        outcome = _decide(payload, station_id, current, semantic_check)
    answer: dict[str, Any] = {
        "plan_version": outcome.plan_version,
        "status": outcome.status,
        "reason": outcome.reason[:2000],
        "active_plan_version": outcome.plan_version if outcome.plan else current,
    }
    if outcome.station_caps:
        answer["station_caps"] = [c.as_json() for c in outcome.station_caps]
    _commit_answer(conn, digest, outcome, answer, correlation, max_rows, wall_clock)
    log.info(
        "plan_version %s %s%s",
        outcome.plan_version,
        outcome.status,
        f": {outcome.reason}" if outcome.reason else "",
    )
    return outcome


def _decide(
    payload: bytes,
    station_id: str,
    current: int | None,
    semantic_check: SemanticCheck | None,
) -> PlanOutcome:
    """Accept or reject a plan message that is not the active one again (nothing written)."""
    plan: dict[str, Any] | None = None
    try:
        plan = parse_plan(payload, station_id, current)
        caps = tuple(semantic_check(plan) or ()) if semantic_check is not None else ()
        return PlanOutcome("accepted", plan["plan_version"], caps_reason(caps), plan, caps)
    except PlanRejected as exc:
        return PlanOutcome("rejected", exc.plan_version, exc.reason)
    except ValueError as exc:
        return PlanOutcome("rejected", _version_of(plan), str(exc))
    except Exception as exc:  # a bug in the station's check must not accept a plan
        log.exception("semantic_check failed")
        reason = f"the station could not check the plan ({type(exc).__name__}); not applied"
        return PlanOutcome("rejected", _version_of(plan), reason)
