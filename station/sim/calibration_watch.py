"""Watching the simulated technician calibrate, to show a first start's progress.

The watcher looks only at the physical world, as a person beside the jig would: which
weight of :data:`station.sim.rig.WEIGHTS_N` sits on the pads, and which motor has buzzed
against the reference accelerometer. It reports ``(done, total)`` steps whenever that
changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station.sim.rig import WEIGHTS_N
from station.sim.world import World

#: How often the watcher looks (simulated s): shorter than one weight's settle time.
LOOK_S = 0.1


class CalibrationWatch:
    """Reports ``report(done, total)`` as the jig's weights and the motors' turns pass.

    ``total`` is the weights plus the motors; ``done`` only grows. :meth:`stop` ends the
    watch (idempotent)."""

    def __init__(self, world: World, report: Callable[[int, int], None]) -> None:
        self.world = world
        self.report = report
        self.total = len(WEIGHTS_N) + len(world.motors)
        self.done = 0
        self._weights_seen = 0
        self._motors_seen: set[int] = set()
        self._handle: Any = world.clock.every(LOOK_S, self._look, name="calibration-watch")

    def __repr__(self) -> str:
        return f"CalibrationWatch({self.done}/{self.total})"

    def _look(self) -> None:
        now = self.world.clock.now()
        force = self.world.pads[0].force_at(now) if self.world.pads else 0.0
        for i, weight in enumerate(WEIGHTS_N):
            if i >= self._weights_seen and abs(force - weight) < 1e-9:
                self._weights_seen = i + 1
        for m, motor in enumerate(self.world.motors):
            if motor.drive_at(now) > 0.0:
                self._motors_seen.add(m)
        done = self._weights_seen + len(self._motors_seen)
        if done > self.done:
            self.done = done
            self.report(done, self.total)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
