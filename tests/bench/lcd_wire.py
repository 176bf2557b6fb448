"""Bus figures of the LCD: one character, a full redraw, a resync, a biofeedback-bar update.

Run from the repository root::

    .venv/bin/python tests/bench/lcd_wire.py

The real HD44780 driver and ``Display`` run against a simulated PCF8574 + HD44780 on a
simulated 100 kHz bus; ``ui_lcd.bench.measure`` does the measuring. Wire time is what the
simulated bus counts (9 bits a byte, 1 per START, 1 per STOP: 20 bits = 200 us per one-byte
PCF8574 write at 100 kHz; no host overhead, which on a Pi adds roughly 50-200 us per write,
HARDWARE.md §4.1).

Why not 134 ms for a full 20x4 redraw (HARDWARE.md §4.4)? That figure is RPLCD's 8 one-byte
writes per character (4 per nibble). The driver here writes ``data|E`` then ``data`` per
nibble (D4-D7 are latched on the falling edge of E and only need 195 ns of set-up before it)
and adds one set-up byte only when RS or RW changes (tAS before E rises): 4 writes per
character plus 6 per row run, 344 writes = 69 ms for 20x4. ``writes_per_nibble=3`` (the
classic ``data, data|E, data``, luma's 6 writes per character) is shown for comparison.
"""

from __future__ import annotations

import json
import sys

from drivers.hd44780 import HD44780
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.hd44780 import SimHD44780
from ui_lcd.bench import BUS_SHARE, measure
from ui_lcd.display import Display

BUS_HZ = 100_000
ADDRESS = 0x27
SIZES = {"20x4": (20, 4), "16x2": (16, 2)}


def figures(size: str = "20x4", writes_per_nibble: int = 2) -> dict:
    cols, rows = SIZES[size]
    clock = SimClock()
    bus = SimI2CBus(clock, speed_hz=BUS_HZ, name="lcd")
    chip = SimHD44780(clock, cols, rows)
    bus.attach(ADDRESS, chip)
    lcd = HD44780(bus, ADDRESS, cols, rows, clock=clock, writes_per_nibble=writes_per_nibble)
    display = Display(lcd, clock)
    out = measure(display, lambda: bus.stats.wire_s, lambda: bus.stats.transactions)
    out["writes_per_nibble"] = writes_per_nibble
    out["sim_timing_violations"] = chip.timing_violations
    out["sim_busy_violations"] = chip.busy_violations
    return out


def _row(name: str, case: dict, extra: str = "") -> str:
    return f"  {name:<34} {case['port_writes']:>7.1f} {case['wire_ms']:>9.2f}  {extra}"


def main() -> int:
    results = []
    for size in SIZES:
        for wpn in (2, 3):
            f = figures(size, wpn)
            results.append(f)
            print(f"{size}, {f['bytes_per_char']} writes/char (writes_per_nibble={wpn}):")
            print(f"  {'case':<34} {'writes':>7} {'wire ms':>9}")
            print(_row("one character", f["one_char"]))
            full = f["full_redraw"]
            print(_row("full redraw", full, f"(RPLCD 8/char: {f['rplcd_full_redraw_ms']} ms)"))
            print(_row("resync + full rewrite", f["resync"]))
            for name in (
                "bar_fixed_glyphs",
                "bar_redefined_glyph",
                "bar_screens",
                "bar_screens_plain",
                "bar_screens_hold",
            ):
                case = f[name]
                print(_row(name, case, f"{100 * case['ratio_to_full']:.1f} % of a full redraw"))
            rates = ", ".join(f"{k} {v} /s" for k, v in f["max_rate_hz"].items())
            print(f"  max rate at {BUS_SHARE:.0%} of the bus: {rates}")
            print(
                f"  sim violations: timing {f['sim_timing_violations']},"
                f" busy {f['sim_busy_violations']}"
            )
    if "--json" in sys.argv:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
