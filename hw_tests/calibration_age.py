"""Calibration age: every pad and motor has a record younger than
``calibration.max_age_days``."""

from __future__ import annotations

import datetime as dt

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed
from sensors.calibration import CalibrationRecord


def check(ctx: CheckContext) -> list[CheckResult]:
    st = ctx.station
    limit = int(ctx.config["calibration"]["max_age_days"])
    now = ctx.wall_clock()
    results = []
    if st.pads is not None:
        for i in range(st.pads.n_pads):
            record = st.pads.records.get(i)
            results.append(_one(f"calibration.pad{i}", "pads", record, now, limit))
    if st.haptics is not None:
        for i in range(len(st.haptics.motors)):
            record = st.haptics.records.get(i)
            results.append(_one(f"calibration.motor{i}", "motors", record, now, limit))
    return results


def age_days(record: CalibrationRecord, now: dt.datetime) -> float | None:
    """Days since ``record`` was stored, or None when its date cannot be read."""
    try:
        when = dt.datetime.fromisoformat(record.date.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - when).total_seconds() / 86400.0


def _one(
    name: str, kind: str, record: CalibrationRecord | None, now: dt.datetime, limit: int
) -> CheckResult:
    hint = f"calibrate them: rehab-station calibrate {kind}"
    if record is None:
        return failed(name, "not calibrated: the station does not use it", hint, "T-CAL-01")
    age = age_days(record, now)
    shown = f"v{record.version} of {record.date}"
    if age is None:
        return failed(name, f"{shown}: the date cannot be read", hint, "T-CAL-02")
    shown += f", {age:.0f} days old (limit {limit})"
    if age > limit:
        return failed(name, f"{shown}: too old", hint, "T-CAL-02")
    return passed(name, shown)
