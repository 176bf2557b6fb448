"""The clinic consumer against a real mosquitto: messages beyond the contract's size limit,
and a msg_id reused with different content."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli import rehab_station
from mqtt_broker import Broker
from mqtt_helpers import wait_until
from test_clinic_ingest import Consumer, FakeStation, acked_until, envelope

from mqtt_bridge.clinic_db import (
    MAX_MESSAGE_BYTES,
    MAX_REJECTED_BYTES,
    SCHEMA_VERSION,
    ClinicDB,
    ClinicDBError,
    Stored,
    digest,
)
from mqtt_bridge.outbox import MAX_BODY_BYTES


def padded(env: dict[str, Any], body_bytes: int) -> dict[str, Any]:
    """``env`` with an extra ``pad`` field making its compact body ``body_bytes`` long
    (a valid session body otherwise: unknown fields are allowed)."""
    env["body"]["pad"] = ""
    base = len(json.dumps(env["body"], separators=(",", ":")).encode())
    env["body"]["pad"] = "x" * (body_bytes - base)
    return env


def compact(env: dict[str, Any]) -> bytes:
    return json.dumps(env, separators=(",", ":")).encode()


@pytest.mark.parametrize("body_bytes", [300_000, 20_000_000])
def test_clinic_limits_body_over_256_kib_is_rejected_not_stored(
    broker: Broker, station: FakeStation, tmp_path: Path, body_bytes: int
) -> None:
    """Before, a 302 KB and a 20 MB summary were stored whole as ordinary messages."""
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    big = padded(envelope(seq=1), body_bytes)
    payload = compact(big)
    good = envelope(seq=2)
    station.publish("summary", payload)
    station.publish("summary", json.dumps(good))
    ids = {big["msg_id"], good["msg_id"]}
    assert acked_until(station, ids) == ids  # the reject too: the station stops resending
    stats = consumer.close()
    assert (stats.stored, stats.rejected) == (1, 1)
    assert stats.reasons == {"MessageTooLarge": 1}
    with ClinicDB(db_path) as db:
        assert db.msg_ids() == [good["msg_id"]]
        (rej,) = db.rejected()
    assert rej["reason"] == (
        f"MessageTooLarge: the message is {len(payload)} bytes; the contract allows at most "
        f"{MAX_MESSAGE_BYTES} (a body of at most {MAX_BODY_BYTES} bytes and its envelope)"
    )
    assert (rej["msg_id"], rej["station_id"]) == (big["msg_id"], "st-0001")
    assert rej["payload"] == payload[:MAX_REJECTED_BYTES]  # kept for inspection, cut


def test_clinic_limits_body_just_over_the_limit_in_a_small_message_is_rejected(
    broker: Broker, station: FakeStation, tmp_path: Path
) -> None:
    """The body is measured as the station measures it (compact UTF-8 JSON): 100 bytes over
    the limit, in a message within the whole message's limit, is still too large."""
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    env = padded(envelope(), MAX_BODY_BYTES + 100)
    payload = compact(env)
    assert len(payload) <= MAX_MESSAGE_BYTES
    station.publish("summary", payload)
    assert station.next_ack() == [env["msg_id"]]
    consumer.close()
    with ClinicDB(db_path) as db:
        assert db.msg_ids() == []
        (rej,) = db.rejected()
    assert rej["reason"] == (
        f"MessageTooLarge: the body is {MAX_BODY_BYTES + 100} bytes of JSON; the contract "
        f"allows at most {MAX_BODY_BYTES}"
    )
    assert rej["payload"] == payload  # a message of a station's size is kept whole


def test_clinic_limits_body_of_exactly_256_kib_is_stored(
    broker: Broker, station: FakeStation, tmp_path: Path
) -> None:
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    env = padded(envelope(), MAX_BODY_BYTES)
    station.publish("summary", compact(env))
    assert station.next_ack() == [env["msg_id"]]
    consumer.close()
    with ClinicDB(db_path) as db:
        assert db.msg_ids() == [env["msg_id"]] and db.rejected() == []


@pytest.fixture
def station(broker: Broker) -> Any:
    s = FakeStation(broker.url)
    try:
        yield s
    finally:
        s.close()


def test_clinic_limits_broker_max_packet_size_drops_the_sender_of_a_20_mb_body(
    tmp_path: Path,
) -> None:
    """With mosquitto's ``max_packet_size`` (the contract's advice: at least 270 000) a 20 MB
    PUBLISH never reaches the clinic: the broker disconnects its sender. The consumer sees
    nothing of it, keeps no reject, and goes on with the next station's messages. (A station
    never sends it: its outbox refuses a body over 256 KiB, and its sender keeps a row larger
    than the CONNACK's Maximum Packet Size as rejected.)"""
    b = Broker(tmp_path / "limited-broker", max_packet_size=270_000)
    try:
        consumer = Consumer(b.url, tmp_path / "clinic.db")
        sender = FakeStation(b.url)
        other = FakeStation(b.url, "st-0002")
        try:
            big = padded(envelope(seq=1), 20_000_000)
            sender.client.publish("rehab/v1/stations/st-0001/summary", compact(big), qos=1)
            good = envelope(station="st-0002")
            other.publish("summary", json.dumps(good))
            assert other.next_ack() == [good["msg_id"]]
            wait_until(
                lambda: "disconnected due to oversize packet" in b.log_text(), what="broker cut"
            )
        finally:
            sender.close()
            other.close()
        stats = consumer.close()
    finally:
        b.close()
    assert (stats.received, stats.stored, stats.rejected) == (1, 1, 0)
    with ClinicDB(tmp_path / "clinic.db") as db:
        assert db.msg_ids() == [good["msg_id"]] and db.rejected() == []


def reused(env: dict[str, Any], grip_n: float) -> dict[str, Any]:
    """Another summary under ``env``'s msg_id: the same envelope, a different result."""
    other = json.loads(json.dumps(env))
    other["body"]["protocols"][0]["metrics"]["involved_mean_force"]["value"] = grip_n
    return other


def test_clinic_limits_reused_msg_id_with_other_content_keeps_the_first_and_records_it(
    broker: Broker, station: FakeStation, tmp_path: Path
) -> None:
    """Before, a second summary under a stored msg_id was counted as an ordinary duplicate:
    nobody learnt that a result had been dropped."""
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    first = envelope(seq=1)
    second, third = reused(first, 55.0), reused(first, 77.0)
    station.publish("summary", json.dumps(first))
    assert station.next_ack() == [first["msg_id"]]
    # The identical message again, with other spacing and key order: a duplicate.
    station.publish("summary", json.dumps(first, indent=1, sort_keys=True))
    assert station.next_ack() == [first["msg_id"]]
    for env in (second, third, second):  # each acknowledged: the station stops resending
        station.publish("summary", json.dumps(env))
        assert station.next_ack() == [first["msg_id"]]
    stats = consumer.close()
    assert (stats.stored, stats.duplicates, stats.id_conflicts, stats.rejected) == (1, 1, 3, 0)
    with ClinicDB(db_path) as db:
        (kept,) = db.messages()
        conflicts = db.id_conflicts()
        counters = db.counters()
    assert kept["body"] == first["body"]  # the first was kept
    assert counters == {"duplicates": 1, "id_conflicts": 2, "id_conflict_redeliveries": 1}
    assert [(c["msg_id"], c["station_id"], c["seq"]) for c in conflicts] == [
        (first["msg_id"], "st-0001", 1)
    ] * 2
    assert [c["first_digest"] for c in conflicts] == [digest(first)] * 2
    assert [c["digest"] for c in conflicts] == [digest(second), digest(third)]
    assert digest(second) != digest(first) and conflicts[0]["received_at"]

    out = run_report(db_path)
    assert "2 messages reused an id with different content; the first was kept" in out
    assert f"msg_id {first['msg_id']} (summary seq 1): kept sha256 {digest(first)[:12]}" in out
    rep = json.loads(run_report(db_path, "--json"))
    (st,) = rep["stations"]
    assert [c["digest"] for c in st["id_conflicts"]] == [digest(second), digest(third)]
    assert st["adherence"]["sessions"] == 1


def test_clinic_limits_report_lists_a_too_large_message_with_its_reason(
    broker: Broker, station: FakeStation, tmp_path: Path
) -> None:
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    big = padded(envelope(seq=1), 300_000)
    station.publish("summary", compact(big))
    assert station.next_ack() == [big["msg_id"]]
    consumer.close()
    out = run_report(db_path)
    assert "rejected messages: 1" in out
    assert f"msg_id {big['msg_id']}: MessageTooLarge: the message is " in out
    (st,) = json.loads(run_report(db_path, "--json"))["stations"]
    (rej,) = st["rejected"]
    assert rej["msg_id"] == big["msg_id"] and rej["reason"].startswith("MessageTooLarge: ")


def report_cmd(db_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return rehab_station("clinic", "report", "--db", str(db_path), *extra)


def run_report(db_path: Path, *extra: str) -> str:
    proc = report_cmd(db_path, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


#: The clinic database as the first release made it (no user_version): the previous schema.
SCHEMA_V1_SQL = """
CREATE TABLE IF NOT EXISTS messages(
    msg_id TEXT PRIMARY KEY,
    station_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    schema TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    clock_synced INTEGER NOT NULL,
    boot_id TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_station ON messages(station_id, kind, seq);
CREATE TABLE IF NOT EXISTS rejected(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    station_id TEXT,
    msg_id TEXT,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters(
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stations(
    station_id TEXT PRIMARY KEY,
    last_status TEXT,
    status_at TEXT,
    last_seen TEXT,
    max_seq INTEGER
);
"""


def v1_database(path: Path, env: dict[str, Any]) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_V1_SQL)
    conn.execute(
        "INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            env["msg_id"],
            env["station_id"],
            "summary",
            env["schema"],
            env["seq"],
            env["created_at"],
            1,
            env["boot_id"],
            json.dumps(env["body"], separators=(",", ":"), sort_keys=True),
            "2026-11-20T10:00:01.000Z",
        ),
    )
    conn.execute("INSERT INTO counters VALUES ('duplicates', 4)")
    conn.commit()
    conn.close()


def test_clinic_limits_database_of_the_previous_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    first = envelope(seq=1)
    v1_database(path, first)
    with ClinicDB(path) as db:
        assert db.schema_version == SCHEMA_VERSION == 3
        assert db.msg_ids() == [first["msg_id"]] and db.counters() == {"duplicates": 4}
        with db.transaction():
            assert db.store(json.loads(json.dumps(first)), "summary") is Stored.DUPLICATE
            assert db.store(reused(first, 12.5), "summary") is Stored.CONFLICT
        (c,) = db.id_conflicts()
    assert c["first_digest"] == digest(first)  # the digest of a row stored by version 1
    with ClinicDB(path) as db:  # opening again changes nothing
        assert db.schema_version == 3 and len(db.id_conflicts()) == 1


def test_clinic_limits_database_of_a_newer_schema_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    ClinicDB(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 9")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ClinicDBError, match="schema version 9; this software knows versions up"):
        ClinicDB(path)
    assert path.read_bytes() == before


def test_clinic_limits_file_that_is_no_database_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    with pytest.raises(ClinicDBError, match=r"notes\.txt cannot be used as the clinic database"):
        ClinicDB(path)
    assert path.read_text() == "not a database\n" * 100


def test_clinic_limits_report_on_a_file_that_is_no_database_says_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    proc = report_cmd(path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "notes.txt cannot be used as the clinic database" in proc.stderr
