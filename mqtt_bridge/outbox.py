"""The durable outbox: station-to-clinic messages in the station's SQLite database.

Why (reference/MQTT.md §1, §4): paho keeps unacknowledged messages only in memory and
mosquitto acknowledges from memory, so either can lose a PUBACKed message. A row is
therefore written in the **same transaction** as the data it reports (:func:`enqueue`
works inside the caller's open transaction), published with QoS 1 under a ``msg_id`` fixed
at enqueue time, and removed only when the clinic's application acknowledgement
(``{"msg_ids": [...]}`` on ``.../ack``) names it.

Row life (``state``):

- ``pending``: not yet confirmed by the broker (new, or back after a restart).
- ``sent``: the broker PUBACKed it (reason < 0x80); resent when the clinic has not
  acknowledged it after ``resend_after_s``, then after twice that, and so on up to
  ``max_resend_after_s`` (a fleet must not flood a clinic that is down for a day).
- ``rejected``: the broker refused it (PUBACK reason >= 0x80, e.g. 0x87 not authorised),
  or it is larger than the Maximum Packet Size the broker announced (never sent then);
  kept for the technician, not resent on its own, never overwritten; logged as an alarm.
  Once the cause is fixed the technician queues them again (:meth:`Outbox.retry_rejected`,
  ``rehab-station outbox --retry-rejected``).
- acknowledged: the row is **deleted** and a counter incremented. The journal keeps the
  session data; keeping a second copy of health data after the clinic has it serves no
  purpose (data minimisation), and the counter keeps the figure for ``rehab-station outbox``.

Rows with ``ack_mode='puback'`` (the station's ``plan/result`` answers) are deleted on a
successful PUBACK: they are not clinical data and no clinic service acknowledges them, but
they survive a station restart while the broker is unreachable.

Bounded: at ``max_rows`` rows :func:`enqueue` raises :class:`OutboxFull` and logs an
alarm; nothing is ever overwritten (clinical data: reject, never drop the oldest).

``link_state`` (one row) holds the MQTT link as the client last saw it: connected since
when, or not connected since when and why (:mod:`mqtt_bridge.linkerror`), for
``rehab-station outbox``.

Times (:mod:`mqtt_bridge.clocks`, both injected): ``created_at`` is the wall clock (reported,
never used for decisions); resend timing uses the monotonic clock of the running process,
and every ``sent`` row goes back to ``pending`` when a client starts
(:meth:`Outbox.requeue_sent`), because a new process cannot know what the broker still holds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from mqtt_bridge import clocks, envelope, schema, topics

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 100_000
#: A body larger than this is refused at enqueue (a summary is about 1-2 KB).
MAX_BODY_BYTES = 256 * 1024
#: The resend delay doubles at most this often: 2.0 ** 1024 overflows a float, and a row a
#: clinic never acknowledges reaches 1025 attempts after some 42 days of hourly resends.
_MAX_DOUBLINGS = 64
PENDING, SENT, REJECTED = "pending", "sent", "rejected"
ACK_APP, ACK_PUBACK = "app", "puback"

_TABLES = (
    """CREATE TABLE IF NOT EXISTS outbox(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the envelope's seq
        msg_id TEXT UNIQUE NOT NULL,            -- uuid4, fixed before the first publish
        kind TEXT NOT NULL,                     -- topic kind: summary | selftest | plan/result
        schema TEXT NOT NULL,
        created_at TEXT NOT NULL,               -- ISO 8601 UTC, station wall clock
        created_unix REAL NOT NULL,             -- for the age shown to the technician
        clock_synced INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        body TEXT NOT NULL,                     -- JSON
        ack_mode TEXT NOT NULL DEFAULT 'app' CHECK (ack_mode IN ('app', 'puback')),
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sent', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        sent_at TEXT,                           -- wall clock of the last PUBACK (display)
        next_due_mono REAL,                     -- monotonic time of the next resend
        reason TEXT,                            -- why rejected
        correlation BLOB                        -- MQTT v5 CorrelationData to echo
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_due_mono)",
    "CREATE TABLE IF NOT EXISTS outbox_stats(name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # The MQTT link as the station last saw it, for the technician ('rehab-station outbox').
    """CREATE TABLE IF NOT EXISTS link_state(
        id INTEGER PRIMARY KEY CHECK (id = 1),  -- one row
        broker TEXT NOT NULL,                   -- host:port
        state TEXT NOT NULL CHECK (state IN ('connected', 'not connected', 'stopped')),
        since TEXT NOT NULL,                    -- wall clock: when it entered this state
        last_error TEXT,                        -- the latest reason the link failed
        last_error_at TEXT                      -- when that reason was first seen in a row
    )""",
)
#: States of the MQTT link (``link_state.state``).
LinkState = Literal["connected", "not connected", "stopped"]
LINK_CONNECTED: LinkState = "connected"
LINK_DOWN: LinkState = "not connected"
LINK_STOPPED: LinkState = "stopped"


class OutboxFull(RuntimeError):
    """The outbox holds ``max_rows`` rows; nothing was written (the caller's transaction
    should roll back). Technician: check the clinic consumer and the network."""

    def __init__(self, depth: int, max_rows: int) -> None:
        self.depth, self.max_rows = depth, max_rows
        super().__init__(
            f"outbox full: {depth} messages waiting for the clinic (limit {max_rows}); "
            "new messages are refused, none is overwritten. Check the network, the broker "
            "and the clinic consumer ('rehab-station outbox')."
        )


def connect(path: str | Path, timeout_s: float = 10.0) -> sqlite3.Connection:
    """Open the station database for the outbox: autocommit mode (transactions are explicit,
    ``BEGIN IMMEDIATE``), WAL, ``synchronous=FULL``; creates the outbox tables if missing."""
    conn = sqlite3.connect(
        str(path), timeout=timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    ensure_tables(conn)
    return conn


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Create the outbox tables if missing (works inside an open transaction)."""
    for sql in _TABLES:
        conn.execute(sql)


def enqueue(
    conn: sqlite3.Connection,
    schema_name: str,
    body: dict[str, Any],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    ack_mode: str = ACK_APP,
    created_at: str | None = None,
    clock_synced: bool | None = None,
    boot_id: str | None = None,
    correlation: bytes | None = None,
    wall_clock: clocks.WallClock = clocks.utc_now,
) -> str:
    """Add one message inside the caller's open transaction; returns its ``msg_id``.

    The topic follows from ``schema_name`` (``rehab.session/1`` -> ``summary``,
    ``rehab.selftest/1`` -> ``selftest``, ``rehab.plan_result/1`` -> ``plan/result``). The
    body is validated against that schema and must be strict JSON (no NaN). Nothing is
    committed here: the caller's COMMIT makes the row durable together with its own rows,
    and its ROLLBACK removes it. Without an open transaction the row commits on its own.

    ``wall_clock`` stamps the row (``created_at`` unless given, and the age's origin).
    Raises ``ValueError`` (unknown schema, invalid body, too large) and
    :class:`OutboxFull`; in both cases nothing was written.
    """
    kind = topics.KIND_FOR_SCHEMA.get(schema_name)
    if kind is None:
        allowed = ", ".join(topics.KIND_FOR_SCHEMA)
        raise ValueError(f"no outbox topic for schema {schema_name!r} (allowed: {allowed})")
    if ack_mode not in (ACK_APP, ACK_PUBACK):
        raise ValueError(f"ack_mode must be {ACK_APP!r} or {ACK_PUBACK!r}, got {ack_mode!r}")
    for e in schema.iter_errors(body, schema.load(schema_name), ("body",)):
        raise ValueError(f"{schema_name}: {e}")
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if len(text.encode()) > MAX_BODY_BYTES:
        raise ValueError(f"body is {len(text.encode())} bytes; at most {MAX_BODY_BYTES}")
    msg_id = envelope.new_msg_id()
    now = wall_clock()
    row = (
        msg_id,
        kind,
        schema_name,
        created_at or clocks.iso_utc(now),
        now.timestamp(),
        int(envelope.clock_synced() if clock_synced is None else clock_synced),
        boot_id or envelope.boot_id(),
        text,
        ack_mode,
        correlation,
    )
    # Inside the caller's transaction a savepoint makes count + insert one unit. Without
    # one, take the write lock first (BEGIN IMMEDIATE): a deferred transaction that reads
    # and then writes cannot wait for the lock in WAL mode and fails "database is locked"
    # whenever the sender thread wrote in between.
    own = not conn.in_transaction
    begin, commit, undo = (
        ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        if own
        else ("SAVEPOINT outbox_enqueue", "RELEASE outbox_enqueue", None)
    )
    conn.execute(begin)
    try:
        ensure_tables(conn)
        depth = int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        if depth >= max_rows:
            raise OutboxFull(depth, max_rows)
        conn.execute(
            "INSERT INTO outbox(msg_id, kind, schema, created_at, created_unix, clock_synced,"
            " boot_id, body, ack_mode, correlation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
    except BaseException as exc:
        if undo is not None:
            conn.execute(undo)
        else:
            conn.execute("ROLLBACK TO outbox_enqueue")
            conn.execute("RELEASE outbox_enqueue")
        if isinstance(exc, OutboxFull):
            log.error("ALARM %s", exc)
        raise
    conn.execute(commit)
    return msg_id


@dataclass(frozen=True)
class Entry:
    """One outbox row as the sender needs it."""

    seq: int
    msg_id: str
    kind: str
    schema: str
    created_at: str
    clock_synced: bool
    boot_id: str
    body: str
    ack_mode: str
    attempts: int
    correlation: bytes | None

    def envelope(self, station_id: str) -> dict[str, Any]:
        return envelope.build(
            self.schema,
            self.msg_id,
            station_id,
            self.seq,
            self.created_at,
            self.clock_synced,
            self.boot_id,
            json.loads(self.body),
        )

    def payload(self, station_id: str) -> bytes:
        """The published bytes; identical on every resend."""
        return envelope.encode(self.envelope(station_id))


@dataclass(frozen=True)
class Counts:
    """What ``rehab-station outbox`` shows. ``oldest_pending_age_s``: age of the oldest
    message the clinic has not acknowledged (pending or sent), by the station's wall clock;
    None when there is none."""

    pending: int
    sent: int
    rejected: int
    acknowledged: int
    delivered_on_puback: int
    depth: int
    oldest_pending_age_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = (
    "seq, msg_id, kind, schema, created_at, clock_synced, boot_id, body, ack_mode, attempts, "
    "correlation"
)


def _entry(r: tuple[Any, ...]) -> Entry:
    return Entry(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8], r[9], r[10])


class Outbox:
    """The sender's and the technician's view of the outbox, on a connection of its own.

    Not shared between threads: the client's sender thread owns one instance; a command
    opens another. Every method commits its own transaction. ``wall_clock`` stamps new
    rows and PUBACKs and measures ages (resend times are given in monotonic seconds)."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        wall_clock: clocks.WallClock = clocks.utc_now,
    ) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.wall_clock = wall_clock
        self.conn = connect(self.path)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, params: Iterable[Iterable[Any]]) -> int:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                n = 0
                for p in params:
                    n += self.conn.execute(sql, tuple(p)).rowcount
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return n

    def enqueue(self, schema_name: str, body: dict[str, Any], **kw: Any) -> str:
        """:func:`enqueue` in a transaction of its own; returns the msg_id."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                msg_id = enqueue(
                    self.conn,
                    schema_name,
                    body,
                    max_rows=self.max_rows,
                    wall_clock=self.wall_clock,
                    **kw,
                )
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return msg_id

    def requeue_sent(self) -> int:
        """Every ``sent`` row back to ``pending`` (at client start); returns the count."""
        return self._write(
            "UPDATE outbox SET state = 'pending', next_due_mono = NULL WHERE state = 'sent'", [()]
        )

    def retry_rejected(self) -> int:
        """Every ``rejected`` row back to ``pending`` (the technician fixed the broker's ACL,
        say); a running station's sender publishes them at its next poll. Returns the count."""
        n = self._write(
            "UPDATE outbox SET state = 'pending', reason = NULL, next_due_mono = NULL "
            "WHERE state = 'rejected'",
            [()],
        )
        if n:
            log.warning("%d rejected outbox rows queued again by the technician", n)
        return n

    def due(self, now_mono: float, limit: int, exclude: Iterable[int] = ()) -> list[Entry]:
        """Up to ``limit`` rows to publish now, oldest first: pending ones, and sent ones
        whose resend time has come; rows in ``exclude`` (in flight) are skipped."""
        skip = set(exclude)
        want = limit + len(skip)
        pending = self.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?",
            (want,),
        ).fetchall()
        overdue = self.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = 'sent' AND next_due_mono <= ? "
            "ORDER BY seq LIMIT ?",
            (now_mono, want),
        ).fetchall()
        rows = sorted((r for r in pending + overdue if r[0] not in skip), key=lambda r: r[0])
        return [_entry(r) for r in rows[:limit]]

    def record_attempts(self, seqs: Iterable[int]) -> None:
        """Count one publish attempt for each row (one transaction)."""
        self._write("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", ((s,) for s in seqs))

    def mark_sent(
        self,
        seqs: Iterable[int],
        now_mono: float,
        resend_after_s: float,
        max_resend_after_s: float,
    ) -> None:
        """Broker PUBACK with success: ``sent`` with the next resend time (the delay doubles
        with each attempt up to ``max_resend_after_s``); ``puback`` rows are deleted."""
        seqs = list(seqs)
        wall = clocks.iso_utc(self.wall_clock())
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                done = 0
                for s in seqs:
                    row = self.conn.execute(
                        "SELECT ack_mode, attempts, state FROM outbox WHERE seq = ?", (s,)
                    ).fetchone()
                    if row is None or row[2] == REJECTED:
                        continue  # acknowledged meanwhile, or refused earlier
                    if row[0] == ACK_PUBACK:
                        self.conn.execute("DELETE FROM outbox WHERE seq = ?", (s,))
                        done += 1
                        continue
                    doublings = min(max(0, row[1] - 1), _MAX_DOUBLINGS)
                    delay = min(resend_after_s * 2**doublings, max_resend_after_s)
                    self.conn.execute(
                        "UPDATE outbox SET state = 'sent', sent_at = ?, next_due_mono = ? "
                        "WHERE seq = ?",
                        (wall, now_mono + delay, s),
                    )
                self._bump("delivered_on_puback", done)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def mark_rejected(self, rejected: Iterable[tuple[int, str]]) -> None:
        """Broker refused (PUBACK >= 0x80): ``rejected`` with the reason; an alarm is logged."""
        rejected = list(rejected)
        self._write(
            "UPDATE outbox SET state = 'rejected', reason = ? WHERE seq = ?",
            ((reason, seq) for seq, reason in rejected),
        )
        for seq, reason in rejected:
            log.error("ALARM outbox row seq %d rejected by the broker: %s", seq, reason)

    def acknowledge(self, msg_ids: Iterable[str]) -> int:
        """The clinic stored these messages: delete their rows; returns how many were ours."""
        ids = [m for m in msg_ids if isinstance(m, str)]
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                n = sum(
                    self.conn.execute("DELETE FROM outbox WHERE msg_id = ?", (m,)).rowcount
                    for m in ids
                )
                self._bump("acknowledged", n)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return n

    def _bump(self, name: str, n: int) -> None:
        if n:
            self.conn.execute(
                "INSERT INTO outbox_stats(name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, n),
            )

    def record_link(self, broker: str, state: LinkState, error: str | None, at: str) -> None:
        """The link entered ``state`` (one of ``LINK_*``) at ``at``, with the reason
        ``error`` when it failed. ``since`` keeps its time while the state stays; the error's
        time is kept while the same error repeats (a retry is not a new fault)."""
        self._write(
            "INSERT INTO link_state(id, broker, state, since, last_error, last_error_at)"
            " VALUES (1, ?1, ?2, ?4, ?3, CASE WHEN ?3 IS NULL THEN NULL ELSE ?4 END)"
            " ON CONFLICT(id) DO UPDATE SET broker = ?1, state = ?2,"
            " since = CASE WHEN state = ?2 AND broker = ?1 THEN since ELSE ?4 END,"
            " last_error_at = CASE WHEN ?3 IS NULL THEN last_error_at"
            "  WHEN ?3 IS last_error THEN last_error_at ELSE ?4 END,"
            " last_error = coalesce(?3, last_error)",
            [(broker, state, error, at)],
        )

    def link(self) -> dict[str, Any] | None:
        """The link state last recorded (:meth:`record_link`); None before the first."""
        with self._lock:
            return _link(self.conn)

    def counts(self) -> Counts:
        """Counts per state, acknowledged so far, depth and the oldest unacknowledged age."""
        with self._lock:
            return _counts(self.conn, self.wall_clock())

    def rejected(self, limit: int = -1) -> list[dict[str, Any]]:
        """The rejected rows (seq, msg_id, kind, created_at, reason), oldest first."""
        with self._lock:
            return _rejected(self.conn, limit)


def read_counts(path: str | Path, wall_clock: clocks.WallClock = clocks.utc_now) -> Counts | None:
    """Counts from the database at ``path`` opened read-only (for a technician command that
    must not create or change anything), ages by ``wall_clock``; None if the file does not
    exist."""
    with _read_only(path) as conn:
        if conn is None:
            return None
        if not _has_outbox(conn):
            return Counts(0, 0, 0, 0, 0, 0, None)
        return _counts(conn, wall_clock())


def read_rejected(path: str | Path, limit: int = -1) -> list[dict[str, Any]]:
    """:meth:`Outbox.rejected` from the database at ``path`` opened read-only."""
    with _read_only(path) as conn:
        return _rejected(conn, limit) if conn is not None and _has_outbox(conn) else []


def read_link(path: str | Path) -> dict[str, Any] | None:
    """:meth:`Outbox.link` from the database at ``path`` opened read-only; None when there is
    no database, or the station has recorded no link state yet (older software)."""
    with _read_only(path) as conn:
        return None if conn is None else _link(conn)


def _link(conn: sqlite3.Connection) -> dict[str, Any] | None:
    if not _has_table(conn, "link_state"):
        return None
    row = conn.execute(
        "SELECT broker, state, since, last_error, last_error_at FROM link_state WHERE id = 1"
    ).fetchone()
    keys = ("broker", "state", "since", "last_error", "last_error_at")
    return None if row is None else dict(zip(keys, row, strict=True))


@contextmanager
def _read_only(path: str | Path) -> Iterator[sqlite3.Connection | None]:
    p = Path(path)
    if not p.exists():
        yield None
        return
    conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
    try:
        yield conn
    finally:
        conn.close()


def _has_outbox(conn: sqlite3.Connection) -> bool:
    return _has_table(conn, "outbox")


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        is not None
    )


def _rejected(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT seq, msg_id, kind, created_at, reason FROM outbox "
        "WHERE state = 'rejected' ORDER BY seq LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        dict(zip(("seq", "msg_id", "kind", "created_at", "reason"), r, strict=True)) for r in rows
    ]


def _counts(conn: sqlite3.Connection, now: dt.datetime) -> Counts:
    by_state = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    stats = dict(conn.execute("SELECT name, value FROM outbox_stats").fetchall())
    oldest = conn.execute(
        "SELECT min(created_unix) FROM outbox WHERE state IN ('pending', 'sent')"
    ).fetchone()[0]
    return Counts(
        pending=by_state.get(PENDING, 0),
        sent=by_state.get(SENT, 0),
        rejected=by_state.get(REJECTED, 0),
        acknowledged=stats.get("acknowledged", 0),
        delivered_on_puback=stats.get("delivered_on_puback", 0),
        depth=sum(by_state.values()),
        oldest_pending_age_s=None if oldest is None else max(0.0, now.timestamp() - oldest),
    )
