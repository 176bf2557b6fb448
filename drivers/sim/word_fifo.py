"""The simulated LSM6DSOX's FIFO storage: unread 7-byte words in one bytearray.

Words arrive in blocks (everything that fell due since the last transaction) and leave in
bursts, so the FIFO is kept as bytes with a read offset rather than one object per word.
What happens when it is full follows DS12814's FIFO modes: FIFO mode stops collecting,
continuous mode overwrites the oldest words (the caller raises the overrun flags).
"""

from __future__ import annotations

WORD_BYTES = 7
#: Compact the buffer once this many bytes before the read offset were read.
_COMPACT_BYTES = 64 * WORD_BYTES


class WordFifo:
    """FIFO words of ``WORD_BYTES`` bytes, oldest first, at most ``depth_words``."""

    def __init__(self, depth_words: int) -> None:
        self.depth_words = depth_words
        self._buf = bytearray()
        self._off = 0

    def __len__(self) -> int:
        """Unread words (DIFF_FIFO)."""
        return (len(self._buf) - self._off) // WORD_BYTES

    def __repr__(self) -> str:
        return f"WordFifo({len(self)}/{self.depth_words} words)"

    def clear(self) -> None:
        self._buf = bytearray()
        self._off = 0

    def room(self) -> int:
        """Words that fit before the FIFO is full."""
        return self.depth_words - len(self)

    def push(self, block: bytes) -> int:
        """Append whole words; when over depth the oldest words go (continuous mode).
        Returns how many words were overwritten."""
        self._buf += block
        over = len(self) - self.depth_words
        if over <= 0:
            return 0
        self._off += over * WORD_BYTES
        self._compact()
        return over

    def peek(self, index: int) -> int:
        """Byte ``index`` (0..6) of the oldest word; 0 when the FIFO is empty."""
        if self._off >= len(self._buf):
            return 0
        return self._buf[self._off + index]

    def pop(self, words: int) -> bytes:
        """The ``words`` oldest words, removed; an empty FIFO reads as zero words."""
        start = self._off
        end = min(start + words * WORD_BYTES, len(self._buf))
        out = bytes(self._buf[start:end])
        self._off = end
        self._compact()
        missing = words * WORD_BYTES - len(out)
        return out + bytes(missing) if missing else out

    def _compact(self) -> None:
        if self._off >= len(self._buf):
            self._buf = bytearray()
            self._off = 0
        elif self._off >= _COMPACT_BYTES:
            del self._buf[: self._off]
            self._off = 0
