"""Display: frames reach the simulated LCD's DDRAM, only changes are written, glyphs go to
CGRAM only when they change, desync and bus faults are repaired by a full redraw."""

from __future__ import annotations

import errno

import pytest

from drivers.hd44780 import HD44780
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.hd44780 import SimHD44780
from ui_lcd.bench import bar_line, measure
from ui_lcd.display import Display
from ui_lcd.frame import Frame

ADDR = 0x27
E, RS = 0x04, 0x01


class Rig:
    def __init__(self, cols: int = 20, rows: int = 4, resync_s: float = 30.0) -> None:
        self.clock = SimClock()
        self.bus = SimI2CBus(self.clock, speed_hz=100_000, name="lcd")
        self.chip = SimHD44780(self.clock, cols, rows)
        self.bus.attach(ADDR, self.chip)
        self.lcd = HD44780(self.bus, ADDR, cols, rows, clock=self.clock)
        self.display = Display(self.lcd, self.clock, resync_s=resync_s)

    def writes(self) -> int:
        return self.bus.stats.transactions

    def instructions(self, start: int = 0) -> list[tuple[int, int]]:
        """(RS, byte) pairs decoded from the E pulses logged since ``start``, skipping the
        four 8-bit nibbles of an (re)initialisation."""
        nibbles = []
        for tx in list(self.bus.log)[start:]:
            b = tx.segments[0].data[0]
            if b & E:
                nibbles.append((b & RS, b >> 4))
        out = []
        i = 0
        while i < len(nibbles):
            if nibbles[i : i + 4] == [(0, 3), (0, 3), (0, 3), (0, 2)]:
                i += 4
                continue
            out.append((nibbles[i][0], nibbles[i][1] << 4 | nibbles[i + 1][1]))
            i += 2
        return out


def frame(*lines: str, glyphs: dict[int, tuple[int, ...]] | None = None) -> Frame:
    return Frame(tuple(lines), glyphs or {})


F20 = frame(
    "Grip training   3/10",
    "Squeeze the pad     ",
    "until the bar fills ",
    "OK: start  Back:menu",
)
F16 = frame("Rest 30 s       ", "Back: menu      ")
HEART = (0x00, 0x0A, 0x1F, 0x1F, 0x0E, 0x04, 0x00, 0x00)
SMILE = (0x00, 0x0A, 0x00, 0x00, 0x11, 0x0E, 0x00, 0x00)


@pytest.mark.parametrize(("cols", "rows", "f"), [(20, 4, F20), (16, 2, F16)])
def test_display_snapshot_reads_back_from_ddram(cols: int, rows: int, f: Frame) -> None:
    rig = Rig(cols, rows)
    rig.display.show(f)
    assert rig.chip.lines() == list(f.lines)
    changed = list(f.lines)
    changed[-1] = changed[-1][:-3] + "xyz"
    rig.display.show(Frame(tuple(changed)))
    assert rig.chip.lines() == changed
    assert rig.chip.timing_violations == 0 and rig.chip.busy_violations == 0


def test_display_first_show_writes_only_non_blank_cells() -> None:
    rig = Rig()
    rig.display.show(frame("Hi".ljust(20), " " * 20, " " * 18 + "ok", " " * 20))
    assert rig.display.cells_written == 4 and rig.display.full_redraws == 0
    assert rig.chip.lines()[2].endswith("ok")


def test_display_writes_only_changed_cells() -> None:
    rig = Rig()
    rig.display.show(F20)
    before, cells = rig.writes(), rig.display.cells_written
    rig.display.show(F20)
    assert rig.writes() == before  # nothing changed, nothing sent
    lines = list(F20.lines)
    lines[0] = lines[0][:16] + "4/10"
    rig.display.show(Frame(tuple(lines)))
    assert rig.display.cells_written - cells == 1
    # one run: RS set-up, DDRAM address (4), RS set-up, one character (4)
    assert rig.writes() - before == rig.lcd.run_overhead_bytes + rig.lcd.bytes_per_char
    assert rig.chip.lines()[0] == "Grip training   4/10"


def test_display_merges_runs_across_one_cell_gap_only() -> None:
    rig = Rig()
    rig.display.show(F20)
    base = list(F20.lines)
    one_gap = base.copy()
    one_gap[1] = "Sq#e#ze the pad     "  # cells 2 and 4 change: one run of 3 is cheaper
    n0, c0 = rig.writes(), rig.display.cells_written
    rig.display.show(Frame(tuple(one_gap)))
    assert rig.display.cells_written - c0 == 3
    assert rig.writes() - n0 == 6 + 3 * 4
    two_gap = base.copy()
    two_gap[1] = "Sq#ee#e the pad     "  # cells 2 and 5: two runs beat rewriting 2 cells
    rig.display.show(F20)
    n0, c0 = rig.writes(), rig.display.cells_written
    rig.display.show(Frame(tuple(two_gap)))
    assert rig.display.cells_written - c0 == 2
    assert rig.writes() - n0 == 2 * (6 + 4)
    assert rig.chip.lines()[1] == two_gap[1]


def test_display_glyph_change_rewrites_cgram_only() -> None:
    rig = Rig()
    lines = ("\x00 Great!".ljust(20), " " * 20, " " * 20, "\x00".rjust(20))
    rig.display.show(Frame(lines, {0: HEART}))
    assert rig.chip.glyph(0) == HEART and rig.chip.lines()[0][0] == "\x00"
    n0, c0, g0 = rig.writes(), rig.display.cells_written, rig.display.glyphs_written
    rig.display.show(Frame(lines, {0: HEART}))
    assert rig.writes() == n0  # same bitmap: no CGRAM write
    rig.display.show(Frame(lines, {0: SMILE}))
    assert rig.chip.glyph(0) == SMILE
    assert rig.display.cells_written == c0 and rig.display.glyphs_written == g0 + 1
    # HEART -> SMILE differs in rows 2..5: set-up, CGRAM address, set-up, 4 rows
    assert rig.writes() - n0 == 1 + 4 + 1 + 4 * 4
    assert rig.chip.lines()[3][-1] == "\x00"  # both cells now draw the new glyph


def test_display_lost_nibble_repaired_by_periodic_resync() -> None:
    rig = Rig(resync_s=5.0)
    rig.display.show(F20)
    rig.chip.drop_next_nibble()
    garbled = list(F20.lines)
    garbled[1] = "Press OK to begin   "
    rig.display.show(Frame(tuple(garbled)))
    assert rig.chip.lines() != garbled  # the display is out of step
    rig.clock.sleep(4.0)
    rig.display.show(Frame(tuple(garbled)))
    assert rig.chip.lines() != garbled  # the shadow believes it is right: nothing sent
    rig.clock.sleep(1.0)
    start = len(rig.bus.log)
    rig.display.show(Frame(tuple(garbled)))
    assert rig.chip.lines() == garbled
    assert rig.display.resyncs == 1 and rig.display.full_redraws == 1
    # flicker-free: no clear and no display-off during the resync
    assert (0, 0x01) not in rig.instructions(start)
    assert (0, 0x08) not in rig.instructions(start)


def test_display_resync_rewrites_glyphs_and_frame() -> None:
    rig = Rig()
    f = Frame(("\x01 bar".ljust(20), *F20.lines[1:]), {1: HEART})
    rig.display.show(f)
    rig.chip.drop_next_nibble()
    rig.lcd.create_char(1, SMILE)  # garbage reaches CGRAM and DDRAM behind the shadow
    assert rig.chip.glyph(1) != HEART or rig.chip.lines() != list(f.lines)
    rig.display.resync()
    assert rig.chip.glyph(1) == HEART and rig.chip.lines() == list(f.lines)
    assert rig.chip.busy_violations == 0


def test_display_lcd_absent_at_init_raises_121_then_recovers() -> None:
    rig = Rig()
    rig.chip.unplug()
    with pytest.raises(OSError) as exc:
        rig.display.show(F20)
    assert exc.value.errno == errno.EREMOTEIO
    rig.chip.plug()
    rig.display.show(F20)
    assert rig.chip.lines() == list(F20.lines)


@pytest.mark.parametrize("nth", [1, 2, 3, 5, 8, 13, 21])
def test_display_eio_mid_update_then_full_redraw(nth: int) -> None:
    rig = Rig()
    rig.display.show(F20)
    new = frame("Trial 4 of 10       ", "Which pad is rougher", "Left or Right?      ", " " * 20)
    rig.bus.fail_nth(nth, errno.EIO)
    with pytest.raises(OSError) as exc:
        rig.display.show(new)
    assert exc.value.errno == errno.EIO
    redraws = rig.display.full_redraws
    rig.display.show(new)
    assert rig.display.full_redraws == redraws + 1 and rig.display.resyncs == 1
    assert rig.chip.lines() == list(new.lines)


def test_display_resync_due_only_after_period() -> None:
    rig = Rig(resync_s=10.0)
    rig.display.show(F20)
    rig.clock.sleep(9.0)
    rig.display.show(F20)
    assert rig.display.resyncs == 0
    rig.clock.sleep(1.0)
    rig.display.show(F20)
    assert rig.display.resyncs == 1 and rig.chip.lines() == list(F20.lines)


def test_display_backlight() -> None:
    rig = Rig()
    rig.display.show(F20)
    rig.display.backlight(False)
    assert not rig.chip.backlight and rig.chip.lines() == list(F20.lines)
    rig.display.backlight(True)
    assert rig.chip.backlight


@pytest.mark.parametrize(("cols", "rows", "row"), [(20, 4, 1), (16, 2, 0)])
def test_display_close_shows_message_and_backlight_off(cols: int, rows: int, row: int) -> None:
    rig = Rig(cols, rows)
    rig.display.show(Frame.blank(cols, rows))
    rig.display.show(Frame(tuple("x" * cols for _ in range(rows))))
    rig.display.close("Station off")
    lines = rig.chip.lines()
    assert lines[row] == "Station off".center(cols)
    assert all(line == " " * cols for i, line in enumerate(lines) if i != row)
    assert not rig.chip.backlight and rig.display.close_error is None
    rig.display.close("again")  # idempotent: nothing sent
    assert rig.chip.lines()[row] == "Station off".center(cols)
    with pytest.raises(RuntimeError):
        rig.display.show(F20)


def test_display_close_on_bus_fault_never_raises() -> None:
    rig = Rig()
    rig.display.show(F20)
    rig.bus.nack(ADDR)
    rig.display.close("Station off")
    assert isinstance(rig.display.close_error, OSError)
    assert rig.display.close_error.errno == errno.EREMOTEIO


def test_display_rejects_wrong_size_frame() -> None:
    rig = Rig()
    with pytest.raises(ValueError, match="16x2"):
        rig.display.show(F16)
    with pytest.raises(ValueError, match="resync_s"):
        Display(rig.lcd, rig.clock, resync_s=0)


def test_display_bar_line_fill() -> None:
    line, glyphs = bar_line(13, 20, fixed=True)
    assert line == "\x04\x04\x02".ljust(20) and glyphs[2][0] == 0b11100
    line, glyphs = bar_line(10, 20, fixed=False)
    assert line == "\x00\x00".ljust(20) and glyphs[0][0] == 0x1F


@pytest.mark.parametrize("size", [(20, 4), (16, 2)])
def test_display_bench_figures_leave_display_consistent(size: tuple[int, int]) -> None:
    rig = Rig(*size)
    figs = measure(rig.display, lambda: rig.bus.stats.wire_s, rig.writes)
    assert figs["one_char"]["port_writes"] == 10
    cells = size[0] * size[1]
    assert figs["full_redraw"]["port_writes"] == size[1] * 6 + cells * 4
    assert figs["full_redraw"]["wire_ms"] == pytest.approx(figs["full_redraw"]["port_writes"] * 0.2)
    if size == (20, 4):
        assert figs["bar_fixed_glyphs"]["ratio_to_full"] <= 0.10
    assert figs["max_rate_hz"]["bar_fixed_glyphs"] >= 10
    assert rig.chip.timing_violations == 0 and rig.chip.busy_violations == 0
    assert rig.chip.lines()[0] == "Squeeze".center(size[0])
