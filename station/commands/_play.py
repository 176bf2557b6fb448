"""``run --sim --interactive``: a person at the keyboard plays the patient.

The simulated station is the one ``run --sim`` builds (world, chips, drivers, sensors,
runner, journal, outbox); only the virtual patient is replaced, by a
``station.sim.player.Player`` fed from the keys that :class:`ui_lcd.play_screen.PlayScreen`
reads. Keys are read, the player moved and the screen drawn by one event on the simulated
clock, so everything happens in the session's own thread, paced to real time by the
clock's ``--speed``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ui_lcd.frame import Frame
from ui_lcd.play_screen import PlayScreen

if TYPE_CHECKING:
    from station.app import App
    from station.plan import Plan
    from station.runner import Outcome

#: How often keys are read (simulated s).
TICK_S = 0.02
#: The screen is redrawn when the LCD changes, else at most every REDRAW_S real seconds
#: (25 a second is smooth for the force figures; more is CPU for nothing at --speed 10).
REDRAW_S = 0.04


class LastFrame:
    """A mirror keeping the last frame the station showed (what the LCD says now)."""

    def __init__(self) -> None:
        self.frame: Frame | None = None

    def __repr__(self) -> str:
        return f"LastFrame({self.frame.lines if self.frame else None})"

    def show(self, frame: Frame) -> None:
        self.frame = frame

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C (so the terminal is given back, not left raw)."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def play(app: App, plan: Plan | None, max_force_n: float) -> tuple[Outcome | None, Any]:
    """Run today's session with the keyboard as the patient; the outcome and the player
    (its ``squeezes`` are the truth of what the keys produced)."""
    st = app.station
    assert st is not None and st.sim is not None and app.ui is not None
    player = st.sim.player(st.clock, app.config["buttons"], max_force_n=max_force_n)
    last = LastFrame()
    app.ui.mirrors.append(last)
    drawn: tuple[Frame | None, float] = (None, -REDRAW_S)
    handle = None
    try:
        with _sigterm_as_interrupt(), PlayScreen() as screen:

            def tick() -> None:
                nonlocal drawn
                for action in screen.actions():
                    player.act(action)
                player.tick()
                now = time.monotonic()
                if last.frame is not drawn[0] or now - drawn[1] >= REDRAW_S:
                    screen.draw(last.frame, player, st.clock.now())
                    drawn = (last.frame, now)

            tick()
            handle = st.clock.every(TICK_S, tick, name="keyboard")
            outcome = app.run_session(plan)
            screen.draw(last.frame, player, st.clock.now())
    finally:
        if handle is not None:
            handle.cancel()
        player.stop()
        app.ui.mirrors.remove(last)
    return outcome, player


def truth(player: Any) -> dict[str, Any]:
    """What the keys produced, to set beside the measurement."""
    return {
        "player": "keyboard",
        "squeeze_peaks_n": [round(s.peak_n, 3) for s in player.squeezes],
    }
