"""The session journal: sessions, every trial and every safety event, in SQLite.

Each trial and each event is committed the moment it ends (WAL, ``synchronous=FULL``), so a
power cut loses at most the trial in progress. At start-up :meth:`Journal.interrupted`
finds a session that never ended; the runner marks it incomplete and summarises it.

A row whose JSON cannot be read (a flipped bit) is left out of what the journal returns,
with a warning, and counted by :meth:`Journal.unreadable_rows`: one bad row must not stop
every later summary.

The journal shares the station database with the MQTT outbox, so a session summary and its
outbox row can be written in one transaction (:meth:`Journal.transaction`). Its times come
from an injected wall clock (:mod:`mqtt_bridge.clocks`), the real one unless told.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mqtt_bridge import clocks

#: The tables as first released (schema version 0); :data:`MIGRATIONS` bring them up to
#: :data:`SCHEMA_VERSION`, so a database of any earlier version has at least these columns.
SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS sessions(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_uid TEXT UNIQUE NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    state TEXT NOT NULL DEFAULT 'running',
    ended_reason TEXT,
    plan_version INTEGER,
    protocols TEXT NOT NULL DEFAULT '[]',
    checkin TEXT,
    checkout TEXT,
    summary_msg_id TEXT
);
CREATE TABLE IF NOT EXISTS trials(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    protocol TEXT NOT NULL,
    trial_index INTEGER NOT NULL,
    hand TEXT,
    stimulus TEXT NOT NULL DEFAULT '{}',
    response TEXT NOT NULL DEFAULT '{}',
    reaction_time_s REAL,
    contact_force_n REAL,
    t_start_s REAL,
    t_end_s REAL,
    ended_at TEXT NOT NULL,
    quality TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS trials_by_session ON trials(session_id, protocol);
CREATE TABLE IF NOT EXISTS safety_events(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER REFERENCES sessions(id),
    t_s REAL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS daily_dose(
    day TEXT PRIMARY KEY,
    vibration_s REAL NOT NULL DEFAULT 0,
    a8_sq REAL NOT NULL DEFAULT 0
);
"""

#: ``PRAGMA user_version`` of a journal this software version made or migrated.
SCHEMA_VERSION = 1
#: The statements that bring a journal of version ``n - 1`` to version ``n``.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # The protocols and params each session ran with (JSON list of {"protocol", "params"}):
    # a session recovered after a restart is summarised with them, whatever the plan then.
    1: ("ALTER TABLE sessions ADD COLUMN plan_items TEXT",),
}

#: Session states. ``running`` only while the session is open.
STATES = ("running", "complete", "incomplete", "stopped")

#: The JSON columns of each table and the type each must decode to.
JSON_COLUMNS: dict[str, dict[str, type]] = {
    "sessions": {"protocols": list, "checkin": dict, "checkout": dict},
    "trials": {"stimulus": dict, "response": dict, "quality": list},
    "safety_events": {"detail": dict},
}

log = logging.getLogger(__name__)


class UnreadableRow(ValueError):
    """A journal row whose JSON column cannot be decoded to the type it holds."""


def _decoded(table: str, column: str, text: Any) -> Any:
    kind = JSON_COLUMNS[table][column]
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise UnreadableRow(f"{table}.{column} is not JSON ({exc})") from exc
    if not isinstance(value, kind):
        raise UnreadableRow(f"{table}.{column} holds {type(value).__name__}, not {kind.__name__}")
    return value


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the station database with the durability settings every writer must use."""
    conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
    # A flipped bit in stored text must make one value unreadable, not every query that
    # returns its row (sqlite3 raises on text that is not UTF-8).
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@dataclass(frozen=True)
class Trial:
    protocol: str
    trial_index: int
    hand: str | None
    stimulus: dict[str, Any]
    response: dict[str, Any]
    reaction_time_s: float | None
    contact_force_n: float | None
    t_start_s: float
    t_end_s: float
    quality: tuple[str, ...] = ()


class Journal:
    """The station's journal on one SQLite connection (thread-safe, one lock). Every time it
    writes is ``wall_clock``'s now."""

    def __init__(self, path: str | Path, wall_clock: clocks.WallClock = clocks.utc_now) -> None:
        self.path = Path(path)
        self.wall_clock = wall_clock
        self._conn = connect(self.path)
        self._lock = threading.RLock()
        self._warned: set[tuple[str, int]] = set()  # unreadable rows already logged
        with self._lock:
            self._conn.executescript(SCHEMA_SQL)
        self._migrate()

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    def now(self) -> str:
        """The wall clock's now, as the journal writes its times (ISO 8601 UTC)."""
        return clocks.iso_utc(self.wall_clock())

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        """Bring an older journal to :data:`SCHEMA_VERSION`, one step per transaction (the
        version is read inside it: two processes opening the database migrate it once)."""
        for step in range(1, SCHEMA_VERSION + 1):
            with self.transaction() as c:
                if int(c.execute("PRAGMA user_version").fetchone()[0]) < step:
                    for sql in MIGRATIONS[step]:
                        c.execute(sql)
                    c.execute(f"PRAGMA user_version = {step}")

    # -- sessions ------------------------------------------------------------------------

    def start_session(
        self,
        plan_version: int | None,
        protocols: list[str],
        plan_items: list[dict[str, Any]] | None = None,
    ) -> int:
        """Open a session; ``plan_items``: the protocols and params it runs with."""
        items = None if plan_items is None else json.dumps(plan_items)
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO sessions(session_uid, started_at, plan_version, protocols, "
                "plan_items) VALUES (?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), self.now(), plan_version, json.dumps(protocols), items),
            )
            return int(cur.lastrowid or 0)

    def plan_items(self, session_id: int) -> list[dict[str, Any]] | None:
        """The protocols and params the session ran with, as :meth:`start_session` got
        them; None when the journal has none (a session an older version journalled) or
        they cannot be read (logged)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT plan_items FROM sessions WHERE id=?", (session_id,)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        try:
            items = json.loads(row[0])
            if isinstance(items, list) and all(isinstance(i, dict) for i in items):
                return items
        except ValueError:
            pass
        self._skipped("sessions", session_id, UnreadableRow("plan_items cannot be read"))
        return None

    def set_checkin(self, session_id: int, answers: dict[str, Any]) -> None:
        self._update(session_id, "checkin", answers)

    def set_checkout(self, session_id: int, answers: dict[str, Any]) -> None:
        """Add ``answers`` to the session's later answers (the pain checks between
        protocols, then the end check's), keeping those already there."""
        with self.transaction() as c:
            row = c.execute("SELECT checkout FROM sessions WHERE id=?", (session_id,)).fetchone()
            try:
                had = _decoded("sessions", "checkout", row[0]) if row and row[0] else {}
            except UnreadableRow:  # a damaged cell: the answers now are what there is
                had = {}
            merged = {**had, **answers}
            c.execute("UPDATE sessions SET checkout=? WHERE id=?", (json.dumps(merged), session_id))

    def _update(self, session_id: int, column: str, value: dict[str, Any]) -> None:
        assert column in ("checkin", "checkout")
        with self.transaction() as c:
            c.execute(f"UPDATE sessions SET {column}=? WHERE id=?", (json.dumps(value), session_id))

    def end_session(
        self, session_id: int, state: str, reason: str, ended_at: str | None = None
    ) -> None:
        """Close a running session (``ended_at``: now, unless given)."""
        if state not in STATES[1:]:
            raise ValueError(f"state must be one of {STATES[1:]}, got {state!r}")
        with self.transaction() as c:
            c.execute(
                "UPDATE sessions SET state=?, ended_reason=?, ended_at=? "
                "WHERE id=? AND state='running'",
                (state, reason, ended_at or self.now(), session_id),
            )

    def last_activity(self, session_id: int) -> str:
        """The wall-clock time of the session's last trial or event (its start if none):
        when a session cut by a power loss really ended."""
        with self._lock:
            row = self._conn.execute(
                "SELECT max(t) FROM (SELECT started_at AS t FROM sessions WHERE id=:s "
                "UNION ALL SELECT ended_at FROM trials WHERE session_id=:s "
                "UNION ALL SELECT at FROM safety_events WHERE session_id=:s)",
                {"s": session_id},
            ).fetchone()
        return str(row[0])

    def session(self, session_id: int) -> dict[str, Any]:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, session_uid, started_at, ended_at, state, ended_reason, "
                "plan_version, protocols, checkin, checkout, summary_msg_id "
                "FROM sessions WHERE id=?",
                (session_id,),
            ).fetchone()
        if row is None:
            raise KeyError(f"no session {session_id}")
        keys = (
            "id",
            "session_uid",
            "started_at",
            "ended_at",
            "state",
            "ended_reason",
            "plan_version",
            "protocols",
            "checkin",
            "checkout",
            "summary_msg_id",
        )
        out = dict(zip(keys, row, strict=True))
        for k, kind in JSON_COLUMNS["sessions"].items():
            try:  # an unreadable check-in reads as not answered, and is counted
                out[k] = _decoded("sessions", k, out[k]) if out[k] else kind()
            except UnreadableRow as exc:
                self._skipped("sessions", session_id, exc)
                out[k] = kind()
        return out

    def interrupted(self) -> list[int]:
        """Sessions still marked running (the station stopped in the middle of them)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM sessions WHERE state='running' ORDER BY id"
            ).fetchall()
        return [r[0] for r in rows]

    def unsummarised(self) -> list[int]:
        """Ended sessions whose summary was never written (crash between end and summary)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM sessions WHERE state!='running' AND summary_msg_id IS NULL "
                "ORDER BY id"
            ).fetchall()
        return [r[0] for r in rows]

    def mark_summarised(self, conn: sqlite3.Connection, session_id: int, msg_id: str) -> None:
        """Inside the caller's transaction (with the outbox row)."""
        conn.execute("UPDATE sessions SET summary_msg_id=? WHERE id=?", (msg_id, session_id))

    def sessions_between(self, start_iso: str, end_iso: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM sessions WHERE started_at >= ? AND started_at < ?",
                (start_iso, end_iso),
            ).fetchall()
        return [self.session(r[0]) for r in rows]

    # -- trials and events ---------------------------------------------------------------

    def record_trial(self, session_id: int, trial: Trial) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO trials(session_id, protocol, trial_index, hand, stimulus, "
                "response, reaction_time_s, contact_force_n, t_start_s, t_end_s, ended_at, "
                "quality) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    session_id,
                    trial.protocol,
                    trial.trial_index,
                    trial.hand,
                    json.dumps(trial.stimulus),
                    json.dumps(trial.response),
                    trial.reaction_time_s,
                    trial.contact_force_n,
                    trial.t_start_s,
                    trial.t_end_s,
                    self.now(),
                    json.dumps(list(trial.quality)),
                ),
            )
            return int(cur.lastrowid or 0)

    def trials(self, session_id: int, protocol: str | None = None) -> list[Trial]:
        sql = (
            "SELECT protocol, trial_index, hand, stimulus, response, reaction_time_s, "
            "contact_force_n, t_start_s, t_end_s, quality, id FROM trials WHERE session_id=?"
        )
        args: tuple[Any, ...] = (session_id,)
        if protocol is not None:
            sql += " AND protocol=?"
            args += (protocol,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", args).fetchall()
        out = []
        for r in rows:
            try:  # a trial that cannot be read is left out of every figure
                stimulus = _decoded("trials", "stimulus", r[3])
                response = _decoded("trials", "response", r[4])
                quality = tuple(_decoded("trials", "quality", r[9]))
            except UnreadableRow as exc:
                self._skipped("trials", r[10], exc)
                continue
            out.append(Trial(r[0], r[1], r[2], stimulus, response, r[5], r[6], r[7], r[8], quality))
        return out

    def previous_trials(
        self, protocol: str, before_session: int, limit: int = 12
    ) -> list[tuple[str, str, list[Trial]]]:
        """``(session uid, started_at, trials)`` of ``protocol`` in the latest ``limit``
        sessions before ``before_session`` that journalled any, newest first: the history a
        sensory protocol carries its prior from and judges real change against."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT s.id, s.session_uid, s.started_at FROM sessions s WHERE s.id < ? AND "
                "EXISTS (SELECT 1 FROM trials t WHERE t.session_id = s.id AND t.protocol = ?) "
                "ORDER BY s.id DESC LIMIT ?",
                (before_session, protocol, limit),
            ).fetchall()
        return [(uid, started, self.trials(sid, protocol)) for sid, uid, started in rows]

    def events_since(self, kind: str, since_iso: str) -> int:
        """Safety events of ``kind`` journalled at or after ``since_iso`` (a wall time)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM safety_events WHERE kind=? AND at >= ?", (kind, since_iso)
            ).fetchone()
        return int(row[0])

    def record_event(
        self,
        session_id: int | None,
        kind: str,
        detail: dict[str, Any],
        t_s: float | None = None,
        code: str | None = None,
    ) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO safety_events(session_id, t_s, at, kind, code, detail) "
                "VALUES (?,?,?,?,?,?)",
                (session_id, t_s, self.now(), kind, code, json.dumps(detail)),
            )

    def events(self, session_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT t_s, at, kind, code, detail, id FROM safety_events WHERE session_id=? "
                "ORDER BY id",
                (session_id,),
            ).fetchall()
        out = []
        for r in rows:
            try:
                detail = _decoded("safety_events", "detail", r[4])
            except UnreadableRow as exc:
                # The event itself (kind, code, time) is still reported: only its detail
                # is lost, and a safety event must reach the clinic.
                self._skipped("safety_events", r[5], exc)
                detail = {}
            out.append({"t_s": r[0], "at": r[1], "kind": r[2], "code": r[3], "detail": detail})
        return out

    def unreadable_rows(self, session_id: int) -> int:
        """How many of the session's rows (itself, its trials, its events) hold JSON that
        cannot be read: what its summary left out or read as unanswered."""
        n = 0
        for table, columns in JSON_COLUMNS.items():
            key = "id" if table == "sessions" else "session_id"
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE {key}=?", (session_id,)
                ).fetchall()
            for row in rows:
                n += not all(_readable(table, c, v) for c, v in zip(columns, row, strict=True))
        return n

    def _skipped(self, table: str, row_id: int, exc: UnreadableRow) -> None:
        if (table, row_id) not in self._warned:
            self._warned.add((table, row_id))
            log.warning("journal row %s #%s cannot be read, left out: %s", table, row_id, exc)

    # -- daily vibration dose ------------------------------------------------------------

    def add_dose(self, day: str, vibration_s: float, a8_sq: float) -> None:
        self.add_doses([(day, vibration_s, a8_sq)])

    def add_doses(self, rows: list[tuple[str, float, float]]) -> None:
        """Add ``(day, vibration seconds, A(8)^2 contribution)`` rows in one transaction."""
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO daily_dose(day, vibration_s, a8_sq) VALUES (?,?,?) "
                "ON CONFLICT(day) DO UPDATE SET vibration_s=vibration_s+excluded."
                "vibration_s, a8_sq=a8_sq+excluded.a8_sq",
                rows,
            )

    def dose(self, day: str) -> tuple[float, float]:
        """(vibration seconds, sum of A(8)^2 contributions) recorded for ``day``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT vibration_s, a8_sq FROM daily_dose WHERE day=?", (day,)
            ).fetchone()
        return (row[0], row[1]) if row else (0.0, 0.0)


def _readable(table: str, column: str, text: Any) -> bool:
    if table == "sessions" and not text:  # check-in or checkout not reached
        return True
    try:
        _decoded(table, column, text)
    except UnreadableRow:
        return False
    return True
