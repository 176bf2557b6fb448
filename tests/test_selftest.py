"""``rehab-station selftest --sim``: every check passes on the healthy simulated station,
and each injected fault fails the check that should find it, with its hint and code.

The command runs in-process (``station.cli.main``) on the product's simulated station,
with calibration records the simulated technician made once per test run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from hw_tests import faults
from mqtt_bridge import outbox, schema
from sensors.calibration import CalibrationStore
from station import cli
from station import config as config_mod
from station.paths import station_db

#: The simulated station's pads and motors are the same with or without the glove: its
#: records are the ones the session tests have the simulated technician make (seed 3).
RECORDS_CONFIG = config_mod.validate({"glove": {"fitted": False}})
SEED = 3


@pytest.fixture
def data_dir(tmp_path: Path, sim_calibrations: Any) -> Path:
    """A data directory with the built-in simulated station's calibration records."""
    return sim_calibrations.data_dir(tmp_path / "data", RECORDS_CONFIG, SEED)


def run(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    """Exit code, the JSON report (None when nothing was printed on stdout), stderr."""
    capsys.readouterr()
    rc = cli.main(
        [
            "selftest",
            "--sim",
            "-y",
            "--json",
            "--data-dir",
            str(data_dir),
            "--seed",
            str(SEED),
            *args,
        ]
    )
    out = capsys.readouterr()
    return rc, json.loads(out.out) if out.out.strip() else None, out.err


def selftest(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    rc, report, _ = run(data_dir, capsys, *args)
    return rc, report


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def test_selftest_healthy_sim_passes_every_check_and_names_the_skipped(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, report = selftest(data_dir, capsys)
    assert rc == 0
    schema.validate(report, schema.load("rehab.selftest/1"))
    checks = by_name(report)
    assert report["passed"] is True and report["simulated"] is True
    skipped = sorted(n for n, c in checks.items() if c["status"] == "SKIP")
    assert skipped == ["broker", "buttons.pressed", "lcd.pattern", "motors.felt"]
    assert all(c["status"] == "PASS" for n, c in checks.items() if n not in skipped)
    # One line per part and check: 2 buses + 7 mux channels + LCD bus, 8 pads x 3, ...
    assert "bus.glove.mux0x70.ch2" in checks and "pads.pad7.drift" in checks
    assert "imus.back.self_test" in checks and "calibration.motor3" in checks
    assert checks["bus.station"]["detail"] == "answers: 0x48 0x49 0x70"


#: fault -> (the check that must fail, its code, words of its detail)
FAULTS = {
    "motor-open:1": ("motors.motor1.diagnostics", "T-MOTOR-01", "open"),
    "motor-short:2": ("motors.motor2.diagnostics", "T-MOTOR-02", "shorted"),
    "motor-overtemp:3": ("motors.motor3.status", "T-MOTOR-03", "OVER_TEMP"),
    "motor-overcurrent:0": ("motors.motor0.status", "T-MOTOR-02", "OC_DETECT"),
    "pad-unplugged:3": ("pads.pad3.unloaded", "T-PAD-01", "full scale"),
    "pad-shorted:4": ("pads.pad4.unloaded", "T-PAD-02", "shorted"),
    "pad-noisy:5": ("pads.pad5.noise", "T-PAD-04", "mV rms"),
    "pad-drift:6": ("pads.pad6.drift", "T-PAD-05", "over 2 s"),
    "adc-brownout:1": ("adcs.0x49", "T-ADC-01", "restarted"),
    "imu-missing:2": ("identity.glove", "E-GLOVE-121", "middle IMU"),
    "imu-wrong-id:5": ("identity.glove", "E-GLOVE-019", "found 0x6A"),
    "imu-selftest:1": ("imus.index.self_test", "T-IMU-01", "datasheet limits"),
    "lcd-missing": ("lcd.present", "T-LCD-01", "does not answer"),
    "button-stuck:left": ("buttons.left.released", "T-KEY-01", "GPIO 22"),
    "clock-unsynced": ("clock", "T-CLOCK-01", "not synchronised"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_selftest_injected_fault_fails_its_check_with_hint_and_code(
    fault: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, code, words = FAULTS[fault]
    rc, report = selftest(data_dir, capsys, "--inject-fault", fault)
    assert rc == 1
    schema.validate(report, schema.load("rehab.selftest/1"))
    check = by_name(report)[name]
    assert check["status"] == "FAIL" and check["code"] == code, check
    assert words in check["detail"] and check["hint"], check
    assert report["faults_injected"] == [fault]


def test_selftest_a_fault_leaves_the_other_parts_passing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, report = selftest(data_dir, capsys, "--inject-fault", "motor-open:1")
    checks = by_name(report)
    failed = sorted(n for n, c in checks.items() if c["status"] == "FAIL")
    assert failed == ["motors.motor1.autocal", "motors.motor1.diagnostics"]
    assert checks["motors.motor0.diagnostics"]["status"] == "PASS"


def test_selftest_a_glove_that_does_not_start_is_left_out_and_the_rest_is_tested(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, report = selftest(data_dir, capsys, "--inject-fault", "imu-missing:0")
    checks = by_name(report)
    assert checks["bus.glove"]["status"] == "FAIL"
    assert not any(n.startswith("imus.") for n in checks)
    assert checks["pads.pad0.unloaded"]["status"] == "PASS"
    assert checks["motors.motor0.diagnostics"]["status"] == "PASS"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--inject-fault", "motor-melted:1"], "unknown fault 'motor-melted:1'; known faults:"),
        (["--inject-fault", "motor-open:9"], "the station has 4 motor(s), numbered 0..3"),
        (["--inject-fault", "button-stuck:middle"], "buttons are ok, back, left, right, stop"),
        (["--only", "motors,wheels"], "unknown check group(s) wheels; known: bus, identity"),
    ],
)
def test_selftest_bad_arguments_exit_2_naming_the_problem(
    args: list[str], words: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, report, err = run(data_dir, capsys, *args)
    assert rc == 2 and report is None
    assert words in err
    if "unknown fault" in words:
        assert "pad-unplugged" in err and "broker-down" in err


def test_selftest_inject_fault_needs_sim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text('schema = "rehab.config/1"\n[station]\nid = "st-0001"\n')
    rc = cli.main(["selftest", "--config", str(cfg), "-y", "--inject-fault", "lcd-missing"])
    assert rc == 2
    assert "--inject-fault needs --sim" in capsys.readouterr().err


def test_selftest_only_runs_the_named_groups_and_queues_the_report(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, report = selftest(data_dir, capsys, "--only", "motors", "--skip", "storage")
    assert rc == 0
    assert {n.split(".")[0] for n in by_name(report)} == {"motors"}
    counts = outbox.read_counts(station_db(data_dir))
    assert counts is not None and counts.pending == 1
    rc, _ = selftest(data_dir, capsys, "--only", "clock")
    counts = outbox.read_counts(station_db(data_dir))
    assert counts is not None and counts.pending == 2


def test_selftest_a_damaged_database_fails_storage(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    station_db(data_dir).write_bytes(b"SQLite format 3\x00" + b"\x07" * 4096)
    rc, report, err = run(data_dir, capsys, "--only", "storage")
    assert rc == 1
    check = by_name(report)["storage.database"]
    assert check["status"] == "FAIL" and check["code"] == "T-DISK-02", check
    assert "report not queued" in err


def test_selftest_old_and_missing_calibrations_fail_with_the_command_to_run(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = CalibrationStore(data_dir / "calibration")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    latest = store.latest("pad", "pad2")
    assert latest is not None
    store.save(latest, now=old)
    for path in (data_dir / "calibration").glob("motor-motor1-*.json"):
        path.unlink()
    rc, report = selftest(data_dir, capsys, "--only", "calibration")
    checks = by_name(report)
    assert rc == 1
    assert checks["calibration.pad2"]["code"] == "T-CAL-02"
    assert "400 days old (limit 180)" in checks["calibration.pad2"]["detail"]
    assert checks["calibration.motor1"]["code"] == "T-CAL-01"
    assert "rehab-station calibrate motors" in checks["calibration.motor1"]["hint"]
    assert checks["calibration.pad1"]["status"] == "PASS"


def test_selftest_first_sim_start_calibrates_the_healthy_station_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No records yet: the simulated station is set up (calibrated) before the faults."""
    cfg = tmp_path / "small.toml"
    cfg.write_text(
        'schema = "rehab.config/1"\n[pads]\nadc_addresses = [0x48]\n'
        "[haptics]\nfitted = false\n[glove]\nfitted = false\n"
    )
    data_dir = tmp_path / "fresh"
    argv = ["selftest", "--sim", "-y", "--json", "--config", str(cfg), "--data-dir", str(data_dir)]
    rc = cli.main([*argv, "--only", "calibration", "--inject-fault", "pad-unplugged:0"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, report
    assert [c["name"] for c in report["checks"]] == [f"calibration.pad{i}" for i in range(4)]
    assert len(list((data_dir / "calibration").glob("pad-*.json"))) == 4


def test_selftest_inject_fault_help_lists_every_fault(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["selftest", "--sim", "--inject-fault", "help"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(faults.KNOWN)
    # every fault the simulated station knows is tested above (broker-down: with mosquitto)
    assert {f.split(":")[0] for f in FAULTS} | {"broker-down"} == set(faults.KNOWN)
