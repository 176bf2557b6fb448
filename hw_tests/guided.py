"""Guided calibration procedures for the technician, on the LCD and the terminal.

Built on the procedures that exist (:func:`sensors.force_pads.calibrate_pad`,
:func:`sensors.motor_calibration.calibrate_motor`, the glove's still pose): these add the
prompts, the technician's OK for every step, and for the pads a check that each weight
sits still before it is read. Each returns unsaved records: the caller saves them only
when every part is done, so a calibration stopped half-way changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hw_tests.ask import Asker
from sensors.calibration import CalibrationError, CalibrationRecord
from sensors.force_pads import FLAG_OPEN, calibrate_pad
from sensors.imu_reference import ImuReference
from sensors.motor_calibration import calibrate_motor

#: The weights a technician puts on each pad (N): the pads' working range, six points.
WEIGHTS_N = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
OK_TIMEOUT_S = 120.0
#: A weight sits still when its pad's conductance spreads by at most 5 % over 0.5 s.
STEADY_WINDOW_S, STEADY_REL = 0.5, 0.05
STEADY_TIMEOUT_S = 10.0
STEADY_RETRIES = 2
#: Read over the 2nd to 3rd second after the weight was seen still (the FSR creeps).
SETTLE_S, MEASURE_S = 2.0, 1.0
STILL_POSE_S = 2.0
#: The glove IMU a technician straps on each pad to calibrate its motor.
REFERENCE_IMU = "index"


class CalibrationAborted(Exception):
    """The technician stopped the calibration (Back, or no answer); the message says why."""


def wait_ok(asker: Asker, key: str, **params: Any) -> None:
    """Show ``key`` and wait for OK; Back or no answer raises :class:`CalibrationAborted`."""
    since = asker.clock.now()
    asker.tell(key, **params)
    ev = asker.press(("ok", "back"), OK_TIMEOUT_S, since)
    if ev is None:
        raise CalibrationAborted(f"no answer within {OK_TIMEOUT_S:.0f} s")
    if ev.key == "back":
        raise CalibrationAborted("Back pressed")


class _PadPlacer:
    """``place(weight)`` for :func:`calibrate_pad`: asks for the weight, then waits until
    it sits still (``place(None)``: asks for it to be taken off)."""

    def __init__(self, asker: Asker, acquisition: Any, pad: int) -> None:
        self.asker, self.acq, self.pad = asker, acquisition, pad
        self.loaded = False

    def __call__(self, weight_n: float | None) -> None:
        if weight_n is None:
            if self.loaded:  # asked once per weight (the procedure's finally asks again)
                wait_ok(self.asker, "tech.remove_weight", pad=self.pad)
                self.loaded = False
            return
        self.loaded = True
        wait_ok(self.asker, "tech.put_weight", pad=self.pad, weight=f"{weight_n:g}")
        for _ in range(STEADY_RETRIES + 1):
            if self._steady():
                return
            wait_ok(self.asker, "tech.weight_moving", pad=self.pad)
        raise CalibrationAborted(f"pad {self.pad}: the {weight_n:g} N weight never sat still")

    def _steady(self) -> bool:
        """Whether the pad's reading settles within ``STEADY_TIMEOUT_S`` (an open pad
        counts as settled: the reading that follows names it)."""
        clock, pads = self.acq.clock, self.acq.pads
        deadline = clock.now() + STEADY_TIMEOUT_S
        clock.sleep(STEADY_WINDOW_S)
        while True:
            w = self.acq.window(STEADY_WINDOW_S).pads[self.pad]
            if len(w.volts) and np.any(w.flags & FLAG_OPEN):
                return True
            if len(w.volts) > 2:
                g = pads.conductance_s(w.volts) - pads.tare_conductance_s(self.pad)
                median = float(np.median(g))
                if median > 0 and float(np.ptp(g)) <= STEADY_REL * median:
                    return True
            if clock.now() >= deadline:
                return False
            clock.sleep(0.1)


def pads(
    station: Any, asker: Asker, which: Sequence[int], weights_n: Sequence[float] = WEIGHTS_N
) -> dict[int, CalibrationRecord]:
    """Calibrate ``which`` pads one by one with known weights; unsaved records by pad."""
    acq = station.acquisition
    acq.start()
    try:
        acq.tare(0.5)
        return {
            pad: calibrate_pad(
                acq, pad, weights_n, _PadPlacer(asker, acq, pad), SETTLE_S, MEASURE_S
            )
            for pad in which
        }
    finally:
        acq.stop()


def motors(
    station: Any, asker: Asker, which: Sequence[int], imu: str = REFERENCE_IMU
) -> dict[int, CalibrationRecord]:
    """DRV2605L auto-calibration, then the vibration at the pad measured over the drive
    sweep with the glove's ``imu`` strapped flat on the pad
    (:class:`~sensors.imu_reference.ImuReference`: checked at rest first, the glove's
    configuration restored after); unsaved records by motor."""
    haptics, glove = station.haptics, station.glove
    if glove is None:
        raise CalibrationError("motors: the reference is a glove IMU and no glove is fitted")
    if station.acquisition is not None and station.acquisition.running:
        raise CalibrationError("motors: stop the acquisition first (it drains the IMUs)")
    records = {}
    try:
        for motor in which:
            driver = haptics.motors[motor]
            if hasattr(driver, "auto_calibrate"):
                result = driver.auto_calibrate()
                if not result.ok:
                    raise CalibrationError(
                        f"motor {motor}: the DRV2605L's auto-calibration failed "
                        "(DIAG_RESULT): check the motor's leads, then run the self-test"
                    )
            wait_ok(asker, "tech.motor_imu", motor=motor, imu=imu)
            hint = (
                f"is the {imu} IMU strapped flat on pad {motor}, and motor {motor} "
                "connected (run the self-test)?"
            )
            with ImuReference(glove, imu, motor) as reference:
                records[motor] = calibrate_motor(haptics, motor, reference, hint=hint)
    finally:
        haptics.stop_all()
    return records


def glove(station: Any, asker: Asker) -> CalibrationRecord:
    """The still pose: gyro biases and accelerometer offsets and scales per IMU."""
    acq = station.acquisition
    acq.start()
    try:
        wait_ok(asker, "tech.glove_flat")
        try:
            result = acq.glove_still(STILL_POSE_S)
        except ValueError as exc:  # an IMU moved or gave too few samples
            raise CalibrationError(f"glove: {exc}") from exc
    finally:
        acq.stop()
    coefficients = {
        f"{segment}.{name}": values
        for segment, fields in result.items()
        for name, values in fields.items()
    }
    return CalibrationRecord("glove", "glove", "still_pose", coefficients, [], {})
