"""The station's files checked at start: a station database that is garbage, cut short,
damaged, a directory or another program's, and a calibration path that is a file, stop
``run``, ``session`` and ``outbox`` with one line naming the file and what to do, and the
file is left exactly as it was."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from test_station_process import Stations, stations  # noqa: F401  (stations: a fixture)

from mqtt_bridge import outbox as outbox_mod
from mqtt_bridge import plans as plans_mod
from station.journal import Journal, Trial
from station.paths import station_db
from station.storage import StorageError, check_data_dir, check_station_db


def station_database(path: Path) -> None:
    """A station database as a station leaves it: a session with trials, the outbox and
    the plans tables; closed (no WAL file left)."""
    j = Journal(path)
    with j.transaction() as conn:
        outbox_mod.ensure_tables(conn)
        plans_mod.ensure_tables(conn)
    sid = j.start_session(1, ["max_grip"])
    for i in range(3):
        j.record_trial(
            sid, Trial("max_grip", i, "right", {}, {"peak_force_n": 9.0}, 0.4, 9.0, 0, 3)
        )
    j.close()


def garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 20)


def cut_short(path: Path) -> None:
    station_database(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def zeroed_page(path: Path) -> None:
    """The trials table's page zeroed (a bad flash block): the station used to start, and
    fail at the session's first trial."""
    station_database(path)
    conn = sqlite3.connect(path)
    (page,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='trials'").fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    data[(page - 1) * size : page * size] = bytes(size)
    path.write_bytes(bytes(data))


def directory(path: Path) -> None:
    path.mkdir()
    (path / "station.db").write_bytes(b"")  # a copy someone put in the wrong place


def other_program(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()


def other_sessions(path: Path) -> None:
    """Another program's database that also has a ``sessions`` table."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE sessions(token TEXT PRIMARY KEY, user_id INTEGER)")
    conn.commit()
    conn.close()


BAD = {
    "garbage": (garbage, "is not an SQLite database"),
    "cut_short": (cut_short, "is damaged"),
    "zeroed_page": (zeroed_page, "is damaged"),
    "directory": (directory, "is a directory"),
    "other_program": (other_program, "belongs to another program or version (tables photos)"),
    "other_sessions": (other_sessions, "belongs to another program or version (its sessions"),
}


def snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``d`` with its bytes and modification time."""
    return {
        str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", sorted(BAD))
def test_storage_check_names_the_problem_and_leaves_the_file_alone(
    tmp_path: Path, case: str
) -> None:
    make, problem = BAD[case]
    path = station_db(tmp_path)
    make(path)
    before = snapshot(tmp_path)
    with pytest.raises(StorageError) as err:
        check_station_db(path)
    message = str(err.value)
    assert message.startswith(f"{path} {problem}")
    assert "move it aside" in message and "\n" not in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("make", [station_database, lambda p: p.write_bytes(b"")])
def test_storage_check_passes_a_station_database_or_an_empty_file(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    make(station_db(tmp_path))
    before = snapshot(tmp_path)
    check_data_dir(tmp_path)
    check_data_dir(tmp_path / "new")  # nothing there yet: a new station
    assert snapshot(tmp_path) == before


def test_storage_check_reads_a_database_another_process_has_open(tmp_path: Path) -> None:
    """The running station holds the database open (its WAL file exists) while the
    technician runs ``outbox``: the check reads it through SQLite's locks."""
    path = station_db(tmp_path)
    station_database(path)
    running = Journal(path)
    try:
        running.start_session(1, ["max_grip"])  # in the WAL file, not yet checkpointed
        assert path.with_name("station.db-wal").stat().st_size > 0
        check_station_db(path)
    finally:
        running.close()


def test_storage_calibration_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "calibration").write_text("pad-pad0-v1.json\n")
    with pytest.raises(StorageError, match="calibration is a file, not the directory"):
        check_data_dir(tmp_path)


@pytest.mark.parametrize("case", sorted(BAD))
def test_storage_run_and_outbox_exit_1_with_one_line(
    tmp_path: Path,
    stations: Stations,  # noqa: F811  (the fixture imported above)
    case: str,
) -> None:
    make, problem = BAD[case]
    data = tmp_path / "data"
    data.mkdir()
    path = station_db(data)
    make(path)
    before = snapshot(data)
    commands = {
        "run": ("run", "--sim", "--quiet", "--speed", "0"),
        "outbox": ("outbox", "--sim"),
        "outbox-json": ("outbox", "--sim", "--json"),
    }
    if case == "zeroed_page":
        commands["session"] = ("session", "max_grip", "--sim", "--quiet")
    if case == "garbage":
        commands["bench"] = ("bench", "--sim", "--seconds", "0.1")
    for name, argv in commands.items():
        r = stations.run(*argv, "--data-dir", str(data), name=name)
        assert r.rc == 1, (name, r)
        assert r.err.startswith(f"rehab-station: {path} {problem}"), (name, r)
        assert len(r.err.strip().splitlines()) == 1, (name, r)  # no traceback
        assert r.out == ""
    assert snapshot(data) == before


def test_storage_run_refuses_a_calibration_path_that_is_a_file(
    tmp_path: Path,
    stations: Stations,  # noqa: F811  (the fixture imported above)
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "calibration").write_text("not a directory\n")
    before = snapshot(data)
    r = stations.run("run", "--sim", "--quiet", "--data-dir", str(data), name="run")
    assert r.rc == 1, r
    assert r.err.startswith(f"rehab-station: {data / 'calibration'} is a file"), r
    assert len(r.err.strip().splitlines()) == 1, r
    assert snapshot(data) == before
