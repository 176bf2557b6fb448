"""The clinic database's schema, written once for SQLite and PostgreSQL, and the seam
between :class:`mqtt_bridge.clinic_db.ClinicDB` and the database it runs on.

:data:`MIGRATIONS` are the numbered schema steps in SQLite's dialect; the PostgreSQL backend
maps the few words that differ (an auto-increment key, 64-bit integers, byte strings).
:class:`Backend` is what a database must offer the clinic: SQL with ``?`` placeholders,
explicit transactions, the stored schema version and a lock that lets one process at a time
migrate. Backends: :mod:`mqtt_bridge.clinic_db_sqlite`, :mod:`mqtt_bridge.clinic_db_pg`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

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

#: What a PostgreSQL URL starts with (libpq's two spellings).
PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    """Whether ``target`` (a ``--db`` value) names a PostgreSQL database, not a file."""
    return isinstance(target, str) and target.startswith(PG_SCHEMES)


class ClinicDBError(RuntimeError):
    """The clinic database cannot be used (not a database, or made by newer software)."""


class Backend(Protocol):
    """A connection to the clinic database, as :class:`~mqtt_bridge.clinic_db.ClinicDB`
    uses it. SQL uses ``?`` placeholders and the common subset of both dialects."""

    #: What to call the database in a message: its path, or its URL without a password.
    name: str
    #: The DB-API connection (for a test that injects a fault).
    conn: Any
    #: Every error the database raises.
    errors: tuple[type[Exception], ...]
    #: Errors of the database itself (disk, connection, lock), not of the data written.
    failures: tuple[type[Exception], ...]

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        """Run one statement; the DB-API cursor (rows support ``r[0]``, ``r["name"]``)."""
        ...

    def begin(self) -> None:
        """Open a write transaction (closed with ``COMMIT`` or ``ROLLBACK``)."""
        ...

    def lock_schema(self) -> None:
        """Inside a transaction: hold off every other process migrating until it ends."""
        ...

    def schema_version(self) -> int: ...

    def set_schema_version(self, version: int) -> None: ...

    def ddl(self, sql: str) -> str:
        """A statement of :data:`MIGRATIONS` in this database's dialect."""
        ...

    def is_transient(self, exc: BaseException) -> bool:
        """Whether a transaction that raised ``exc`` may simply be run again (a deadlock
        between two consumers, a serialization failure)."""
        ...

    def integrity_check(self) -> str: ...

    def close(self) -> None: ...


def open_backend(target: str | Path) -> Backend:
    """The backend for a ``--db`` value: a ``postgresql://`` URL, else a SQLite file."""
    if is_postgres(target):
        from mqtt_bridge.clinic_db_pg import PostgresBackend

        try:
            return PostgresBackend(str(target))
        except ImportError as exc:
            raise ClinicDBError(
                f"a PostgreSQL clinic database needs psycopg ('rehab-station[clinic]'): {exc}"
            ) from None
        except Exception as exc:  # psycopg.Error: server down, no such database, refused
            from mqtt_bridge.clinic_db_pg import redacted

            raise ClinicDBError(
                f"cannot connect to the clinic database {redacted(str(target))}: {exc}"
            ) from None
    import sqlite3

    from mqtt_bridge.clinic_db_sqlite import SQLiteBackend

    try:
        return SQLiteBackend(target)
    except sqlite3.DatabaseError as exc:
        raise ClinicDBError(
            f"{target} cannot be used as the clinic database ({exc}); "
            "give the path of the clinic database, or a new file"
        ) from None


__all__ = [
    "MIGRATIONS",
    "PG_SCHEMES",
    "SCHEMA_VERSION",
    "Backend",
    "ClinicDBError",
    "is_postgres",
    "open_backend",
]
