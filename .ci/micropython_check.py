"""Check the MicroPython-clean drivers: they compile with mpy-cross, type-check against
the MicroPython stubs (micropython-stdlib-stubs + one port's stubs) with every function
annotated and every body checked, and run on a real MicroPython (the WebAssembly port
under Node, ``.ci/mpy``) with the same bus calls and decoded values as on CPython.

Run by ``make micropython`` (part of ``make test``). Exit 0 when every check passes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".ci" / "mpy"))

import mpy_record  # noqa: E402
import mpy_wasm  # noqa: E402

PORT_STUBS = "micropython-rp2-stubs"


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


#: Every driver function annotated and every body checked; the stubs are taken as they are.
MYPY_CONFIG = """\
[mypy]
ignore_missing_imports = True

[mypy-drivers.*]
disallow_untyped_defs = True
disallow_incomplete_defs = True
check_untyped_defs = True
"""


def mypy_stubs(files: list[Path], tmp: Path) -> int:
    site = sysconfig.get_paths()["purelib"]
    stubs = port_stub_dir(tmp)
    config = tmp / "mypy.ini"
    config.write_text(MYPY_CONFIG, encoding="utf-8")
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
        str(config),
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
    if r.stdout.strip():
        print(r.stdout)
    return r.returncode


def replay(tmp: Path) -> bool:
    """Record every driver scenario on CPython, replay it on MicroPython; print a line
    per driver."""
    why = mpy_wasm.missing()
    if why:
        print(f"micropython replay: {why}: {mpy_wasm.INSTALL_HINT}")
        return False
    t0 = time.perf_counter()
    recordings = mpy_record.record_all()
    run = mpy_wasm.replay(recordings, tmp)
    ok = run.stray == ""
    if not ok:
        print(f"MicroPython printed:\n{run.stray}")
    for name, rec in recordings.items():
        got = run.outcomes[name]
        same = got.ok and got.results == rec.results
        ok = ok and same
        verdict = "same calls, same values" if same else (got.error or "values differ")
        print(f"  {name:9} {rec.bus_calls():4} bus calls, {len(rec.events):4} events: {verdict}")
    clock = run.outcomes[mpy_wasm.REAL_CLOCK].results
    clock_ok = all(value for _, value in clock)
    print(f"  {'clock':9} ticks on the port: {'ok' if clock_ok else clock}")
    print(f"micropython replay: {time.perf_counter() - t0:.1f} s")
    return ok and clock_ok


def main() -> int:
    files = mpy_wasm.driver_files()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        failures = mpy_cross(files, tmp)
        for f in failures:
            print(f)
        rc = mypy_stubs(files, tmp)
        replayed = replay(tmp)
    print(
        f"micropython check: {len(files)} driver files, mpy-cross failures {len(failures)}, "
        f"mypy against MicroPython stubs {'ok' if rc == 0 else 'FAILED'}, "
        f"replay on MicroPython {'ok' if replayed else 'FAILED'}"
    )
    return 1 if failures or rc or not replayed else 0


if __name__ == "__main__":
    sys.exit(main())
