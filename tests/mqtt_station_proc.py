"""A station process for the chaos test and the drain benchmark (run as a script).

It writes session summaries into the station outbox (``mqtt_bridge.outbox.enqueue``) and
runs the station's MQTT client (``mqtt_bridge.client.StationClient``), which publishes them
and deletes each row when the clinic acknowledges it. Every summary's ``msg_id`` also goes
into a ``ledger`` table **in the same transaction** as its outbox row: the ledger is the
ground truth of what the station committed, whatever is later deleted from the outbox and
however the process dies.

    python tests/mqtt_station_proc.py --db FILE --broker URL --station ID
        [--rate HZ] [--prefill N] [--exit-when-empty] [--seed N]

Prints one JSON line on a clean exit: produced, pending and the RSS high-water mark.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mqtt_bridge import outbox
from mqtt_bridge.client import StationClient

SCHEMA = "rehab.session/1"


def body(rng: random.Random, n: int) -> dict[str, Any]:
    """A realistic summary body (about 1 KB as JSON), varied by ``rng``."""
    grip = round(rng.uniform(60, 140), 3)
    return {
        "session_id": f"chaos-{n}",
        "started_at": "2026-11-20T09:50:00Z",
        "ended_at": "2026-11-20T10:02:31Z",
        "complete": True,
        "state": "complete",
        "ended_reason": "",
        "protocols": [
            {
                "protocol": "max_grip",
                "trials": 6,
                "metrics": {
                    "involved_mean_force": {
                        "value": grip,
                        "unit": "N",
                        "uncertainty": 2.1,
                        "hand": "left",
                        "n": 3,
                        "method": "mean of trials (ASHT)",
                    },
                    "involved_best_force": {"value": grip + 4.2, "unit": "N", "uncertainty": 2.9},
                    "involved_cv": {"value": 4.1, "unit": "%", "note": "data quality only"},
                    "uninvolved_mean_force": {"value": 180.2, "unit": "N", "uncertainty": 3.3},
                    "limb_symmetry_index": {
                        "value": round(100 * grip / 180.2, 3),
                        "unit": "%",
                        "uncertainty": 2.5,
                        "formula": "involved / uninvolved x 100",
                    },
                },
            }
        ],
        "adherence": {"minutes": 12.52, "trials": 6, "days_this_week": 3},
        "checkin": {
            "pain_before": 2,
            "pain_after": 2,
            "new_numbness": False,
            "wound_problem": False,
        },
        "safety_events": [],
        "data_quality": {"bus_errors": 0, "overruns": 0, "calibration_age_days": 12},
        "software_version": "0.1.0",
        "plan_version": 3,
    }


class Producer:
    """Commits summaries (outbox row + ledger row in one transaction)."""

    def __init__(self, db: Path, seed: int) -> None:
        self.conn = outbox.connect(db)
        self.conn.execute("CREATE TABLE IF NOT EXISTS ledger(msg_id TEXT PRIMARY KEY)")
        self.rng = random.Random(seed)
        self.produced = 0

    def one(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            msg_id = outbox.enqueue(self.conn, SCHEMA, body(self.rng, self.produced))
            self.conn.execute("INSERT INTO ledger(msg_id) VALUES (?)", (msg_id,))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        self.produced += 1


def rss_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--broker", required=True, help="mqtt://host:port")
    ap.add_argument("--station", required=True)
    ap.add_argument("--rate", type=float, default=0.0, help="summaries per second")
    ap.add_argument("--prefill", type=int, default=0, help="summaries to commit first")
    ap.add_argument("--exit-when-empty", action="store_true")
    ap.add_argument("--no-send", action="store_true", help="only commit --prefill, then exit")
    ap.add_argument("--resend-after", type=float, default=3.0)
    ap.add_argument("--window", type=int, default=20, help="messages in flight")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    producer = Producer(args.db, args.seed)
    t0 = time.monotonic()
    for _ in range(args.prefill):
        producer.one()
    prefill_s = time.monotonic() - t0
    if args.no_send:
        print(json.dumps({"produced": producer.produced, "prefill_s": round(prefill_s, 3)}))
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())

    def produce() -> None:
        while not stop.wait(1.0 / args.rate):
            producer.one()

    if args.rate > 0:
        threading.Thread(target=produce, daemon=True).start()
    parts = urlsplit(args.broker)
    client = StationClient(
        args.station,
        parts.hostname or "127.0.0.1",
        parts.port or 1883,
        db_path=args.db,
        resend_after_s=args.resend_after,
        max_resend_after_s=args.resend_after * 2,
        window=args.window,
        # Chaos restarts the broker every few seconds: keep the backoff short.
        reconnect_min_s=(0.3, 0.6),
        reconnect_max_s=(1.5, 2.5),
        seed=args.seed,
        poll_s=0.05,
    )
    t1 = time.monotonic()
    client.start()
    while not stop.wait(0.05):
        if args.exit_when_empty and outbox.read_counts(args.db).depth == 0:  # type: ignore[union-attr]
            break
    send_s = time.monotonic() - t1
    stop.set()
    client.close()
    counts = outbox.read_counts(args.db)
    print(
        json.dumps(
            {
                "produced": producer.produced,
                "pending": counts.depth if counts else -1,
                "send_s": round(send_s, 3),
                "rss_hwm_kib": rss_hwm_kib(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
