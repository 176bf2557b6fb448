"""The real ``rehab-station`` command line as processes, on the simulated station.

Every test runs ``python -m station ...`` from the repository root, the way a technician or
systemd would, with its own data directory and (where MQTT matters) a real mosquitto from
the ``broker`` fixture and a clinic that acknowledges what it receives. The journal
(``station.db``) is read read-only from outside, as another process would.

The headline is crash recovery (issue 7): a station killed with SIGKILL in the middle of a
session, then restarted, has kept every trial, marks the session incomplete and gets its
partial summary to the clinic exactly once; the outbox ends empty.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SimCalibrations
from mqtt_broker import Broker
from mqtt_helpers import Clinic, wait_until

from mqtt_bridge import plans as plans_mod
from mqtt_bridge import schema as schema_mod
from mqtt_bridge import topics
from station import __version__
from station import config as config_mod
from station import plan as plan_mod

ROOT = Path(__file__).resolve().parents[1]
STATION_ID = config_mod.defaults().station_id
#: Upper bound of any one command (a simulated session at --speed 0 takes about 10 s).
RUN_TIMEOUT_S = 90.0
#: Upper bound to wait for the first journalled trial of an interruptible session.
TRIAL_WAIT_S = 40.0
TRIAL_COLUMNS = (
    "id, session_id, protocol, trial_index, hand, stimulus, response, reaction_time_s, "
    "contact_force_n, t_start_s, t_end_s, ended_at, quality"
)


# -- helpers -------------------------------------------------------------------------------


def station_env(home: Path) -> dict[str, str]:
    """The environment of a station process: no config from the developer's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REHAB_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".state"),
        TMPDIR=str(home),
        PYTHONUNBUFFERED="1",
    )
    return env


class Stations:
    """Starts ``python -m station`` processes; kills (by pid) any still running at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = station_env(tmp_path / "home")
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        with (
            open(self.logs / f"{name}.out", "wb") as out,
            open(self.logs / f"{name}.err", "wb") as err,
        ):  # the child keeps its own copies of the descriptors
            p = subprocess.Popen(
                [sys.executable, "-m", "station", *args],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        self.procs.append(p)
        return p

    def output(self, name: str) -> tuple[str, str]:
        return (
            (self.logs / f"{name}.out").read_text(errors="replace"),
            (self.logs / f"{name}.err").read_text(errors="replace"),
        )

    def run(self, *args: str, name: str, timeout_s: float = RUN_TIMEOUT_S) -> Result:
        p = self.start(*args, name=name)
        try:
            rc = p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            out, err = self.output(name)
            raise AssertionError(
                f"{name} did not finish in {timeout_s} s:\n{err[-3000:]}"
            ) from None
        out, err = self.output(name)
        return Result(rc, out, err)

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class Result:
    def __init__(self, rc: int, out: str, err: str) -> None:
        self.rc, self.out, self.err = rc, out, err

    def json(self) -> Any:
        try:
            return json.loads(self.out)
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON:\n{self.out[-2000:]}\n{self.err[-3000:]}") from None

    def __repr__(self) -> str:
        return f"exit {self.rc}\nstdout:\n{self.out[-2000:]}\nstderr:\n{self.err[-3000:]}"


@pytest.fixture
def stations(tmp_path: Path) -> Iterator[Stations]:
    s = Stations(tmp_path)
    try:
        yield s
    finally:
        s.close()


#: The station the session tests run: the built-in simulated one without the IMU glove
#: (no command here uses it, and it is over half the simulation's cost), in the config
#: file a technician would write (``~/.config/rehab-station/station.toml``).
STATION_TOML = 'schema = "rehab.config/1"\n\n[glove]\nfitted = false\n'


@pytest.fixture(scope="module")
def calibration(sim_calibrations: SimCalibrations) -> Path:
    """Calibration records of the station the session tests run (seed 1, as the commands
    use), made once by its simulated technician, so a session can start at once instead
    of calibrating at the paced speed."""
    cfg = config_mod.validate(tomllib.loads(STATION_TOML))
    return sim_calibrations.records(cfg, 1)


@pytest.fixture
def data_dir(tmp_path: Path, calibration: Path) -> Path:
    """A fresh station data directory that already has its calibration records, and the
    station's config file (``STATION_TOML``) where the commands look for it."""
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    shutil.copytree(calibration, d / "calibration")
    home = Path(station_env(tmp_path / "home")["HOME"])
    (home / ".config" / "rehab-station").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "rehab-station" / "station.toml").write_text(STATION_TOML)
    return d


def db_query(data_dir: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows from the station database opened read-only; [] while it or the table is missing."""
    path = data_dir / "station.db"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def trial_rows(data_dir: Path) -> list[tuple[Any, ...]]:
    return db_query(data_dir, f"SELECT {TRIAL_COLUMNS} FROM trials ORDER BY id")


def sessions(data_dir: Path) -> list[dict[str, Any]]:
    rows = db_query(
        data_dir,
        "SELECT id, session_uid, state, ended_reason, summary_msg_id FROM sessions ORDER BY id",
    )
    keys = ("id", "uid", "state", "ended_reason", "summary_msg_id")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def safety_events(data_dir: Path, session_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    rows = db_query(
        data_dir,
        "SELECT kind, code, detail FROM safety_events WHERE session_id=? ORDER BY id",
        (session_id,),
    )
    return [(k, c, json.loads(d)) for k, c, d in rows]


def wait_for_trial(p: subprocess.Popen[bytes], data_dir: Path) -> None:
    """Poll the journal until it holds a trial; the station must still be running then."""
    deadline = time.monotonic() + TRIAL_WAIT_S
    while not db_query(data_dir, "SELECT id FROM trials LIMIT 1"):
        assert p.poll() is None, f"the station exited ({p.returncode}) before its first trial"
        assert time.monotonic() < deadline, f"no trial journalled within {TRIAL_WAIT_S} s"
        time.sleep(0.05)
    assert p.poll() is None, "the session ended before it could be interrupted"


def outbox_json(stations: Stations, data_dir: Path, name: str) -> dict[str, Any]:
    r = stations.run("outbox", "--sim", "--json", "--data-dir", str(data_dir), name=name)
    assert r.rc == 0, r
    out: dict[str, Any] = r.json()
    return out


def validate_session(body: dict[str, Any]) -> None:
    """Valid ``rehab.session/1``: the station's own validator and jsonschema agree."""
    doc = schema_mod.load("rehab.session/1")
    assert schema_mod.errors(body, doc) == []
    jsonschema.Draft202012Validator(doc).validate(body)


def metric(body: dict[str, Any], name: str) -> dict[str, Any]:
    (proto,) = [p for p in body["protocols"] if p["protocol"] == "max_grip"]
    m: dict[str, Any] = proto["metrics"][name]
    return m


# -- 1. SIGKILL mid-session, restart: nothing lost, summarised once ------------------------


def test_sigkill_mid_session_then_restart_delivers_partial_summary_once(
    broker: Broker, stations: Stations, data_dir: Path
) -> None:
    clinic = Clinic(broker.port, subscriptions=(topics.ALL_SUMMARY,), auto_ack=True)
    try:
        dirs = ["--data-dir", str(data_dir), "--broker", broker.url]
        first = stations.start("run", "--sim", "--speed", "20", "--quiet", *dirs, name="first")
        wait_for_trial(first, data_dir)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        before = trial_rows(data_dir)
        (killed,) = sessions(data_dir)
        assert killed["state"] == "running" and killed["summary_msg_id"] is None
        assert before and {r[1] for r in before} == {killed["id"]}
        # Nothing was summarised before the kill: the clinic has seen no summary.
        assert clinic.messages.empty()

        # Global options before the subcommand this time.
        second = stations.run(*dirs, "run", "--sim", "--speed", "0", "--json", name="second")
        assert second.rc == 0, second
        new = second.json()
        assert new["state"] == "complete"

        # The journal after the restart: every trial journalled before the kill, unchanged.
        after = trial_rows(data_dir)
        assert after[: len(before)] == before
        assert {r[1] for r in after[len(before) :]} == {killed["id"] + 1}
        old, fresh = sessions(data_dir)
        assert old["id"] == killed["id"] and old["uid"] == killed["uid"]
        assert old["state"] == "incomplete"
        assert "restart" in old["ended_reason"] and "stopped during" in old["ended_reason"]
        assert ("interrupted", "S-RESTART", {"reason": "station restarted"}) in safety_events(
            data_dir, old["id"]
        )
        assert fresh["uid"] == new["session_id"] and fresh["summary_msg_id"] == new["msg_id"]
        assert old["summary_msg_id"] is not None

        # The clinic: both summaries arrived and were acknowledged.
        received: dict[str, list[dict[str, Any]]] = {}

        def drain() -> None:
            while not clinic.messages.empty():
                m = clinic.messages.get_nowait()
                assert m.topic == topics.summary(STATION_ID)
                env = json.loads(m.payload)
                received.setdefault(env["msg_id"], []).append(env)

        def both_acked() -> bool:
            drain()
            return {old["summary_msg_id"], new["msg_id"]} <= clinic.acked

        wait_until(both_acked, what="both summaries at the clinic")
        # The station processed the clinic's acknowledgements before it exited.
        ob = outbox_json(stations, data_dir, "outbox")
        drain()
    finally:
        clinic.close()

    # Exactly one summary (one msg_id) per session; copies on the wire are identical.
    by_session: dict[str, list[str]] = {}
    for msg_id, copies in received.items():
        assert all(c == copies[0] for c in copies)
        by_session.setdefault(copies[0]["body"]["session_id"], []).append(msg_id)
    assert by_session[old["uid"]] == [old["summary_msg_id"]]
    assert by_session[new["session_id"]] == [new["msg_id"]]

    partial = received[old["summary_msg_id"]][0]
    assert partial["schema"] == "rehab.session/1" and partial["station_id"] == STATION_ID
    body = partial["body"]
    validate_session(body)
    assert body["state"] == "incomplete" and body["complete"] is False
    assert body["ended_reason"] == old["ended_reason"]
    assert body["adherence"]["trials"] == len(before)
    (proto,) = body["protocols"]
    assert proto["protocol"] == "max_grip" and proto["trials"] == len(before)
    assert any(e["code"] == "S-RESTART" for e in body["safety_events"])
    assert body["data_quality"] == {"recovered": True}

    full = received[new["msg_id"]][0]["body"]
    assert full["state"] == "complete" and full["adherence"]["trials"] == 6

    assert ob["depth"] == 0 and ob["pending"] == 0 and ob["sent"] == 0
    assert ob["acknowledged"] == 2


# -- 2. SIGTERM mid-session: clean exit, incomplete, motors off ----------------------------


def test_sigterm_mid_session_exits_0_and_journals_incomplete(
    stations: Stations, data_dir: Path
) -> None:
    # --speed 0: the main thread is then mostly inside simulated I2C transactions, where a
    # signal handler that touched the bus itself used to deadlock the station.
    p = stations.start(
        "run", "--sim", "--speed", "0", "--json", "--data-dir", str(data_dir), name="term"
    )
    wait_for_trial(p, data_dir)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)  # a bound, not a performance figure: it normally exits at once
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("the station did not exit within 10 s of SIGTERM") from None
    out, err = stations.output("term")
    assert rc == 0, err[-3000:]
    summary = json.loads(out)

    (s,) = sessions(data_dir)
    assert s["state"] == "incomplete" and s["ended_reason"] == "SIGTERM received"
    assert s["summary_msg_id"] == summary["msg_id"]
    events = safety_events(data_dir, s["id"])
    assert ("signal", "S-SIGNAL", {"reason": "SIGTERM received"}) in events
    # The handler commands the motors off, then ends the session with S-SIGNAL (the motor
    # command itself is not journalled: the event is what is visible from outside).
    signal_events = [e for e in summary["safety_events"] if e["code"] == "S-SIGNAL"]
    assert len(signal_events) == 1 and signal_events[0]["kind"] == "signal"
    assert summary["state"] == "incomplete" and summary["complete"] is False
    trials = trial_rows(data_dir)
    assert 1 <= len(trials) < 6
    assert summary["adherence"]["trials"] == len(trials)
    assert summary["protocols"][0]["trials"] == len(trials)
    body = {k: v for k, v in summary.items() if k not in ("msg_id", "simulation")}
    validate_session(body)

    ob = outbox_json(stations, data_dir, "outbox")
    assert ob["depth"] == 1 and ob["pending"] == 1  # no broker: waits for the next start
    (row,) = db_query(data_dir, "SELECT msg_id, kind, body FROM outbox")
    assert row[0] == summary["msg_id"] and row[1] == "summary"
    assert json.loads(row[2]) == body


# -- 3. a whole session as JSON -------------------------------------------------------------


def test_run_sim_json_session_is_valid_and_measures_the_true_forces(
    stations: Stations, data_dir: Path
) -> None:
    args = ["--sim", "--profile", "typical", "--json", "--speed", "0", "--data-dir", str(data_dir)]
    r = stations.run("run", *args, name="run")
    assert r.rc == 0, r
    out = r.json()
    sim = out.pop("simulation")
    msg_id = out.pop("msg_id")
    validate_session(out)
    assert out["state"] == "complete" and out["complete"] is True
    assert out["plan_version"] == 1 and out["software_version"] == __version__
    assert out["safety_events"] == []
    assert out["adherence"]["trials"] == 6
    assert sim["profile"] == "typical"

    hands = sim["hands"]
    for role in ("involved", "uninvolved"):
        m = metric(out, f"{role}_mean_force")
        side = hands[role]
        peaks = sim["squeeze_peaks_n"][side]
        assert m["hand"] == side and m["unit"] == "N" and m["n"] == len(peaks) == 3
        truth = sum(peaks) / len(peaks)
        assert abs(m["value"] - truth) <= 0.3 + 0.25 * truth, (role, m["value"], peaks)
        best = metric(out, f"{role}_best_force")
        assert m["value"] <= best["value"]
        assert abs(best["value"] - max(peaks)) <= 0.3 + 0.25 * max(peaks), (role, best, peaks)

    # It went into this data directory: journal and outbox, one transaction's worth.
    (s,) = sessions(data_dir)
    assert s["uid"] == out["session_id"] and s["state"] == "complete"
    assert s["summary_msg_id"] == msg_id
    assert len(trial_rows(data_dir)) == 6
    ob = outbox_json(stations, data_dir, "outbox")
    assert ob["depth"] == 1 and ob["pending"] == 1


# -- 4. a maximal test the plan does not allow ----------------------------------------------


def no_maximal_tests_plan() -> dict[str, Any]:
    """A clinician's plan with maximal grip scheduled daily but maximal tests not allowed:
    the built-in simulated plan, a newer version, with the gate closed."""
    doc = copy.deepcopy(plan_mod.default_sim_plan(STATION_ID).raw)
    doc.update(plan_version=2, issued_by="clinician-test", gates={"maximal_tests": False})
    return doc


def test_session_max_grip_refused_when_plan_forbids_maximal_tests(
    stations: Stations, data_dir: Path
) -> None:
    doc = no_maximal_tests_plan()
    # A plan the station accepts (the clinic path's checks): the refusal is the gate.
    assert plans_mod.parse_plan(json.dumps(doc).encode(), STATION_ID) == doc
    assert plan_mod.from_dict(doc, STATION_ID).maximal_tests is False
    conn = sqlite3.connect(data_dir / "station.db")
    try:
        with conn:
            plans_mod.ensure_tables(conn)
            plans_mod.store_plan(conn, doc, "2026-01-01T08:00:00Z")
    finally:
        conn.close()

    r = stations.run(
        "session", "max_grip", "--sim", "--json", "--data-dir", str(data_dir), name="session"
    )
    assert r.rc == 1, r
    assert "max_grip is a maximal test" in r.err
    assert "does not allow maximal tests" in r.err
    assert r.out == ""
    assert sessions(data_dir) == [] and trial_rows(data_dir) == []
    assert outbox_json(stations, data_dir, "outbox")["depth"] == 0


# -- 5. usage ---------------------------------------------------------------------------------


def test_help_version_and_usage(stations: Stations) -> None:
    h = stations.run("--help", name="help")
    assert h.rc == 0, h
    assert h.out.startswith("usage: rehab-station")
    listed = {line.split()[0] for line in h.out.splitlines() if line.startswith("    ")}
    assert {"run", "session", "bench", "config", "outbox", "clinic"} <= listed

    v = stations.run("--version", name="version")
    assert v.rc == 0, v
    assert v.out.strip() == f"rehab-station {__version__}"

    bare = stations.run(name="bare")
    assert bare.rc == 2, bare
    assert "usage: rehab-station" in bare.out + bare.err

    bad = stations.run("session", "no_such_protocol", "--sim", name="bad")
    assert bad.rc == 2 and "invalid choice" in bad.err, bad


# -- 6. bench -----------------------------------------------------------------------------------


def test_bench_sim_json_figures(stations: Stations) -> None:
    r = stations.run("bench", "--sim", "--json", "--quick", "--seconds", "1", name="bench")
    assert r.rc == 0, r
    f = r.json()
    assert f["simulated"] is True
    assert f["start_s"] > 0 and f["first_start_s"] > 0
    a = f["acquisition"]
    assert a["seconds"] == pytest.approx(1.0, abs=0.005)  # the last poll may end a bus read late
    assert sorted(a["pad_rate_hz"]) == [str(i) for i in range(8)]
    for pad, hz in a["pad_rate_hz"].items():
        assert 95.0 <= hz <= 105.0, (pad, hz)  # ADS1115 pads scanned at 100 Hz
    for imu, hz in a["imu_rate_hz"].items():
        assert 95.0 <= hz <= 110.0, (imu, hz)  # LSM6DSOX ODR 104 Hz
    for bus, u in a["bus_utilisation"].items():
        assert 0.0 <= u <= 1.0, (bus, u)
    assert a["cpu_per_cycle_us"] > 0 and a["wire_per_cycle_us"] > 0

    b = f["biofeedback"]
    assert b["steps"] > 0 and b["goal_ms"] == 100.0
    for key in ("first_cell", "ninety_percent"):
        lat = b[key]
        assert 0 < lat["p50_ms"] <= lat["max_ms"] < 10_000, (key, lat)
    assert b["first_cell"]["p50_ms"] <= b["ninety_percent"]["p50_ms"]

    t = f["tracking"]
    lat = t["force_to_lcd"]
    assert 0 < lat["force_p50_ms"] <= lat["force_p99_ms"] < 1_000, lat
    assert 0 <= t["added_error_pct_of_rms"] < 100, t

    s = f["session"]
    assert s["state"] == "complete"
    assert s["simulated_s"] > 0 and s["wall_s"] > 0
    assert 0 < f["max_rss_mib"] < 4096
    assert f["lcd"]["full_redraw"]["wire_ms"] > f["lcd"]["one_char"]["wire_ms"] > 0
