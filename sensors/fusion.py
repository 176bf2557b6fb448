"""Orientation from accelerometer + gyroscope (Madgwick IMU filter), relative joint angles,
tremor band power (Welch), and the still-pose accelerometer fit. numpy and stdlib only.

Conventions: quaternions ``(w, x, y, z)`` rotate the sensor (body) frame into the world
frame, world z up; a still sensor lying flat reads +1 g on z.

Madgwick, S. O. H. (2010), "An efficient orientation filter for inertial and
inertial/magnetic sensor arrays": gradient-descent correction of the integrated gyro towards
the measured gravity direction, gain ``beta`` (rad/s). Without a magnetometer, heading (yaw)
is integrated only: relative angles between segments stay valid while their gyros agree,
which is why the glove removes gyro biases from a still pose first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

Quat = tuple[float, float, float, float]
DEG = math.pi / 180.0


class Madgwick:
    """One segment's orientation filter; ``q`` is the current body-to-world quaternion."""

    def __init__(self, beta: float = 0.08) -> None:
        self.beta = beta
        self.q: Quat = (1.0, 0.0, 0.0, 0.0)
        self.initialised = False

    def reset_from_accel(self, accel_g: Sequence[float], keep_heading: bool = False) -> None:
        """Start from the tilt the accelerometer shows: heading 0, or (``keep_heading``) the
        filter's present heading, which gravity cannot tell."""
        ax, ay, az = (float(v) for v in accel_g)
        roll = math.atan2(ay, az)
        pitch = math.atan2(-ax, math.hypot(ay, az))
        cr, sr = math.cos(roll / 2), math.sin(roll / 2)
        cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
        q: Quat = (cr * cp, sr * cp, cr * sp, -sr * sp)
        if keep_heading:
            w, x, y, z = self.q
            yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
            heading = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
            qw, qx, qy, qz = (float(v) for v in q_mul_array(heading, np.array(q)))
            q = (qw, qx, qy, qz)
        self.q = q
        self.initialised = True

    def update(self, gyro_dps: Sequence[float], accel_g: Sequence[float], dt_s: float) -> Quat:
        """One step (Madgwick's ``MadgwickAHRSupdateIMU``); returns the new quaternion."""
        self.update_flat([float(v) for v in gyro_dps], [float(v) for v in accel_g], dt_s)
        return self.q

    def update_many(self, gyro_dps: np.ndarray, accel_g: np.ndarray, dt_s: float) -> np.ndarray:
        """Run over ``(n, 3)`` arrays; returns the ``(n, 4)`` quaternions after each step."""
        gyro = np.asarray(gyro_dps, dtype=float).ravel().tolist()
        accel = np.asarray(accel_g, dtype=float).ravel().tolist()
        return np.array(self.update_flat(gyro, accel, dt_s)).reshape(-1, 4)

    def update_flat(self, gyro_dps: list[float], accel_g: list[float], dt_s: float) -> list[float]:
        """Run over samples given flat (gx, gy, gz, gx, ...; ax, ay, az, ax, ...); returns
        the quaternions after each step, flat (w, x, y, z, w, ...). Madgwick's
        ``MadgwickAHRSupdateIMU``, step after step, in one loop of plain floats."""
        if len(gyro_dps) != len(accel_g) or len(gyro_dps) % 3:
            raise ValueError(
                f"need as many gyro as accel values, 3 a sample: {len(gyro_dps)}, {len(accel_g)}"
            )
        if not accel_g:
            return []
        if not self.initialised:
            self.reset_from_accel(accel_g[:3])
        q0, q1, q2, q3 = self.q
        beta, sqrt = self.beta, math.sqrt
        out: list[float] = []
        g, a = iter(gyro_dps), iter(accel_g)
        for gx, gy, gz, ax, ay, az in zip(g, g, g, a, a, a, strict=True):
            gx, gy, gz = gx * DEG, gy * DEG, gz * DEG
            d0 = 0.5 * (-q1 * gx - q2 * gy - q3 * gz)
            d1 = 0.5 * (q0 * gx + q2 * gz - q3 * gy)
            d2 = 0.5 * (q0 * gy - q1 * gz + q3 * gx)
            d3 = 0.5 * (q0 * gz + q1 * gy - q2 * gx)
            norm = sqrt(ax * ax + ay * ay + az * az)
            if norm > 0.0:
                ax, ay, az = ax / norm, ay / norm, az / norm
                # Gradient of the error between measured and predicted gravity (eq. 25).
                f1 = 2 * (q1 * q3 - q0 * q2) - ax
                f2 = 2 * (q0 * q1 + q2 * q3) - ay
                f3 = 2 * (0.5 - q1 * q1 - q2 * q2) - az
                s0 = -2 * q2 * f1 + 2 * q1 * f2
                s1 = 2 * q3 * f1 + 2 * q0 * f2 - 4 * q1 * f3
                s2 = -2 * q0 * f1 + 2 * q3 * f2 - 4 * q2 * f3
                s3 = 2 * q1 * f1 + 2 * q2 * f2
                sn = sqrt(s0 * s0 + s1 * s1 + s2 * s2 + s3 * s3)
                if sn > 0.0:
                    b = beta / sn
                    d0, d1, d2, d3 = d0 - b * s0, d1 - b * s1, d2 - b * s2, d3 - b * s3
            q0, q1, q2, q3 = q0 + d0 * dt_s, q1 + d1 * dt_s, q2 + d2 * dt_s, q3 + d3 * dt_s
            n = sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
            q0, q1, q2, q3 = q0 / n, q1 / n, q2 / n, q3 / n
            out += (q0, q1, q2, q3)
        self.q = (q0, q1, q2, q3)
        return out


def q_mul_array(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamilton product of ``(n, 4)`` (or broadcastable) quaternion arrays."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=float), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=float), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def q_conj_array(q: np.ndarray) -> np.ndarray:
    return np.asarray(q, dtype=float) * np.array([1.0, -1.0, -1.0, -1.0])


def joint_angle_deg(q_parent: np.ndarray, q_child: np.ndarray, axis: Sequence[float]) -> np.ndarray:
    """Signed rotation (degrees) of child relative to parent, sign from ``axis``.

    The magnitude is the whole relative rotation angle; its sign is that of the rotation
    vector's projection on ``axis`` (the joint's flexion axis in the parent frame).
    """
    rel = q_mul_array(q_conj_array(q_parent), q_child)
    rel = rel * np.where(rel[..., :1] < 0, -1.0, 1.0)  # shortest rotation
    vec = rel[..., 1:]
    angle = 2.0 * np.arctan2(np.linalg.norm(vec, axis=-1), rel[..., 0])
    sign = np.where(vec @ np.asarray(axis, dtype=float) < 0, -1.0, 1.0)
    return np.degrees(angle) * sign


class TremorEstimate(NamedTuple):
    """Tremor in the 4-12 Hz band of an angular-rate signal (dps)."""

    peak_hz: float
    band_power_dps2: float
    band_rms_dps: float
    total_rms_dps: float
    samples: int


def welch_psd(x: np.ndarray, fs_hz: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectral density (units²/Hz), Hann window, 50 % overlap, detrended."""
    x = np.asarray(x, dtype=float)
    nperseg = min(nperseg, len(x))
    if nperseg < 8:
        raise ValueError(f"need at least 8 samples for a spectrum, got {len(x)}")
    window = np.hanning(nperseg)
    scale = 1.0 / (fs_hz * np.sum(window**2))
    step = nperseg // 2
    starts = range(0, len(x) - nperseg + 1, step)
    psd = np.zeros(nperseg // 2 + 1)
    for s in starts:
        seg = x[s : s + nperseg]
        seg = seg - np.mean(seg)
        psd += np.abs(np.fft.rfft(seg * window)) ** 2
    psd *= scale / len(starts)
    psd[1:-1] *= 2.0  # one-sided (the Nyquist bin of an even length is not doubled)
    if nperseg % 2:
        psd[-1] *= 2.0
    return np.fft.rfftfreq(nperseg, 1.0 / fs_hz), psd


def tremor_band(
    gyro_dps: np.ndarray, fs_hz: float, band_hz: tuple[float, float] = (4.0, 12.0)
) -> TremorEstimate:
    """Tremor from ``(n, 3)`` angular rates: PSDs of the three axes summed, Welch with
    2-second segments (0.5 Hz bins), peak frequency and rms within ``band_hz``."""
    g = np.asarray(gyro_dps, dtype=float)
    nperseg = int(2 * fs_hz)
    freqs, psd = welch_psd(g[:, 0], fs_hz, nperseg)
    for axis in (1, 2):
        psd = psd + welch_psd(g[:, axis], fs_hz, nperseg)[1]
    df = freqs[1] - freqs[0]
    inband = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    power = float(np.sum(psd[inband]) * df)
    peak = float(freqs[inband][np.argmax(psd[inband])]) if np.any(inband) else math.nan
    # Refine the peak by a parabola through the neighbouring bins.
    k = int(np.argmax(np.where(inband, psd, -1.0)))
    if 0 < k < len(psd) - 1 and psd[k] > 0:
        a, b, c = psd[k - 1], psd[k], psd[k + 1]
        denom = a - 2 * b + c
        if denom < 0:
            peak = float(freqs[k] + 0.5 * (a - c) / denom * df)
    total = float(np.sum(psd) * df)
    return TremorEstimate(peak, power, math.sqrt(power), math.sqrt(total), len(g))


def fit_accel(means_g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accelerometer ``(bias_g, scale)`` per axis so that |scale·(a − bias)| = 1 g.

    ``means_g`` are mean readings of still poses, ``(k, 3)``. With six or more distinct
    poses (ideally each axis up and down) bias and scale are fitted per axis (Gauss-Newton);
    with fewer, only a common scale is (bias 0), which corrects the magnitude but not tilt.
    """
    m = np.asarray(means_g, dtype=float)
    if m.ndim != 2 or m.shape[1] != 3 or len(m) < 1:
        raise ValueError("means_g must be a (k, 3) array of still-pose readings")
    if len(m) < 6:
        s = 1.0 / float(np.mean(np.linalg.norm(m, axis=1)))
        return np.zeros(3), np.full(3, s)
    bias, scale = np.zeros(3), np.ones(3)
    for _ in range(20):
        v = (m - bias) * scale
        r = np.linalg.norm(v, axis=1)
        res = r - 1.0
        # d|v|/d bias_j = -scale_j v_j / r ; d|v|/d scale_j = (m_j - bias_j) v_j / r
        jac = np.hstack([-scale * v / r[:, None], (m - bias) * v / r[:, None]])
        step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        bias, scale = bias + step[:3], scale + step[3:]
        if np.max(np.abs(step)) < 1e-9:
            break
    return bias, scale
