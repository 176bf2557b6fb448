"""Screens: pure functions of (size, language, state) to :class:`~ui_lcd.frame.Frame`.

Nothing here touches hardware; the Display shows the frames. Every text comes from
:mod:`ui_lcd.messages` by key. Layout rules, the same on both sizes:

* text is word-wrapped; a word is never cut. Each ``"\\n"`` in a message starts a new row.
  Text that does not fit raises :class:`TextOverflow`: that is a catalogue bug, which
  ``tests/test_messages.py`` catches for every message, never a silent truncation.
* screens with a control row (countdown, progress, force bar, rating, yes/no, two-choice,
  error) keep the last row for it and wrap the text over the rows above.
* on a 16x2 the catalogue's ``"16x2"`` variants are used where they exist.

Buttons per screen (documented here because the screen shows them):

=============  =================================================================
screen         buttons
=============  =================================================================
rating         starts unset; Left lowers, Right raises (the first press shows 0;
               stops at 0 and 10), OK confirms once a value is shown
yes/no         Left = No, Right = Yes, OK confirms the selection
two-choice     Left or Right answers at once (forced choice: no OK, so the
               response time is the press)
menu           Right = next item, Left = previous (wrap around), OK chooses,
               Back leaves
=============  =================================================================
"""

from __future__ import annotations

import re
from typing import Any

from ui_lcd import messages
from ui_lcd.bar import bar_row, marked_bar_row
from ui_lcd.frame import SIZES, Frame
from ui_lcd.widgets import Menu, Rating, YesNo

#: Technician codes: letter, dash, 2-5 letters/digits, optional dash and 2-3 digits
#: ("E-BUS-121", "E-SW-01", "E-GLOVE-05").
CODE_RE = re.compile(r"^[A-Z]-[A-Z0-9]{2,5}(-[0-9]{2,3})?$")
#: The two-bar screen's band, ``(first, count)`` in bar cells: the same cells on both sizes
#: (17 bar cells on a 20x4, 13 on a 16x2), so a target at the band's middle reads the same.
TWO_BAR_BAND = (6, 3)
#: Label keys of the two bars, top row first (one character each).
TWO_BAR_LABELS = ("bars.left", "bars.right")


class TextOverflow(ValueError):
    """A text does not fit its screen without cutting: a catalogue bug, not a run-time
    condition to hide."""


def wrap(text: str, cols: int) -> list[str]:
    """Word-wrap ``text`` into rows of at most ``cols``; ``"\\n"`` starts a new row.

    Raises :class:`TextOverflow` for a word longer than a row.
    """
    rows: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if len(word) > cols:
                raise TextOverflow(f"word {word!r} is longer than {cols} columns")
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= cols:
                line += " " + word
            else:
                rows.append(line)
                line = word
        rows.append(line)
    return rows


def fit(text: str, cols: int, rows: int) -> list[str]:
    """``wrap`` and check it fits in ``rows``; raises :class:`TextOverflow` if not."""
    lines = wrap(text, cols)
    if len(lines) > rows:
        raise TextOverflow(
            f"{len(lines)} rows needed, {rows} available at {cols} columns: {text!r}"
        )
    return lines


def _frame(
    lines: list[str], cols: int, rows: int, glyphs: dict[int, tuple[int, ...]] | None = None
) -> Frame:
    padded = [line.ljust(cols) for line in lines] + [" " * cols] * (rows - len(lines))
    return Frame(tuple(padded), dict(glyphs or {}))


def choice_row(cols: int, left: str, right: str, selected: str | None, hint: str = "") -> str:
    """``< Left   Right >``; the selected side in brackets (``<[No]  OK  Yes >``); ``hint``
    centred between them when there is room for it."""
    lt = f"<[{left}]" if selected == "left" else f"< {left}"
    rt = f"[{right}]>" if selected == "right" else f"{right} >"
    gap = cols - len(lt) - len(rt)
    if gap < 1:
        raise TextOverflow(f"choice row {lt!r} .. {rt!r} does not fit {cols} columns")
    middle = hint.center(gap) if hint and gap >= len(hint) + 2 else " " * gap
    return lt + middle + rt


class Screens:
    """Frames for one display size (``"20x4"`` or ``"16x2"``) and language."""

    def __init__(self, size: str = "20x4", lang: str = "en") -> None:
        if size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}; got {size!r}")
        messages.entry("ui.ok", lang)  # raises KeyError for an unknown language
        self.size = size
        self.lang = lang
        self.cols, self.rows = SIZES[size]

    def __repr__(self) -> str:
        return f"Screens(size={self.size!r}, lang={self.lang!r})"

    def text(self, key: str, **params: Any) -> str:
        return messages.text(key, self.lang, self.size, **params)

    def _with_control_row(
        self, key: str, control: str, glyphs: dict[int, tuple[int, ...]] | None = None, **p: Any
    ) -> Frame:
        lines = fit(self.text(key, **p), self.cols, self.rows - 1)
        lines += [""] * (self.rows - 1 - len(lines))
        return _frame([*lines, control], self.cols, self.rows, glyphs)

    def _line(self, key: str, **params: Any) -> str:
        line = self.text(key, **params)
        if len(line) > self.cols:
            raise TextOverflow(f"{key!r} is {len(line)} characters, the row {self.cols}")
        return line

    # -- plain text ----------------------------------------------------------------------

    def prompt(self, key: str, **params: Any) -> Frame:
        """Title and body of a catalogue message over every row (also rest-over,
        encouragement and result messages)."""
        return _frame(fit(self.text(key, **params), self.cols, self.rows), self.cols, self.rows)

    # -- screens with a control row ------------------------------------------------------

    def countdown(self, key: str, seconds: int, **params: Any) -> Frame:
        """Text, then the seconds left centred ("15 s")."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        row = self._line("ui.seconds", seconds=seconds).center(self.cols)
        return self._with_control_row(key, row, **params)

    def progress(self, key: str, done: int, total: int, **params: Any) -> Frame:
        """Text (given ``done`` and ``total`` too), then a bar of done/total."""
        if total < 1 or not 0 <= done <= total:
            raise ValueError(f"progress needs 0 <= done <= total and total >= 1: {done}/{total}")
        row, glyphs = bar_row(self.cols, done / total)
        return self._with_control_row(key, row, glyphs, done=done, total=total, **params)

    def force_bar(
        self,
        key: str,
        force_n: float,
        full_scale_n: float,
        band_n: tuple[float, float] | None = None,
        **params: Any,
    ) -> Frame:
        """Text, then the biofeedback bar: ``force_n`` of ``full_scale_n`` with an optional
        target band in newtons (slot plan in :mod:`ui_lcd.bar`). Raises ``ValueError`` for
        ``full_scale_n <= 0`` or a non-finite force (a fault is never drawn as a reading)."""
        if not full_scale_n > 0:
            raise ValueError(f"full_scale_n must be > 0, got {full_scale_n}")
        band = None if band_n is None else (band_n[0] / full_scale_n, band_n[1] / full_scale_n)
        row, glyphs = bar_row(self.cols, force_n / full_scale_n, band)
        return self._with_control_row(key, row, glyphs, **params)

    def two_bars(
        self,
        key: str,
        fills: tuple[float, float],
        marked: tuple[bool, bool] = (True, True),
        **params: Any,
    ) -> Frame:
        """Text, then two labelled bars (left hand above, right below) on the last two rows,
        each ``fills`` (0..1 of its own scale) with its band (:data:`TWO_BAR_BAND`) marked
        by ``[`` ``]`` where ``marked`` (:func:`~ui_lcd.bar.marked_bar_row`: fixed glyphs,
        so two bars fit the 8 CGRAM slots). A 16x2 has no row for text: its variant of
        ``key`` must be empty. Raises :class:`TextOverflow` for text or a label that does
        not fit, ``ValueError`` for a non-finite fill."""
        text_rows = self.rows - 2
        text = self.text(key, **params)
        if text.strip() and text_rows == 0:
            raise TextOverflow(f"{key!r}: a {self.size} has no row for text above two bars")
        lines = fit(text, self.cols, text_rows) if text.strip() else []
        lines += [""] * (text_rows - len(lines))
        glyphs: dict[int, tuple[int, ...]] = {}
        for label_key, fill, mark in zip(TWO_BAR_LABELS, fills, marked, strict=True):
            label = self._line(label_key)
            if len(label) != 1:
                raise TextOverflow(f"{label_key!r} must be one character, got {label!r}")
            row, glyphs = marked_bar_row(self.cols - 1, fill, TWO_BAR_BAND, mark)
            lines.append(label + row)
        return _frame(lines, self.cols, self.rows, glyphs)

    def rating(self, key: str, state: Rating, **params: Any) -> Frame:
        """Question, then ``<  3 >`` centred with ``OK`` at the right; unset, ``< -- >``
        and no ``OK`` (it does nothing until the patient has chosen a value)."""
        shown = "--" if state.value is None else f"{state.value:>2}"
        group = f"< {shown} >"
        row = " " * ((self.cols - len(group)) // 2) + group
        hint = "" if state.value is None else self._line("ui.ok")
        room = self.cols - len(row)
        row += hint.rjust(room) if room >= len(hint) + 1 else " " * room
        return self._with_control_row(key, row, **params)

    def yes_no(self, key: str, state: YesNo, **params: Any) -> Frame:
        """Question, then ``< No   Yes >``; the selection in brackets with ``OK`` between."""
        selected = None if state.selected is None else ("right" if state.selected else "left")
        hint = self._line("ui.ok") if selected else ""
        row = choice_row(self.cols, self.text("ui.no"), self.text("ui.yes"), selected, hint)
        return self._with_control_row(key, row, **params)

    def two_choice(
        self, key: str, left: str = "choice.left", right: str = "choice.right", **params: Any
    ) -> Frame:
        """Question, then ``< Left   Right >`` (label keys ``left``/``right``)."""
        row = choice_row(self.cols, self.text(left), self.text(right), None)
        return self._with_control_row(key, row, **params)

    def error(self, key: str, code: str) -> Frame:
        """What the patient should do, then ``Code E-BUS-02`` for the technician."""
        if not CODE_RE.match(code):
            raise ValueError(f"error code must look like 'E-BUS-02', got {code!r}")
        row = self._line("ui.code", code=code).rjust(self.cols)
        return self._with_control_row(key, row)

    # -- menu ----------------------------------------------------------------------------

    def menu(self, state: Menu, title: str = "menu.title") -> Frame:
        """Title row, then the items with a ``>`` cursor, scrolled to keep it visible."""
        visible = self.rows - 1
        start = max(0, min(state.index - visible + 1, len(state.items) - visible))
        start = max(0, min(start, state.index))
        lines = [self._line(title)]
        for i in range(start, min(len(state.items), start + visible)):
            label = self.text(state.items[i])
            if len(label) > self.cols - 2:
                raise TextOverflow(f"menu item {state.items[i]!r} is longer than {self.cols - 2}")
            lines.append(("> " if i == state.index else "  ") + label)
        return _frame(lines, self.cols, self.rows)

    # -- the catalogue check -------------------------------------------------------------

    def sample(self, key: str) -> Frame:
        """Render ``key`` in its layout with its longest declared parameters and the widest
        control row. Used by the catalogue test; raises :class:`TextOverflow` on overflow."""
        msg = messages.entry(key, self.lang)
        p = dict(msg.longest)
        layout = msg.layout
        if layout == "prompt":
            return self.prompt(key, **p)
        if layout == "countdown":
            longest_s = messages.entry("ui.seconds", self.lang).longest["seconds"]
            return self.countdown(key, int(longest_s), **p)
        if layout == "progress":
            return self.progress(key, int(p.pop("done")), int(p.pop("total")), **p)
        if layout == "bar":
            return self.force_bar(key, 5.0, 10.0, (4.0, 6.0), **p)
        if layout == "bars":
            return self.two_bars(key, (0.45, 1.0), (True, False), **p)
        if layout == "rating":
            return self.rating(key, Rating(10), **p)
        if layout == "yes_no":
            return self.yes_no(key, YesNo(selected=True), **p)
        if layout == "choice":
            return self.two_choice(key, "choice.first", "choice.second", **p)
        if layout == "error":
            return self.error(key, str(messages.entry("ui.code", self.lang).longest["code"]))
        if layout == "menu_title":
            return self.menu(Menu(("menu.settings",)), title=key)
        if layout == "menu_item":
            return self.menu(Menu((key,)))
        if layout == "choice_label":
            return self.two_choice("sense.which_stronger", key, key)
        if layout == "yes_no_label":
            label = self.text(key)
            rows = [
                choice_row(self.cols, label, label, side, self.text("ui.ok"))
                for side in ("left", "right")
            ]
            return _frame(rows[: self.rows], self.cols, self.rows)
        if layout == "line":
            return _frame([self._line(key, **p)], self.cols, self.rows)
        raise ValueError(f"message {key!r} has unknown layout {layout!r}")
