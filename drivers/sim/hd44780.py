"""Register-level model of an HD44780 LCD behind a PCF8574 backpack (HARDWARE.md §10, §12).

One :class:`SimHD44780` attaches to the simulated bus at the PCF8574's address.

PCF8574 (NXP PCF8574, TI SCPS068)
    * The port powers up all high (0xFF); a read returns the port (the pins driven by the
      LCD in a read cycle are not modelled: nothing here reads the busy flag).
    * ``multibyte="ti"``: only the first byte of a write reaches the port (TI: the bytes
      after the first are ignored). ``"nxp"``: every byte is latched in turn, each at the
      ACK of its byte on the wire (``bus_hz`` times it). An address-only probe changes
      nothing.

HD44780U (Hitachi ADE-207-272)
    * The interface is decoded on the **falling** edge of E, from the levels the pins had
      while E was high. RS or RW changing in the same byte as E rises (tAS) or falls (tAH),
      or D4-D7 changing as E falls (tH), counts in :attr:`timing_violations`.
    * Power-up internal reset: 8-bit interface, 1 line, display off, DDRAM all spaces,
      entry increment; busy for 40 ms. CGRAM is undefined at power-up (modelled as zeros).
    * 8-bit mode: one E cycle is a whole instruction; D0-D3 are not wired on a backpack and
      read high through the controller's pull-ups, so nibble 0x3 is 0x3F and 0x2 is 0x2F.
      4-bit mode: high nibble then low nibble; a lost or extra E cycle shifts every later
      byte by half (garbage until 0x3, 0x3, 0x3, 0x2 resynchronises, figure 24). Read
      cycles (RW high) count in the nibble phase too. RS is taken from the high nibble.
    * Execution times (table 6, f_osc 270 kHz): 37 us, 41 us for data (tADD), 1.52 ms for
      clear and home. The waits of figure 24 are modelled as busy time of the first two
      8-bit function sets after power-up: 4.1 ms and 100 us. An instruction or data write
      while busy is **not executed** and counts in :attr:`busy_violations` (the nibble
      phase still advances: the interface latch is not the execution unit).
    * DDRAM 80 bytes: 2-line mode 0x00-0x27 and 0x40-0x67 (0x27 -> 0x40, 0x67 -> 0x00),
      1-line mode 0x00-0x4F; rows of a 20x4 start at 0x00, 0x40, 0x14, 0x54 (16x4: 0x10,
      0x50). CGRAM 64 bytes, 5 bits used; character codes 0x08-0x0F mirror 0x00-0x07.
    * Entry mode (I/D, S), display control (D, C, B), cursor/display shift, function set
      (DL, N, F), clear, home, set CGRAM/DDRAM address.

Inspection: :meth:`lines`, :meth:`glyph`, :attr:`backlight`, :attr:`display_on`,
:attr:`ddram`, :attr:`cgram`, :attr:`four_bit`, counters. Fault injection:
:meth:`drop_next_nibble` (an E pulse lost), :meth:`power_cycle`.
"""

from __future__ import annotations

from drivers.sim.chip import SimChip

PINS_DEFAULT = (0, 1, 2, 3, 4, 5, 6, 7)  # RS, RW, E, BL, D4, D5, D6, D7 on P0..P7

EXEC_S = 37e-6
EXEC_DATA_S = 41e-6  # 37 us + tADD 4 us
EXEC_CLEAR_S = 1.52e-3
POWER_UP_BUSY_S = 0.040
FIRST_FUNCTION_SET_S = 4.1e-3
SECOND_FUNCTION_SET_S = 100e-6
DDRAM_SIZE = 80
CGRAM_SIZE = 64
LINE_LEN = 40
LOW_LINES = 0x0F  # D0-D3 unconnected, pulled up inside the HD44780


class SimHD44780(SimChip):
    """An HD44780 ``cols`` x ``rows`` LCD on a PCF8574 backpack, on ``clock``."""

    part = "PCF8574+HD44780"

    def __init__(
        self,
        clock,
        cols: int = 20,
        rows: int = 4,
        pins: tuple[int, ...] = PINS_DEFAULT,
        multibyte: str = "ti",
        bus_hz: int = 100_000,
    ) -> None:
        super().__init__()
        if (cols, rows) not in {(16, 2), (20, 2), (20, 4), (16, 4), (40, 2), (8, 2)}:
            raise ValueError(
                f"size must be one of 8x2, 16x2, 20x2, 40x2, 16x4, 20x4; got {cols}x{rows}"
            )
        if multibyte not in ("ti", "nxp"):
            raise ValueError(f"multibyte must be 'ti' or 'nxp', got {multibyte!r}")
        if len(pins) != 8 or sorted(pins) != list(range(8)):
            raise ValueError("pins must map RS, RW, E, BL, D4..D7 to P0..P7 once each")
        self.clock = clock
        self.cols = cols
        self.rows = rows
        self.multibyte = multibyte
        self.bus_hz = bus_hz
        self._rs, self._rw, self._e, self._bl = (1 << p for p in pins[:4])
        self._data_pins = pins[4:]
        self._data_mask = sum(1 << p for p in self._data_pins)
        self.timing_violations = 0
        self.busy_violations = 0
        self.nibbles = 0  # E falling edges decoded
        self.port_writes = 0
        self._drop = 0
        self.cgram = bytearray(CGRAM_SIZE)
        self.power_cycle()

    def __repr__(self) -> str:
        mode = "4-bit" if self.four_bit else "8-bit"
        return f"SimHD44780({self.cols}x{self.rows}, {mode}, port=0x{self.port:02X})"

    # -- fault injection and power -----------------------------------------------------------

    def power_cycle(self) -> None:
        """Power-on reset of both chips: port 0xFF, controller in 8-bit mode, DDRAM blank,
        busy for 40 ms. CGRAM keeps its (undefined) contents."""
        self.port = 0xFF
        self.ddram = bytearray(b" " * DDRAM_SIZE)
        self.four_bit = False
        self.two_lines = False
        self.font_5x10 = False
        self.display_on = False
        self.cursor_on = False
        self.blink_on = False
        self.increment = True
        self.shift_on_write = False
        self.shift = 0  # display shift, in characters to the left
        self.address_counter = 0
        self.in_cgram = False
        self._high: int | None = None  # pending high nibble in 4-bit mode
        self._high_rs = 0
        self._busy_until = self.clock.now() + POWER_UP_BUSY_S
        self._function_sets_8bit = 0

    def drop_next_nibble(self, count: int = 1) -> None:
        """Lose the next ``count`` E falling edges (a glitch on E, a lost pulse)."""
        self._drop += count

    # -- inspection --------------------------------------------------------------------------

    @property
    def backlight(self) -> bool:
        return bool(self.port & self._bl)

    def lines(self) -> list[str]:
        """What a person sees: each row's characters from DDRAM through the row map and the
        display shift. CGRAM codes 0..7 (and their mirrors 8..15) come back as chr(0..7).
        All spaces while the display is off (DDRAM is kept; see :meth:`ddram_lines`)."""
        if not self.display_on:
            return [" " * self.cols for _ in range(self.rows)]
        return self.ddram_lines()

    def ddram_lines(self) -> list[str]:
        """The rows as :meth:`lines` shows them, whether the display is on or off."""
        out = []
        for row in range(self.rows):
            line = row % 2
            start = self.cols if row >= 2 else 0
            if line and not self.two_lines:  # 1-line mode drives no second common line
                out.append(" " * self.cols)
                continue
            chars = []
            for col in range(self.cols):
                code = self.ddram[line * LINE_LEN + (start + col + self.shift) % LINE_LEN]
                chars.append(chr(code & 0x07) if code < 0x10 else chr(code))
            out.append("".join(chars))
        return out

    def glyph(self, slot: int) -> tuple[int, ...]:
        """The 8 rows (5 bits each) of CGRAM character ``slot`` (0..7)."""
        if not 0 <= slot < 8:
            raise ValueError(f"glyph slot must be 0..7, got {slot}")
        return tuple(b & 0x1F for b in self.cgram[slot * 8 : slot * 8 + 8])

    # -- the bus side (PCF8574) --------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not data:
            return
        t0 = self.clock.now()
        latched = data[:1] if self.multibyte == "ti" else data
        for i, value in enumerate(latched):
            # START + address byte + (i + 1) data bytes, each 9 bits, latched at its ACK.
            self._set_port(value, t0 + (1 + 9 * (i + 2)) / self.bus_hz)

    def read(self, n: int) -> bytes:
        return bytes([self.port]) * n

    # -- the LCD side (HD44780) --------------------------------------------------------------

    def _set_port(self, new: int, t: float) -> None:
        old = self.port
        self.port = new
        self.port_writes += 1
        control = self._rs | self._rw
        e_old, e_new = old & self._e, new & self._e
        if not e_old and e_new and (old ^ new) & control:
            self.timing_violations += 1  # tAS: RS/RW must settle before E rises
        elif e_old and e_new and (old ^ new) & control:
            self.timing_violations += 1  # RS/RW changed during the E pulse
        elif e_old and not e_new:
            if (old ^ new) & (control | self._data_mask):
                self.timing_violations += 1  # tAH / tH: held past the falling edge
            self._falling_edge(old, t)

    def _falling_edge(self, pins: int, t: float) -> None:
        if self._drop:
            self._drop -= 1
            return
        self.nibbles += 1
        nibble = 0
        for i, p in enumerate(self._data_pins):
            if pins & (1 << p):
                nibble |= 1 << i
        rs = 1 if pins & self._rs else 0
        read = bool(pins & self._rw)
        if not self.four_bit:
            self._cycle(rs, read, (nibble << 4) | LOW_LINES, t)
        elif self._high is None:
            self._high, self._high_rs = nibble, rs
        else:
            byte = (self._high << 4) | nibble
            rs = self._high_rs
            self._high = None
            self._cycle(rs, read, byte, t)

    def _cycle(self, rs: int, read: bool, byte: int, t: float) -> None:
        if read:
            if rs:  # a data read moves the address counter like a write
                self._move_ac(self.increment)
            return
        if t < self._busy_until:
            self.busy_violations += 1
            return
        if rs:
            self._write_data(byte)
            self._busy_until = t + EXEC_DATA_S
        else:
            self._busy_until = t + self._instruction(byte)

    def _write_data(self, byte: int) -> None:
        if self.in_cgram:
            self.cgram[self.address_counter] = byte
        else:
            self.ddram[self._ddram_index(self.address_counter)] = byte
            if self.shift_on_write:
                self.shift += 1 if self.increment else -1
        self._move_ac(self.increment)

    def _instruction(self, byte: int) -> float:
        """Execute instruction ``byte``; returns its execution time in seconds."""
        if byte & 0x80:
            self.address_counter = byte & 0x7F
            self.in_cgram = False
        elif byte & 0x40:
            self.address_counter = byte & 0x3F
            self.in_cgram = True
        elif byte & 0x20:
            return self._function_set(byte)
        elif byte & 0x10:
            if byte & 0x08:  # display shift
                self.shift += -1 if byte & 0x04 else 1
            else:  # cursor move
                self._move_ac(bool(byte & 0x04))
        elif byte & 0x08:
            self.display_on = bool(byte & 0x04)
            self.cursor_on = bool(byte & 0x02)
            self.blink_on = bool(byte & 0x01)
        elif byte & 0x04:
            self.increment = bool(byte & 0x02)
            self.shift_on_write = bool(byte & 0x01)
        elif byte & 0x02:
            self.address_counter = 0
            self.in_cgram = False
            self.shift = 0
            return EXEC_CLEAR_S
        elif byte & 0x01:
            self.ddram[:] = b" " * DDRAM_SIZE
            self.address_counter = 0
            self.in_cgram = False
            self.shift = 0
            self.increment = True
            return EXEC_CLEAR_S
        return EXEC_S

    def _function_set(self, byte: int) -> float:
        eight_bit = bool(byte & 0x10)
        if eight_bit:
            # Figure 24: after power-up the first two 8-bit function sets need 4.1 ms and
            # 100 us (the internal reset may still run); later ones take 37 us.
            self._function_sets_8bit += 1
            self.four_bit = False
        else:
            self.four_bit = True
        self._high = None
        self.two_lines = bool(byte & 0x08)
        self.font_5x10 = bool(byte & 0x04)
        if eight_bit and self._function_sets_8bit == 1:
            return FIRST_FUNCTION_SET_S
        if eight_bit and self._function_sets_8bit == 2:
            return SECOND_FUNCTION_SET_S
        return EXEC_S

    def _move_ac(self, up: bool) -> None:
        ac = self.address_counter
        if self.in_cgram:
            self.address_counter = (ac + (1 if up else -1)) % CGRAM_SIZE
        elif self.two_lines:
            if up:
                self.address_counter = {0x27: 0x40, 0x67: 0x00}.get(ac, ac + 1)
            else:
                self.address_counter = {0x40: 0x27, 0x00: 0x67}.get(ac, ac - 1)
        else:
            self.address_counter = (ac + (1 if up else -1)) % DDRAM_SIZE

    def _ddram_index(self, address: int) -> int:
        if self.two_lines:
            return (LINE_LEN if address & 0x40 else 0) + (address & 0x3F) % LINE_LEN
        return address % DDRAM_SIZE
