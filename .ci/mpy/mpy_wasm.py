"""Run the drivers on the MicroPython WebAssembly port under Node (CPython side).

``make micropython`` installs the port (``.ci/package.json``, pinned) into
``.ci/node_modules``; :func:`missing` says what is absent. :func:`replay` copies the
MicroPython-clean drivers and the replay modules into the port's filesystem and replays
every recording in one Node process, then checks ``drivers.clock`` on the port's own ticks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpy_record import Recording
from mpy_replay import REAL_CLOCK, RESULT_PREFIX

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGE = "@micropython/micropython-webassembly-pyscript"
PACKAGE_DIR = ROOT / ".ci" / "node_modules" / PACKAGE
#: CPython-only files in drivers/: the smbus2 adapter and the clock's thread helper.
CPYTHON_ONLY = {"smbus2_bus.py", "_periodic.py"}
INSTALL_HINT = "run `make micropython` to install the MicroPython WebAssembly port"


def driver_files(drivers: Path = ROOT / "drivers") -> list[Path]:
    """The drivers that must run on MicroPython."""
    return [p for p in sorted(drivers.glob("*.py")) if p.name not in CPYTHON_ONLY]


def missing(node: str = "node") -> str | None:
    """What is missing to run MicroPython (None when nothing is)."""
    if shutil.which(node) is None:
        return f"Node.js ({node}) is not on PATH"
    if not (PACKAGE_DIR / "micropython.wasm").is_file():
        return f"{PACKAGE} is not installed in {PACKAGE_DIR.relative_to(ROOT)}"
    return None


def run_micropython(
    files: dict[str, Path], main: str, work: Path, node: str = "node", timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``main`` on MicroPython with ``files`` (target path -> host path) copied in."""
    manifest = work / "manifest.json"
    manifest.write_text(
        json.dumps({"files": {k: str(v) for k, v in files.items()}, "main": main}),
        encoding="utf-8",
    )
    return subprocess.run(
        [node, str(HERE / "run.mjs"), str(manifest)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@dataclass(frozen=True)
class Outcome:
    """One recording replayed on MicroPython: ``ok`` when every call matched in order."""

    name: str
    ok: bool
    calls: int
    results: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Replay:
    """What one MicroPython run gave: ``outcomes`` by name, and ``stray`` output (warnings
    MicroPython printed, anything but the result lines)."""

    outcomes: dict[str, Outcome]
    stray: str


def replay(
    recordings: dict[str, Recording],
    work: Path,
    node: str = "node",
    drivers: Path = ROOT / "drivers",
) -> Replay:
    """Replay ``recordings`` on MicroPython (one Node process) with the driver sources in
    ``drivers``, then check the real clock (outcome :data:`REAL_CLOCK`).

    Raises ``RuntimeError`` when MicroPython itself fails (a driver that does not import,
    a crash) with its output.
    """
    files = {f"/lib/drivers/{p.name}": p for p in driver_files(drivers)}
    for module in ("mpy_replay.py", "mpy_scenarios.py"):
        files[f"/lib/{module}"] = HERE / module
    targets = []
    for i, rec in enumerate(recordings.values()):
        host = work / f"recording{i}.json"
        host.write_text(json.dumps(rec.as_json()), encoding="utf-8")
        files[f"/recordings/{host.name}"] = host
        targets.append(f"/recordings/{host.name}")
    main = f"import mpy_replay\nmpy_replay.main({targets!r})\n"
    proc = run_micropython(files, main, work, node)
    outcomes = {}
    stray = []
    for line in proc.stdout.splitlines():
        if not line.startswith(RESULT_PREFIX):
            stray.append(line)
            continue
        data = json.loads(line[len(RESULT_PREFIX) :])
        outcomes[data["name"]] = Outcome(
            data["name"], data["ok"], data["calls"], data.get("results"), data.get("error")
        )
    if proc.returncode != 0 or set(outcomes) != set(recordings) | {REAL_CLOCK}:
        raise RuntimeError(
            f"MicroPython exited {proc.returncode} after {sorted(outcomes)}:\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return Replay(outcomes, "\n".join(stray + proc.stderr.splitlines()))
