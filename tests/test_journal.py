"""The journal commits every trial and event as it ends, and finds interrupted sessions."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mqtt_bridge import outbox
from mqtt_bridge.clocks import ManualClock
from station import summary
from station.journal import Journal, Trial


def trial(i: int) -> Trial:
    return Trial(
        "max_grip",
        i,
        "right",
        {"target": None},
        {"peak_force_n": 10.0 + i},
        0.4,
        10.0 + i,
        float(i),
        float(i) + 3.0,
        ("ok",),
    )


def test_journal_uses_wal_and_full_sync(tmp_path: Path) -> None:
    j = Journal(tmp_path / "station.db")
    assert j.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_journal_trials_and_events_round_trip(tmp_path: Path) -> None:
    j = Journal(tmp_path / "station.db")
    sid = j.start_session(3, ["max_grip"])
    j.set_checkin(sid, {"pain": 2, "new_numbness": False, "wound_problem": False})
    for i in range(3):
        j.record_trial(sid, trial(i))
    j.record_event(sid, "stop_button", {"during": "grip"}, t_s=12.5, code="S-STOP")
    j.end_session(sid, "stopped", "stop button")
    s = j.session(sid)
    assert s["state"] == "stopped" and s["ended_reason"] == "stop button"
    assert s["checkin"]["pain"] == 2
    assert [t.response["peak_force_n"] for t in j.trials(sid)] == [10.0, 11.0, 12.0]
    assert j.events(sid)[0]["kind"] == "stop_button"
    assert j.interrupted() == []
    assert j.unsummarised() == [sid]


def test_journal_times_come_from_the_injected_wall_clock(tmp_path: Path) -> None:
    """Every time the journal writes is its wall clock's: a session spread over hours is
    journalled without waiting for them."""
    clock = ManualClock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    j = Journal(tmp_path / "station.db", wall_clock=clock.wall)
    sid = j.start_session(3, ["max_grip"])
    clock.advance(42.5)
    j.record_trial(sid, trial(0))
    clock.advance(3600.0)
    j.record_event(sid, "paused", {}, t_s=3642.5)
    assert j.last_activity(sid) == "2026-11-20T11:00:42.500Z"
    clock.advance(7200.0)
    j.end_session(sid, "incomplete", "not finished")
    s = j.session(sid)
    assert (s["started_at"], s["ended_at"]) == (
        "2026-11-20T10:00:00.000Z",
        "2026-11-20T13:00:42.500Z",
    )
    (ended,) = j.conn.execute("SELECT ended_at FROM trials WHERE session_id=?", (sid,))
    assert ended == ("2026-11-20T10:00:42.500Z",)
    assert [e["at"] for e in j.events(sid)] == ["2026-11-20T11:00:42.500Z"]
    assert j.now() == "2026-11-20T13:00:42.500Z"
    j.close()


def test_journal_refuses_a_naive_wall_clock(tmp_path: Path) -> None:
    """A wall clock without a zone would write local time as if it were UTC."""
    j = Journal(tmp_path / "station.db", wall_clock=lambda: dt.datetime(2026, 11, 20, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        j.start_session(1, [])
    assert j.conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    j.close()


def test_journal_end_session_rejects_unknown_state(tmp_path: Path) -> None:
    j = Journal(tmp_path / "station.db")
    sid = j.start_session(1, [])
    with pytest.raises(ValueError, match="state must be"):
        j.end_session(sid, "done", "x")


def test_journal_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    j = Journal(tmp_path / "station.db")
    sid = j.start_session(1, [])
    with pytest.raises(RuntimeError), j.transaction() as c:
        j.mark_summarised(c, sid, "m-1")
        raise RuntimeError("crash before commit")
    assert j.session(sid)["summary_msg_id"] is None


def test_journal_trials_survive_sigkill_of_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    code = (
        "import os, signal\n"
        "from station.journal import Journal, Trial\n"
        f"j = Journal({str(db)!r})\n"
        "sid = j.start_session(1, ['max_grip'])\n"
        "for i in range(5):\n"
        "    j.record_trial(sid, Trial('max_grip', i, 'left', {}, {'peak_force_n': i}, None,"
        " None, 0.0, 1.0))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == -9
    j = Journal(db)
    (sid,) = j.interrupted()
    assert [t.response["peak_force_n"] for t in j.trials(sid)] == [0, 1, 2, 3, 4]
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_journal_daily_dose_accumulates(tmp_path: Path) -> None:
    j = Journal(tmp_path / "station.db")
    j.add_dose("2026-11-24", 60.0, 0.01)
    j.add_dose("2026-11-24", 30.0, 0.02)
    assert j.dose("2026-11-24") == pytest.approx((90.0, 0.03))
    assert j.dose("2026-11-25") == (0.0, 0.0)


def test_summary_of_a_session_with_a_long_reason_is_valid_and_queued(tmp_path: Path) -> None:
    """A session ended by many protocol stops (or a long fault message) still gets its
    summary: the reason is cut to the schema's 500 characters, nothing is lost."""
    j = Journal(tmp_path / "station.db")
    sid = j.start_session(1, ["max_grip"])
    reason = "; ".join(f"max_grip: no squeeze on 2 trials in a row ({i})" for i in range(16))
    assert len(reason) > summary.MAX_REASON_CHARS
    j.end_session(sid, "stopped", reason)
    body = summary.build(j, sid, [], {"bus_errors": 0}, 1)
    assert len(body["ended_reason"]) == summary.MAX_REASON_CHARS
    assert body["ended_reason"].startswith(reason[:400]) and body["ended_reason"][-1] == "…"
    msg_id = summary.write(j, sid, body, outbox.enqueue)
    assert j.session(sid)["summary_msg_id"] == msg_id
    with outbox.Outbox(tmp_path / "station.db") as ob:
        (entry,) = ob.due(0.0, 10)
    assert json.loads(entry.body)["ended_reason"] == body["ended_reason"]
