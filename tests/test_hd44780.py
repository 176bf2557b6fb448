"""The HD44780 driver: byte-exact PCF8574 writes against HD44780U figure 24 and table 6, and
the text that reaches the simulated controller (HARDWARE.md §10)."""

from __future__ import annotations

import errno

import pytest

from drivers.hd44780 import HD44780
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.hd44780 import SimHD44780

ADDR = 0x27
E, BL, RS = 0x04, 0x08, 0x01


def make(
    cols: int = 20, rows: int = 4, **kw: object
) -> tuple[SimClock, SimI2CBus, SimHD44780, HD44780]:
    clock = SimClock()
    bus = SimI2CBus(clock, speed_hz=100_000, name="lcd")
    chip = SimHD44780(clock, cols, rows, pins=kw.get("pins", (0, 1, 2, 3, 4, 5, 6, 7)))  # type: ignore[arg-type]
    bus.attach(ADDR, chip)
    lcd = HD44780(bus, ADDR, cols, rows, clock=clock, **kw)  # type: ignore[arg-type]
    return clock, bus, chip, lcd


def written(bus: SimI2CBus) -> list[int]:
    """Every byte written, one per transaction (asserting that)."""
    out = []
    for tx in bus.log:
        assert len(tx.segments) == 1 and len(tx.segments[0].data) == 1
        out.append(tx.segments[0].data[0])
    return out


def pulses(bus: SimI2CBus) -> list[tuple[int, int]]:
    """(RS, nibble) of every E pulse in the log."""
    return [(b & RS, b >> 4) for b in written(bus) if b & E]


def nibble(n: int, rs: int = 0, setup: bool = False) -> list[int]:
    v = (n << 4) | BL | rs
    return ([v] if setup else []) + [v | E, v]


def byte(b: int, rs: int = 0, setup: bool = False) -> list[int]:
    return nibble(b >> 4, rs, setup) + nibble(b & 0xF, rs)


INIT = [
    0xFB,  # E low, RS/RW/D4-D7/BL as at power-up: a harmless read cycle
    *nibble(0x3, setup=True),
    *nibble(0x3),
    *nibble(0x3),
    *nibble(0x2),
    *byte(0x28),
    *byte(0x08),
    *byte(0x01),
    *byte(0x06),
    *byte(0x0C),
]


def test_hd44780_init_byte_exact() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    assert written(bus) == INIT
    assert chip.four_bit and chip.two_lines and chip.display_on
    assert chip.timing_violations == 0 and chip.busy_violations == 0


def test_hd44780_init_waits_figure_24() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    t = [tx.t_s for tx in bus.log]
    falls = [t[i] for i in (3, 5, 7, 9)]  # falling edges of the four 8-bit nibbles
    assert falls[0] - t[0] > 0.040  # power-up
    assert falls[1] - falls[0] > 0.0041
    assert falls[2] - falls[1] > 0.0001
    clear_low_fall = len(INIT) - 9  # the 0x01 low nibble's falling byte
    assert t[clear_low_fall + 2] - t[clear_low_fall] > 0.00152
    assert chip.busy_violations == 0


def test_hd44780_init_absent_raises_121_after_one_write() -> None:
    clock = SimClock()
    bus = SimI2CBus(clock, name="lcd")
    lcd = HD44780(bus, ADDR, clock=clock)
    with pytest.raises(OSError) as exc:
        lcd.init()
    assert exc.value.errno == errno.EREMOTEIO
    assert len(bus.log) == 1 and clock.now() < 0.001  # no 50 ms wait before failing


def test_hd44780_write_char_byte_exact() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    bus.reset_stats()
    lcd.write_at(3, 1, b"A")
    # the last init byte left RS low: the address needs no set-up byte, the data does
    assert written(bus) == byte(0x80 | 0x43) + byte(0x41, RS, setup=True)
    assert chip.lines()[1] == "   A" + " " * 16


def test_hd44780_run_costs_four_writes_per_char() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    lcd.write_at(0, 3, b"x")  # leaves RS high, as between runs
    bus.reset_stats()
    lcd.write_at(0, 0, b"Hello")
    assert bus.stats.transactions == 6 + 4 * 5 == lcd.run_overhead_bytes + 5 * lcd.bytes_per_char
    assert chip.lines()[0].startswith("Hello ")


def test_hd44780_three_writes_per_nibble_byte_exact() -> None:
    _, bus, chip, lcd = make(writes_per_nibble=3)
    lcd.init()
    bus.reset_stats()
    lcd.write_at(0, 0, b"Z")
    expected = []
    for n, rs in ((0x8, 0), (0x0, 0), (0x5, RS), (0xA, RS)):
        expected += nibble(n, rs, setup=True)
    assert written(bus) == expected
    assert chip.lines()[0][0] == "Z" and lcd.bytes_per_char == 6
    assert chip.timing_violations == 0


@pytest.mark.parametrize(
    ("cols", "rows", "starts"),
    [(20, 4, (0x00, 0x40, 0x14, 0x54)), (16, 2, (0x00, 0x40)), (16, 4, (0x00, 0x40, 0x10, 0x50))],
)
def test_hd44780_row_addresses(cols: int, rows: int, starts: tuple[int, ...]) -> None:
    _, bus, chip, lcd = make(cols, rows)
    lcd.init()
    for row, start in enumerate(starts):
        bus.reset_stats()
        lcd.write_at(0, row, bytes([0x30 + row]))
        assert pulses(bus)[:2] == [(0, 0x8 | start >> 4), (0, start & 0xF)]
    assert [line[0] for line in chip.lines()] == [str(r) for r in range(rows)]


def test_hd44780_write_past_row_end_is_refused() -> None:
    _, bus, _, lcd = make()
    lcd.init()
    n = len(bus.log)
    with pytest.raises(ValueError, match="run past the row end"):
        lcd.write_at(15, 0, b"123456")
    with pytest.raises(ValueError, match=r"row must be 0\.\.3"):
        lcd.write_at(0, 4, b"x")
    with pytest.raises(ValueError, match=r"col must be 0\.\.19"):
        lcd.write_at(20, 0, b"")
    assert len(bus.log) == n
    lcd.write_at(15, 0, b"12345")  # exactly to the end is fine


def test_hd44780_create_char_byte_exact_and_text_stays_in_ddram() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    bus.reset_stats()
    rows = [0x1F, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x1F, 0x00]
    lcd.create_char(3, rows)
    expected = byte(0x40 | 3 << 3) + byte(rows[0], RS, setup=True)
    for r in rows[1:]:
        expected += byte(r, RS)
    assert written(bus) == expected
    assert chip.glyph(3) == tuple(rows)
    lcd.write_at(0, 0, b"\x03x")
    assert chip.lines()[0][:2] == "\x03x"
    assert chip.glyph(3) == tuple(rows)


def test_hd44780_create_char_partial_rows() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    lcd.create_char(5, [0x1F] * 8)
    bus.reset_stats()
    lcd.create_char(5, [0x01, 0x02], first_row=3)
    assert pulses(bus)[:2] == [(0, 0x6), (0, 0xB)]  # set CGRAM address 0x2B: 0x6B
    assert len(written(bus)) == 1 + 4 + 1 + 2 * 4
    assert chip.glyph(5) == (0x1F, 0x1F, 0x1F, 0x01, 0x02, 0x1F, 0x1F, 0x1F)
    with pytest.raises(ValueError, match=r"from row 3 a glyph takes 1\.\.5 rows"):
        lcd.create_char(5, [0] * 6, first_row=3)
    with pytest.raises(ValueError, match=r"first_row must be 0\.\.7"):
        lcd.create_char(5, [0], first_row=8)


def test_hd44780_create_char_checks_ranges() -> None:
    _, _, _, lcd = make()
    with pytest.raises(ValueError, match=r"0\.\.7"):
        lcd.create_char(8, [0] * 8)
    with pytest.raises(ValueError, match="8 rows"):
        lcd.create_char(0, [0] * 7)
    with pytest.raises(ValueError, match=r"0\.\.31"):
        lcd.create_char(0, [0x20] + [0] * 7)


def test_hd44780_backlight_and_display_on() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    bus.reset_stats()
    lcd.set_backlight(False)
    assert written(bus) == [0xC8 & ~BL]  # last port value with BL cleared, E low
    assert not chip.backlight
    lcd.write_at(0, 0, b"a")
    assert all(not b & BL for b in written(bus))
    lcd.set_backlight(True)
    assert chip.backlight
    lcd.display_on(False)
    assert not chip.display_on and chip.lines()[0] == " " * 20
    lcd.display_on()
    assert chip.lines()[0][0] == "a"


def test_hd44780_custom_pin_map() -> None:
    pins = (4, 5, 6, 7, 0, 1, 2, 3)  # D4-D7 on P0-P3, RS on P4, E on P6, BL on P7
    _, bus, chip, lcd = make(pins=pins)
    lcd.init()
    lcd.write_at(0, 2, b"pins")
    assert chip.lines()[2].startswith("pins")
    assert chip.backlight and chip.timing_violations == 0
    assert written(bus)[0] == 0xFF & ~(1 << 6)


def test_hd44780_error_forces_setup_byte_next_time() -> None:
    _, bus, chip, lcd = make()
    lcd.init()
    lcd.write_at(0, 0, b"a")
    bus.fail_nth(1, errno.EIO)
    with pytest.raises(OSError):
        lcd.write_at(1, 0, b"b")
    bus.reset_stats()
    lcd.write_at(0, 1, b"c")
    assert written(bus)[0] == (0xC << 4 | BL) & 0xFF  # set-up byte (E low) before E rises
    assert chip.timing_violations == 0


def test_hd44780_resync_keeps_ddram_and_undoes_shift() -> None:
    _, _, chip, lcd = make()
    lcd.init()
    lcd.write_at(0, 0, b"keep")
    lcd._command(0x18)  # display shift left, as a garbage byte could cause
    assert chip.lines()[0][:3] == "eep"
    lcd.resync()
    assert chip.lines()[0][:4] == "keep" and chip.display_on
    assert chip.busy_violations == 0


def test_hd44780_close_then_use_raises() -> None:
    _, _, _, lcd = make()
    lcd.close()
    lcd.close()
    with pytest.raises(RuntimeError, match="closed"):
        lcd.write_at(0, 0, b"x")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"address": 0x30}, "0x20..0x27 or 0x38..0x3F"),
        ({"rows": 3}, "rows must be 2 or 4"),
        ({"cols": 41, "rows": 2}, "cols must be 8..40"),
        ({"writes_per_nibble": 4}, "2 or 3"),
        ({"pins": (0, 0, 2, 3, 4, 5, 6, 7)}, "once each"),
    ],
)
def test_hd44780_constructor_checks_ranges(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HD44780(SimI2CBus(SimClock()), **kw)
