"""``rehab-station calibrate --sim``: the simulated station's technician answers the
prompts through the LCD and gpiozero's mock pins, puts the weights on the simulated pads
and straps a glove IMU on each motor's pad; the records it makes measure a virtual
patient's grip and vibration threshold within the sessions' tolerances, and a calibration
stopped half-way changes nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_session_e2e import (
    FORCE_TOL_N,
    FORCE_TOL_REL,
    grip_item,
    grip_trials,
    make_plan,
    patient,
    run,
)

from hw_tests.guided import REFERENCE_IMU
from hw_tests.sim_technician import SimTechnician
from sensors.calibration import CalibrationRecord, CalibrationStore
from sensors.glove import SEGMENTS, Glove
from station import cli, hardware
from station.app import App
from station.commands import calibrate_cmd
from station.config import load

CONFIG = 'schema = "rehab.config/1"\n[glove]\nfitted = false\n'
#: The motors' reference is a glove IMU: the glove fitted, at its lowest rate.
GLOVE_CONFIG = 'schema = "rehab.config/1"\n[glove]\nodr_hz = 26\n'
#: The session tests' simulated world: their records (made once per run) are reused.
SEED = 3


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(CONFIG)
    return path


def calibrate(config_file: Path, data_dir: Path, *args: str) -> int:
    argv = ["calibrate", *args, "--sim", "--config", str(config_file)]
    return cli.main([*argv, "--data-dir", str(data_dir)])


def files(data_dir: Path) -> dict[str, str]:
    d = data_dir / "calibration"
    return {p.name: p.read_text() for p in sorted(d.glob("*"))} if d.exists() else {}


def test_calibrate_pads_then_a_session_measures_the_true_grip(
    tmp_path: Path, config_file: Path, sim_calibrations: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The station as the session tests have it set up (seed 3), pad 0 then recalibrated.
    cfg = load(config_file, sim=True)
    data_dir = sim_calibrations.data_dir(tmp_path / "data", cfg, SEED)
    assert calibrate(config_file, data_dir, "pads", "--pad", "0", "--seed", str(SEED)) == 0
    out = capsys.readouterr().out
    assert "Pad 0 Put the 20 N weight on it, then press OK." in out
    assert "pad0: saved v2, largest residual" in out and "replaces v1 of " in out
    record = json.loads((data_dir / "calibration" / "pad-pad0-v2.json").read_text())
    assert [p[0] for p in record["points"]] == [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
    assert not (data_dir / "calibration" / "pad-pad1-v2.json").exists()
    # A session then measures a virtual patient's squeezes on pad 0 with that record.
    app = App(cfg, data_dir, sim=True, seed=SEED).open()
    try:
        assert app.station is not None and app.station.pads is not None
        assert app.station.pads.records[0].version == 2
        assert len(app.station.pads.records[0].points) == 6
        p = patient(app, "typical")
        outcome = run(app, make_plan(app, [grip_item(hands=("involved",), trials=2)]))
        p.stop()
        trials = grip_trials(app, outcome)
        assert outcome.state == "complete" and len(trials) == 2
        for trial, true_peak in zip(trials, p.peaks["right"], strict=True):
            measured = trial.response["peak_force_n"]
            assert math.isfinite(measured) and true_peak > 5.0
            assert abs(measured - true_peak) <= FORCE_TOL_N + FORCE_TOL_REL * true_peak
    finally:
        app.close()


def test_calibrate_a_weight_that_moves_is_asked_for_again_before_it_is_read(
    tmp_path: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Shaky(SimTechnician):
        """Puts the 2 N weight down wobbling the first time."""

        shaken = False

        def _place(self, pad: Any, weight_n: float) -> None:
            if weight_n == 2.0 and not self.shaken:
                Shaky.shaken = True
                pad.set_force_profile(lambda t: 2.0 * (1 + 0.3 * math.sin(40 * t)))
                self.press("ok", 0.2)
            else:
                super()._place(pad, weight_n)

    techs: list[SimTechnician] = []
    monkeypatch.setattr(
        calibrate_cmd, "_sim_technician", lambda st: techs.append(Shaky(st)) or techs[-1]
    )
    data_dir = tmp_path / "data"
    assert calibrate(config_file, data_dir, "pads", "--pad", "1") == 0
    seen = techs[0].seen
    asked = [t for t in seen if t.startswith("Pad 1 The weight moved")]
    assert len(asked) == 1
    assert seen.index(asked[0]) < seen.index("Pad 1 Put the 5 N weight on it, then press OK.")
    assert set(files(data_dir)) == {"pad-pad1-v1.json"}


@pytest.mark.parametrize(
    ("part", "back_at", "fault"),
    [
        ("pads", "Put the 5 N weight", None),
        ("motors", None, "open"),
    ],
)
def test_calibrate_stopped_half_way_changes_nothing(
    part: str,
    back_at: str | None,
    fault: str | None,
    tmp_path: Path,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    if part == "motors":
        config_file.write_text(GLOVE_CONFIG)
    assert calibrate(config_file, data_dir, part, f"--{part[:-1]}", "0") == 0
    before = files(data_dir)

    def technician(station: Any) -> SimTechnician:
        if fault:
            station.sim.chips.drvs[1].inject_actuator_fault(fault)
        return SimTechnician(station, back_at=back_at)

    monkeypatch.setattr(calibrate_cmd, "_sim_technician", technician)
    capsys.readouterr()
    assert calibrate(config_file, data_dir, part, f"--{part[:-1]}", "1", f"--{part[:-1]}", "0") == 1
    err = capsys.readouterr().err
    assert "nothing was changed" in err
    assert ("Back pressed" if back_at else "auto-calibration failed (DIAG_RESULT)") in err
    assert files(data_dir) == before


def test_calibrate_motors_and_glove_save_records_and_report_the_age_they_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    argv = ["--sim", "--data-dir", str(data_dir)]
    assert cli.main(["calibrate", "motors", "--motor", "2", *argv]) == 0
    assert cli.main(["calibrate", "motors", "--motor", "2", *argv]) == 0
    assert cli.main(["calibrate", "glove", *argv]) == 0
    out = capsys.readouterr().out
    assert "motor2: saved v1" in out
    assert "motor2: saved v2" in out and "replaces v1 of " in out and "0 days old" in out
    glove = json.loads((data_dir / "calibration" / "glove-glove-v1.json").read_text())
    assert glove["method"] == "still_pose"
    assert len(glove["coefficients"]) == 18  # 6 IMUs x (gyro bias, accel bias, accel scale)
    assert all(abs(b) < 5.0 for b in glove["coefficients"]["back.gyro_bias_dps"])
    motor = json.loads((data_dir / "calibration" / "motor-motor2-v2.json").read_text())
    assert motor["part"] == "motor" and len(motor["points"]) >= 5


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["pads", "--pad", "9"], "no pad 9: the station has pads 0..7"),
        (["pads", "--weights", "1,2,x"], "--weights must be numbers"),
        (["pads", "--weights", "5,2,1,0.5"], "at least 4 rising positive weights"),
    ],
)
def test_calibrate_bad_arguments_exit_2(
    args: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["calibrate", *args, "--sim", "--data-dir", str(tmp_path)]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("sim", [False, True])
def test_calibrate_motors_without_a_glove_says_how_and_exits_2(
    sim: bool, tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # on a Pi as in --sim: the check comes before any bus is opened
    config_file.write_text(CONFIG + '[station]\nid = "st-0001"\n')
    argv = ["calibrate", "motors", "--config", str(config_file), "--data-dir", str(tmp_path)]
    assert cli.main([*argv, *(["--sim"] if sim else [])]) == 2
    err = capsys.readouterr().err
    assert "no glove is fitted (glove.fitted = false): plug in a glove" in err
    assert not (tmp_path / "calibration").exists()


def test_calibrate_motors_bad_reference_imu_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["calibrate", "motors", "--sim", "--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--reference-imu", "wrist"])
    assert exc.value.code == 2
    assert "no glove IMU 'wrist': one of thumb, index, middle, ring, little, back" in (
        capsys.readouterr().err
    )
    # the command's names (kept light: no numpy at start) are the glove's
    assert calibrate_cmd.IMUS == SEGMENTS and calibrate_cmd.REFERENCE_IMU == REFERENCE_IMU


@pytest.mark.parametrize(
    ("where", "case"), [(lambda pad: None, "left on the glove"), (lambda pad: 3, "on pad 3")]
)
def test_calibrate_motors_with_the_imu_off_the_pad_stops_and_says_so(
    where: Any,
    case: str,
    tmp_path: Path,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_file.write_text(GLOVE_CONFIG)
    monkeypatch.setattr(
        calibrate_cmd, "_sim_technician", lambda st: SimTechnician(st, imu_on_pad=where)
    )
    data_dir = tmp_path / "data"
    assert calibrate(config_file, data_dir, "motors", "--motor", "1") == 1, case
    err = capsys.readouterr().err
    assert "motor 1: no vibration measured at drive 0.50, where every motor vibrates" in err
    assert "is the index IMU strapped flat on pad 1" in err and "nothing was changed" in err
    assert files(data_dir) == {}


def test_calibrate_motors_with_another_reference_imu(
    tmp_path: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text(GLOVE_CONFIG)
    techs: list[SimTechnician] = []

    def technician(station: Any) -> SimTechnician:
        techs.append(SimTechnician(station))
        station.sim.chips.imus["index"].unplug()  # the default would not answer
        return techs[-1]

    monkeypatch.setattr(calibrate_cmd, "_sim_technician", technician)
    data_dir = tmp_path / "data"
    assert calibrate(config_file, data_dir, "motors", "--motor", "3", "--reference-imu", "2") == 0
    assert "Motor 3 Strap the middle IMU flat on pad 3, then OK." in techs[0].seen
    assert set(files(data_dir)) == {"motor-motor3-v1.json"}


def test_calibrate_glove_record_is_loaded_at_start_and_corrects_the_gyros(
    tmp_path: Path, config_file: Path
) -> None:
    config_file.write_text(
        'schema = "rehab.config/1"\n[pads]\nfitted = false\n[haptics]\nfitted = false\n'
    )
    cfg, data_dir = load(config_file, sim=True), tmp_path / "data"

    def gyro_means() -> tuple[Any, dict[str, Any]]:
        """The glove's record and each IMU's mean angular rate over 1 s, hand still."""
        st = hardware.build(cfg, sim=True, data_dir=data_dir, seed=SEED, calibrate_sim=False)
        try:
            assert st.glove is not None and st.acquisition is not None
            st.start()
            st.clock.sleep(1.5)
            imus = st.acquisition.window(1.0).imus
            return st.glove.record, {s: np.mean(imus[s].gyro_dps, axis=0) for s in imus}
        finally:
            st.close()

    record, before = gyro_means()
    assert record is None
    assert max(float(np.max(np.abs(m))) for m in before.values()) > 0.5  # the chips' biases
    assert calibrate(config_file, data_dir, "glove", "--seed", str(SEED)) == 0
    record, after = gyro_means()
    assert record is not None and record.version == 1
    for segment, mean in after.items():
        bias = record.coefficients[f"{segment}.gyro_bias_dps"]
        assert mean == pytest.approx(before[segment] - np.array(bias), abs=1e-6)
        assert float(np.max(np.abs(mean))) < 0.05


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("index.accel_scale", [1.0, 0.0, 1.0], "index.accel_scale must be > 0"),
        ("index.gyro_bias_dps", [0.1, 0.2], "index.gyro_bias_dps needs 3 numbers"),
    ],
)
def test_calibrate_glove_record_that_is_wrong_is_not_applied(
    key: str, value: list[float], words: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = {"gyro_bias_dps": [0.5, -0.5, 0.2], "accel_bias_g": [0.0] * 3}
    good["accel_scale"] = [1.01] * 3
    coefficients = {f"{s}.{n}": v for s in ("back", "index") for n, v in good.items()}
    glove = Glove({"back": None, "index": None}, clock=None)
    store = CalibrationStore(tmp_path)
    store.save(CalibrationRecord("glove", "glove", "still_pose", coefficients, [], {}))
    assert glove.load_calibration(store) is not None
    assert list(glove.gyro_bias_dps["index"]) == [0.5, -0.5, 0.2]
    store.save(
        CalibrationRecord("glove", "glove", "still_pose", {**coefficients, key: value}, [], {})
    )
    fresh = Glove({"back": None, "index": None}, clock=None)
    with caplog.at_level("WARNING"):
        assert fresh.load_calibration(store) is None
    assert f"glove record v2: {words}" in caplog.text
    assert list(fresh.gyro_bias_dps["back"]) == [0.0, 0.0, 0.0]  # nothing applied
    assert fresh.record is None
