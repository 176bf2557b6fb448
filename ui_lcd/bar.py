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


# -- two bars at once (bilateral biofeedback) -------------------------------------------------

#: Glyph slots of the two-bar screen: 0 a full cell, 1-4 a cell with 1-4 columns lit. Both
#: bars share them and no bitmap depends on the fill, so a moving bar rewrites character
#: codes only and CGRAM is written once per screen change. Slots 5-7 stay free.
SLOT_MARKED_FULL = 0
MARK_START, MARK_END = "[", "]"


def marked_glyphs() -> dict[int, tuple[int, ...]]:
    """The fixed fill glyphs of :func:`marked_bar_row` (rows 1-5 lit, as :func:`bar_row`)."""
    return dict(_MARKED_GLYPHS)


def _fill_glyph(columns: int) -> tuple[int, ...]:
    bits = (0x1F << (5 - columns)) & 0x1F
    return tuple(bits if r in FILL_ROWS else 0 for r in range(8))


_MARKED_GLYPHS = {SLOT_MARKED_FULL if c == 5 else c: _fill_glyph(c) for c in range(1, 6)}


def marked_bar_row(
    cols: int, fill: float, band: tuple[int, int], show_band: bool = True
) -> tuple[str, dict[int, tuple[int, ...]]]:
    """A bar in ``cols`` cells whose target band is marked by ``[`` and ``]`` in cells of
    their own, so that no glyph depends on where the band is.

    ``band`` is ``(first, count)`` in bar cells: the bar has ``cols - 2`` cells (the two
    marker cells are not part of it, shown or not, so a bar keeps its scale whether its band
    shows) and the band is bar cells ``first`` .. ``first + count - 1``, between the
    markers. ``fill`` (0..1, clamped) is of the bar's ``5 * (cols - 2)`` pixel columns.
    ``show_band`` False leaves spaces where the markers go. Raises ``ValueError`` for a
    non-finite fill or a band that does not fit."""
    cells = cols - 2
    first, count = band
    if cells < 1 or first < 0 or count < 1 or first + count > cells:
        raise ValueError(f"band {band!r} does not fit a bar of {cells} cells")
    level = round(_fraction("fill", fill) * cells * 5)
    out: list[str] = []
    for cell in range(cells):
        if cell == first:
            out.append(MARK_START if show_band else " ")
        lit = min(5, max(0, level - cell * 5))
        out.append(" " if lit == 0 else chr(SLOT_MARKED_FULL if lit == 5 else lit))
        if cell == first + count - 1:
            out.append(MARK_END if show_band else " ")
    return "".join(out), marked_glyphs()


def band_centre(cells: int, band: tuple[int, int]) -> float:
    """Where the middle of ``band`` (``(first, count)`` bar cells) sits on a bar of
    ``cells`` cells, as a fraction of the bar (0..1)."""
    first, count = band
    return (first + count / 2) / cells


def band_half_width(cells: int, band: tuple[int, int]) -> float:
    """Half the band's width as a fraction of the bar."""
    return band[1] / 2 / cells
