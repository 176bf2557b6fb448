"""TI DRV2605L haptic driver (ERM or LRA) on I2C, MicroPython-clean.

Datasheet: TI SLOS854D (DRV2605L); facts and their sources in ``reference/HARDWARE.md`` §7.
The address is fixed (0x5A), so a station with several motors puts each DRV2605L on its own
TCA9548A channel and hands this driver the channel's bus object.

Choices made here, and why
    * RTP format is **signed** (CONTROL3 DATA_FORMAT_RTP = 0, the reset value): 0x00 means
      "no drive" in every loop and direction mode, so a stale, reset or zeroed RTP register
      never drives the motor. In unsigned format with the default bidirectional input, 0x00
      is full-scale *negative* drive in open loop. Amplitude 0.0..1.0 maps to 0x00..0x7F.
    * ERM runs open loop (CONTROL3 ERM_OPEN_LOOP = 1), library 1 (TS2200 A); LRA runs closed
      loop (auto-resonance), library 6 (LRA). ``init`` writes whole register values, so the
      result does not depend on what the chip held before.
    * Errors: every bus error is an ``OSError`` with its errno intact (an absent device:
      :func:`~drivers.bus.no_answer`). A wrong identity raises
      :class:`~drivers.bus.DeviceNotFound`. A bounded wait that expires raises
      ``OSError(110)`` (ETIMEDOUT; on CPython that is a ``TimeoutError``).
    * Motors off on every exit path: ``stop`` attempts every one of its writes even when one
      fails (then re-raises the first error); ``close`` never raises, records the error in
      ``close_error``, and may be called again to retry. Auto-calibration and diagnostics,
      which drive the actuator, cancel themselves (GO = 0, MODE = 0) on any error or timeout.
    * After any ``OSError`` the cached MODE is forgotten, so the next command rewrites it. A
      chip that lost power comes back in standby with reset registers: call ``init`` again.
"""

from drivers.bus import DeviceNotFound, bus_name
from drivers.clock import MonotonicClock, wait_until

try:
    from micropython import const
except ImportError:  # CPython

    def const(x: int) -> int:  # type: ignore[misc,no-redef]
        return x


try:
    from typing import TYPE_CHECKING, Sequence, Tuple, Union
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from drivers.bus import I2CBus
    from drivers.clock import Clock

    #: A sequence step: a library effect id, or ("wait", ms).
    Step = Union[int, Tuple[str, int]]


ADDRESS = const(0x5A)  # fixed, no address pin (§7 "Bus facts")

# Registers (SLOS854D §8.6 register map; HARDWARE.md §7.1)
REG_STATUS = const(0x00)  # [7:5] DEVICE_ID, [3] DIAG_RESULT, [1] OVER_TEMP, [0] OC_DETECT
REG_MODE = const(0x01)  # [7] DEV_RESET, [6] STANDBY, [2:0] MODE
REG_RTP_INPUT = const(0x02)
REG_LIBRARY_SEL = const(0x03)  # [2:0] library
REG_WAV_FRM_SEQ1 = const(0x04)  # 0x04..0x0B, [7] WAIT, [6:0] effect id or wait x 10 ms
REG_GO = const(0x0C)  # [0] GO, self-clears when the process is done
REG_ODT = const(0x0D)  # ODT, SPT, SNT, BRT at 0x0D..0x10
REG_RATED_VOLTAGE = const(0x16)
REG_OD_CLAMP = const(0x17)
REG_A_CAL_COMP = const(0x18)
REG_A_CAL_BEMF = const(0x19)
REG_FEEDBACK_CTRL = const(0x1A)  # [7] N_ERM_LRA, [6:4] brake, [3:2] loop gain, [1:0] BEMF
REG_CONTROL3 = const(0x1D)

# MODE values (§8.6.2)
MODE_INTERNAL_TRIGGER = const(0)
MODE_RTP = const(5)
MODE_DIAGNOSTICS = const(6)
MODE_AUTO_CALIBRATION = const(7)
MODE_STANDBY = const(0x40)
MODE_DEV_RESET = const(0x80)

STATUS_DIAG_RESULT = const(0x08)
STATUS_OVER_TEMP = const(0x02)
STATUS_OC_DETECT = const(0x01)

DEVICE_ID_DRV2605 = const(3)
DEVICE_ID_DRV2604 = const(4)
DEVICE_ID_DRV2604L = const(6)
DEVICE_ID_DRV2605L = const(7)

# FEEDBACK_CTRL: N_ERM_LRA, FB_BRAKE_FACTOR = 3 (4x), LOOP_GAIN = 1 (medium), BEMF_GAIN = 2:
# the reset value 0x36 with the actuator bit chosen (§8.6.20).
FEEDBACK_ERM = const(0x36)
FEEDBACK_LRA = const(0xB6)
# CONTROL3: NG_THRESH = 2, ERM_OPEN_LOOP = 1, DATA_FORMAT_RTP = 0 (signed), LRA closed loop:
# the reset value, written explicitly (§8.6.23).
CONTROL3_VALUE = const(0xA0)
LIBRARY_ERM = const(1)  # TS2200 library A
LIBRARY_LRA = const(6)

RTP_FULL_SCALE = const(0x7F)  # signed format
EFFECT_MIN = const(1)
EFFECT_MAX = const(123)
SEQUENCE_SLOTS = const(8)
WAIT_STEP_MS = const(10)
WAIT_MAX_MS = const(1270)
ETIMEDOUT = const(110)

# Voltage programming (§8.5.2.1, equations 2-5; HARDWARE.md §7.1 "Voltage programming").
# RATED_VOLTAGE: ERM closed-loop average 21.18 mV/LSB; LRA RMS 20.71 mV/LSB divided by
# sqrt(1 - (4 t_sample + 300 us) f_LRA), taken at its largest over 130..250 Hz with the default
# 300 us sample time (1.265) so the programmed level never exceeds the motor's rating.
# OD_CLAMP: the per-mode slopes quoted across datasheet revisions span 21.32..21.64 mV/LSB
# (one revision swapped the ERM and LRA equations); the largest is used for the same reason.
RV_LSB_ERM_V = 0.02118
RV_LSB_LRA_V = 0.02071 * 1.265
OD_CLAMP_LSB_V = 0.02164


class CalibrationResult:
    """Auto-calibration outcome (SLOS854D §8.5.6): ``ok`` False when DIAG_RESULT was set.

    ``compensation`` is A_CAL_COMP (0x18), ``back_emf`` A_CAL_BEMF (0x19), ``bemf_gain``
    FEEDBACK_CTRL[1:0]; ``actuator`` is "erm" or "lra". The values are stored per motor and can
    be written back with :meth:`DRV2605L.apply_calibration`.
    """

    def __init__(
        self, ok: bool, compensation: int, back_emf: int, bemf_gain: int, actuator: str = "erm"
    ) -> None:
        self.ok = bool(ok)
        self.compensation = compensation
        self.back_emf = back_emf
        self.bemf_gain = bemf_gain
        self.actuator = actuator

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CalibrationResult) and self.as_tuple() == other.as_tuple()

    def as_tuple(self) -> tuple:
        return (self.ok, self.compensation, self.back_emf, self.bemf_gain, self.actuator)

    def __repr__(self) -> str:
        return "CalibrationResult(ok=%s, comp=0x%02X, bemf=0x%02X, gain=%d, %s)" % self.as_tuple()


class DRV2605L:
    """One DRV2605L on ``bus`` (a ``machine.I2C``-like object, e.g. a TCA9548A channel).

    The constructor touches no hardware; :meth:`init` identifies and configures the chip.
    """

    def __init__(self, bus: "I2CBus", address: int = ADDRESS, clock: "Clock | None" = None) -> None:
        self._bus = bus
        self._address = address
        self._clock: "Clock" = clock if clock is not None else MonotonicClock()
        self._rx = bytearray(1)
        self._rx3 = bytearray(3)
        self._mode = -1  # cached MODE register, -1 = unknown
        self._feedback = FEEDBACK_ERM
        self._closed = False
        self.actuator = "erm"
        self.device_id = -1
        self.close_error: "OSError | None" = None  # the OSError the last close() met, if any

    def __repr__(self) -> str:
        return "DRV2605L(%s, 0x%02X, id=%d)" % (bus_name(self._bus), self._address, self.device_id)

    # -- set-up ----------------------------------------------------------------------------

    def init(
        self,
        actuator: str = "erm",
        rated_voltage_v: "float | None" = None,
        od_clamp_v: "float | None" = None,
    ) -> None:
        """Identify the chip, leave standby and configure it for ``actuator`` ("erm" or "lra").

        ``rated_voltage_v`` (closed-loop rated level) and ``od_clamp_v`` (peak clamp; the
        full-scale level in open loop) are written when given, rounded down. Raises
        ``DeviceNotFound`` for a wrong DEVICE_ID or a chip that does not take writes,
        ``ValueError`` for a bad argument, ``OSError`` for bus errors.
        """
        if actuator not in ("erm", "lra"):
            raise ValueError("actuator must be 'erm' or 'lra', got %r" % (actuator,))
        rated = None if rated_voltage_v is None else _rated_code(actuator, rated_voltage_v)
        clamp = None if od_clamp_v is None else _clamp_code(od_clamp_v)
        self.device_id = -1
        found = self._read(REG_STATUS) >> 5
        if found not in (DEVICE_ID_DRV2605L, DEVICE_ID_DRV2605):
            raise self._not_found((DEVICE_ID_DRV2605L, DEVICE_ID_DRV2605), found, _id_hint(found))
        self._set_mode(MODE_INTERNAL_TRIGGER)
        mode = self._read(REG_MODE)
        if mode != MODE_INTERNAL_TRIGGER:
            self._mode = -1
            hint = "The chip answers but ignores writes (MODE read back 0x%02X): check that its"
            raise self._not_found(0, mode, hint % mode + " EN pin is high and its supply steady.")
        self.device_id = found
        self.actuator = actuator
        self._feedback = FEEDBACK_LRA if actuator == "lra" else FEEDBACK_ERM
        self._write(REG_RTP_INPUT, 0)
        self._write(REG_WAV_FRM_SEQ1, 0)  # empty sequence: a stray GO plays nothing
        self._write_block(REG_ODT, b"\x00\x00\x00\x00")  # ODT, SPT, SNT, BRT offsets
        if rated is not None:
            self._write(REG_RATED_VOLTAGE, rated)
        if clamp is not None:
            self._write(REG_OD_CLAMP, clamp)
        self._write(REG_FEEDBACK_CTRL, self._feedback)
        self._write(REG_CONTROL3, CONTROL3_VALUE)
        self._write(REG_LIBRARY_SEL, LIBRARY_LRA if actuator == "lra" else LIBRARY_ERM)
        self._closed = False

    def reset(self, timeout_s: float = 0.01) -> None:
        """DEV_RESET (§8.6.2): registers to defaults, standby; waits for the bit to self-clear."""
        self._write(REG_MODE, MODE_DEV_RESET)
        self._mode = -1
        self._wait_clear(REG_MODE, MODE_DEV_RESET, timeout_s, 0.001, "DEV_RESET")
        self._mode = MODE_STANDBY

    # -- real-time playback ----------------------------------------------------------------

    def set_realtime(self, amplitude: float) -> None:
        """Drive at ``amplitude`` (0.0..1.0 of full scale) in RTP mode (MODE = 5).

        One 29-bit register write per update once in RTP mode; the first call also writes
        MODE (after the amplitude, HARDWARE.md §7.2). Raises ``ValueError`` outside 0..1.
        """
        if not 0.0 <= amplitude <= 1.0:
            raise ValueError("amplitude must be in 0.0..1.0, got %r" % (amplitude,))
        self._check_open()
        self._write(REG_RTP_INPUT, round(amplitude * RTP_FULL_SCALE))
        if self._mode != MODE_RTP:
            self._set_mode(MODE_RTP)

    def stop(self) -> None:
        """Motor off: RTP 0, MODE internal trigger, GO = 0 (cancels a sequence).

        Every write is attempted even if one fails; the first ``OSError`` is then re-raised.
        """
        error = None
        for reg, value in ((REG_RTP_INPUT, 0), (REG_MODE, MODE_INTERNAL_TRIGGER), (REG_GO, 0)):
            try:
                self._write(reg, value)
            except OSError as exc:
                if error is None:
                    error = exc
        if error is not None:
            raise error
        self._mode = MODE_INTERNAL_TRIGGER

    # -- library effects -------------------------------------------------------------------

    def play_effect(self, effect_id: int) -> None:
        """Play library effect ``effect_id`` (1..123): SEQ1 = id, SEQ2 = 0, GO = 1."""
        _check_effect(effect_id)
        self._check_open()
        self._ensure_mode(MODE_INTERNAL_TRIGGER)
        self._write_block(REG_WAV_FRM_SEQ1, bytes((effect_id, 0)))
        self._write(REG_GO, 1)

    def set_sequence(self, steps: "Sequence[Step]") -> None:
        """Load up to 8 steps: effect ids 1..123 or ``("wait", ms)`` with ms 10..1270 in 10s.

        Written in one transaction, terminated by 0x00 when shorter than 8. Does not start
        playback (see :meth:`go`).
        """
        if not 1 <= len(steps) <= SEQUENCE_SLOTS:
            raise ValueError("a sequence has 1..8 steps, got %d" % len(steps))
        codes = bytearray()
        for step in steps:
            if isinstance(step, tuple):
                codes.append(_wait_code(step))
            else:
                _check_effect(step)
                codes.append(step)
        if len(codes) < SEQUENCE_SLOTS:
            codes.append(0)
        self._check_open()
        self._write_block(REG_WAV_FRM_SEQ1, codes)

    def go(self) -> None:
        """Start the loaded sequence (internal trigger mode, GO = 1)."""
        self._check_open()
        self._ensure_mode(MODE_INTERNAL_TRIGGER)
        self._write(REG_GO, 1)

    def is_busy(self) -> bool:
        """True while GO is set (a sequence, diagnostic or calibration is running)."""
        return bool(self._read(REG_GO) & 1)

    def wait_done(self, timeout_s: float, poll_s: float = 0.005) -> None:
        """Poll GO until it clears; ``OSError(110)`` if it is still set after ``timeout_s``."""
        self._wait_clear(REG_GO, 1, timeout_s, poll_s, "GO")

    # -- calibration and diagnostics -------------------------------------------------------

    def auto_calibrate(self, timeout_s: float = 2.0) -> CalibrationResult:
        """Run auto-calibration (§8.5.6) with the current RATED_VOLTAGE / OD_CLAMP / timing.

        Takes AUTO_CAL_TIME (CONTROL4; 500..700 ms at reset) while the motor runs at its rated
        level. Returns a :class:`CalibrationResult` (``ok`` False when DIAG_RESULT = 1).
        Raises ``OSError(110)`` when GO does not clear within ``timeout_s``.
        """
        self._run_process(MODE_AUTO_CALIBRATION, timeout_s, 0.02)
        try:
            failed = self._read(REG_STATUS) & STATUS_DIAG_RESULT
            self._bus.readfrom_mem_into(self._address, REG_A_CAL_COMP, self._rx3)
        except OSError:
            self._mode = -1
            raise
        comp, bemf, feedback = self._rx3[0], self._rx3[1], self._rx3[2]
        self._feedback = feedback
        return CalibrationResult(not failed, comp, bemf, feedback & 0x03, self.actuator)

    def apply_calibration(self, result: CalibrationResult) -> None:
        """Write stored calibration values back (A_CAL_COMP, A_CAL_BEMF, BEMF_GAIN)."""
        if not 0 <= result.bemf_gain <= 3:
            raise ValueError("bemf_gain must be in 0..3, got %r" % (result.bemf_gain,))
        self._write_block(REG_A_CAL_COMP, bytes((result.compensation, result.back_emf)))
        self._feedback = (self._feedback & 0xFC) | result.bemf_gain
        self._write(REG_FEEDBACK_CTRL, self._feedback)

    def diagnose(self, timeout_s: float = 1.0) -> bool:
        """Actuator diagnostic (MODE = 6): True when the actuator is OK, False if open/short."""
        self._run_process(MODE_DIAGNOSTICS, timeout_s, 0.005)
        return not (self._read(REG_STATUS) & STATUS_DIAG_RESULT)

    def faults(self) -> tuple:
        """``(over_temp, over_current, diag_failed)`` from one STATUS read.

        Reading STATUS clears DIAG_RESULT and OVER_TEMP (clear-on-read latches, §8.6.1).
        """
        status = self._read(REG_STATUS)
        return (
            bool(status & STATUS_OVER_TEMP),
            bool(status & STATUS_OC_DETECT),
            bool(status & STATUS_DIAG_RESULT),
        )

    # -- power -----------------------------------------------------------------------------

    def standby(self) -> None:
        """Software standby (MODE = 0x40): low power, output stage off, registers kept."""
        self._set_mode(MODE_STANDBY)

    def close(self) -> None:
        """Motor off and standby, best effort; never raises (see ``close_error``).

        Safe to call again; each call retries every write, so a device that was off the bus
        at the first attempt is still switched off once it answers.
        """
        self.close_error = None
        try:
            self.stop()
        except OSError as exc:
            self.close_error = exc
        try:
            self.standby()
        except OSError as exc:
            if self.close_error is None:
                self.close_error = exc
        self._closed = True

    def __enter__(self) -> "DRV2605L":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _not_found(self, expected: object, found: int, hint: str) -> DeviceNotFound:
        return DeviceNotFound("DRV2605L", bus_name(self._bus), self._address, expected, found, hint)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("DRV2605L at 0x%02X is closed; call init() again" % self._address)

    def _run_process(self, mode: int, timeout_s: float, poll_s: float) -> None:
        """Set ``mode``, GO = 1 and wait for GO to clear; cancel on any failure."""
        self._check_open()
        try:
            self._set_mode(mode)
            self._write(REG_GO, 1)
            self._wait_clear(REG_GO, 1, timeout_s, poll_s, "GO")
        except OSError:
            self._cancel()
            raise
        self._set_mode(MODE_INTERNAL_TRIGGER)

    def _cancel(self) -> None:
        """Best-effort cancel of a running process (GO = 0, MODE = 0); errors are dropped
        because the caller is already raising the error that matters."""
        for reg, value in ((REG_GO, 0), (REG_MODE, MODE_INTERNAL_TRIGGER)):
            try:
                self._write(reg, value)
            except OSError:
                self._mode = -1
                continue
            if reg == REG_MODE:
                self._mode = MODE_INTERNAL_TRIGGER

    def _wait_clear(self, reg: int, mask: int, timeout_s: float, poll_s: float, what: str) -> None:
        if not wait_until(self._clock, lambda: not (self._read(reg) & mask), timeout_s, poll_s):
            raise OSError(
                ETIMEDOUT,
                "DRV2605L at 0x%02X on %s: %s still set after %.3f s"
                % (self._address, bus_name(self._bus), what, timeout_s),
            )

    def _ensure_mode(self, mode: int) -> None:
        if self._mode != mode:
            self._set_mode(mode)

    def _set_mode(self, mode: int) -> None:
        self._write(REG_MODE, mode)
        self._mode = mode

    def _read(self, reg: int) -> int:
        try:
            self._bus.readfrom_mem_into(self._address, reg, self._rx)
        except OSError:
            self._mode = -1
            raise
        return self._rx[0]

    def _write(self, reg: int, value: int) -> None:
        self._write_block(reg, bytes((value,)))

    def _write_block(self, reg: int, data: "bytes | bytearray") -> None:
        try:
            self._bus.writeto_mem(self._address, reg, data)
        except OSError:
            self._mode = -1
            raise


def _check_effect(effect_id: object) -> None:
    if not isinstance(effect_id, int) or not EFFECT_MIN <= effect_id <= EFFECT_MAX:
        raise ValueError("effect id must be an int in 1..123, got %r" % (effect_id,))


def _wait_code(step: "Tuple[str, int]") -> int:
    if len(step) != 2 or step[0] != "wait":
        raise ValueError("a wait step is ('wait', ms), got %r" % (step,))
    ms = step[1]
    if not isinstance(ms, int) or not WAIT_STEP_MS <= ms <= WAIT_MAX_MS or ms % WAIT_STEP_MS:
        raise ValueError("wait must be 10..1270 ms in steps of 10, got %r" % (ms,))
    return 0x80 | (ms // WAIT_STEP_MS)


def _rated_code(actuator: str, volts: float) -> int:
    lsb = RV_LSB_LRA_V if actuator == "lra" else RV_LSB_ERM_V
    return _volts_code("rated_voltage_v", volts, lsb)


def _clamp_code(volts: float) -> int:
    return _volts_code("od_clamp_v", volts, OD_CLAMP_LSB_V)


def _volts_code(name: str, volts: float, lsb: float) -> int:
    top = 255 * lsb
    if not lsb <= volts <= top:
        raise ValueError("%s must be in %.3f..%.2f V, got %r" % (name, lsb, top, volts))
    return int(volts / lsb)


def _id_hint(found: int) -> str:
    if found in (DEVICE_ID_DRV2604, DEVICE_ID_DRV2604L):
        return "This is a DRV2604(L), which has no effect library: fit a DRV2605L."
    return (
        "Another chip answers at 0x5A, or reads are corrupted: check this motor's mux channel "
        "(haptics.channels), the driver board's wiring and pull-ups."
    )
