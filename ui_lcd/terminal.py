"""Frames drawn as text: a boxed LCD on a terminal, a transcript, and a timestamped frame log.

:class:`TerminalLCD`, :class:`Transcript` and :class:`FrameLog` have the Display's
``show(frame)``, so the station (``--sim`` demos) can show or record what the patient
would see::

    +--------------------+
    |Squeeze, left hand! |
    |As hard as you      |
    |comfortably can.    |
    |############=|      |
    +--------------------+

Custom glyphs are approximated from their bitmap (:func:`glyph_char`), not from knowing
which screen drew them:

=====================================================  =====
bitmap                                                 char
=====================================================  =====
blank                                                  space
only one column lit in rows 2-4, lit top to bottom     ``|``  (a band end)
no pixel in rows 2-4, something below (underline)      ``_``  (band, empty)
no pixel in rows 2-4, something above only             ``'``
1-2 columns lit in rows 2-4                            ``-``
3-4 columns lit in rows 2-4                            ``=``
all 5 columns lit in rows 2-4                          ``#``
a glyph slot the frame does not define                 ``?``
=====================================================  =====
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from ui_lcd.frame import GLYPH_SLOTS, SIZES, Frame

MIDDLE_ROWS = (2, 3, 4)


def glyph_char(rows: tuple[int, ...]) -> str:
    """One ASCII character approximating a 5x8 glyph (mapping in the module docstring)."""
    if not any(rows):
        return " "
    middle = 0
    for r in MIDDLE_ROWS:
        middle |= rows[r]
    lit = bin(middle).count("1")
    if lit == 0:
        return "_" if any(rows[MIDDLE_ROWS[-1] + 1 :]) else "'"
    if lit == 1 and all(row & middle for row in rows):
        return "|"
    if lit == 5:
        return "#"
    return "=" if lit >= 3 else "-"


def text_lines(frame: Frame) -> list[str]:
    """The frame's rows with glyph slots replaced by their approximations."""
    table = {
        slot: glyph_char(frame.glyphs[slot]) if slot in frame.glyphs else "?"
        for slot in range(GLYPH_SLOTS)
    }
    return [line.translate(table) for line in frame.lines]


def render_box(frame: Frame) -> list[str]:
    """The frame in a ``+---+`` / ``|text|`` box, one string per terminal line."""
    edge = "+" + "-" * frame.cols + "+"
    return [edge] + [f"|{line}|" for line in text_lines(frame)] + [edge]


def _check_size(frame: Frame, size: str) -> None:
    cols, rows = SIZES[size]
    if (frame.cols, frame.rows) != (cols, rows):
        raise ValueError(f"frame is {frame.cols}x{frame.rows}, the display {size}")


class TerminalLCD:
    """Draws frames on ``stream``. On a TTY (and with ``in_place``) each frame replaces the
    previous one using ANSI cursor-up; otherwise each new frame is printed once below the
    last (a frame equal to the previous one is not printed again)."""

    def __init__(self, stream: TextIO, size: str = "20x4", in_place: bool = True) -> None:
        if size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}; got {size!r}")
        self.stream = stream
        self.size = size
        isatty = getattr(stream, "isatty", None)
        self.in_place = bool(in_place and isatty is not None and isatty())
        self._last: list[str] | None = None
        self.frames_drawn = 0

    def __repr__(self) -> str:
        return f"TerminalLCD(size={self.size!r}, in_place={self.in_place})"

    def show(self, frame: Frame) -> None:
        _check_size(frame, self.size)
        box = render_box(frame)
        if box == self._last:
            return
        out = []
        if self.in_place and self._last is not None:
            out.append(f"\r\x1b[{len(self._last)}A")  # back to the top of the previous box
        out.extend(line + "\n" for line in box)
        self.stream.write("".join(out))
        self.stream.flush()
        self._last = box
        self.frames_drawn += 1

    def close(self) -> None:
        """Nothing to release; present so it can stand in for the Display."""


class FrameLog:
    """Appends each new frame to a text file as ``t=12.345 s`` and its box (consecutive
    equal frames are written once). ``clock`` supplies the time stamps."""

    def __init__(self, path: str | Path, clock: Any) -> None:
        self.path = Path(path)
        self.clock = clock
        self._last: list[str] | None = None

    def __repr__(self) -> str:
        return f"FrameLog({str(self.path)!r})"

    def show(self, frame: Frame) -> None:
        box = render_box(frame)
        if box == self._last:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(f"t={self.clock.now():.3f} s\n" + "\n".join(box) + "\n")
        self._last = box

    def close(self) -> None:
        """Each write opens and closes the file, so a crash loses at most one frame."""


def words(frame: Frame) -> list[str]:
    """The frame's rows as words: stripped, glyphs (a moving bar) and control bytes dropped."""
    rows = [line.strip() for line in frame.lines]
    return [
        " ".join("".join(c for c in r if c.isascii() and c.isprintable()).split()) for r in rows
    ]


class Transcript:
    """Writes one line per screen, when its words change, with the time ``now()`` (s)::

        t=   12.4 s  Squeeze, left hand! / As hard as you / comfortably can.

    A moving force bar or a countdown's glyphs alone do not make a new line, so a session
    reads as the list of screens the patient saw."""

    def __init__(self, stream: TextIO, now: Callable[[], float]) -> None:
        self.stream = stream
        self.now = now
        self._words: list[str] | None = None
        self.lines_written = 0

    def __repr__(self) -> str:
        return f"Transcript(lines_written={self.lines_written})"

    def show(self, frame: Frame) -> None:
        said = words(frame)
        if said == self._words:
            return
        self._words = said
        text = " / ".join(w for w in said if w)
        self.stream.write(f"t={self.now():7.1f} s  {text}\n")
        self.stream.flush()
        self.lines_written += 1

    def close(self) -> None:
        """Nothing to release; present so it can stand in for the Display."""


class ProgressBar:
    """A progress bar on ``stream``: redrawn in place on a terminal; elsewhere one line at
    the start and one at the end (a log, not a flicker)."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        isatty = getattr(stream, "isatty", None)
        self.in_place = bool(isatty is not None and isatty())
        self._shown = -1

    def __repr__(self) -> str:
        return f"ProgressBar({self.label!r}, {self._shown} %)"

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` steps (``total`` > 0)."""
        pct = 100 * min(max(done, 0), total) // max(total, 1)
        if pct == self._shown:
            return
        if self.in_place:
            fill = self.WIDTH * pct // 100
            bar = "#" * fill + "." * (self.WIDTH - fill)
            self.stream.write(f"\r{self.label} [{bar}] {pct:3d} %")
        elif self._shown < 0:
            self.stream.write(f"{self.label} ...\n")
        self.stream.flush()
        self._shown = pct

    def finish(self, note: str = "done") -> None:
        if self.in_place:
            self.update(1, 1)
            self.stream.write(f" {note}\n")
        else:
            self.stream.write(f"{self.label}: {note}\n")
        self.stream.flush()


@contextlib.contextmanager
def keys_unechoed(stream: TextIO | None = None) -> Iterator[None]:
    """While the LCD is drawn on a terminal, keys typed are not echoed into the box; on
    every exit path the terminal's modes come back and keys typed meanwhile are dropped
    (they would otherwise reach the shell after the command ends)."""
    stream = sys.stdin if stream is None else stream
    try:
        import termios

        fd = stream.fileno()
        saved = termios.tcgetattr(fd) if stream.isatty() else None
    except (ImportError, OSError, ValueError, AttributeError):
        saved = None
    if saved is None:
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ICANON)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcflush(fd, termios.TCIFLUSH)
        termios.tcsetattr(fd, termios.TCSANOW, saved)
