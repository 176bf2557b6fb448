"""The acquisition loop: one fixed-rate sampler for the force pads and the glove.

:class:`Acquisition` composes the parts and owns the schedule: :meth:`Acquisition.start`
runs :meth:`Acquisition.poll` with ``clock.every`` (a thread on the real clock, events on
the simulated one, so the same code runs on a Pi and in tests), every
``1 / (pad_rate_hz × inputs per ADS1115)`` (2.5 ms for 4 pads at 100 Hz). Each tick:

* :class:`~sensors.pad_sampler.PadSampler` reads each ADS1115's finished conversion and
  starts its next input;
* :class:`~sensors.imu_drainer.ImuDrainer` drains one IMU's FIFO, each every
  ``imu_drain_s`` (40 ms);
* both keep samples in a :class:`~sensors.ring.SampleStore` (``buffer_s`` deep) and their
  faults, events and counters in a :class:`~sensors.fault_book.FaultBook`.

:meth:`Acquisition.focus` runs a focused burst (rate of force development): one pad alone
on its ADS1115 at 860 SPS on a faster tick, the regular tick served on its own period.

:class:`~sensors.readings.Readings` is the read side the protocols use (this class serves
it too), and the procedures that need the loop running (tare, still pose) are here.

Faults: a bus error is retried once, then counted as an event naming the pad or IMU;
``fault_after`` consecutive failures of a part raise a named fault event, call ``on_fault``
(the station wires the motors off there) and are raised by :meth:`check` and by the readers
of the faulty part. A part that answers again is re-initialised if needed and recovers.

One lock (``_lock``) is shared by the store and the book: the loop holds it for one write
at a time, a reader for one copy; never across bus I/O or ``on_fault``.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator
from typing import Any

import numpy as np

from sensors.fault_book import FaultBook, pad_key
from sensors.faults import Event, SensorFault
from sensors.force_pads import FLAG_OPEN, ForcePads, PadSample
from sensors.fusion import TremorEstimate
from sensors.glove import Glove
from sensors.imu_drainer import ImuDrainer
from sensors.pad_sampler import Focus, PadSampler
from sensors.readings import Readings
from sensors.ring import ImuWindow, SampleStore, Window


class Acquisition:
    """Samples ``pads`` and ``glove`` (either may be None) on ``clock``."""

    def __init__(
        self,
        clock: Any,
        pads: ForcePads | None = None,
        glove: Glove | None = None,
        pad_rate_hz: float = 100.0,
        imu_drain_s: float = 0.04,
        buffer_s: float = 30.0,
        fault_after: int = 3,
        on_fault: Callable[[SensorFault], None] | None = None,
        max_events: int = 1000,
    ) -> None:
        if pads is None and glove is None:
            raise ValueError("nothing to acquire: give pads, a glove, or both")
        self.clock = clock
        self.pads = pads
        self.glove = glove
        self._lock = threading.Lock()
        self.book = FaultBook(clock, on_fault, max_events, self._lock)
        segments = glove.segments if glove is not None else []
        self.store = SampleStore(
            pads.n_pads if pads is not None else 0,
            int(buffer_s * pad_rate_hz * 1.25) + 16,
            segments,
            int(buffer_s * (glove.odr_hz if glove else 0) * 1.1) + 16,
            self._lock,
        )
        self.sampler: PadSampler | None = None
        if pads is not None:
            self.sampler = PadSampler(pads, clock, self.book, self.store, fault_after)
            self.period_s = 1.0 / (pad_rate_hz * self.sampler.inputs_per_chip)
            stale_after_s = max(0.1, 10.0 / pad_rate_hz)  # ten sample periods
        else:
            assert glove is not None
            self.period_s = imu_drain_s / len(segments)
            stale_after_s = 0.1
        drain_every = max(len(segments), round(imu_drain_s / self.period_s))
        self.drainer: ImuDrainer | None = None
        if glove is not None:
            self.drainer = ImuDrainer(glove, self.book, self.store, fault_after, drain_every)
        # One drain period (the IMUs are drained in turn) and two samples.
        max_pair_gap_s = drain_every * self.period_s + (
            2.0 / glove.odr_hz if glove is not None else 0.0
        )
        self.readings = Readings(
            clock, self.store, self.book, pads, glove, stale_after_s, max_pair_gap_s
        )
        self.poll_count = 0
        self._tick = 0
        self._last_poll: float | None = None
        self._handle: Any = None
        self.fault_after = fault_after

    def __repr__(self) -> str:
        state = "running" if self._handle is not None else "stopped"
        return f"Acquisition({state}, every {self.period_s * 1000:.2f} ms, {self.poll_count} polls)"

    # -- the schedule ----------------------------------------------------------------------

    def start(self) -> None:
        if self._handle is None:
            self._last_poll = None
            self._handle = self.clock.every(self.period_s, self.poll, "acquisition")

    def stop(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()

    @property
    def running(self) -> bool:
        return self._handle is not None

    def __enter__(self) -> Acquisition:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def poll(self) -> None:
        """One tick: the pads' conversions, then the IMU whose turn it is."""
        now = self.clock.now()
        if self._last_poll is not None and now - self._last_poll > 1.5 * self.period_s:
            lost = round((now - self._last_poll) / self.period_s) - 1
            self.book.count("overrun_ticks", lost)
            self.book.event("overrun", "loop", detail=f"{lost} ticks late")
        self._last_poll = now
        self.poll_count += 1
        if self.sampler is not None:
            self.sampler.poll()
        if self.drainer is not None:
            self.drainer.poll(self._tick)
        self._tick += 1

    @property
    def fault_after(self) -> int:
        """Consecutive failures of a part that make it a fault (pads and IMUs alike)."""
        return self._fault_after

    @fault_after.setter
    def fault_after(self, n: int) -> None:
        self._fault_after = n
        for part in (self.sampler, self.drainer):
            if part is not None:
                part.fault_after = n

    # -- procedures that need the loop running ---------------------------------------------

    def tare(self, seconds: float = 0.5, pads: Collection[int] | None = None) -> dict[int, float]:
        """Wait ``seconds`` on the clock, then zero ``pads`` (default: all) from that window.

        A pad that read open in the window, or has an active fault, is left out (its
        reading says nothing of its zero, and would refuse the others' tare as a press)."""
        assert self.pads is not None
        self.clock.sleep(seconds)
        w = self.window(seconds)
        usable = {
            p: pw.volts
            for p, pw in w.pads.items()
            if len(pw.volts)
            and (pads is None or p in pads)
            and not np.any(pw.flags & FLAG_OPEN)
            and pad_key(p) not in self.active_faults
        }
        return self.pads.tare(usable)

    def glove_still(self, seconds: float = 2.0, reference: bool = True) -> dict[str, Any]:
        """Hold the hand still for ``seconds``: gyro biases, accel fit, zero pose."""
        assert self.glove is not None
        self.glove.begin_still()
        self.clock.sleep(seconds)
        return self.glove.end_still(reference)

    # -- the fault book (sensors.fault_book.FaultBook) -------------------------------------

    @property
    def active_faults(self) -> dict[str, SensorFault]:
        return self.book.active_faults

    @active_faults.setter
    def active_faults(self, faults: dict[str, SensorFault]) -> None:
        self.book.active_faults = faults

    @property
    def counters(self) -> Counter[str]:
        return self.book.counters

    @counters.setter
    def counters(self, counters: Counter[str]) -> None:
        self.book.counters = counters

    @property
    def events(self) -> deque[Event]:
        return self.book.events

    def counters_snapshot(self) -> dict[str, int]:
        return self.book.counters_snapshot()

    def check(self, relevant: Callable[[SensorFault], bool] | None = None) -> None:
        self.book.check(relevant)

    def pending_faults(self) -> list[SensorFault]:
        return self.book.pending_faults()

    def forget_recovered(self) -> list[SensorFault]:
        return self.book.forget_recovered()

    # -- the read side (sensors.readings.Readings), the protocols' force port --------------

    @property
    def stale_after_s(self) -> float:
        """:meth:`latest_n` refuses a reading older than this (ten sample periods)."""
        return self.readings.stale_after_s

    @stale_after_s.setter
    def stale_after_s(self, seconds: float) -> None:
        self.readings.stale_after_s = seconds

    @property
    def max_pair_gap_s(self) -> float:
        """:meth:`flexion_deg` pairs a finger sample only with a back-of-hand sample this
        close in time."""
        return self.readings.max_pair_gap_s

    @max_pair_gap_s.setter
    def max_pair_gap_s(self, seconds: float) -> None:
        self.readings.max_pair_gap_s = seconds

    def latest(self) -> dict[int, PadSample | None]:
        return self.readings.latest()

    def window(self, seconds: float) -> Window:
        return self.readings.window(seconds)

    def latest_n(self, pad: int) -> float:
        return self.readings.latest_n(pad)

    def latest_t_s(self, pad: int) -> float | None:
        return self.readings.latest_t_s(pad)

    def window_n(self, pad: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        return self.readings.window_n(pad, seconds)

    def full_scale_n(self) -> float:
        return self.readings.full_scale_n()

    def calibrated(self, pad: int) -> bool:
        return self.readings.calibrated(pad)

    def imu_window(self, segment: str, seconds: float) -> ImuWindow:
        return self.readings.imu_window(segment, seconds)

    def flexion_deg(self, finger: str, seconds: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        return self.readings.flexion_deg(finger, seconds)

    def tremor(self, seconds: float = 4.0, segment: str = "back") -> TremorEstimate:
        return self.readings.tremor(seconds, segment)

    # -- a focused burst (sensors.pad_sampler.PadSampler.begin_focus) ----------------------

    @contextlib.contextmanager
    def focus(self, pad: int) -> Iterator[Focus]:
        """Sample ``pad`` alone on its ADS1115 at 860 SPS while the ``with`` block runs
        (``reference/CLINICAL.md`` §3.3: RFD needs one channel at the maximum rate).

        The loop ticks every ``Focus.period_s`` (1.58 ms: 632 samples/s on a 400 kHz bus)
        for that chip and serves the regular tick (the other chips, the IMUs) every few
        ticks (every 3.2 ms at the defaults: 79 Hz per pad); the chip's other pads
        pause, and the time they are paused does not age their newest reading (see
        :meth:`Readings.pause_pads`). On every exit path, an exception included, the chip
        goes back to its rotation and data rate and the loop to its own schedule. Raises
        ValueError for a pad that is not fitted."""
        if self.sampler is None:
            raise ValueError("no force pads to focus")
        sampler = self.sampler
        if sampler.focus is not None:
            raise ValueError(f"pad {sampler.focus.pad} is already focused")
        was_running = self.running
        self.stop()  # one schedule at a time: the burst's tick replaces the loop's
        paused: tuple[int, ...] = ()
        try:
            focus = sampler.begin_focus(pad)
            paused = focus.paused
            self.readings.pause_pads(paused)
            if was_running:
                tick = self._focused_tick(focus)
                self._handle = self.clock.every(focus.period_s, tick, "acquisition-focus")
            yield focus
        finally:
            self.stop()
            sampler.end_focus()
            self.readings.resume_pads(paused)
            if was_running:
                self.start()

    def _focused_tick(self, focus: Focus) -> Callable[[], None]:
        """The loop's tick during a burst: the focused chip every tick, the regular tick
        (the other chips, the IMUs) every ``k`` ticks, the fewest that are at least its own
        period (so their conversions are done when read: 2 ticks, 3.2 ms, at the defaults).
        Late ticks are counted as overruns, as :meth:`poll` counts them."""
        assert self.sampler is not None
        sampler = self.sampler
        k = max(1, math.ceil(self.period_s / focus.period_s - 1e-9))
        n = 0
        last = self.clock.now()

        def tick() -> None:
            nonlocal n, last
            now = self.clock.now()
            if now - last > 1.5 * focus.period_s:
                lost = round((now - last) / focus.period_s) - 1
                self.book.count("overrun_ticks", lost)
                self.book.event("overrun", "loop", detail=f"{lost} focused ticks late")
            last = now
            sampler.poll_focused()
            n += 1
            if n % k == 0:
                self._last_poll = None  # its cadence is the focused tick's, checked above
                self.poll()

        return tick

    # -- the glove for a session protocol (finger_rom) -------------------------------------

    @property
    def glove_fitted(self) -> bool:
        return self.glove is not None

    def glove_fault(self) -> SensorFault | None:
        return self.readings.glove_fault()

    def begin_glove_still(self) -> None:
        """:meth:`glove_still` in two halves, for a caller that waits in between on its own
        (a session protocol: heartbeat, Stop and faults checked while the hand is still)."""
        assert self.glove is not None
        self.glove.begin_still()

    def end_glove_still(self, reference: bool = True) -> dict[str, Any]:
        """Raises ``ValueError`` when an IMU moved or gave too few samples (hold still)."""
        assert self.glove is not None
        return self.glove.end_still(reference)

    def cancel_glove_still(self) -> None:
        """Drop a still pose begun with :meth:`begin_glove_still` (the hold was cut short)."""
        if self.glove is not None:
            self.glove.cancel_still()
