"""Grip bias benchmark: measured minus true grip over simulated max-grip sessions.

Run from the repository root::

    .venv/bin/python tests/bench/grip_bias.py [--seeds 10] [--first-seed 1] [--trials 3]
        [--fsr KEY=VALUE ...] [--json]

Each seed is one simulated station (its own pads, calibrated by the simulated technician)
and one typical virtual patient doing the built-in plan, through the product's own wiring
(``station.app.App``, the LCD, the buttons and the pads). A hand-session is one hand's
``<role>_mean_force`` against the mean of the patient's true squeeze peaks for that hand.
Printed: the bias per hand-session, then its mean, SD, the standard error of the mean (from
the per-station means: a station's two hands share its calibration), and how many are
positive. The IMU glove is left out (no grip figure uses it; it is most of the cost; about
12 s a seed on one core). ``--fsr`` changes the simulated FSR parts (``FsrParams`` fields,
e.g. ``repeatability_rel=0`` or ``creep_per_decade=0``) to take causes out one by one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_grip_bias import hand_sessions

from station import config as config_mod
from station.sim import world as world_mod
from station.sim.fsr import FsrParams


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    bias = [r["bias_n"] for r in rows]
    pct = [r["bias_pct"] for r in rows]
    per_seed = [
        statistics.mean(r["bias_pct"] for r in rows if r["seed"] == s)
        for s in sorted({r["seed"] for r in rows})
    ]
    sem = statistics.stdev(per_seed) / math.sqrt(len(per_seed)) if len(per_seed) > 1 else 0.0
    return {
        "n": len(bias),
        "mean_bias_n": round(statistics.mean(bias), 3),
        "sd_bias_n": round(statistics.stdev(bias), 3) if len(bias) > 1 else 0.0,
        "mean_bias_pct": round(statistics.mean(pct), 2),
        "sem_pct": round(sem, 2),
        "positive": sum(1 for b in bias if b > 0),
    }


def use_fsr(overrides: list[str]) -> None:
    """Every simulated FSR part from now on starts from ``FsrParams`` with ``overrides``."""
    fields = {f.name for f in dataclasses.fields(FsrParams)}
    changes = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--fsr {item!r}: expected KEY=VALUE, KEY one of {sorted(fields)}")
        changes[key] = float(value)
    base = dataclasses.replace(FsrParams(), **changes)
    world_mod.FsrParams = lambda: base  # type: ignore[assignment,misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--trials", type=int, default=3, help="squeezes per hand (1..6)")
    parser.add_argument("--fsr", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_fsr(args.fsr)
    config = config_mod.validate({"glove": {"fitted": False}})
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            mine, _record = hand_sessions(seed, Path(tmp) / f"seed{seed}", config, args.trials)
            rows += mine
            for r in [] if args.json else mine:
                print(
                    f"seed {r['seed']:3d} {r['hand']:<5} measured {r['measured_n']:7.3f} N"
                    f"  true {r['true_n']:7.3f} N  bias {r['bias_n']:+.3f} N"
                    f" ({r['bias_pct']:+.2f} %)",
                    flush=True,
                )
    s = summary(rows)
    if args.json:
        json.dump({"hand_sessions": rows, "summary": s}, sys.stdout, indent=2)
        print()
        return
    print(
        f"n {s['n']}  mean {s['mean_bias_n']:+.3f} N ({s['mean_bias_pct']:+.2f} %"
        f" ± {s['sem_pct']:.2f} % SEM)  SD {s['sd_bias_n']:.3f} N"
        f"  positive {s['positive']} of {s['n']}"
    )


if __name__ == "__main__":
    main()
