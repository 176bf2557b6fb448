"""The glove's side of an acquisition tick: one IMU's FIFO drained per tick, in turn.

Each IMU is drained every ``drain_every`` ticks, the IMUs on consecutive ticks
(``reference/HARDWARE.md`` §4.3); its samples come timestamped from the ODR, calibrated and
fused (:meth:`sensors.glove.Glove.drain`) and go to the :class:`~sensors.ring.SampleStore`.
An IMU that lost its configuration (glove re-plugged, power glitch) is re-initialised; a
FIFO overrun is an event. ``fault_after`` consecutive failed drains of an IMU raise
:class:`~sensors.faults.ImuFault`, or :class:`~sensors.faults.GloveUnplugged` when every IMU
is failing together.
"""

from __future__ import annotations

from drivers.lsm6dsox import DeviceReset
from sensors.fault_book import GLOVE, BusFailed, FaultBook, imu_key
from sensors.faults import GloveUnplugged, ImuFault
from sensors.glove import Glove
from sensors.ring import SampleStore


class ImuDrainer:
    """Drains ``glove``'s IMUs in turn, one per tick, each every ``drain_every`` ticks."""

    def __init__(
        self,
        glove: Glove,
        book: FaultBook,
        store: SampleStore,
        fault_after: int,
        drain_every: int,
    ) -> None:
        self.glove = glove
        self.book = book
        self.store = store
        self.fault_after = fault_after
        self.segments = glove.segments
        self.drain_every = drain_every
        self._parts = {s: imu_key(s) for s in self.segments}
        self._fail = dict.fromkeys(self.segments, 0)  # consecutive failed drains

    def __repr__(self) -> str:
        return f"ImuDrainer({self.segments}, each every {self.drain_every} ticks)"

    def poll(self, tick: int) -> None:
        """Tick number ``tick``: drain the IMU whose turn it is, if any."""
        slot = tick % self.drain_every
        if slot < len(self.segments):
            self.drain(self.segments[slot])

    def drain(self, segment: str) -> None:
        part = self._parts[segment]
        try:
            try:
                batch = self.book.attempt(self.glove.drain, segment)
            except DeviceReset:
                self.book.count("imu_resets")
                self.book.event("imu_reset", part, None, "re-initialised")
                self.book.attempt(self.glove.reinit, segment)
                return
        except BusFailed as exc:
            self._failed(segment, exc.errno)
            return
        if batch.overrun:
            self.book.count("imu_overruns")
            self.book.event("imu_overrun", part, None, "FIFO overrun: samples lost")
        if len(batch.t_s):
            self.store.append_imu(segment, batch.t_s, batch.accel_g, batch.gyro_dps, batch.quat)
        self._fail[segment] = 0
        self.book.recovered(GLOVE)
        self.book.recovered(part)

    def _failed(self, segment: str, errno: int | None) -> None:
        self.book.count("bus_errors")
        self._fail[segment] += 1
        part = self._parts[segment]
        if part in self.book.active_faults or GLOVE in self.book.active_faults:
            return
        self.book.event("bus_error", part, errno, "FIFO drain")
        if self._fail[segment] >= self.fault_after:
            if all(n >= 1 for n in self._fail.values()) and len(self._fail) > 1:
                self.book.fault(GLOVE, GloveUnplugged(errno))
            else:
                self.book.fault(part, ImuFault(segment, errno))
