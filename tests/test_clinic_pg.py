"""The clinic database on both backends: one schema, numbered migrations, idempotent
storage, and on PostgreSQL two consumers storing the same message at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_server import PostgresServer, serve
from test_clinic_ingest import envelope
from test_clinic_limits import reused

from mqtt_bridge.clinic_db import ClinicDB, ClinicDBError, Stored, digest
from mqtt_bridge.clinic_schema import MIGRATIONS, SCHEMA_VERSION

WAIT_S = 10.0


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    yield from serve()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty clinic database of each backend: a file path or a URL."""
    if request.param == "sqlite":
        return str(tmp_path / "clinic.db")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    return pg_server.new_database()


def test_clinic_pg_new_database_gets_every_migration_once(db_target: str) -> None:
    with ClinicDB(db_target) as db:
        assert db.schema_version == SCHEMA_VERSION == max(MIGRATIONS) == 3
        for table in (
            "messages",
            "rejected",
            "counters",
            "stations",
            "id_conflicts",
            "station_settings",
            "plans",
            "users",
        ):
            assert db.query(f"SELECT count(*) FROM {table}")[0][0] == 0
    with ClinicDB(db_target) as db:  # opening again changes nothing
        assert db.schema_version == SCHEMA_VERSION


def test_clinic_pg_store_duplicate_conflict_and_reads_on_both_backends(db_target: str) -> None:
    first, second = envelope(seq=4), envelope(seq=2)
    with ClinicDB(db_target) as db:
        with db.transaction():
            assert db.store(first, "summary", "2026-11-20T10:00:01.000Z") is Stored.NEW
            assert db.store(json.loads(json.dumps(first)), "summary") is Stored.DUPLICATE
            assert db.store(second, "summary", "2026-11-20T10:00:02.000Z") is Stored.NEW
            assert db.store(reused(first, 12.5), "summary") is Stored.CONFLICT
            assert db.store(reused(first, 12.5), "summary") is Stored.CONFLICT
            db.reject("rehab/v1/stations/st-0001/summary", "bad", b"\x00\xff", "st-0001")
        assert sorted(db.msg_ids()) == sorted([first["msg_id"], second["msg_id"]])
        assert [m["seq"] for m in db.messages("st-0001")] == [2, 4]
        (m4,) = [m for m in db.messages() if m["seq"] == 4]
        assert m4["body"] == first["body"] and m4["clock_synced"] is True
        assert db.counters() == {"duplicates": 1, "id_conflicts": 1, "id_conflict_redeliveries": 1}
        (st,) = db.stations()
        assert (st["station_id"], st["max_seq"]) == ("st-0001", 4)
        (c,) = db.id_conflicts("st-0001")
        assert c["first_digest"] == digest(first) and c["first_seq"] == 4
        (rej,) = db.rejected("st-0001")
        assert (rej["payload"], rej["reason"]) == (b"\x00\xff", "bad")


def test_clinic_pg_failed_transaction_keeps_nothing_on_both_backends(db_target: str) -> None:
    env = envelope()
    with ClinicDB(db_target) as db:
        with pytest.raises(RuntimeError, match="injected"), db.transaction():
            db.store(env, "summary")
            raise RuntimeError("injected fault after the store")
        assert db.msg_ids() == [] and db.stations() == [] and db.counters() == {}
        with db.transaction():  # a savepoint undoes its part only
            with pytest.raises(RuntimeError), db.savepoint():
                db.store(env, "summary")
                raise RuntimeError("injected")
            db.store(envelope(seq=7), "summary")
        assert [s["max_seq"] for s in db.stations()] == [7]


def test_clinic_pg_database_of_an_older_schema_is_migrated(pg_url: str) -> None:
    """A PostgreSQL database left at version 1 (the version table says so) gets steps 2
    and 3 and keeps its rows."""
    import psycopg

    from mqtt_bridge.clinic_db_pg import PostgresBackend

    b = PostgresBackend(pg_url)
    b.begin()
    b.lock_schema()
    for sql in MIGRATIONS[1]:
        b.execute(b.ddl(sql))
    b.set_schema_version(1)
    b.execute("INSERT INTO counters(name, value) VALUES ('duplicates', 4)")
    b.execute("COMMIT")
    b.close()
    with ClinicDB(pg_url) as db:
        assert db.schema_version == 3 and db.counters() == {"duplicates": 4}
        assert db.id_conflicts() == []
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM clinic_schema_version").fetchall() == [(3,)]


def test_clinic_pg_database_of_a_newer_schema_is_refused_unchanged(pg_url: str) -> None:
    import psycopg

    ClinicDB(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE clinic_schema_version SET version = 9")
    with pytest.raises(ClinicDBError, match="schema version 9; this software knows versions up"):
        ClinicDB(pg_url)


def test_clinic_pg_unreachable_server_is_a_clear_error_without_the_password(
    pg_server: PostgresServer,
) -> None:
    url = f"postgresql://rehab:secret@127.0.0.1:{pg_server.port}/no_such_db"
    with pytest.raises(ClinicDBError, match=r"rehab:\*\*\*@.*no_such_db") as e:
        ClinicDB(url)
    assert "secret" not in str(e.value)


def test_clinic_pg_consumers_opening_a_new_database_at_once_migrate_it_once(
    pg_url: str,
) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            ClinicDB(pg_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert errors == []
    with ClinicDB(pg_url) as db:
        assert db.schema_version == SCHEMA_VERSION


def _store_in_thread(db: ClinicDB, env: dict[str, Any], out: list[Any]) -> threading.Thread:
    def run() -> None:
        with db.transaction():
            out.append(db.store(env, "summary"))

    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize("same_content", [True, False])
def test_clinic_pg_two_consumers_storing_one_msg_id_at_once_store_it_once(
    pg_url: str, same_content: bool
) -> None:
    """Worker A has stored the message and not committed yet when worker B stores the same
    msg_id (a redelivery to another member of the shared subscription): B's insert waits
    for A's commit, then finds the row: a duplicate (or, for other content, a conflict).
    Both then commit, and both would acknowledge."""
    env = envelope(seq=3)
    other = json.loads(json.dumps(env)) if same_content else reused(env, 55.0)
    a, b = ClinicDB(pg_url), ClinicDB(pg_url)
    try:
        out: list[Any] = []
        with a.transaction():
            assert a.store(env, "summary") is Stored.NEW
            t = _store_in_thread(b, other, out)
            t.join(0.3)
            assert t.is_alive() and out == []  # B waits on A's uncommitted row
        t.join(WAIT_S)
        assert out == [Stored.DUPLICATE if same_content else Stored.CONFLICT]
        assert a.msg_ids() == [env["msg_id"]]
        assert a.counters() == ({"duplicates": 1} if same_content else {"id_conflicts": 1})
        assert [s["max_seq"] for s in a.stations()] == [3]
    finally:
        a.close()
        b.close()


def test_clinic_pg_first_consumer_rolling_back_lets_the_second_store_it(pg_url: str) -> None:
    """The fault the unique key must not hide: A stores and then fails (rolls back); B,
    which waited, stores the message as new: it is kept once, not lost."""
    env = envelope(seq=5)
    a, b = ClinicDB(pg_url), ClinicDB(pg_url)
    try:
        out: list[Any] = []
        with pytest.raises(RuntimeError), a.transaction():
            a.store(env, "summary")
            t = _store_in_thread(b, env, out)
            t.join(0.3)
            raise RuntimeError("injected: worker A fails before its commit")
        t.join(WAIT_S)
        assert out == [Stored.NEW] and b.msg_ids() == [env["msg_id"]]
    finally:
        a.close()
        b.close()


def test_clinic_pg_dashboard_signs_in_and_lists_a_station_of_postgresql(pg_url: str) -> None:
    """``clinic serve --db postgresql://...``: the URL reaches the database unchanged (a
    path would fold its ``//``), users and stations are read from PostgreSQL."""
    import re

    from mqtt_bridge import clinic_users, clinic_web

    with ClinicDB(pg_url) as db:
        clinic_users.add(db, "therapist1", "correct horse battery")
        with db.transaction():
            db.store(envelope(station="st-0042"), "summary")
    client = clinic_web.create_app(pg_url).test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = {"csrf_token": token[1], "username": "therapist1", "password": "correct horse battery"}
    r = client.post("/login", base_url="https://localhost", data=form, follow_redirects=True)
    assert r.status_code == 200 and "st-0042" in r.get_data(as_text=True)
