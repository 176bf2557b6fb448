"""Checks of the data directory's files at start, before anything opens them for writing.

The station database (journal, outbox, plans) is checked read-only: a file that is not a
database, is damaged or belongs to another program is reported in one line naming the
file, what is wrong and what the technician does, and is never changed (no table, WAL or
index file is made). A missing database or calibration directory is a new station.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mqtt_bridge import outbox as outbox_mod
from mqtt_bridge import plans as plans_mod
from station.journal import SCHEMA_SQL
from station.paths import station_db

#: What the technician does with a station database the station cannot use. The journal
#: and unsent summaries in it may be saved from the copy; the station starts a new one.
MOVE_DB_ASIDE = (
    "move it aside and restart to begin a new one (keep the copy: it may hold summaries "
    "not yet sent to the clinic)"
)
RECOVER = MOVE_DB_ASIDE[:-1] + "; sqlite3's .recover saves what is still readable)"
CALIBRATION_DIR = "calibration"


class StorageError(RuntimeError):
    """A file in the data directory the station cannot use; the message is one line."""

    def __init__(self, path: Path, problem: str, action: str) -> None:
        super().__init__(f"{path} {problem}: {action}")
        self.path = path
        self.problem = problem


def check_data_dir(data_dir: Path) -> None:
    """Check the station database and the calibration directory in ``data_dir``; raises
    :class:`StorageError` for the first that the station cannot use."""
    check_station_db(station_db(data_dir))
    check_calibration_dir(Path(data_dir) / CALIBRATION_DIR)


def check_station_db(path: Path) -> None:
    """Raise :class:`StorageError` unless ``path`` is missing or an intact station database.

    Runs ``PRAGMA quick_check`` and compares the tables with the station's own."""
    if path.is_dir():
        raise StorageError(path, "is a directory, not the station database", MOVE_DB_ASIDE)
    if not path.exists():
        return
    try:
        conn = _open_read_only(path)
        try:
            problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            tables = _tables(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _sqlite_problem(path, exc) from exc
    if problems != ["ok"]:
        raise StorageError(path, f"is damaged ({_first_problem(problems)})", RECOVER)
    foreign = _foreign(tables)
    if foreign:
        raise StorageError(
            path, f"belongs to another program or version ({foreign})", MOVE_DB_ASIDE
        )


def check_calibration_dir(path: Path) -> None:
    """A calibration path that is a file is refused: no record could be read from it or
    saved to it, and running on would quietly leave every pad and motor uncalibrated."""
    if path.exists() and not path.is_dir():
        raise StorageError(
            path,
            "is a file, not the directory of calibration records",
            "move it aside (it may be a copy of the records), put the records back in a "
            "directory of that name, and restart",
        )


def _open_read_only(path: Path) -> sqlite3.Connection:
    # Without a WAL file nobody has the database open: immutable=1 reads it without making
    # the -wal and -shm files even a read-only connection to a WAL database would leave.
    # With one, another process may be writing: read-only, through SQLite's locks.
    wal = path.with_name(path.name + "-wal").exists()
    query = "mode=ro" if wal else "immutable=1"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, timeout=10.0)


def _sqlite_problem(path: Path, exc: sqlite3.DatabaseError) -> StorageError:
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return StorageError(path, "is not an SQLite database", MOVE_DB_ASIDE)
    if name.startswith("SQLITE_CORRUPT"):
        return StorageError(path, f"is damaged ({exc})", RECOVER)
    return StorageError(
        path, f"cannot be read ({exc})", "check that the station's user owns it and can read it"
    )


def _first_problem(problems: list[str]) -> str:
    # quick_check reports "*** in database main ***" and then the pages, over several lines
    words = " ".join(problems[0].split()).replace("*** in database main *** ", "")
    return words + (f" and {len(problems) - 1} more" if len(problems) > 1 else "")


def _tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        n: {r[1] for r in conn.execute("SELECT * FROM pragma_table_info(?)", (n,))} for n in names
    }


def _station_tables() -> dict[str, set[str]]:
    """The tables and columns the station itself makes, from its own schema code."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(SCHEMA_SQL)
        outbox_mod.ensure_tables(conn)
        plans_mod.ensure_tables(conn)
        return _tables(conn)
    finally:
        conn.close()


def _foreign(found: dict[str, set[str]]) -> str:
    """Why tables ``found`` are not the station's ("" when they are, or when there are
    none: an empty file is a new database). Extra tables of its own are allowed."""
    ours = _station_tables()
    if found and not set(found) & set(ours):
        return "tables " + ", ".join(sorted(found)[:5])
    for name, columns in sorted(found.items()):
        missing = ours.get(name, set()) - columns
        if missing:
            shown = sorted(missing)[:3] + (["..."] if len(missing) > 3 else [])
            return f"its {name} table lacks " + ", ".join(shown)
    return ""
