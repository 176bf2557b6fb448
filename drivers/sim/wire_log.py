"""The simulated bus's record of its transactions: the wire-time arithmetic and the log.

A transaction is START, then segments (address byte + data, each after the first opened by
a repeated START), then STOP: 9 bits a byte (8 data + ACK, the address byte included),
1 bit per START or repeated START and 1 bit per STOP (``reference/HARDWARE.md`` §4.1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

START_BITS = 1
STOP_BITS = 1
BITS_PER_BYTE = 9
#: Bits of a segment before its data: START (or repeated START) and the address byte.
_SEGMENT_BITS = START_BITS + BITS_PER_BYTE


@dataclass(slots=True)
class BusStats:
    """What a bus carried since it was made or its stats were reset."""

    transactions: int = 0
    bytes: int = 0
    bits: int = 0
    wire_s: float = 0.0
    errors: int = 0
    collisions: int = 0
    errors_by_errno: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """One segment of a transaction: ``kind`` is 'W' or 'R'; ``data`` the bytes moved."""

    address: int
    kind: str
    data: bytes


@dataclass(frozen=True)
class Transaction:
    """A logged transaction: start time, segments, wire time and the errno it raised."""

    t_s: float
    segments: tuple[Segment, ...]
    wire_s: float
    error: int | None = None

    @property
    def bits(self) -> int:
        return transaction_bits([len(s.data) for s in self.segments])


#: A segment as the bus logs it on the fast path: (address, 'W' or 'R', data).
WireSegment = tuple[int, str, bytes]
#: A transaction as the bus logs it: (t_s, segments, wire_s, errno), or on its
#: ``machine.I2C`` shortcut (one address, no error) (t_s, address, data written or None,
#: data read or None, wire_s).
WireRecord = (
    tuple[float, Sequence[WireSegment], float, int | None]
    | tuple[float, int, bytes | None, bytes | None, float]
)


class TransactionLog:
    """The last transactions, newest last: a bounded ring that keeps the raw tuples the
    bus records and makes :class:`Transaction` values only when they are looked at (the
    bus records every transaction; tests and benchmarks read a few)."""

    def __init__(self, maxlen: int) -> None:
        self._ring: deque[WireRecord] = deque(maxlen=maxlen)
        self.append = self._ring.append

    @property
    def maxlen(self) -> int | None:
        return self._ring.maxlen

    def __len__(self) -> int:
        return len(self._ring)

    def __getitem__(self, index: int) -> Transaction:
        return _transaction(self._ring[index])

    def __iter__(self) -> Iterator[Transaction]:
        return (_transaction(raw) for raw in list(self._ring))

    def __repr__(self) -> str:
        return f"TransactionLog({len(self)} of {self.maxlen})"

    def clear(self) -> None:
        self._ring.clear()


def _transaction(raw: WireRecord) -> Transaction:
    if len(raw) == 5:
        t_s, address, written, read, wire_s = raw
        segments = []
        if written is not None:
            segments.append(Segment(address, "W", written))
        if read is not None:
            segments.append(Segment(address, "R", read))
        return Transaction(t_s, tuple(segments), wire_s, None)
    t_s, done, wire_s, error = raw  # type: ignore[misc]
    return Transaction(t_s, tuple(Segment(*d) for d in done), wire_s, error)


def transaction_bits(segment_lengths: list[int]) -> int:
    """Bits on the wire for a transaction with segments of the given data lengths."""
    return sum(START_BITS + BITS_PER_BYTE * (1 + n) for n in segment_lengths) + STOP_BITS
