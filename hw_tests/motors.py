"""Vibration motors: DRV2605L status flags, actuator diagnostics and auto-calibration;
with a person there, each motor buzzes and the technician says whether it did.

Diagnostics and auto-calibration drive the actuator (DRV2605L §8.5.6); auto-calibration
also rewrites its result registers, so each driver is reset and initialised again after
(the station's calibration records do not depend on them). Every motor is off at the end,
whatever happened.
"""

from __future__ import annotations

from typing import Any

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed, skipped

#: Plausible auto-calibration results (A_CAL_COMP, A_CAL_BEMF): a converged loop lands well
#: inside the register range; the rails mean it hit a limit.
COMP_RANGE = (0x02, 0xF0)
BEMF_RANGE = (0x20, 0xF0)
#: The felt check: drive (0..1 of full scale) and how long.
FELT_DRIVE, FELT_S = 0.4, 1.0


def check(ctx: CheckContext) -> list[CheckResult]:
    """Status, diagnostics and auto-calibration of every DRV2605L motor."""
    haptics = ctx.station.haptics
    if haptics is None:
        return []
    if ctx.config["haptics"]["driver"] != "drv2605l":
        return [skipped("motors.diagnostics", "PWM motors have no diagnostics; see motors.felt")]
    results = []
    try:
        for n, motor in enumerate(haptics.motors):
            results += _check_motor(ctx, n, motor)
    finally:
        haptics.stop_all()
    return results


def _check_motor(ctx: CheckContext, n: int, motor: Any) -> list[CheckResult]:
    """Status, diagnostics and auto-calibration of one :class:`DRV2605L`."""
    base = f"motors.motor{n}"
    actuator = ctx.config["haptics"]["actuator"]
    try:
        status = _flags(f"{base}.status", motor.faults())
        ok = motor.diagnose()
        _, over_current, _ = motor.faults()
        diag = _diagnostics(f"{base}.diagnostics", ok, over_current)
        autocal = _autocal(f"{base}.autocal", motor.auto_calibrate(), actuator)
    finally:
        motor.stop()
        motor.reset()
        motor.init(actuator=actuator)
    return [status, diag, autocal]


def _flags(name: str, flags: tuple[bool, bool, bool]) -> CheckResult:
    over_temp, over_current, _ = flags
    if over_current:
        return failed(
            name,
            "OC_DETECT set: the driver cut an over-current",
            "the motor's leads for a short, then power the station off and on",
            "T-MOTOR-02",
        )
    if over_temp:
        return failed(
            name,
            "OVER_TEMP set: the driver shut down hot",
            "airflow around the driver board and a motor that is jammed or shorted",
            "T-MOTOR-03",
        )
    return passed(name, "no over-temperature or over-current flag")


def _diagnostics(name: str, ok: bool, over_current: bool) -> CheckResult:
    if ok:
        return passed(name, "actuator connected")
    if over_current:
        return failed(
            name,
            "diagnostics failed with over-current: the actuator is shorted",
            "the motor's two leads touching, or a crushed cable; replace the motor",
            "T-MOTOR-02",
        )
    return failed(
        name,
        "diagnostics failed: the actuator is open (not connected)",
        "the motor's leads and their connector on the driver board",
        "T-MOTOR-01",
    )


def _autocal(name: str, result: Any, actuator: str) -> CheckResult:
    shown = f"A_CAL_COMP 0x{result.compensation:02X}, A_CAL_BEMF 0x{result.back_emf:02X}, "
    shown += f"BEMF_GAIN {result.bemf_gain}"
    plausible = (
        COMP_RANGE[0] <= result.compensation <= COMP_RANGE[1]
        and BEMF_RANGE[0] <= result.back_emf <= BEMF_RANGE[1]
    )
    if result.ok and plausible:
        return passed(name, shown)
    why = "did not converge" if not result.ok else "results outside the plausible range"
    return failed(
        name,
        f"auto-calibration {why} ({shown})",
        f"the motor type (haptics.actuator = {actuator!r}) and its leads",
        "T-MOTOR-04",
    )


def check_felt(ctx: CheckContext) -> list[CheckResult]:
    """Each motor buzzes in turn; the technician answers whether it did."""
    haptics = ctx.station.haptics
    if haptics is None or ctx.asker is None:
        return []
    results = []
    try:
        for n in range(len(haptics.motors)):
            name = f"motors.motor{n}.felt"
            ctx.asker.tell("tech.motor_buzz", motor=n)
            haptics.drive_raw(n, FELT_DRIVE)
            ctx.clock.sleep(FELT_S)
            haptics.stop(n)
            answer = ctx.asker.yes_no("tech.motor_felt", motor=n)
            if answer:
                results.append(passed(name, "the technician felt it"))
            else:
                results.append(
                    failed(
                        name,
                        "not felt" if answer is False else "no answer",
                        f"motor {n}'s leads and its mounting under pad {n}",
                        "T-MOTOR-05",
                    )
                )
    finally:
        haptics.stop_all()
    return results
