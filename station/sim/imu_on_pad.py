"""A glove IMU lying on a pad: what its accelerometer feels, for the simulated LSM6DSOX.

A technician calibrating the motors straps one of the glove's IMUs flat on the pad under
test; it then feels gravity and the pad's vibration, not the hand. :class:`ImuOnPad` is
that IMU's motion source (``SimLSM6DSOX.set_motion_source``): gravity in the IMU's frame
(it lies at ``roll_deg``/``pitch_deg``; 0, 0 is flat, face up) plus the motor's vibration
as the world models it at the pad (:meth:`SiteMotor.vibration_at`: amplitude g rms and
frequency), a sinusoid along the world vertical of peak ``sqrt(2)`` x rms times
``coupling`` (1: strapped on the pad, it moves with the pad's surface). No rotation: the
gyroscope reads zero (the chip adds its bias and noise). The chip samples this at its ODR
and adds its full scale, quantisation, noise and FIFO.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from station.sim.hand import q_from_rpy, to_body
from station.sim.motors import SiteMotor

Vec3 = tuple[float, float, float]
_ZERO: Vec3 = (0.0, 0.0, 0.0)
TWO_PI = 2.0 * math.pi


class ImuOnPad:
    """The motion of an IMU lying on ``motor``'s pad: ``source(t)`` and ``source.many``."""

    def __init__(
        self,
        motor: SiteMotor,
        roll_deg: float = 0.0,
        pitch_deg: float = 0.0,
        coupling: float = 1.0,
    ) -> None:
        if not 0.0 <= coupling <= 1.0:
            raise ValueError(f"coupling must be in 0..1, got {coupling}")
        self.motor = motor
        self.coupling = coupling
        q = q_from_rpy(roll_deg, pitch_deg, 0.0)
        #: The world vertical (unit, up) in the IMU's frame: gravity's specific force.
        self.up: Vec3 = to_body(q, (0.0, 0.0, 1.0))

    def __repr__(self) -> str:
        return f"ImuOnPad(motor {self.motor.index}, coupling {self.coupling:g})"

    def __call__(self, t_s: float) -> tuple[Vec3, Vec3]:
        amp_g, freq_hz = self.motor.vibration_at(t_s)
        up = 1.0
        if amp_g > 0.0:
            up += amp_g * math.sqrt(2.0) * self.coupling * math.sin(TWO_PI * freq_hz * t_s)
        ux, uy, uz = self.up
        return (ux * up, uy * up, uz * up), _ZERO

    def many(self, times_s: Sequence[float]) -> list[tuple[Vec3, Vec3]]:
        return [self(t) for t in times_s]
