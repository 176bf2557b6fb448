"""Benchmark: N stations' outboxes into PostgreSQL through 1, 2 and 4 ingest workers.

    .venv/bin/python tests/bench/clinic_load.py [--stations 500] [--per-station 4]
        [--workers 1,2,4] [--hosts 4] [--no-kill]

Starts mosquitto and a PostgreSQL server on loopback, then for each worker count: a new
database, ``rehab-station clinic ingest --workers W`` (a shared subscription), and
``--hosts`` processes that each run a share of the stations, every one a real
``StationClient`` with its own SQLite outbox. When all are connected, every station commits
``--per-station`` summaries into its outbox at once; the run ends when every outbox is
empty (each row deleted on the clinic's acknowledgement). Prints messages per second,
latency from the outbox commit to the acknowledgement (p50/p99), station memory, and checks
the database against the stations' ledgers: 0 lost, 0 stored twice. Then one worker with the
broker SIGKILLed during the burst and restarted: the same checks, and how the stations'
reconnects spread out after the restart (their backoff is drawn per station).

``run_load(...)`` is also called by the test suite with a few stations (no figures).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from mqtt_broker import Broker  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402

SCHEMA = "rehab.session/1"
READY_TIMEOUT_S = 120.0
#: The broker-kill round: SIGKILL this long after the burst starts, restart after DOWN_S,
#: and keep the stations running LINGER_S more to see all of them reconnect.
KILL_AT_S, DOWN_S, LINGER_S = 0.5, 2.0, 12.0


# -- the station host (a child process running many stations) ---------------------------


def host_main(args: argparse.Namespace) -> int:
    """Run stations ``args.first .. first+count-1``; print ``ready``, wait for ``go`` on
    stdin, commit the summaries, wait until every outbox is empty, print JSON figures."""
    import random

    from mqtt_station_proc import body

    from mqtt_bridge import outbox
    from mqtt_bridge.client import StationClient

    logging.basicConfig(level=logging.CRITICAL)  # 500 stations' link errors are expected

    acked: dict[str, float] = {}
    lock = threading.Lock()
    original_ack = outbox.Outbox.acknowledge

    def acknowledge(self: outbox.Outbox, msg_ids: Any) -> int:
        ids = list(msg_ids)
        n = original_ack(self, ids)
        now = time.time()
        with lock:
            for m in ids:
                acked.setdefault(m, now)
        return n

    outbox.Outbox.acknowledge = acknowledge  # type: ignore[method-assign]
    connects: list[float] = []
    original_on_connect = StationClient._on_connect

    def on_connect(self: StationClient, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if not rc.is_failure:
            connects.append(time.time())
        original_on_connect(self, c, u, flags, rc, props)

    StationClient._on_connect = on_connect  # type: ignore[method-assign]
    work = Path(args.work)
    ids = [f"st-{i:05d}" for i in range(args.first, args.first + args.count)]
    clients = []
    for n, sid in enumerate(ids):
        clients.append(
            StationClient(
                sid,
                "127.0.0.1",
                args.port,
                db_path=work / f"{sid}.db",
                resend_after_s=args.resend_after,
                max_resend_after_s=2 * args.resend_after,
                seed=args.first + n,
                poll_s=0.2,
            )
        )
    for c in clients:
        c.start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    for c in clients:
        if not c.wait_ready(max(0.1, deadline - time.monotonic())):
            print(json.dumps({"error": f"{c.station_id} not ready"}), flush=True)
            return 1
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    rng = random.Random(args.first)
    enqueued: dict[str, float] = {}
    for sid in ids:
        conn = outbox.connect(work / f"{sid}.db")
        conn.execute("BEGIN IMMEDIATE")
        batch = [outbox.enqueue(conn, SCHEMA, body(rng, k)) for k in range(args.per_station)]
        conn.execute("COMMIT")
        conn.close()
        t = time.time()
        for m in batch:
            enqueued[m] = t
    t_go = time.monotonic()
    deadline = t_go + args.timeout
    while time.monotonic() < deadline:
        depth = sum(c.counts().depth for c in clients)
        if depth == 0 and time.monotonic() - t_go >= args.linger:
            break
        time.sleep(0.2)
    pending = sum(c.counts().depth for c in clients)
    for c in clients:
        c.close(timeout_s=2.0)
    rss_kib = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss_kib = int(line.split()[1])
    out = {
        "enqueued": enqueued,
        "acked": acked,
        "pending": pending,
        "connects": connects,
        "rss_hwm_kib": rss_kib,
        "stations": len(ids),
        "outbox_bytes": sum((work / f"{s}.db").stat().st_size for s in ids),
    }
    print(json.dumps(out), flush=True)
    return 0


# -- the driver ------------------------------------------------------------------------


@dataclass
class Result:
    workers: int
    stations: int
    messages: int
    seconds: float
    commit_span_s: float
    latencies_s: list[float]
    lost: int
    stored_twice: int
    wire_duplicates: int
    pending: int
    rss_per_station_kib: float
    host_rss_kib: list[int]
    outbox_bytes: int
    reconnect_offsets_s: list[float] = field(default_factory=list)
    ingest: dict[str, Any] = field(default_factory=dict)


def _wait_lines(path: Path, text: str, n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(errors="replace").count(text) >= n:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{path}: fewer than {n} lines with {text!r}; see the log")


def run_load(
    broker: Broker,
    pg: PostgresServer,
    work: Path,
    *,
    stations: int,
    per_station: int,
    workers: int,
    hosts: int,
    kill_broker: bool = False,
    resend_after_s: float = 10.0,
    timeout_s: float = 300.0,
) -> Result:
    """One round; raises ``RuntimeError`` when a part fails to start or finish."""
    import psycopg

    from mqtt_bridge.clinic_db import ClinicDB

    url = pg.new_database()
    ClinicDB(url).close()  # the schema, before the workers race to make it
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"ingest-{workers}-{uuid.uuid4().hex[:6]}.log"
    ingest = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "station",
            "clinic",
            "ingest",
            "--broker",
            broker.url,
            "--db",
            url,
            "--workers",
            str(workers),
            "--group",
            "bench",
            "--json",
            "--client-id",
            f"bench-{uuid.uuid4().hex[:6]}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(log, "w"),  # noqa: SIM115 - closed with the process
        text=True,
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        _wait_lines(log, "subscribed to", workers, 60.0)
        share = [stations // hosts + (1 if i < stations % hosts else 0) for i in range(hosts)]
        first = 0
        for i, count in enumerate(share):
            d = work / f"host-{i}-{uuid.uuid4().hex[:6]}"
            d.mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--host",
                        "--first",
                        str(first),
                        "--count",
                        str(count),
                        "--port",
                        str(broker.port),
                        "--work",
                        str(d),
                        "--per-station",
                        str(per_station),
                        "--resend-after",
                        str(resend_after_s),
                        "--timeout",
                        str(timeout_s),
                    ],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            first += count
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a station host did not get ready: {line!r}")
        t0 = time.time()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        restarted_at = None
        if kill_broker:
            time.sleep(KILL_AT_S)
            broker.stop(signal.SIGKILL)
            time.sleep(DOWN_S)
            broker.start()
            restarted_at = time.time()
        outs = []
        for p in procs:
            out, _ = p.communicate(timeout=timeout_s + 60)
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        ingest.send_signal(signal.SIGTERM)
        try:
            ingest_out, _ = ingest.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            ingest.kill()
            ingest_out = ""
    enqueued = {m: t for o in outs for m, t in o["enqueued"].items()}
    acked = {m: t for o in outs for m, t in o["acked"].items()}
    with psycopg.connect(url) as conn:
        stored = [r[0] for r in conn.execute("SELECT msg_id FROM messages")]
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT msg_id FROM messages GROUP BY msg_id"
            " HAVING count(*) > 1) d"
        ).fetchone()[0]
        dups = conn.execute("SELECT value FROM counters WHERE name = 'duplicates'").fetchone()
        span = conn.execute("SELECT min(received_at), max(received_at) FROM messages").fetchone()
    lat = sorted(acked[m] - enqueued[m] for m in enqueued if m in acked)
    end = max(acked.values()) if acked else t0
    rss = [o["rss_hwm_kib"] for o in outs]
    from mqtt_bridge import clocks

    commits_s = (
        (clocks.parse_iso(span[1]) - clocks.parse_iso(span[0])).total_seconds() if span[0] else 0
    )
    return Result(
        workers=workers,
        stations=stations,
        messages=len(enqueued),
        seconds=end - t0,
        commit_span_s=commits_s,
        latencies_s=lat,
        lost=len(set(enqueued) - set(stored)),
        stored_twice=int(twice) + len(stored) - len(set(stored)),
        wire_duplicates=int(dups[0]) if dups else 0,
        pending=sum(o["pending"] for o in outs),
        rss_per_station_kib=sum(rss) / max(1, stations),
        host_rss_kib=rss,
        outbox_bytes=sum(o["outbox_bytes"] for o in outs),
        reconnect_offsets_s=sorted(
            t - restarted_at for o in outs for t in o["connects"] if t >= restarted_at
        )
        if restarted_at
        else [],
        ingest=json.loads(ingest_out.strip().splitlines()[-1]) if ingest_out.strip() else {},
    )


def pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def report(r: Result, label: str) -> None:
    print(
        f"{label}: {r.messages} msgs in {r.seconds:.1f} s = {r.messages / r.seconds:.0f} msg/s; "
        f"ack latency p50 {pct(r.latencies_s, 0.5):.2f} s, p99 {pct(r.latencies_s, 0.99):.2f} s; "
        f"lost {r.lost}, stored twice {r.stored_twice}, left in outboxes {r.pending}, "
        f"wire duplicates absorbed {r.wire_duplicates}"
    )
    print(
        f"  workers' commits: first to last {r.commit_span_s:.1f} s = "
        f"{r.messages / max(r.commit_span_s, 1e-3):.0f} msg/s stored"
    )
    print(
        f"  station memory: {r.rss_per_station_kib:.0f} KiB RSS per station "
        f"(hosts' peak {', '.join(f'{k / 1024:.0f}' for k in r.host_rss_kib)} MiB), "
        f"outbox file {r.outbox_bytes / max(1, r.stations) / 1024:.0f} KiB "
        "per station after the drain"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stations", type=int, default=500)
    ap.add_argument("--per-station", type=int, default=4)
    ap.add_argument("--workers", default="1,2,4", help="worker counts ('': only the kill)")
    ap.add_argument("--hosts", type=int, default=4, help="processes running the stations")
    ap.add_argument("--no-kill", action="store_true", help="skip the broker-kill round")
    ap.add_argument("--resend-after", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=300.0)
    # the station host mode (internal)
    ap.add_argument("--host", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--work", default="", help=argparse.SUPPRESS)
    ap.add_argument("--linger", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.host:
        return host_main(args)
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="clinic-load-"))
    broker = Broker(work / "broker", max_queued_messages=100 * args.stations * args.per_station)
    pg = PostgresServer()
    ok = True
    try:
        print(
            f"clinic load: {args.stations} stations x {args.per_station} summaries, "
            f"{args.hosts} station processes, mosquitto + PostgreSQL on loopback, "
            f"{os.cpu_count()} CPUs"
        )
        for w in (int(x) for x in args.workers.split(",") if x.strip()):
            r = run_load(
                broker,
                pg,
                work / f"w{w}",
                stations=args.stations,
                per_station=args.per_station,
                workers=w,
                hosts=args.hosts,
                resend_after_s=args.resend_after,
                timeout_s=args.timeout,
            )
            report(r, f"{w} worker(s)")
            ok &= r.lost == 0 and r.stored_twice == 0 and r.pending == 0
        if not args.no_kill:
            r = run_load(
                broker,
                pg,
                work / "kill",
                stations=args.stations,
                per_station=args.per_station,
                workers=1,
                hosts=args.hosts,
                kill_broker=True,
                resend_after_s=args.resend_after,
                timeout_s=args.timeout,
            )
            report(
                r, f"1 worker, broker SIGKILLed {KILL_AT_S} s into the burst, back {DOWN_S} s later"
            )
            off = r.reconnect_offsets_s
            per_s: dict[int, int] = {}
            for o in off:
                per_s[int(o)] = per_s.get(int(o), 0) + 1
            print(
                f"  reconnects after the restart: {len(off)}; offset from restart min "
                f"{pct(off, 0):.2f} s, p10 {pct(off, 0.1):.2f}, p50 {pct(off, 0.5):.2f}, "
                f"p90 {pct(off, 0.9):.2f}, max {pct(off, 1.0):.2f} s; busiest second "
                f"{max(per_s.values()) if per_s else 0} reconnects"
            )
            ok &= r.lost == 0 and r.stored_twice == 0 and r.pending == 0
    finally:
        broker.close()
        pg.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
