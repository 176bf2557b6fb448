"""Motor calibration: vibration at the pad measured over a sweep of drives, below the cap.

The technician's procedure puts a reference accelerometer on the pad (a glove IMU,
:mod:`sensors.imu_reference`); each drive of the sweep is held for a settle time and
measured. The record it returns (unsaved) is what :class:`~sensors.haptics.Haptics`
converts stimuli in dB with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sensors.calibration import CalibrationError, CalibrationRecord, motor_record
from sensors.haptics import Haptics

#: Calibration sweep: 5 % drive steps.
SWEEP_DRIVES = tuple(k / 20 for k in range(1, 21))
#: Every motor vibrates at half drive (an ERM starts well below it, an LRA at any drive):
#: nothing measured there means the reference is not on the pad.
VIBRATES_FROM = 0.5


def calibrate_motor(
    haptics: Haptics,
    motor: int,
    measure: Callable[[], tuple[float, float]],
    drives: Sequence[float] = SWEEP_DRIVES,
    settle_s: float = 0.25,
    reference_g: float = 1.0,
    tolerance_db: float = 1.0,
    hint: str = "is the reference accelerometer on the pad?",
) -> CalibrationRecord:
    """Measure vibration at the site for rising ``drives``; returns an unsaved record.

    ``measure() -> (amplitude g rms, frequency Hz)`` reads a reference accelerometer on the
    pad ((0, 0): no vibration). The sweep stops below the station's amplitude cap: a drive
    whose measured amplitude reaches ``max_vibration_g`` ends it, so calibration itself
    never exceeds the cap for more than one settle time. No vibration at a drive of
    :data:`VIBRATES_FROM` or more raises :class:`CalibrationError` at once, with ``hint``
    (what the technician should check). The motor is off afterwards, whatever happens.
    """
    cap = haptics.station_caps.max_vibration_g
    points: list[tuple[float, float, float]] = []
    try:
        for drive in sorted(drives):
            drive_set = haptics.drive_raw(motor, drive)
            haptics.clock.sleep(settle_s)
            amplitude, freq = measure()
            if amplitude <= 0.0 and drive >= VIBRATES_FROM:
                raise CalibrationError(
                    f"motor {motor}: no vibration measured at drive {drive_set:.2f}, where "
                    f"every motor vibrates: {hint}"
                )
            if amplitude >= cap:
                break
            points.append((drive_set, amplitude, freq))
    finally:
        haptics.stop(motor)
    return _motor_record(motor, points, reference_g, haptics.actuator, tolerance_db)


def _motor_record(
    motor: int, points: list[tuple[float, float, float]], ref: float, actuator: str, tol: float
) -> CalibrationRecord:
    if not points:
        raise CalibrationError(f"motor {motor}: no usable measurement below the cap")
    d, a, f = zip(*points, strict=True)
    return motor_record(f"motor{motor}", d, a, f, ref, actuator, tol)
