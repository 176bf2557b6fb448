"""What every check is given: the assembled station and the means to ask a person.

:class:`CheckContext` carries the station (``station.hardware.build``'s), the parts that
did not start (their :class:`~station.hardware.HardwareError`, by part), where the data
lives, the broker probe, the clock-sync probe and an :class:`~hw_tests.ask.Asker` (None
when no person is there: ``-y`` runs only the unattended checks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station.hardware import HardwareError, Station

if TYPE_CHECKING:
    from hw_tests.ask import Asker


@dataclass(frozen=True)
class ProbeResult:
    """What the broker probe found: ``ok``, and what it saw (``detail``)."""

    ok: bool
    detail: str


@dataclass
class CheckContext:
    station: Station[Any]
    data_dir: Path
    #: Parts that did not start (``"glove"``, ``"lcd"``, ...) and why; they were left out.
    not_started: dict[str, HardwareError] = field(default_factory=dict)
    asker: Asker | None = None
    broker_probe: Callable[[], ProbeResult] | None = None
    clock_synced: Callable[[], bool] = lambda: False
    wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    #: Parts the config says are fitted (before any was left out for not starting).
    fitted: dict[str, bool] = field(default_factory=dict)

    @property
    def config(self) -> Any:
        return self.station.config

    @property
    def clock(self) -> Any:
        return self.station.clock

    def is_fitted(self, part: str) -> bool:
        """Whether the config fits ``part`` (pads, haptics, glove, lcd)."""
        if part in self.fitted:
            return self.fitted[part]
        return bool(self.config[part]["fitted"])
