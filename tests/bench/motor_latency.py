"""Motor biofeedback latency benchmark: the bar of the motor tasks on the default
simulated station (8 pads), beside its goals.

Run from the repository root::

    .venv/bin/python tests/bench/motor_latency.py [--seconds 20] [--steps 20] [--json]

Printed: a force step to 90 % of the bar (p50, p99) with the motor tasks' sample-paced
loop and with maximal grip's fixed 50 ms loop; for each tracking profile with a perfect
virtual patient (no delay, no wobble, reading the bar off the simulated LCD), force-to-LCD
latency (p50, p99 and its ratio to the 15 ms wire limit), the mean age of the target shown
and the tracking error the station adds (% of the target's RMS; goal < 5 %). The same
figures as ``rehab-station bench --sim`` (sine only there). Simulated time: the figures
are the station's, not the host's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from station import bench, config
from station.app import App


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="tracking run per profile (s)")
    ap.add_argument("--steps", type=int, default=20, help="force steps")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="motor-latency-") as tmp:
        app = App(config.validate({"glove": {"fitted": False}}), Path(tmp), sim=True, seed=1)
        app.open()
        try:
            figures = {
                "step_paced": bench.biofeedback_latency(app, steps=args.steps),
                "step_fixed_50ms": bench.biofeedback_latency(app, steps=args.steps, paced=False),
                "tracking": [
                    bench.tracking_latency(app, seconds=args.seconds, profile=p)
                    for p in ("ramp", "sine", "steps")
                ],
            }
        finally:
            app.close()
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for key in ("step_paced", "step_fixed_50ms"):
        b = figures[key]
        n = b["ninety_percent"]
        print(
            f"force step, {b['loop']}: 90 % of the bar p50 {n['p50_ms']:.1f} ms, p99 "
            f"{n['p99_ms']:.1f} ms ({b['p99_ratio_to_wire_limit']:.2f} x the wire limit)"
        )
    for t in figures["tracking"]:
        lat = t["force_to_lcd"]
        print(
            f"tracking {t['profile']:>5}: force to LCD p50 {lat['force_p50_ms']:.1f} ms, p99 "
            f"{lat['force_p99_ms']:.1f} ms ({t['p99_ratio_to_wire_limit']:.2f} x the "
            f"{t['wire_limit_ms']:.0f} ms wire limit), target age {lat['target_ms']:.1f} ms, "
            f"added error {t['added_error_pct_of_rms']:.2f} % of RMS (goal < 5 %), pad scale "
            f"{t['scale_error_pct']:+.1f} %"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
