"""Simulator speed: one whole simulated session, as a ratio to real time, glove fitted or not.

Run from the repository root::

    .venv/bin/python tests/bench/sim_speed.py [--seed 1] [--glove both|yes|no]
        [--profile FILE] [--json]

Each run opens the built-in simulated station (``station.app.App``) in a fresh data
directory, lets the simulated technician calibrate it (timed on its own: the start-up
figure), then runs the built-in plan with a typical virtual patient (``station.bench``'s
session figure: simulated seconds over wall seconds). ``--profile FILE`` writes a cProfile
of the sessions to ``FILE`` (read it with ``python -m pstats FILE``). Figures only:
nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from drivers.clock import MonotonicClock
from station import bench
from station import config as config_mod
from station.app import App


def measure(glove: bool, seed: int, profiler: cProfile.Profile | None) -> dict[str, Any]:
    """Start-up (with calibration) and one session on a fresh simulated station."""
    cfg = config_mod.validate({"glove": {"fitted": glove}})
    wall = MonotonicClock()
    with tempfile.TemporaryDirectory(prefix="rehab-sim-speed-") as tmp:
        t0 = wall.now()
        app = App(cfg, Path(tmp), sim=True, seed=seed).open()
        try:
            start_s = wall.now() - t0
            if profiler is not None:
                profiler.enable()
            try:
                figures = bench.session(app, seed=seed)
            finally:
                if profiler is not None:
                    profiler.disable()
        finally:
            app.close()
    figures["glove"] = glove
    figures["first_start_s"] = round(start_s, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--glove", choices=("both", "yes", "no"), default="both")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    gloves = {"both": (True, False), "yes": (True,), "no": (False,)}[args.glove]
    rows = [measure(g, args.seed, profiler) for g in gloves]
    if profiler is not None:
        profiler.dump_stats(args.profile)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return
    for r in rows:
        print(
            f"glove {'fitted' if r['glove'] else 'absent'}: session {r['state']}, "
            f"{r['simulated_s']:.0f} s simulated in {r['wall_s']:.1f} s wall "
            f"= {r['speed_x_real_time']:.1f}x real time ({r['cpu_s']:.1f} s CPU: "
            f"{r['speed_x_cpu_time']:.1f}x); first start (calibration) "
            f"{r['first_start_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
