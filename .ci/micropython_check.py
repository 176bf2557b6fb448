"""Check that every MicroPython-clean driver compiles with mpy-cross and type-checks
against the MicroPython stubs (micropython-stdlib-stubs + one port's stubs).

Run by ``make test``. Exit 0 when every file passes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: CPython-only files in drivers/: the smbus2 adapter and the clock's thread helper.
CPYTHON_ONLY = {"smbus2_bus.py", "_periodic.py"}
PORT_STUBS = "micropython-rp2-stubs"


def driver_files() -> list[Path]:
    return [p for p in sorted((ROOT / "drivers").glob("*.py")) if p.name not in CPYTHON_ONLY]


def mpy_cross(files: list[Path], out: Path) -> list[str]:
    exe = shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) or "mpy-cross"
    failures = []
    for f in files:
        r = subprocess.run(
            [exe, str(f), "-o", str(out / (f.stem + ".mpy"))], capture_output=True, text=True
        )
        if r.returncode != 0:
            failures.append(f"mpy-cross {f.relative_to(ROOT)}: {r.stderr.strip()}")
    return failures


def port_stub_dir(tmp: Path) -> Path:
    """The port's stub modules (machine, micropython, time, ...) copied into one folder."""
    site = Path(sysconfig.get_paths()["purelib"])
    dest = tmp / "stubs"
    dest.mkdir()
    for f in metadata.files(PORT_STUBS) or []:
        if f.suffix == ".pyi" and "dist-info" not in str(f):
            target = dest / f
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(site / f, target)
    return dest


def mypy_stubs(files: list[Path], tmp: Path) -> int:
    site = sysconfig.get_paths()["purelib"]
    stubs = port_stub_dir(tmp)
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--custom-typeshed-dir",
        site,
        "--no-site-packages",
        "--python-version",
        "3.11",
        "--follow-imports=silent",
        "--config-file",
        "/dev/null",
        "--ignore-missing-imports",
        "--no-error-summary",
        "--disable-error-code",
        "overload-cannot-match",
    ]
    env = {"MYPYPATH": f"{stubs}:{ROOT}", "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        cmd + [str(f.relative_to(ROOT)) for f in files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    out = "\n".join(line for line in r.stdout.splitlines() if "No [mypy] section" not in line)
    if out.strip():
        print(out)
    return r.returncode


def main() -> int:
    files = driver_files()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        failures = mpy_cross(files, tmp)
        for f in failures:
            print(f)
        rc = mypy_stubs(files, tmp)
    print(
        f"micropython check: {len(files)} driver files, mpy-cross failures {len(failures)}, "
        f"mypy against MicroPython stubs {'ok' if rc == 0 else 'FAILED'}"
    )
    return 1 if failures or rc else 0


if __name__ == "__main__":
    sys.exit(main())
