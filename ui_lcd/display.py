"""The LCD as the screens see it: show a :class:`~ui_lcd.frame.Frame`, pay only for changes.

Bus cost (HARDWARE.md §4.4): every character is 4 one-byte PCF8574 writes (0.8 ms at
100 kHz), a full 20x4 redraw about 69 ms. So :meth:`Display.show` keeps a shadow of what the
LCD holds and writes only the cells that differ, as runs within a row (one DDRAM address,
then the run). Runs separated by a gap cheaper to rewrite than to re-address are merged.
Glyphs go to CGRAM only when their bitmap differs from what CGRAM holds, and then only the
rows from the first to the last that changed (a bar's partial cell changes its fill rows,
not its band underline); the controller redraws every cell showing a slot from CGRAM by
itself, so those cells need no rewrite.

Resynchronisation
    A lost or extra E edge leaves the HD44780 half a byte out of step and everything after
    it is garbage (HARDWARE.md §10.5); nothing on the bus tells us. So every ``resync_s``
    (checked at the next :meth:`show`) and after any bus error, the display is brought
    back into step with :meth:`HD44780.resync` (nibble resynchronisation, modes, return
    home) and then every glyph and every cell of the frame is rewritten. There is no
    display-off and no clear in this path, so the screen never goes blank: correct cells
    are overwritten with themselves and wrong ones change to the right text, about 75 ms
    for a 20x4. Only the very first show after start-up uses the full power-up
    initialisation (:meth:`HD44780.init`, which clears), and then writes the non-blank
    cells.

Errors
    An ``OSError`` from the bus propagates: a display that cannot be written is a fault the
    session layer turns into a safe stop, never something to hide from a patient looking
    at a stale prompt. Before it propagates the shadow is invalidated, so the next
    :meth:`show` resynchronises and redraws everything (the nibble phase is unknown after
    a failed write). :meth:`close` is the exception: best effort, it never raises and
    keeps the error in ``close_error``.
"""

from __future__ import annotations

from drivers.clock import Clock
from drivers.hd44780 import HD44780
from ui_lcd.frame import Frame

GLYPH_SLOTS = 8


class Display:
    """A :class:`Frame` renderer over an :class:`HD44780` with a shadow buffer.

    Counters: ``cells_written`` (DDRAM characters sent), ``glyphs_written`` (CGRAM
    characters sent), ``full_redraws`` (shows that rewrote every cell), ``resyncs``.
    Bytes and wire time are measured by the bus, not here.
    """

    def __init__(self, lcd: HD44780, clock: Clock, resync_s: float = 30.0) -> None:
        if resync_s <= 0:
            raise ValueError(f"resync_s must be > 0, got {resync_s}")
        self.lcd = lcd
        self.clock = clock
        self.resync_s = resync_s
        self.cols: int = lcd.cols
        self.rows: int = lcd.rows
        self.cells_written = 0
        self.glyphs_written = 0
        self.full_redraws = 0
        self.resyncs = 0
        self.close_error: Exception | None = None
        self._started = False  # lcd.init() has succeeded once
        self._shadow: list[bytearray] | None = None  # what DDRAM holds; None = unknown
        self._cgram: dict[int, tuple[int, ...]] = {}  # slots known to hold a bitmap
        self._frame: Frame | None = None  # the last frame asked for
        self._last_resync_s = 0.0
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "in step" if self._shadow is not None else "unknown"
        return f"Display({self.cols}x{self.rows}, {state}, cells_written={self.cells_written})"

    # -- public API ------------------------------------------------------------------------

    def show(self, frame: Frame) -> None:
        """Make the LCD show ``frame``, writing only what changed since the last show.

        Raises ``ValueError`` when the frame is not ``cols`` x ``rows``, ``RuntimeError``
        after :meth:`close`, and ``OSError`` for bus errors (the shadow is then invalidated
        and the next show redraws everything).
        """
        self._check(frame)
        self._frame = frame
        try:
            if not self._started:
                self._start()
            elif self._shadow is None or self.clock.now() - self._last_resync_s >= self.resync_s:
                self._resync()
            self._draw(frame)
        except OSError:
            self.invalidate()
            raise

    def resync(self) -> None:
        """Re-initialise the controller and rewrite the last frame (or only initialise when
        nothing was shown yet), without blanking the screen. Raises ``OSError``."""
        if self._closed:
            raise RuntimeError("display is closed")
        try:
            if not self._started:
                self._start()
            else:
                self._resync()
            if self._frame is not None:
                self._draw(self._frame)
        except OSError:
            self.invalidate()
            raise

    def invalidate(self) -> None:
        """Forget what the LCD shows: the next :meth:`show` resynchronises and redraws."""
        self._shadow = None
        self._cgram.clear()

    def backlight(self, on: bool) -> None:
        """Switch the backlight. Raises ``OSError`` for bus errors."""
        if self._closed:
            raise RuntimeError("display is closed")
        self.lcd.set_backlight(on)

    def close(self, message: str | None = None, *, backlight: bool = False) -> None:
        """Shut down: show ``message`` (e.g. "Station off") centred on the middle row of an
        otherwise blank screen, set the backlight (off by default: the station is off, and
        the text stays readable in room light on the usual positive-mode panels), and stop
        using the LCD. Best effort and idempotent: never raises, a bus error is kept in
        ``close_error``."""
        if self._closed:
            return
        self.close_error = None
        try:
            if message is not None:
                self.show(self._message_frame(message))
            self.lcd.set_backlight(backlight)
        except OSError as exc:
            self.close_error = exc
        finally:
            self._closed = True
            self.lcd.close()

    # -- internals -------------------------------------------------------------------------

    def _check(self, frame: Frame) -> None:
        if self._closed:
            raise RuntimeError("display is closed")
        if frame.cols != self.cols or frame.rows != self.rows:
            raise ValueError(
                f"frame is {frame.cols}x{frame.rows}, the display is {self.cols}x{self.rows}"
            )

    def _start(self) -> None:
        self.invalidate()
        self.lcd.init()
        self._started = True
        self._last_resync_s = self.clock.now()
        # init() clears DDRAM: the shadow is known blank; CGRAM is undefined at power-up.
        self._shadow = [bytearray(b" " * self.cols) for _ in range(self.rows)]

    def _resync(self) -> None:
        self.invalidate()
        self.lcd.resync()
        self.resyncs += 1
        self._last_resync_s = self.clock.now()
        # Shadow stays None: _draw rewrites every cell; then it is known again.

    def _draw(self, frame: Frame) -> None:
        for slot in sorted(frame.glyphs):
            bitmap = tuple(frame.glyphs[slot])
            known = self._cgram.get(slot)
            if known == bitmap:
                continue
            if known is None:
                self.lcd.create_char(slot, bitmap)
            else:  # only the rows from the first to the last that changed
                rows = [r for r in range(len(bitmap)) if bitmap[r] != known[r]]
                self.lcd.create_char(slot, bitmap[rows[0] : rows[-1] + 1], rows[0])
            self._cgram[slot] = bitmap
            self.glyphs_written += 1
        full = self._shadow is None
        shadow = self._shadow
        if shadow is None:
            shadow = [bytearray(self.cols) for _ in range(self.rows)]
        for row, text in enumerate(frame.lines):
            new = text.encode("ascii")
            old = shadow[row]
            for start, end in self._runs(old, new, full):
                self.lcd.write_at(start, row, new[start:end])
                old[start:end] = new[start:end]
                self.cells_written += end - start
        self._shadow = shadow
        if full:
            self.full_redraws += 1

    def _runs(self, old: bytearray, new: bytes, full: bool) -> list[tuple[int, int]]:
        """Column ranges [start, end) to write so that ``old`` becomes ``new``, merging two
        runs when rewriting the unchanged cells between them costs fewer bus bytes than
        addressing the second run."""
        if full:
            return [(0, self.cols)]
        changed = [c for c in range(self.cols) if old[c] != new[c]]
        runs: list[tuple[int, int]] = []
        max_gap = (self.lcd.run_overhead_bytes - 1) // self.lcd.bytes_per_char
        for col in changed:
            if runs and col - runs[-1][1] <= max_gap:
                runs[-1] = (runs[-1][0], col + 1)
            else:
                runs.append((col, col + 1))
        return runs

    def _message_frame(self, message: str) -> Frame:
        text = "".join(ch if 0x20 <= ord(ch) <= 0x7E else "?" for ch in message)[: self.cols]
        lines = [" " * self.cols] * self.rows
        lines[(self.rows - 1) // 2] = text.center(self.cols)
        return Frame(tuple(lines))
