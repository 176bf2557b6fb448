"""The clinic's own SQLite database: every message a station sent, stored once by ``msg_id``.

The consumer (:mod:`mqtt_bridge.clinic`) stores a batch, commits, and only then acknowledges
(MQTT PUBACK and the application acknowledgement), so an acknowledged message is always on
disk (WAL, ``synchronous=FULL``; ``reference/MQTT.md`` §4.2 and §9). Storage is idempotent:
``INSERT OR IGNORE`` keyed on ``msg_id`` absorbs the duplicate deliveries that at-least-once
delivery produces. Malformed input goes to ``rejected`` with the reason, so it is kept for
inspection and acknowledged instead of being redelivered for ever.

A message whose ``msg_id`` is already stored with different content (a digest of the
canonical envelope differs) is not a duplicate: the first is kept, and the second goes to
``id_conflicts`` with both digests, so the report can raise it.

Tables: ``messages`` (enveloped summaries, self-tests and plan results, the envelope fields as
columns and the body as JSON), ``rejected``, ``id_conflicts``, ``stations`` (last status,
last seen, highest ``seq``) and ``counters`` (e.g. duplicate deliveries absorbed, counted in
the storing transaction). The schema is versioned (``PRAGMA user_version``): opening an older
database applies the missing steps of :data:`MIGRATIONS` in one transaction.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mqtt_bridge import clocks
from mqtt_bridge.outbox import MAX_BODY_BYTES

#: Version 1: the tables as first released (a database of it has ``user_version`` 0).
_SCHEMA_V1 = (
    """CREATE TABLE IF NOT EXISTS messages(
        msg_id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        schema TEXT NOT NULL,
        seq INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS messages_by_station ON messages(station_id, kind, seq)",
    """CREATE TABLE IF NOT EXISTS rejected(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        station_id TEXT,
        msg_id TEXT,
        reason TEXT NOT NULL,
        payload BLOB NOT NULL,
        received_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS counters(
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS stations(
        station_id TEXT PRIMARY KEY,
        last_status TEXT,
        status_at TEXT,
        last_seen TEXT,
        max_seq INTEGER
    )""",
)
#: Version 2: a reused msg_id with different content (the first message is kept).
_SCHEMA_V2 = (
    """CREATE TABLE IF NOT EXISTS id_conflicts(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        msg_id TEXT NOT NULL,
        station_id TEXT NOT NULL,        -- who sent the second message
        kind TEXT NOT NULL,
        seq INTEGER NOT NULL,
        first_digest TEXT NOT NULL,      -- sha256 of the stored (first) message
        digest TEXT NOT NULL,            -- sha256 of the conflicting one
        content TEXT NOT NULL,           -- the conflicting envelope, canonical JSON
        received_at TEXT NOT NULL,
        UNIQUE(msg_id, digest)           -- a redelivery of it is recorded once
    )""",
)
#: Version 3: what the clinic knows of each station's patient, the plans retained for the
#: stations, and the dashboard's users.
_SCHEMA_V3 = (
    """CREATE TABLE IF NOT EXISTS station_settings(
        station_id TEXT PRIMARY KEY,
        handedness TEXT CHECK (handedness IN ('right', 'left', 'ambidextrous')),
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS plans(
        station_id TEXT PRIMARY KEY,     -- the plan retained for it on the broker
        plan_version INTEGER NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS users(
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,      -- werkzeug scrypt hash, never the password
        created_at TEXT NOT NULL
    )""",
)
#: Schema steps by the version they lead to; a new step is appended, never edited.
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3}
SCHEMA_VERSION = max(MIGRATIONS)

#: Kinds of enveloped message the clinic stores (the topic kind after the station id).
KINDS = ("summary", "selftest", "plan/result")
#: The largest message a station sends: its body limit plus room for the envelope (which
#: is under 1 KiB). The consumer rejects a longer payload unread (``docs/mqtt-contract.md``,
#: "Size").
MAX_MESSAGE_BYTES = MAX_BODY_BYTES + 4 * 1024
#: Bytes of a rejected payload kept for inspection: a rejected station message, which is
#: acknowledged end to end and then deleted on the station, is kept whole. Only a larger,
#: foreign payload is cut (a hostile payload must not fill the disk).
MAX_REJECTED_BYTES = MAX_MESSAGE_BYTES


class ClinicDBError(RuntimeError):
    """The clinic database cannot be used (not a database, or made by newer software)."""


class Stored(enum.Enum):
    """What :meth:`ClinicDB.store` did; true only for a new message."""

    NEW = "new"
    DUPLICATE = "duplicate"  # the same content again: at-least-once delivery
    CONFLICT = "conflict"  # the msg_id is taken by different content: the first is kept

    def __bool__(self) -> bool:
        return self is Stored.NEW


def canonical(env: dict[str, Any]) -> str:
    """The envelope as canonical JSON (sorted keys, compact): the same content gives the
    same text whatever the sender's key order or spacing."""
    return json.dumps(env, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(env: dict[str, Any]) -> str:
    """sha256 (hex) of :func:`canonical`."""
    return hashlib.sha256(canonical(env).encode()).hexdigest()


class ClinicDB:
    """The clinic database at ``path`` (created on first use).

    Not thread-safe: one thread at a time (the consumer loop, or the report) uses it.
    ``wall_clock`` stamps what is written without a time of its own (:meth:`now`).
    """

    def __init__(self, path: str | Path, wall_clock: clocks.WallClock = clocks.utc_now) -> None:
        self.path = Path(path)
        self.wall_clock = wall_clock
        # One owner at a time, but not necessarily the creating thread (tests hand it over).
        self._conn = sqlite3.connect(
            str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: an acknowledged message must survive a power cut, not only a crash.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ClinicDBError(
                f"{self.path} cannot be used as the clinic database ({exc}); "
                "give the path of the clinic database, or a new file"
            ) from None
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, each step in one transaction."""
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ClinicDBError(
                f"{self.path} has clinic database schema version {version}; this software "
                f"knows versions up to {SCHEMA_VERSION}: update the software"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for sql in MIGRATIONS[step]:
                    self._conn.execute(sql)
                self._conn.execute(f"PRAGMA user_version = {step}")

    def now(self) -> str:
        """The wall clock's now, as every time in this database is written."""
        return clocks.iso_utc(self.wall_clock())

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> ClinicDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on an exception."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested unit inside :meth:`transaction`: on an exception everything written in
        it is undone (the enclosing transaction goes on) and the exception propagates."""
        self._conn.execute("SAVEPOINT one_message")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK TO one_message")
            self._conn.execute("RELEASE one_message")
            raise
        self._conn.execute("RELEASE one_message")

    # -- writes (call inside :meth:`transaction`) ---------------------------------------

    def store(self, env: dict[str, Any], kind: str, received_at: str | None = None) -> Stored:
        """Store a validated envelope: :attr:`Stored.NEW`, or, when ``msg_id`` is already
        stored, :attr:`Stored.DUPLICATE` (same content) or :attr:`Stored.CONFLICT` (other
        content: the first is kept, this one recorded in ``id_conflicts``).

        ``kind`` is one of :data:`KINDS`. Raises ``ValueError`` for another kind.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        now = received_at or self.now()
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO messages(msg_id, station_id, kind, schema, seq, created_at,"
            " clock_synced, boot_id, body, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                env["msg_id"],
                env["station_id"],
                kind,
                env["schema"],
                int(env["seq"]),
                env["created_at"],
                1 if env["clock_synced"] else 0,
                env["boot_id"],
                json.dumps(env["body"], separators=(",", ":"), sort_keys=True),
                now,
            ),
        )
        if cur.rowcount == 1:
            self._seen(env["station_id"], now, int(env["seq"]))
            return Stored.NEW
        first = self._stored_envelope(env["msg_id"])
        if digest(first) == digest(env):
            self._seen(env["station_id"], now, int(env["seq"]))
            self.count("duplicates")
            return Stored.DUPLICATE
        # Not this message's seq: it was not stored, so it must not close or open a gap.
        self._seen(env["station_id"], now, None)
        added = self._conn.execute(
            "INSERT OR IGNORE INTO id_conflicts(msg_id, station_id, kind, seq, first_digest,"
            " digest, content, received_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                env["msg_id"],
                env["station_id"],
                kind,
                int(env["seq"]),
                digest(first),
                digest(env),
                canonical(env),
                now,
            ),
        ).rowcount
        self.count("id_conflicts" if added else "id_conflict_redeliveries")
        return Stored.CONFLICT

    def _stored_envelope(self, msg_id: str) -> dict[str, Any]:
        """The stored message ``msg_id`` as the envelope it came in (for its digest)."""
        r = self._conn.execute(
            "SELECT schema, msg_id, station_id, seq, created_at, clock_synced, boot_id, body"
            " FROM messages WHERE msg_id = ?",
            (msg_id,),
        ).fetchone()
        env = dict(r)
        env["clock_synced"] = bool(r["clock_synced"])
        env["body"] = json.loads(r["body"])
        return env

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (inside the caller's transaction)."""
        self._conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, n),
        )

    def store_status(
        self, station_id: str, status: dict[str, Any], at: str | None = None, seen: bool = True
    ) -> None:
        """Record a station's status payload (birth, will) as its last status.

        ``seen=False`` (a retained status replayed by the broker on subscribe) keeps
        ``last_seen`` unchanged: the replay says nothing about when the station was alive."""
        now = at or self.now()
        self._conn.execute(
            "INSERT INTO stations(station_id, last_status, status_at, last_seen)"
            " VALUES (?,?,?,?) ON CONFLICT(station_id) DO UPDATE SET"
            " last_status=excluded.last_status, status_at=excluded.status_at,"
            " last_seen=coalesce(excluded.last_seen, stations.last_seen)",
            (station_id, json.dumps(status, sort_keys=True), now, now if seen else None),
        )

    def reject(
        self,
        topic: str,
        reason: str,
        payload: bytes,
        station_id: str | None = None,
        msg_id: str | None = None,
        at: str | None = None,
    ) -> None:
        """Keep a malformed message with the reason (payload cut to
        :data:`MAX_REJECTED_BYTES`)."""
        self._conn.execute(
            "INSERT INTO rejected(topic, station_id, msg_id, reason, payload, received_at)"
            " VALUES (?,?,?,?,?,?)",
            (topic, station_id, msg_id, reason, payload[:MAX_REJECTED_BYTES], at or self.now()),
        )

    def _seen(self, station_id: str, now: str, seq: int | None) -> None:
        if seq is None:
            self._conn.execute(
                "INSERT INTO stations(station_id, last_seen) VALUES (?,?)"
                " ON CONFLICT(station_id) DO UPDATE SET last_seen=excluded.last_seen",
                (station_id, now),
            )
            return
        self._conn.execute(
            "INSERT INTO stations(station_id, last_seen, max_seq) VALUES (?,?,?)"
            " ON CONFLICT(station_id) DO UPDATE SET last_seen=excluded.last_seen,"
            " max_seq=max(coalesce(max_seq, excluded.max_seq), excluded.max_seq)",
            (station_id, now, seq),
        )

    # -- reads --------------------------------------------------------------------------

    def stations(self) -> list[dict[str, Any]]:
        """Every station seen: id, last status (dict or None), status_at, last_seen, max_seq."""
        rows = self._conn.execute("SELECT * FROM stations ORDER BY station_id").fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["last_status"] = json.loads(r["last_status"]) if r["last_status"] else None
            out.append(d)
        return out

    def messages(self, station_id: str | None = None, kind: str | None = None) -> list[dict]:
        """Stored messages (envelope fields plus the decoded body), by station then ``seq``."""
        sql = "SELECT * FROM messages WHERE 1=1"
        params: list[Any] = []
        if station_id is not None:
            sql += " AND station_id=?"
            params.append(station_id)
        if kind is not None:
            sql += " AND kind=?"
            params.append(kind)
        rows = self._conn.execute(sql + " ORDER BY station_id, seq", params).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["clock_synced"] = bool(r["clock_synced"])
            d["body"] = json.loads(r["body"])
            out.append(d)
        return out

    def counters(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._conn.execute("SELECT name, value FROM counters")}

    def msg_ids(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT msg_id FROM messages ORDER BY msg_id")]

    def rejected(self, station_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM rejected"
        params: tuple[Any, ...] = ()
        if station_id is not None:
            sql += " WHERE station_id=?"
            params = (station_id,)
        return [dict(r) for r in self._conn.execute(sql + " ORDER BY id", params)]

    def rejected_station_ids(self) -> list[str]:
        """Station ids named by the topics of rejected messages."""
        return [
            r[0]
            for r in self._conn.execute(
                "SELECT DISTINCT station_id FROM rejected WHERE station_id IS NOT NULL"
                " ORDER BY station_id"
            )
        ]

    def id_conflicts(self, station_id: str | None = None) -> list[dict[str, Any]]:
        """Messages that reused a stored ``msg_id`` with different content, oldest first
        (without their content); ``station_id`` is the sender of the second message."""
        sql = (
            "SELECT c.id, c.msg_id, c.station_id, c.kind, c.seq, c.first_digest, c.digest,"
            " c.received_at, m.station_id AS first_station_id, m.seq AS first_seq,"
            " m.received_at AS first_received_at"
            " FROM id_conflicts c LEFT JOIN messages m ON m.msg_id = c.msg_id"
        )
        params: tuple[Any, ...] = ()
        if station_id is not None:
            sql += " WHERE c.station_id=?"
            params = (station_id,)
        return [dict(r) for r in self._conn.execute(sql + " ORDER BY c.id", params)]

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """The rows of one read, for the clinic modules that own a table of their own."""
        return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write (call inside :meth:`transaction`); the rows it changed."""
        return self._conn.execute(sql, params).rowcount

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


__all__ = [
    "KINDS",
    "MAX_MESSAGE_BYTES",
    "MAX_REJECTED_BYTES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ClinicDB",
    "ClinicDBError",
    "Stored",
    "canonical",
    "digest",
]
