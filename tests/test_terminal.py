"""Terminal rendering of frames: box, glyph approximation, in-place updates, frame log."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from drivers.sim.clock import SimClock
from ui_lcd.bar import bar_row
from ui_lcd.frame import Frame
from ui_lcd.screens import Screens
from ui_lcd.terminal import FrameLog, TerminalLCD, glyph_char, render_box, text_lines


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def squeeze_frame(force_n: float = 6.3) -> Frame:
    return Screens("20x4").force_bar("grip.squeeze", force_n, 10.0, (5.0, 7.0), hand="left")


def test_terminal_box_snapshot_with_bar_glyphs() -> None:
    assert render_box(squeeze_frame()) == [
        "+--------------------+",
        "|Squeeze, left hand! |",
        "|As hard as you      |",
        "|comfortably can.    |",
        "|############=|      |",  # 63 % filled, band 50-70 %
        "+--------------------+",
    ]


def test_terminal_glyph_approximation_counts_lit_columns() -> None:
    for fill, expected in ((0.51, "-"), (0.52, "-"), (0.53, "="), (0.54, "="), (0.55, "#")):
        row, glyphs = bar_row(20, fill)
        assert text_lines(Frame((row,), glyphs))[0][10] == expected, fill
    row, glyphs = bar_row(20, 0.0, (0.3, 0.5))
    assert text_lines(Frame((row,), glyphs))[0] == "      |__|          "


def test_terminal_glyph_char_edge_cases() -> None:
    assert glyph_char((0,) * 8) == " "
    assert glyph_char((31, 0, 0, 0, 0, 0, 0, 0)) == "'"
    frame = Frame(("\x07 ",), {})
    assert text_lines(frame) == ["? "]  # a slot the frame does not define


def test_terminal_not_a_tty_prints_each_new_frame_once() -> None:
    out = io.StringIO()
    lcd = TerminalLCD(out, "20x4")
    a, b = squeeze_frame(6.3), squeeze_frame(2.0)
    for frame in (a, a, b, b, b):
        lcd.show(frame)
    assert lcd.frames_drawn == 2
    assert "\x1b" not in out.getvalue()
    assert out.getvalue().count("+--------------------+") == 4


def test_terminal_tty_redraws_in_place() -> None:
    out = Tty()
    lcd = TerminalLCD(out, "20x4")
    lcd.show(squeeze_frame(6.3))
    lcd.show(squeeze_frame(2.0))
    text = out.getvalue()
    assert text.count("\r\x1b[6A") == 1  # back up over the 6-line box once
    assert text.split("\r\x1b[6A")[1].splitlines()[4] == "|####      |__|      |"


def test_terminal_in_place_off_on_a_tty_appends() -> None:
    out = Tty()
    lcd = TerminalLCD(out, "20x4", in_place=False)
    lcd.show(squeeze_frame(6.3))
    lcd.show(squeeze_frame(2.0))
    assert "\x1b" not in out.getvalue()


def test_terminal_rejects_a_frame_of_another_size() -> None:
    lcd = TerminalLCD(io.StringIO(), "16x2")
    with pytest.raises(ValueError, match="20x4"):
        lcd.show(squeeze_frame())


def test_frame_log_appends_timestamped_new_frames(tmp_path: Path) -> None:
    clock = SimClock()
    path = tmp_path / "frames.txt"
    log = FrameLog(path, clock)
    s = Screens("16x2")
    log.show(s.prompt("session.welcome"))
    clock.sleep(1.25)
    log.show(s.prompt("session.welcome"))  # unchanged: not written again
    log.show(s.countdown("grip.rest", 15))
    assert path.read_text(encoding="utf-8") == (
        "t=0.000 s\n"
        "+----------------+\n"
        "|Hello!          |\n"
        "|Three questions |\n"
        "+----------------+\n"
        "t=1.250 s\n"
        "+----------------+\n"
        "|Rest            |\n"
        "|      15 s      |\n"
        "+----------------+\n"
    )
