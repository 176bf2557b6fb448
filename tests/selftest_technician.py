"""A simulated technician for the self-test and calibration tests: reads the simulated
LCD every 50 ms of clock time and answers through gpiozero's mock pins, as a person at
the station would (and, for calibration, puts weights on the simulated pads)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

LABELS = {"OK": "ok", "Back": "back", "Left": "left", "Right": "right", "Stop": "stop"}


class Technician:
    """Answers the station's questions; ``felt(motor)`` says whether a motor buzzed."""

    def __init__(self, station: Any, *, stop_at: str | None = None) -> None:
        self.station = station
        self.clock = station.clock
        self.pins = station.sim.button_pins(station.config["buttons"])
        self.stop_at = stop_at
        self.seen: list[str] = []
        self._busy_until = 0.0
        self._event = self.clock.every(0.05, self._step, "technician")

    def close(self) -> None:
        self._event.cancel()

    def felt(self, motor: int, within_s: float = 3.0) -> bool:
        drv = self.station.sim.chips.drvs[motor]
        now = self.clock.now()
        return any(level > 0 for t, level in drv.history if now - t <= within_s)

    def press(self, key: str, delay_s: float = 0.0) -> None:
        pin = self.pins[key]
        self.clock.call_later(delay_s + 0.001, pin.drive_low, "press")
        self.clock.call_later(delay_s + 0.1, pin.drive_high, "release")

    def answer(self, yes: bool) -> None:
        self.press("right" if yes else "left")
        self.press("ok", 0.2)

    def text(self) -> str:
        return " ".join(" ".join(self.station.sim.lcd_lines()).split())

    def _step(self) -> None:
        text = self.text()
        if not self.seen or self.seen[-1] != text:
            self.seen.append(text)
        if self.clock.now() < self._busy_until:
            return
        act = self._action(text)
        if act is not None:
            act()
            self._busy_until = self.clock.now() + 0.6

    def _action(self, text: str) -> Callable[[], None] | None:
        if self.stop_at is not None and self.stop_at in text:
            return lambda: self.press("stop")
        m = re.search(r"Did motor (\d+) buzz\?", text)
        if m:
            motor = int(m.group(1))
            return lambda: self.answer(self.felt(motor))
        if "Blocks, letters and digits right?" in text or "Start it now?" in text:
            return lambda: self.answer(True)
        m = re.search(r"Please press (\w+)\.", text)
        if m:
            key = LABELS[m.group(1)]
            return lambda: self.press(key)
        return None
