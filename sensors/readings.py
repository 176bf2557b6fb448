"""What the acquisition loop measured, as the session protocols read it.

:class:`Readings` copies samples out of the loop's :class:`~sensors.ring.SampleStore` and
turns them into forces, windows, flexion angles and tremor: the force port of
``station.protocols.base.ForcePort`` and its glove counterpart. A reader never gets a
plausible value from a faulty part: it raises the part's active fault from the
:class:`~sensors.fault_book.FaultBook` instead (or a named fault for a stale reading).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sensors.fault_book import GLOVE, SUPPLY_REF, FaultBook, imu_key, pad_key
from sensors.faults import ImuFault, PadFault, PadGap, SensorFault
from sensors.force_pads import ForcePads, PadSample
from sensors.fusion import TremorEstimate, tremor_band
from sensors.glove import Glove
from sensors.ring import ImuWindow, SampleStore, Window


class Readings:
    """Reads ``store`` on ``clock``, raising the faults ``book`` holds.

    ``stale_after_s``: :meth:`latest_n` refuses a reading older than this.
    ``max_pair_gap_s``: :meth:`flexion_deg` pairs a finger sample only with a back-of-hand
    sample this close in time.
    """

    def __init__(
        self,
        clock: Any,
        store: SampleStore,
        book: FaultBook,
        pads: ForcePads | None,
        glove: Glove | None,
        stale_after_s: float,
        max_pair_gap_s: float,
    ) -> None:
        self.clock = clock
        self.store = store
        self.book = book
        self.pads = pads
        self.glove = glove
        self.stale_after_s = stale_after_s
        self.max_pair_gap_s = max_pair_gap_s
        #: pad -> (start, end or None) of its last pause by a focused burst (s).
        self._paused: dict[int, tuple[float, float | None]] = {}

    def __repr__(self) -> str:
        return f"Readings({self.store!r}, stale after {self.stale_after_s:g} s)"

    def latest(self) -> dict[int, PadSample | None]:
        """The newest sample of every pad (None before the first)."""
        return dict(enumerate(self.store.latest()))

    def window(self, seconds: float) -> Window:
        """Every pad's and IMU's samples of the last ``seconds`` (copies)."""
        return self.store.window(self.clock.now() - seconds)

    # -- the force port (station.protocols.base.ForcePort) ---------------------------------

    def latest_n(self, pad: int) -> float:
        """Newest force on ``pad`` (N); raises PadFault for a faulty pad (SupplyRefFault for
        a faulty supply reference), never 0 N."""
        self.book.raise_active(SUPPLY_REF, pad_key(pad))
        s = self.store.latest_pad(pad)
        if s is None:
            raise PadFault(pad, None, "no calibrated reading yet")
        if math.isnan(s.force_n):
            raise PadGap(pad)
        age = self._age_s(pad, s.t_s)
        if age > self.stale_after_s:
            # A stopped or starved loop: an old reading is not today's force.
            raise PadFault(pad, None, f"newest reading is {age * 1000:.0f} ms old")
        return s.force_n

    def latest_t_s(self, pad: int) -> float | None:
        """Time (clock s) of ``pad``'s newest sample, readable or not; None before the first.
        Lets a display loop redraw as soon as a new sample arrives."""
        s = self.store.latest_pad(pad)
        return None if s is None else s.t_s

    def window_n(self, pad: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """``pad``'s sample times (s) and forces (N) of the last ``seconds``."""
        w = self.store.pad_window(pad, self.clock.now() - seconds)
        return w.t_s, w.force_n

    def full_scale_n(self) -> float:
        assert self.pads is not None
        return self.pads.full_scale_n()

    def calibrated(self, pad: int) -> bool:
        """``pad`` exists and has a calibration record (else it reads no newtons)."""
        return self.pads is not None and 0 <= pad < self.pads.n_pads and self.pads.calibrated(pad)

    # -- the glove -------------------------------------------------------------------------

    def imu_window(self, segment: str, seconds: float) -> ImuWindow:
        """``segment``'s samples of the last ``seconds``; raises its IMU's fault or the
        glove's (:class:`~sensors.faults.ImuFault`, :class:`~sensors.faults.GloveUnplugged`)."""
        self.book.raise_active(GLOVE, imu_key(segment))
        return self.store.imu_windows([segment], self.clock.now() - seconds)[segment]

    def flexion_deg(self, finger: str, seconds: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Flexion of ``finger`` over the last ``seconds`` (0: the newest sample).

        Each finger sample is paired with the nearest back-of-hand sample; raises
        :class:`~sensors.faults.ImuFault` when the finger's or the back's IMU is faulty or
        when a finger sample has no back sample within :attr:`max_pair_gap_s` (the back IMU
        is not being read: a stale back sample would turn a hand tilt into flexion).
        """
        assert self.glove is not None
        span_s = max(seconds, 0.1)
        t_from = self.clock.now() - span_s
        # Back samples up to one pairing gap before the span can pair with its first samples.
        t_pairs = self.clock.now() - (span_s + self.max_pair_gap_s)
        w = self.store.imu_windows([finger, "back"], t_pairs)
        self.book.raise_active(GLOVE, imu_key(finger))
        self.book.raise_active(GLOVE, imu_key("back"))
        f, b = w[finger], w["back"]
        keep = f.t_s >= t_from
        f = ImuWindow(f.t_s[keep], f.accel_g[keep], f.gyro_dps[keep], f.quat[keep])
        if not len(f.t_s):
            raise ImuFault(finger, None, f"no samples in the last {span_s * 1000:.0f} ms")
        if not len(b.t_s):
            raise ImuFault(
                "back",
                None,
                f"no samples in the last {(span_s + self.max_pair_gap_s) * 1000:.0f} ms: "
                "the back-of-hand IMU is not being read",
            )
        t_f, q_f = (f.t_s[-1:], f.quat[-1:]) if seconds <= 0 else (f.t_s, f.quat)
        idx, gap = nearest(b.t_s, t_f)
        worst = int(np.argmax(gap))
        if gap[worst] > self.max_pair_gap_s:
            raise ImuFault(
                "back",
                None,
                f"no sample within {gap[worst] * 1000:.0f} ms of the {finger} sample at "
                f"{t_f[worst]:.3f} s (limit {self.max_pair_gap_s * 1000:.0f} ms): "
                "the back-of-hand IMU is not being read",
            )
        return t_f, self.glove.flexion_deg(finger, b.quat[idx], q_f)

    def tremor(self, seconds: float = 4.0, segment: str = "back") -> TremorEstimate:
        """Tremor band of ``segment``'s gyro over the last ``seconds``; raises the segment's
        IMU fault or the glove's, like :meth:`imu_window`."""
        assert self.glove is not None
        w = self.imu_window(segment, seconds)
        return tremor_band(w.gyro_dps, self.glove.odr_hz)

    # -- pads paused by a focused burst (sensors.pad_sampler.PadSampler.begin_focus) -------

    def pause_pads(self, pads: tuple[int, ...]) -> None:
        """``pads`` stop being sampled now (their chip serves one pad alone)."""
        now = self.clock.now()
        for pad in pads:
            self._paused[pad] = (now, None)

    def resume_pads(self, pads: tuple[int, ...]) -> None:
        """``pads`` are sampled again from now."""
        now = self.clock.now()
        for pad in pads:
            start, _ = self._paused.get(pad, (now, None))
            self._paused[pad] = (start, now)

    def _age_s(self, pad: int, t_s: float) -> float:
        """How old a reading of ``pad`` taken at ``t_s`` is, the time the pad was paused by
        a burst left out: a pad nobody samples on purpose is not a stopped loop. Its last
        reading before the pause still ages by the time before and after it."""
        now = self.clock.now()
        age = now - t_s
        span = self._paused.get(pad)
        if span is not None:
            start, end = span
            age -= max(0.0, min(now if end is None else end, now) - max(start, t_s))
        return age

    # -- the glove's faults, for a protocol that uses it (finger_rom) ----------------------

    def glove_fault(self) -> SensorFault | None:
        """The glove's active fault (:class:`~sensors.faults.GloveUnplugged`) or that of the
        first of its IMUs with one (:class:`~sensors.faults.ImuFault`); None when it reads."""
        if self.glove is None:
            return None
        faults = self.book.active_faults
        for key in (GLOVE, *(imu_key(s) for s in self.glove.segments)):
            fault = faults.get(key)  # .get(): the loop may clear it meanwhile
            if fault is not None:
                return fault
        return None


def nearest(t_ref: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each time in ``t``, the index of the nearest time in ``t_ref`` (ascending, not
    empty; the earlier one on a tie) and how far it is (s)."""
    after = np.clip(np.searchsorted(t_ref, t), 1, len(t_ref) - 1)
    before = after - 1 if len(t_ref) > 1 else after
    nearer = np.abs(t_ref[before] - t) <= np.abs(t_ref[after] - t)
    idx = np.where(nearer, before, after)
    return idx, np.abs(t_ref[idx] - t)
