"""Benchmark: drain 10,000 queued summaries from a station outbox into the clinic database.

    .venv/bin/python tests/bench/outbox_drain.py [--count N]

Starts mosquitto on a free loopback port, commits N summaries (about 1 KB each) into a
station outbox, starts the clinic consumer (``rehab-station clinic ingest``), then the
station client, and times the drain end to end: a row leaves the outbox only after the
consumer committed it and acknowledged it. Prints messages per second, time to drain, and
the peak memory (RSS high-water mark, VmHWM) of the station process and the consumer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from mqtt_broker import Broker  # noqa: E402  (the tests' mosquitto fixture class)

STATION = "st-bench"


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--window", type=int, default=20, help="station messages in flight")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="outbox-drain-"))
    broker = Broker(work / "broker", max_queued_messages=2 * args.count)
    url = broker.url
    station_db, clinic_db = work / "station.db", work / "clinic.db"
    station_cmd = [
        sys.executable,
        str(ROOT / "tests" / "mqtt_station_proc.py"),
        "--db",
        str(station_db),
        "--broker",
        url,
        "--station",
        STATION,
    ]
    consumer = None
    try:
        fill = subprocess.run(
            [*station_cmd, "--prefill", str(args.count), "--no-send"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        prefill = json.loads(fill.stdout)
        conn = sqlite3.connect(station_db)
        body_bytes = conn.execute("SELECT avg(length(body)) FROM outbox").fetchone()[0]
        conn.close()

        consumer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "station",
                "clinic",
                "ingest",
                "--broker",
                url,
                "--db",
                str(clinic_db),
                "--json",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert consumer.stderr is not None
        for line in consumer.stderr:
            if "subscribed to" in line:
                break
        t0 = time.monotonic()
        drained = subprocess.run(
            [*station_cmd, "--exit-when-empty", "--window", str(args.window)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=600,
        )
        wall_s = time.monotonic() - t0
        station = json.loads(drained.stdout)
        consumer_hwm = vm_hwm_kib(consumer.pid)
        consumer.send_signal(signal.SIGTERM)
        out, _ = consumer.communicate(timeout=30)
        counters = json.loads(out)
        conn = sqlite3.connect(clinic_db)
        stored = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        conn.close()
    finally:
        if consumer is not None and consumer.poll() is None:
            consumer.kill()
        broker.close()
    send_s = station["send_s"]
    print(
        f"outbox drain benchmark: {args.count} summaries, mean body {body_bytes:.0f} B, "
        f"station window {args.window} "
        f"(mosquitto on loopback, consumer acknowledging after commit)"
    )
    print(
        f"  prefill (commit into outbox): {prefill['prefill_s']:.2f} s "
        f"({args.count / prefill['prefill_s']:.0f} summaries/s)"
    )
    print(
        f"  drain, station client running: {send_s:.2f} s -> "
        f"{args.count / send_s:.0f} messages/s end to end"
    )
    print(f"  drain incl. station process start: {wall_s:.2f} s")
    print(
        f"  clinic stored {stored} of {args.count}; outbox pending {station['pending']}; "
        f"wire duplicates {counters['duplicates']}; acks published "
        f"{counters['acks_published']} in {counters['batches']} batches"
    )
    print(
        f"  peak RSS: station process {station['rss_hwm_kib'] / 1024:.1f} MiB, "
        f"consumer {consumer_hwm / 1024:.1f} MiB"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if stored == args.count and station["pending"] == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
