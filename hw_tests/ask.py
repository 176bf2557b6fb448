"""Asking the technician: on the LCD (answered on the buttons) and on the terminal.

Every question is a catalogue message (``ui_lcd.messages``, the ``technician`` section), so
it fits the 20x4 and 16x2 screens. The answer always comes from the station's buttons: the
technician is at the station, and a press also proves the buttons work. A Stop press
raises :class:`~ui_lcd.buttons.StopPressed`, which ends the attended checks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ui_lcd.buttons import Buttons, Event
from ui_lcd.frame import Frame
from ui_lcd.screens import Screens
from ui_lcd.widgets import YesNo

#: How long a question waits for an answer (clock seconds) before it counts as unanswered.
ANSWER_TIMEOUT_S = 60.0


class Asker:
    """Shows questions on ``display`` (may be None) and ``say`` (the terminal, or nothing),
    reads answers from ``buttons``."""

    def __init__(
        self,
        screens: Screens,
        buttons: Buttons,
        clock: Any,
        display: Any = None,
        say: Callable[[str], None] = lambda _text: None,
        timeout_s: float = ANSWER_TIMEOUT_S,
    ) -> None:
        self.screens = screens
        self.buttons = buttons
        self.clock = clock
        self.display = display
        self.say = say
        self.timeout_s = timeout_s

    def show(self, frame: Frame) -> None:
        """Put ``frame`` on the LCD (when there is one)."""
        if self.display is not None:
            self.display.show(frame)

    def tell(self, key: str, **params: Any) -> None:
        """Show a catalogue message on the LCD and the terminal."""
        self.show(self.screens.prompt(key, **params))
        self.say(_one_line(self.screens.text(key, **params)))

    def yes_no(self, key: str, **params: Any) -> bool | None:
        """Ask a yes/no question; None when nobody answered within the timeout."""
        self.say(_one_line(self.screens.text(key, **params)) + " [Left = No, Right = Yes, OK]")
        state, since = YesNo(), self.clock.now()
        while state.answer is None:
            self.show(self.screens.yes_no(key, state, **params))
            ev = self.buttons.wait_for(("left", "right", "ok"), self.timeout_s, since_s=since)
            if ev is None:
                return None
            since, state = ev.t_s, state.press(ev.key)
        return state.answer

    def press(self, keys: Collection[str], timeout_s: float, since_s: float) -> Event | None:
        """The first press of one of ``keys`` after ``since_s``, or None after ``timeout_s``."""
        return self.buttons.wait_for(keys, timeout_s, since_s=since_s)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.split("\n"))
