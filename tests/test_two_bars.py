"""The two-bar screen (bilateral biofeedback): both bars in the LCD's 8 glyph slots, on a
20x4 and a 16x2, drawn through the real Display onto the simulated HD44780 and read back
the way the virtual patient reads them (DDRAM codes and CGRAM bitmaps); its bus cost."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from drivers.hd44780 import HD44780
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.hd44780 import SimHD44780
from station.protocols.motor.bilateral import BAND_REL
from station.sim.motor_bilateral import bars_seen
from station.ui import SessionUi, two_bar_band_rel, two_bar_centre
from ui_lcd.bar import marked_bar_row, marked_glyphs
from ui_lcd.display import Display
from ui_lcd.frame import SIZES, Frame
from ui_lcd.screens import TWO_BAR_BAND, Screens, TextOverflow

ADDRESS = 0x27


class Lcd:
    """A Display on a simulated HD44780 on a simulated 100 kHz bus; ``read_lcd`` is what
    the virtual patient reads (its ``__self__.chips.lcd`` the chip, as on a station)."""

    def __init__(self, size: str) -> None:
        cols, rows = SIZES[size]
        self.clock = SimClock()
        self.bus = SimI2CBus(self.clock, speed_hz=100_000, name="lcd")
        self.chip = SimHD44780(self.clock, cols, rows)
        self.bus.attach(ADDRESS, self.chip)
        self.display = Display(HD44780(self.bus, ADDRESS, cols, rows, clock=self.clock), self.clock)
        self.chips = SimpleNamespace(lcd=self.chip)
        self.screens = Screens(size)

    def lcd_lines(self) -> list[str]:
        return list(self.chip.lines())

    def seen(self) -> dict[str, Any]:
        seen = bars_seen(SimpleNamespace(read_lcd=self.lcd_lines))
        assert seen is not None
        return {side: (bar.tip_px, bar.band) for side, bar in seen.items()}


@pytest.mark.parametrize("size", ["20x4", "16x2"])
def test_two_bars_fit_both_sizes_and_the_patient_reads_them(size: str) -> None:
    lcd = Lcd(size)
    cells = lcd.screens.cols - 3  # a label and two marker cells
    key = "bilateral.hold"
    for fills in [(0.0, 0.0), (0.44, 0.58), (1.0, 0.07), (0.5, 1.3)]:
        frame = lcd.screens.two_bars(key, fills, (True, False))
        assert set(frame.glyphs) == {0, 1, 2, 3, 4}  # five of the eight slots, both bars
        lcd.display.show(frame)
        seen = lcd.seen()
        band = (TWO_BAR_BAND[0] * 5, (TWO_BAR_BAND[0] + TWO_BAR_BAND[1]) * 5)
        assert seen["left"] == (round(min(1.0, fills[0]) * cells * 5), band)
        assert seen["right"] == (round(min(1.0, fills[1]) * cells * 5), None)
    rows = lcd.chip.lines()
    assert rows[-2][0] == "L" and rows[-1][0] == "R"
    if size == "20x4":  # the text over the bars
        assert rows[0].strip() == "Keep both bars" and "[ ] marks" in rows[1]


def test_two_bars_a_16x2_has_no_row_for_their_text() -> None:
    with pytest.raises(TextOverflow, match="no row for text"):
        Screens("16x2").two_bars("grip.squeeze", (0.5, 0.5), hand="right")
    frame = Screens("16x2").two_bars("bilateral.hold", (0.5, 0.5))
    assert [line[0] for line in frame.lines] == ["L", "R"]


def test_two_bars_the_band_is_the_target_plus_minus_twenty_percent_on_both_sizes() -> None:
    """The protocol's in-band test and the screen's marks are the same band."""
    for size in SIZES:
        assert two_bar_band_rel(Screens(size)) == pytest.approx(BAND_REL)


@pytest.mark.parametrize("size", ["20x4", "16x2"])
def test_two_bars_a_force_at_its_target_sits_mid_band_whatever_the_hands_targets(
    size: str,
) -> None:
    """Each bar is scaled to its own hand's target, so the bands line up: a force at its
    target reads mid-band on both bars, and a bar without a target shows full scale."""
    lcd = Lcd(size)
    ui = SessionUi(lcd.screens, lcd.clock, buttons=None, display=lcd.display)  # type: ignore[arg-type]
    ui.biofeedback2("bilateral.hold", (1.4, 0.6), (1.4, 0.6), 20.0)
    seen = lcd.seen()
    mid = sum(seen["left"][1]) / 2
    assert seen["left"][1] == seen["right"][1]  # the bands line up
    assert seen["left"][0] == pytest.approx(mid, abs=1)
    assert seen["right"][0] == pytest.approx(mid, abs=1)
    # 20 % above a target: the band's top end
    ui.biofeedback2("bilateral.hold", (1.4 * 1.2, 0.6), (1.4, 0.6), 20.0)
    assert lcd.seen()["left"][0] == pytest.approx(seen["left"][1][1], abs=1)
    # the uninvolved hand leading: only its marks; a bar without a target shows full scale
    ui.biofeedback2("bilateral.lead", (1.4, 5.0), (1.4, None), 20.0, (True, False), hand="left")
    cells = lcd.screens.cols - 3
    assert lcd.seen()["right"] == (round(5.0 / 20.0 * cells * 5), None)
    assert two_bar_centre(lcd.screens) == pytest.approx((6 + 1.5) / cells)


def test_two_bars_moving_rewrites_character_codes_only() -> None:
    """Five fixed glyphs: after the first frame CGRAM is never written while the bars move,
    and a hold of both hands costs a few percent of a full redraw per update."""
    lcd = Lcd("20x4")
    screens = lcd.screens
    lcd.display.show(Frame(("a" * 20,) * 4))
    w0 = lcd.bus.stats.wire_s
    lcd.display.show(Frame(("b" * 20,) * 4))  # every cell rewritten
    full_s = lcd.bus.stats.wire_s - w0
    lcd.display.show(screens.two_bars("bilateral.hold", (0.44, 0.44)))
    glyphs, w0 = lcd.display.glyphs_written, lcd.bus.stats.wire_s
    updates = 40
    for i in range(updates):  # both hands holding near the middle of the band, wobbling
        left = 0.44 + 0.02 * math.sin(0.4 * i) + 0.01 * math.sin(2.7 * i)
        right = 0.44 + 0.02 * math.cos(0.5 * i) + 0.01 * math.sin(1.9 * i)
        lcd.display.show(screens.two_bars("bilateral.hold", (left, right)))
    per_update = (lcd.bus.stats.wire_s - w0) / updates
    assert lcd.display.glyphs_written == glyphs
    # measured: 3.35 ms an update, 4.9 % of a full redraw (69 ms): 50 updates a second
    # (the protocol's refresh) keep the LCD at 17 % of its bus
    assert per_update < 0.06 * full_s


def test_two_bars_row_checks_its_band() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        marked_bar_row(10, 0.5, (7, 3))
    with pytest.raises(ValueError, match="finite"):
        marked_bar_row(19, math.nan, TWO_BAR_BAND)
    row, glyphs = marked_bar_row(19, 1.0, TWO_BAR_BAND, show_band=False)
    assert row == "\x00" * 6 + " " + "\x00" * 3 + " " + "\x00" * 8 and glyphs == marked_glyphs()
