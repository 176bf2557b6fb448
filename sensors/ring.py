"""Ring buffers of timestamped rows, the loop's sample store, and the windows copied out."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from sensors.force_pads import PadSample


class Ring:
    """Timestamps and ``width`` float columns, the newest ``capacity`` rows."""

    def __init__(self, capacity: int, width: int) -> None:
        self.t = np.full(capacity, np.nan)
        self.data = np.full((capacity, width), np.nan)
        self.n = 0  # rows ever written
        # Flat views for :meth:`put`: an item store through a memoryview costs a third of
        # numpy's row assignment from a tuple, with the same float64 result.
        self._t_view = self.t.data.cast("B").cast("d")
        self._data_view = self.data.data.cast("B").cast("d")
        self._width = width
        self.capacity = capacity

    @property
    def nbytes(self) -> int:
        return self.t.nbytes + self.data.nbytes

    def append(self, t: np.ndarray, *blocks: np.ndarray) -> None:
        """Rows at times ``t``; ``blocks`` (``(len(t), w)`` arrays) side by side fill the
        ``width`` columns, e.g. accel, gyro and quaternion (no temporary ``hstack``)."""
        cap, n = self.capacity, len(t)
        start = self.n % cap
        if n <= cap - start:  # no wrap (nearly every drain): no slices of the blocks
            end = start + n
            self.t[start:end] = t
            data, col = self.data, 0
            for b in blocks:
                width = b.shape[1]
                data[start:end, col : col + width] = b
                col += width
            self.n += n
            return
        if n > cap:  # only the newest ``cap`` rows would survive
            skip = n - cap
            self.n += skip
            t, blocks, n = t[skip:], tuple(b[skip:] for b in blocks), cap
        start = self.n % cap
        first = min(n, cap - start)  # rows before the end of the buffer, then wrap
        self._write(start, t[:first], [b[:first] for b in blocks])
        if first < n:
            self._write(0, t[first:], [b[first:] for b in blocks])
        self.n += n

    def _write(self, at: int, t: np.ndarray, blocks: list[np.ndarray]) -> None:
        end = at + len(t)
        self.t[at:end] = t
        col = 0
        for b in blocks:
            self.data[at:end, col : col + b.shape[1]] = b
            col += b.shape[1]

    def put(self, t: float, row: tuple[float, ...]) -> None:
        """One row (the per-conversion path: no temporary arrays)."""
        i = self.n % len(self.t)
        if len(row) != self._width:
            raise ValueError(f"a row of this ring has {self._width} values, got {len(row)}")
        self._t_view[i] = t
        at = i * self._width
        view = self._data_view
        for value in row:
            view[at] = value
            at += 1
        self.n += 1

    def since(self, t_from: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows with t >= ``t_from``, oldest first (copies)."""
        cap = len(self.t)
        k = min(self.n, cap)
        idx = (self.n - k + np.arange(k)) % cap
        keep = idx[self.t[idx] >= t_from]  # fancy indexing: the rows come out as copies
        return self.t[keep], self.data[keep]

    def last(self) -> tuple[float, np.ndarray] | None:
        if not self.n:
            return None
        i = (self.n - 1) % len(self.t)
        return float(self.t[i]), self.data[i].copy()


class PadWindow(NamedTuple):
    t_s: np.ndarray
    force_n: np.ndarray
    volts: np.ndarray
    flags: np.ndarray


class ImuWindow(NamedTuple):
    t_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    quat: np.ndarray


class Window(NamedTuple):
    pads: dict[int, PadWindow]
    imus: dict[str, ImuWindow]


class SampleStore:
    """Every pad's and IMU's ring of samples (``pad_rows`` and ``imu_rows`` deep) and each
    pad's newest sample: the acquisition loop writes them, readers on other threads copy
    them out. ``lock`` guards all of it; every hold is one write or one copy."""

    def __init__(
        self,
        n_pads: int,
        pad_rows: int,
        segments: Iterable[str],
        imu_rows: int,
        lock: threading.Lock | None = None,
    ) -> None:
        self.lock = lock if lock is not None else threading.Lock()
        self._pads = {p: Ring(pad_rows, 3) for p in range(n_pads)}  # force, volts, flags
        self._imus = {s: Ring(imu_rows, 10) for s in segments}  # accel, gyro, quaternion
        self._latest: list[PadSample | None] = [None] * n_pads

    def __repr__(self) -> str:
        return f"SampleStore({len(self._pads)} pads, IMUs {list(self._imus)})"

    def nbytes(self) -> int:
        """Memory held by the rings."""
        return sum(r.nbytes for r in [*self._pads.values(), *self._imus.values()])

    def put_pad(self, sample: PadSample, flags: int) -> None:
        """Keep ``sample`` (its pad's newest) with its ``flags`` (``FLAG_*``)."""
        pad = sample.pad
        ring = self._pads[pad]
        view = ring._data_view
        # ``with``, never acquire() then try: a signal handler that raises (SIGTERM ends a
        # session so) runs as a call returns, and after acquire() it would leave the lock
        # held for ever (tests/test_signal_safe_locks.py).
        with self.lock:
            # Ring.put inline (this runs once per conversion): time, force, volts, flags.
            i = ring.n % ring.capacity
            at = i * 3
            ring._t_view[i] = sample.t_s
            view[at] = sample.force_n
            view[at + 1] = sample.volts
            view[at + 2] = flags
            ring.n += 1
            self._latest[pad] = sample

    def append_imu(
        self,
        segment: str,
        t_s: np.ndarray,
        accel_g: np.ndarray,
        gyro_dps: np.ndarray,
        quat: np.ndarray,
    ) -> None:
        """Keep ``segment``'s samples at ``t_s`` (``(n, 3)``, ``(n, 3)``, ``(n, 4)``)."""
        with self.lock:
            self._imus[segment].append(t_s, accel_g, gyro_dps, quat)

    def latest(self) -> list[PadSample | None]:
        """Every pad's newest sample (None before the first), a copy of the list."""
        with self.lock:
            return list(self._latest)

    def latest_pad(self, pad: int) -> PadSample | None:
        with self.lock:
            return self._latest[pad]

    def pad_window(self, pad: int, t_from: float) -> PadWindow:
        with self.lock:
            return _pad_window(self._pads[pad], t_from)

    def imu_windows(self, segments: Iterable[str], t_from: float) -> dict[str, ImuWindow]:
        """The samples since ``t_from`` of each of ``segments``, copied in one hold."""
        with self.lock:
            return {s: _imu_window(self._imus[s], t_from) for s in segments}

    def window(self, t_from: float) -> Window:
        """Every pad's and IMU's samples since ``t_from``, copied in one hold."""
        with self.lock:
            pads = {p: _pad_window(ring, t_from) for p, ring in self._pads.items()}
            imus = {s: _imu_window(ring, t_from) for s, ring in self._imus.items()}
        return Window(pads, imus)


def _pad_window(ring: Ring, t_from: float) -> PadWindow:
    t, d = ring.since(t_from)
    return PadWindow(t, d[:, 0], d[:, 1], d[:, 2].astype(np.uint8))


def _imu_window(ring: Ring, t_from: float) -> ImuWindow:
    t, d = ring.since(t_from)
    return ImuWindow(t, d[:, 0:3], d[:, 3:6], d[:, 6:10])
