"""Named sensor faults (exceptions) and the events the acquisition loop counts.

A fault is an event or an exception, never a plausible reading: a pad that cannot be read
gives :class:`PadFault`, not 0 N. Each fault names the part (pad number, IMU segment, motor)
and, for bus errors, the errno (121: the device did not answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SensorFault(Exception):
    """Base of the named faults; ``part`` names the pad, IMU or motor, ``errno`` the bus error."""

    kind = "sensor_fault"

    def __init__(self, part: str, errno: int | None = None, detail: str = "") -> None:
        self.part = part
        self.errno = errno
        self.detail = detail
        err = f" (errno {errno})" if errno is not None else ""
        super().__init__(f"{self.kind}: {part}{err}{': ' + detail if detail else ''}")


class PadFault(SensorFault):
    """Pad ``pad`` cannot be read (bus error, its ADS1115 gone) or reads out of range."""

    kind = "pad_fault"

    def __init__(self, pad: int, errno: int | None = None, detail: str = "") -> None:
        self.pad = pad
        super().__init__(f"pad {pad}", errno, detail)


class PadGap(PadFault):
    """The newest sample of pad ``pad`` has no force (one conversion read open or out of
    range) while the pad is not (yet) a fault: a reader may skip it; the acquisition turns
    a pad that stays so into a :class:`PadFault` of its own."""

    kind = "pad_gap"

    def __init__(self, pad: int) -> None:
        super().__init__(pad, None, "no force in the newest sample")


class SupplyRefFault(PadFault):
    """The pads' supply reference reads outside its plausible window or cannot be read.

    Every pad's force depends on the measured supply, so this is a fault of every pad
    (``pad`` is -1): readers raise it instead of a force computed with a wrong supply.
    """

    kind = "supply_ref_fault"

    def __init__(self, errno: int | None = None, detail: str = "") -> None:
        self.pad = -1
        SensorFault.__init__(self, "supply reference", errno, detail)


class ImuFault(SensorFault):
    """One glove IMU (``imu`` = segment name) cannot be read."""

    kind = "imu_fault"

    def __init__(self, imu: str, errno: int | None = None, detail: str = "") -> None:
        self.imu = imu
        super().__init__(f"IMU {imu}", errno, detail)


class GloveUnplugged(SensorFault):
    """Every IMU of the glove stopped answering at once: the glove's connector is out."""

    kind = "glove_unplugged"

    def __init__(self, errno: int | None = None, detail: str = "") -> None:
        super().__init__("glove", errno, detail or "check the glove connector and cable")


class MotorFault(SensorFault):
    """A vibration motor or its driver failed (bus error, over-current, over-temperature)."""

    kind = "motor_fault"

    def __init__(self, motor: int, errno: int | None = None, detail: str = "") -> None:
        self.motor = motor
        super().__init__(f"motor {motor}", errno, detail)


@dataclass(frozen=True)
class Event:
    """Something the acquisition loop counted: ``kind``, the ``part`` named, at ``t_s``."""

    t_s: float
    kind: str
    part: str
    errno: int | None = None
    detail: str = ""
    fault: Any = None  # the SensorFault for fault events

    def __str__(self) -> str:
        err = f" errno {self.errno}" if self.errno is not None else ""
        return f"{self.t_s:.3f} {self.kind} {self.part}{err} {self.detail}".rstrip()
