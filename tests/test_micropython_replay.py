"""The drivers on a real MicroPython interpreter, checked against CPython.

Each driver scenario (``.ci/mpy/mpy_scenarios.py``) runs on CPython over the simulated chips
while its bus and clock calls are recorded, then runs again on MicroPython 1.27 (the
WebAssembly port under Node, installed by ``make micropython``) against a fake
``machine.I2C`` that answers from the recording: the driver must make the same calls in
the same order and decode the same values. One Node process replays every driver.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".ci" / "mpy"))

import mpy_record  # noqa: E402
import mpy_scenarios  # noqa: E402
import mpy_wasm  # noqa: E402
from mpy_record import Recording  # noqa: E402
from mpy_replay import REAL_CLOCK  # noqa: E402


def require_micropython() -> None:
    """Fail (never skip) when Node or the MicroPython port is missing."""
    why = mpy_wasm.missing()
    if why:
        pytest.fail(f"{why}: {mpy_wasm.INSTALL_HINT}", pytrace=False)


def tampered(rec: Recording, name: str, index: int, **changes: object) -> Recording:
    """A copy of ``rec`` whose event ``index`` has ``changes``."""
    events = [dict(e) for e in rec.events]
    events[index].update(changes)
    return dataclasses.replace(rec, name=name, events=events)


def first(rec: Recording, **match: object) -> int:
    return next(i for i, e in enumerate(rec.events) if all(e.get(k) == v for k, v in match.items()))


@pytest.fixture(scope="module")
def recordings() -> dict[str, Recording]:
    recs = mpy_record.record_all()
    lcd, adc = recs["hd44780"], recs["ads1115"]
    i = first(lcd, op="writeto")
    bad_write = "%02x" % (int(lcd.events[i]["wrote"], 16) ^ 0x10)
    recs["a write not recorded"] = tampered(lcd, "a write not recorded", i, wrote=bad_write)
    j = first(adc, op="readfrom_mem_into", mem=0)  # the first conversion result
    recs["another answer"] = tampered(adc, "another answer", j, read="7fff")
    extra = dataclasses.replace(adc, name="a call left over", events=[*adc.events, {"op": "now"}])
    recs["a call left over"] = extra
    return recs


@pytest.fixture(scope="module")
def replayed(recordings: dict[str, Recording], tmp_path_factory: pytest.TempPathFactory):
    require_micropython()
    return mpy_wasm.replay(recordings, tmp_path_factory.mktemp("micropython"))


@pytest.mark.parametrize("name", mpy_scenarios.ALL)
def test_micropython_replay_driver_matches_cpython(
    name: str, recordings: dict[str, Recording], replayed: mpy_wasm.Replay
) -> None:
    rec, got = recordings[name], replayed.outcomes[name]
    assert got.ok, f"{name} on MicroPython: {got.error}"
    assert got.calls == len(rec.events)
    for want, have in zip(rec.results, got.results, strict=True):
        assert have == want, f"{name}: {want[0]!r} decodes differently on MicroPython"


def test_micropython_replay_covers_every_driver(recordings: dict[str, Recording]) -> None:
    replayed_files = {p.name for p in mpy_wasm.driver_files()}
    assert replayed_files == {
        "__init__.py",
        "bus.py",
        "clock.py",
        "ads1115.py",
        "drv2605l.py",
        "hd44780.py",
        "lsm6dsox.py",
        "tca9548a.py",
    }
    assert all(recordings[name].bus_calls() >= 40 for name in mpy_scenarios.ALL)
    errnos = {e.get("errno") for name in mpy_scenarios.ALL for e in recordings[name].events}
    assert {5, 121} <= errnos  # both "no answer" errnos travel through the replay


def test_micropython_replay_prints_no_warnings(replayed: mpy_wasm.Replay) -> None:
    assert replayed.stray == ""


def test_micropython_replay_real_clock_uses_ticks(replayed: mpy_wasm.Replay) -> None:
    got = replayed.outcomes[REAL_CLOCK]
    assert got.results == [
        ["ticks deadline", True],
        ["timed out", True],
        ["waited the whole timeout", True],
        ["now() advanced by the sleep", True],
    ]


def test_micropython_replay_reports_a_write_the_recording_lacks(
    recordings: dict[str, Recording], replayed: mpy_wasm.Replay
) -> None:
    got = replayed.outcomes["a write not recorded"]
    i = first(recordings["hd44780"], op="writeto")
    assert not got.ok and got.calls == i
    assert got.error is not None and f"call {i}:" in got.error and "wrote differs" in got.error


def test_micropython_replay_reports_a_different_decoded_value(
    recordings: dict[str, Recording], replayed: mpy_wasm.Replay
) -> None:
    got = replayed.outcomes["another answer"]
    assert got.ok  # same calls; the value the driver decoded differs
    assert got.results[1][:2] == ["AIN0", 32767]
    assert got.results != recordings["ads1115"].results


def test_micropython_replay_reports_calls_the_driver_did_not_make(
    replayed: mpy_wasm.Replay,
) -> None:
    got = replayed.outcomes["a call left over"]
    assert not got.ok and got.error is not None and "stopped after" in got.error


def probe_tree(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of drivers/ with ``old`` replaced by ``new`` in ``file``."""
    tree = tmp_path / "drivers"
    shutil.copytree(ROOT / "drivers", tree, ignore=shutil.ignore_patterns("sim", "__pycache__"))
    text = (tree / file).read_text(encoding="utf-8")
    assert old in text
    (tree / file).write_text(text.replace(old, new), encoding="utf-8")
    return tree


def test_micropython_replay_catches_a_decode_micropython_cannot_run(
    recordings: dict[str, Recording], tmp_path: Path
) -> None:
    require_micropython()
    tree = probe_tree(
        tmp_path,
        "ads1115.py",
        "return value - 0x10000 if value & 0x8000 else value",
        'return int.from_bytes(self._rx, "big", signed=True)',  # CPython only
    )
    run = mpy_wasm.replay({"ads1115": recordings["ads1115"]}, tmp_path, drivers=tree)
    got = run.outcomes["ads1115"]
    assert not got.ok and got.error is not None and "TypeError" in got.error


def test_micropython_replay_catches_an_import_micropython_lacks(
    recordings: dict[str, Recording], tmp_path: Path
) -> None:
    require_micropython()
    tree = probe_tree(
        tmp_path,
        "hd44780.py",
        "from drivers.clock import",
        "import enum\nfrom drivers.clock import",
    )
    with pytest.raises(RuntimeError, match="no module named 'enum'"):
        mpy_wasm.replay({"hd44780": recordings["hd44780"]}, tmp_path, drivers=tree)


def test_micropython_replay_missing_node_says_how_to_install() -> None:
    why = mpy_wasm.missing(node="no-such-node-binary")
    assert why is not None and "no-such-node-binary" in why
    assert "make micropython" in mpy_wasm.INSTALL_HINT
