"""The LCD: present, takes a test pattern (a custom glyph row, letters, digits); with a
person there, the technician says whether the pattern looked right."""

from __future__ import annotations

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed
from ui_lcd.frame import Frame

FULL_BLOCK = (0x1F,) * 8
PATTERN_S = 3.0
_ROWS = ("\x00" * 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789" * 4, "abcdefghijklmnopqrstuvwxyz")


def pattern(cols: int, rows: int) -> Frame:
    """Row 0: solid blocks (a CGRAM glyph), then letters, digits, lower case."""
    lines = tuple(_ROWS[r % len(_ROWS)][:cols].ljust(cols) for r in range(rows))
    return Frame(lines, glyphs={0: FULL_BLOCK})


def check(ctx: CheckContext) -> list[CheckResult]:
    """The LCD answers and takes the test pattern."""
    if not ctx.is_fitted("lcd"):
        return []
    display = ctx.station.display
    if display is None:
        error = ctx.not_started.get("lcd")
        why = str(error).partition(". Check ")[0] if error else "not built"
        return [
            failed(
                "lcd.present",
                f"no LCD: {why}",
                "the LCD's cable and power, and lcd.address (0x27 PCF8574, 0x3F PCF8574A)",
                "T-LCD-01",
            )
        ]
    cols, rows = (int(n) for n in ctx.config["lcd"]["size"].split("x"))
    display.show(pattern(cols, rows))
    return [passed("lcd.present", f"{cols}x{rows} test pattern written")]


def check_seen(ctx: CheckContext) -> list[CheckResult]:
    """The technician confirms the pattern: a block row, letters and digits."""
    display = ctx.station.display
    if display is None or ctx.asker is None:
        return []
    cols, rows = (int(n) for n in ctx.config["lcd"]["size"].split("x"))
    ctx.asker.say("LCD: look at the test pattern (blocks, letters, digits)")
    display.show(pattern(cols, rows))
    ctx.clock.sleep(PATTERN_S)
    answer = ctx.asker.yes_no("tech.lcd_pattern")
    if answer:
        return [passed("lcd.pattern", "the technician saw the pattern")]
    return [
        failed(
            "lcd.pattern",
            "pattern not right" if answer is False else "no answer",
            "garbage or missing rows: the cable and 5 V supply; pale: the contrast screw",
            "T-LCD-02",
        )
    ]
