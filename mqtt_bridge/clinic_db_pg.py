"""The clinic database on a PostgreSQL server (psycopg 3), for a clinic whose several
consumers store at once: the same tables as SQLite, the schema version in a table of its
own, migrations serialised by an advisory lock, ``?`` placeholders mapped to ``%s``.

Every statement outside :meth:`PostgresBackend.begin` commits by itself (autocommit), as
SQLite's connection does; a write transaction is an explicit ``BEGIN`` (READ COMMITTED:
an ``INSERT ... ON CONFLICT DO NOTHING`` waits for a concurrent insert of the same key to
commit or roll back, then sees it).
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: Key of the advisory lock held while migrating (any constant unique to the application).
_MIGRATION_LOCK = 0x52454841  # "REHA"
_VERSION_TABLE = "clinic_schema_version"


class Row(tuple):  # type: ignore[type-arg]
    """A result row read like ``sqlite3.Row``: by index, by column name, and ``dict(row)``."""

    _names: tuple[str, ...]

    def __new__(cls, names: tuple[str, ...], values: Any) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def keys(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                key = self._names.index(key)
            except ValueError:
                raise IndexError(f"no column {key!r}") from None
        return super().__getitem__(key)


def _rows(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    return functools.partial(Row, names)


@functools.lru_cache(maxsize=256)
def placeholders(sql: str) -> str:
    """``sql`` with SQLite's ``?`` placeholders as psycopg's ``%s`` (a literal ``%``
    doubled). The clinic's SQL has no ``?`` or ``%`` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresBackend:
    """A connection to the clinic database at ``url`` (``postgresql://user@host/db``; the
    password, if any, from the URL or libpq's ``PGPASSWORD`` / ``~/.pgpass``). Raises
    ``psycopg.Error`` when the server cannot be reached or refuses."""

    def __init__(self, url: str, connect_timeout_s: int = 10) -> None:
        import psycopg

        self.name = redacted(url)
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self.failures: tuple[type[Exception], ...] = (
            psycopg.OperationalError,
            psycopg.InternalError,
        )
        self._transient = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
        self.conn = psycopg.connect(
            url, autocommit=True, row_factory=_rows, connect_timeout=connect_timeout_s
        )

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self.conn.execute(placeholders(sql), tuple(params))

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def lock_schema(self) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {_VERSION_TABLE}(version BIGINT NOT NULL)")

    def schema_version(self) -> int:
        exists = self.conn.execute("SELECT to_regclass(%s)", (_VERSION_TABLE,)).fetchone()
        if exists is None or exists[0] is None:
            return 0
        row = self.conn.execute(f"SELECT max(version) FROM {_VERSION_TABLE}").fetchone()
        return int(row[0] or 0) if row else 0

    def set_schema_version(self, version: int) -> None:
        self.conn.execute(f"DELETE FROM {_VERSION_TABLE}")
        self.conn.execute(f"INSERT INTO {_VERSION_TABLE}(version) VALUES (%s)", (int(version),))

    def ddl(self, sql: str) -> str:
        from mqtt_bridge.clinic_schema import to_postgres

        return to_postgres(sql)

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self._transient)

    def integrity_check(self) -> str:
        """PostgreSQL checks its pages itself; a deeper check is ``pg_amcheck``, which
        needs rights the clinic's user should not have."""
        raise NotImplementedError(
            f"{self.name}: integrity_check is SQLite's PRAGMA; check a PostgreSQL database "
            "with pg_amcheck"
        )

    def close(self) -> None:
        self.conn.close()


__all__ = ["PostgresBackend", "Row", "placeholders", "redacted"]
