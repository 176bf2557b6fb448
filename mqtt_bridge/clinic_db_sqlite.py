"""The clinic database in one SQLite file: WAL, ``synchronous=FULL`` (an acknowledged
message survives a power cut, ``reference/MQTT.md`` §9), the schema version in
``PRAGMA user_version``, write transactions ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


class SQLiteBackend:
    """The clinic database at ``path`` (created on first use). Raises ``sqlite3.Error``
    for a file that is not a database."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    failures: tuple[type[Exception], ...] = (sqlite3.OperationalError,)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        # One owner at a time, but not necessarily the creating thread (tests hand it over).
        self.conn = sqlite3.connect(
            str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            # FULL: an acknowledged message must survive a power cut, not only a crash.
            self.conn.execute("PRAGMA synchronous=FULL")
        except BaseException:
            self.conn.close()
            raise

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def lock_schema(self) -> None:
        """``BEGIN IMMEDIATE`` already holds the one write lock."""

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.conn.execute(f"PRAGMA user_version = {int(version)}")

    def ddl(self, sql: str) -> str:
        return sql

    def is_transient(self, exc: BaseException) -> bool:
        return False  # writers queue on the file lock (timeout 30 s) instead of failing

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self.conn.close()


__all__ = ["SQLiteBackend"]
