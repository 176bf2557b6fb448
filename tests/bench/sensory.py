"""Sensory assessments on the simulated station, measured against the virtual patient's truth.

Run from the repository root::

    .venv/bin/python tests/bench/sensory.py [--sessions 25] [--jobs 2] [--json]

Each session is a fresh simulated station (four pads with motors, no glove, calibrated by
the simulated technician) and a virtual patient whose vibration threshold at each site is
drawn uniformly from -30 to -10 dB re 1 g rms; the session runs ``vibration_threshold`` in
assessment mode (QUEST+) on the four sites, the patient feeling the simulated motors. In
half of the sessions motors 2 and 3 are 3 dB weaker than their calibration says. Printed:
the coverage of the 68 % and 95 % intervals (with its Wilson 95 % range), the median
absolute error and the bias of the intact sites, the shift the weak motors show, the
trials per assessment and the CPU time per assessment. Figures only: nothing passes or
fails.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from station import config as config_mod
from station import plan as plan_mod
from station.app import App
from station.catalog import StationAbilities

SITES = [0, 1, 2, 3]
WEAK_DB = 3.0


def session(seed: int) -> dict[str, Any]:
    cfg = config_mod.validate(
        {
            "glove": {"fitted": False},
            "pads": {"adc_addresses": [0x48], "rate_hz": 50, "data_rate_sps": 250},
        }
    )
    rng = random.Random(seed)
    offsets = {s: rng.uniform(-10.0, 10.0) for s in SITES}  # around the -20 dB default
    weak = seed % 2 == 1
    with tempfile.TemporaryDirectory(prefix="rehab-bench-sensory-") as tmp:
        app = App(cfg, Path(tmp), sim=True, seed=seed).open()
        try:
            st = app.station
            assert st is not None and st.sim is not None
            if weak:
                for motor in st.sim.world.motors[2:]:
                    motor.max_amplitude_g *= 10 ** (-WEAK_DB / 20)
            typical = st.sim.patient("typical", st.clock, app.config["buttons"], seed=seed)
            senses = dict(typical.a.senses)
            vib = senses["vibration"]
            for s, off in offsets.items():
                vib = vib.with_offset(s, off)
            senses["vibration"] = vib
            patient = st.sim.patient(
                "typical", st.clock, app.config["buttons"], seed=seed, senses=senses
            )
            patient.start()
            raw = json.loads(json.dumps(plan_mod.default_sim_plan(cfg.station_id).raw))
            raw["caps"]["max_session_min"] = 60
            raw["gates"]["maximal_tests"] = False
            raw["schedule"] = [
                {
                    "protocol": "vibration_threshold",
                    "days": "daily",
                    "params": {"mode": "assessment", "sites": SITES},
                }
            ]
            plan = plan_mod.from_dict(raw, cfg.station_id, StationAbilities.of(cfg))
            c0 = time.process_time()
            outcome = app.run_session(plan)
            cpu = time.process_time() - c0
            assert outcome is not None
            (entry,) = outcome.summary["protocols"]
            rows = []
            for s in SITES:
                t = entry["metrics"][f"site{s}_threshold"]
                if t["value"] is None:
                    continue
                ph = t["physical"]
                value = 20 * math.log10(ph["value"])
                lo95, hi95 = (20 * math.log10(v) for v in ph["ci95"])
                # the 68 % interval in dB re the motor's reference; the same offset as the value
                shift = value - t["value"]
                lo68, hi68 = (v + shift for v in t["ci68"])
                truth = patient.true_threshold("vibration", s)
                expected = truth + (WEAK_DB if weak and s >= 2 else 0.0)
                rows.append(
                    {
                        "site": s,
                        "weak": weak and s >= 2,
                        "truth": truth,
                        "expected": expected,
                        "value": value,
                        "in95": lo95 <= expected <= hi95,
                        "in68": lo68 <= expected <= hi68,
                        "trials": entry["metrics"][f"site{s}_trials"]["value"],
                    }
                )
            return {"seed": seed, "cpu_s": cpu, "rows": rows, "state": outcome.state}
        finally:
            app.close()


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for res in results for r in res["rows"]]
    n = len(rows)
    intact = [r for r in rows if not r["weak"]]
    weak = [r for r in rows if r["weak"]]

    def coverage(key: str) -> dict[str, Any]:
        """The share covered, with its Wilson score 95 % range (sound at 0 % and 100 %)."""
        k = sum(r[key] for r in rows)
        p, z = k / n, 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return {"covered": k, "of": n, "rate": round(p, 3),
                "range95": [round(centre - half, 3), round(centre + half, 3)]}  # fmt: skip

    errs = [r["value"] - r["truth"] for r in intact]
    shifts = [r["value"] - r["truth"] for r in weak]
    return {
        "assessments": n,
        "coverage95": coverage("in95"),
        "coverage68": coverage("in68"),
        "median_abs_error_db": round(statistics.median(abs(e) for e in errs), 2),
        "bias_db": round(statistics.mean(errs), 2),
        "weak_motor_shift_db": round(statistics.mean(shifts), 2) if shifts else None,
        "weak_motor_shift_sd_db": round(statistics.stdev(shifts), 2) if len(shifts) > 1 else None,
        "trials_median": statistics.median(r["trials"] for r in rows),
        "cpu_s_per_assessment": round(sum(r["cpu_s"] for r in results) / n, 2),
        "sessions_not_complete": sum(r["state"] != "complete" for r in results),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(session, range(1, args.sessions + 1)))
    figures = summarise(results)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    c95, c68 = figures["coverage95"], figures["coverage68"]
    print(f"{figures['assessments']} assessments (QUEST+, 4 sites x {args.sessions} sessions)")
    print(f"  95 % interval covers the truth: {c95['covered']}/{c95['of']} = {c95['rate']:.1%} "
          f"(Wilson 95 % range {c95['range95'][0]:.1%}-{c95['range95'][1]:.1%})")  # fmt: skip
    print(f"  68 % interval covers the truth: {c68['covered']}/{c68['of']} = {c68['rate']:.1%}")
    print(f"  intact motors: median |error| {figures['median_abs_error_db']} dB, "
          f"bias {figures['bias_db']:+} dB")  # fmt: skip
    if figures["weak_motor_shift_db"] is not None:
        print(f"  motors 3 dB weaker than calibrated: threshold {figures['weak_motor_shift_db']:+} "
              f"dB (SD {figures['weak_motor_shift_sd_db']})")  # fmt: skip
    print(f"  trials per assessment: median {figures['trials_median']}; "
          f"CPU {figures['cpu_s_per_assessment']} s per assessment")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
