"""Running the ``rehab-station`` command as a user does: a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rehab_station(*argv: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m station ARGV...`` from the repository root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "station", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
