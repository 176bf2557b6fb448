"""Session protocols. Each is a unit the runner can start, pause, resume and stop; it
journals its trials and yields its metrics (see :mod:`station.protocols.base`).

:data:`PROTOCOLS` maps each entry of the catalogue (:mod:`station.catalog`, the one list of
what a plan may name) to the class that runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station.protocols.base import Protocol
from station.protocols.max_grip import MaxGrip
from station.protocols.motor import MOTOR
from station.protocols.sensory import SENSORY

#: Protocols this station can run, by plan name: ``factory(params)`` checks the params
#: (``ValueError`` naming the param) and returns the protocol. A catalogue entry without
#: one (``frequency_discrimination``) is refused on arrival by its station check.
_CLASSES: tuple[type[Protocol], ...] = (MaxGrip, *SENSORY, *MOTOR)
PROTOCOLS: dict[str, Callable[[dict[str, Any]], Protocol]] = {cls.name: cls for cls in _CLASSES}
