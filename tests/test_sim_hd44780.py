"""The simulated PCF8574 + HD44780 against the datasheet facts of HARDWARE.md §10 and §12,
driven by raw port bytes (and by the driver where a whole sequence is the point)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.hd44780 import HD44780
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.hd44780 import SimHD44780

ADDR = 0x27
RS, RW, E, BL = 0x01, 0x02, 0x04, 0x08


class Port:
    """Raw access to the backpack: one byte per transaction, nibbles as data|E, data."""

    def __init__(self, cols: int = 20, rows: int = 4, multibyte: str = "ti") -> None:
        self.clock = SimClock()
        self.bus = SimI2CBus(self.clock, speed_hz=100_000, name="lcd")
        self.chip = SimHD44780(self.clock, cols, rows, multibyte=multibyte)
        self.bus.attach(ADDR, self.chip)

    def out(self, *values: int) -> None:
        for v in values:
            self.bus.writeto(ADDR, bytes([v]))

    def nibble(self, n: int, rs: int = 0) -> None:
        v = (n << 4) | BL | rs
        self.out(v, v | E, v)

    def byte(self, b: int, rs: int = 0) -> None:
        self.nibble(b >> 4, rs)
        self.nibble(b & 0xF, rs)

    def to_4bit(self) -> None:
        """Figure 24 by hand, after the power-up wait."""
        self.out(0xFF & ~E)  # only E falls from the power-up 0xFF: a clean read cycle
        self.clock.sleep(0.05)
        self.nibble(0x3)
        self.clock.sleep(0.005)
        self.nibble(0x3)
        self.clock.sleep(0.001)
        self.nibble(0x3)
        self.nibble(0x2)
        self.byte(0x28)
        self.byte(0x0C)
        self.byte(0x06)
        assert self.chip.address_counter == 1  # the read cycle moved it
        self.byte(0x01)
        self.clock.sleep(0.002)

    def text(self, s: str) -> None:
        for ch in s:
            self.byte(ord(ch), RS)


def test_sim_hd44780_power_up_state() -> None:
    p = Port()
    buf = bytearray(2)
    p.bus.readfrom_into(ADDR, buf)
    assert buf == b"\xff\xff"
    assert p.chip.backlight and not p.chip.four_bit and not p.chip.display_on
    assert p.chip.ddram == bytearray(b" " * 80)
    assert p.chip.lines() == [" " * 20] * 4


def test_sim_hd44780_read_returns_port() -> None:
    p = Port()
    p.out(0x5A)
    buf = bytearray(1)
    p.bus.readfrom_into(ADDR, buf)
    assert buf[0] == 0x5A


def test_sim_hd44780_decodes_on_falling_edge_only() -> None:
    p = Port()
    p.to_4bit()
    n = p.chip.nibbles
    p.out(0x40 | BL | RS, 0x40 | BL | RS | E)  # set-up and rising edge: nothing yet
    assert p.chip.nibbles == n
    p.out(0x40 | BL | RS)  # falling edge
    assert p.chip.nibbles == n + 1
    p.nibble(0x1, RS)
    assert p.chip.lines()[0][0] == "A"


def test_sim_hd44780_latches_levels_held_while_e_high() -> None:
    p = Port()
    p.to_4bit()
    p.out(0x40 | BL | RS, 0x40 | BL | RS | E, 0x70 | BL | RS)  # data changes as E falls
    assert p.chip.timing_violations == 1
    p.nibble(0x2, RS)
    assert p.chip.lines()[0][0] == "B"  # 0x42: the nibble held while E was high


def test_sim_hd44780_counts_rs_changing_with_e_rise() -> None:
    p = Port()
    p.to_4bit()
    assert p.chip.timing_violations == 0
    p.out(0x40 | BL | RS | E)  # RS goes high in the same byte as E rises (tAS)
    assert p.chip.timing_violations == 1


def test_sim_hd44780_eight_bit_nibbles_are_whole_instructions() -> None:
    p = Port()
    p.clock.sleep(0.05)
    p.nibble(0x3)
    assert not p.chip.four_bit and p.chip.two_lines  # 0x3F: D0-D3 pulled up, N = 1
    p.clock.sleep(0.005)
    p.nibble(0x3)
    p.clock.sleep(0.001)
    p.nibble(0x3)
    p.nibble(0x2)
    assert p.chip.four_bit
    n = p.chip.nibbles
    p.nibble(0x0)  # half of 0x08 (display off): nothing executed yet
    p.nibble(0xC)  # 0x0C display on
    assert p.chip.display_on and p.chip.nibbles == n + 2
    assert p.chip.busy_violations == 0


def test_sim_hd44780_power_up_busy_40ms() -> None:
    p = Port()
    p.nibble(0x3)  # 0.6 ms after power-up: ignored
    assert p.chip.busy_violations == 1 and not p.chip.two_lines


def test_sim_hd44780_figure_24_wait_enforced() -> None:
    p = Port()
    p.clock.sleep(0.05)
    p.nibble(0x3)
    p.nibble(0x3)  # 0.4 ms later, 4.1 ms needed
    assert p.chip.busy_violations == 1


def test_sim_hd44780_clear_busy_then_ignored() -> None:
    p = Port()
    p.to_4bit()
    p.text("xy")
    p.byte(0x01)  # clear: 1.52 ms
    p.text("A")  # 0.4 ms later: not executed
    assert p.chip.busy_violations == 1
    assert p.chip.lines()[0] == " " * 20
    p.clock.sleep(0.002)
    p.text("A")
    assert p.chip.lines()[0][0] == "A"


def test_sim_hd44780_ddram_20x4_row_map_and_overflow_into_row_2() -> None:
    p = Port(20, 4)
    p.to_4bit()
    p.byte(0x80)
    p.text("0123456789abcdefghij" + "KLMN")  # past the end of row 0 ...
    lines = p.chip.lines()
    assert lines[0] == "0123456789abcdefghij"
    assert lines[2].startswith("KLMN")  # ... lands in row 2 (0x14)
    assert lines[1] == " " * 20
    for addr, row in ((0x40, 1), (0x54, 3)):
        p.byte(0x80 | addr)
        p.text(f"row{row}")
    assert p.chip.lines()[1].startswith("row1") and p.chip.lines()[3].startswith("row3")


def test_sim_hd44780_ddram_wraps_0x27_to_0x40() -> None:
    p = Port(16, 2)
    p.to_4bit()
    p.byte(0x80 | 0x26)
    p.text("abc")
    assert p.chip.ddram[0x26] == ord("a") and p.chip.ddram[0x27] == ord("b")
    assert p.chip.lines()[1][0] == "c" and p.chip.address_counter == 0x41
    p.byte(0x80 | 0x67)
    p.text("de")
    assert p.chip.lines()[0][0] == "e"  # 0x67 -> 0x00


def test_sim_hd44780_ddram_16x2_rows_and_hidden_columns() -> None:
    p = Port(16, 2)
    p.to_4bit()
    p.byte(0x80 | 0x0E)
    p.text("XYZ")  # Z at 0x10: in DDRAM, not visible on a 16x2
    p.byte(0x80 | 0x40)
    p.text("two")
    assert p.chip.lines() == ["              XY", "two             "]
    assert p.chip.ddram[0x10] == ord("Z")


def test_sim_hd44780_cgram_glyph_and_mirror() -> None:
    p = Port()
    p.to_4bit()
    rows = [0x00, 0x0A, 0x1F, 0x1F, 0x0E, 0x04, 0x00, 0xFF]
    p.byte(0x40 | 2 << 3)
    for r in rows:
        p.byte(r, RS)
    assert p.chip.glyph(2) == (0x00, 0x0A, 0x1F, 0x1F, 0x0E, 0x04, 0x00, 0x1F)
    assert p.chip.address_counter == 0x18 and p.chip.in_cgram
    p.byte(0x80)
    p.byte(0x02, RS)
    p.byte(0x0A, RS)  # 0x0A mirrors glyph 2
    assert p.chip.lines()[0][:2] == "\x02\x02"
    with pytest.raises(ValueError):
        p.chip.glyph(8)


def test_sim_hd44780_cgram_address_wraps_at_64() -> None:
    p = Port()
    p.to_4bit()
    p.byte(0x40 | 0x3F)
    p.byte(0x11, RS)
    p.byte(0x12, RS)
    assert p.chip.cgram[0x3F] == 0x11 and p.chip.cgram[0] == 0x12


def test_sim_hd44780_entry_decrement_display_shift_and_home() -> None:
    p = Port()
    p.to_4bit()
    p.byte(0x04)  # entry: decrement, no shift
    p.byte(0x80 | 0x05)
    p.text("abc")
    assert p.chip.lines()[0][3:6] == "cba"
    p.byte(0x18)  # display shift left
    assert p.chip.lines()[0][2:5] == "cba"
    p.byte(0x02)  # home: shift undone, DDRAM kept
    p.clock.sleep(0.002)
    assert p.chip.lines()[0][3:6] == "cba" and p.chip.address_counter == 0


def test_sim_hd44780_display_off_keeps_ddram() -> None:
    p = Port()
    p.to_4bit()
    p.text("on")
    p.byte(0x08)
    assert p.chip.lines()[0] == " " * 20 and p.chip.ddram_lines()[0][:2] == "on"


def test_sim_hd44780_backlight_bit() -> None:
    p = Port()
    p.out(0x00)
    assert not p.chip.backlight
    p.out(BL)
    assert p.chip.backlight


def test_sim_hd44780_multibyte_ti_ignores_after_first() -> None:
    p = Port(multibyte="ti")
    p.to_4bit()
    v = 0x40 | BL | RS
    n = p.chip.nibbles
    p.bus.writeto(ADDR, bytes([v, v | E, v]))
    assert p.chip.nibbles == n and p.chip.port == v


def test_sim_hd44780_multibyte_nxp_latches_each() -> None:
    p = Port(multibyte="nxp")
    p.to_4bit()
    v, w = 0x40 | BL | RS, 0x10 | BL | RS
    p.bus.writeto(ADDR, bytes([v, v | E, v, w, w | E, w]))
    assert p.chip.lines()[0][0] == "A" and p.chip.busy_violations == 0


def test_sim_hd44780_dropped_nibble_desyncs_and_init_repairs() -> None:
    p = Port()
    lcd = HD44780(p.bus, ADDR, clock=p.clock)
    lcd.init()
    lcd.write_at(0, 0, b"Hello")
    p.chip.drop_next_nibble()
    lcd.write_at(0, 1, b"Press OK")
    assert not p.chip.lines()[1].startswith("Press OK")  # half a byte out of step
    lcd.write_at(0, 2, b"Rest")
    assert not p.chip.lines()[2].startswith("Rest")  # and it stays wrong
    lcd.init()
    lcd.write_at(0, 1, b"Press OK")
    assert p.chip.lines()[1].startswith("Press OK")
    assert p.chip.timing_violations == 0


def test_sim_hd44780_extra_nibble_desyncs_and_resync_repairs() -> None:
    p = Port()
    lcd = HD44780(p.bus, ADDR, clock=p.clock)
    lcd.init()
    p.nibble(0x4, RS)  # a spurious E pulse
    lcd.write_at(0, 0, b"Squeeze")
    assert not p.chip.lines()[0].startswith("Squeeze")
    lcd.resync()
    lcd.write_at(0, 0, b"Squeeze")
    assert p.chip.lines()[0].startswith("Squeeze")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.booleans()), max_size=9),
    st.booleans(),
)
def test_sim_hd44780_resync_from_any_state(garbage: list[tuple[int, bool]], power_up: bool) -> None:
    p = Port()
    lcd = HD44780(p.bus, ADDR, clock=p.clock)
    if not power_up:
        lcd.init()
    for n, rs in garbage:  # any nibble phase, mode, address, entry mode or shift
        p.nibble(n, RS if rs else 0)
        p.clock.sleep(0.002)
    lcd.init() if power_up else lcd.resync()
    lcd.write_at(0, 3, b"ok")
    lcd.write_at(18, 0, b"!!")
    lines = p.chip.lines()
    assert lines[3].startswith("ok") and lines[0].endswith("!!")
    assert p.chip.four_bit and p.chip.two_lines and p.chip.display_on


def test_sim_hd44780_size_and_option_checks() -> None:
    with pytest.raises(ValueError, match="size"):
        SimHD44780(SimClock(), 21, 4)
    with pytest.raises(ValueError, match="multibyte"):
        SimHD44780(SimClock(), multibyte="nxq")
