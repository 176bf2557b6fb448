"""File names inside the station's data directory (``[data] dir``)."""

from __future__ import annotations

from pathlib import Path

#: The station database: journal, outbox and plans share it, so a session summary and
#: its outbox row commit in one transaction.
DB_FILENAME = "station.db"


def station_db(data_dir: Path) -> Path:
    """``<data_dir>/station.db``."""
    return Path(data_dir) / DB_FILENAME
