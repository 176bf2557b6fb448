"""The simulated station's technician: reads the simulated LCD every 50 ms of clock time
and answers as a person at the station would, through gpiozero's mock pins; for a
calibration, puts the asked weight on the simulated pad and straps the asked glove IMU on
the motor's pad (``world.place_imu``: the simulated IMU then feels that pad's vibration),
and takes it off when done. It acts only through what a person has (the LCD's text, the
buttons, the weights, the glove), never through the procedure it answers.

``station.sim`` is the simulated station's handles (the composition root's); nothing here
imports the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

LABELS = {"OK": "ok", "Back": "back", "Left": "left", "Right": "right", "Stop": "stop"}
STEP_S = 0.05
PRESS_S = 0.1


class SimTechnician:
    """Answers the station's questions on ``station`` (a simulated one) until closed.

    ``stop_at`` / ``back_at``: press Stop / Back when the LCD shows that text (to test
    how a procedure ends). ``felt(motor)`` is true when the motor's driver drove it in the
    last few seconds. ``imu_on_pad``: where the technician puts the IMU it is asked to
    strap on pad N (default pad N itself; None: leaves it on the glove, as a technician
    who forgot would).
    """

    def __init__(
        self,
        station: Any,
        *,
        stop_at: str | None = None,
        back_at: str | None = None,
        imu_on_pad: Callable[[int], int | None] = lambda pad: pad,
    ) -> None:
        self.station = station
        self.clock = station.clock
        self.pins = station.sim.button_pins(station.config["buttons"])
        self.stop_at, self.back_at = stop_at, back_at
        self.seen: list[str] = []
        self._busy_until = 0.0
        self._acted_on = ""
        self._weights: dict[int, float] = {}  # the last weight asked for, per pad
        self.imu_on_pad = imu_on_pad
        self._placed: set[str] = set()  # glove IMUs it strapped on a pad
        self._event = self.clock.every(STEP_S, self._step, "technician")

    def close(self) -> None:
        """Stop answering; take every IMU it strapped on a pad off again."""
        self._event.cancel()
        for segment in sorted(self._placed):
            self.station.sim.world.place_imu(segment, None)
        self._placed.clear()

    def felt(self, motor: int, within_s: float = 3.0) -> bool:
        drv = self.station.sim.chips.drvs[motor]
        now = self.clock.now()
        return any(level > 0 for t, level in drv.history if now - t <= within_s)

    def press(self, key: str, delay_s: float = 0.0) -> None:
        pin = self.pins[key]
        self.clock.call_later(delay_s + 0.001, pin.drive_low, "press")
        self.clock.call_later(delay_s + PRESS_S, pin.drive_high, "release")

    def answer(self, yes: bool) -> None:
        self.press("right" if yes else "left")
        self.press("ok", 0.2)

    def text(self) -> str:
        """The LCD's text on one line, runs of spaces as one."""
        return " ".join(" ".join(self.station.sim.lcd_lines()).split())

    def _step(self) -> None:
        text = self.text()
        if not self.seen or self.seen[-1] != text:
            self.seen.append(text)
        if self.clock.now() < self._busy_until or text == self._acted_on:
            return  # a person acts once on what a screen asks
        act = self._action(text)
        if act is not None:
            act()
            self._acted_on = text
            self._busy_until = self.clock.now() + 0.6

    def _action(self, text: str) -> Callable[[], None] | None:
        if self.stop_at is not None and self.stop_at in text:
            return lambda: self.press("stop")
        if self.back_at is not None and self.back_at in text:
            return lambda: self.press("back")
        return self._question(text) or self._calibration(text)

    def _question(self, text: str) -> Callable[[], None] | None:
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

    def _calibration(self, text: str) -> Callable[[], None] | None:
        world = self.station.sim.world
        m = re.search(r"Pad (\d+) (?:Put the ([0-9.]+) N weight on it|The weight moved)", text)
        if m:
            pad = int(m.group(1))
            weight = float(m.group(2)) if m.group(2) else self._weights.get(pad, 0.0)
            self._weights[pad] = weight
            return lambda: self._place(world.pads[pad], weight)
        m = re.search(r"Pad (\d+) Take the weight off", text)
        if m:
            pad = int(m.group(1))
            return lambda: self._place(world.pads[pad], 0.0)
        m = re.search(r"Strap the (\w+) IMU flat on pad (\d+)", text)
        if m:
            segment, pad = m.group(1), int(m.group(2))
            return lambda: self._strap(segment, self.imu_on_pad(pad))
        if "Lay it flat and still" in text:
            return lambda: self.press("ok")
        return None

    def _strap(self, segment: str, pad: int | None) -> None:
        world = self.station.sim.world
        for other in self._placed - {segment}:
            world.place_imu(other, None)
        world.place_imu(segment, pad)
        self._placed = {segment}
        self.press("ok", 0.2)

    def _place(self, pad: Any, weight_n: float) -> None:
        pad.set_force(weight_n)
        self.press("ok", 0.2)
