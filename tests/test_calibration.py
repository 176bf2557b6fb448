"""Calibration records (rehab.calibration/1): versioned storage, validation, pad and motor fits."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest

from sensors.calibration import (
    SCHEMA,
    CalibrationError,
    CalibrationRecord,
    CalibrationStore,
    MotorCurve,
    PadCurve,
    fit_pad,
    motor_record,
)
from station.sim.fsr import FsrParams, loading_conductance_s

FORCES = [0.5, 1.0, 2.0, 3.5, 5.0, 7.5, 10.0, 15.0, 20.0]


def truth() -> list[float]:
    return [loading_conductance_s(FsrParams(), f) for f in FORCES]


def test_calibration_store_keeps_every_version_as_json(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "cal")
    record = fit_pad(FORCES, truth(), "pad3", tolerance={"abs_n": 0.3, "rel": 0.25})
    when = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
    first = store.save(record, now=when)
    second = store.save(record)
    assert (first.version, second.version) == (1, 2)
    assert first.date == "2025-03-01T09:30:00Z"
    assert [r.version for r in store.history("pad", "pad3")] == [1, 2]
    assert store.latest("pad", "pad3") == second
    assert store.latest("pad", "pad4") is None
    data = json.loads((tmp_path / "cal" / "pad-pad3-v1.json").read_text())
    assert data["schema"] == SCHEMA == "rehab.calibration/1"
    assert set(data) >= {"part", "slot", "serial", "date", "method", "coefficients",
                         "residuals", "tolerance", "points", "version"}  # fmt: skip
    assert not list((tmp_path / "cal").glob("*.tmp"))


def test_calibration_store_skips_unreadable_versions_and_still_saves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CalibrationStore(tmp_path)
    record = fit_pad(FORCES, truth(), "pad0")
    store.save(record)
    store.save(record)
    (tmp_path / "pad-pad0-v2.json").write_text('{"schema": "rehab.calibration/0"}')  # old
    (tmp_path / "pad-pad0-v3.json").write_text('{"schema": "rehab.calib')  # cut short
    (tmp_path / "pad-pad0-v4.json").mkdir()  # cannot be opened as a file
    moved = json.loads((tmp_path / "pad-pad0-v1.json").read_text()) | {"slot": "pad1"}
    (tmp_path / "pad-pad0-v5.json").write_text(json.dumps(moved))  # another pad's record
    (tmp_path / "pad-pad0-vX.json").write_text("{}")
    with caplog.at_level("WARNING", logger="sensors.calibration"):
        latest = store.latest("pad", "pad0")
    assert latest is not None and latest.version == 1
    skipped = {r.message.split()[2].rsplit("/", 1)[-1] for r in caplog.records}
    assert skipped == {f"pad-pad0-v{v}.json" for v in ("2", "3", "4", "5", "X")}
    assert "rehab.calibration/0" in caplog.text and "'pad1'" in caplog.text
    stored = store.save(record)  # the technician can recalibrate: no file is overwritten
    assert stored.version == 6
    assert [r.version for r in store.history("pad", "pad0")] == [1, 6]


def test_calibration_store_with_only_invalid_versions_leaves_the_part_uncalibrated(
    tmp_path: Path,
) -> None:
    store = CalibrationStore(tmp_path)
    (tmp_path / "motor-motor0-v1.json").write_text("not json")
    assert store.latest("motor", "motor0") is None
    assert store.save(fit_pad(FORCES, truth(), "pad0")).version == 1  # other parts unaffected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "rehab.calibration/2"}, "schema"),
        ({"part": "lcd"}, "part"),
        ({"slot": "../etc"}, "slot"),
        ({"version": "1"}, "version"),
        ({"coefficients": []}, "coefficients"),
    ],
)
def test_calibration_record_validation_names_the_field(change: dict, message: str) -> None:
    good = json.loads(fit_pad(FORCES, truth(), "pad0").to_json())
    CalibrationRecord.from_dict(good)
    with pytest.raises(CalibrationError, match=message):
        CalibrationRecord.from_dict({**good, **change})


@pytest.mark.parametrize("method", ["power_law", "power_sat", "loglog2", "piecewise"])
def test_calibration_pad_fit_recovers_force_with_small_residuals(method: str) -> None:
    record = fit_pad(FORCES, truth(), "pad0", method)
    curve = PadCurve.from_record(record)
    rel = np.abs(np.array(record.residuals)) / np.array(FORCES)
    assert rel.max() < (0.15 if method == "power_law" else 0.05)
    assert float(curve.force_n(loading_conductance_s(FsrParams(), 6.0))) == pytest.approx(
        6.0, rel=0.1 if method == "power_law" else 0.03
    )
    # Beyond the range the curve keeps rising and never turns back.
    low, high = curve.force_n(np.array([1e-7, 1e-6, 1e-5]))[0], curve.force_n(2e-3)
    assert low < 0.05 and high > 20.0
    assert float(curve.force_n(0.0)) == 0.0


def test_calibration_default_pad_fit_has_no_systematic_error_between_the_weights() -> None:
    """Issue 10: the ``loglog2`` default's quadratic bent the wrong way between the weights,
    +1.4 % at 9 N and +0.5 % at 14 N, so every grip in that range read high. The default
    fit follows the power law into saturation: no part of the range reads high or low."""
    for part in (FsrParams(), FsrParams().spread(random.Random(7)).with_texture(6)):
        points = [loading_conductance_s(part, f) for f in FORCES]
        curve = PadCurve.from_record(fit_pad(FORCES, points, "pad0"))
        forces = np.linspace(0.5, 20.0, 79)
        g = np.array([loading_conductance_s(part, f) for f in forces])
        rel = curve.force_n(g) / forces - 1.0
        assert np.abs(rel).max() < 0.0025
        # the acquisition's scalar path reads the same, in range and extrapolated
        for conductance in [*g, g[0] / 3, g[-1] * 1.5]:
            assert curve.force_scalar(conductance) == pytest.approx(
                float(curve.force_n(conductance)), rel=1e-12
            )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"r_sat_ohm": 1e6}, "r_sat_ohm 1e\\+06 must be in \\[0, "),
        ({"exponent": -0.8}, "exponent -0.8 > 0"),
        ({"log_k": float("nan")}, "log_k nan finite"),
        ({"exponent": None}, "pad coefficients incomplete"),
    ],
)
def test_calibration_power_sat_record_with_unusable_coefficients_is_refused(
    change: dict, message: str
) -> None:
    record = fit_pad(FORCES, truth(), "pad0")
    assert record.method == "power_sat"
    with pytest.raises(CalibrationError, match=message):
        PadCurve("power_sat", {**record.coefficients, **change})


def test_calibration_pad_fit_refuses_bad_data() -> None:
    with pytest.raises(CalibrationError, match="at least 4"):
        fit_pad(FORCES[:3], truth()[:3], "pad0")
    swapped = truth()
    swapped[2], swapped[3] = swapped[3], swapped[2]
    with pytest.raises(CalibrationError, match="does not rise"):
        fit_pad(FORCES, swapped, "pad0")
    with pytest.raises(CalibrationError, match="positive"):
        fit_pad(FORCES, [0.0, *truth()[1:]], "pad0")


def test_calibration_pad_fit_refuses_to_promise_a_tolerance_its_points_break() -> None:
    tolerance = {"abs_n": 0.3, "rel": 0.25}
    weights = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
    g = [loading_conductance_s(FsrParams(), f) for f in weights]
    fit_pad(weights, g, "pad0", tolerance=tolerance)  # clean points fit within it
    slipped = list(g)
    slipped[3] = g[2] * 1.05  # the 5 N weight sat half on the rim: read barely above 2 N
    with pytest.raises(CalibrationError, match=r"pad0: the fit misses the 5 N weight by -2\.41 N"):
        fit_pad(weights, slipped, "pad0", tolerance=tolerance)
    # Without a promise there is nothing to break: the fit stands, residuals recorded.
    record = fit_pad(weights, slipped, "pad0")
    assert record.tolerance == {} and min(record.residuals) == pytest.approx(-2.41, abs=0.01)


def test_calibration_motor_table_inverts_and_keeps_the_startup_knee() -> None:
    record = motor_record(
        "motor0",
        [0.05, 0.1, 0.2, 0.5, 1.0],
        [0.0, 0.0, 0.05, 0.6, 2.0],
        [0.0, 0.0, 20.0, 95.0, 220.0],
        reference_g=1.0,
    )
    curve = MotorCurve.from_record(record)
    assert curve.drive.tolist() == [0.0, 0.1, 0.2, 0.5, 1.0]
    assert curve.drive_for_g(0.6) == pytest.approx(0.5)
    assert curve.g_for_drive(0.75) == pytest.approx(1.3)
    assert 0.1 < curve.drive_for_g(0.01) < 0.2  # above the start-up drive
    assert curve.drive_for_frequency(95.0) == pytest.approx(0.5)
    assert record.tolerance == {"db": 1.0}


def test_calibration_motor_dropout_above_the_startup_drive_names_the_drive() -> None:
    drives = [k / 20 for k in range(1, 15)]
    amps = [0.0, 0.0] + [0.05 * (k - 2) ** 2 / 4 for k in range(3, 15)]  # starts at 0.15
    freqs = [0.0, 0.0] + [20.0 * (k - 2) for k in range(3, 15)]
    assert motor_record("motor0", drives, amps, freqs).coefficients["drive"][1] == 0.1
    amps[10] = freqs[10] = 0.0  # the reference accelerometer lost contact at drive 0.55
    with pytest.raises(CalibrationError, match=r"motor0: no vibration measured at drive 0\.55"):
        motor_record("motor0", drives, amps, freqs)


def test_calibration_motor_zero_and_vibration_at_one_drive_is_refused() -> None:
    with pytest.raises(CalibrationError, match=r"0\.050 g measured at drive 0\.20"):
        motor_record("motor1", [0.1, 0.2, 0.2, 0.5], [0.0, 0.0, 0.05, 0.6], [0.0] * 4)


@pytest.mark.parametrize(
    "coefficients",
    [
        {"drive": [0, 1], "amplitude_g": [0, 0], "frequency_hz": [0, 0], "reference_g": 1},
        {"drive": [0, 0.5, 1], "amplitude_g": [0, 1, 0.5], "frequency_hz": [0] * 3,
         "reference_g": 1},
        {"drive": [0.1, 1], "amplitude_g": [0, 1], "frequency_hz": [0, 0], "reference_g": 1},
        {"drive": [0, 1], "amplitude_g": [0, 1], "frequency_hz": [0, 0], "reference_g": 0},
        {"drive": [0, 1], "amplitude_g": [0, float("nan")], "frequency_hz": [0, 0],
         "reference_g": 1},
    ],
)  # fmt: skip
def test_calibration_motor_curve_rejects_tables_it_cannot_invert(coefficients: dict) -> None:
    with pytest.raises(CalibrationError):
        MotorCurve(coefficients)
