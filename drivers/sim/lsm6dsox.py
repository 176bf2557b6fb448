"""Register-level model of the ST LSM6DSOX IMU (DS12814) on the simulated I2C bus.

Confirmed against ST's ``lsm6dsox_reg.h`` (see ``drivers/lsm6dsox.py``): addresses, WHO_AM_I
0x6C, CTRL3_C reset 0x04 (IF_INC), bit positions, the FS_XL code order (00 2 g, 01 16 g,
10 4 g, 11 8 g), sensitivities, temperature 256 LSB/degC around 25 degC, timestamp 25 us/LSB,
FIFO modes (0 bypass, 1 FIFO, 3 continuous-to-FIFO, 4 bypass-to-continuous, 6 continuous,
7 bypass-to-FIFO), FIFO tags (1 gyro, 2 accel, 3 temperature, 4 timestamp), the tag byte
(TAG_SENSOR[7:3] TAG_CNT[2:1] parity[0]), FIFO_STATUS2 (WTM_IA 7, OVR_IA 6, FULL_IA 5,
COUNTER_BDR_IA 4, OVR_LATCHED 3, DIFF_FIFO[9:8] 1:0), self-test codes (ST_XL 01/10, ST_G
01/11) and the limits 50-1700 mg, 150-700 dps at 2000 dps.

Modelling choices, each a fact not confirmed from a primary source (verify on hardware):

* FIFO depth **512 words**: the LSM6DSOX FIFO holds 3 KB of 6-byte samples (9 KB is the
  figure with compression); WTM is 9 bits and DIFF_FIFO 10 bits, which fits 512.
* SW_RESET self-clears 50 us after it is written, BOOT after 10 ms; SW_RESET restores every
  register default and empties the FIFO, BOOT leaves the user registers alone.
* CTRL9_XL resets to 0xE0; every other writable register to 0x00.
* All sensors sample on one internal grid anchored at the last reset, at the nominal ODRs;
  no turn-on settling. Outputs change only between transactions, so a burst read is always
  coherent and BDU is stored but has nothing to prevent.
* Within a time slot the words come timestamp, gyro, accel, temperature; all words of a slot
  share TAG_CNT, which counts slots modulo 4. TAG_PARITY is even parity of bits 7..1.
  A timestamp word carries TIMESTAMP[31:0] in its first 4 bytes, a temperature word OUT_TEMP
  in its first 2. WTM_IA is never set while WTM is 0. Reading an empty FIFO returns zeros.
* Event-triggered modes are not triggered: mode 3 behaves as continuous, 4 and 7 as bypass.
  COUNTER_BDR_IA, interrupts pins, MLC/FSM and the embedded functions are not modelled.
* A pulled connector removes power: ``plug()`` is a power-on reset (the driver must re-init).

Motion comes from outside: :meth:`set_motion` (constant) or :meth:`set_motion_source`
(``fn(t_s) -> ((ax, ay, az) g, (gx, gy, gz) dps)``, sampled at every ODR tick), plus bias and
seeded noise (the chip's own stream, or :meth:`set_noise_source`). Self-test shifts are
attributes, so a test can make a self-test fail. Words are made a block at a time, when a
transaction comes (sample arithmetic in :mod:`drivers.sim.imu_words`, timing in
:mod:`drivers.sim.imu_grid`, storage in :mod:`drivers.sim.word_fifo`).
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

from drivers.sim.chip import SimChip
from drivers.sim.imu_grid import Grid, Slot, fifo_slots, grids, stream_rates
from drivers.sim.imu_words import (  # noqa: F401  (ACCEL_FS, GYRO_FS: the datasheet tables)
    ACCEL_FS,
    GYRO_FS,
    Scaling,
    accel_bytes,
    accel_scaling,
    fifo_block,
    gauss_z,
    gyro_accel_block,
    gyro_bytes,
    gyro_scaling,
    i16,
    noisy_samples,
)
from drivers.sim.word_fifo import WORD_BYTES, WordFifo

Vec3 = tuple[float, float, float]
MotionFn = Callable[[float], tuple[Vec3, Vec3]]

FIFO_CTRL1, FIFO_CTRL2, FIFO_CTRL3, FIFO_CTRL4 = 0x07, 0x08, 0x09, 0x0A
WHO_AM_I, CTRL1_XL, CTRL2_G, CTRL3_C, CTRL5_C = 0x0F, 0x10, 0x11, 0x12, 0x14
CTRL8_XL, CTRL9_XL, CTRL10_C, STATUS_REG = 0x17, 0x18, 0x19, 0x1E
OUT_TEMP_L, OUTX_L_G, OUTX_L_A = 0x20, 0x22, 0x28
FIFO_STATUS1, FIFO_STATUS2, TIMESTAMP0 = 0x3A, 0x3B, 0x40
FIFO_DATA_OUT_TAG, FIFO_DATA_OUT_Z_H = 0x78, 0x7E

SW_RESET, IF_INC, BOOT = 0x01, 0x04, 0x80
XLDA, GDA, TDA = 0x01, 0x02, 0x04
WTM_IA, OVR_IA, FULL_IA, OVR_LATCHED = 0x80, 0x40, 0x20, 0x08
TAG_GYRO, TAG_ACCEL, TAG_TEMPERATURE, TAG_TIMESTAMP = 1, 2, 3, 4
MODE_BYPASS, MODE_FIFO, MODE_CONTINUOUS = 0, 1, 6

TIMESTAMP_LSB_S = 25e-6
_READ_ONLY = {WHO_AM_I, *range(0x1A, 0x2E), *range(0x35, 0x44), *range(0x49, 0x56)}
_READ_ONLY |= set(range(FIFO_DATA_OUT_TAG, FIFO_DATA_OUT_Z_H + 1))
_EPS = 1e-9
#: Margin below the next ODR grid point within which the model still works it out in full.
_IDLE_MARGIN_S = 1e-7
_GYRO_ACCEL = ["g", "xl"]  # the streams of a slot with both sensors batched at one rate


class SimLSM6DSOX(SimChip):
    """A simulated LSM6DSOX; attach it at 0x6A or 0x6B (``address_hint`` is for reprs)."""

    part = "LSM6DSOX"
    FIFO_DEPTH_WORDS = 512
    SW_RESET_S = 50e-6
    BOOT_S = 0.010

    def __init__(
        self,
        clock,
        address_hint: int = 0x6A,
        *,
        who_am_i: int = 0x6C,
        seed: int = 0,
        accel_noise_g: float = 0.0,
        gyro_noise_dps: float = 0.0,
        accel_bias_g: Vec3 = (0.0, 0.0, 0.0),
        gyro_bias_dps: Vec3 = (0.0, 0.0, 0.0),
        self_test_accel_mg: Vec3 = (420.0, 450.0, 480.0),
        self_test_gyro_dps: Vec3 = (300.0, 320.0, 340.0),
        temperature_c: float = 25.0,
        sw_reset_s: float = SW_RESET_S,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.address_hint = address_hint
        self.who_am_i = who_am_i
        self.accel_noise_g = accel_noise_g
        self.gyro_noise_dps = gyro_noise_dps
        self.accel_bias_g = accel_bias_g
        self.gyro_bias_dps = gyro_bias_dps
        #: Output change with positive self-test on (mg, any FS; dps at 2000 dps, scaled by FS).
        self.self_test_accel_mg = self_test_accel_mg
        self.self_test_gyro_dps = self_test_gyro_dps
        self.temperature_c = temperature_c
        self._temp_c, self._temp_lsb = math.nan, 0  # _temp_raw's memo
        self.sw_reset_s = sw_reset_s
        self._rng = random.Random(seed)
        self._normals: Callable[[int], list[float]] = self._gauss
        self._accel: Vec3 = (0.0, 0.0, 1.0)  # at rest, z up
        self._gyro: Vec3 = (0.0, 0.0, 0.0)
        self._source: MotionFn | None = None
        self._source_many: Callable[[list[float]], list[tuple[Vec3, Vec3]]] | None = None
        self._cache: tuple[float, Vec3, Vec3] | None = None
        self._scaling_key: tuple[object, ...] = ()
        self._scalings: tuple[Scaling, Scaling] = ((1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0))
        self.resets = 0
        self.words_overwritten = 0
        self._power_on()

    def __repr__(self) -> str:
        rates = self._rates()
        return (
            f"SimLSM6DSOX(0x{self.address_hint:02X}, odr xl={rates['out_xl']} "
            f"g={rates['out_g']} Hz, fifo={len(self._fifo)} words)"
        )

    # -- driving and inspecting ----------------------------------------------------------

    def set_motion(self, accel_g: Vec3 | None = None, gyro_dps: Vec3 | None = None) -> None:
        """Hold acceleration (g) and/or angular rate (dps) constant from now on."""
        self.set_motion_source(None)
        if accel_g is not None:
            self._accel = tuple(float(v) for v in accel_g)  # type: ignore[assignment]
        if gyro_dps is not None:
            self._gyro = tuple(float(v) for v in gyro_dps)  # type: ignore[assignment]

    def set_motion_source(self, fn: MotionFn | None) -> None:
        """Sample ``fn(t_s) -> (accel_g, gyro_dps)`` at every ODR tick (None: constant). A
        source with ``fn.many(times) -> [(accel_g, gyro_dps), ...]`` is asked for each run
        of ticks at once instead."""
        self._source = fn
        self._source_many = getattr(fn, "many", None)

    def set_noise_source(self, normals: Callable[[int], list[float]] | None) -> None:
        """Draw the noise's standard normals from ``normals(n) -> n floats`` (None: the
        chip's own stream, ``random.Random(seed).gauss``)."""
        self._normals = normals if normals is not None else self._gauss

    def _gauss(self, n: int) -> list[float]:
        return gauss_z(self._rng, n)

    @property
    def fifo_level(self) -> int:
        """Unread FIFO words now (DIFF_FIFO), without bus traffic."""
        self._catch_up(self.clock.now())
        return len(self._fifo)

    def register(self, address: int) -> int:
        """Peek a stored register without the side effects of a bus read."""
        self._catch_up(self.clock.now())
        self._settle_outputs()
        return self.regs[address & 0x7F]

    def unplug(self) -> None:
        super().unplug()

    def plug(self) -> None:
        """Reconnect: the chip powers up again with reset values and an empty FIFO."""
        self._power_on()
        super().plug()

    def power_cycle(self) -> None:
        """A supply glitch: every register back to its reset value, FIFO empty."""
        self._power_on()

    # -- the bus interface ---------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not data:
            return
        now = self.clock.now()
        self._catch_up(now)
        if len(data) > 1:
            self._idle_until = -math.inf  # a register write may change what falls due when
            self._settle_outputs()  # sampled with the settings in force until now
        self._ptr = data[0] & 0x7F
        for value in data[1:]:
            self._write_reg(self._ptr, value, now)
            self._ptr = self._next(self._ptr)

    def read(self, n: int) -> bytes:
        self._catch_up(self.clock.now())
        ptr = self._ptr
        if self.regs[CTRL3_C] & IF_INC:
            if ptr == FIFO_DATA_OUT_TAG and n % WORD_BYTES == 0:
                return self._read_fifo_words(n // WORD_BYTES)
            if ptr == FIFO_STATUS1 and n == 2:  # a drain's status read, byte by byte below
                level = len(self._fifo) & 0xFF
                self._ptr = FIFO_STATUS2 + 1
                return bytes((level, self._fifo_status2()))
        out = bytearray(n)
        for i in range(n):
            out[i] = self._read_reg(self._ptr)
            self._ptr = self._next(self._ptr)
        return bytes(out)

    def _read_fifo_words(self, words: int) -> bytes:
        """A burst of whole FIFO words from FIFO_DATA_OUT_TAG: byte by byte, each word is
        popped at its Z_H byte (clearing OVR_IA) and an empty FIFO reads zeros; the pointer
        wraps back to the TAG byte after each word."""
        if self._fifo:
            self._ovr_ia = False
        return self._fifo.pop(words)

    # -- registers -----------------------------------------------------------------------

    def _power_on(self) -> None:
        self._reset(self.clock.now())
        self._sw_reset_until = 0.0

    def _reset(self, now: float) -> None:
        self.resets += 1
        self.regs = bytearray(128)
        self.regs[WHO_AM_I] = self.who_am_i
        self.regs[CTRL3_C] = IF_INC
        self.regs[CTRL9_XL] = 0xE0
        self._ptr = 0
        self._fifo = WordFifo(self.FIFO_DEPTH_WORDS)
        self._ovr_ia = self._ovr_latched = False
        self._status = 0
        #: Output register updates that fell due but nobody read yet: stream -> sample time
        #: ("out_xl", "out_g"), and "temp" -> OUT_TEMP at the update. Worked out when read.
        self._outputs_due: dict[str, float] = {}
        self._t_base = now
        self._ts_t0 = now
        self._boot_until = 0.0
        self._slot_t: float | None = None
        self._slot_cnt = 0
        self._k: list[int] = []
        self._rates_key: tuple[int, ...] | None = None
        self._grids: list[Grid] = []
        self._idle_until = -math.inf
        self._rearm(now)

    def _next(self, address: int) -> int:
        if not self.regs[CTRL3_C] & IF_INC:
            return address
        if address == FIFO_DATA_OUT_Z_H:
            return FIFO_DATA_OUT_TAG  # a burst walks word after word
        return (address + 1) & 0x7F

    def _write_reg(self, address: int, value: int, now: float) -> None:
        if address in _READ_ONLY:
            return
        if address == CTRL3_C:
            if value & SW_RESET:
                self._reset(now)
                self.regs[CTRL3_C] = IF_INC | SW_RESET
                self._sw_reset_until = now + self.sw_reset_s
                return
            if value & BOOT:
                self._boot_until = now + self.BOOT_S
            self.regs[CTRL3_C] = value
            return
        old = self.regs[address]
        self.regs[address] = value
        if address == FIFO_CTRL4 and value & 0x07 == MODE_BYPASS:
            self._fifo.clear()
            self._ovr_ia = self._ovr_latched = False
        if address == CTRL10_C and value & 0x20 and not old & 0x20:
            self._ts_t0 = now
        if address in (CTRL1_XL, CTRL2_G, FIFO_CTRL3, FIFO_CTRL4, CTRL10_C):
            self._rearm(now)

    def _read_reg(self, address: int) -> int:
        if address == FIFO_STATUS1:
            return len(self._fifo) & 0xFF
        if address == FIFO_STATUS2:
            return self._fifo_status2()
        if FIFO_DATA_OUT_TAG <= address <= FIFO_DATA_OUT_Z_H:
            value = self._fifo.peek(address - FIFO_DATA_OUT_TAG)
            if address == FIFO_DATA_OUT_Z_H and self._fifo:
                self._fifo.pop(1)
                self._ovr_ia = False
            return value
        if address == STATUS_REG:
            return self._status
        if OUT_TEMP_L <= address < OUTX_L_A + 6 and self._outputs_due:
            self._settle_outputs()
        if OUTX_L_G <= address < OUTX_L_G + 6:
            self._status &= ~GDA
        elif OUTX_L_A <= address < OUTX_L_A + 6:
            self._status &= ~XLDA
        elif address in (OUT_TEMP_L, OUT_TEMP_L + 1):
            self._status &= ~TDA
        elif TIMESTAMP0 <= address < TIMESTAMP0 + 4:
            return struct.pack("<I", self._timestamp(self.clock.now()))[address - TIMESTAMP0]
        return self.regs[address]

    def _fifo_status2(self) -> int:
        level = len(self._fifo)
        wtm = self.regs[FIFO_CTRL1] | (self.regs[FIFO_CTRL2] & 0x01) << 8
        value = (level >> 8) & 0x03
        if wtm and level >= wtm:
            value |= WTM_IA
        if self._ovr_ia:
            value |= OVR_IA
        if level + self._words_per_slot() > self.FIFO_DEPTH_WORDS:
            value |= FULL_IA  # "FIFO will be full at the next ODR"
        if self._ovr_latched:
            value |= OVR_LATCHED
            self._ovr_latched = False  # cleared by this read
        return value

    # -- time: lazily generate what happened since the last transaction ------------------

    def _rates(self) -> dict[str, float]:
        """Rates of the output registers and FIFO streams (:func:`stream_rates`), Hz, and
        the same streams as grids (:func:`grids`)."""
        regs = self.regs
        key = (regs[CTRL1_XL], regs[CTRL2_G], regs[FIFO_CTRL3], regs[FIFO_CTRL4], regs[CTRL10_C])
        if key != self._rates_key:
            self._rates_now = stream_rates(*key)
            self._grids = grids(self._rates_now)
            self._fifo_words_per_slot = sum(len(fifo) for _, _, fifo in self._grids)
            self._rates_key = key
        return self._rates_now

    def _words_per_slot(self) -> int:
        self._rates()
        return self._fifo_words_per_slot

    def _rearm(self, now: float) -> None:
        self._rates()
        t = now - self._t_base
        self._k = [math.floor(t * rate + _EPS) for rate, _, _ in self._grids]

    def _catch_up(self, now: float) -> None:
        """Generate what happened since the last call: self-clearing bits, output register
        updates and FIFO words. Cheap until the next of these falls due."""
        if now < self._idle_until:
            return
        if self._sw_reset_until and now >= self._sw_reset_until:
            self.regs[CTRL3_C] &= ~SW_RESET
            self._sw_reset_until = 0.0
        if self._boot_until and now >= self._boot_until:
            self.regs[CTRL3_C] &= ~BOOT
            self._boot_until = 0.0
        self._rates()
        streams: list[tuple[float, int, int, list[str]]] = []
        limited = self.regs[FIFO_CTRL4] & 0x07 == MODE_FIFO
        t_base, k, depth = self._t_base, self._k, self.FIFO_DEPTH_WORDS
        idle_until = math.inf
        for i, (rate, outs, fifo) in enumerate(self._grids):
            k0 = k[i]
            k1 = k[i] = math.floor((now - t_base) * rate + _EPS)
            # Nothing of this grid falls due before its next point (with a margin far
            # above rounding, so the floor above decides, never this shortcut).
            idle_until = min(idle_until, t_base + (k1 + 1 - _EPS) / rate - _IDLE_MARGIN_S)
            if k1 == k0:
                continue
            if outs:
                self._outputs_due_at(outs, t_base + k1 / rate)
            # Only the words the FIFO can still hold matter after a long gap.
            first, last = (
                (k0 + 1, min(k1, k0 + depth)) if limited else (max(k0 + 1, k1 - depth), k1)
            )
            if fifo and first <= last:
                streams.append((rate, first, last, fifo))
        if streams:
            pairs = len(streams) == 1 and streams[0][3] == _GYRO_ACCEL
            self._push(fifo_slots(streams, t_base), pairs)
        for until in (self._sw_reset_until, self._boot_until):
            if until:
                idle_until = min(idle_until, until)
        self._idle_until = idle_until

    def _outputs_due_at(self, names: list[str], t: float) -> None:
        """A new sample in the output registers of ``names`` at ``t``: the data-ready bits
        are set now, the values worked out when a register of them is read (or before a
        register write changes the settings they are converted with)."""
        due = self._outputs_due
        for name in names:
            self._status |= (XLDA if name == "out_xl" else GDA) | TDA
            due[name] = t
        due["temp"] = self._temp_raw()

    def _settle_outputs(self) -> None:
        due, self._outputs_due = self._outputs_due, {}
        if "out_xl" in due:
            accel, _ = self._sample(due["out_xl"])
            self.regs[OUTX_L_A : OUTX_L_A + 6] = accel_bytes(accel, self._scaling()[0])
        if "out_g" in due:
            _, gyro = self._sample(due["out_g"])
            self.regs[OUTX_L_G : OUTX_L_G + 6] = gyro_bytes(gyro, self._scaling()[1])
        if "temp" in due:
            self.regs[OUT_TEMP_L : OUT_TEMP_L + 2] = struct.pack("<h", int(due["temp"]))

    def _push(self, slots: list[Slot], pairs: bool = False) -> None:
        """Append the FIFO words of ``slots`` (in time order; ``pairs``: each a gyro then
        an accel word); FIFO mode stops collecting when full, continuous mode overwrites
        the oldest words and flags it. TAG_CNT moves on at every slot, stored or not."""
        room = -1  # words that still fit in FIFO mode; -1: continuous, no limit
        if self.regs[FIFO_CTRL4] & 0x07 == MODE_FIFO:
            room = self._fifo.room()
        slot_t, cnt = self._slot_t, self._slot_cnt
        heads: list[int] = []
        for t, _ in slots:
            if slot_t is None or abs(t - slot_t) > _EPS:
                slot_t = t
                cnt = (cnt + 1) & 0x03
            heads.append(cnt << 1)
        self._slot_t, self._slot_cnt = slot_t, cnt
        stored = slots
        if room >= 0:  # only the slots with a word that fits are sampled
            words, n = 0, 0
            while n < len(slots) and words < room:
                words += len(slots[n][1])
                n += 1
            stored = slots[:n]
        if not stored:
            return
        times = [t for t, _ in stored]
        cache = self._cache
        if (
            pairs
            and self.accel_noise_g
            and self.gyro_noise_dps
            and (cache is None or cache[0] != times[0])
        ):  # the usual slots (one grid, both sensors batched): the one-pass path
            block, (a, g) = gyro_accel_block(
                self._motions(times),
                self._normals(6 * len(times)),
                heads,
                (self.accel_bias_g, self.gyro_bias_dps),
                (self.accel_noise_g, self.gyro_noise_dps),
                self._scaling(),
            )
            self._cache = (times[-1], a, g)
        else:
            accel, gyro = self._scaling()
            samples = self._samples(times)
            block = fifo_block(
                stored, heads, samples, accel, gyro, self._temp_raw(), self._timestamp
            )
        if room >= 0:
            self._fifo.push(block[: room * WORD_BYTES])
            return
        overwritten = self._fifo.push(block)
        if overwritten:
            self.words_overwritten += overwritten
            self._ovr_ia = self._ovr_latched = True

    # -- the sensor ----------------------------------------------------------------------

    def _sample(self, t: float) -> tuple[Vec3, Vec3]:
        """The motion at time ``t`` with bias and noise (one draw per time, shared)."""
        return self._samples([t])[0]

    def _samples(self, times: list[float]) -> list[tuple[Vec3, Vec3]]:
        """The motion at each of ``times`` (increasing) with bias and noise. A time already
        sampled (the last one) is not drawn again: output registers and FIFO words of one
        instant show one sample."""
        cache = self._cache
        if cache is not None and cache[0] == times[0]:
            rest = self._samples(times[1:]) if len(times) > 1 else []
            return [(cache[1], cache[2]), *rest]
        out = noisy_samples(
            self._motions(times),
            self.accel_bias_g,
            self.gyro_bias_dps,
            self.accel_noise_g,
            self.gyro_noise_dps,
            self._normals,
        )
        a, g = out[-1]
        self._cache = (times[-1], a, g)
        return out

    def _motions(self, times: list[float]) -> list[tuple[Vec3, Vec3]]:
        """The motion (without bias and noise) at each of ``times``."""
        if self._source_many is not None:
            return self._source_many(times)
        src = self._source
        if src is not None:
            return [src(t) for t in times]
        return [(self._accel, self._gyro)] * len(times)

    def _scaling(self) -> tuple[Scaling, Scaling]:
        """Accelerometer and gyroscope scaling (FS, self-test shift) in force now."""
        regs = self.regs
        st_a, st_g = self.self_test_accel_mg, self.self_test_gyro_dps
        key = (regs[CTRL1_XL], regs[CTRL2_G], regs[CTRL5_C], regs[CTRL8_XL], st_a, st_g)
        if key != self._scaling_key:
            self._scaling_key = key
            self._scalings = (
                accel_scaling(regs[CTRL1_XL], regs[CTRL8_XL], regs[CTRL5_C], st_a),
                gyro_scaling(regs[CTRL2_G], regs[CTRL5_C], st_g),
            )
        return self._scalings

    def _temp_raw(self) -> int:
        """OUT_TEMP at ``temperature_c`` (worked out again only when it changes)."""
        if self.temperature_c != self._temp_c:
            self._temp_c = self.temperature_c
            self._temp_lsb = i16((self.temperature_c - 25.0) * 256)
        return self._temp_lsb

    def _timestamp(self, t: float) -> int:
        if not self.regs[CTRL10_C] & 0x20:
            return 0
        return int((t - self._ts_t0) / TIMESTAMP_LSB_S + _EPS) & 0xFFFFFFFF
