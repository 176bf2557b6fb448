"""The clinic's own database: every message a station sent, stored once by ``msg_id``.

One SQLite file (the default, :mod:`mqtt_bridge.clinic_db_sqlite`) or a PostgreSQL
database (``postgresql://...``, :mod:`mqtt_bridge.clinic_db_pg`) for a clinic that runs
several consumers at once; one schema (:mod:`mqtt_bridge.clinic_schema`) and one set of
statements for both.

The consumer (:mod:`mqtt_bridge.clinic`) stores a batch, commits, and only then acknowledges
(MQTT PUBACK and the application acknowledgement), so an acknowledged message is always on
disk (``reference/MQTT.md`` §4.2 and §9). Storage is idempotent: ``INSERT ... ON CONFLICT
DO NOTHING`` keyed on ``msg_id`` absorbs the duplicate deliveries that at-least-once
delivery produces. Malformed input goes to ``rejected`` with the reason, so it is kept for
inspection and acknowledged instead of being redelivered for ever.

A message whose ``msg_id`` is already stored with different content (a digest of the
canonical envelope differs) is not a duplicate: the first is kept, and the second goes to
``id_conflicts`` with both digests, so the report can raise it.

Tables: ``messages`` (enveloped summaries, self-tests and plan results, the envelope fields as
columns and the body as JSON), ``rejected``, ``id_conflicts``, ``stations`` (last status,
last seen, highest ``seq``) and ``counters`` (e.g. duplicate deliveries absorbed, counted in
the storing transaction). The schema is versioned: opening an older database applies the
missing steps of :data:`MIGRATIONS` in one transaction.

Within a transaction the per-station and counter rows are written once, at its end, in a
fixed order: two consumers storing batches of the same stations then take their row locks
in the same order and never deadlock (PostgreSQL; SQLite has one writer at a time).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mqtt_bridge import clocks
from mqtt_bridge.clinic_schema import MIGRATIONS, SCHEMA_VERSION, ClinicDBError, open_backend
from mqtt_bridge.outbox import MAX_BODY_BYTES

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
    """The clinic database: ``target`` is a file path (SQLite, created on first use) or a
    ``postgresql://`` URL (the database must exist; its tables are created on first use).

    Not thread-safe: one thread at a time (the consumer loop, or the report) uses it.
    ``wall_clock`` stamps what is written without a time of its own (:meth:`now`).
    Raises :class:`ClinicDBError` for a file that is not a database, a server that cannot
    be reached, or a schema newer than this software's."""

    def __init__(self, target: str | Path, wall_clock: clocks.WallClock = clocks.utc_now) -> None:
        self.wall_clock = wall_clock
        self._backend = open_backend(target)
        self.name = self._backend.name
        #: The file of a SQLite database (None on PostgreSQL).
        self.path: Path | None = getattr(self._backend, "path", None)
        self._conn = self._backend.conn
        self._in_transaction = False
        # station_id -> (last seen, highest seq or None); counter -> increment: written at
        # the end of the transaction (see the module docstring).
        self._seen_rows: dict[str, tuple[str, int | None]] = {}
        self._counts: dict[str, int] = {}
        try:
            self._migrate()
        except self._backend.errors as exc:
            self._backend.close()
            raise ClinicDBError(
                f"{self.name} cannot be used as the clinic database ({exc}); "
                "give the path of the clinic database, or a new file"
            ) from None
        except BaseException:
            self._backend.close()
            raise

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """Every error the database raises (``sqlite3.Error`` or ``psycopg.Error``)."""
        return self._backend.errors

    @property
    def failures(self) -> tuple[type[Exception], ...]:
        """Errors of the database itself (disk, connection, lock), not of what is written."""
        return self._backend.failures

    def is_transient(self, exc: BaseException) -> bool:
        """Whether a transaction that failed with ``exc`` may be run again as it was."""
        return self._backend.is_transient(exc)

    def _migrate(self) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION` in one transaction, one process at a
        time (several consumers may start at once on a new database)."""
        self._check_version(self._backend.schema_version())
        if self._backend.schema_version() == SCHEMA_VERSION:
            return
        with self.transaction():
            self._backend.lock_schema()
            version = self._backend.schema_version()
            self._check_version(version)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for sql in MIGRATIONS[step]:
                    self._backend.execute(self._backend.ddl(sql))
                self._backend.set_schema_version(step)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ClinicDBError(
                f"{self.name} has clinic database schema version {version}; this software "
                f"knows versions up to {SCHEMA_VERSION}: update the software"
            )

    def now(self) -> str:
        """The wall clock's now, as every time in this database is written."""
        return clocks.iso_utc(self.wall_clock())

    @property
    def schema_version(self) -> int:
        return self._backend.schema_version()

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._conn is not None:
            self._backend.close()
            self._conn = None

    def __enter__(self) -> ClinicDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction: committed on success, rolled back on an exception."""
        self._backend.begin()
        self._in_transaction = True
        self._seen_rows, self._counts = {}, {}
        try:
            yield self._conn
            self._write_deferred()
        except BaseException:
            self._in_transaction = False
            self._backend.execute("ROLLBACK")
            raise
        self._in_transaction = False
        self._backend.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested unit inside :meth:`transaction`: on an exception everything written in
        it is undone (the enclosing transaction goes on) and the exception propagates."""
        seen, counts = dict(self._seen_rows), dict(self._counts)
        self._backend.execute("SAVEPOINT one_message")
        try:
            yield
        except BaseException:
            self._backend.execute("ROLLBACK TO SAVEPOINT one_message")
            self._backend.execute("RELEASE SAVEPOINT one_message")
            self._seen_rows, self._counts = seen, counts
            raise
        self._backend.execute("RELEASE SAVEPOINT one_message")

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
        cur = self._backend.execute(
            "INSERT INTO messages(msg_id, station_id, kind, schema, seq, created_at,"
            " clock_synced, boot_id, body, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT DO NOTHING",
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
        added = self._backend.execute(
            "INSERT INTO id_conflicts(msg_id, station_id, kind, seq, first_digest,"
            " digest, content, received_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
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
        r = self._backend.execute(
            "SELECT schema, msg_id, station_id, seq, created_at, clock_synced, boot_id, body"
            " FROM messages WHERE msg_id = ?",
            (msg_id,),
        ).fetchone()
        env = dict(r)
        env["clock_synced"] = bool(r["clock_synced"])
        env["body"] = json.loads(r["body"])
        return env

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (written when the caller's transaction ends)."""
        self._counts[name] = self._counts.get(name, 0) + n
        if not self._in_transaction:
            self._write_deferred()

    def store_status(
        self, station_id: str, status: dict[str, Any], at: str | None = None, seen: bool = True
    ) -> None:
        """Record a station's status payload (birth, will) as its last status.

        ``seen=False`` (a retained status replayed by the broker on subscribe) keeps
        ``last_seen`` unchanged: the replay says nothing about when the station was alive."""
        now = at or self.now()
        self._backend.execute(
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
        self._backend.execute(
            "INSERT INTO rejected(topic, station_id, msg_id, reason, payload, received_at)"
            " VALUES (?,?,?,?,?,?)",
            (topic, station_id, msg_id, reason, payload[:MAX_REJECTED_BYTES], at or self.now()),
        )

    def _seen(self, station_id: str, now: str, seq: int | None) -> None:
        """Note that ``station_id`` was seen at ``now`` with ``seq`` (None: no seq stored);
        written when the transaction ends."""
        _, before = self._seen_rows.get(station_id, (now, None))
        best = seq if before is None else before if seq is None else max(seq, before)
        self._seen_rows[station_id] = (now, best)
        if not self._in_transaction:
            self._write_deferred()

    def _write_deferred(self) -> None:
        """Write the stations seen and the counters, each in key order: concurrent
        transactions then lock these shared rows in one order (no deadlock)."""
        for station_id in sorted(self._seen_rows):
            now, seq = self._seen_rows[station_id]
            self._backend.execute(
                "INSERT INTO stations(station_id, last_seen, max_seq) VALUES (?,?,?)"
                " ON CONFLICT(station_id) DO UPDATE SET last_seen=excluded.last_seen,"
                " max_seq=CASE WHEN stations.max_seq IS NULL"
                " OR excluded.max_seq > stations.max_seq"
                " THEN excluded.max_seq ELSE stations.max_seq END",
                (station_id, now, seq),
            )
        for name in sorted(self._counts):
            self._backend.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value",
                (name, self._counts[name]),
            )
        self._seen_rows, self._counts = {}, {}

    # -- reads --------------------------------------------------------------------------

    def stations(self) -> list[dict[str, Any]]:
        """Every station seen: id, last status (dict or None), status_at, last_seen, max_seq."""
        rows = self._backend.execute("SELECT * FROM stations ORDER BY station_id").fetchall()
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
        rows = self._backend.execute(sql + " ORDER BY station_id, seq", params).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["clock_synced"] = bool(r["clock_synced"])
            d["body"] = json.loads(r["body"])
            out.append(d)
        return out

    def counters(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._backend.execute("SELECT name, value FROM counters")}

    def msg_ids(self) -> list[str]:
        return [r[0] for r in self._backend.execute("SELECT msg_id FROM messages ORDER BY msg_id")]

    def rejected(self, station_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM rejected"
        params: tuple[Any, ...] = ()
        if station_id is not None:
            sql += " WHERE station_id=?"
            params = (station_id,)
        return [dict(r) for r in self._backend.execute(sql + " ORDER BY id", params)]

    def rejected_station_ids(self) -> list[str]:
        """Station ids named by the topics of rejected messages."""
        return [
            r[0]
            for r in self._backend.execute(
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
        return [dict(r) for r in self._backend.execute(sql + " ORDER BY c.id", params)]

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """The rows of one read, for the clinic modules that own a table of their own."""
        return self._backend.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write (call inside :meth:`transaction`); the rows it changed."""
        return self._backend.execute(sql, params).rowcount

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        return self._backend.integrity_check()


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
