"""LCD bus figures: what one character, a full redraw, a resync and a biofeedback-bar update
cost on the display bus (HARDWARE.md §4.4), measured through a real :class:`Display`.

:func:`measure` takes an already-built display and callables that read the bus's counters,
so the same code measures the simulated bus (``tests/bench/lcd_wire.py``) or a real one.
It shows its own frames: run it on a display nobody else is using.

Bar cases (a bar on row 1 whose fill rises and falls by 2.6 cells each update):
``bar_fixed_glyphs`` defines five glyphs once (1..5 pixel columns lit) and only changes
character codes; ``bar_redefined_glyph`` uses a full-block slot and one partial-cell slot
whose bitmap is rewritten when the partial fill changes (8 CGRAM bytes, 38 port writes);
``bar_screens`` is the screens' own bar (``ui_lcd.bar.bar_row``) with a target band,
``bar_screens_plain`` the same without a band (maximal-grip biofeedback): fixed glyphs.
``bar_screens_hold`` is the banded bar drawing a realistic submaximal hold
(:func:`hold_trace`) instead of the triangle's 2.6-cell jumps across the band's ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ui_lcd.bar import bar_row
from ui_lcd.display import Display
from ui_lcd.frame import Frame

#: Share of the display bus the LCD may take (the rest is headroom for other traffic).
BUS_SHARE = 0.25
#: RPLCD writes 4 port bytes per nibble, 8 per character (HARDWARE.md §10.2).
RPLCD_WRITES_PER_CHAR = 8
BAR_STEP_PX = 13  # the fill moves by 2.6 cells per update in the bar benchmark
BAR_UPDATES = 12
PX_PER_CELL = 5
FULL_BLOCK = (0x1F,) * 8


def _partial(px: int) -> tuple[int, ...]:
    """A cell glyph with the ``px`` leftmost of its 5 pixel columns lit (1..5)."""
    return (((0x1F << (PX_PER_CELL - px)) & 0x1F),) * 8


#: Fixed glyph set: slot 0..4 = 1..5 columns lit (slot 4 the full block).
FIXED_GLYPHS = {px - 1: _partial(px) for px in range(1, PX_PER_CELL + 1)}


def bar_line(fill_px: int, cols: int, fixed: bool) -> tuple[str, dict[int, tuple[int, ...]]]:
    """A ``cols``-cell bar filled ``fill_px`` pixels (5 a cell) and the glyphs it uses.

    ``fixed``: five glyphs defined once (1..5 columns), the partial cell picks one.
    Otherwise two slots: 0 = full block, 1 = the partial cell, redefined when it changes.
    """
    full, part = divmod(max(0, min(fill_px, cols * PX_PER_CELL)), PX_PER_CELL)
    if fixed:
        cells = chr(PX_PER_CELL - 1) * full + (chr(part - 1) if part else "")
        return cells.ljust(cols), dict(FIXED_GLYPHS)
    cells = "\x00" * full + ("\x01" if part else "")
    glyphs = {0: FULL_BLOCK, 1: _partial(part) if part else (0,) * 8}
    return cells.ljust(cols), glyphs


def _text_frame(cols: int, rows: int, salt: int) -> Frame:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    lines = tuple(
        "".join(alphabet[(salt + r * cols + c) % len(alphabet)] for c in range(cols))
        for r in range(rows)
    )
    return Frame(lines)


#: Target band of the screens' bar (``ui_lcd.bar``) in the bar benchmark.
SCREENS_BAND = (0.55, 0.75)


def hold_trace(span: int, rate_hz: float = 10.0) -> list[int]:
    """Bar fill (pixels) of a submaximal hold at ``rate_hz`` updates: a 1.5 s ramp from rest
    into the middle of :data:`SCREENS_BAND`, then 4 s held there with a slow drift and a
    small tremor (about 1 % of full scale), as a steady hand draws it."""
    centre = span * sum(SCREENS_BAND) / 2
    ramp = [round(centre * (i / (1.5 * rate_hz))) for i in range(int(1.5 * rate_hz))]
    hold = [
        round(centre + 0.02 * span * math.sin(0.4 * i) + 0.01 * span * math.sin(2.7 * i))
        for i in range(int(4 * rate_hz) + 1)
    ]
    return ramp + hold


def _bar_frame(cols: int, rows: int, fill_px: int, scheme: str) -> Frame:
    if scheme in ("screens", "screens_plain"):
        band = SCREENS_BAND if scheme == "screens" else None
        bar, glyphs = bar_row(cols, fill_px / (cols * PX_PER_CELL), band)
    else:
        bar, glyphs = bar_line(fill_px, cols, scheme == "fixed")
    lines = ["Squeeze".center(cols), bar] + ["Hold steady".center(cols)] * (rows - 2)
    return Frame(tuple(lines), glyphs)


def measure(
    display: Display,
    wire_s_fn: Callable[[], float],
    writes_fn: Callable[[], int] | None = None,
) -> dict:
    """Measure LCD bus cost on ``display``.

    ``wire_s_fn`` returns the bus's cumulative wire time in seconds; ``writes_fn`` (when the
    bus can tell) its cumulative count of one-byte PCF8574 writes. Returns a dict of
    figures: each case has ``wire_ms`` (and ``port_writes``); ``bar_*`` cases are averages
    over :data:`BAR_UPDATES` updates and carry ``ratio_to_full``; ``max_rate_hz`` gives the
    update rate that keeps the LCD at :data:`BUS_SHARE` of the bus.
    """
    cols, rows = display.cols, display.rows
    count = writes_fn or (lambda: 0)

    def cost(action: Callable[[], None], times: int = 1) -> dict[str, float]:
        w0, n0 = wire_s_fn(), count()
        action()
        wire_s, writes = (wire_s_fn() - w0) / times, (count() - n0) / times
        out = {"wire_ms": round(wire_s * 1e3, 3)}
        if writes_fn is not None:
            out["port_writes"] = round(writes, 1)
        return out

    base = _text_frame(cols, rows, 0)
    display.show(base)
    display.resync()  # start the resync period now so it does not fall inside a case
    one = list(base.lines)
    one[0] = "#" + one[0][1:]
    figures: dict = {"size": f"{cols}x{rows}", "bytes_per_char": display.lcd.bytes_per_char}
    figures["one_char"] = cost(lambda: display.show(Frame(tuple(one))))
    figures["full_redraw"] = cost(lambda: display.show(_text_frame(cols, rows, 1)))
    figures["resync"] = cost(display.resync)

    full_ms = figures["full_redraw"]["wire_ms"]
    if writes_fn is not None and figures["full_redraw"]["port_writes"]:
        ms_per_write = full_ms / figures["full_redraw"]["port_writes"]
        figures["rplcd_full_redraw_ms"] = round(
            (cols * rows + rows) * RPLCD_WRITES_PER_CHAR * ms_per_write, 1
        )

    span = cols * PX_PER_CELL
    # a triangle wave: the fill rises and falls by BAR_STEP_PX every update
    triangle = [span // 3 + abs(i % 6 - 3) * BAR_STEP_PX for i in range(BAR_UPDATES + 1)]
    cases = (
        ("bar_fixed_glyphs", "fixed", triangle),
        ("bar_redefined_glyph", "redefined", triangle),
        ("bar_screens", "screens", triangle),
        ("bar_screens_plain", "screens_plain", triangle),
        ("bar_screens_hold", "screens", hold_trace(span)),
    )
    for name, scheme, fills in cases:
        display.show(_bar_frame(cols, rows, fills[0], scheme))

        def run(fills: list[int] = fills, scheme: str = scheme) -> None:
            for px in fills[1:]:
                display.show(_bar_frame(cols, rows, px, scheme))

        case = cost(run, len(fills) - 1)
        case["ratio_to_full"] = round(case["wire_ms"] / full_ms, 3) if full_ms else 0.0
        figures[name] = case

    figures["max_rate_hz"] = {
        name: round(BUS_SHARE / (figures[name]["wire_ms"] / 1e3), 1)
        for name in (*(c[0] for c in cases), "full_redraw")
        if figures[name]["wire_ms"]
    }
    return figures
