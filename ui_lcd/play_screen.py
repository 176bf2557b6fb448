"""The keyboard-and-terminal station for a person playing the patient (curses, stdlib).

:class:`PlayScreen` owns the terminal while it is open: it draws the LCD, the five buttons
and the pads (force, the chosen pad, a vibration mark on a pad whose motor buzzes), and
turns the keys typed into player actions (:data:`KEYMAP`). Leaving it, by any path (the
end of the block, Ctrl-C, an exception), gives the terminal back as it was.

What it draws comes from a :class:`PlayView` (the player, duck-typed) and the last LCD
frame; it knows nothing of the session.
"""

from __future__ import annotations

import curses
from typing import Any, Protocol

from ui_lcd.frame import Frame
from ui_lcd.terminal import render_box

#: Keys -> player actions. Arrows and Enter come decoded by curses (``keypad``).
KEYMAP: dict[int, str] = {
    10: "ok",
    13: "ok",
    curses.KEY_ENTER: "ok",
    curses.KEY_BACKSPACE: "back",
    127: "back",
    8: "back",
    ord("b"): "back",
    curses.KEY_LEFT: "left",
    ord(","): "left",
    curses.KEY_RIGHT: "right",
    ord("."): "right",
    ord("s"): "stop",
    ord("S"): "stop",
    ord(" "): "squeeze",
    curses.KEY_UP: "harder",
    ord("+"): "harder",
    ord("="): "harder",
    curses.KEY_DOWN: "softer",
    ord("-"): "softer",
    ord("0"): "lift",
    **{ord(str(i)): f"pad{i}" for i in range(1, 9)},
}

HELP = (
    "Space (held)  squeeze the grip pad      1-8  choose a pad",
    "Up / Down     press it harder / softer  0    lift every finger",
    "Enter OK    Backspace Back    Left / Right    s STOP    Ctrl-C quit",
)
BUTTONS = (("back", "Back"), ("left", " < "), ("ok", " OK "), ("right", " > "), ("stop", "STOP"))
#: A vibration under a pad shows from this amplitude (g rms): well below any stimulus.
FELT_G = 0.005
MIN_COLS, MIN_ROWS = 72, 19


class PlayView(Protocol):
    """What the screen shows of the player (``station.sim.player.Player``)."""

    chosen: int
    grip_pad: int

    @property
    def squeezing(self) -> bool: ...

    def force_n(self) -> list[float]: ...

    def vibration_g(self) -> list[float]: ...

    def buttons_down(self) -> dict[str, bool]: ...


class PlayScreen:
    """The terminal in curses mode: ``with PlayScreen() as screen`` (see the module).

    Raises ``curses.error`` on entry when the output is not a terminal curses can drive.
    """

    def __init__(self) -> None:
        self._win: Any = None
        self.frames_drawn = 0

    def __repr__(self) -> str:
        return f"PlayScreen(open={self._win is not None})"

    def __enter__(self) -> PlayScreen:
        self._win = win = curses.initscr()
        try:
            curses.noecho()
            curses.cbreak()  # keys at once; Ctrl-C stays a SIGINT
            win.keypad(True)
            win.nodelay(True)
            curses.set_escdelay(25)
            try:
                curses.curs_set(0)
            except curses.error:
                pass  # a terminal that cannot hide its cursor still works
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Give the terminal back (idempotent, never raises)."""
        if self._win is None:
            return
        self._win = None
        try:
            curses.nocbreak()
            curses.echo()
            curses.curs_set(1)
        except curses.error:
            pass
        try:
            curses.endwin()
        except curses.error:
            pass

    # -- keys ----------------------------------------------------------------------------

    def actions(self) -> list[str]:
        """The player actions of every key typed since the last call (others ignored)."""
        out: list[str] = []
        while self._win is not None:
            code = self._win.getch()
            if code == -1:
                break
            action = KEYMAP.get(code)
            if action is not None:
                out.append(action)
        return out

    # -- drawing -------------------------------------------------------------------------

    def draw(self, frame: Frame | None, view: PlayView, t_s: float) -> None:
        """The LCD ``frame`` (None: nothing shown yet), buttons and pads at time ``t_s``."""
        win = self._win
        if win is None:
            return
        rows, cols = win.getmaxyx()
        win.erase()
        if rows < MIN_ROWS or cols < MIN_COLS:
            _put(win, 0, 0, f"Make the terminal at least {MIN_COLS}x{MIN_ROWS} ({cols}x{rows}).")
            win.refresh()
            return
        _put(win, 0, 0, f"rehab-station: you are the patient   t = {t_s:7.1f} s")
        y = 2
        for line in render_box(frame) if frame is not None else ["(the LCD is dark)"]:
            _put(win, y, 2, line)
            y += 1
        down = view.buttons_down()
        x = 2
        for key, label in BUTTONS:
            mark = "[" + label + "]" if not down.get(key) else "<" + label + ">"
            attr = curses.A_REVERSE if down.get(key) else curses.A_NORMAL
            _put(win, y + 1, x, mark, attr)
            x += len(mark) + 2
        self._pads(win, y + 3, view)
        for i, text in enumerate(HELP):
            _put(win, y + 8 + i, 0, text[: cols - 1])
        win.refresh()
        self.frames_drawn += 1

    @staticmethod
    def _pads(win: Any, y: int, view: PlayView) -> None:
        forces = view.force_n()
        buzz = view.vibration_g()
        _put(win, y, 0, "pad")
        _put(win, y + 1, 0, "N")
        _put(win, y + 2, 0, "buzz")
        for i, force in enumerate(forces):
            x = 6 + 8 * i
            name = f"{i + 1}{'*' if i == view.chosen else ' '}{'G' if i == view.grip_pad else ''}"
            _put(win, y, x, name, curses.A_BOLD if i == view.chosen else curses.A_NORMAL)
            _put(win, y + 1, x, f"{force:5.1f}")
            if i < len(buzz) and buzz[i] >= FELT_G:
                _put(win, y + 2, x, "~~~~~", curses.A_REVERSE)


def _put(win: Any, y: int, x: int, text: str, attr: int = 0) -> None:
    """Write ``text`` at (y, x), cut at the window's edge (curses raises past it)."""
    rows, cols = win.getmaxyx()
    if y >= rows or x >= cols:
        return
    try:
        win.addstr(y, x, text[: max(0, cols - x - 1)], attr)
    except curses.error:
        pass
