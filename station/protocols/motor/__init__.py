"""The motor-relearning protocols: force-control training with biofeedback, fast and
repeated squeezes, fatigue, both hands together, finger range of motion with the glove,
and motor imagery, on the shared pieces of :mod:`station.protocols.motor.common`
(``reference/CLINICAL.md`` §2-3, §5, §6; docs/motor.md).
"""

from __future__ import annotations

from station.protocols.motor.bilateral import Bilateral
from station.protocols.motor.common import MotorProtocol
from station.protocols.motor.finger_rom import FingerRom
from station.protocols.motor.grip_release import GripRelease
from station.protocols.motor.imagery import MotorImagery
from station.protocols.motor.rfd import RateOfForceDevelopment
from station.protocols.motor.steadiness import ForceSteadiness
from station.protocols.motor.sustained import SustainedHold
from station.protocols.motor.tracking import ForceTracking

#: The motor protocol classes, each named after its catalogue entry.
MOTOR: tuple[type[MotorProtocol], ...] = (
    ForceSteadiness,
    ForceTracking,
    RateOfForceDevelopment,
    GripRelease,
    SustainedHold,
    Bilateral,
    FingerRom,
    MotorImagery,
)

__all__ = ["MOTOR", "MotorProtocol"]
