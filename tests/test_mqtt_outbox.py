"""The durable outbox: transactional enqueue, states, resend timing, bound, counts."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cli import rehab_station
from test_mqtt_schema import session_body

from mqtt_bridge import envelope, outbox
from mqtt_bridge.clocks import ManualClock
from mqtt_bridge.outbox import Outbox, OutboxFull


def caller_db(tmp_path: Path) -> sqlite3.Connection:
    """The station's own connection (as the journal opens it) with a table of its own."""
    conn = outbox.connect(tmp_path / "station.db")
    conn.execute("CREATE TABLE IF NOT EXISTS summaries(id INTEGER PRIMARY KEY, msg_id TEXT)")
    return conn


def write_summary(conn: sqlite3.Connection, fail: bool = False, **kw: object) -> str:
    conn.execute("BEGIN IMMEDIATE")
    try:
        msg_id = outbox.enqueue(conn, "rehab.session/1", session_body(), **kw)  # type: ignore[arg-type]
        conn.execute("INSERT INTO summaries(msg_id) VALUES (?)", (msg_id,))
        if fail:
            raise RuntimeError("crash before commit")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return msg_id


def rows(tmp_path: Path) -> list[tuple[object, ...]]:
    c = sqlite3.connect(tmp_path / "station.db")
    try:
        return c.execute("SELECT seq, msg_id, state FROM outbox ORDER BY seq").fetchall()
    finally:
        c.close()


def test_mqtt_outbox_commits_with_the_callers_transaction(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    msg_id = write_summary(conn)
    assert rows(tmp_path) == [(1, msg_id, "pending")]
    other = sqlite3.connect(tmp_path / "station.db")
    assert other.execute("SELECT msg_id FROM summaries").fetchall() == [(msg_id,)]


def test_mqtt_outbox_rollback_of_callers_transaction_leaves_no_row(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    with pytest.raises(RuntimeError):
        write_summary(conn, fail=True)
    assert rows(tmp_path) == []
    assert conn.execute("SELECT count(*) FROM summaries").fetchone() == (0,)


def test_mqtt_outbox_row_is_invisible_to_others_until_commit(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    conn.execute("BEGIN IMMEDIATE")
    outbox.enqueue(conn, "rehab.session/1", session_body())
    assert rows(tmp_path) == []  # another connection sees nothing yet
    conn.execute("COMMIT")
    assert len(rows(tmp_path)) == 1


def test_mqtt_outbox_seq_is_never_reused_after_deletion(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    first = write_summary(conn)
    with Outbox(tmp_path / "station.db") as ob:
        assert ob.acknowledge([first]) == 1
    write_summary(conn)
    assert [r[0] for r in rows(tmp_path)] == [2]


def test_mqtt_outbox_durability_settings(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_mqtt_outbox_enqueue_creates_tables_on_a_foreign_connection(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "station.db", isolation_level=None)
    msg_id = outbox.enqueue(conn, "rehab.selftest/1", {"passed": True})
    assert rows(tmp_path) == [(1, msg_id, "pending")]


@pytest.mark.parametrize(
    ("schema_name", "body", "text"),
    [
        ("rehab.plan/1", {}, "no outbox topic for schema 'rehab.plan/1'"),
        ("rehab.selftest/1", {"passed": "yes"}, 'body.passed: "yes" is a string'),
        ("rehab.session/1", {"session_id": "s"}, "body: the field 'protocols' is required"),
        ("rehab.selftest/1", {"passed": True, "x": float("nan")}, "Out of range float"),
        ("rehab.selftest/1", {"passed": True, "x": "a" * 300_000}, "at most 262144"),
    ],
)
def test_mqtt_outbox_invalid_message_is_refused_and_nothing_written(
    tmp_path: Path, schema_name: str, body: dict[str, object], text: str
) -> None:
    conn = caller_db(tmp_path)
    with pytest.raises(ValueError) as info:
        outbox.enqueue(conn, schema_name, body)
    assert text in str(info.value)
    assert rows(tmp_path) == []


def test_mqtt_outbox_full_refuses_without_overwriting_and_alarms(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = caller_db(tmp_path)
    kept = [write_summary(conn, max_rows=3) for _ in range(3)]
    with caplog.at_level(logging.ERROR), pytest.raises(OutboxFull) as info:
        write_summary(conn, max_rows=3)
    assert (info.value.depth, info.value.max_rows) == (3, 3)
    assert [r[1] for r in rows(tmp_path)] == kept
    assert conn.execute("SELECT count(*) FROM summaries").fetchone() == (3,)
    assert "ALARM outbox full: 3 messages" in caplog.text


def test_mqtt_outbox_full_counts_rejected_rows_too(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    write_summary(conn, max_rows=1)
    with Outbox(tmp_path / "station.db", max_rows=1) as ob:
        ob.mark_rejected([(1, "PUBACK 0x87 Not authorized")])
        with pytest.raises(OutboxFull):
            ob.enqueue("rehab.selftest/1", {"passed": True})


def test_mqtt_outbox_envelope_fields_are_fixed_at_enqueue(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    msg_id = write_summary(
        conn, created_at="2026-11-20T10:00:00.000Z", clock_synced=False, boot_id="boot-1"
    )
    with Outbox(tmp_path / "station.db") as ob:
        (e,) = ob.due(0.0, 10)
        first = e.payload("st-0001")
        ob.record_attempts([e.seq])
        (again,) = ob.due(0.0, 10)
    assert again.payload("st-0001") == first  # a resend is byte-identical
    env = envelope.decode(first, check_body=True)
    assert env == {
        "schema": "rehab.session/1",
        "msg_id": msg_id,
        "station_id": "st-0001",
        "seq": 1,
        "created_at": "2026-11-20T10:00:00.000Z",
        "clock_synced": False,
        "boot_id": "boot-1",
        "body": session_body(),
    }


def test_mqtt_outbox_state_machine_and_resend_timing(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    ids = [write_summary(conn) for _ in range(3)]
    with Outbox(tmp_path / "station.db") as ob:
        assert [e.seq for e in ob.due(100.0, 10)] == [1, 2, 3]
        assert [e.seq for e in ob.due(100.0, 10, exclude={1})] == [2, 3]
        assert [e.seq for e in ob.due(100.0, 2)] == [1, 2]
        ob.record_attempts([1, 2, 3])
        ob.mark_sent([1, 2], now_mono=100.0, resend_after_s=10.0, max_resend_after_s=25.0)
        ob.mark_rejected([(3, "PUBACK 0x87 Not authorized")])
        assert ob.due(109.9, 10) == []  # sent, not yet overdue; rejected never again
        assert [e.seq for e in ob.due(110.0, 10)] == [1, 2]
        # second attempt: the delay doubles (20 s), then stops at the cap (25 s)
        ob.record_attempts([1])
        ob.mark_sent([1], now_mono=110.0, resend_after_s=10.0, max_resend_after_s=25.0)
        assert [e.seq for e in ob.due(129.9, 10)] == [2]
        assert [e.seq for e in ob.due(130.0, 10)] == [1, 2]
        ob.record_attempts([1])
        ob.mark_sent([1], now_mono=130.0, resend_after_s=10.0, max_resend_after_s=25.0)
        assert 1 not in [e.seq for e in ob.due(154.9, 10)]
        assert 1 in [e.seq for e in ob.due(155.0, 10)]
        c = ob.counts()
        assert (c.pending, c.sent, c.rejected, c.depth, c.acknowledged) == (0, 2, 1, 3, 0)
        assert ob.rejected()[0]["reason"] == "PUBACK 0x87 Not authorized"
        assert ob.acknowledge([ids[0], ids[1], "unknown", ids[2]]) == 3
        c = ob.counts()
        assert (c.depth, c.acknowledged, c.oldest_pending_age_s) == (0, 3, None)


def test_mqtt_outbox_resend_delay_stays_at_the_cap_after_thousands_of_attempts(
    tmp_path: Path,
) -> None:
    """A clinic that never acknowledges: after some 42 days of hourly resends the doubling
    overflowed a float (OverflowError at 1025 attempts), every PUBACK batch rolled back and
    the row was published again at every poll."""
    conn = caller_db(tmp_path)
    write_summary(conn)
    write_summary(conn)
    conn.execute("UPDATE outbox SET attempts = 2000 WHERE seq = 1")
    conn.execute("UPDATE outbox SET attempts = 1025 WHERE seq = 2")
    with Outbox(tmp_path / "station.db") as ob:
        ob.mark_sent([1, 2], now_mono=100.0, resend_after_s=60.0, max_resend_after_s=3600.0)
        assert ob.counts().sent == 2
        assert ob.due(3699.9, 10) == []
        assert [e.seq for e in ob.due(3700.0, 10)] == [1, 2]
        # a tiny first delay still grows to the cap (the doubling limit is far above it)
        ob.mark_sent([1], now_mono=0.0, resend_after_s=1e-9, max_resend_after_s=3600.0)
        assert [e.seq for e in ob.due(3600.0, 10)] == [1]
        assert 1 not in [e.seq for e in ob.due(3599.9, 10)]


def test_mqtt_outbox_ack_before_puback_wins(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    msg_id = write_summary(conn)
    with Outbox(tmp_path / "station.db") as ob:
        ob.record_attempts([1])
        assert ob.acknowledge([msg_id]) == 1
        ob.mark_sent([1], 0.0, 10.0, 10.0)  # the late PUBACK must not resurrect it
        assert ob.counts().depth == 0


def test_mqtt_outbox_requeue_sent_at_start(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    write_summary(conn)
    with Outbox(tmp_path / "station.db") as ob:
        ob.record_attempts([1])
        ob.mark_sent([1], 0.0, 1000.0, 1000.0)
        assert ob.due(1.0, 10) == []
        assert ob.requeue_sent() == 1
        assert [e.seq for e in ob.due(1.0, 10)] == [1]


def test_mqtt_outbox_puback_mode_row_leaves_on_puback(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    outbox.enqueue(
        conn,
        "rehab.plan_result/1",
        {"plan_version": 3, "status": "accepted", "reason": ""},
        ack_mode=outbox.ACK_PUBACK,
    )
    with Outbox(tmp_path / "station.db") as ob:
        ob.mark_sent([1], 0.0, 10.0, 10.0)
        c = ob.counts()
        assert (c.depth, c.delivered_on_puback, c.acknowledged) == (0, 1, 0)


def test_mqtt_outbox_read_counts_is_read_only(tmp_path: Path) -> None:
    assert outbox.read_counts(tmp_path / "station.db") is None
    assert not (tmp_path / "station.db").exists()
    plain = sqlite3.connect(tmp_path / "station.db")
    plain.execute("CREATE TABLE other(x)")
    plain.close()
    assert outbox.read_counts(tmp_path / "station.db") == outbox.Counts(0, 0, 0, 0, 0, 0, None)
    conn = caller_db(tmp_path)
    write_summary(conn)
    c = outbox.read_counts(tmp_path / "station.db")
    assert c is not None and (c.pending, c.depth) == (1, 1)
    assert c.oldest_pending_age_s is not None and 0 <= c.oldest_pending_age_s < 3600


def test_mqtt_outbox_times_and_ages_follow_the_injected_wall_clock(tmp_path: Path) -> None:
    """created_at, sent_at and the oldest unacknowledged age come from the wall clock the
    outbox is given: an hour passes without a sleep."""
    db = tmp_path / "station.db"
    clock = ManualClock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    with Outbox(db, wall_clock=clock.wall) as ob:
        first = ob.enqueue("rehab.selftest/1", {"passed": True})
        assert ob.counts().oldest_pending_age_s == 0.0
        clock.advance(90.0)
        ob.enqueue("rehab.selftest/1", {"passed": False})
        ob.mark_sent([1], clock.monotonic(), 60.0, 60.0)
        clock.advance(3600.0)
        assert ob.counts().oldest_pending_age_s == 3690.0  # sent, not yet acknowledged
        times = ob.conn.execute("SELECT created_at, sent_at FROM outbox ORDER BY seq").fetchall()
        assert times == [
            ("2026-11-20T10:00:00.000Z", "2026-11-20T10:01:30.000Z"),
            ("2026-11-20T10:01:30.000Z", None),
        ]
        ob.acknowledge([first])
        assert ob.counts().oldest_pending_age_s == 3600.0
        clock.step_wall(-86400.0)  # the clock set back a day: an age is never negative
        assert ob.counts().oldest_pending_age_s == 0.0
    clock.step_wall(86400.0 + 60.0)
    c = outbox.read_counts(db, clock.wall)
    assert c is not None and c.oldest_pending_age_s == 3660.0


def run_cmd(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return rehab_station("outbox", "--sim", "--data-dir", str(tmp_path), *extra)


def test_mqtt_outbox_command_reports_counts(tmp_path: Path) -> None:
    none = run_cmd(tmp_path)
    assert none.returncode == 0 and "no station database yet" in none.stdout
    conn = caller_db(tmp_path)
    ids = [write_summary(conn) for _ in range(3)]
    with Outbox(tmp_path / "station.db") as ob:
        ob.acknowledge(ids[:1])
        ob.record_attempts([2])
        ob.mark_sent([2], 0.0, 60.0, 60.0)
    text = run_cmd(tmp_path)
    assert text.returncode == 0, text.stderr
    lines = {ln.split()[0]: ln.split()[1] for ln in text.stdout.splitlines()[1:5]}
    assert lines == {"pending": "1", "sent": "1", "rejected": "0", "acknowledged": "1"}
    out = json.loads(run_cmd(tmp_path, "--json").stdout)
    assert {k: out[k] for k in ("pending", "sent", "rejected", "acknowledged", "depth")} == {
        "pending": 1,
        "sent": 1,
        "rejected": 0,
        "acknowledged": 1,
        "depth": 2,
    }
    assert out["max_rows"] == 100_000 and out["full"] is False


def test_mqtt_outbox_command_exit_1_when_rows_rejected(tmp_path: Path) -> None:
    conn = caller_db(tmp_path)
    write_summary(conn)
    with Outbox(tmp_path / "station.db") as ob:
        ob.mark_rejected([(1, "PUBACK 0x87 Not authorized")])
    proc = run_cmd(tmp_path)
    assert proc.returncode == 1
    assert "ATTENTION: rejected messages" in proc.stdout
    assert json.loads(run_cmd(tmp_path, "--json").stdout)["rejected"] == 1


def test_mqtt_outbox_command_lists_rejected_rows_and_retries_them(tmp_path: Path) -> None:
    """After the technician fixes the cause, --retry-rejected puts the rows back to pending
    for the sender (which publishes pending rows), and the alarm clears."""
    assert run_cmd(tmp_path, "--retry-rejected").returncode == 0
    assert not (tmp_path / "station.db").exists()  # nothing to retry: nothing created
    conn = caller_db(tmp_path)
    ids = [write_summary(conn) for _ in range(3)]
    with Outbox(tmp_path / "station.db") as ob:
        ob.record_attempts([1, 2, 3])
        ob.mark_sent([3], 0.0, 60.0, 60.0)
        ob.mark_rejected([(1, "PUBACK 0x87 Not authorized"), (2, "PUBACK 0x87 Not authorized")])
    proc = run_cmd(tmp_path)
    assert proc.returncode == 1
    listed = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip().startswith("seq ")]
    assert [ln.split(":", 1)[0].split()[:3] for ln in listed] == [
        ["seq", "1", "summary"],
        ["seq", "2", "summary"],
    ]
    assert all(ln.endswith("PUBACK 0x87 Not authorized") for ln in listed)
    rows = json.loads(run_cmd(tmp_path, "--json").stdout)["rejected_rows"]
    assert [(r["seq"], r["msg_id"]) for r in rows] == [(1, ids[0]), (2, ids[1])]

    retry = run_cmd(tmp_path, "--retry-rejected")
    assert retry.returncode == 0, retry.stdout
    assert "2 rejected message(s) queued again" in retry.stdout
    with Outbox(tmp_path / "station.db") as ob:
        assert ob.rejected() == []
        due = ob.due(now_mono=0.0, limit=10)
        assert [e.seq for e in due] == [1, 2]  # the sent row 3 is not due yet
    again = json.loads(run_cmd(tmp_path, "--json", "--retry-rejected").stdout)
    assert (again["retried"], again["rejected"], again["pending"]) == (0, 0, 2)
