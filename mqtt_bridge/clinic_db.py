"""The clinic's own SQLite database: every message a station sent, stored once by ``msg_id``.

The consumer (:mod:`mqtt_bridge.clinic`) stores a batch, commits, and only then acknowledges
(MQTT PUBACK and the application acknowledgement), so an acknowledged message is always on
disk (WAL, ``synchronous=FULL``; ``reference/MQTT.md`` §4.2 and §9). Storage is idempotent:
``INSERT OR IGNORE`` keyed on ``msg_id`` absorbs the duplicate deliveries that at-least-once
delivery produces. Malformed input goes to ``rejected`` with the reason, so it is kept for
inspection and acknowledged instead of being redelivered for ever.

Tables: ``messages`` (enveloped summaries, self-tests and plan results, the envelope fields as
columns and
the body as JSON), ``rejected``, ``stations`` (last status, last seen, highest ``seq``) and
``counters`` (e.g. duplicate deliveries absorbed, counted in the storing transaction).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mqtt_bridge.outbox import MAX_BODY_BYTES

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS messages(
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
);
CREATE INDEX IF NOT EXISTS messages_by_station ON messages(station_id, kind, seq);
CREATE TABLE IF NOT EXISTS rejected(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    station_id TEXT,
    msg_id TEXT,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters(
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stations(
    station_id TEXT PRIMARY KEY,
    last_status TEXT,
    status_at TEXT,
    last_seen TEXT,
    max_seq INTEGER
);
"""

#: Kinds of enveloped message the clinic stores (the topic kind after the station id).
KINDS = ("summary", "selftest", "plan/result")
#: The largest message a station sends: its body limit plus room for the envelope (which
#: is under 1 KiB).
#: The consumer rejects a longer payload unread (``docs/mqtt-contract.md``, "Size").
MAX_MESSAGE_BYTES = MAX_BODY_BYTES + 4 * 1024
#: Bytes of a rejected payload kept for inspection: a rejected station message, which is
#: acknowledged end to end and then deleted on the station, is kept whole. Only a larger,
#: foreign payload is cut (a hostile payload must not fill the disk).
MAX_REJECTED_BYTES = MAX_MESSAGE_BYTES


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ClinicDB:
    """The clinic database at ``path`` (created on first use).

    Not thread-safe: one thread at a time (the consumer loop, or the report) uses it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # One owner at a time, but not necessarily the creating thread (tests hand it over).
        self._conn = sqlite3.connect(
            str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged message must survive a power cut, not only a process crash.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA_SQL)

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

    def store(self, env: dict[str, Any], kind: str, received_at: str | None = None) -> bool:
        """Store a validated envelope; True if new, False if ``msg_id`` was already stored.

        ``kind`` is one of :data:`KINDS`. Raises ``ValueError`` for another kind.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        now = received_at or utc_now()
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
        self._seen(env["station_id"], now, int(env["seq"]))
        if cur.rowcount == 1:
            return True
        self.count("duplicates")
        return False

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
        now = at or utc_now()
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
            (topic, station_id, msg_id, reason, payload[:MAX_REJECTED_BYTES], at or utc_now()),
        )

    def _seen(self, station_id: str, now: str, seq: int) -> None:
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

    def seq_gaps(self, station_id: str) -> list[int]:
        """``seq`` values below the highest one received that are missing (not yet arrived,
        or lost): the station's ``seq`` is never reused, so a gap is real."""
        seqs = [
            r[0]
            for r in self._conn.execute(
                "SELECT seq FROM messages WHERE station_id=? ORDER BY seq", (station_id,)
            )
        ]
        if not seqs:
            return []
        present = set(seqs)
        return [s for s in range(seqs[0], seqs[-1]) if s not in present]

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


__all__ = ["KINDS", "MAX_MESSAGE_BYTES", "MAX_REJECTED_BYTES", "ClinicDB", "utc_now"]
