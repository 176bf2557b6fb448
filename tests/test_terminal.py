"""Terminal rendering of frames: box, glyph approximation, in-place updates, frame log."""

from __future__ import annotations

import io
import os
import select
import termios
from pathlib import Path

import pytest

from drivers.sim.clock import SimClock
from ui_lcd.bar import bar_row
from ui_lcd.frame import Frame
from ui_lcd.screens import Screens
from ui_lcd.terminal import (
    FrameLog,
    ProgressBar,
    TerminalLCD,
    Transcript,
    glyph_char,
    keys_unechoed,
    render_box,
    text_lines,
)


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


def test_transcript_one_line_per_screen_whose_words_change() -> None:
    out, t = io.StringIO(), [0.0]
    transcript = Transcript(out, lambda: t[0])
    transcript.show(squeeze_frame(2.0))
    t[0] = 0.25
    transcript.show(squeeze_frame(6.3))  # only the bar moved: the same screen
    t[0] = 1234.56
    transcript.show(Screens("20x4").prompt("session.nothing_today"))
    first, second = out.getvalue().splitlines()
    assert first == "t=    0.0 s  Squeeze, left hand! / As hard as you / comfortably can."
    assert second.startswith("t= 1234.6 s  ") and "|" not in second
    assert transcript.lines_written == 2


def test_progress_bar_in_place_on_a_tty_two_lines_elsewhere() -> None:
    tty = Tty()
    bar = ProgressBar(tty, "calibrating")
    for done in range(0, 14):
        bar.update(done, 13)
    bar.finish()
    shown = tty.getvalue()
    assert shown.count("\r") == 14 and "\n" not in shown[:-1]  # one line, redrawn
    assert shown.endswith("calibrating [" + "#" * 30 + "] 100 % done\n")
    log = io.StringIO()
    bar = ProgressBar(log, "calibrating")
    for done in range(0, 14):
        bar.update(done, 13)
    bar.finish()
    assert log.getvalue() == "calibrating ...\ncalibrating: done\n"


def test_keys_unechoed_on_a_terminal_then_modes_back_and_typed_keys_dropped() -> None:
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "r") as stream:
            before = termios.tcgetattr(slave)
            assert before[3] & termios.ECHO
            with keys_unechoed(stream):
                assert not termios.tcgetattr(slave)[3] & (termios.ECHO | termios.ICANON)
                os.write(master, b"5 ls\r")  # typed while the LCD is drawn
                select.select([slave], [], [], 1.0)
            assert termios.tcgetattr(slave) == before
            assert select.select([slave], [], [], 0.0)[0] == []  # nothing left for a shell
    finally:
        os.close(master)
        os.close(slave)


def test_keys_unechoed_is_a_no_op_off_a_terminal() -> None:
    with keys_unechoed(io.StringIO()):
        pass
