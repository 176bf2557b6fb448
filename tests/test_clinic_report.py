"""The clinic database and report on a small known database: adherence, latest, trends, plots."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import struct
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from mqtt_bridge import schema
from mqtt_bridge.clinic_db import MAX_REJECTED_BYTES, ClinicDB, Stored
from mqtt_bridge.clinic_metrics import slope_per_week
from mqtt_bridge.clinic_plots import page_name, write_plots
from mqtt_bridge.clinic_report import build_report
from mqtt_bridge.clinic_sensory import change_words
from mqtt_bridge.clinic_sessions import seq_gaps
from mqtt_bridge.clinic_text import format_text

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)  # a Thursday, ISO week 2026-W48


def envelope(
    station: str, seq: int, body: dict[str, Any], schema: str = "rehab.session/1"
) -> dict[str, Any]:
    return {
        "schema": schema,
        "msg_id": str(uuid.uuid4()),
        "station_id": station,
        "seq": seq,
        "created_at": body.get("ended_at", "2026-11-20T10:00:00Z"),
        "clock_synced": True,
        "boot_id": "b-1",
        "body": body,
    }


def session(
    start: str,
    minutes: float,
    grip_n: float,
    u: float = 0.5,
    complete: bool = True,
    events: list[dict[str, Any]] | None = None,
    mdc: float | None = None,
) -> dict[str, Any]:
    metric: dict[str, Any] = {"value": grip_n, "unit": "N", "uncertainty": u, "n": 3}
    if mdc is not None:
        metric["mdc"] = mdc
    t = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    return {
        "session_id": f"s-{start}",
        "started_at": start,
        "ended_at": (t + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "complete": complete,
        "state": "complete" if complete else "stopped",
        "ended_reason": "" if complete else "pain rise",
        "protocols": [
            {
                "protocol": "max_grip",
                "trials": 3,
                "metrics": {
                    "involved_mean_force": metric,
                    "involved_trials": {"value": 3, "unit": "count"},
                },
            }
        ],
        "adherence": {"minutes": minutes, "trials": 3, "days_this_week": 1},
        "safety_events": events or [],
    }


@pytest.fixture
def db(tmp_path: Path):
    d = ClinicDB(tmp_path / "clinic.db")
    try:
        yield d
    finally:
        d.close()


def fill(db: ClinicDB, mdc: float | None = None) -> None:
    """Week 47: two sessions (Mon, Wed); week 48: three sessions on two days, one stopped.
    Grip rises 2 N per week exactly: 100 N on 2026-11-16, then +2/7 N a day."""
    starts = [
        ("2026-11-16T09:00:00Z", 10.0, True),
        ("2026-11-18T09:00:00Z", 12.0, True),
        ("2026-11-23T09:00:00Z", 8.0, True),
        ("2026-11-23T18:00:00Z", 5.0, False),
        ("2026-11-25T09:00:00Z", 15.0, True),
    ]
    t0 = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)
    with db.transaction():
        for seq, (start, minutes, complete) in enumerate(starts, 1):
            days = (dt.datetime.fromisoformat(start.replace("Z", "+00:00")) - t0).total_seconds()
            grip = 100.0 + 2.0 * days / 86400.0 / 7.0
            events = (
                []
                if complete
                else [{"at": start, "kind": "stop", "code": "S-PAIN", "detail": {"pain": 6}}]
            )
            body = session(
                start, minutes, round(grip, 3), complete=complete, events=events, mdc=mdc
            )
            assert db.store(envelope("st-0001", seq, body), "summary")


def test_clinic_db_store_is_idempotent_by_msg_id(db: ClinicDB) -> None:
    env = envelope("st-0001", 1, session("2026-11-16T09:00:00Z", 10, 100.0))
    with db.transaction():
        assert db.store(env, "summary") is Stored.NEW
    with db.transaction():
        assert db.store(env, "summary") is Stored.DUPLICATE
    assert [m["msg_id"] for m in db.messages()] == [env["msg_id"]]
    assert db.stations()[0]["max_seq"] == 1
    assert db.counters() == {"duplicates": 1}


def test_clinic_db_uses_wal_and_full_sync(db: ClinicDB, tmp_path: Path) -> None:
    assert db._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.integrity_check() == "ok"


def test_clinic_db_transaction_rolls_back_on_error(db: ClinicDB) -> None:
    env = envelope("st-0001", 1, session("2026-11-16T09:00:00Z", 10, 100.0))
    with pytest.raises(RuntimeError), db.transaction():
        db.store(env, "summary")
        raise RuntimeError("crash before commit")
    assert db.messages() == []


def test_clinic_db_rejects_unknown_kind(db: ClinicDB) -> None:
    env = envelope("st-0001", 1, {})
    with pytest.raises(ValueError, match="kind must be one of"), db.transaction():
        db.store(env, "plan")


def test_clinic_db_rejected_payload_is_truncated(db: ClinicDB) -> None:
    with db.transaction():
        db.reject("rehab/v1/stations/st-0001/summary", "not JSON", b"x" * (MAX_REJECTED_BYTES + 5))
    (r,) = db.rejected()
    assert len(r["payload"]) == MAX_REJECTED_BYTES
    assert r["reason"] == "not JSON"


def test_clinic_db_seq_gaps_lists_missing_seq(db: ClinicDB) -> None:
    with db.transaction():
        for seq in (3, 4, 7, 9):
            db.store(envelope("st-0001", seq, {}), "summary")
    assert seq_gaps(db, "st-0001") == [{"run": 1, "missing": [5, 6, 8]}]


def test_clinic_db_status_updates_station(db: ClinicDB) -> None:
    with db.transaction():
        db.store_status("st-0002", {"state": "online"}, at="2026-11-20T10:00:00Z")
        db.store_status("st-0002", {"state": "offline"}, at="2026-11-20T11:00:00Z")
    (st,) = db.stations()
    assert st["last_status"] == {"state": "offline"}
    assert st["last_seen"] == "2026-11-20T11:00:00Z"


def test_clinic_db_retained_status_replay_keeps_last_seen(db: ClinicDB) -> None:
    with db.transaction():
        db.store_status("st-0002", {"state": "online"}, at="2026-11-20T10:00:00Z")
        db.store_status("st-0002", {"state": "online"}, at="2026-11-21T09:00:00Z", seen=False)
    (st,) = db.stations()
    assert st["last_seen"] == "2026-11-20T10:00:00Z"
    assert st["status_at"] == "2026-11-21T09:00:00Z"


def test_clinic_report_adherence_per_week(db: ClinicDB) -> None:
    fill(db)
    a = build_report(db, now=NOW)["stations"][0]["adherence"]
    assert a["sessions"] == 5
    assert a["complete"] == 4
    assert a["completion_pct"] == 80.0
    assert a["per_week"] == [
        {
            "week": "2026-W47",
            "sessions": 2,
            "session_numbers": [1, 2],
            "complete": 2,
            "minutes": 22.0,
            "days_active": 2,
            "completion_pct": 100.0,
            "planned": None,
        },
        {
            "week": "2026-W48",
            "sessions": 3,
            "session_numbers": [3, 4, 5],
            "complete": 2,
            "minutes": 28.0,
            "days_active": 2,
            "completion_pct": 66.7,
            "planned": None,
        },
    ]
    assert a["days_active_this_week"] == 2
    assert a["sessions_this_week"] == 3
    assert a["minutes_this_week"] == 28.0
    assert (a["last_session"]["session"], a["last_session"]["at"]) == (5, "2026-11-25T09:00:00Z")
    assert a["missed_weeks"] == []


def test_clinic_report_this_week_is_empty_when_no_session(db: ClinicDB) -> None:
    fill(db)
    later = NOW + dt.timedelta(days=14)
    a = build_report(db, now=later)["stations"][0]["adherence"]
    assert (a["days_active_this_week"], a["sessions_this_week"], a["minutes_this_week"]) == (
        0,
        0,
        0,
    )


def test_clinic_report_latest_values_with_units_and_uncertainty(db: ClinicDB) -> None:
    fill(db)
    latest = build_report(db, now=NOW)["stations"][0]["latest"]
    by_name = {r["metric"]: r for r in latest}
    grip = by_name["involved_mean_force"]
    assert grip["value"] == pytest.approx(100.0 + 2.0 * 9 / 7, abs=1e-3)
    assert (grip["unit"], grip["uncertainty"], grip["at"]) == ("N", 0.5, "2026-11-25T09:00:00Z")
    assert (grip["session"], grip["session_id"], grip["older"]) == (
        5,
        "s-2026-11-25T09:00:00Z",
        False,
    )
    assert by_name["involved_trials"]["value"] == 3


def test_clinic_report_slope_and_change(db: ClinicDB) -> None:
    fill(db)
    (t,) = build_report(db, now=NOW)["stations"][0]["trends"]  # the count metric is not trended
    assert t["metric"] == "involved_mean_force"
    assert t["sessions"] == 5
    assert t["slope_per_week"] == pytest.approx(2.0, abs=1e-3)
    assert t["change"] == pytest.approx(2.0 * 9 / 7, abs=1e-3)
    # 2.6 N on 100 N: within 15 % of the first value (CLINICAL.md §11), so not flagged.
    assert t["mdc"] == pytest.approx(15.0)
    assert not t["flag"]
    assert "within the MDC (15 N)" in t["judgement"]


def test_clinic_report_judges_change_against_stated_mdc(db: ClinicDB) -> None:
    fill(db, mdc=2.0)
    (t,) = build_report(db, now=NOW)["stations"][0]["trends"]
    assert (t["mdc"], t["mdc_source"]) == (2.0, "stated by the station")
    assert t["flag"] and t["reading"] == "better"
    assert t["judgement"] == "REAL CHANGE (better): increase of 2.57 N exceeds the MDC (2 N)"


def test_clinic_report_slope_needs_two_distinct_times() -> None:
    assert slope_per_week([(0.0, 1.0)]) is None
    assert slope_per_week([(1.0, 1.0), (1.0, 2.0)]) is None
    assert slope_per_week([(0.0, 1.0), (7.0, 3.0)]) == pytest.approx(2.0)


def test_clinic_report_safety_events_and_text(db: ClinicDB) -> None:
    fill(db)
    rep = build_report(db, now=NOW)
    (ev,) = rep["stations"][0]["safety_events"]
    assert (ev["code"], ev["at"], ev["session"]) == ("S-PAIN", "2026-11-23T18:00:00Z", 4)
    text = format_text(rep)
    assert "== station st-0001" in text
    assert "5 sessions, 50 min, 4 complete (80 %" in text
    assert "slope 2 N/week" in text
    assert "session #4 (2026-11-23): a pain stop rule ended the session (pain 6) [S-PAIN]" in text
    json.dumps(rep)  # the --json output must serialise


def fill_unsynced(db: ClinicDB) -> None:
    """Four sessions in the station's order (seq), grip 100, 101, 102, 103 N; seq 2 and 4
    were made with the clock not synchronised (the Pi booted at 1970) and reached the clinic
    on 2026-11-18 and 2026-11-25."""
    starts = [
        ("2026-11-16T09:00:00Z", True, "2026-11-16T09:20:00.000Z"),
        ("1970-01-01T00:02:00Z", False, "2026-11-18T10:00:00.000Z"),
        ("2026-11-23T09:00:00Z", True, "2026-11-23T09:20:00.000Z"),
        ("1970-01-01T00:03:00Z", False, "2026-11-25T10:00:00.000Z"),
    ]
    with db.transaction():
        for seq, (start, synced, received) in enumerate(starts, 1):
            body = session(start, 10.0, 99.0 + seq, complete=synced)
            env = envelope("st-0001", seq, body)
            env["clock_synced"] = synced
            assert db.store(env, "summary", received_at=received)


def test_clinic_report_dates_unsynced_sessions_by_the_clinics_receive_time(
    db: ClinicDB, tmp_path: Path
) -> None:
    """Before, a session made with the station's clock not synchronised had no date at all:
    every line said "date unknown" and it counted in no week, although the clinic received
    each summary at a known time. Now it is dated by that time, in the station's order,
    and says so."""
    fill_unsynced(db)
    st = build_report(db, now=NOW)["stations"][0]
    latest = {r["metric"]: r for r in st["latest"]}["involved_mean_force"]
    assert (latest["value"], latest["at"], latest["time_source"]) == (
        103.0,
        "2026-11-25T10:00:00Z",
        "clinic_receipt",
    )
    (t,) = st["trends"]
    assert [p["value"] for p in t["points"]] == [100.0, 101.0, 102.0, 103.0]
    assert [p["at"] for p in t["points"]] == [
        "2026-11-16T09:00:00Z",
        "2026-11-18T10:00:00Z",
        "2026-11-23T09:00:00Z",
        "2026-11-25T10:00:00Z",
    ]
    assert (t["sessions"], t["receipt_dated"]) == (4, 2)
    assert (t["first"]["value"], t["last"]["value"], t["change"]) == (100.0, 103.0, 3.0)
    a = st["adherence"]
    assert (a["sessions"], a["complete"], a["receipt_dated_sessions"]) == (4, 2, 2)
    assert [(w["week"], w["session_numbers"]) for w in a["per_week"]] == [
        ("2026-W47", [1, 2]),
        ("2026-W48", [3, 4]),
    ]
    assert a["last_session"]["at"] == "2026-11-25T10:00:00Z"
    text = format_text(build_report(db, now=NOW))
    assert "date unknown" not in text
    assert "2 sessions with the station clock not synchronised: in the station's order, dated" in (
        text
    )
    assert "from session #4 (received 2026-11-25, station clock not synchronised)" in text
    paths = write_plots(build_report(db, now=NOW), tmp_path / "plots")
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_clinic_report_one_station_filter(db: ClinicDB) -> None:
    fill(db)
    with db.transaction():
        db.store(envelope("st-0002", 1, session("2026-11-20T09:00:00Z", 5, 50.0)), "summary")
    assert [s["station_id"] for s in build_report(db, now=NOW)["stations"]] == [
        "st-0001",
        "st-0002",
    ]
    assert [s["station_id"] for s in build_report(db, "st-0002", NOW)["stations"]] == ["st-0002"]


def test_clinic_report_plots_are_one_page_per_station_png_and_pdf(
    db: ClinicDB, tmp_path: Path
) -> None:
    fill(db, mdc=2.0)
    paths = write_plots(build_report(db, now=NOW), tmp_path / "plots")
    assert [p.name for p in paths] == ["st-0001.png", "st-0001.pdf"]
    data = paths[0].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR: A4 portrait at 100 dpi
    assert (width, height) == (827, 1169)
    assert paths[1].read_bytes()[:5] == b"%PDF-"


def test_clinic_report_page_name_is_filesystem_safe() -> None:
    assert page_name("st/../x", "png") == "st_.._x.png"


def test_clinic_db_file_is_plain_sqlite(db: ClinicDB) -> None:
    fill(db)
    conn = sqlite3.connect(db.path)
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 5
    conn.close()


def test_clinic_report_command_json_and_plots(db: ClinicDB, tmp_path: Path) -> None:
    fill(db, mdc=2.0)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "station",
            "clinic",
            "report",
            "--db",
            str(db.path),
            "--station",
            "st-0001",
            "--plots",
            str(tmp_path / "p"),
            "--json",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    (st,) = rep["stations"]
    assert st["adherence"]["sessions"] == 5
    assert [Path(p).name for p in rep["plots"]] == ["st-0001.png", "st-0001.pdf"]


def test_clinic_report_command_unknown_station_exits_1(db: ClinicDB) -> None:
    fill(db)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "station",
            "clinic",
            "report",
            "--db",
            str(db.path),
            "--station",
            "st-9999",
        ],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "no station 'st-9999'" in proc.stderr


def test_clinic_report_orders_sessions_across_a_seq_restart(db: ClinicDB) -> None:
    """seq restarts at 1 when a station's database is reset. Before, sessions were ordered
    by seq alone, so the new ones sorted among the old: the 'latest' value was an old one.
    Run 1: boot b-1, seq 1-3; run 2 (new SD card): boot b-2, seq 1-2; run 3: the database
    deleted without a reboot, still boot b-2, seq 1 again."""
    sessions = [  # (boot_id, seq, received day, grip N)
        ("b-1", 1, 2, 100.0),
        ("b-1", 2, 3, 101.0),
        ("b-1", 3, 4, 102.0),
        ("b-2", 1, 9, 110.0),
        ("b-2", 2, 10, 111.0),
        ("b-2", 1, 16, 120.0),
    ]
    with db.transaction():
        for boot, seq, day, grip in sessions:
            start = f"2026-11-{day:02d}T09:00:00Z"
            env = envelope("st-0001", seq, session(start, 10.0, grip))
            env["boot_id"] = boot
            assert db.store(env, "summary", received_at=f"2026-11-{day:02d}T09:30:00.000Z")
    st = build_report(db, now=NOW)["stations"][0]
    (t,) = st["trends"]
    assert [p["value"] for p in t["points"]] == [100.0, 101.0, 102.0, 110.0, 111.0, 120.0]
    latest = {r["metric"]: r for r in st["latest"]}["involved_mean_force"]
    assert (latest["value"], latest["at"]) == (120.0, "2026-11-16T09:00:00Z")
    assert (t["first"]["value"], t["last"]["value"], t["change"]) == (100.0, 120.0, 20.0)


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        (None, "plan: not reported by the station"),
        ({"version": None, "state": "none", "reason": ""}, "plan: none stored on the station"),
        ({"version": 4, "state": "in_force", "reason": ""}, "plan: plan_version 4 in force"),
        (
            {"version": 3, "state": "refused", "reason": "schedule[0].params.x: unknown"},
            "plan: plan_version 3 REFUSED by the station (schedule[0].params.x: unknown)",
        ),
    ],
)
def test_clinic_report_says_what_the_station_made_of_its_plan(
    db: ClinicDB, plan: dict[str, Any] | None, words: str
) -> None:
    fill(db)
    status: dict[str, Any] = {"state": "online"}
    if plan is not None:
        status["plan"] = plan
    with db.transaction():
        db.store_status("st-0001", status, at="2026-11-26T10:00:00Z")
    text = format_text(build_report(db, now=NOW))
    assert text.splitlines()[3].startswith(words)


# -- sensory protocols ------------------------------------------------------------------


def threshold(
    value: float | None,
    ci95: list[float],
    mode: str = "assessment",
    site: int = 0,
    unit: str = "dB",
    real_change: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``site{n}_threshold`` metric as ``docs/mqtt-contract.md`` describes it; the 68 %
    interval is the middle half of the 95 % one."""
    lo, hi = ci95
    m: dict[str, Any] = {
        "value": value,
        "unit": unit,
        "uncertainty": round((hi - lo) / 4, 3),
        "ci68": [round(lo + (hi - lo) / 4, 3), round(hi - (hi - lo) / 4, 3)],
        "ci95": ci95,
        "interval": "posterior credible interval"
        if mode == "assessment"
        else "likelihood interval over all trials",
        "site": site,
        "hand": "right",
        "mode": mode,
        "procedure": "quest_plus" if mode == "assessment" else "weighted_up_down",
    }
    if unit == "dB" and value is not None:
        m["physical"] = {
            "value": round(10 ** (value / 20), 4),
            "unit": "g",
            "ci95": [round(10 ** (lo / 20), 4), round(10 ** (hi / 20), 4)],
        }
    if real_change is not None:
        m["real_change"] = real_change
    return m


def site_metrics(
    n: int, thr: dict[str, Any], trials: int, pc: float, catch: bool = True
) -> dict[str, Any]:
    out = {
        f"site{n}_threshold": thr,
        f"site{n}_trials": {"value": trials, "unit": "count"},
        f"site{n}_percent_correct": {"value": pc, "unit": "%", "n": trials},
        f"site{n}_contact_compliance": {"value": 96.0, "unit": "%", "repeats": 2},
    }
    if catch:
        out[f"site{n}_catch_correct"] = {"value": 100.0, "unit": "%", "n": 5}
        out[f"site{n}_lapse"] = {"value": 0.02, "unit": "1", "uncertainty": 0.015}
    return out


def sensory_session(sid: str, start: str, protocols: list[dict[str, Any]]) -> dict[str, Any]:
    """A complete ``rehab.session/1`` body of sensory protocols (checked against the schema
    where it is stored)."""
    t = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    return {
        "session_id": sid,
        "started_at": start,
        "ended_at": (t + dt.timedelta(minutes=12)).isoformat().replace("+00:00", "Z"),
        "state": "complete",
        "complete": True,
        "ended_reason": "",
        "protocols": protocols,
        "adherence": {"minutes": 12.0, "trials": 60, "days_this_week": 1},
        "checkin": {
            "pain_before": 1,
            "pain_after": 1,
            "new_numbness": False,
            "wound_problem": False,
        },
        "safety_events": [],
        "data_quality": {"bus_errors": 0, "overruns": 0, "calibration_age_days": 3},
        "software_version": "0.2.0",
        "plan_version": 4,
    }


def vibration(metrics: dict[str, Any], seconds: float = 40.0) -> dict[str, Any]:
    return {
        "protocol": "vibration_threshold",
        "trials": sum(m["value"] for k, m in metrics.items() if k.endswith("_trials")),
        "metrics": {
            **metrics,
            "vibration_time": {"value": seconds, "unit": "s"},
            "vibration_a8": {"value": 0.004, "unit": "m/s2"},
        },
    }


#: The 95 % intervals of the first assessment (session s-1), site 1 and site 2.
FIRST_SITE0, FIRST_SITE1 = [-18.0, -14.5], [-16.0, -12.0]


def sensory_week(flag_direction: str = "better") -> list[tuple[str, str, dict[str, Any]]]:
    """(session_id, start, body) for a post-operative week: a vibration threshold assessment
    on Monday 16 and Monday 23 November (sites 1 and 2, right hand), and vibration threshold
    and texture discrimination training on the days between. Site 1 improves 4.1 dB with
    separated 95 % intervals; site 2 moves 1.1 dB within overlapping ones."""
    first = vibration(
        site_metrics(0, threshold(-16.2, FIRST_SITE0), 50, 76.0)
        | site_metrics(1, threshold(-14.0, FIRST_SITE1, site=1), 50, 74.0)
    )
    second = vibration(
        site_metrics(
            0,
            threshold(
                -20.3,
                [-21.9, -18.7],
                real_change={
                    "flag": True,
                    "direction": flag_direction,
                    "previous_session": "s-1",
                    "previous_value": -16.2,
                    "previous_ci95": FIRST_SITE0,
                    "rule": "95 % intervals do not overlap",
                },
            ),
            50,
            78.0,
        )
        | site_metrics(
            1,
            threshold(
                -15.1,
                [-17.0, -13.3],
                site=1,
                real_change={
                    "flag": False,
                    "direction": None,
                    "previous_session": "s-1",
                    "previous_value": -14.0,
                    "previous_ci95": FIRST_SITE1,
                    "rule": "intervals overlap",
                },
            ),
            50,
            75.0,
        )
    )

    def training(vib: float, texture: float, pc: float) -> list[dict[str, Any]]:
        return [
            vibration(
                site_metrics(0, threshold(vib, [vib - 2.5, vib + 2.5], "training"), 30, pc, False)
            ),
            {
                "protocol": "texture_discrimination",
                "trials": 30,
                "metrics": site_metrics(
                    0,
                    threshold(
                        texture, [texture - 0.08, texture + 0.1], "training", unit="log10 ratio"
                    ),
                    30,
                    pc,
                    False,
                ),
            },
        ]

    return [
        ("s-1", "2026-11-16T09:00:00Z", sensory_session("s-1", "2026-11-16T09:00:00Z", [first])),
        (
            "s-2",
            "2026-11-17T09:00:00Z",
            sensory_session("s-2", "2026-11-17T09:00:00Z", training(-17.0, 0.3, 77.0)),
        ),
        (
            "s-3",
            "2026-11-19T09:00:00Z",
            sensory_session("s-3", "2026-11-19T09:00:00Z", training(-18.5, 0.2, 80.0)),
        ),
        ("s-4", "2026-11-23T09:00:00Z", sensory_session("s-4", "2026-11-23T09:00:00Z", [second])),
    ]


def fill_sensory(db: ClinicDB, station: str = "st-0003", **week: Any) -> None:
    with db.transaction():
        for seq, (_, _, body) in enumerate(sensory_week(**week), 1):
            assert schema.errors(body, schema.load("rehab.session/1")) == []
            assert db.store(envelope(station, seq, body), "summary")


def test_clinic_report_sensory_assessments_keep_their_intervals(db: ClinicDB) -> None:
    fill_sensory(db)
    sens = build_report(db, now=NOW)["stations"][0]["sensory"]
    assert sens["note"].startswith("lower thresholds are better")
    keys = [(g["protocol"], g["site"], g["hand"]) for g in sens["series"]]
    assert keys == [
        ("texture_discrimination", 0, "right"),
        ("vibration_threshold", 0, "right"),
        ("vibration_threshold", 1, "right"),
    ]
    site1 = sens["series"][1]
    assert (site1["label"], site1["unit"]) == ("site 1 (right)", "dB")
    first, second = site1["assessments"]
    assert (first["session"], first["session_id"], first["at"]) == (
        1,
        "s-1",
        "2026-11-16T09:00:00Z",
    )
    assert (first["value"], first["ci95"], first["ci68"]) == (
        -16.2,
        FIRST_SITE0,
        [-17.125, -15.375],
    )
    assert (second["session"], second["value"], second["ci95"]) == (4, -20.3, [-21.9, -18.7])
    assert second["physical"] == {"value": 0.0966, "unit": "g", "ci95": [0.0804, 0.1161]}
    assert (second["trials"], second["percent_correct"], second["lapse"]) == (50, 78.0, 0.02)
    assert second["catch_correct"] == {"value": 100.0, "n": 5}
    assert second["contact_compliance"] == {"value": 96.0, "repeats": 2}
    assert (second["procedure"], second["interval"]) == (
        "quest_plus",
        "posterior credible interval",
    )


def test_clinic_report_sensory_training_is_apart_from_assessments(db: ClinicDB) -> None:
    fill_sensory(db)
    series = build_report(db, now=NOW)["stations"][0]["sensory"]["series"]
    texture, site1, site2 = series
    assert [
        (t["session"], t["value"], t["percent_correct"], t["trials"]) for t in site1["training"]
    ] == [
        (2, -17.0, 77.0, 30),
        (3, -18.5, 80.0, 30),
    ]
    assert site1["training"][0]["interval"] == "likelihood interval over all trials"
    assert site2["training"] == []
    assert (texture["unit"], texture["assessments"]) == ("log10 ratio", [])
    assert [t["value"] for t in texture["training"]] == [0.3, 0.2]


def test_clinic_report_sensory_real_change_in_plain_words(db: ClinicDB) -> None:
    fill_sensory(db)
    sens = build_report(db, now=NOW)["stations"][0]["sensory"]
    assert sens["flags"] == [
        "site 1 (right): vibration threshold 4.1 dB lower than on 2026-11-16, outside both "
        "95 % intervals (a real change: better)"
    ]
    (unflagged,) = sens["series"][2]["changes"]
    assert unflagged == {
        "session_id": "s-4",
        "flag": False,
        "text": "site 2 (right): vibration threshold 1.1 dB lower than on 2026-11-16; the "
        "95 % intervals overlap: not a real change",
    }
    assert sens["problems"] == []


def test_clinic_report_sensory_text_section(db: ClinicDB) -> None:
    fill_sensory(db)
    text = format_text(build_report(db, now=NOW))
    lines = text.splitlines()
    start = lines.index(
        "sensory thresholds (lower thresholds are better: a lower threshold means finer sensation):"
    )
    assert lines[start + 1 : start + 5] == [
        "  texture_discrimination site 1 (right), log10 ratio (log10 of the groove-width ratio):",
        "    training (2 sessions):",
        "      #2 2026-11-17  0.3 log10 ratio  68 % [0.265, 0.355]  95 % [0.22, 0.4]; "
        "30 trials, 77 % correct, contact in band 96 %, 2 repeated",
        "      #3 2026-11-19  0.2 log10 ratio  68 % [0.165, 0.255]  95 % [0.12, 0.3]; "
        "30 trials, 80 % correct, contact in band 96 %, 2 repeated",
    ]
    assert (
        "      #4 2026-11-23  -20.3 dB  68 % [-21.1, -19.5]  95 % [-21.9, -18.7]  = 0.0966 g "
        "(95 % [0.0804, 0.1161]); 50 trials, 78 % correct, catch 100 % of 5, lapse 0.02, "
        "contact in band 96 %, 2 repeated"
    ) in lines
    assert "real-change flags: 1" in lines
    assert (
        "  site 1 (right): vibration threshold 4.1 dB lower than on 2026-11-16, outside both "
        "95 % intervals (a real change: better)"
    ) in lines


def test_clinic_report_sensory_site_metrics_are_not_generic_trends(db: ClinicDB) -> None:
    """A trend over training and assessment thresholds together would mix two procedures:
    the per-site metrics are in the sensory section only, the dose stays a trend."""
    fill_sensory(db)
    st = build_report(db, now=NOW)["stations"][0]
    assert sorted({(t["protocol"], t["metric"]) for t in st["trends"]}) == [
        ("vibration_threshold", "vibration_a8"),
        ("vibration_threshold", "vibration_time"),
    ]
    assert not any(r["metric"].startswith("site") for r in st["latest"])


def test_clinic_report_sensory_verdict_against_lower_is_better_is_questioned(
    db: ClinicDB,
) -> None:
    """A station that calls a 4.1 dB lower threshold "worse" has lower = better backwards."""
    fill_sensory(db, flag_direction="worse")
    (flag,) = build_report(db, now=NOW)["stations"][0]["sensory"]["flags"]
    assert flag.endswith(
        "(a real change: worse); lower is better, so this reads better: check the station"
    )


def test_clinic_report_sensory_inverted_interval_is_left_out_and_said(db: ClinicDB) -> None:
    """The schema cannot compare an interval's two ends: the report refuses lo > hi."""
    week = sensory_week()
    body = week[0][2]
    body["protocols"][0]["metrics"]["site0_threshold"]["ci95"] = [-14.5, -18.0]
    with db.transaction():
        for seq, (_, _, b) in enumerate(week, 1):
            db.store(envelope("st-0003", seq, b), "summary")
    sens = build_report(db, now=NOW)["stations"][0]["sensory"]
    assert sens["series"][1]["assessments"][0]["ci95"] is None
    assert sens["problems"] == [
        "session 1 (s-1) vibration_threshold site 1: ci95 [-14.5, -18.0] is not [lo, hi]: left out"
    ]
    assert "  left out: session 1 (s-1) vibration_threshold site 1: ci95" in format_text(
        build_report(db, now=NOW)
    )


def test_clinic_report_sensory_previous_assessment_without_a_date(db: ClinicDB) -> None:
    week = sensory_week()
    with db.transaction():
        for seq, (_, _, body) in enumerate(week, 1):
            env = envelope("st-0003", seq, body)
            env["clock_synced"] = seq != 1
            db.store(env, "summary")
    (flag,) = build_report(db, now=NOW)["stations"][0]["sensory"]["flags"]
    assert flag.startswith(
        "site 1 (right): vibration threshold 4.1 dB lower than in session #1 (received "
        f"{db.now()[:10]}: station clock not synchronised), outside both 95 % intervals"
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_clinic_report_sensory_plot_per_station(db: ClinicDB, tmp_path: Path) -> None:
    fill_sensory(db)
    paths = write_plots(build_report(db, now=NOW), tmp_path / "plots")
    assert [p.name for p in paths] == ["st-0003.png", "st-0003.pdf"]
    # Two sensory protocols, a panel each, below grip and pain, above the calendar: five
    # panels still fit an A4 page at 100 dpi.
    assert png_size(paths[0]) == (827, 1169)


def test_clinic_report_sensory_plot_on_a_session_axis_when_undated(
    db: ClinicDB, tmp_path: Path
) -> None:
    with db.transaction():
        for seq, (_, _, body) in enumerate(sensory_week(), 1):
            env = envelope("st-0003", seq, body)
            env["clock_synced"] = False
            db.store(env, "summary")
    paths = write_plots(build_report(db, now=NOW), tmp_path / "plots")
    assert png_size(tmp_path / "plots" / "st-0003.png") == (827, 1169)
    assert len(paths) == 2


def test_clinic_report_command_json_has_the_sensory_section(db: ClinicDB, tmp_path: Path) -> None:
    fill_sensory(db)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "station",
            "clinic",
            "report",
            "--db",
            str(db.path),
            "--plots",
            str(tmp_path / "p"),
            "--json",
        ],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (st,) = json.loads(proc.stdout)["stations"]
    assert [a["value"] for a in st["sensory"]["series"][1]["assessments"]] == [-16.2, -20.3]
    assert len(st["sensory"]["flags"]) == 1
    assert (tmp_path / "p" / "st-0003.png").is_file()


def test_clinic_report_sensory_previous_assessment_not_received(db: ClinicDB) -> None:
    """The station compared with an assessment the clinic has not (yet) received."""
    week = sensory_week()[1:]
    with db.transaction():
        for seq, (_, _, body) in enumerate(week, 2):
            db.store(envelope("st-0003", seq, body), "summary")
    (flag,) = build_report(db, now=NOW)["stations"][0]["sensory"]["flags"]
    assert flag.startswith(
        "site 1 (right): vibration threshold 4.1 dB lower than in session s-1 (not in the "
        "clinic database), outside both 95 % intervals"
    )


def test_clinic_report_sensory_change_held_across_sessions_in_words() -> None:
    """The second rule, on a ratio scale: the change is given in log10 and as a ratio."""
    s1 = {"session_id": "s-1", "start": NOW - dt.timedelta(days=14), "dated": True}
    g = {"protocol": "texture_discrimination", "label": "site 1 (left)", "unit": "log10 ratio"}
    a = {
        "value": 0.2,
        "ci95": [0.12, 0.28],
        "real_change": {
            "flag": True,
            "direction": "better",
            "previous_session": "s-1",
            "previous_value": 0.3,
            "previous_ci95": [0.2, 0.4],
            "rule": "change held across two sessions",
        },
    }
    assert change_words(g, a, {"s-1": (1, s1)}) == (
        "site 1 (left): texture discrimination threshold 0.10 log10 (ratio x0.79) lower than "
        "on 2026-11-12, a change held across two sessions (a real change: better)"
    )


def motor_session(day: int, rmse: float, cv: float, flag: bool) -> dict[str, Any]:
    body = session(f"2026-11-{day:02d}T09:00:00Z", 10.0, 100.0)
    body["protocols"] = [
        {
            "protocol": "force_tracking",
            "trials": 4,
            "metrics": {
                "rmse": {"value": rmse, "unit": "N", "ci95": [rmse - 0.2, rmse + 0.2]},
                "involved_cv": {"value": cv, "unit": "%", "uncertainty": 0.5},
                "real_change_probe": {
                    "value": rmse,
                    "unit": "N",
                    "real_change": {"flag": flag, "rule": "95 % intervals do not overlap"},
                },
            },
        }
    ]
    return body


def test_clinic_report_any_protocols_metrics_generically(db: ClinicDB) -> None:
    """A protocol the report has never heard of: each metric value ± uncertainty with its
    unit and session; a 95 % interval alone gives the uncertainty; a steadiness CV is an
    outcome (only max_grip's CV note says "data quality only"); the station's own verdict
    is kept and said."""
    with db.transaction():
        db.store(envelope("st-0004", 1, motor_session(16, 2.0, 8.0, False)), "summary")
        db.store(envelope("st-0004", 2, motor_session(23, 1.0, 7.8, True)), "summary")
    st = build_report(db, now=NOW)["stations"][0]
    latest = {r["metric"]: r for r in st["latest"]}
    assert (latest["rmse"]["value"], latest["rmse"]["session"]) == (1.0, 2)
    assert latest["rmse"]["uncertainty"] == pytest.approx(0.2 / 1.96)
    trends = {t["metric"]: t for t in st["trends"]}
    # 1 N less error, beyond 1.96 x hypot(0.102, 0.102) = 0.28 N: real, and better.
    assert (trends["rmse"]["flag"], trends["rmse"]["reading"]) == (True, "better")
    assert trends["rmse"]["mdc"] is None and trends["rmse"]["threshold"] == pytest.approx(0.283)
    assert not trends["involved_cv"]["flag"]
    assert "within the measurements' interval" in trends["involved_cv"]["judgement"]
    text = format_text(build_report(db, now=NOW))
    assert "force_tracking.rmse: 1 ± 0.1 N  from session #2 (2026-11-23)" in text
    assert "the station's verdict on its last session: a real change (95 % intervals" in text
