"""Measured grip against the virtual patient's true peaks, over several simulated stations.

Each seed is a station of its own (its own FSR part, calibrated by the simulated technician)
and a typical patient doing a max-grip session through the LCD, the buttons and the pad.
Issue 10: the measured grip over-read the truth in every hand-session (+2.4 %, never
negative): the default ``loglog2`` fit over-read by up to 1.5 % from 5 to 15 N, the pad was
calibrated at 1.0-1.5 s under load while a squeeze's peak comes later (creep), and the FSR
model drew its press-to-press repeatability afresh on every sample (noise that biases a
peak). ``tests/bench/grip_bias.py`` prints the same figures for longer runs.

The station here has only the grip pad (one ADS1115 input, read at the usual 100 Hz) and no
motors or glove: the measurement is the same, the simulation a third of the cost.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from sensors.calibration import CalibrationRecord, CalibrationStore
from station import config as config_mod
from station.app import App
from station.plan import default_sim_plan
from station.plan import from_dict as plan_from_dict

#: Stations (seeds) the test runs: consecutive, not chosen.
SEEDS = (1, 2, 3, 4)
#: Parameters of the default fit (R_sat, k, n): what a record's residuals are shared among.
FIT_PARAMETERS = 3


def grip_only_config() -> config_mod.Config:
    return config_mod.validate(
        {
            "glove": {"fitted": False},
            "haptics": {"fitted": False},
            "pads": {"adc_addresses": [0x48], "pads_per_adc": 1},
        }
    )


def hand_sessions(
    seed: int, data_dir: Path, config: config_mod.Config, trials_per_hand: int = 3
) -> tuple[list[dict[str, Any]], CalibrationRecord]:
    """One max-grip session of a typical patient on the simulated station ``seed``; a row
    per hand (measured mean, the patient's true mean peak, bias in N and %) and the grip
    pad's calibration record."""
    app = App(config, data_dir, sim=True, seed=seed).open()
    try:
        st = app.station
        assert st is not None and st.sim is not None
        patient = st.sim.patient("typical", st.clock, app.config["buttons"], seed=seed)
        patient.start()
        raw = json.loads(json.dumps(default_sim_plan(app.config.station_id).raw))
        raw["schedule"][0]["params"]["trials_per_hand"] = trials_per_hand
        outcome = app.run_session(plan_from_dict(raw, app.config.station_id))
        patient.stop()
    finally:
        app.close()
    assert outcome is not None and outcome.state == "complete", outcome
    record = CalibrationStore(data_dir / "calibration").latest("pad", "pad0")
    assert record is not None
    (grip,) = outcome.summary["protocols"]
    rows = []
    for role in ("involved", "uninvolved"):
        m = grip["metrics"][f"{role}_mean_force"]
        truth = statistics.mean(patient.peaks[m["hand"]])
        rows.append(
            {
                "seed": seed,
                "hand": m["hand"],
                "measured_n": m["value"],
                "true_n": round(truth, 3),
                "bias_n": round(m["value"] - truth, 3),
                "bias_pct": round(100.0 * (m["value"] - truth) / truth, 2),
            }
        )
    return rows, record


def stated_uncertainty_pct(records: list[CalibrationRecord], trials: int) -> float:
    """Standard uncertainty (%) of the mean relative bias of ``trials`` squeezes spread
    evenly over the pads of ``records``, from what each record says about itself: its
    relative residuals give one weighing's scatter (a squeeze's too, both single presses);
    the fitted curve carries sqrt(parameters / points) of that, shared by the pad's squeezes.
    """
    scatter_sq, curve_sq = [], []
    for r in records:
        rel = [res / force for res, (force, _g) in zip(r.residuals, r.points, strict=True)]
        s2 = sum(x * x for x in rel) / (len(rel) - FIT_PARAMETERS)
        scatter_sq.append(s2)
        curve_sq.append(s2 * FIT_PARAMETERS / len(rel))
    variance = statistics.mean(curve_sq) / len(records) + statistics.mean(scatter_sq) / trials
    return 100.0 * math.sqrt(variance)


def test_measured_grip_has_no_systematic_bias_against_the_patients_truth(
    tmp_path: Path,
) -> None:
    rows: list[dict[str, Any]] = []
    records = []
    for seed in SEEDS:
        mine, record = hand_sessions(seed, tmp_path / f"s{seed}", grip_only_config(), 1)
        rows += mine
        records.append(record)
    bias_pct = [r["bias_pct"] for r in rows]
    mean_pct = statistics.mean(bias_pct)
    u_pct = stated_uncertainty_pct(records, len(rows))
    # Within 3 standard uncertainties of none, as the pads' own records state them.
    assert abs(mean_pct) <= 3 * u_pct, (mean_pct, u_pct, rows)
    # And not one-signed: a bias the noise hides is still a bias if every hand shows it.
    positive = sum(1 for b in bias_pct if b > 0)
    assert 0 < positive < len(bias_pct), rows
