"""The acquisition loop: one fixed-rate sampler for the force pads and the glove.

One object owns it; :meth:`Acquisition.start` schedules :meth:`Acquisition.poll` with
``clock.every`` (a thread on the real clock, events on the simulated one, so the same code
runs on a Pi and in tests) and :meth:`Acquisition.stop` cancels it.

Each tick (``1 / (pad_rate_hz × channels per ADS1115)``, 2.5 ms for 4 pads at 100 Hz):

* **Pads** (``reference/HARDWARE.md`` §4.2): for every ADS1115, confirm the conversion
  started on the previous tick is done (one OS read: the pointer still selects the config
  register, 29 bits), read it, then start the next input (MUX rotation). Chips convert in
  parallel while the host serves the others. The OS read is needed at this operating point:
  from the acknowledged start write to the next tick's read is ~2.2 ms at 400 kHz, less than
  the worst-case conversion (1.1/475 SPS = 2.32 ms), and a read before the end returns the
  previous input's conversion (another pad's value). A conversion not done is left for the
  next tick (``late_conversions``); one not done ``CONVERSION_TIMEOUT`` worst cases after
  its start is a failure (ETIMEDOUT). Samples are stamped at the conversion's end.
* **Glove** (§4.3): one IMU's FIFO is drained per tick, staggered so that each is drained
  every ``imu_drain_s`` (40 ms); its samples are timestamped from the ODR
  (:class:`sensors.glove.FifoTimeline`), calibrated and fused.
* **Ring buffers** (numpy, ``buffer_s`` deep) per pad and per IMU; :meth:`latest` and
  :meth:`window` copy out under a lock.

Faults: a bus error is retried once, then counted as an event naming the pad or IMU;
``fault_after`` consecutive failures of a part raise a named fault event
(:class:`~sensors.faults.PadFault`, :class:`~sensors.faults.ImuFault`, or
:class:`~sensors.faults.GloveUnplugged` when every IMU fails together), call ``on_fault``
(the station wires the motors off there) and are raised by :meth:`check` and by the readers
of the faulty part. A part that answers again is re-initialised if needed and recovers.
The supply reference (if fitted) is a part too: ``fault_after`` readings in a row that fail
or that :meth:`ForcePads.update_supply` refuses (outside ±15 % of the nominal supply) raise
:class:`~sensors.faults.SupplyRefFault` for every pad.
"""

from __future__ import annotations

import errno
import math
import threading
from collections import Counter, deque
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from drivers.lsm6dsox import DeviceReset
from sensors.faults import (
    Event,
    GloveUnplugged,
    ImuFault,
    PadFault,
    PadGap,
    SensorFault,
    SupplyRefFault,
)
from sensors.force_pads import (
    FLAG_CONTACT,
    FLAG_OPEN,
    FLAG_SATURATED,
    ForcePads,
    PadChannel,
    PadSample,
)
from sensors.fusion import TremorEstimate, tremor_band
from sensors.glove import Glove
from sensors.ring import ImuWindow, PadWindow, Ring, Window

#: A conversion still not done this many worst-case conversion times (1.1/DR) after its
#: start is a fault (errno ETIMEDOUT), counted like a failed read.
CONVERSION_TIMEOUT = 3.0


class _Failed(Exception):
    def __init__(self, errno: int | None) -> None:
        self.errno = errno


class Acquisition:
    """Samples ``pads`` and ``glove`` (either may be None) on ``clock``."""

    def __init__(
        self,
        clock,
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
        self.fault_after = fault_after
        self.on_fault = on_fault
        self._rotation: list[list[PadChannel | None]] = []
        if pads is not None:
            for a in range(len(pads.adcs)):
                rot: list[PadChannel | None] = [c for c in pads.layout if c.adc == a]
                if pads.supply_ref is not None and pads.supply_ref.adc == a:
                    rot.append(None)  # None: the supply reference input
                self._rotation.append(rot)
            per_chip = max(len(r) for r in self._rotation)
            self.period_s = 1.0 / (pad_rate_hz * per_chip)
            #: ``latest_n`` refuses a reading older than this (ten sample periods).
            self.stale_after_s = max(0.1, 10.0 / pad_rate_hz)
        else:
            assert glove is not None
            self.period_s = imu_drain_s / len(glove.segments)
            self.stale_after_s = 0.1
        segments = glove.segments if glove is not None else []
        self._drain_every = max(len(segments), round(imu_drain_s / self.period_s))
        self._segments = segments
        #: :meth:`flexion_deg` pairs a finger sample only with a back-of-hand sample this
        #: close in time: one drain period (the IMUs are drained in turn) and two samples.
        self.max_pair_gap_s = self._drain_every * self.period_s + (
            2.0 / glove.odr_hz if glove is not None else 0.0
        )
        n_pads = pads.n_pads if pads is not None else 0
        pad_rows = int(buffer_s * pad_rate_hz * 1.25) + 16
        imu_rows = int(buffer_s * (glove.odr_hz if glove else 0) * 1.1) + 16
        self._pad_ring = [Ring(pad_rows, 3) for _ in range(n_pads)]
        self._imu_ring = {s: Ring(imu_rows, 10) for s in segments}
        self._latest_pad: list[PadSample | None] = [None] * n_pads
        self._pending: list[tuple[PadChannel | None, float] | None] = [None] * len(self._rotation)
        self._next = [0] * len(self._rotation)
        self._pad_fail = [0] * n_pads
        self._supply_fail = 0  # consecutive refused or failed supply reference readings
        self._imu_fail = dict.fromkeys(segments, 0)
        self.active_faults: dict[str, SensorFault] = {}
        self._unraised: list[SensorFault] = []
        self.events: deque[Event] = deque(maxlen=max_events)
        #: Events counted by kind; another thread reads them with :meth:`counters_snapshot`.
        self.counters: Counter[str] = Counter()
        self.poll_count = 0
        self._tick = 0
        self._last_poll: float | None = None
        self._handle: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "running" if self._handle is not None else "stopped"
        return f"Acquisition({state}, every {self.period_s * 1000:.2f} ms, {self.poll_count} polls)"

    # -- lifecycle -------------------------------------------------------------------------

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

    # -- one tick --------------------------------------------------------------------------

    def poll(self) -> None:
        now = self.clock.now()
        if self._last_poll is not None and now - self._last_poll > 1.5 * self.period_s:
            lost = round((now - self._last_poll) / self.period_s) - 1
            self._count("overrun_ticks", lost)
            self._event("overrun", "loop", detail=f"{lost} ticks late")
        self._last_poll = now
        self.poll_count += 1
        if self.pads is not None:
            for chip in range(len(self._rotation)):
                self._poll_chip(chip)
        if self._segments:
            slot = self._tick % self._drain_every
            if slot < len(self._segments):
                self._drain(self._segments[slot])
        self._tick += 1

    def _poll_chip(self, chip: int) -> None:
        assert self.pads is not None
        adc = self.pads.adcs[chip]
        pending = self._pending[chip]
        if pending is not None:
            channel, t_started = pending
            # OS = 1 confirms the conversion is done: read before that, the conversion
            # register still holds the previous input's result (another pad's value).
            try:
                counts = self._io(adc.read_raw) if self._io(adc.ready) else None
            except _Failed as exc:
                self._pad_failed(channel, exc.errno, "read")
            else:
                if counts is not None:
                    self._pad_result(channel, t_started + 1.0 / adc.data_rate_sps, counts)
                elif self.clock.now() - t_started <= CONVERSION_TIMEOUT * adc.conversion_time_s():
                    self._count("late_conversions")
                    return  # still converting: read it next tick
                else:  # never ends (chip hung, or reset): a fault, never its old data
                    self._pad_failed(channel, errno.ETIMEDOUT, "conversion")
            self._pending[chip] = None
        rotation = self._rotation[chip]
        channel = rotation[self._next[chip]]
        self._next[chip] = (self._next[chip] + 1) % len(rotation)
        ain = channel.ain if channel is not None else self.pads.supply_ref.ain  # type: ignore[union-attr]
        try:
            self._io(lambda: adc.start_single(ain))
        except _Failed as exc:
            self._pad_failed(channel, exc.errno, "start")
            return
        # Stamped once the start write is acknowledged: the chip latches it at the end of
        # the write, which on a slow bus or after a preemption is well after it was issued.
        self._pending[chip] = (channel, self.clock.now())

    def _pad_result(self, channel: PadChannel | None, t_s: float, counts: int) -> None:
        assert self.pads is not None
        if channel is None:
            try:
                self.pads.update_supply(counts)
            except SupplyRefFault as fault:
                self._count("supply_ref_refused")
                self._supply_failed(fault)
            else:
                self._supply_fail = 0
                if "supply_ref" in self.active_faults:
                    self.pads.set_supply_fault(None)
                    self._recovered("supply_ref")
            return
        pad = channel.pad
        s = self.pads.sample(pad, t_s, counts)
        flags = (
            (FLAG_CONTACT if s.contact else 0)
            | (FLAG_SATURATED if s.saturated else 0)
            | (FLAG_OPEN if s.open else 0)
        )
        with self._lock:
            self._pad_ring[pad].put(t_s, (s.force_n, s.volts, flags))
            self._latest_pad[pad] = s
        if s.open:
            self._pad_fail[pad] += 1
            if self._pad_fail[pad] == self.fault_after:
                self._fault(f"pad{pad}", PadFault(pad, None, "input at the rail: unplugged?"))
        else:
            self._part_ok(f"pad{pad}", pad)

    def _pad_failed(self, channel: PadChannel | None, errno: int | None, what: str) -> None:
        part = f"pad{channel.pad}" if channel is not None else "supply_ref"
        self._count("bus_errors")
        if part in self.active_faults:
            return  # already reported; keep counting quietly until it recovers
        self._event("bus_error", part, errno, what)
        if channel is None:
            self._supply_failed(SupplyRefFault(errno, f"ADS1115 {what} failed"))
            return
        self._pad_fail[channel.pad] += 1
        if self._pad_fail[channel.pad] >= self.fault_after:
            self._fault(part, PadFault(channel.pad, errno, f"ADS1115 {what} failed"))

    def _supply_failed(self, fault: SupplyRefFault) -> None:
        # One refused reading is not used and moves nothing; ``fault_after`` in a row make
        # every pad's force NaN and the readers raise the fault.
        assert self.pads is not None
        self._supply_fail += 1
        if self._supply_fail >= self.fault_after and "supply_ref" not in self.active_faults:
            self.pads.set_supply_fault(fault)
            self._fault("supply_ref", fault)

    def _drain(self, segment: str) -> None:
        assert self.glove is not None
        glove = self.glove
        try:
            try:
                batch = self._io(lambda: glove.drain(segment))
            except DeviceReset:
                # The IMU lost its configuration (glove re-plugged, power glitch): re-init.
                self._count("imu_resets")
                self._event("imu_reset", f"imu:{segment}", None, "re-initialised")
                self._io(lambda: glove.reinit(segment))
                return
        except _Failed as exc:
            self._imu_failed(segment, exc.errno)
            return
        if batch.overrun:
            self._count("imu_overruns")
            self._event("imu_overrun", f"imu:{segment}", None, "FIFO overrun: samples lost")
        if len(batch.t_s):
            rows = np.hstack([batch.accel_g, batch.gyro_dps, batch.quat])
            with self._lock:
                self._imu_ring[segment].append(batch.t_s, rows)
        self._imu_fail[segment] = 0
        if "glove" in self.active_faults:
            self._recovered("glove")
        self._recovered(f"imu:{segment}")

    def _imu_failed(self, segment: str, errno: int | None) -> None:
        self._count("bus_errors")
        self._imu_fail[segment] += 1
        part = f"imu:{segment}"
        if part in self.active_faults or "glove" in self.active_faults:
            return
        self._event("bus_error", part, errno, "FIFO drain")
        if self._imu_fail[segment] >= self.fault_after:
            if all(n >= 1 for n in self._imu_fail.values()) and len(self._imu_fail) > 1:
                self._fault("glove", GloveUnplugged(errno))
            else:
                self._fault(part, ImuFault(segment, errno))

    def _io(self, fn: Callable[[], Any]) -> Any:
        """Call ``fn``; retry once on ``OSError``; raise ``_Failed`` if both fail."""
        try:
            return fn()
        except OSError:
            self._count("retries")
        try:
            return fn()
        except OSError as exc:
            raise _Failed(exc.errno) from exc

    # -- faults and events -----------------------------------------------------------------

    def _event(
        self,
        kind: str,
        part: str,
        errno: int | None = None,
        detail: str = "",
        fault: SensorFault | None = None,
    ) -> None:
        self._count(kind)
        self.events.append(Event(self.clock.now(), kind, part, errno, detail, fault))

    def _fault(self, key: str, fault: SensorFault) -> None:
        with self._lock:
            self.active_faults[key] = fault
            self._unraised.append(fault)
        self._event(fault.kind, fault.part, fault.errno, fault.detail, fault)
        if self.on_fault is not None:
            self.on_fault(fault)

    def _part_ok(self, part: str, pad: int) -> None:
        self._pad_fail[pad] = 0
        self._recovered(part)

    def _recovered(self, part: str) -> None:
        with self._lock:
            gone = self.active_faults.pop(part, None)
        if gone is not None:
            self._event("recovered", part)

    def _count(self, key: str, n: int = 1) -> None:
        # Under the lock: a reader copying the counters on another thread must not see the
        # dict change size (a new key) while it iterates.
        with self._lock:
            self.counters[key] += n

    def counters_snapshot(self) -> dict[str, int]:
        """A copy of :attr:`counters`, safe to iterate on any thread while the loop runs."""
        with self._lock:
            return dict(self.counters)

    def check(self, relevant: Callable[[SensorFault], bool] | None = None) -> None:
        """Raise the oldest fault not raised yet (PadFault, ImuFault, GloveUnplugged), of
        those ``relevant`` accepts (default: all); the others stay for another check."""
        with self._lock:
            for i, fault in enumerate(self._unraised):
                if relevant is None or relevant(fault):
                    del self._unraised[i]
                    break
            else:
                return
        raise fault

    def pending_faults(self) -> list[SensorFault]:
        """The faults not raised yet, oldest first (copies of the list)."""
        with self._lock:
            return list(self._unraised)

    def forget_recovered(self) -> list[SensorFault]:
        """Drop the unraised faults of parts that have recovered since (a glove unplugged
        and plugged back at the menu must not end the next session); returns them."""
        with self._lock:
            active = {id(f) for f in self.active_faults.values()}
            gone = [f for f in self._unraised if id(f) not in active]
            self._unraised = [f for f in self._unraised if id(f) in active]
        return gone

    # -- reading ---------------------------------------------------------------------------

    def latest(self) -> dict[int, PadSample | None]:
        """The newest sample of every pad (None before the first)."""
        with self._lock:
            return dict(enumerate(self._latest_pad))

    def window(self, seconds: float) -> Window:
        """Every pad's and IMU's samples of the last ``seconds`` (copies)."""
        t_from = self.clock.now() - seconds
        with self._lock:
            pads = {}
            for pad, ring in enumerate(self._pad_ring):
                t, d = ring.since(t_from)
                pads[pad] = PadWindow(t, d[:, 0], d[:, 1], d[:, 2].astype(np.uint8))
            imus = {}
            for seg, ring in self._imu_ring.items():
                t, d = ring.since(t_from)
                imus[seg] = ImuWindow(t, d[:, 0:3], d[:, 3:6], d[:, 6:10])
        return Window(pads, imus)

    # The force port the session protocols use (station.protocols.base.ForcePort).

    def latest_n(self, pad: int) -> float:
        """Newest force on ``pad`` (N); raises PadFault for a faulty pad (SupplyRefFault for
        a faulty supply reference), never 0 N."""
        fault = self.active_faults.get("supply_ref") or self.active_faults.get(f"pad{pad}")
        if fault is not None:
            raise fault
        with self._lock:
            s = self._latest_pad[pad]
        if s is None:
            raise PadFault(pad, None, "no calibrated reading yet")
        if math.isnan(s.force_n):
            raise PadGap(pad)
        age = self.clock.now() - s.t_s
        if age > self.stale_after_s:
            # A stopped or starved loop: an old reading is not today's force.
            raise PadFault(pad, None, f"newest reading is {age * 1000:.0f} ms old")
        return s.force_n

    def window_n(self, pad: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        w = self.window(seconds).pads[pad]
        return w.t_s, w.force_n

    def full_scale_n(self) -> float:
        assert self.pads is not None
        return self.pads.full_scale_n()

    def calibrated(self, pad: int) -> bool:
        """``pad`` exists and has a calibration record (else it reads no newtons)."""
        return self.pads is not None and 0 <= pad < self.pads.n_pads and self.pads.calibrated(pad)

    def _raise_imu_fault(self, segment: str) -> None:
        # .get(): the loop may clear a fault between a membership test and an index.
        fault = self.active_faults.get("glove") or self.active_faults.get(f"imu:{segment}")
        if fault is not None:
            raise fault

    def imu_window(self, segment: str, seconds: float) -> ImuWindow:
        """``segment``'s samples of the last ``seconds``; raises its IMU's fault or the
        glove's (:class:`~sensors.faults.ImuFault`, :class:`~sensors.faults.GloveUnplugged`)."""
        self._raise_imu_fault(segment)
        return self.window(seconds).imus[segment]

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
        w = self.window(span_s + self.max_pair_gap_s)
        self._raise_imu_fault(finger)
        self._raise_imu_fault("back")
        f, b = w.imus[finger], w.imus["back"]
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
        if seconds <= 0:
            f = ImuWindow(f.t_s[-1:], f.accel_g[-1:], f.gyro_dps[-1:], f.quat[-1:])
        after = np.clip(np.searchsorted(b.t_s, f.t_s), 1, len(b.t_s) - 1)
        before = after - 1 if len(b.t_s) > 1 else after
        nearer = np.abs(b.t_s[before] - f.t_s) <= np.abs(b.t_s[after] - f.t_s)
        idx = np.where(nearer, before, after)
        gap = np.abs(b.t_s[idx] - f.t_s)
        worst = int(np.argmax(gap))
        if gap[worst] > self.max_pair_gap_s:
            raise ImuFault(
                "back",
                None,
                f"no sample within {gap[worst] * 1000:.0f} ms of the {finger} sample at "
                f"{f.t_s[worst]:.3f} s (limit {self.max_pair_gap_s * 1000:.0f} ms): "
                "the back-of-hand IMU is not being read",
            )
        return f.t_s, self.glove.flexion_deg(finger, b.quat[idx], f.quat)

    def tremor(self, seconds: float = 4.0, segment: str = "back") -> TremorEstimate:
        """Tremor band of ``segment``'s gyro over the last ``seconds``; raises the segment's
        IMU fault or the glove's, like :meth:`imu_window`."""
        assert self.glove is not None
        w = self.imu_window(segment, seconds)
        return tremor_band(w.gyro_dps, self.glove.odr_hz)

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
            and f"pad{p}" not in self.active_faults
        }
        return self.pads.tare(usable)

    def glove_still(self, seconds: float = 2.0, reference: bool = True) -> dict[str, Any]:
        """Hold the hand still for ``seconds``: gyro biases, accel fit, zero pose."""
        assert self.glove is not None
        self.glove.begin_still()
        self.clock.sleep(seconds)
        return self.glove.end_still(reference)
