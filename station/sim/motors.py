"""Vibration motors: DRV2605L drive -> vibration at the pad (amplitude g rms, frequency Hz).

``reference/CLINICAL.md`` §4.1 "Actuators" and ``reference/HARDWARE.md`` §7.3:

* **ERM** (eccentric rotating mass): the drive sets the rotation rate, so frequency and
  amplitude are coupled. Below a start-up drive (friction) it does not turn; above it the
  rotation frequency rises linearly with drive, f = f_max·x with x = (d − d0)/(1 − d0), and
  the centripetal force of the mass, hence the amplitude, rises with f²: a = a_max·x².
* **LRA** (linear resonant actuator): a mass on a spring, resonance ~175 Hz. The DRV2605L's
  closed loop drives it at resonance, where the amplitude is proportional to the drive; an
  LRA driven at another frequency (``drive_frequency_hz``: open loop or a PWM fallback)
  falls off as a second-order resonance of quality factor Q.
* Both follow drive changes with a first-order lag (spin-up / ring-up time constant).
* Part-to-part spread: a_max ±15 %, LRA resonance ±5 Hz (seeded); vendor "normalised
  amplitudes" of 10 mm coin motors are 0.3–2.5 G, so a_max defaults to 2.0 g (ERM) and
  1.6 g (LRA) at the pad.

The drive comes from the simulated chip (``SimDRV2605L.drive_at``) or any ``fn(t) -> 0..1``
(the PWM fallback's duty cycle). :class:`SiteAccelerometer` is the technician's reference
accelerometer on the pad, used to calibrate a motor.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

DriveFn = Callable[[float], float]
_LAG_STEPS = 12
_LAG_SPAN = 5.0  # time constants integrated; the rest of the exponential weighs e^-5


@dataclass(frozen=True)
class MotorParams:
    actuator: str = "erm"
    max_amplitude_g: float = 2.0
    start_drive: float = 0.12  # ERM: no rotation below this drive
    max_frequency_hz: float = 220.0  # ERM: rotation frequency at full drive
    resonance_hz: float = 175.0  # LRA
    quality: float = 6.0  # LRA
    tau_s: float = 0.04  # ERM spin-up; LRA ring-up is shorter

    @classmethod
    def default(cls, actuator: str) -> MotorParams:
        if actuator == "erm":
            return cls()
        if actuator == "lra":
            return cls(actuator="lra", max_amplitude_g=1.6, tau_s=0.012)
        raise ValueError(f"actuator must be 'erm' or 'lra', got {actuator!r}")


def lra_response(frequency_hz: float, resonance_hz: float, quality: float) -> float:
    """Amplitude of a driven 2nd-order resonator relative to its value at resonance."""
    r = frequency_hz / resonance_hz
    return (1.0 / quality) / math.sqrt((1.0 - r * r) ** 2 + (r / quality) ** 2)


class SiteMotor:
    """The vibration one motor produces at its pad."""

    def __init__(self, index: int, params: MotorParams, seed: int) -> None:
        rng = random.Random(seed)
        self.index = index
        self.actuator = params.actuator
        self.max_amplitude_g = params.max_amplitude_g * rng.uniform(0.85, 1.15)
        self.resonance_hz = params.resonance_hz + rng.uniform(-5.0, 5.0)
        self.params = params
        #: LRA only: frequency it is driven at; None = at resonance (DRV2605L closed loop).
        self.drive_frequency_hz: float | None = None
        self._drive: DriveFn = _off

    def __repr__(self) -> str:
        return f"SiteMotor({self.index}, {self.actuator}, {self.max_amplitude_g:.2f} g max)"

    def connect(self, drive: DriveFn) -> None:
        """Drive from ``drive(t_s) -> 0..1`` (e.g. ``SimDRV2605L.drive_at``)."""
        self._drive = drive

    def drive_at(self, t_s: float) -> float:
        """The motor's effective (lagged) drive 0..1 at ``t_s``."""
        tau = self.params.tau_s
        du = _LAG_SPAN * tau / _LAG_STEPS
        total = weight_sum = 0.0
        for k in range(_LAG_STEPS):
            u = (k + 0.5) * du
            w = math.exp(-u / tau)
            total += w * self._drive(t_s - u)
            weight_sum += w
        # The exponential's tail beyond 5 tau weighs the drive at the end of the window.
        scale = (1.0 - math.exp(-_LAG_SPAN)) / weight_sum
        tail = math.exp(-_LAG_SPAN) * self._drive(t_s - _LAG_SPAN * tau)
        return min(1.0, max(0.0, total * scale + tail))

    def vibration_at(self, t_s: float) -> tuple[float, float]:
        """``(amplitude g rms, frequency Hz)`` at the pad at ``t_s``; (0, 0) when still."""
        return self.vibration_for_drive(self.drive_at(t_s))

    def vibration_for_drive(self, drive: float) -> tuple[float, float]:
        """Steady-state vibration for a constant ``drive`` (0..1)."""
        p = self.params
        if self.actuator == "erm":
            if drive <= p.start_drive:
                return 0.0, 0.0
            x = (drive - p.start_drive) / (1.0 - p.start_drive)
            return self.max_amplitude_g * x * x, p.max_frequency_hz * x
        if drive <= 0.0:
            return 0.0, 0.0
        f = self.drive_frequency_hz or self.resonance_hz
        gain = lra_response(f, self.resonance_hz, p.quality)
        return self.max_amplitude_g * drive * gain, f


class SiteAccelerometer:
    """A reference accelerometer held on a pad: rms amplitude and frequency over a window."""

    def __init__(self, motor: SiteMotor, clock, seed: int = 0, noise_rel: float = 0.01) -> None:
        self.motor = motor
        self.clock = clock
        self.noise_rel = noise_rel
        self._rng = random.Random(seed)

    def read(self, window_s: float = 0.1) -> tuple[float, float]:
        """Mean amplitude (g rms) and frequency (Hz) over the last ``window_s``, with noise."""
        now = self.clock.now()
        n = 20
        samples = [self.motor.vibration_at(now - window_s * (i + 0.5) / n) for i in range(n)]
        amp = math.sqrt(sum(a * a for a, _ in samples) / n)
        freq = sum(f for _, f in samples) / n
        return amp * (1.0 + self._rng.gauss(0.0, self.noise_rel)), freq


def _off(_t: float) -> float:
    return 0.0
