"""A station MQTT client in its own process, for tests that SIGKILL it.

    python tests/mqtt_station_client_proc.py --db FILE --port N [--station ID] [--will-delay S]

Prints ``connected`` once the broker accepted it; runs until SIGTERM (clean close) or
until killed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mqtt_bridge.client import StationClient


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--station", default="st-0001")
    ap.add_argument("--will-delay", type=int, default=0)
    args = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    sc = StationClient(
        args.station,
        "127.0.0.1",
        args.port,
        db_path=args.db,
        will_delay_s=args.will_delay,
        reconnect_min_s=(0.1, 0.2),
        reconnect_max_s=(0.5, 1.0),
    )
    sc.start()
    if not sc.wait_connected(15.0):
        print("not connected", flush=True)
        return 2
    print("connected", flush=True)
    while not stop.wait(1.0):
        pass
    sc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
