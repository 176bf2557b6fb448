"""Hitachi HD44780 character LCD behind a PCF8574 I2C backpack, MicroPython-clean.

Datasheets: Hitachi HD44780U (ADE-207-272), figure 24 (4-bit initialisation by
instruction), table 6 (instructions and execution times), figure 25 (bus timing); NXP
PCF8574 and TI SCPS068 (the backpack's port expander). Facts and sources in
``reference/HARDWARE.md`` §4.4 and §10.

Choices made here, and why
    * One byte per PCF8574 transaction: TI parts ignore the bytes after the first of a
      write, NXP parts latch each; one byte works on both (§10.1).
    * Two port writes per nibble by default, ``data|E`` then ``data``: the HD44780 latches
      D4-D7 on the **falling** edge of E and needs them only tDSW = 195 ns before it (80 ns
      at 5 V; figure 25), so data may change together with the rising edge. RS and RW,
      however, need tAS = 60 ns (40 ns at 5 V) of set-up before E rises, so whenever RS or
      RW must change (instruction -> data and back, or after an error when the port state
      is unknown) one extra byte sets them with E low first. A run of characters costs 4
      one-byte writes per character, plus 6 per run (set-up, address instruction, set-up
      back to data). ``writes_per_nibble=3`` always sends the set-up byte (``data,
      data|E, data``: 6 writes per character, as luma does) for clones that want the
      classic sequence.
    * No sleeps for the 37 us (data writes 41 us) instructions: the next falling edge of E
      comes at least two one-byte transactions later, 2 x 20 bits = 400 us at the
      PCF8574's 100 kHz (100 us at the 400 kHz of a PCA8574), well past 41 us; a sleep
      would only add host latency. Clear and return home (1.52 ms at 270 kHz, clones
      quote 1.64 ms) are followed by a 2 ms sleep on the clock. Above 400 kHz (Fm+) the
      gap shrinks under 41 us: do not drive a PCA8574 at 1 MHz with this driver.
    * The busy flag is never read (RW stays low): reading through the backpack costs a
      read transaction per poll and the waits above are bounded anyway.
    * :meth:`init` is the full power-up sequence of figure 24 (display off, clear).
      :meth:`resync` repeats only the nibble resynchronisation (0x3, 0x3, 0x3, 0x2), the
      modes and return home, without display off or clear, so the caller can redraw in
      place with no blank screen (``ui_lcd.display.Display`` does, periodically, because
      a lost or extra E edge leaves the display half a byte out of step, §10.5).
    * Every ``OSError`` marks the port state unknown, so the next nibble re-sends the
      RS/RW set-up byte. The nibble phase of the LCD may be wrong after an error in the
      middle of a byte: call :meth:`resync` (the display layer does).
"""

from drivers.clock import MonotonicClock

try:
    from micropython import const
except ImportError:  # CPython

    def const(x: int) -> int:  # type: ignore[misc,no-redef]
        return x


try:
    from typing import TYPE_CHECKING, Sequence
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from drivers.bus import I2CBus
    from drivers.clock import Clock


# PCF8574 addresses (HARDWARE.md §10.1): 0b0100A2A1A0 (PCF8574/T), 0b0111A2A1A0 (PCF8574A).
ADDRESS = const(0x27)
ADDRESS_A = const(0x3F)

#: PCF8574 pin (P0..P7) of RS, RW, E, backlight, D4, D5, D6, D7 on the common backpack.
PINS_DEFAULT = (0, 1, 2, 3, 4, 5, 6, 7)

# Instructions (HD44780U table 6; HARDWARE.md §10.3)
CMD_CLEAR = const(0x01)  # clear display, AC = 0, I/D = 1; 1.52 ms
CMD_HOME = const(0x02)  # AC = 0, display shift undone, DDRAM kept; 1.52 ms
CMD_ENTRY_MODE = const(0x04)  # | I/D << 1 | S
ENTRY_INCREMENT = const(0x02)
CMD_DISPLAY_CONTROL = const(0x08)  # | D << 2 | C << 1 | B
DISPLAY_ON = const(0x04)
CMD_FUNCTION_SET = const(0x20)  # | DL << 4 | N << 3 | F << 2
FUNCTION_2_LINES = const(0x08)  # 4-bit (DL = 0), 2 lines (N = 1), 5x8 dots (F = 0)
CMD_SET_CGRAM = const(0x40)  # | 6-bit CGRAM address
CMD_SET_DDRAM = const(0x80)  # | 7-bit DDRAM address

# Nibbles of figure 24, sent while the controller may still be in 8-bit mode.
NIBBLE_8BIT = const(0x3)  # function set, DL = 1
NIBBLE_4BIT = const(0x2)  # function set, DL = 0

# Waits (HD44780U figure 24 and table 6), with margin.
POWER_UP_S = 0.050  # > 40 ms after VCC reaches 2.7 V
FIRST_NIBBLE_S = 0.0045  # > 4.1 ms
SECOND_NIBBLE_S = 0.00015  # > 100 us
CLEAR_S = 0.002  # 1.52 ms at f_osc 270 kHz; clones quote 1.64 ms

GLYPH_SLOTS = const(8)  # CGRAM: 8 characters of 8 rows (HARDWARE.md §10.4)
GLYPH_ROWS = const(8)


class HD44780:
    """An HD44780 (``cols`` x ``rows``: 20x4, 16x2, 16x4, 20x2, 40x2...) behind a PCF8574 at
    ``address`` on ``bus``.

    ``pins`` gives the PCF8574 pins (0..7) of RS, RW, E, backlight, D4, D5, D6, D7
    (default :data:`PINS_DEFAULT`). The constructor touches no hardware; call :meth:`init`.
    Bus errors raise ``OSError`` with the errno intact (nothing answers: ``no_answer``).
    """

    def __init__(
        self,
        bus: "I2CBus",
        address: int = ADDRESS,
        cols: int = 20,
        rows: int = 4,
        clock: "Clock | None" = None,
        pins: "Sequence[int] | None" = None,
        backlight: bool = True,
        writes_per_nibble: int = 2,
    ) -> None:
        if not (0x20 <= address <= 0x27 or 0x38 <= address <= 0x3F):
            raise ValueError(
                "PCF8574 address must be 0x20..0x27 or 0x38..0x3F, got 0x%02X" % address
            )
        if rows not in (2, 4):
            raise ValueError("rows must be 2 or 4, got %r" % (rows,))
        if not 8 <= cols <= 40 or cols * rows > 80:
            raise ValueError("cols must be 8..40 with cols x rows <= 80, got %r" % (cols,))
        if writes_per_nibble not in (2, 3):
            raise ValueError("writes_per_nibble must be 2 or 3, got %r" % (writes_per_nibble,))
        pins = PINS_DEFAULT if pins is None else tuple(pins)
        if len(pins) != 8 or sorted(pins) != list(range(8)):
            raise ValueError("pins must map RS, RW, E, BL, D4..D7 to P0..P7 once each")
        self._bus = bus
        self._address = address
        self.cols = cols
        self.rows = rows
        self._clock: "Clock" = clock if clock is not None else MonotonicClock()
        self._rs = 1 << pins[0]
        self._rw = 1 << pins[1]
        self._e = 1 << pins[2]
        self._bl_bit = 1 << pins[3]
        # nibble value -> port bits, per instance (no module-level shared buffers)
        self._nibble = bytearray(16)
        for n in range(16):
            v = 0
            for i in range(4):
                if n & (1 << i):
                    v |= 1 << pins[4 + i]
            self._nibble[n] = v
        # Row start addresses: rows 2 and 3 continue rows 0 and 1 (HARDWARE.md §10.4).
        self._row_addr = (0x00, 0x40, cols, 0x40 + cols)[:rows]
        self._bl = self._bl_bit if backlight else 0
        self._port = -1  # last value written to the PCF8574; -1 = unknown
        self._buf = bytearray(1)
        self._wpn = writes_per_nibble
        #: One-byte writes per character inside a run, and the extra cost of starting a
        #: run (RS set-up, DDRAM address instruction, RS set-up back): for cost decisions.
        self.bytes_per_char = 2 * writes_per_nibble
        self.run_overhead_bytes = 6
        self._closed = False

    def __repr__(self) -> str:
        return "HD44780(0x%02X, %dx%d)" % (self._address, self.cols, self.rows)

    # -- public API ------------------------------------------------------------------------

    def init(self) -> None:
        """Initialise by instruction (HD44780U figure 24): 4-bit, 2 lines, 5x8 dots, display
        off, clear, entry increment, display on with cursor off. Takes about 60 ms.

        The first write takes only E low and leaves RS, RW and D4-D7 as the PCF8574 powers
        up (all high): from that state the falling edge is a harmless read cycle.
        Raises ``OSError`` (``drivers.bus.no_answer`` when no backpack answers).
        """
        self._check_open()
        self._write((0xFF & ~self._e) | self._bl)
        self._clock.sleep(POWER_UP_S)
        self._resync_nibbles()
        self._command(CMD_DISPLAY_CONTROL)
        self._command(CMD_CLEAR)
        self._clock.sleep(CLEAR_S)
        self._command(CMD_ENTRY_MODE | ENTRY_INCREMENT)
        self._command(CMD_DISPLAY_CONTROL | DISPLAY_ON)

    def resync(self) -> None:
        """Bring a desynchronised controller back into step without blanking it: 0x3, 0x3,
        0x3, 0x2 (figure 24, which resynchronises from any nibble phase), function set,
        entry mode, display on, return home (undoes a display shift). DDRAM is kept but may
        hold garbage, and CGRAM too: the caller rewrites what should be shown."""
        self._check_open()
        self._resync_nibbles()
        self._command(CMD_ENTRY_MODE | ENTRY_INCREMENT)
        self._command(CMD_DISPLAY_CONTROL | DISPLAY_ON)
        self._command(CMD_HOME)
        self._clock.sleep(CLEAR_S)

    def clear(self) -> None:
        """Fill DDRAM with spaces and move the address counter to 0 (1.52 ms)."""
        self._check_open()
        self._command(CMD_CLEAR)
        self._clock.sleep(CLEAR_S)

    def write_at(self, col: int, row: int, data: "bytes | bytearray") -> None:
        """Write character codes ``data`` (bytes; 0..7 are the CGRAM glyphs) from ``col``
        of ``row``. Raises ``ValueError`` when the position is outside 0..cols-1 /
        0..rows-1 or the text would run past the end of the row (on a 20x4 it would
        continue two rows down, HARDWARE.md §10.4)."""
        self._check_open()
        if not 0 <= row < self.rows:
            raise ValueError("row must be 0..%d, got %r" % (self.rows - 1, row))
        if not 0 <= col < self.cols:
            raise ValueError("col must be 0..%d, got %r" % (self.cols - 1, col))
        if col + len(data) > self.cols:
            raise ValueError(
                "%d characters from col %d run past the row end (%d columns)"
                % (len(data), col, self.cols)
            )
        if not data:
            return
        self._command(CMD_SET_DDRAM | (self._row_addr[row] + col))
        for code in data:
            self._send(code, self._rs)

    def create_char(self, slot: int, rows: "Sequence[int]", first_row: "int | None" = None) -> None:
        """Define glyph ``slot`` (0..7) from 8 rows (top first) of 5-bit patterns (0..31).
        With ``first_row`` (0..7), ``rows`` rewrites only rows ``first_row`` onwards (1 to
        8 - ``first_row`` of them; the others keep their bitmap): 4 port writes less per
        row left out.

        The address counter is left in CGRAM; :meth:`write_at` always sets a DDRAM address
        before writing, so no later text can land in CGRAM. Cells already showing the slot
        change at once (the controller draws from CGRAM continuously).
        """
        self._check_open()
        if not 0 <= slot < GLYPH_SLOTS:
            raise ValueError("glyph slot must be 0..7, got %r" % (slot,))
        if first_row is None:
            if len(rows) != GLYPH_ROWS:
                raise ValueError("a glyph needs 8 rows, got %d" % len(rows))
            first_row = 0
        elif not 0 <= first_row < GLYPH_ROWS:
            raise ValueError("first_row must be 0..7, got %r" % (first_row,))
        elif not 1 <= len(rows) <= GLYPH_ROWS - first_row:
            raise ValueError(
                "from row %d a glyph takes 1..%d rows, got %d"
                % (first_row, GLYPH_ROWS - first_row, len(rows))
            )
        for r in rows:
            if not 0 <= r <= 0x1F:
                raise ValueError("glyph rows must be 0..31 (5 bits), got %r" % (r,))
        self._command(CMD_SET_CGRAM | (slot << 3) | first_row)
        for r in rows:
            self._send(r, self._rs)

    def set_backlight(self, on: bool) -> None:
        """Switch the backlight (PCF8574 pin, active high): one byte with E low."""
        self._check_open()
        self._bl = self._bl_bit if on else 0
        port = self._port if self._port >= 0 else 0
        self._write((port & ~(self._bl_bit | self._e)) | self._bl)

    def display_on(self, on: bool = True) -> None:
        """Show (``True``) or hide DDRAM; cursor and blink stay off. DDRAM is kept."""
        self._check_open()
        self._command(CMD_DISPLAY_CONTROL | (DISPLAY_ON if on else 0))

    def close(self) -> None:
        """Stop using the bus; what is shown stays (the controller keeps DDRAM while
        powered). Idempotent; later calls raise ``RuntimeError``."""
        self._closed = True

    def __enter__(self) -> "HD44780":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("HD44780 at 0x%02X is closed" % self._address)

    def _resync_nibbles(self) -> None:
        # Until the 0x2 nibble each nibble is a whole 8-bit instruction (figure 24).
        self._nibble_out(NIBBLE_8BIT, 0)
        self._clock.sleep(FIRST_NIBBLE_S)
        self._nibble_out(NIBBLE_8BIT, 0)
        self._clock.sleep(SECOND_NIBBLE_S)
        self._nibble_out(NIBBLE_8BIT, 0)
        self._nibble_out(NIBBLE_4BIT, 0)
        self._command(CMD_FUNCTION_SET | FUNCTION_2_LINES)

    def _command(self, value: int) -> None:
        self._send(value, 0)

    def _send(self, value: int, rs: int) -> None:
        self._nibble_out(value >> 4, rs)
        self._nibble_out(value & 0x0F, rs)

    def _nibble_out(self, nibble: int, rs: int) -> None:
        value = self._nibble[nibble] | rs | self._bl
        control = self._rs | self._rw
        if self._wpn == 3 or self._port < 0 or (self._port & control) != rs:
            self._write(value)  # RS/RW set up with E low (tAS before E rises)
        self._write(value | self._e)
        self._write(value)  # falling edge: D4-D7 latched

    def _write(self, value: int) -> None:
        self._buf[0] = value
        try:
            self._bus.writeto(self._address, self._buf)
        except OSError:
            self._port = -1
            raise
        self._port = value
