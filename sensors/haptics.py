"""Vibrotactile stimuli in physical units, capped where they are issued, with dose accounting.

* **Units**: amplitude in dB relative to each motor's calibration reference (0 dB =
  ``reference_g`` of its ``rehab.calibration/1`` motor record, g rms at the pad), frequency
  in Hz where the actuator allows it, durations and ramps in seconds. An ERM couples
  frequency to amplitude (a stimulus gives one or the other); an LRA on the DRV2605L's
  closed loop runs at its resonance only.
* **Caps at the point of issue**: every drive value reaches a motor through one method,
  which bounds it so the calibrated amplitude stays at or below ``max_vibration_g`` even if
  the calibration is off by its stated tolerance (the cap is lowered by ``tolerance.db``);
  the RTP drive is quantised, then stepped down while it would exceed the cap. Vibration
  time per day stops at ``daily_vibration_min``: a stimulus is shortened to what is left,
  then refused with :class:`VibrationCapReached`. The time is held to within the latency of
  the last stop (the motor stops when the loop gets the clock back; the dose records the
  time it really ran). Plan caps can only lower the station's
  (:meth:`Haptics.set_plan_caps`). An uncalibrated motor does not vibrate.
* **Dose**: W_h-weighted rms acceleration × time per session and per day
  (:mod:`sensors.dose`), recorded even when a stimulus ends in an error.
* **Motors off** at the end of every stimulus (``finally``), on any error (all motors), and
  on :meth:`Haptics.close`.

Motor drivers: :class:`drivers.drv2605l.DRV2605L` or :class:`sensors.pwm_motor.PwmMotor` (gpiozero
``PWMOutputDevice`` through a MOSFET, HARDWARE.md §7.3), both with ``init``,
``set_realtime(0..1)``, ``stop`` and ``close``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sensors.calibration import CalibrationError, CalibrationRecord, CalibrationStore, MotorCurve
from sensors.dose import DoseLedger
from sensors.faults import MotorFault

log = logging.getLogger(__name__)

RTP_STEPS = 127  # DRV2605L signed RTP full scale (drivers.drv2605l.RTP_FULL_SCALE)
MAX_STIMULUS_S = 120.0
ERM_FREQUENCY_TOLERANCE = 0.15  # an LRA stimulus may ask for its resonance within ±15 %
_TIME_EPS_S = 1e-6
#: Drive of a motor whose last command may not have landed: counts as running.
_UNKNOWN = -1.0


class MotorPort(Protocol):
    def set_realtime(self, amplitude: float) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class VibrationCapReached(Exception):
    """Today's vibration time is used up (``daily_vibration_min``)."""


@dataclass(frozen=True)
class VibrationCaps:
    """The vibration caps: amplitude at the skin (g rms) and vibration minutes per day."""

    max_vibration_g: float
    daily_vibration_min: float

    def __post_init__(self) -> None:
        # NaN fails these comparisons too: an unreadable cap is refused, never ignored.
        if not (self.max_vibration_g >= 0 and self.daily_vibration_min >= 0):
            raise ValueError(f"caps must be numbers >= 0, got {self}")

    @classmethod
    def of(cls, caps: Any) -> VibrationCaps:
        """From any object or mapping with ``max_vibration_g`` and ``daily_vibration_min``
        (the config's ``[safety]`` section, a plan's caps)."""
        if isinstance(caps, Mapping):
            return cls(float(caps["max_vibration_g"]), float(caps["daily_vibration_min"]))
        return cls(float(caps.max_vibration_g), float(caps.daily_vibration_min))

    def tightened_by(self, other: VibrationCaps) -> VibrationCaps:
        """The stricter of both, field by field: a plan can only lower the station's caps."""
        return VibrationCaps(
            min(self.max_vibration_g, other.max_vibration_g),
            min(self.daily_vibration_min, other.daily_vibration_min),
        )


@dataclass(frozen=True)
class Stimulus:
    """One vibration: ``amplitude_db`` re the motor's reference and/or ``frequency_hz``,
    ``duration_s`` (0 < d ≤ 120) including linear ramps of ``ramp_s`` up and down."""

    duration_s: float
    amplitude_db: float | None = 0.0
    frequency_hz: float | None = None
    ramp_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.duration_s <= MAX_STIMULUS_S:
            raise ValueError(f"duration_s must be in (0, {MAX_STIMULUS_S}], got {self.duration_s}")
        if not 0 <= self.ramp_s <= self.duration_s / 2:
            raise ValueError(f"ramp_s must be in 0..duration_s/2, got {self.ramp_s}")
        if self.amplitude_db is None and self.frequency_hz is None:
            raise ValueError("a stimulus needs an amplitude_db or a frequency_hz")
        if self.amplitude_db is not None and not math.isfinite(self.amplitude_db):
            raise ValueError(f"amplitude_db must be finite, got {self.amplitude_db}")
        if self.frequency_hz is not None and not self.frequency_hz > 0:
            raise ValueError(f"frequency_hz must be > 0, got {self.frequency_hz}")


class PlayResult(NamedTuple):
    motor: int
    played_s: float
    amplitude_g: float
    frequency_hz: float
    capped: bool
    shortened: bool
    stopped_early: bool


class Haptics:
    """Calibrated, capped vibration on ``motors`` (motor n under pad n)."""

    def __init__(
        self,
        motors: Sequence[MotorPort],
        clock,
        caps: VibrationCaps,
        actuator: str = "erm",
        ledger: DoseLedger | None = None,
        step_s: float = 0.01,
    ) -> None:
        if actuator not in ("erm", "lra"):
            raise ValueError(f"actuator must be 'erm' or 'lra', got {actuator!r}")
        self.motors = list(motors)
        self.clock = clock
        self.station_caps = caps
        self.caps = caps
        self.actuator = actuator
        self.ledger = ledger or DoseLedger()
        self.step_s = step_s
        self.curves: dict[int, MotorCurve] = {}
        self.records: dict[int, CalibrationRecord] = {}
        #: Last drive sent to each motor; _UNKNOWN after a stop that did not reach it.
        self._drive = [0.0] * len(self.motors)
        self._closed = False
        #: Bumped by stop_all(): a play() in progress sees it and ends (Stop, watchdog).
        self._stops = 0

    def __repr__(self) -> str:
        return (
            f"Haptics({len(self.motors)} {self.actuator} motors, {len(self.curves)} calibrated, "
            f"cap {self.caps.max_vibration_g} g, {self.caps.daily_vibration_min} min/day)"
        )

    def init(self) -> None:
        for motor in self.motors:
            init = getattr(motor, "init", None)
            if init is not None:
                init(actuator=self.actuator)

    # -- caps and calibration ----------------------------------------------------------

    def set_plan_caps(self, plan_caps: Any) -> VibrationCaps:
        """Apply a plan's caps (bounded by the station's); returns the caps in force.

        Raises ``ValueError`` (caps unchanged) for a missing, negative or NaN cap.
        """
        self.caps = self.station_caps.tightened_by(VibrationCaps.of(plan_caps))
        return self.caps

    def set_calibration(self, motor: int, record: CalibrationRecord) -> None:
        self._check_motor(motor)
        self.curves[motor] = MotorCurve.from_record(record)
        self.records[motor] = record

    def load_calibrations(self, store: CalibrationStore) -> list[int]:
        """Load every motor's latest record; returns the motors without one."""
        missing = []
        for motor in range(len(self.motors)):
            record = store.latest("motor", f"motor{motor}")
            if record is None:
                missing.append(motor)
            else:
                self.set_calibration(motor, record)
        return missing

    def cap_g(self, motor: int) -> float:
        """Largest amplitude (g rms, as calibrated) this motor may be commanded to now."""
        tol_db = float(self.records[motor].tolerance.get("db", 0.0)) if motor in self.records else 0
        return self.caps.max_vibration_g / 10 ** (max(0.0, tol_db) / 20)

    def remaining_s(self) -> float:
        """Vibration time left today."""
        return max(0.0, self.caps.daily_vibration_min * 60.0 - self.ledger.vibration_s_today())

    def level_g(self, motor: int, amplitude_db: float) -> float:
        return self._curve(motor).reference_g * 10 ** (amplitude_db / 20)

    def plan(self, motor: int, stimulus: Stimulus) -> tuple[float, float, bool]:
        """``(drive, amplitude_g, capped)`` the stimulus would get at full level."""
        curve = self._curve(motor)
        if stimulus.frequency_hz is not None:
            self._check_frequency(motor, curve, stimulus)
        if self.actuator == "erm" and stimulus.frequency_hz is not None:
            drive = curve.drive_for_frequency(stimulus.frequency_hz)
            if drive is None:
                raise ValueError(f"motor {motor} cannot vibrate at {stimulus.frequency_hz} Hz")
            wanted = curve.g_for_drive(drive)
        else:
            wanted = self.level_g(motor, stimulus.amplitude_db or 0.0)
            drive = curve.drive_for_g(min(wanted, curve.max_g))
        drive = self._bounded(motor, drive)
        got = curve.g_for_drive(drive)
        return drive, got, got < wanted * (1 - 1e-9)

    # -- playing -----------------------------------------------------------------------

    def play(
        self, motor: int, stimulus: Stimulus, until: Callable[[], bool] | None = None
    ) -> PlayResult:
        """Play ``stimulus`` on ``motor``, blocking on the clock; ``until()`` ends it early.

        Raises :class:`VibrationCapReached` when no vibration time is left today,
        :class:`~sensors.calibration.CalibrationError` for an uncalibrated motor,
        ``ValueError`` for a frequency the actuator cannot give, :class:`MotorFault` on a
        bus error (every motor is then stopped). Whatever ``until()`` raises (a sensor
        fault, the session's stop) or interrupts the play is raised as it is, after every
        motor was stopped; a motor that could not be stopped then is logged and noted on it.
        """
        self._check_open()
        drive_full, amp_full, capped = self.plan(motor, stimulus)
        remaining = self.remaining_s()
        if remaining <= _TIME_EPS_S:  # float sums of played time: a microsecond is nothing
            raise VibrationCapReached(
                f"daily vibration time ({self.caps.daily_vibration_min:g} min) is used up"
            )
        duration = min(stimulus.duration_s, remaining)
        curve = self.curves[motor]
        freq = curve.frequency_for_drive(drive_full)
        t0 = self.clock.now()
        t_prev = t0
        level_prev = 0.0
        stopped_early = False
        stops = self._stops
        try:
            while True:
                now = self.clock.now()
                elapsed = now - t0
                self._account(motor, level_prev, t_prev, now)
                t_prev = now
                if elapsed >= duration - _TIME_EPS_S:  # float time: never sleep 1e-17 s
                    break
                # until() first: it may raise what stopped the motors (a sensor fault).
                if (until is not None and until()) or self._stops != stops:
                    stopped_early = True
                    break
                gain = _envelope(elapsed, duration, stimulus.ramp_s)
                level_prev = self._issue(motor, curve.drive_for_g(amp_full * gain))
                step = self.step_s if stimulus.ramp_s else min(0.05, self.step_s * 5)
                # The write above took wire time: sleep to the deadline as it is now, so the
                # wire time is not added to the stimulus (and the day's dose) on every play.
                left = t0 + duration - self.clock.now()
                if left > _TIME_EPS_S:
                    self.clock.sleep(min(step, left))
        except BaseException as exc:
            self._account(motor, level_prev, t_prev, self.clock.now())
            self._stop_after(exc)
            raise
        self._account(motor, level_prev, t_prev, self.clock.now())
        self.stop(motor)
        return PlayResult(
            motor,
            t_prev - t0,
            amp_full,
            freq,
            capped,
            duration < stimulus.duration_s,
            stopped_early,
        )

    def stop(self, motor: int) -> None:
        """Motor off; raises :class:`MotorFault` if the driver could not be reached (the
        motor then counts as running: :meth:`running` stays true until a stop lands)."""
        try:
            self.motors[motor].stop()
        except OSError as exc:
            self._drive[motor] = _UNKNOWN
            raise MotorFault(motor, exc.errno, "could not stop: check its mux channel") from exc
        self._drive[motor] = 0.0

    def _stop_after(self, exc: BaseException) -> None:
        """Every motor off after ``exc`` ended a play; a MotorFault on the way is logged and
        noted on ``exc``, never raised in its place: what stopped the play (Stop, SIGTERM, a
        sensor fault) is what the caller must see. A motor whose stop did not land keeps
        :meth:`running` true, so the watchdog stays armed."""
        try:
            self.stop_all()
        except MotorFault as fault:
            log.error("motors off after %r failed: %s", exc, fault)
            exc.add_note(f"while stopping the motors: {fault}")

    def running(self) -> bool:
        """Whether any motor may be vibrating: driven, or not confirmed stopped. Safe to call
        from another thread (the watchdog arms itself on it)."""
        return any(d != 0.0 for d in self._drive)

    def stop_all(self) -> None:
        """Every motor off; tries them all, then raises the first :class:`MotorFault`.

        A :meth:`play` in progress (on any thread) ends at its next step instead of turning
        its motor back on: Stop and the watchdog stay stopped."""
        self._stops += 1
        first: MotorFault | None = None
        for motor in range(len(self.motors)):
            try:
                self.stop(motor)
            except MotorFault as exc:
                first = first or exc
        if first is not None:
            raise first

    def close(self) -> None:
        """Every motor off and its driver closed; never raises; idempotent."""
        for motor in self.motors:
            try:
                motor.stop()
            except Exception:  # close must reach every motor whatever one of them does
                pass
            try:
                motor.close()
            except Exception:
                pass
        self._drive = [0.0] * len(self.motors)
        self._closed = True

    def __enter__(self) -> Haptics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drive_raw(self, motor: int, drive: float) -> float:
        """Set a drive without a calibration: for the calibration procedure only, which
        bounds it by measuring the amplitude (:func:`sensors.motor_calibration.calibrate_motor`).
        Returns the drive set (rounded down to the driver's steps)."""
        self._check_open()
        drive = _quantise(self.motors[motor], drive)
        self._write(motor, drive)
        return drive

    # -- internals ---------------------------------------------------------------------

    def _issue(self, motor: int, drive: float) -> float:
        """The only place a calibrated drive reaches a motor; returns the amplitude (g)."""
        drive = self._bounded(motor, drive)
        if drive != self._drive[motor]:
            self._write(motor, drive)
        return self.curves[motor].g_for_drive(drive)

    def _write(self, motor: int, drive: float) -> None:
        """Send ``drive``; on a bus error every motor is stopped and MotorFault raised."""
        self._drive[motor] = _UNKNOWN  # until the write is known to have landed
        try:
            self.motors[motor].set_realtime(drive)
        except OSError as exc:
            self.stop_all()
            raise MotorFault(motor, exc.errno, "drive failed") from exc
        self._drive[motor] = drive

    def _bounded(self, motor: int, drive: float) -> float:
        curve = self._curve(motor)
        cap = self.cap_g(motor)
        if not math.isfinite(drive) or drive <= 0:
            return 0.0
        drive = min(drive, 1.0)
        if curve.g_for_drive(drive) > cap:
            drive = curve.drive_for_g(cap) if cap > 0 else 0.0
        # Nearest drive step, then step down while the calibrated amplitude is over the cap.
        drive = _quantise(self.motors[motor], drive, nearest=True)
        while drive > 0 and curve.g_for_drive(drive) > cap:
            drive = _quantise(self.motors[motor], drive - 1.0 / RTP_STEPS)
        return drive

    def _account(self, motor: int, level_g: float, t_from: float, t_to: float) -> None:
        if level_g > 0 and t_to > t_from:
            curve = self.curves[motor]
            freq = curve.frequency_for_drive(curve.drive_for_g(level_g))
            self.ledger.record(level_g, freq, t_to - t_from)

    def _curve(self, motor: int) -> MotorCurve:
        self._check_motor(motor)
        curve = self.curves.get(motor)
        if curve is None:
            raise CalibrationError(
                f"motor {motor} is not calibrated: no calibration record (a technician's job)"
            )
        return curve

    def _check_frequency(self, motor: int, curve: MotorCurve, stimulus: Stimulus) -> None:
        f = stimulus.frequency_hz
        assert f is not None
        if self.actuator == "erm":
            if stimulus.amplitude_db is not None:
                raise ValueError(
                    "an ERM couples frequency and amplitude: give amplitude_db or "
                    "frequency_hz, not both"
                )
            return
        resonance = float(curve.frequency_hz[-1])
        if abs(f - resonance) > ERM_FREQUENCY_TOLERANCE * resonance:
            raise ValueError(
                f"motor {motor} is an LRA at {resonance:.0f} Hz: it cannot give {f:g} Hz"
            )

    def _check_motor(self, motor: int) -> None:
        if not 0 <= motor < len(self.motors):
            raise ValueError(f"motor must be 0..{len(self.motors) - 1}, got {motor}")

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("haptics closed")


def _envelope(t: float, duration: float, ramp: float) -> float:
    if ramp <= 0:
        return 1.0
    return max(0.0, min(1.0, t / ramp, (duration - t) / ramp))


def _quantise(motor: Any, drive: float, nearest: bool = False) -> float:
    """A drive the driver can give exactly (DRV2605L RTP: 1/127 steps), rounded down or to
    the nearest step."""
    steps = getattr(motor, "drive_steps", RTP_STEPS)
    if not steps:
        return max(0.0, min(1.0, drive))
    k = round(drive * steps) if nearest else math.floor(drive * steps + 1e-9)
    return max(0.0, min(1.0, k / steps))
