"""A one-row bar with sub-character resolution, and an optional target band, in CGRAM glyphs.

A character cell is 5 pixel columns by 8 rows, so a row of ``cols`` cells gives
``5 * cols`` steps (100 on a 20x4, 80 on a 16x2). Each cell is drawn from its 5 columns:

* filled columns: rows 1-5 lit (the bar);
* empty columns inside the target band: row 7 lit (an underline under the band), in
  empty cells and the band's end cells;
* the band's first and last column: every row lit (a full-height tick), so the band's ends
  stay visible whether the bar covers them or not.

Glyph slot plan (fixed roles; all 8 slots when a band is shown):

====  ==========================================================================
slot  cell
====  ==========================================================================
0     fully filled (in or out of the band)
1     empty, inside the band (the underline alone)
2-5   the partly filled cell, 1-4 columns (fixed bitmaps), when it holds no band end
6     holds the band's first column, or both ends (a band narrower than a cell)
7     holds the band's last column
====  ==========================================================================

Only the cells holding a band end have bitmaps that depend on the fill, so a moving bar
rewrites character codes only, never CGRAM, except while the bar's tip is in a band-end
cell (then rows 1-5 of that one slot, which :class:`~ui_lcd.display.Display` rewrites
alone). A patient holding a force inside the band costs about 3 % of a full redraw per
update (``bar_screens_hold`` in ``tests/bench/lcd_wire.py``; 7 % when the partial cell had
one slot redefined every frame). The worst case is a bar whose tip lands in a band-end
cell at every update (``bar_screens``, 2.6-cell jumps back and forth across the band):
about 17 %.

The price is that the underline shows only on the band's empty cells and its end cells:
a filled or partly filled cell looks the same inside and outside the band, and the band's
two full-height ticks, which stick out above and below the bar, mark it there.

Blank cells are spaces. Every cell of one role has the same bitmap, so the roles are a
valid slot assignment.
"""

from __future__ import annotations

import math

FILL_ROWS = range(1, 6)
BAND_ROW = 7
SLOT_FULL, SLOT_BAND, SLOT_PARTIAL = 0, 1, 2  # SLOT_PARTIAL + columns - 1: slots 2..5
SLOT_BAND_START, SLOT_BAND_END = 6, 7  # SLOT_BAND_START also holds a band in one cell


def _fraction(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return min(1.0, max(0.0, value))


def bar_row(
    cols: int, fill: float, band: tuple[float, float] | None = None
) -> tuple[str, dict[int, tuple[int, ...]]]:
    """One row of ``cols`` cells showing ``fill`` (0..1) and ``band`` (lo, hi in 0..1).

    Values outside 0..1 are clamped (a force above full scale shows a full bar). Returns
    the row text (glyph slot characters and spaces) and the glyphs it uses. Raises
    ``ValueError`` for a non-finite value or a band with ``lo > hi``.
    """
    if cols < 1:
        raise ValueError(f"cols must be >= 1, got {cols}")
    steps = cols * 5
    level = round(_fraction("fill", fill) * steps)
    band_cols: tuple[int, int] | None = None
    if band is not None:
        lo, hi = _fraction("band low", band[0]), _fraction("band high", band[1])
        if lo > hi:
            raise ValueError(f"band low must not exceed band high, got {band!r}")
        first = min(steps - 1, round(lo * steps))
        last = max(first, min(steps - 1, round(hi * steps) - 1))
        band_cols = (first, last)

    chars: list[str] = []
    glyphs: dict[int, tuple[int, ...]] = {}
    for cell in range(cols):
        columns = range(cell * 5, cell * 5 + 5)
        rows = [0] * 8
        filled = in_band = 0
        for i, col in enumerate(columns):
            bit = 0x10 >> i  # bit 4 is the leftmost pixel (HD44780 CGRAM)
            if col < level:
                filled += 1
                for r in FILL_ROWS:
                    rows[r] |= bit
            elif band_cols is not None and band_cols[0] <= col <= band_cols[1]:
                in_band += 1
                rows[BAND_ROW] |= bit  # underline on the band's empty columns only
            if band_cols is not None and col in band_cols:
                for r in range(8):
                    rows[r] |= bit
        if not any(rows):
            chars.append(" ")
            continue
        if band_cols is not None and band_cols[0] in columns:
            slot = SLOT_BAND_START
        elif band_cols is not None and band_cols[1] in columns:
            slot = SLOT_BAND_END
        elif filled == 5:
            slot = SLOT_FULL
        elif filled:
            slot = SLOT_PARTIAL + filled - 1
            rows[BAND_ROW] = 0  # one bitmap per level, in the band or not
        else:
            slot = SLOT_BAND
        glyphs[slot] = tuple(rows)
        chars.append(chr(slot))
    return "".join(chars), glyphs
