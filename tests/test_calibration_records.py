"""Stored calibration records the station cannot use (empty coefficients, NaN or infinity
anywhere, numbers stored as text, a curve that does not rise) are skipped at start with a
warning naming the file, and the part is uncalibrated: before, most of them stopped the
station at start and the rest were used."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SimCalibrations
from test_calibration import FORCES, truth

from sensors.calibration import CalibrationStore, fit_pad, motor_record
from station import config
from station.app import App

Change = Callable[[dict[str, Any]], None]


def pad_record() -> dict[str, Any]:
    # loglog2: its coefficients (one "poly" list) are what the cases below spoil; power_sat's
    # have their own cases in test_calibration.py
    record = fit_pad(
        FORCES, truth(), "pad0", method="loglog2", tolerance={"abs_n": 0.3, "rel": 0.25}
    )
    return json.loads(record.to_json()) | {"version": 1}


def motor() -> dict[str, Any]:
    drives = [k / 10 for k in range(1, 11)]
    record = motor_record(
        "motor0", drives, [0.2 * d for d in drives], [80 + 100 * d for d in drives]
    )
    return json.loads(record.to_json()) | {"version": 1}


def put(value: Any, *keys: str | int) -> Change:
    """A change that sets ``record[keys[0]][keys[1]]... = value``."""

    def change(record: dict[str, Any]) -> None:
        target = record
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return change


NAN, INF = float("nan"), float("inf")
#: (record maker, change, why) for every kind of unusable record.
BAD: dict[str, tuple[Callable[[], dict[str, Any]], Change, str]] = {
    "pad_empty_coefficients": (pad_record, put({}, "coefficients"), "'poly'"),
    "pad_nan_in_poly": (pad_record, put(NAN, "coefficients", "poly", 0), "NaN"),
    "pad_nan_max_force": (pad_record, put(NAN, "coefficients", "max_force_n"), "NaN"),
    "pad_nan_tolerance": (pad_record, put(NAN, "tolerance", "abs_n"), "NaN"),
    "pad_inf_residual": (pad_record, put(INF, "residuals", 2), "Infinity"),
    "pad_nan_point": (pad_record, put(NAN, "points", 1, 0), "NaN"),
    "pad_text_poly": (pad_record, put("abc", "coefficients", "poly"), "poly"),
    "pad_number_as_text": (pad_record, put("2.5", "coefficients", "poly", 1), "poly"),
    "pad_text_tolerance": (pad_record, put("0.3", "tolerance", "abs_n"), "abs_n"),
    "pad_negative_tolerance": (pad_record, put(-1, "tolerance", "rel"), "rel"),
    "pad_falling_curve": (pad_record, put(-2.5, "coefficients", "poly", 1), "rise"),
    "pad_forces_reversed": (pad_record, put(0.1, "coefficients", "max_force_n"), "rise"),
    "motor_empty_coefficients": (motor, put({}, "coefficients"), "'drive'"),
    "motor_nan_amplitude": (motor, put(NAN, "coefficients", "amplitude_g", 3), "NaN"),
    "motor_nan_frequency": (motor, put(NAN, "coefficients", "frequency_hz", 3), "NaN"),
    "motor_nan_reference": (motor, put(NAN, "coefficients", "reference_g"), "NaN"),
    "motor_nan_tolerance": (motor, put(NAN, "tolerance", "db"), "NaN"),
    "motor_text_tolerance": (motor, put("1", "tolerance", "db"), "db"),
}


def write(directory: Path, record: dict[str, Any], version: int = 1) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    record = record | {"version": version}
    path = directory / f"{record['part']}-{record['slot']}-v{version}.json"
    path.write_text(json.dumps(record))  # NaN and Infinity as Python's json writes them
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_calibration_unusable_record_is_skipped_with_a_warning(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    make, change, why = BAD[case]
    good = make()
    bad = make()
    change(bad)
    part, slot = good["part"], good["slot"]
    store = CalibrationStore(tmp_path)
    write(tmp_path, good, version=1)
    path = write(tmp_path, bad, version=2)
    with caplog.at_level("WARNING", logger="sensors.calibration"):
        latest = store.latest(part, slot)
    assert latest is not None and latest.version == 1  # the last good one
    (warning,) = caplog.records
    assert f"calibration file {path} skipped" in warning.getMessage()
    assert why in warning.getMessage()
    (tmp_path / path.name.replace("v2", "v1")).unlink()
    assert store.latest(part, slot) is None  # none usable: the part is uncalibrated


def test_calibration_valid_records_still_load(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    methods = ("power_law", "power_sat", "loglog2", "piecewise")
    for method in methods:
        store.save(fit_pad(FORCES, truth(), f"pad{method}", method=method))
    store.save(motor_record("motor0", [0.5, 1.0], [0.1, 0.3], [100.0, 150.0]))
    assert all(store.latest("pad", f"pad{m}") for m in methods)
    assert store.latest("motor", "motor0") is not None


@pytest.fixture(scope="module")
def calibrated(sim_calibrations: SimCalibrations) -> Path:
    """The simulated station's calibration records, made once by its technician."""
    return sim_calibrations.records(config.validate({"glove": {"fitted": False}}), 3)


@pytest.mark.parametrize(
    "case", ["pad_empty_coefficients", "pad_nan_max_force", "motor_nan_amplitude"]
)
def test_calibration_bad_record_at_start_leaves_the_part_uncalibrated(
    tmp_path: Path, calibrated: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    make, change, _ = BAD[case]
    shutil.copytree(calibrated, tmp_path / "calibration")
    path = next((tmp_path / "calibration").glob(f"{make()['part']}-*0-v1.json"))
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))
    cfg = config.validate({"glove": {"fitted": False}})
    with caplog.at_level("WARNING", logger="sensors.calibration"):
        app = App(cfg, tmp_path, sim=True, seed=3, calibrate_sim=False).open()
    try:
        assert app.station is not None
        part = "pad0" if case.startswith("pad") else "motor0"
        assert app.station.uncalibrated == [part]
        assert f"calibration file {path} skipped" in caplog.text
    finally:
        app.close()
