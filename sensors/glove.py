"""The IMU glove: six LSM6DSOX (thumb, index, middle, ring, little, back of hand).

* **Timestamps from the FIFO**: a drain returns the samples queued since the last one, the
  newest at most one ODR period old. :class:`FifoTimeline` continues the sample grid from
  the previous drain (n periods on) and clamps it into the window the drain time allows,
  so samples are spaced exactly 1/ODR with no host jitter, and an oscillator running fast
  or slow is corrected at most one period at a time. Overruns or re-inits restart it, and
  restart the orientation filter from gravity (keeping its heading): it missed the motion.
* **Still-pose calibration**: :meth:`Glove.begin_still` / :meth:`Glove.end_still` around a
  still hold (hand flat, fingers straight) give each IMU's gyro bias, an accelerometer
  magnitude correction (per-axis bias and scale with six or more poses, see
  :func:`sensors.fusion.fit_accel`), restart every orientation filter from gravity, and
  take the pose as zero flexion (absorbing how each IMU sits on its finger).
  The record ``calibrate glove`` saves (the same still pose) is loaded at start
  (:meth:`Glove.load_calibration`): biases and scales, not the zero pose.
* **Orientation** per segment by a Madgwick filter; **finger flexion** is the signed
  rotation of the finger relative to the back of the hand about the finger's flexion axis
  (:data:`FLEX_AXES`, the glove's layout: fingers about the hand's y axis, the thumb about
  a 45° axis). Stated accuracy in the simulated world: ±5° for the long fingers after still
  calibration, hand still or slowly moving (``tests/test_glove.py``).
* **Tremor**: band power 4-12 Hz of the back-of-hand angular rate (Welch).

I/O errors: ``drain`` lets ``OSError`` and ``DeviceReset`` through; the acquisition loop
retries, counts and names the IMU.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from sensors.calibration import CalibrationError, CalibrationRecord, CalibrationStore
from sensors.fusion import Madgwick, fit_accel, joint_angle_deg, q_conj_array, q_mul_array

SEGMENTS = ("thumb", "index", "middle", "ring", "little", "back")
FINGERS = SEGMENTS[:5]
#: How the glove is wired (HARDWARE.md §2): (segment, mux channel, address), two IMUs per
#: channel at the LSM6DSOX's two addresses.
WIRING = (
    ("thumb", 0, 0x6A), ("index", 0, 0x6B), ("middle", 1, 0x6A), ("ring", 1, 0x6B),
    ("little", 2, 0x6A), ("back", 2, 0x6B),
)  # fmt: skip
log = logging.getLogger(__name__)
_S2 = math.sqrt(0.5)
FLEX_AXES: dict[str, tuple[float, float, float]] = {
    "thumb": (_S2, _S2, 0.0),
    "index": (0.0, 1.0, 0.0),
    "middle": (0.0, 1.0, 0.0),
    "ring": (0.0, 1.0, 0.0),
    "little": (0.0, 1.0, 0.0),
}


class ImuBatch(NamedTuple):
    """Calibrated samples of one drain: times (s), accel (g), gyro (dps), orientation."""

    segment: str
    t_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    quat: np.ndarray
    overrun: bool


class FifoTimeline:
    """Sample times for FIFO drains at a nominal ``odr_hz``."""

    def __init__(self, odr_hz: float) -> None:
        self.period_s = 1.0 / odr_hz
        self.last_t: float | None = None
        self.corrections = 0

    def reset(self) -> None:
        self.last_t = None

    def stamp(self, n: int, t_drain: float) -> np.ndarray:
        """Times of ``n`` samples drained at ``t_drain``, oldest first."""
        return np.array(self.stamp_list(n, t_drain), dtype=float)

    def stamp_list(self, n: int, t_drain: float) -> list[float]:
        """:meth:`stamp` as a list of floats."""
        if n <= 0:
            return []
        p = self.period_s
        if self.last_t is None:
            newest = t_drain - 0.5 * p
        else:
            newest = self.last_t + n * p
            lo, hi = t_drain - p, t_drain
            if not lo <= newest <= hi:
                self.corrections += 1
                newest = min(max(newest, lo), hi)
        self.last_t = newest
        return [newest - p * k for k in range(n - 1, -1, -1)]


class _Still:
    def __init__(self) -> None:
        self.accel: list[np.ndarray] = []
        self.gyro: list[np.ndarray] = []


class Glove:
    """The glove's IMUs (drivers keyed by segment name) on ``clock``."""

    def __init__(
        self,
        imus: Mapping[str, Any],
        clock,
        odr_hz: float = 104,
        accel_fs_g: int = 4,
        gyro_fs_dps: int = 500,
        beta: float = 0.05,
    ) -> None:
        unknown = set(imus) - set(SEGMENTS)
        if unknown:
            raise ValueError(f"unknown glove segments {sorted(unknown)}; known: {SEGMENTS}")
        self.imus = dict(imus)
        self.clock = clock
        self.odr_hz = float(odr_hz)
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.beta = beta
        self.gyro_bias_dps = {s: np.zeros(3) for s in self.imus}
        self.accel_bias_g = {s: np.zeros(3) for s in self.imus}
        self.accel_scale = {s: np.ones(3) for s in self.imus}
        self.zero_rel = {s: np.array([1.0, 0.0, 0.0, 0.0]) for s in self.imus}
        self.filters = {s: Madgwick(beta) for s in self.imus}
        self.timelines = {s: FifoTimeline(self.odr_hz) for s in self.imus}
        self.calibrated = False
        #: The still-pose record applied at start (``calibrate glove``), if any.
        self.record: CalibrationRecord | None = None
        self._still: dict[str, _Still] | None = None
        self._poses: dict[str, list[np.ndarray]] = {s: [] for s in self.imus}
        #: Segments whose filter restarts from gravity at their next samples: after a
        #: re-init or an overrun it missed the motion in between (converging from the stale
        #: orientation would take seconds at ~6 deg/s, each a plausible wrong flexion).
        self._reseed: set[str] = set()

    def __repr__(self) -> str:
        return f"Glove({', '.join(self.imus)}, {self.odr_hz:g} Hz, calibrated={self.calibrated})"

    @property
    def segments(self) -> list[str]:
        return list(self.imus)

    def init(self) -> None:
        for segment in self.imus:
            self.reinit(segment)

    def reinit(self, segment: str) -> None:
        """(Re)configure one IMU, e.g. after the glove was plugged back in."""
        self.imus[segment].init(
            odr_hz=self.odr_hz, accel_fs_g=self.accel_fs_g, gyro_fs_dps=self.gyro_fs_dps
        )
        self.timelines[segment].reset()
        self._reseed.add(segment)

    def close(self) -> None:
        for imu in self.imus.values():
            try:
                imu.close()
            except OSError:
                pass  # an unplugged glove cannot be powered down; it is off anyway

    # -- data ------------------------------------------------------------------------------

    def drain(self, segment: str) -> ImuBatch:
        """Read one IMU's FIFO and calibrate, timestamp and fuse its samples."""
        t_drain = self.clock.now()
        batch = self.imus[segment].read_fifo()
        return self.process(segment, t_drain, batch.accel_g, batch.gyro_dps, batch.overrun)

    def process(
        self, segment: str, t_drain: float, accel_g: Any, gyro_dps: Any, overrun: bool = False
    ) -> ImuBatch:
        """Calibrate, timestamp and fuse raw samples drained from ``segment`` at ``t_drain``:
        ``(x, y, z)`` rows (a driver's lists, or ``(n, 3)`` arrays)."""
        if overrun:
            self.timelines[segment].reset()
            self._reseed.add(segment)
        rows_a, rows_g = _rows(accel_g), _rows(gyro_dps)
        n = len(rows_a)
        if len(rows_g) != n:
            raise ValueError(f"IMU {segment}: {n} accel samples but {len(rows_g)} gyro samples")
        if not n:
            empty = np.empty((0, 3))
            return ImuBatch(segment, np.empty(0), empty, empty.copy(), np.empty((0, 4)), overrun)
        t = self.timelines[segment].stamp_list(n, t_drain)
        still = self._still  # one reference: end_still() may run on another thread
        if still is not None:
            still[segment].accel.append(np.array(rows_a, dtype=float))
            still[segment].gyro.append(np.array(rows_g, dtype=float))
        # Calibrated in plain floats: a drain is a few samples, where numpy's per-call cost
        # would outweigh its per-sample speed; the arithmetic is numpy's, value by value.
        bx, by, bz = self.accel_bias_g[segment].tolist()
        sx, sy, sz = self.accel_scale[segment].tolist()
        gbx, gby, gbz = self.gyro_bias_dps[segment].tolist()
        accel: list[float] = []
        gyro: list[float] = []
        for (ax, ay, az), (gx, gy, gz) in zip(rows_a, rows_g, strict=True):
            accel += ((ax - bx) * sx, (ay - by) * sy, (az - bz) * sz)
            gyro += (gx - gbx, gy - gby, gz - gbz)
        fusion = self.filters[segment]
        if segment in self._reseed:
            self._reseed.discard(segment)
            fusion.reset_from_accel(np.mean(np.reshape(accel, (n, 3)), axis=0), keep_heading=True)
        quat = fusion.update_flat(gyro, accel, 1.0 / self.odr_hz)
        # One array for the whole drain; the batch's arrays are contiguous views of it.
        out = np.array(accel + gyro + quat + t, dtype=float)
        a3, g6, q10 = 3 * n, 6 * n, 10 * n
        return ImuBatch(
            segment,
            out[q10:],
            out[:a3].reshape(n, 3),
            out[a3:g6].reshape(n, 3),
            out[g6:q10].reshape(n, 4),
            overrun,
        )

    # -- calibration -----------------------------------------------------------------------

    def begin_still(self) -> None:
        """Start collecting a still pose (hand flat on the table, fingers straight)."""
        self._still = {s: _Still() for s in self.imus}

    def cancel_still(self) -> None:
        """Drop a still pose begun and not finished (the hold was interrupted): nothing is
        calibrated from it, and the drains stop collecting for it."""
        self._still = None

    def end_still(self, reference: bool = True) -> dict[str, dict[str, list[float]]]:
        """Finish a still pose: gyro biases, accelerometer fit, and (``reference``) the
        zero-flexion pose. Raises ``ValueError`` if an IMU gave too few samples or moved."""
        still, self._still = self._still, None
        if still is None:
            raise ValueError("end_still() without begin_still()")
        result: dict[str, dict[str, list[float]]] = {}
        for segment, cap in still.items():
            n = sum(len(a) for a in cap.accel)
            if n < 0.5 * self.odr_hz:
                raise ValueError(f"IMU {segment}: only {n} samples in the still pose")
            accel, gyro = np.vstack(cap.accel), np.vstack(cap.gyro)
            if float(np.max(np.std(gyro, axis=0))) > 2.0:
                raise ValueError(f"IMU {segment} moved during the still pose: hold still")
            self.gyro_bias_dps[segment] = np.mean(gyro, axis=0)
            self._poses[segment].append(np.mean(accel, axis=0))
            bias, scale = fit_accel(np.array(self._poses[segment]))
            self.accel_bias_g[segment], self.accel_scale[segment] = bias, scale
            mean_a = (np.mean(accel, axis=0) - bias) * scale
            if reference:
                self.filters[segment].reset_from_accel(mean_a)
            result[segment] = {
                "gyro_bias_dps": self.gyro_bias_dps[segment].round(4).tolist(),
                "accel_bias_g": bias.round(5).tolist(),
                "accel_scale": scale.round(5).tolist(),
            }
        if reference and "back" in self.filters:
            q_back = np.array(self.filters["back"].q)
            for finger in self.imus:
                if finger != "back":
                    q_f = np.array(self.filters[finger].q)
                    self.zero_rel[finger] = q_mul_array(q_conj_array(q_back), q_f)
            self.calibrated = True
        return result

    def set_calibration(self, record: CalibrationRecord) -> None:
        """Apply a still-pose record: per IMU ``<segment>.gyro_bias_dps``, ``.accel_bias_g``
        and ``.accel_scale`` (three numbers each, scales > 0). Raises
        :class:`CalibrationError` naming the first key missing or wrong; nothing is applied
        then. The zero pose is not in it: a session's still pose sets that."""
        fields = {"gyro_bias_dps": self.gyro_bias_dps, "accel_bias_g": self.accel_bias_g}
        fields["accel_scale"] = self.accel_scale
        values: list[tuple[dict[str, np.ndarray], str, np.ndarray]] = []
        for segment in self.imus:
            for name, target in fields.items():
                key = f"{segment}.{name}"
                v = np.asarray(record.coefficients.get(key, ()), dtype=float).reshape(-1)
                if v.shape != (3,) or not np.all(np.isfinite(v)):
                    raise CalibrationError(f"glove record v{record.version}: {key} needs 3 numbers")
                if name == "accel_scale" and not np.all(v > 0):
                    raise CalibrationError(f"glove record v{record.version}: {key} must be > 0")
                values.append((target, segment, v))
        for target, segment, v in values:
            target[segment] = v
        self.record = record

    def load_calibration(self, store: CalibrationStore) -> CalibrationRecord | None:
        """Apply the latest glove record in ``store``; None when there is none or it is
        unusable (logged: the glove then works uncalibrated until a still pose)."""
        record = store.latest("glove", "glove")
        if record is None:
            return None
        try:
            self.set_calibration(record)
        except CalibrationError as exc:
            log.warning("glove calibration not applied: %s", exc)
            return None
        return record

    def flexion_deg(self, finger: str, q_back: np.ndarray, q_finger: np.ndarray) -> np.ndarray:
        """Flexion of ``finger`` from back-of-hand and finger quaternions (``(n, 4)``)."""
        if finger not in FINGERS:
            raise ValueError(f"finger must be one of {FINGERS}, got {finger!r}")
        # The relative rotation in the reference pose is the IMUs' mounting difference:
        # J = rel ⊗ rel0⁻¹, with the back-of-hand IMU defining the hand frame.
        return joint_angle_deg(
            q_back, q_mul_array(q_finger, q_conj_array(self.zero_rel[finger])), FLEX_AXES[finger]
        )


def _rows(samples: Any) -> Any:
    """``(x, y, z)`` rows of floats: a driver's list as it is, an array as a list."""
    if isinstance(samples, list):
        return samples
    return np.asarray(samples, dtype=float).reshape(-1, 3).tolist()
