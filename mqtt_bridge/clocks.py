"""The two clocks of the MQTT bridge and the station journal, as seams.

A **monotonic** clock (a callable returning seconds, like ``time.monotonic``) times what
must not jump when the wall clock is set: resend backoff, in-flight expiry, snapshot
refreshes, run deadlines. A **wall** clock (a callable returning an aware UTC ``datetime``)
stamps what is stored or shown: ``created_at``, ``received_at``, link times, journal rows,
ages. Parts take both, defaulting to the real ones, so that a test moves time by hand
(:class:`ManualClock`) instead of sleeping. :func:`iso_utc` is the one text form of every
stored time. A leaf module: the standard library only, so ``station`` may use it too.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

#: Seconds from an arbitrary origin that never goes back.
Monotonic = Callable[[], float]
#: Now as an aware UTC datetime.
WallClock = Callable[[], dt.datetime]

monotonic: Monotonic = time.monotonic


def utc_now() -> dt.datetime:
    """The real wall clock: now as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def iso_utc(t: dt.datetime) -> str:
    """``t`` as ISO 8601 UTC with milliseconds and a ``Z``: ``2026-11-20T10:00:00.123Z``.

    Raises ``ValueError`` for a naive datetime: its zone is unknown, so any text would be
    a guess."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"a wall-clock time must be timezone-aware, got naive {t.isoformat()}")
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 time (``Z`` or an offset; naive taken as UTC) as an aware datetime.
    Raises ``ValueError`` for text that is not one."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


#: Where a :class:`ManualClock`'s wall clock starts unless told: a Monday morning.
MANUAL_START = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)


class ManualClock:
    """Both clocks, standing still until moved: :meth:`advance` moves them together (time
    passes), :meth:`step_wall` moves the wall clock alone (an NTP step, a Pi without an
    RTC setting its clock after boot). Pass :meth:`monotonic` and :meth:`wall` where a part
    takes its clocks. Thread-safe: the test thread moves it while a part's thread reads."""

    def __init__(self, wall: dt.datetime = MANUAL_START, monotonic_s: float = 1000.0) -> None:
        iso_utc(wall)  # refuses a naive start
        self._lock = threading.Lock()
        self._wall = wall.astimezone(dt.UTC)
        self._mono = float(monotonic_s)

    def __repr__(self) -> str:
        return f"ManualClock(wall={iso_utc(self.wall())}, monotonic={self.monotonic():.3f})"

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def wall(self) -> dt.datetime:
        with self._lock:
            return self._wall

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks. Raises ``ValueError`` for a negative value:
        a monotonic clock never goes back."""
        if seconds < 0:
            raise ValueError(f"time only moves forward; got {seconds} s")
        with self._lock:
            self._mono += seconds
            self._wall += dt.timedelta(seconds=seconds)

    def step_wall(self, seconds: float) -> None:
        """Set the wall clock ``seconds`` later (or earlier, if negative); the monotonic
        clock does not move."""
        with self._lock:
            self._wall += dt.timedelta(seconds=seconds)
