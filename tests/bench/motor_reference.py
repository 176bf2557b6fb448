"""Motor calibration with a glove IMU, against the simulated world's motors.

Run from the repository root::

    .venv/bin/python tests/bench/motor_reference.py [--seeds 5] [--json]

For each actuator (ERM, LRA) and seed, ``rehab-station calibrate motors --sim`` (the CLI,
its simulated technician strapping the index IMU on each pad) calibrates the four motors;
every row of each record is then compared with the world's motor at that drive: the
largest amplitude error (dB, rows with vibration), the largest frequency error (Hz), the
rows recorded as no vibration while the motor gave some (and the largest such truth, mg),
and the CPU time of the command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from station import cli, hardware
from station.config import validate


def calibrate(actuator: str, seed: int, data_dir: Path) -> dict[str, Any]:
    cfg_file = data_dir / "station.toml"
    cfg_file.write_text(f'schema = "rehab.config/1"\n[haptics]\nactuator = "{actuator}"\n')
    argv = ["calibrate", "motors", "--sim", "--seed", str(seed), "--config", str(cfg_file)]
    t0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main([*argv, "--data-dir", str(data_dir / "data")])
    cpu_s = time.process_time() - t0
    if rc != 0:
        raise SystemExit(f"calibrate motors failed for {actuator} seed {seed}: exit {rc}")
    cfg = validate({"haptics": {"actuator": actuator}})
    st = hardware.build(cfg, sim=True, data_dir=data_dir / "data", seed=seed, calibrate_sim=False)
    try:
        assert st.haptics is not None and st.sim is not None
        db_err = hz_err = missed_g = 0.0
        missed = rows = 0
        worst = (0.0, 0.0, 0.0)
        for motor, record in st.haptics.records.items():
            c = record.coefficients
            truth = st.sim.world.motors[motor]
            for d, a, f in zip(c["drive"], c["amplitude_g"], c["frequency_hz"], strict=True):
                true_g, true_hz = truth.vibration_for_drive(d)
                if a > 0:
                    rows += 1
                    err = abs(20 * math.log10(a / true_g))
                    if err > db_err:
                        db_err, worst = err, (d, a, true_g)
                    hz_err = max(hz_err, abs(f - true_hz))
                elif true_g > 0:
                    missed += 1
                    missed_g = max(missed_g, true_g)
    finally:
        st.close()
    return {
        "rows": rows,
        "max_db_error": round(db_err, 3),
        "worst_row": {"drive": round(worst[0], 3), "mg": round(1000 * worst[1], 2)}
        | {"true_mg": round(1000 * worst[2], 2)},
        "max_hz_error": round(hz_err, 2),
        "rows_read_as_still": missed,
        "largest_missed_mg": round(1000 * missed_g, 2),
        "cpu_s": round(cpu_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, list[dict[str, Any]]] = {}
    for actuator in ("erm", "lra"):
        out[actuator] = []
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as d:
                out[actuator].append({"seed": seed, **calibrate(actuator, seed, Path(d))})
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for actuator, runs in out.items():
        print(f"{actuator}: 4 motors a seed, seeds 0..{args.seeds - 1}")
        for r in runs:
            print(
                f"  seed {r['seed']}: {r['rows']} rows, max {r['max_db_error']} dB "
                f"(drive {r['worst_row']['drive']}: {r['worst_row']['mg']} mg for "
                f"{r['worst_row']['true_mg']}), "
                f"{r['max_hz_error']} Hz; {r['rows_read_as_still']} rows read as still "
                f"(largest truth {r['largest_missed_mg']} mg); {r['cpu_s']} s CPU"
            )


if __name__ == "__main__":
    sys.exit(main())
