"""Session protocols. Each is a unit the runner can start, pause, resume and stop; it
journals its trials and yields its metrics (see :mod:`station.protocols.base`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station.protocols.base import Protocol

#: Protocols this station can run, by plan name: ``factory(params)`` checks the params
#: (``ValueError`` naming the param) and returns the protocol.
PROTOCOLS: dict[str, Callable[[dict[str, Any]], Protocol]] = {}


def _register() -> None:
    from station.protocols.max_grip import MaxGrip

    PROTOCOLS["max_grip"] = MaxGrip


_register()
