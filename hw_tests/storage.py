"""Storage: free space in the data directory and the station database's integrity."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed
from station.paths import station_db

MIN_FREE_MB = 100.0


def check(ctx: CheckContext, min_free_mb: float = MIN_FREE_MB) -> list[CheckResult]:
    return [free_space(ctx.data_dir, min_free_mb), integrity(station_db(ctx.data_dir))]


def free_space(data_dir: Path, min_free_mb: float = MIN_FREE_MB) -> CheckResult:
    free_mb = shutil.disk_usage(data_dir).free / 2**20
    shown = f"{free_mb:.0f} MB free in {data_dir}"
    if free_mb >= min_free_mb:
        return passed("storage.free_space", shown)
    return failed(
        "storage.free_space",
        f"{shown}, less than {min_free_mb:.0f} MB",
        "old logs (journalctl --vacuum-size) and the SD card's size",
        "T-DISK-01",
    )


def integrity(path: Path) -> CheckResult:
    """SQLite's integrity check of the station database, read-only."""
    if not path.exists():
        return passed("storage.database", f"no database yet at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        rows = [(f"cannot read it: {exc}",)]
    found = "; ".join(str(r[0]) for r in rows[:3])
    if found == "ok":
        return passed("storage.database", f"integrity check ok ({path.name})")
    return failed(
        "storage.database",
        f"{path}: {found}",
        "the SD card (replace it); keep a copy of the file for the clinic before anything else",
        "T-DISK-02",
    )
