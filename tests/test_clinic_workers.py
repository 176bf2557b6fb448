"""Several clinic consumers on one MQTT v5 shared subscription, storing into PostgreSQL:
each message handled by one worker, a redelivery to another worker stored once and
acknowledged by both; the clinic commands reading a PostgreSQL database; and the load
benchmark's run with a few stations (0 lost, 0 stored twice)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli import rehab_station
from mqtt_helpers import wait_until
from postgres_server import PostgresServer, serve
from test_clinic_ingest import WAIT_S, FakeStation, acked_until, envelope

from mqtt_bridge.clinic import BrokerOptions, Ingest, IngestStats, make_client, subscriptions
from mqtt_bridge.clinic_db import ClinicDB
from mqtt_bridge.clinic_workers import SHARED_SESSION_EXPIRY_S

GROUP = "ingest"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    yield from serve()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    url = pg_server.new_database()
    ClinicDB(url).close()  # the schema, before the workers race to make it
    return url


@pytest.fixture
def station(broker: Any) -> Iterator[FakeStation]:
    s = FakeStation(broker.url)
    try:
        yield s
    finally:
        s.close()


class Worker:
    """One member of the share group, running :class:`Ingest` in a thread of the test."""

    def __init__(self, url: str, db_url: str, index: int, db: ClinicDB | None = None) -> None:
        self.db = db or ClinicDB(db_url)
        client, connect = make_client(
            BrokerOptions(url, f"clinic-w-{index}"), session_expiry_s=SHARED_SESSION_EXPIRY_S
        )
        subs = subscriptions(GROUP, status=index == 0)
        self.ingest = Ingest(client, self.db, subs=subs, end_session=True)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(connect,), daemon=True)
        self.thread.start()

    def _run(self, connect: Any) -> None:
        try:
            self.ingest.run(self.stop, connect=connect)
        except BaseException as exc:
            self.error = exc

    def close(self) -> IngestStats:
        self.stop.set()
        self.thread.join(WAIT_S)
        self.db.close()
        return self.ingest.stats


def test_clinic_workers_shared_subscription_stores_each_message_once(
    broker: Any, station: FakeStation, pg_url: str
) -> None:
    workers = [Worker(broker.url, pg_url, i) for i in range(2)]
    try:
        for w in workers:
            assert w.ingest.subscribed.wait(WAIT_S)
        envs = [envelope(seq=i) for i in range(1, 11)]
        for env in envs:
            station.publish("summary", json.dumps(env))
        ids = {e["msg_id"] for e in envs}
        assert acked_until(station, ids) == ids
    finally:
        stats = [w.close() for w in workers]
    assert [w.error for w in workers] == [None, None]
    assert sum(s.stored for s in stats) == 10 and all(s.stored > 0 for s in stats)
    assert sum(s.duplicates for s in stats) == 0
    with ClinicDB(pg_url) as db:
        assert sorted(db.msg_ids()) == sorted(ids)
        assert [s["max_seq"] for s in db.stations()] == [10]


def test_clinic_workers_message_of_a_failed_worker_is_stored_once_and_acked_by_each(
    broker: Any, station: FakeStation, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker 1 fails storing M (injected) and ends without acknowledging; its session
    keeps M in flight. The station resends M (its outbox does after resend_after) and worker
    2 stores it; worker 1, restarted, gets M again from its session: a duplicate. M is
    stored once and both workers acknowledge it."""
    env = envelope(seq=1)
    failing = ClinicDB(pg_url)

    def store_fails(*a: Any, **k: Any) -> Any:
        raise RuntimeError("injected: worker 1 dies before its commit")

    monkeypatch.setattr(failing, "store", store_fails)
    first = Worker(broker.url, pg_url, 1, db=failing)
    assert first.ingest.subscribed.wait(WAIT_S)
    station.publish("summary", json.dumps(env))
    first.thread.join(WAIT_S)
    assert isinstance(first.error, RuntimeError) and station.acks.empty()
    failing.close()
    second = Worker(broker.url, pg_url, 2)
    try:
        assert second.ingest.subscribed.wait(WAIT_S)
        for _ in range(2):  # two resends: the group deals them round robin
            station.publish("summary", json.dumps(env))
        assert station.next_ack() == [env["msg_id"]]
        again = Worker(broker.url, pg_url, 1)
        # Three deliveries in all: the one in flight to worker 1 and the two resends.
        wait_until(
            lambda: second.ingest.stats.received + again.ingest.stats.received == 3,
            what="every delivery of M handled",
        )
        stats_again = again.close()
    finally:
        stats_second = second.close()
    # Worker 2 stored M; worker 1 found it stored; both acknowledged what they got (the
    # acks of one batch are merged, so the station may see fewer ack messages).
    assert (stats_second.stored, stats_again.stored) == (1, 0)
    assert stats_again.duplicates >= 1 and stats_second.duplicates + stats_again.duplicates == 2
    assert stats_second.acks_published >= 1 and stats_again.acks_published >= 1
    with ClinicDB(pg_url) as db:
        assert db.msg_ids() == [env["msg_id"]] and db.counters() == {"duplicates": 2}


def test_clinic_workers_report_and_export_read_a_postgresql_database(pg_url: str) -> None:
    with ClinicDB(pg_url) as db, db.transaction():
        db.store(envelope(seq=1, station="st-0042"), "summary")
    rep = rehab_station("clinic", "report", "--db", pg_url, "--json")
    assert rep.returncode == 0, rep.stderr
    (st,) = json.loads(rep.stdout)["stations"]
    assert st["station_id"] == "st-0042"
    exp = rehab_station("clinic", "export", "--fhir", "--db", pg_url, "--station", "st-0042")
    assert exp.returncode == 0, exp.stderr
    (bundle,) = json.loads(exp.stdout)
    assert bundle["resourceType"] == "Bundle" and bundle["entry"]


def test_clinic_workers_share_group_name_is_checked() -> None:
    assert subscriptions("g", status=False) == [
        ("$share/g/rehab/v1/stations/+/summary", 1),
        ("$share/g/rehab/v1/stations/+/selftest", 1),
        ("$share/g/rehab/v1/stations/+/plan/result", 1),
    ]
    for bad in ("", "a/b", "a+", "#"):
        with pytest.raises(ValueError, match="share group is a non-empty name"):
            subscriptions(bad)


def test_clinic_workers_load_run_with_a_few_stations_loses_and_doubles_nothing(
    broker: Any, pg_server: PostgresServer, tmp_path: Path
) -> None:
    """The benchmark's round (``tests/bench/clinic_load.py``) with 4 stations and 2 worker
    processes: every summary committed into an outbox is stored once and acknowledged."""
    from bench.clinic_load import run_load

    r = run_load(broker, pg_server, tmp_path, stations=4, per_station=2, workers=2, hosts=1)
    assert (r.messages, r.lost, r.stored_twice, r.pending) == (8, 0, 0, 0)
    assert len(r.latencies_s) == 8
    assert r.ingest["stored"] + r.ingest["duplicates"] >= 8 and r.ingest["rejected"] == 0


def test_clinic_workers_failing_worker_stops_the_others_and_is_reported() -> None:
    """The fault: the database cannot be reached. Each worker process fails at once with
    the reason; the parent stops the rest and returns the errors (the command exits 1)."""
    from mqtt_bridge.clinic_workers import WorkerPlan, run_workers

    plan = WorkerPlan(
        BrokerOptions("mqtt://127.0.0.1:1", "clinic-x"), "postgresql://rehab@127.0.0.1:1/x", GROUP
    )
    totals, errors = run_workers(plan, 2, threading.Event())
    assert any("cannot connect to the clinic database" in e for e in errors)
    assert any("ended with exit code 1" in e for e in errors)
    assert totals == {"reasons": {}}
