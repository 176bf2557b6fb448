"""ST LSM6DSOX 6-axis IMU (accelerometer + gyroscope) over I2C, FIFO first.

Datasheet: ST DS12814 (LSM6DSOX) register description; the FIFO and self-test text is
shared with the LSM6DSO (DS12140). HARDWARE.md section 9.2 marks its register table
"verify each row": every address, bit position and code used below was confirmed against
ST's own register header ``lsm6dsox_reg.h`` (STMems standard C driver, the lsm6dsox-pid
repository) and, where it says so, the Adafruit CircuitPython LSM6DS driver or Linux
``st_lsm6dsx``. Each constant names its source.

Bus traffic (HARDWARE.md section 4.3): a FIFO drain is two transactions, the 2-byte
FIFO_STATUS1/2 read and one burst of n x 7 bytes from FIFO_DATA_OUT_TAG. The burst relies on
the register address rolling back from 0x7E to 0x78 after each word, which is how Linux
``st_lsm6dsx_read_tagged_fifo`` reads several tagged words in one block read.

Errors: ``OSError`` from the bus passes through with its errno (absent or unplugged:
:func:`~drivers.bus.no_answer`).
:class:`DeviceNotFound`: WHO_AM_I is not 0x6C. :class:`DeviceReset`: the chip no longer
holds the configuration ``init()`` wrote (power cycle, glove re-plugged): call ``init()``.
"""

import struct

from drivers.bus import DeviceNotFound, bus_name
from drivers.clock import MonotonicClock, deadline, wait_until

try:
    from micropython import const
except ImportError:

    def const(x: int) -> int:  # type: ignore[misc,no-redef]
        return x


try:
    from typing import TYPE_CHECKING, Optional, Tuple
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from drivers.bus import Buffer, I2CBus
    from drivers.clock import Clock, Deadline

    Vec3 = Tuple[float, float, float]

CHIP_ID = const(0x6C)  # WHO_AM_I value (lsm6dsox_reg.h LSM6DSOX_ID)
FIFO_DEPTH_WORDS = const(512)  # 3 KB of 6-byte samples; WTM is 9 bits, DIFF_FIFO 10 bits

# Register addresses (DS12814 register map; lsm6dsox_reg.h, all confirmed).
_FIFO_CTRL1 = const(0x07)  # WTM[7:0]; FIFO_CTRL2 bit 0 = WTM[8]
_FIFO_CTRL3 = const(0x09)  # BDR_GY[7:4], BDR_XL[3:0]
_FIFO_CTRL4 = const(0x0A)  # FIFO_MODE[2:0], ODR_T_BATCH[5:4], ODR_TS_BATCH[7:6]
_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)  # ODR_XL[7:4], FS_XL[3:2], LPF2_XL_EN[1]
_CTRL2_G = const(0x11)  # ODR_G[7:4], FS_G[3:2], FS_125[1]
_CTRL3_C = const(0x12)  # BOOT[7] BDU[6] H_LACTIVE[5] PP_OD[4] SIM[3] IF_INC[2] SW_RESET[0]
_CTRL5_C = const(0x14)  # ST_G[3:2], ST_XL[1:0]
_STATUS_REG = const(0x1E)  # TDA[2] GDA[1] XLDA[0]
_OUT_TEMP_L = const(0x20)  # int16 LE, 256 LSB/degC, 0 = 25 degC (lsm6dsox_from_lsb_to_celsius)
_OUTX_L_G = const(0x22)  # gyro X/Y/Z then accel X/Y/Z at 0x28: 12 contiguous bytes
_OUTX_L_A = const(0x28)
_FIFO_STATUS1 = const(0x3A)  # DIFF_FIFO[7:0]
_FIFO_DATA_OUT_TAG = const(0x78)  # TAG_SENSOR[7:3] TAG_CNT[2:1] TAG_PARITY[0], then 6 bytes

_SW_RESET = const(0x01)
_IF_INC = const(0x04)
_BDU = const(0x40)
_XLDA = const(0x01)
_GDA = const(0x02)
# FIFO_STATUS2 (lsm6dsox_fifo_status2_t): DIFF_FIFO[9:8] in bits 1:0, OVER_RUN_LATCHED bit 3,
# COUNTER_BDR_IA bit 4, FIFO_FULL_IA bit 5, FIFO_OVR_IA bit 6, FIFO_WTM_IA bit 7.
_DIFF_FIFO_HI = const(0x03)
_OVR_LATCHED = const(0x08)
_OVR_IA = const(0x40)
_FIFO_BYPASS = const(0)  # lsm6dsox_fifo_mode_t: BYPASS 0, FIFO 1, STREAM (continuous) 6
_FIFO_STOP_WHEN_FULL = const(1)
_FIFO_CONTINUOUS = const(6)
# lsm6dsox_fifo_tag_t: GYRO_NC 1, XL_NC 2, TEMPERATURE 3, TIMESTAMP 4, CFG_CHANGE 5, ...
_TAG_GYRO_NC = const(0x01)
_TAG_XL_NC = const(0x02)
_TAG_TEMPERATURE = const(0x03)
_TAG_TIMESTAMP = const(0x04)
_TIMESTAMP_LSB_S = 25e-6  # lsm6dsox_from_lsb_to_nsec: 25000 ns per LSB
_WORD_BYTES = const(7)
_BURST_WORDS = const(128)  # 896 bytes per read: well under the kernel's 8 KB per message

# ODR_XL / ODR_G / BDR_XL / BDR_GY share one code table (lsm6dsox_odr_xl_t, bdr_xl_t).
_ODR_CODES = (
    (12.5, 1), (26, 2), (52, 3), (104, 4), (208, 5), (416, 6), (833, 7), (1666, 8), (3333, 9),
    (6666, 10),
)  # fmt: skip
# FS_XL code and mg/LSB: note the order, 01 is +-16 g (lsm6dsox_fs_xl_t; Adafruit AccelRange).
_ACCEL_FS = {2: (0, 0.061), 16: (1, 0.488), 4: (2, 0.122), 8: (3, 0.244)}
# CTRL2_G bits [3:1] (FS_G + FS_125) and mdps/LSB (lsm6dsox_fs_g_t, lsm6dsox_from_fs*_to_mdps).
_GYRO_FS = {125: (0x02, 4.375), 250: (0x00, 8.75), 500: (0x04, 17.5), 1000: (0x08, 35.0)}
_GYRO_FS[2000] = (0x0C, 70.0)

# Self-test (HARDWARE.md 9.3; ST lsm6dsox_self_test.c example): accel at 52 Hz +-4 g, gyro at
# 208 Hz 2000 dps, 100 ms settle, discard one sample, average five, positive sign.
# ST_XL 01 positive (10 negative); ST_G 01 positive (11 negative: lsm6dsox_st_g_t = 3).
_ST_XL_CTRL1 = const(0x38)  # ODR 52 Hz (3 << 4) | FS 4 g (2 << 2)
_ST_G_CTRL2 = const(0x5C)  # ODR 208 Hz (5 << 4) | FS 2000 dps (0x0C)
_ST_XL_POSITIVE = const(0x01)
_ST_G_POSITIVE = const(0x04)
_ST_SETTLE_S = 0.1
ACCEL_ST_LIMITS_MG = (50.0, 1700.0)  # independent of full scale
GYRO_ST_LIMITS_DPS = (150.0, 700.0)  # at 2000 dps (20..80 dps would apply at 250 dps)

# capture_accel: samples dropped after a configuration change while the digital filters
# settle (Linux st_lsm6dsx drops them too; DS12814's settling table: verify the count).
_CAPTURE_DISCARD = const(16)
CAPTURE_MAX_SAMPLES = FIFO_DEPTH_WORDS - _CAPTURE_DISCARD

_RESET_TIMEOUT_S = 0.1
_ETIMEDOUT = const(110)
_OTHER_PARTS = {0x69: "an LSM6DS33 / LSM6DS3", 0x6A: "an LSM6DS3TR-C", 0x6B: "an ISM330DHCX"}


class DeviceReset(Exception):
    """The chip lost the configuration ``init()`` wrote (power cycle, re-plug): re-init."""

    def __init__(self, bus: str, address: int, hint: str) -> None:
        self.chip = "LSM6DSOX"
        self.bus = bus
        self.address = address
        self.hint = hint
        super().__init__("LSM6DSOX on %s at 0x%02X needs init(): %s" % (bus, address, hint))


class FifoBatch:
    """What one :meth:`LSM6DSOX.read_fifo` drained.

    ``accel_g`` and ``gyro_dps`` are paired index by index (same FIFO time slot, TAG_CNT);
    ``words`` counts FIFO words read, ``overrun`` is true when the FIFO overwrote data since
    the last drain, ``other_tags`` counts words that are neither accel nor gyro (temperature
    in ``temperature_c``, timestamps in ``timestamps_s``, anything else only counted) and
    ``unpaired`` counts accel or gyro words dropped for lack of a partner.
    """

    def __init__(self) -> None:
        self.accel_g = []  # type: list
        self.gyro_dps = []  # type: list
        self.words = 0
        self.overrun = False
        self.other_tags = 0
        self.unpaired = 0
        self.fifo_level = 0
        self.temperature_c = []  # type: list
        self.timestamps_s = []  # type: list

    def __repr__(self) -> str:
        return "FifoBatch(%d pairs, %d words, overrun=%s, other=%d, unpaired=%d)" % (
            len(self.accel_g),
            self.words,
            self.overrun,
            self.other_tags,
            self.unpaired,
        )


class SelfTestResult:
    """Per-axis |ST - NOST| (mg, dps), per-sensor verdicts against the datasheet limits."""

    def __init__(self, accel_delta_mg: "Vec3", gyro_delta_dps: "Vec3") -> None:
        self.accel_delta_mg = accel_delta_mg
        self.gyro_delta_dps = gyro_delta_dps
        lo, hi = ACCEL_ST_LIMITS_MG
        self.accel_ok = all(lo <= d <= hi for d in accel_delta_mg)
        lo, hi = GYRO_ST_LIMITS_DPS
        self.gyro_ok = all(lo <= d <= hi for d in gyro_delta_dps)
        self.passed = self.accel_ok and self.gyro_ok

    def __repr__(self) -> str:
        return "SelfTestResult(passed=%s, accel_mg=%s, gyro_dps=%s)" % (
            self.passed,
            tuple(round(d, 1) for d in self.accel_delta_mg),
            tuple(round(d, 1) for d in self.gyro_delta_dps),
        )


class LSM6DSOX:
    """One LSM6DSOX at ``address`` (0x6A with SA0 low, 0x6B with SA0 high) on ``bus``."""

    def __init__(self, bus: "I2CBus", address: int = 0x6A, clock: "Clock | None" = None) -> None:
        if address not in (0x6A, 0x6B):
            raise ValueError("LSM6DSOX address must be 0x6A or 0x6B, got 0x%02X" % address)
        self._bus = bus
        self.address = address
        self._clock: "Clock" = clock if clock is not None else MonotonicClock()
        self._buf2 = bytearray(2)
        self._buf12 = bytearray(12)
        self._mv12 = memoryview(self._buf12)
        self._fifo_buf = bytearray(_BURST_WORDS * _WORD_BYTES)
        self._fifo_mv = memoryview(self._fifo_buf)
        self._configured = False
        self._ever_configured = False
        self._closed = False
        self.close_error: "OSError | None" = None  # the OSError the last close() met, if any
        self._fifo = False
        self._ctrl = b""
        self.odr_hz = 0.0
        self._accel_scale = 0.0  # g per LSB
        self._gyro_scale = 0.0  # dps per LSB
        self._stale_s = 0.25
        self._suspect = False
        self._quiet: "Deadline | None" = None  # passed: the FIFO stayed empty too long
        self._clear_pending()

    def __repr__(self) -> str:
        return "LSM6DSOX(%s, 0x%02X, odr=%s Hz)" % (bus_name(self._bus), self.address, self.odr_hz)

    def __enter__(self) -> "LSM6DSOX":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- configuration -----------------------------------------------------------------

    def init(
        self, odr_hz: float = 104, accel_fs_g: int = 4, gyro_fs_dps: int = 500, fifo: bool = True
    ) -> None:
        """Identify, software-reset and configure the chip (DS12814 CTRL1_XL..CTRL3_C, FIFO).

        ``odr_hz`` in 12.5, 26, 52, 104, 208, 416, 833, 1666, 3333, 6666 (both sensors);
        ``accel_fs_g`` in 2, 4, 8, 16; ``gyro_fs_dps`` in 125, 250, 500, 1000, 2000. With
        ``fifo`` the FIFO runs in continuous mode batching both sensors at the ODR.
        Raises ValueError, DeviceNotFound (WHO_AM_I not 0x6C), OSError (bus; 110 when
        SW_RESET does not self-clear within 0.1 s).
        """
        code = 0
        for hz, c in _ODR_CODES:
            if hz == odr_hz:
                code = c
        if not code:
            rates = ", ".join(str(hz) for hz, _ in _ODR_CODES)
            raise ValueError("odr_hz must be one of %s, got %r" % (rates, odr_hz))
        if accel_fs_g not in _ACCEL_FS:
            raise ValueError("accel_fs_g must be 2, 4, 8 or 16, got %r" % (accel_fs_g,))
        if gyro_fs_dps not in _GYRO_FS:
            raise ValueError(
                "gyro_fs_dps must be 125, 250, 500, 1000 or 2000, got %r" % (gyro_fs_dps,)
            )
        self._configured = False
        self._closed = False
        self._read(_WHO_AM_I, self._mv12[:1])
        found = self._buf12[0]
        if found != CHIP_ID:
            raise DeviceNotFound(
                "LSM6DSOX", bus_name(self._bus), self.address, CHIP_ID, found, _id_hint(found)
            )
        # SW_RESET restores the register defaults and self-clears (Adafruit reset() loop).
        self._write(_CTRL3_C, bytes((_SW_RESET | _IF_INC,)))
        if not wait_until(self._clock, self._reset_done, _RESET_TIMEOUT_S, 0.001):
            raise OSError(
                _ETIMEDOUT,
                "LSM6DSOX on %s at 0x%02X: SW_RESET did not self-clear within %s s"
                % (bus_name(self._bus), self.address, _RESET_TIMEOUT_S),
            )
        # BDU keeps LSB and MSB of one sample together; IF_INC makes bursts possible.
        self._write(_CTRL3_C, bytes((_BDU | _IF_INC,)))
        if fifo:
            # FIFO_CTRL1..4 in one write: WTM 0, CTRL2 0, BDR_GY[7:4] | BDR_XL[3:0], continuous.
            self._write(_FIFO_CTRL1, bytes((0, 0, (code << 4) | code, _FIFO_CONTINUOUS)))
        accel_code, accel_mg = _ACCEL_FS[accel_fs_g]
        gyro_bits, gyro_mdps = _GYRO_FS[gyro_fs_dps]
        self._ctrl = bytes(((code << 4) | (accel_code << 2), (code << 4) | gyro_bits))
        self._write(_CTRL1_XL, self._ctrl)
        self.odr_hz = float(odr_hz)
        self._accel_scale = accel_mg / 1000.0
        self._gyro_scale = gyro_mdps / 1000.0
        self._fifo = fifo
        self._stale_s = max(0.25, 8.0 / self.odr_hz)
        self._configured = self._ever_configured = True
        self._suspect = False
        self._quiet = deadline(self._clock, self._stale_s)
        self._clear_pending()

    def close(self) -> None:
        """Power both sensors down (ODR 0) and put the FIFO in bypass; never raises.

        No bus traffic when ``init()`` never succeeded, nor after a close that reached the
        chip. Both writes are tried; the first ``OSError`` is kept in ``close_error`` and a
        later ``close()`` tries again (an IMU that missed it would go on sampling).
        """
        self._configured = False
        if self._closed or not self._ever_configured:
            self._closed = True
            return
        self.close_error = None
        for reg, data in ((_CTRL1_XL, b"\x00\x00"), (_FIFO_CTRL4, bytes((_FIFO_BYPASS,)))):
            try:
                self._write(reg, data)
            except OSError as exc:
                if self.close_error is None:
                    self.close_error = exc
        self._closed = self.close_error is None

    # -- data --------------------------------------------------------------------------

    def read_fifo(self, max_words: "Optional[int]" = None) -> FifoBatch:
        """Drain up to ``max_words`` (1..512, default all) FIFO words, paired by time slot.

        Raises DeviceReset when the chip lost its configuration (checked after any bus error
        and when the FIFO stays empty for max(0.25 s, 8 samples)); OSError from the bus, in
        which case the words of the failed burst are lost and pairing restarts.
        """
        self._check(True)
        if max_words is not None and not 1 <= max_words <= FIFO_DEPTH_WORDS:
            raise ValueError(
                "max_words must be 1..%d or None, got %r" % (FIFO_DEPTH_WORDS, max_words)
            )
        batch = FifoBatch()
        try:
            self._read(_FIFO_STATUS1, self._buf2)
            status2 = self._buf2[1]
            level = self._buf2[0] | ((status2 & _DIFF_FIFO_HI) << 8)
            batch.fifo_level = level
            batch.overrun = bool(status2 & (_OVR_IA | _OVR_LATCHED))
            quiet = self._quiet
            if self._suspect or (level == 0 and (quiet is None or quiet.expired())):
                self._verify_config()
                self._suspect = False
                self._quiet = deadline(self._clock, self._stale_s)
            if batch.overrun:
                self._clear_pending()  # the oldest words are gone: slots do not line up
            n = level if max_words is None else min(level, max_words)
            if n:
                self._quiet = deadline(self._clock, self._stale_s)
            while n > 0:
                k = min(n, _BURST_WORDS)
                view = self._fifo_mv[: k * _WORD_BYTES]
                self._bus.readfrom_mem_into(self.address, _FIFO_DATA_OUT_TAG, view)
                self._decode(view, k, batch)
                n -= k
        except OSError:
            self._suspect = True
            self._clear_pending()
            raise
        return batch

    def read_accel_gyro(self) -> "Tuple[Vec3, Vec3]":
        """The output registers in one 12-byte read: ((ax, ay, az) g, (gx, gy, gz) dps)."""
        self._check(False)
        self._read(_OUTX_L_G, self._buf12)
        gx, gy, gz, ax, ay, az = struct.unpack("<hhhhhh", self._buf12)
        a, g = self._accel_scale, self._gyro_scale
        return (ax * a, ay * a, az * a), (gx * g, gy * g, gz * g)

    def temperature_c(self) -> float:
        """Die temperature in degC from OUT_TEMP (256 LSB/degC, 0 LSB = 25 degC)."""
        self._check(False)
        self._read(_OUT_TEMP_L, self._buf2)
        return struct.unpack("<h", self._buf2)[0] / 256.0 + 25.0

    def self_test(self) -> SelfTestResult:
        """Run the datasheet self-test on both sensors (HARDWARE.md 9.3), ~0.8 s.

        Keep the glove still. The FIFO is bypassed meanwhile (its content is discarded) and
        the previous configuration is restored afterwards, also on error. Raises OSError
        (110 when no new sample arrives within 10 sample periods).
        """
        self._check(False)
        saved_fifo = bytearray(4)
        saved_ctrl = bytearray(5)
        self._read(_FIFO_CTRL1, saved_fifo)
        self._read(_CTRL1_XL, saved_ctrl)
        try:
            # Keep self-test samples out of the stream the session reads.
            self._write(_FIFO_CTRL4, bytes((_FIFO_BYPASS,)))
            self._write(_CTRL1_XL, bytes((_ST_XL_CTRL1, 0)))
            accel = self._st_delta(_OUTX_L_A, _XLDA, 0.122, _ST_XL_POSITIVE, 1 / 52)
            self._write(_CTRL1_XL, bytes((0, _ST_G_CTRL2)))
            gyro = self._st_delta(_OUTX_L_G, _GDA, 0.070, _ST_G_POSITIVE, 1 / 208)
        finally:
            self._write(_CTRL5_C, bytes((saved_ctrl[4],)))
            self._write(_CTRL1_XL, bytes(saved_ctrl[:2]))
            self._write(_FIFO_CTRL1, bytes(saved_fifo))
            self._clear_pending()
            self._quiet = deadline(self._clock, self._stale_s)
        return SelfTestResult(accel, gyro)

    def capture_accel(self, n: int, odr_hz: float = 3333, accel_fs_g: int = 8) -> list:
        """``n`` consecutive accelerometer samples ``(x, y, z)`` g at ``odr_hz``: a short
        high-rate capture (a vibration). ``n`` in 1..496; ``odr_hz`` and ``accel_fs_g`` as
        for ``init()``.

        The gyroscope is off and the FIFO, emptied first, batches the accelerometer alone
        in FIFO mode (FIFO_CTRL4 mode 001: it stops when full, so a slow read loses
        nothing); the first 16 samples are dropped while the filters settle. The chip stays
        in this mode: ``read_fifo()`` and ``read_accel_gyro()`` raise DeviceReset until
        ``init()`` restores the stream. Raises ValueError, DeviceReset (``init()`` never
        succeeded), OSError (bus; 110 when the FIFO does not fill within 10x its time).
        """
        if self._closed or not self._ever_configured:
            raise DeviceReset(bus_name(self._bus), self.address, "init() has not succeeded")
        if not 1 <= n <= CAPTURE_MAX_SAMPLES:
            raise ValueError("n must be 1..%d, got %r" % (CAPTURE_MAX_SAMPLES, n))
        code = 0
        for hz, c in _ODR_CODES:
            if hz == odr_hz:
                code = c
        if not code or accel_fs_g not in _ACCEL_FS:
            raise ValueError("odr_hz %r or accel_fs_g %r not supported" % (odr_hz, accel_fs_g))
        self._configured = False  # the stream init() set up is off until init() again
        self._clear_pending()
        accel_code, accel_mg = _ACCEL_FS[accel_fs_g]
        self._write(_FIFO_CTRL4, bytes((_FIFO_BYPASS,)))  # empties the FIFO
        self._write(_CTRL1_XL, bytes(((code << 4) | (accel_code << 2), 0)))
        self._write(_FIFO_CTRL3, bytes((code, _FIFO_STOP_WHEN_FULL)))
        want = n + _CAPTURE_DISCARD
        span_s = want / odr_hz
        self._clock.sleep(span_s)
        if not wait_until(self._clock, lambda: self._fifo_level() >= want, 10 * span_s, 0.005):
            raise OSError(
                _ETIMEDOUT,
                "LSM6DSOX on %s at 0x%02X: the FIFO did not fill during a capture"
                % (bus_name(self._bus), self.address),
            )
        scale = accel_mg / 1000.0
        out = []  # type: list
        left = want
        while left > 0:
            k = min(left, _BURST_WORDS)
            view = self._fifo_mv[: k * _WORD_BYTES]
            self._bus.readfrom_mem_into(self.address, _FIFO_DATA_OUT_TAG, view)
            vals = struct.unpack_from("<" + "Bhhh" * k, view, 0)
            for i in range(0, 4 * k, 4):
                if vals[i] >> 3 == _TAG_XL_NC:
                    out.append((vals[i + 1] * scale, vals[i + 2] * scale, vals[i + 3] * scale))
            left -= k
        return out[_CAPTURE_DISCARD:]

    # -- internals ---------------------------------------------------------------------

    def _read(self, reg: int, buf: "Buffer") -> None:
        self._bus.readfrom_mem_into(self.address, reg, buf)

    def _write(self, reg: int, data: "bytes | bytearray") -> None:
        self._bus.writeto_mem(self.address, reg, data)

    def _check(self, need_fifo: bool) -> None:
        if not self._configured:
            raise DeviceReset(bus_name(self._bus), self.address, "init() has not succeeded")
        if need_fifo and not self._fifo:
            raise ValueError("the FIFO is off: call init(fifo=True) to use read_fifo()")

    def _reset_done(self) -> bool:
        self._read(_CTRL3_C, self._mv12[:1])
        return not self._buf12[0] & _SW_RESET

    def _verify_config(self) -> None:
        # CTRL1_XL, CTRL2_G, CTRL3_C in one read: a power cycle leaves 0x00, 0x00, 0x04.
        view = self._mv12[:3]
        self._read(_CTRL1_XL, view)
        if bytes(view) != self._ctrl + bytes((_BDU | _IF_INC,)):
            self._configured = False
            raise DeviceReset(
                bus_name(self._bus),
                self.address,
                "registers read %s (power cycle or re-plug): call init()" % bytes(view).hex(),
            )

    def _clear_pending(self) -> None:
        self._pend_cnt = -1
        self._pend_a = None  # type: Optional[Vec3]
        self._pend_g = None  # type: Optional[Vec3]

    def _decode(self, buf: "Buffer", k: int, batch: FifoBatch) -> None:
        # One unpack for the whole burst, then one pass over the words with the pairing
        # state in locals: words of one time slot share TAG_CNT, a new count closes the slot.
        a, g = self._accel_scale, self._gyro_scale
        vals = struct.unpack_from("<" + "Bhhh" * k, buf, 0)
        pend_cnt, pend_a, pend_g = self._pend_cnt, self._pend_a, self._pend_g
        accel, gyro = batch.accel_g, batch.gyro_dps
        unpaired = other = 0
        words = iter(vals)  # a word at a time: (tag byte, x, y, z)
        for tag_byte, x, y, z in zip(words, words, words, words):  # noqa: B905 (MicroPython)
            tag = tag_byte >> 3
            if tag in (_TAG_GYRO_NC, _TAG_XL_NC):
                cnt = (tag_byte >> 1) & 0x03
                if cnt != pend_cnt:
                    if pend_a is not None or pend_g is not None:
                        unpaired += 1
                    pend_a = pend_g = None
                    pend_cnt = cnt
                if tag == _TAG_GYRO_NC:
                    if pend_g is not None:
                        unpaired += 1
                    pend_g = (x * g, y * g, z * g)
                    if pend_a is None:
                        continue
                else:
                    if pend_a is not None:
                        unpaired += 1
                    pend_a = (x * a, y * a, z * a)
                    if pend_g is None:
                        continue
                accel.append(pend_a)
                gyro.append(pend_g)
                pend_cnt, pend_a, pend_g = -1, None, None
                continue
            other += 1
            if tag == _TAG_TEMPERATURE:
                batch.temperature_c.append(x / 256.0 + 25.0)
            elif tag == _TAG_TIMESTAMP:
                ticks = (x & 0xFFFF) | ((y & 0xFFFF) << 16)
                batch.timestamps_s.append(ticks * _TIMESTAMP_LSB_S)
        batch.words += k
        batch.unpaired += unpaired
        batch.other_tags += other
        self._pend_cnt, self._pend_a, self._pend_g = pend_cnt, pend_a, pend_g

    def _st_delta(
        self, out_reg: int, drdy: int, scale: float, st_bits: int, period_s: float
    ) -> "Vec3":
        self._clock.sleep(_ST_SETTLE_S)  # "wait for stable output"
        nost = self._st_average(out_reg, drdy, scale, period_s)
        self._write(_CTRL5_C, bytes((st_bits,)))
        self._clock.sleep(_ST_SETTLE_S)
        st = self._st_average(out_reg, drdy, scale, period_s)
        self._write(_CTRL5_C, b"\x00")
        return (abs(st[0] - nost[0]), abs(st[1] - nost[1]), abs(st[2] - nost[2]))

    def _st_average(self, out_reg: int, drdy: int, scale: float, period_s: float) -> "Vec3":
        total = [0.0, 0.0, 0.0]
        view = self._mv12[:6]
        for i in range(6):  # the first sample after a change is discarded
            if not wait_until(self._clock, lambda: self._ready(drdy), 10 * period_s, period_s / 2):
                raise OSError(
                    _ETIMEDOUT,
                    "LSM6DSOX on %s at 0x%02X: no new sample during self-test"
                    % (bus_name(self._bus), self.address),
                )
            self._read(out_reg, view)
            if i:
                xyz = struct.unpack("<hhh", view)
                for j in range(3):
                    total[j] += xyz[j] * scale
        return (total[0] / 5, total[1] / 5, total[2] / 5)

    def _fifo_level(self) -> int:
        self._read(_FIFO_STATUS1, self._buf2)
        return self._buf2[0] | ((self._buf2[1] & _DIFF_FIFO_HI) << 8)

    def _ready(self, bit: int) -> bool:
        self._read(_STATUS_REG, self._mv12[:1])
        return bool(self._buf12[0] & bit)


def _id_hint(found: int) -> str:
    if found in _OTHER_PARTS:
        return "WHO_AM_I 0x%02X is %s, not an LSM6DSOX: fit an LSM6DSOX (or LSM6DSO, same ID)" % (
            found,
            _OTHER_PARTS[found],
        )
    if found in (0x00, 0xFF):
        return "no valid identity: check SDA/SCL wiring, 3.3 V power and the mux channel"
    return (
        "another chip answers here: check SA0 (low 0x6A, high 0x6B), the mux channel "
        "and which part is fitted"
    )
