"""The hand: a pose over time -> accelerometer and gyroscope readings at six glove IMUs.

Frames: the world is z up (gravity −z); the back-of-hand frame has x along the fingers, y
across the hand (the fingers' flexion axis) and z out of the back of the hand, so a hand
lying palm down reads +1 g on z. Each finger segment's IMU frame
is the hand frame rotated by the finger's flexion about the finger's flexion axis
(:data:`FLEX_AXES`): positive flexion turns the fingertip towards the palm. Sensor frames
coincide with segment frames (mounting is part of the glove's calibration, not modelled).

What the IMUs feel (modelling choices):

* accelerometer: specific force = −gravity in the sensor frame (1 g) plus, for a finger
  resting on a vibrating pad, the pad's vibration along the world vertical times a
  coupling factor (finger tissue damps it); hand translation and the centripetal and
  tangential accelerations of rotations are not modelled;
* gyroscope: the segment's angular velocity in its own frame, by differentiating the
  orientation numerically (so any scripted motion gives consistent gyro and accel);
* tremor: a sinusoidal rotation of the whole hand about its flexion (y) axis, ``amp_deg``
  peak at ``freq_hz``, as seen on every segment;
* noise and bias are the simulated chip's (``SimLSM6DSOX`` parameters), set by the world.

Flexion set with :meth:`Hand.set_flexion` moves there along a minimum-jerk path over
``duration_s`` (a step would give an infinite angular rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
AngleFn = Callable[[float], float]

SEGMENTS = ("thumb", "index", "middle", "ring", "little", "back")
FINGERS = SEGMENTS[:5]
_S2 = math.sqrt(0.5)
#: Flexion axis of each finger in the back-of-hand frame (the glove's mechanical layout).
FLEX_AXES: dict[str, Vec3] = {
    "thumb": (_S2, _S2, 0.0),
    "index": (0.0, 1.0, 0.0),
    "middle": (0.0, 1.0, 0.0),
    "ring": (0.0, 1.0, 0.0),
    "little": (0.0, 1.0, 0.0),
}
_DIFF_S = 1e-4  # step of the numerical derivative for the gyro


def q_mul(a: Quat, b: Quat) -> Quat:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def q_conj(q: Quat) -> Quat:
    return (q[0], -q[1], -q[2], -q[3])


def q_axis_angle(axis: Vec3, angle_rad: float) -> Quat:
    s = math.sin(angle_rad / 2)
    return (math.cos(angle_rad / 2), axis[0] * s, axis[1] * s, axis[2] * s)


def q_from_rpy(roll_deg: float, pitch_deg: float, yaw_deg: float) -> Quat:
    """Body-to-world rotation from Z-Y-X (yaw, pitch, roll) angles in degrees."""
    qz = q_axis_angle((0.0, 0.0, 1.0), math.radians(yaw_deg))
    qy = q_axis_angle((0.0, 1.0, 0.0), math.radians(pitch_deg))
    qx = q_axis_angle((1.0, 0.0, 0.0), math.radians(roll_deg))
    return q_mul(q_mul(qz, qy), qx)


def to_body(q: Quat, v: Vec3) -> Vec3:
    """World vector ``v`` in the frame whose body-to-world rotation is ``q``."""
    _w, x, y, z = q_mul(q_mul(q_conj(q), (0.0, v[0], v[1], v[2])), q)
    return (x, y, z)


class _MinJerk:
    """A minimum-jerk move from ``a0`` at ``t0`` to ``a1`` over ``duration_s``; it holds
    ``a1`` from :attr:`settled_from` on."""

    def __init__(self, t0: float, a0: float, a1: float, duration_s: float) -> None:
        self.t0, self.a0, self.a1, self.duration_s = t0, a0, a1, duration_s
        self.settled_from = t0 + duration_s if duration_s > 0 else -math.inf

    def __call__(self, t: float) -> float:
        if self.duration_s <= 0 or t >= self.t0 + self.duration_s:
            return self.a1
        if t <= self.t0:
            return self.a0
        a0 = self.a0
        s = (t - self.t0) / self.duration_s
        return a0 + (self.a1 - a0) * s * s * s * (10 - 15 * s + 6 * s * s)


def _min_jerk(t0: float, a0: float, a1: float, duration_s: float) -> AngleFn:
    return _MinJerk(t0, a0, a1, duration_s)


class _Constant:
    """A value held for all time (settled from the start)."""

    settled_from = -math.inf

    def __init__(self, value: object) -> None:
        self.value = value

    def __call__(self, _t: float) -> object:
        return self.value


def _constant(value: float) -> AngleFn:
    return _Constant(value)  # type: ignore[return-value]


def _settled_from(fn: object) -> float:
    """From when ``fn`` (a pose function) is constant; +inf when it does not say."""
    return getattr(fn, "settled_from", math.inf)


class Hand:
    """The patient's hand on the simulated clock ``clock``."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self._orientation: Callable[[float], Quat] = _Constant((1.0, 0.0, 0.0, 0.0))  # type: ignore[assignment]
        self._flexion: dict[str, AngleFn] = {f: _constant(0.0) for f in FINGERS}
        self.tremor_hz = 0.0
        self.tremor_deg = 0.0
        #: finger -> function giving the vibration (g, Hz) under it, or absent.
        self._vibration: dict[str, Callable[[float], tuple[float, float]]] = {}
        #: Fraction of the pad's vibration that reaches a resting finger's IMU.
        self.vibration_coupling = 0.5
        #: segment -> (orientation fn, flexion fn, settled from, motion): a still pose's
        #: motion, the same at every time once its pose functions have settled.
        self._still: dict[str, tuple[object, object, float, tuple[Vec3, Vec3]]] = {}

    # -- scripting -------------------------------------------------------------------------

    def set_orientation(self, roll_deg: float, pitch_deg: float, yaw_deg: float) -> None:
        """Hold the back of the hand at these angles (0, 0, 0: palm down, level)."""
        self._orientation = _Constant(q_from_rpy(roll_deg, pitch_deg, yaw_deg))  # type: ignore[assignment]

    def set_orientation_profile(self, fn: Callable[[float], Vec3]) -> None:
        """Back-of-hand ``fn(t) -> (roll, pitch, yaw)`` degrees over time."""
        self._orientation = lambda t: q_from_rpy(*fn(t))

    def set_flexion(self, finger: str, angle_deg: float, duration_s: float = 0.4) -> None:
        """Move ``finger`` to ``angle_deg`` (−30..120) along a minimum-jerk path from now."""
        _check_finger(finger)
        if not -30.0 <= angle_deg <= 120.0:
            raise ValueError(f"angle_deg must be in -30..120, got {angle_deg}")
        now = self.clock.now()
        self._flexion[finger] = _min_jerk(now, self.flexion_at(finger, now), angle_deg, duration_s)

    def set_flexion_profile(self, finger: str, fn: AngleFn) -> None:
        _check_finger(finger)
        self._flexion[finger] = fn

    def set_tremor(self, freq_hz: float, amp_deg: float) -> None:
        """Tremor of the whole hand about its flexion axis (0 amplitude: none)."""
        if freq_hz < 0 or amp_deg < 0:
            raise ValueError("tremor frequency and amplitude must be >= 0")
        self.tremor_hz, self.tremor_deg = float(freq_hz), float(amp_deg)

    def rest_on(
        self, finger: str, vibration: Callable[[float], tuple[float, float]] | None
    ) -> None:
        """Rest ``finger`` on a pad whose vibration is ``vibration(t)`` (None: lift it)."""
        _check_finger(finger)
        if vibration is None:
            self._vibration.pop(finger, None)
        else:
            self._vibration[finger] = vibration

    # -- the truth -------------------------------------------------------------------------

    def flexion_at(self, finger: str, t_s: float) -> float:
        return float(self._flexion[finger](t_s))

    def orientation(self, segment: str, t_s: float) -> Quat:
        """Body-to-world rotation of ``segment`` at ``t_s``."""
        q = self._orientation(t_s)
        if self.tremor_deg and self.tremor_hz:
            a = math.radians(self.tremor_deg) * math.sin(2 * math.pi * self.tremor_hz * t_s)
            q = q_mul(q, q_axis_angle((0.0, 1.0, 0.0), a))
        if segment == "back":
            return q
        flex = math.radians(self.flexion_at(segment, t_s))
        return q_mul(q, q_axis_angle(FLEX_AXES[segment], flex))

    def motion(self, segment: str, t_s: float) -> tuple[Vec3, Vec3]:
        """``((ax, ay, az) g, (gx, gy, gz) dps)`` at ``segment``'s IMU at ``t_s``."""
        if (self.tremor_deg and self.tremor_hz) or segment in self._vibration:
            return self._motion(segment, t_s)
        # A still pose (settled pose functions, no tremor, no vibration) gives the same
        # motion at every time: work it out once.
        orientation, flexion = self._orientation, self._flexion.get(segment)
        still = self._still.get(segment)
        if (
            still is not None
            and still[0] is orientation
            and still[1] is flexion
            and t_s >= still[2]
        ):
            return still[3]
        settled = max(_settled_from(orientation), _settled_from(flexion) if flexion else -math.inf)
        motion = self._motion(segment, t_s)
        if t_s >= settled:
            self._still[segment] = (orientation, flexion, settled, motion)
        return motion

    def motions(self, segment: str, times_s: Sequence[float]) -> list[tuple[Vec3, Vec3]]:
        """:meth:`motion` at each of ``times_s`` (increasing): a still pose is looked up
        once for the whole run of times."""
        out: list[tuple[Vec3, Vec3]] = []
        for i, t_s in enumerate(times_s):
            still = self._still.get(segment)
            if (
                still is not None
                and not (self.tremor_deg and self.tremor_hz)
                and segment not in self._vibration
                and still[0] is self._orientation
                and still[1] is self._flexion.get(segment)
                and t_s >= still[2]
            ):
                out += [still[3]] * (len(times_s) - i)  # later times are later still
                break
            out.append(self.motion(segment, t_s))
        return out

    def _motion(self, segment: str, t_s: float) -> tuple[Vec3, Vec3]:
        q0 = self.orientation(segment, t_s)
        q1 = self.orientation(segment, t_s + _DIFF_S)
        dq = q_mul(q_conj(q0), q1)
        sign = 1.0 if dq[0] >= 0 else -1.0
        k = sign * 2.0 / _DIFF_S * 180.0 / math.pi
        gyro = (dq[1] * k, dq[2] * k, dq[3] * k)
        up = 1.0
        vib = self._vibration.get(segment)
        if vib is not None:
            amp_g, freq_hz = vib(t_s)
            if amp_g > 0:
                peak = amp_g * math.sqrt(2) * self.vibration_coupling
                up += peak * math.sin(2 * math.pi * freq_hz * t_s)
        accel = to_body(q0, (0.0, 0.0, up))
        return accel, gyro

    def motion_source(self, segment: str) -> MotionSource:
        """``fn(t) -> (accel_g, gyro_dps)`` for ``SimLSM6DSOX.set_motion_source``, with
        ``fn.many(times)`` for a run of times."""
        if segment not in SEGMENTS:
            raise ValueError(f"segment must be one of {SEGMENTS}, got {segment!r}")
        return MotionSource(self, segment)


class MotionSource:
    """One segment's IMU motion: ``source(t)`` and ``source.many(times)``."""

    def __init__(self, hand: Hand, segment: str) -> None:
        self.hand = hand
        self.segment = segment

    def __repr__(self) -> str:
        return f"MotionSource({self.segment})"

    def __call__(self, t_s: float) -> tuple[Vec3, Vec3]:
        return self.hand.motion(self.segment, t_s)

    def many(self, times_s: Sequence[float]) -> list[tuple[Vec3, Vec3]]:
        return self.hand.motions(self.segment, times_s)


def _check_finger(finger: str) -> None:
    if finger not in FINGERS:
        raise ValueError(f"finger must be one of {FINGERS}, got {finger!r}")
