"""The clinic report as a hand therapist reads it (issue 16): each defect found when it was
tried gets a test here, on a real SQLite clinic database through the real command.

One patient, six sessions over three weeks, then a missed week; session 3 stopped by a pain
rule, session 4 made with the station's clock not synchronised, session 5 killed by
SIGTERM after one squeeze, session 6 "complete" with no trial; then the station's database
was reset (a new run with ``seq`` 1: a failed self-test).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from station import cli

STATION = "st-0100"
NOW = "2026-12-01T12:00:00Z"  # ISO week 2026-W49: week 48 had no session


def grip(value: float, u: float, hand: str, n: int = 3) -> dict[str, Any]:
    return {"value": value, "unit": "N", "uncertainty": u, "hand": hand, "n": n}


def body(
    number: int,
    start: str,
    *,
    involved: tuple[float, float] | None,
    uninvolved: tuple[float, float] | None,
    pain: tuple[int | None, int | None] = (2, 2),
    state: str = "complete",
    events: list[dict[str, Any]] | None = None,
    pain_stop_rule: str | None = None,
    trials: int | None = None,
) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for role, m, hand in (("involved", involved, "right"), ("uninvolved", uninvolved, "left")):
        metrics[f"{role}_trials"] = {"value": 0 if m is None else 3, "unit": "count"}
        if m is not None:
            metrics[f"{role}_mean_force"] = grip(m[0], m[1], hand)
    n = trials if trials is not None else sum(3 for m in (involved, uninvolved) if m)
    protocols = [{"protocol": "max_grip", "trials": n, "metrics": metrics}] if n else []
    return {
        "session_id": f"s-{number}",
        "started_at": start,
        "ended_at": start[:-3] + "09Z",
        "complete": state == "complete",
        "state": state,
        "ended_reason": "" if state == "complete" else "ended early",
        "protocols": protocols,
        "adherence": {"minutes": 9.0, "trials": n, "days_this_week": 1},
        "checkin": {
            "pain_before": pain[0],
            "pain_after": pain[1],
            "new_numbness": False,
            "wound_problem": False,
            "pain_stop_rule": pain_stop_rule,
        },
        "safety_events": events or [],
        "data_quality": {
            "bus_errors": 0,
            "calibration": {"pad0": {"version": 1, "date": "2026-10-01T09:00:00Z"}},
        },
        "software_version": "0.1.0",
        "plan_version": 1,
    }


PAIN_RISE = {
    "t_s": 300.0,
    "at": "2026-11-09T09:05:00Z",
    "kind": "pain_rise",
    "code": "S-PAIN",
    "detail": {
        "scope": "session",
        "reason": "pain rose from 2 to 5",
        "pain_before": 2,
        "pain_now": 5,
        "rise_limit": 2,
    },
}
SIGTERM = {
    "t_s": 40.0,
    "at": "2026-11-18T09:00:40Z",
    "kind": "signal",
    "code": "S-SIGNAL",
    "detail": {"reason": "SIGTERM"},
}
#: (seq, clock synced, received at, body)
MONTH = [
    (
        40,
        True,
        "2026-11-02T09:10:00.000Z",
        body(1, "2026-11-02T09:00:00Z", involved=(9.0, 0.9), uninvolved=(14.0, 1.4)),
    ),
    (
        41,
        True,
        "2026-11-04T09:10:00.000Z",
        body(2, "2026-11-04T09:00:00Z", involved=(9.5, 0.9), uninvolved=(14.2, 1.4)),
    ),
    (
        42,
        True,
        "2026-11-09T09:10:00.000Z",
        body(
            3,
            "2026-11-09T09:00:00Z",
            involved=(10.0, 1.0),
            uninvolved=(14.0, 1.4),
            pain=(2, 5),
            state="stopped",
            events=[PAIN_RISE],
            pain_stop_rule="pain_rise",
        ),
    ),
    (
        43,
        False,
        "2026-11-16T10:00:00.000Z",
        body(4, "1970-01-01T00:02:00Z", involved=(12.0, 0.6), uninvolved=(14.1, 0.7)),
    ),
    (
        44,
        True,
        "2026-11-18T09:10:00.000Z",
        body(
            5,
            "2026-11-18T09:00:00Z",
            involved=(12.5, 1.0),
            uninvolved=None,
            state="incomplete",
            events=[SIGTERM],
            pain=(2, None),
            trials=1,
        ),
    ),
    (
        45,
        True,
        "2026-11-20T09:10:00.000Z",
        body(6, "2026-11-20T09:00:00Z", involved=None, uninvolved=None, trials=0),
    ),
]


def envelope(seq: int, synced: bool, payload: dict[str, Any], schema: str, boot: str) -> dict:
    return {
        "schema": schema,
        "msg_id": str(uuid.uuid4()),
        "station_id": STATION,
        "seq": seq,
        "created_at": payload.get("ended_at") or "2026-11-21T08:00:00Z",
        "clock_synced": synced,
        "boot_id": boot,
        "body": payload,
    }


@pytest.fixture(scope="module")
def clinic_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mqtt_bridge.clinic_db import ClinicDB

    path = tmp_path_factory.mktemp("review") / "clinic.db"
    with ClinicDB(path) as db, db.transaction():
        for seq, synced, received, b in MONTH:
            env = envelope(seq, synced, b, "rehab.session/1", "boot-1")
            assert db.store(env, "summary", received_at=received)
        # The station's database was reset: a new run, seq 1 again, a failed self-test.
        selftest = {
            "passed": False,
            "checks": [{"name": "pad 2", "status": "FAIL", "detail": "no answer at 0x49"}],
        }
        env = envelope(1, True, selftest, "rehab.selftest/1", "boot-2")
        assert db.store(env, "selftest", received_at="2026-11-21T08:00:00.000Z")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert cli.main(["clinic", *argv]) == 0
    return capsys.readouterr().out


def report(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> dict[str, Any]:
    out = run(capsys, "report", "--db", str(db), "--json", *extra)
    (st,) = json.loads(out)["stations"]
    return st


def text(capsys: pytest.CaptureFixture[str], db: Path) -> str:
    return run(capsys, "report", "--db", str(db))


def test_clinic_review_pain_and_checkin_per_session_with_the_stop_rule(
    clinic_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: no pain or check-in data at all in the report."""
    st = report(capsys, clinic_db)
    rows = {r["session"]: r for r in st["checkin"]}
    assert (rows[1]["pain_before"], rows[1]["pain_after"], rows[1]["stop_rules"]) == (2, 2, [])
    assert (rows[3]["pain_before"], rows[3]["pain_at_rules"], rows[3]["pain_after"]) == (2, [5], 5)
    assert rows[3]["stop_rules"] == ["pain_rise"]
    assert rows[5]["pain_after"] is None  # killed before the end question
    out = text(capsys, clinic_db)
    assert (
        "#3 2026-11-09: pain before 2, 5 when a rule fired, after 5; new numbness no, wound "
        "problem no; STOP RULE: pain rose by the plan's step since the check-in: stop rule"
    ) in out


def test_clinic_review_safety_events_in_plain_words(
    clinic_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``S-SIGNAL SIGTERM received`` and raw JSON details."""
    out = text(capsys, clinic_db)
    events = out.split("safety events: 2\n", 1)[1].splitlines()[:2]
    assert events == [
        "  session #3 (2026-11-09): pain rose by the plan's step since the check-in: stop rule "
        "(pain rose from 2 to 5) [S-PAIN]",
        "  session #5 (2026-11-18): the station was shut down or restarted during the session "
        "(SIGTERM: the service was stopped) [S-SIGNAL]",
    ]
    assert "{" not in out


def test_clinic_review_latest_results_name_their_session(
    clinic_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: "latest results" took the involved hand from the killed one-squeeze session
    5 and the uninvolved from session 4 without saying so."""
    st = report(capsys, clinic_db)
    latest = {r["metric"]: r for r in st["latest"]}
    inv, uninv = latest["involved_mean_force"], latest["uninvolved_mean_force"]
    assert (inv["session"], inv["state"], inv["trials"], inv["older"]) == (
        5,
        "incomplete",
        1,
        False,
    )
    assert (uninv["session"], uninv["older"], uninv["protocol_latest_session"]) == (4, True, 5)
    out = text(capsys, clinic_db)
    assert (
        "max_grip.uninvolved_mean_force left hand: 14.1 ± 0.7 N  from session #4 (received "
        "2026-11-16, station clock not synchronised); NOT the latest max_grip session (#5, "
        "which did not measure it)"
    ) in out


def test_clinic_review_a_session_with_no_trial_is_not_complete(
    clinic_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: session 6 (complete, 0 trials) counted as complete: 4 of 6, 66.7 %."""
    a = report(capsys, clinic_db)["adherence"]
    assert (a["sessions"], a["complete"], a["completion_pct"]) == (6, 3, 50.0)
    assert a["no_trial_sessions"] == 1


def test_clinic_review_symmetry_is_adjusted_for_handedness(
    clinic_db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Before: 64 % (involved 9 N / uninvolved 14 N) with no word that the involved hand is
    the dominant one, which a right-hander's is 12.7 % stronger (CLINICAL.md §2.4)."""
    db = tmp_path / "clinic.db"
    db.write_bytes(clinic_db.read_bytes())
    run(capsys, "station", "--db", str(db), "--station", STATION, "--handedness", "right")
    sym = report(capsys, db, "--as-of", NOW)["symmetry"]
    assert (sym["handedness"], sym["involved_hand"], sym["expected_pct"]) == (
        "right",
        "right",
        112.7,
    )
    first, last = sym["points"][0], sym["points"][-1]
    assert (first["session"], first["raw_pct"], first["adjusted_pct"]) == (1, 64.3, 57.0)
    # Session 5 measured one hand only: the latest ratio is session 4's, never 5 against 4.
    assert (last["session"], last["raw_pct"], last["adjusted_pct"]) == (4, 85.1, 75.5)
    # A left-hander's hands are equal: the same grips are not adjusted.
    run(capsys, "station", "--db", str(db), "--station", STATION, "--handedness", "left")
    sym = report(capsys, db, "--as-of", NOW)["symmetry"]
    assert (sym["expected_pct"], sym["points"][0]["adjusted_pct"]) == (100.0, 64.3)


def test_clinic_review_trends_flag_real_change_against_mdc_or_interval(
    clinic_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: every trend said "no minimal detectable change stated ... change not judged".
    Involved grip 9.0 ± 0.9 -> 12.5 ± 1.0 N: the MDC (15 % of 9 N = 1.35 N) is below the
    measurements' own 95 % interval (1.96 x hypot(0.9, 1.0) = 2.64 N), which the 3.5 N
    rise exceeds. Uninvolved 14.0 -> 14.1 N stays within."""
    trends = {t["metric"]: t for t in report(capsys, clinic_db)["trends"]}
    inv = trends["involved_mean_force"]
    assert (inv["change"], inv["mdc"], inv["interval95"], inv["threshold"]) == (
        3.5,
        1.35,
        2.637,
        2.637,
    )
    assert (inv["flag"], inv["reading"]) == (True, "better")
    assert inv["judgement"] == (
        "REAL CHANGE (better): increase of 3.5 N exceeds the measurements' interval (2.64 N)"
    )
    uninv = trends["uninvolved_mean_force"]
    assert not uninv["flag"] and "not distinguishable from measurement error" in uninv["judgement"]
    assert (
        "not judged" in trends["involved_trials"]["judgement"]
        if "involved_trials" in trends
        else True
    )


def test_clinic_review_unsynced_clock_is_dated_by_the_clinics_receipt(
    clinic_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: every line of a session made with the clock not synchronised said "date
    unknown", though the clinic received it at a known time."""
    assert "date unknown" not in text(capsys, clinic_db)
    st = report(capsys, clinic_db)
    (s4,) = [s for s in st["sessions"] if s["session"] == 4]
    assert (s4["at"], s4["time_source"]) == ("2026-11-16T10:00:00Z", "clinic_receipt")
    assert [w["session_numbers"] for w in st["adherence"]["per_week"][:5]] == [
        [1, 2],
        [3],
        [4, 5, 6],
        [],
        [],
    ]


def test_clinic_review_a_reset_station_has_no_invented_gaps(
    clinic_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: after the reset (seq 1 again) the report listed seq 2-39 as not received."""
    st = report(capsys, clinic_db)
    assert st["missing_seq"] == []
    assert "not received" not in text(capsys, clinic_db)


def test_clinic_review_attention_flags(clinic_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    st = report(capsys, clinic_db, "--as-of", NOW)
    assert st["attention"] == [
        "pain or check-in stop rule in session #3",
        "missed weeks: 2026-W48",
        "the last self-test failed",
    ]
    assert st["adherence"]["missed_weeks"] == ["2026-W48"]
    assert (st["calibration"]["session"], st["calibration"]["oldest_age_days"]) == (6, 61.1)


def test_clinic_review_one_page_with_both_hands_pain_and_whole_session_ticks(
    clinic_db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Before: one PNG per metric (one hand each), no pain plot, and a session axis with
    ticks at 1.5, 2.5 when the clock was not synchronised."""
    out = json.loads(
        run(capsys, "report", "--db", str(clinic_db), "--json", "--plots", str(tmp_path))
    )
    assert [Path(p).name for p in out["plots"]] == [f"{STATION}.png", f"{STATION}.pdf"]
    assert (tmp_path / f"{STATION}.pdf").read_bytes()[:5] == b"%PDF-"
    from mqtt_bridge import clinic_plots

    (st,) = out["stations"]
    fig = clinic_plots.draw(st)
    grip_ax, pain_ax = fig.axes[0], fig.axes[1]
    labels = grip_ax.get_legend_handles_labels()[1]
    assert labels == ["involved (right) ± u", "uninvolved (left) ± u"]
    for ax in (grip_ax, pain_ax):
        assert [float(x) for x in ax.get_xticks()] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    ticks = [t.get_text() for t in grip_ax.get_xticklabels()]
    assert ticks[3] == "#4\n11-16 r"  # the clinic's receipt date, marked
    assert pain_ax.get_title() == "pain"
    before = pain_ax.get_lines()[0]
    assert [float(y) for y in before.get_ydata()] == [2, 2, 2, 2, 2, 2]
    after = pain_ax.get_lines()[1]
    assert [float(x) for x in after.get_xdata()] == [1, 2, 3, 4, 6]  # session 5: not asked


def test_clinic_review_attention_names_an_outbox_that_does_not_drain(
    clinic_db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from mqtt_bridge.clinic_db import ClinicDB

    db = tmp_path / "clinic.db"
    db.write_bytes(clinic_db.read_bytes())
    status = {
        "schema": "rehab.status/1",
        "station_id": STATION,
        "state": "online",
        "outbox_depth": 7,
        "outbox_oldest_pending_s": 3 * 86400.0,
    }
    with ClinicDB(db) as d, d.transaction():
        d.store_status(STATION, status, at="2026-11-30T09:00:00.000Z")
    st = report(capsys, db, "--as-of", NOW)
    assert (
        st["attention"][-1] == "7 messages waiting in the station's outbox, the oldest for 3.0 days"
    )


def test_clinic_review_pain_between_protocols_from_a_station_that_sends_it() -> None:
    """A station that sends every pain check between protocols: the report shows them all,
    not only the one a rule fired on; an older station's summary keeps the old wording."""
    import datetime as dt

    from mqtt_bridge.clinic_checkin import format_lines, timeline

    def session(checkin: dict, events: list) -> dict:
        start = dt.datetime(2026, 11, 9, 10, 0, tzinfo=dt.UTC)
        ref = {"number": 3, "session_id": "s-3", "start": start, "time_source": "station"}
        return {**ref, "state": "stopped", "trials": 2, "checkin": checkin, "safety_events": events}

    rise = [{"kind": "pain_rise", "detail": {"pain_before": 2, "pain_now": 5}}]
    base = {"pain_before": 2, "pain_after": None, "new_numbness": False, "wound_problem": False,
            "pain_stop_rule": "pain_rise"}  # fmt: skip
    new, old = timeline([session({**base, "pain_between": [3, 5]}, rise), session(base, rise)])
    assert (new["pain_between"], old["pain_between"]) == ([3, 5], None)
    lines = format_lines([new, old])
    assert "pain before 2, between protocols 3, 5, after -;" in lines[1]
    assert "pain before 2, 5 when a rule fired, after -;" in lines[2]


def test_clinic_review_handedness_from_the_clinic_else_from_the_station() -> None:
    """What the clinic recorded wins; without it, the newest summary that says how the
    station is configured; without either, nothing is assumed."""
    from mqtt_bridge.clinic_report import handedness

    ss = [{"handedness": "right"}, {"handedness": None}, {"handedness": "left"}, {}]
    assert handedness({"handedness": "right"}, ss) == ("right", "clinic")
    assert handedness({}, ss) == ("left", "station")
    assert handedness({"handedness": None}, [{}, {"handedness": None}]) == (None, None)
