"""Stdlib logging, one line per event: to stderr (journald adds its own timestamps), or to a
file while the terminal shows the LCD (:func:`log_to_file`)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "info") -> None:
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journald else FORMAT
    root = logging.getLogger()
    _drop_ours(root)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler._rehab = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))


def _drop_ours(root: logging.Logger) -> list[logging.Handler]:
    ours = [h for h in root.handlers if getattr(h, "_rehab", False)]
    for h in ours:
        root.removeHandler(h)
    return ours


class FileLog:
    """Where the log went while the terminal was busy, and how many warnings it holds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings = 0
        self.errors = 0

    def __repr__(self) -> str:
        return f"FileLog({str(self.path)!r}, warnings={self.warnings}, errors={self.errors})"

    def summary(self) -> str:
        """One line naming the file and what in it deserves a look."""
        counts = [
            f"{n} {what}{'s' if n != 1 else ''}"
            for n, what in (
                (self.errors, "error"),
                (self.warnings, "warning"),
            )
            if n
        ]
        more = f" ({', '.join(counts)})" if counts else ""
        return f"log: {self.path}{more}"


class _Counting(logging.FileHandler):
    def __init__(self, log: FileLog) -> None:
        super().__init__(log.path, encoding="utf-8")
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.log.errors += 1
        elif record.levelno >= logging.WARNING:
            self.log.warnings += 1
        super().emit(record)


@contextmanager
def log_to_file(path: Path) -> Iterator[FileLog]:
    """Send the log to ``path`` (appended) instead of stderr until the block ends, so that
    no log line lands inside a drawn screen; stderr gets it back on every exit path."""
    log = FileLog(Path(path))
    root = logging.getLogger()
    handler = _Counting(log)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._rehab = True  # type: ignore[attr-defined]
    before = _drop_ours(root)
    root.addHandler(handler)
    try:
        yield log
    finally:
        root.removeHandler(handler)
        handler.close()
        for h in before:
            root.addHandler(h)
