"""Glove IMUs: the datasheet self-test, gravity at rest and gyro bias.

The glove must lie still (flat on the table) while this runs. Self-test (HARDWARE.md §9.3)
checks both sensors' output change against the LSM6DSOX limits; at rest the accelerometer
must read 1 g and the gyroscope close to zero. The IMUs are re-initialised after (the
self-test bypasses the FIFO), so the station streams as before.
"""

from __future__ import annotations

import math
from typing import Any

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed

REST_READS = 8
GRAVITY_TOLERANCE_G = 0.1
GYRO_BIAS_MAX_DPS = 5.0


def check(ctx: CheckContext) -> list[CheckResult]:
    """Three results per IMU: self-test, gravity, gyro bias."""
    glove = ctx.station.glove
    if glove is None:
        return []
    results = []
    for segment, imu in glove.imus.items():
        base = f"imus.{segment}"
        try:
            results.append(_self_test(f"{base}.self_test", imu.self_test(), segment))
            accel, gyro = _at_rest(ctx, imu)
            results.append(_gravity(f"{base}.gravity", accel, segment))
            results.append(_gyro_bias(f"{base}.gyro_bias", gyro, segment))
        finally:
            glove.reinit(segment)
    return results


def _at_rest(ctx: CheckContext, imu: Any) -> tuple[list[float], list[float]]:
    """Mean accelerometer (g) and gyroscope (dps) over a few output-register reads."""
    period = 1.0 / max(imu.odr_hz, 1.0)
    sums = [0.0] * 6
    for _ in range(REST_READS):
        ctx.clock.sleep(period)
        accel, gyro = imu.read_accel_gyro()
        for i, v in enumerate((*accel, *gyro)):
            sums[i] += v
    means = [s / REST_READS for s in sums]
    return means[:3], means[3:]


def _self_test(name: str, result: Any, segment: str) -> CheckResult:
    accel = "/".join(f"{d:.0f}" for d in result.accel_delta_mg)
    gyro = "/".join(f"{d:.0f}" for d in result.gyro_delta_dps)
    shown = f"accel change {accel} mg (50..1700), gyro change {gyro} dps (150..700)"
    if result.passed:
        return passed(name, shown)
    return failed(
        name,
        f"outside the datasheet limits: {shown}",
        f"keep the glove still and run again; if it fails again, replace the {segment} IMU",
        "T-IMU-01",
    )


def _gravity(name: str, accel: list[float], segment: str) -> CheckResult:
    g = math.sqrt(sum(a * a for a in accel))
    shown = f"|a| = {g:.3f} g at rest"
    if abs(g - 1.0) <= GRAVITY_TOLERANCE_G:
        return passed(name, shown)
    return failed(
        name,
        f"{shown}, expected 1.000 ± {GRAVITY_TOLERANCE_G} g",
        f"the glove must lie still; else the {segment} IMU's accelerometer is faulty",
        "T-IMU-02",
    )


def _gyro_bias(name: str, gyro: list[float], segment: str) -> CheckResult:
    worst = max(abs(w) for w in gyro)
    shown = f"largest axis {worst:.2f} dps at rest"
    if worst <= GYRO_BIAS_MAX_DPS:
        return passed(name, shown)
    return failed(
        name,
        f"{shown}, more than {GYRO_BIAS_MAX_DPS:.0f} dps",
        f"the glove must lie still; else the {segment} IMU's gyroscope is faulty",
        "T-IMU-03",
    )
