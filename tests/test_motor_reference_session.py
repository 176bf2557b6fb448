"""``rehab-station calibrate motors --sim`` with a glove IMU as the reference: the record
it makes is within its own 1 dB of the simulated world's motor, and a session that
stimulates with it measures the virtual patient's vibration threshold as well as with the
records the other sensory tests use.

The session's station is the sensory tests' (one ADS1115, four pads, no glove); the
calibration runs on the same station with the glove plugged in (the world, hence the
motors, comes from the seed alone), as a technician brings a glove to a station without
one.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import SimCalibrations
from test_sensory_session import (
    SEED,
    db_re_1g,
    item,
    light_config,
    metrics,
    patient,
    run,
    sensory_plan,
)

from station import cli
from station.app import App

MOTOR = 1
GLOVE_CONFIG = """schema = "rehab.config/1"
[pads]
adc_addresses = [0x48]
rate_hz = 25
data_rate_sps = 128
[buzzer]
fitted = false
[glove]
odr_hz = 26
"""


def test_motor_reference_calibration_then_a_session_measures_the_true_threshold(
    tmp_path: Path, sim_calibrations: SimCalibrations, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = light_config()
    data_dir = sim_calibrations.data_dir(tmp_path / "data", cfg, SEED)
    glove_cfg = tmp_path / "glove.toml"
    glove_cfg.write_text(GLOVE_CONFIG)
    argv = ["calibrate", "motors", "--motor", str(MOTOR), "--sim", "--seed", str(SEED)]
    assert cli.main([*argv, "--config", str(glove_cfg), "--data-dir", str(data_dir)]) == 0
    assert f"motor{MOTOR}: saved v2" in capsys.readouterr().out
    app = App(cfg, data_dir, sim=True, seed=SEED).open()
    try:
        st = app.station
        assert st is not None and st.haptics is not None and st.sim is not None
        record = st.haptics.records[MOTOR]
        assert record.version == 2
        c = record.coefficients
        truth = st.sim.world.motors[MOTOR]
        table = zip(c["drive"], c["amplitude_g"], c["frequency_hz"], strict=True)
        rows = [r for r in table if r[1] > 0]
        assert len(rows) >= 15
        for drive, amplitude_g, frequency_hz in rows:
            true_g, true_hz = truth.vibration_for_drive(drive)
            assert abs(20 * math.log10(amplitude_g / true_g)) <= record.tolerance["db"]
            assert frequency_hz == pytest.approx(true_hz, abs=2.0)
        p = patient(app)
        out = run(app, sensory_plan(app, item("vibration_threshold", mode="assessment", sites=[1])))
        p.stop()
        assert out.state == "complete"
        value, lo, hi = db_re_1g(metrics(out, "vibration_threshold")[f"site{MOTOR}_threshold"])
        true_db = p.true_threshold("vibration", MOTOR)
        assert lo <= true_db <= hi and abs(value - true_db) <= 3.0, (value, lo, hi, true_db)
    finally:
        app.close()
