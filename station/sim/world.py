"""The physical world of the simulated station: pads, hand, motors, and their wiring.

The world owns the physics (:mod:`station.sim.fsr`, :mod:`station.sim.hand`,
:mod:`station.sim.motors`) and connects it to the simulated chips: pad voltages to
``SimADS1115`` inputs, the hand's motion to ``SimLSM6DSOX`` motion sources, ``SimDRV2605L``
drive to the motors. Tests and the virtual patient act only through its channels::

    world.pads[i].set_force(force_n) / set_force_profile(fn)
    world.hand.set_flexion(finger, angle_deg) / set_tremor(freq_hz, amp_deg)
    world.rest_finger(finger, pad)          # the finger's IMU feels that pad's motor
    world.place_imu(segment, pad)           # that IMU lies on the pad (motor calibration)
    world.motors[i].vibration_at(t)         # -> (amplitude g rms, frequency Hz)
    world.texture_widths_mm[i]              # pad i's groove width (what a fingertip feels)
    world.unplug_glove() / plug_glove(); world.pads[i].unplug()

Motor ``i`` sits under pad ``i`` (``haptics.channels``: motor n = pad n). Every random draw
comes from ``seed``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from station.sim.fsr import FsrPad, FsrParams
from station.sim.hand import SEGMENTS, Hand
from station.sim.motors import MotorParams, SiteAccelerometer, SiteMotor

FloatFn = Callable[[float], float]
#: Groove width of texture grade 0 (mm) and the ratio per grade (about 0.1 log10).
GROOVE_BASE_MM, GROOVE_RATIO = 0.5, 1.26


def groove_width_mm(grade: int) -> float:
    """The groove width of a pad of texture ``grade``: 0.5 mm x 1.26^grade, to the micron
    (the standard kit, ``station.config.STANDARD_TEXTURE_MM``)."""
    return round(GROOVE_BASE_MM * GROOVE_RATIO**grade, 3)


class World:
    """Pads, hand and motors on ``clock`` (a SimClock).

    ``texture_widths_mm``: each pad's groove width (mm, > 0; config ``pads.textures_mm``);
    default :func:`groove_width_mm` of the pad's texture grade. Raises ``ValueError`` when
    a per-pad list has the wrong length or a width is not positive.
    """

    def __init__(
        self,
        clock,
        seed: int = 0,
        n_pads: int = 8,
        n_motors: int = 4,
        actuator: str = "erm",
        supply_v: float = 3.3,
        divider_ohm: float = 10_000.0,
        texture_grades: Sequence[int] | None = None,
        fsr: FsrParams | None = None,
        part_spread: float = 0.06,
        texture_widths_mm: Sequence[float] | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        rng = random.Random(seed)
        self.nominal_supply_v = float(supply_v)
        nominal = self.nominal_supply_v
        self._supply: FloatFn = lambda _t: nominal
        grades = (
            list(texture_grades) if texture_grades is not None else [i % 8 for i in range(n_pads)]
        )
        if len(grades) != n_pads:
            raise ValueError(f"texture_grades needs {n_pads} entries, got {len(grades)}")
        widths = (
            [float(w) for w in texture_widths_mm]
            if texture_widths_mm is not None
            else [groove_width_mm(g) for g in grades]
        )
        if len(widths) != n_pads:
            raise ValueError(f"texture_widths_mm needs {n_pads} entries, got {len(widths)}")
        if not all(w > 0.0 for w in widths):
            raise ValueError(f"texture_widths_mm must all be > 0 mm, got {widths}")
        #: Groove width of each pad's surface (mm): rougher is wider (CLINICAL.md §4.3).
        self.texture_widths_mm = widths
        base = fsr or FsrParams()
        self.pads = [
            FsrPad(
                i,
                base.spread(rng, part_spread),
                grades[i],
                divider_ohm,
                nominal,
                seed=rng.randrange(2**31),
            )
            for i in range(n_pads)
        ]
        self.hand = Hand(clock)
        params = MotorParams.default(actuator)
        self.motors = [SiteMotor(i, params, seed=rng.randrange(2**31)) for i in range(n_motors)]
        self.imus: dict[str, Any] = {}
        self._rng = rng

    def __repr__(self) -> str:
        return f"World({len(self.pads)} pads, {len(self.motors)} motors, {len(self.imus)} IMUs)"

    # -- the supply ------------------------------------------------------------------------

    def supply_v(self, t_s: float) -> float:
        """Divider supply voltage at ``t_s``."""
        return self._supply(t_s)

    def set_supply(self, volts: float | FloatFn) -> None:
        """Hold the divider supply at ``volts`` or make it follow ``fn(t)`` (sag, ripple)."""
        if callable(volts):
            self._supply = volts
        else:
            value = float(volts)
            self._supply = lambda _t: value
        for pad in self.pads:
            pad.set_supply(volts)

    # -- wiring to the simulated chips ----------------------------------------------------

    def connect_pad(self, pad: int, adc, channel: int) -> None:
        """Wire pad ``pad``'s divider to input AIN``channel`` of ``adc`` (a SimADS1115)."""
        adc.set_input_source(channel, self.pads[pad].voltage_at)

    def connect_supply_reference(self, adc, channel: int, ratio: float = 0.5) -> None:
        """Wire a ``ratio`` divider of the supply to AIN``channel`` (ratiometric reference)."""
        adc.set_input_source(channel, lambda t: ratio * self.supply_v(t))

    def connect_motor(self, motor: int, drive: FloatFn) -> None:
        """Drive motor ``motor`` from ``drive(t) -> 0..1`` (``SimDRV2605L.drive_at``)."""
        self.motors[motor].connect(drive)

    def connect_imu(self, segment: str, chip) -> None:
        """Mount a SimLSM6DSOX on ``segment`` with a seeded bias and noise of its own."""
        if segment not in SEGMENTS:
            raise ValueError(f"segment must be one of {SEGMENTS}, got {segment!r}")
        rng = self._rng
        chip.gyro_bias_dps = tuple(rng.uniform(-1.5, 1.5) for _ in range(3))
        chip.accel_bias_g = tuple(rng.uniform(-0.02, 0.02) for _ in range(3))
        chip.gyro_noise_dps = 0.1
        chip.accel_noise_g = 0.002
        chip.set_noise_source(NormalDraws((self.seed, SEGMENTS.index(segment))))
        chip.set_motion_source(self.hand.motion_source(segment))
        self.imus[segment] = chip

    def reference_accelerometer(self, motor: int, noise_rel: float = 0.01) -> SiteAccelerometer:
        """A technician's reference accelerometer held on pad ``motor``."""
        return SiteAccelerometer(
            self.motors[motor], self.clock, self._rng.randrange(2**31), noise_rel
        )

    # -- scripted events ------------------------------------------------------------------

    def rest_finger(self, finger: str, pad: int | None) -> None:
        """Rest ``finger`` on pad ``pad`` (its IMU picks up that pad's motor), None: lift."""
        if pad is None:
            self.hand.rest_on(finger, None)
            return
        if not 0 <= pad < len(self.motors):
            raise ValueError(f"no motor under pad {pad} (motors 0..{len(self.motors) - 1})")
        self.hand.rest_on(finger, self.motors[pad].vibration_at)

    def place_imu(self, segment: str, pad: int | None, **lie: float) -> None:
        """Lay ``segment``'s IMU on pad ``pad`` (it feels gravity and that pad's motor,
        :class:`~station.sim.imu_on_pad.ImuOnPad`; ``lie``: its ``roll_deg``,
        ``pitch_deg``, ``coupling``); None: back on the hand."""
        from station.sim.imu_on_pad import ImuOnPad

        chip = self.imus.get(segment)
        if chip is None:
            raise ValueError(f"no {segment!r} IMU in this world: IMUs {sorted(self.imus)}")
        if pad is None:
            chip.set_motion_source(self.hand.motion_source(segment))
            return
        if not 0 <= pad < len(self.motors):
            raise ValueError(f"no motor under pad {pad} (motors 0..{len(self.motors) - 1})")
        chip.set_motion_source(ImuOnPad(self.motors[pad], **lie))

    def unplug_glove(self) -> None:
        """Pull the glove's connector: every IMU stops answering."""
        for chip in self.imus.values():
            chip.unplug()

    def plug_glove(self) -> None:
        """Plug the glove back in: the IMUs power up with reset registers."""
        for chip in self.imus.values():
            chip.plug()


class NormalDraws:
    """Seeded standard normal draws for a simulated IMU's noise, ``draws(n) -> n floats``:
    drawn by numpy a block at a time, where drawing each in Python would cost a simulated
    glove more than the rest of its sample arithmetic."""

    BLOCK = 4096

    def __init__(self, seed: int | tuple[int, ...]) -> None:
        self._gen = np.random.default_rng(seed)
        self._buf: list[float] = []
        self._i = 0

    def __repr__(self) -> str:
        return f"NormalDraws({len(self._buf) - self._i} left in the block)"

    def __call__(self, n: int) -> list[float]:
        i, j = self._i, self._i + n
        if j > len(self._buf):
            fresh = self._gen.standard_normal(max(self.BLOCK, n)).tolist()
            self._buf, i, j = self._buf[i:] + fresh, 0, n
        self._i = j
        return self._buf[i:j]
