"""Ring buffers of timestamped rows, and the windows the acquisition loop copies out."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Ring:
    """Timestamps and ``width`` float columns, the newest ``capacity`` rows."""

    def __init__(self, capacity: int, width: int) -> None:
        self.t = np.full(capacity, np.nan)
        self.data = np.full((capacity, width), np.nan)
        self.n = 0  # rows ever written

    def append(self, t: np.ndarray, rows: np.ndarray) -> None:
        cap = len(self.t)
        for i in range(0, len(t), cap):
            tt, rr = t[i : i + cap], rows[i : i + cap]
            idx = (self.n + np.arange(len(tt))) % cap
            self.t[idx], self.data[idx] = tt, rr
            self.n += len(tt)

    def put(self, t: float, row: tuple[float, ...]) -> None:
        """One row (the per-conversion path: no temporary arrays)."""
        i = self.n % len(self.t)
        self.t[i] = t
        self.data[i] = row
        self.n += 1

    def since(self, t_from: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows with t >= ``t_from``, oldest first (copies)."""
        cap = len(self.t)
        k = min(self.n, cap)
        idx = (self.n - k + np.arange(k)) % cap
        t = self.t[idx]
        keep = t >= t_from
        return t[keep].copy(), self.data[idx][keep].copy()

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
