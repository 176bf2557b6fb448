"""A frame: what a character LCD should show, independent of how it gets there.

``lines`` holds exactly ``rows`` strings of exactly ``cols`` characters. Characters
``'\\x00'``..``'\\x07'`` stand for the custom glyphs in ``glyphs`` (slot -> 8 rows of 5-bit
patterns, top row first); every other character must be printable ASCII, which the HD44780's
character ROM (A00) shows as itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GLYPH_SLOTS = 8
SIZES = {"20x4": (20, 4), "16x2": (16, 2)}


@dataclass(frozen=True)
class Frame:
    lines: tuple[str, ...]
    glyphs: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError("a frame needs at least one line")
        width = len(self.lines[0])
        for i, line in enumerate(self.lines):
            if len(line) != width:
                raise ValueError(f"line {i} is {len(line)} characters, expected {width}")
            for ch in line:
                if not (ord(ch) < GLYPH_SLOTS or 0x20 <= ord(ch) <= 0x7E):
                    raise ValueError(f"line {i} has character {ch!r} the LCD cannot show")
        for slot, rows in self.glyphs.items():
            if not 0 <= slot < GLYPH_SLOTS:
                raise ValueError(f"glyph slot must be 0..7, got {slot}")
            if len(rows) != 8 or any(not 0 <= r <= 0x1F for r in rows):
                raise ValueError(f"glyph {slot} must be 8 rows of 0..31, got {rows!r}")

    @property
    def cols(self) -> int:
        return len(self.lines[0])

    @property
    def rows(self) -> int:
        return len(self.lines)

    @classmethod
    def blank(cls, cols: int, rows: int) -> Frame:
        return cls(tuple(" " * cols for _ in range(rows)))
