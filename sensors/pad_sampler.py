"""The force pads' side of an acquisition tick: one conversion per ADS1115 per tick.

Every tick (``reference/HARDWARE.md`` §4.2), for every ADS1115: confirm the conversion
started on the previous tick is done (one OS read: the pointer still selects the config
register), read it, then start the next input of the chip's rotation (its pads, then the
supply reference if it is on that chip). Chips convert in parallel while the host serves the
others. The OS read is needed: from the acknowledged start write to the next tick's read is
~2.2 ms at 400 kHz, less than the worst-case conversion (1.1/475 SPS = 2.32 ms), and a read
before the end returns the previous input's conversion (another pad's value). A conversion
not done is left for the next tick (``late_conversions``); one not done
:data:`CONVERSION_TIMEOUT` worst cases after its start is a failure (ETIMEDOUT). Samples are
stamped at the conversion's end and kept in the :class:`~sensors.ring.SampleStore`.

A focused burst (:meth:`PadSampler.begin_focus`, rate of force development) serves one pad
alone on its chip at :data:`FOCUS_RATE_SPS`, ticked by the loop every 1.1/860 s +
:data:`FOCUS_MARGIN_S`; the chip's other inputs pause until :meth:`PadSampler.end_focus`.

Faults: ``fault_after`` consecutive failures of a pad (bus errors, or inputs at the rail)
raise :class:`~sensors.faults.PadFault`; ``fault_after`` supply reference readings in a row
that fail or that :meth:`ForcePads.update_supply` refuses raise
:class:`~sensors.faults.SupplyRefFault` for every pad.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from sensors.fault_book import SUPPLY_REF, BusFailed, FaultBook, pad_key
from sensors.faults import PadFault, SupplyRefFault
from sensors.force_pads import FLAG_CONTACT, FLAG_OPEN, FLAG_SATURATED, ForcePads, PadChannel
from sensors.ring import SampleStore

#: A conversion still not done this many worst-case conversion times (1.1/DR) after its
#: start is a fault (errno ETIMEDOUT), counted like a failed read.
CONVERSION_TIMEOUT = 3.0
#: A focused burst's data rate: the ADS1115's fastest (SBAS444 §9.6.3, DR = 111).
FOCUS_RATE_SPS = 860
#: A focused tick's period beyond the worst-case conversion: the bus time of the OS read,
#: the result read and the next start (0.29 ms at 400 kHz, HARDWARE.md §4.1) and a margin.
FOCUS_MARGIN_S = 0.0003


@dataclass(slots=True)
class Focus:
    """A focused burst: ``pad`` alone on ``chip`` (its rotation ``inputs`` and ``next``
    and data rate ``rate_sps`` kept to return to), the chip's other pads ``paused``, and
    the tick period that serves it (s)."""

    pad: int
    chip: _Chip
    rate_sps: int
    inputs: list[tuple[PadChannel | None, int]]
    next: int
    paused: tuple[int, ...]
    period_s: float


@dataclass(slots=True)
class _Chip:
    """One ADS1115 (``pads.adcs[index]``): its ``n_inputs`` inputs in turn, as (pad channel
    or None for the supply reference, AIN), the next one to start, and the conversion in
    progress: of ``channel`` (None: the supply reference), whose start write was
    acknowledged at ``t_started`` (while ``pending``)."""

    index: int
    inputs: list[tuple[PadChannel | None, int]]
    n_inputs: int
    next: int = 0
    pending: bool = False
    channel: PadChannel | None = None
    t_started: float = 0.0
    #: When the conversion in progress ends (s): its start plus 1/DR at the rate it
    #: started with (a focused burst changes the rate between a start and its read).
    t_done: float = 0.0


class PadSampler:
    """Rotates every ADS1115 of ``pads`` through its inputs, one conversion per tick."""

    def __init__(
        self, pads: ForcePads, clock: Any, book: FaultBook, store: SampleStore, fault_after: int
    ) -> None:
        self.pads = pads
        self.clock = clock
        self.book = book
        self.store = store
        self.fault_after = fault_after
        ref = pads.supply_ref
        self._chips = []
        for a in range(len(pads.adcs)):
            inputs: list[tuple[PadChannel | None, int]] = [
                (c, c.ain) for c in pads.layout if c.adc == a
            ]
            if ref is not None and ref.adc == a:
                inputs.append((None, ref.ain))
            self._chips.append(_Chip(a, inputs, len(inputs)))
        self._parts = [pad_key(p) for p in range(pads.n_pads)]
        self._pad_fail = [0] * pads.n_pads  # consecutive failures of each pad
        self._supply_fail = 0  # consecutive refused or failed supply reference readings
        self.focus: Focus | None = None  # a focused burst in progress

    def __repr__(self) -> str:
        return f"PadSampler({len(self._chips)} ADCs, {self.inputs_per_chip} inputs each)"

    @property
    def inputs_per_chip(self) -> int:
        """The longest rotation: a pad is read every this many ticks."""
        return max(len(chip.inputs) for chip in self._chips)

    def poll(self) -> None:
        """One tick: every chip's finished conversion read, its next one started (a chip in
        a focused burst is served by :meth:`poll_focused` instead)."""
        focused = self.focus.chip if self.focus is not None else None
        for chip in self._chips:
            if chip is not focused:
                self._poll_chip(chip)

    def _poll_chip(self, chip: _Chip) -> None:
        adc = self.pads.adcs[chip.index]
        if chip.pending:
            channel = chip.channel
            # OS = 1 confirms the conversion is done: read before that, the conversion
            # register still holds the previous input's result (another pad's value). A bus
            # call that raises is retried once (FaultBook.retry), as FaultBook.attempt does.
            try:
                try:
                    ready = adc.ready()
                except OSError:
                    ready = self.book.retry(adc.ready)
                counts = None
                if ready:
                    try:
                        counts = adc.read_raw()
                    except OSError:
                        counts = self.book.retry(adc.read_raw)
            except BusFailed as exc:
                self._failed(channel, exc.errno, "read")
            else:
                if counts is None:
                    t_late_s = self.clock.now() - chip.t_started
                    if t_late_s <= CONVERSION_TIMEOUT * adc.conversion_time_s():
                        self.book.count("late_conversions")
                        return  # still converting: read it next tick
                    # Never ends (chip hung, or reset): a fault, never its old data.
                    self._failed(channel, errno.ETIMEDOUT, "conversion")
                elif channel is None:
                    self._supply_result(counts)
                else:  # a pad's conversion, stamped at its end (inline: once per sample)
                    pad = channel.pad
                    s = self.pads.sample(pad, chip.t_done, counts)
                    self.store.put_pad(
                        s,
                        (FLAG_CONTACT if s.contact else 0)
                        | (FLAG_SATURATED if s.saturated else 0)
                        | (FLAG_OPEN if s.open else 0),
                    )
                    if s.open:
                        self._pad_open(pad)
                    else:
                        self._pad_fail[pad] = 0
                        part = self._parts[pad]
                        if part in self.book.active_faults:
                            self.book.recovered(part)
            chip.pending = False
        channel, ain = chip.inputs[chip.next]
        chip.next = (chip.next + 1) % chip.n_inputs
        try:
            try:
                adc.start_single(ain)
            except OSError:
                self.book.retry(adc.start_single, ain)
        except BusFailed as exc:
            self._failed(channel, exc.errno, "start")
            return
        # Stamped once the start write is acknowledged: the chip latches it at the end of
        # the write, which on a slow bus or after a preemption is well after it was issued.
        chip.pending = True
        chip.channel = channel
        chip.t_started = self.clock.now()
        chip.t_done = chip.t_started + 1.0 / adc.data_rate_sps

    # -- a focused burst: one pad alone on its chip at the fastest data rate --------------

    def begin_focus(self, pad: int) -> Focus:
        """Sample ``pad`` alone on its ADS1115 at :data:`FOCUS_RATE_SPS` from its next
        start; the chip's other inputs pause. The caller ticks :meth:`poll_focused` every
        ``Focus.period_s`` and calls :meth:`end_focus` on every exit path. Raises
        ValueError for a pad that is not fitted or a burst already in progress."""
        if self.focus is not None:
            raise ValueError(f"pad {self.focus.pad} is already focused")
        channel = next((c for c in self.pads.layout if c.pad == pad), None)
        if channel is None:
            raise ValueError(f"pad {pad} is not fitted (pads 0-{self.pads.n_pads - 1})")
        chip = self._chips[channel.adc]
        adc = self.pads.adcs[chip.index]
        paused = tuple(c.pad for c, _ in chip.inputs if c is not None and c.pad != pad)
        self.focus = Focus(pad, chip, adc.data_rate_sps, chip.inputs, chip.next, paused, 0.0)
        adc.set_data_rate(FOCUS_RATE_SPS)
        chip.inputs, chip.n_inputs, chip.next = [(channel, channel.ain)], 1, 0
        # A tick must come after the worst-case conversion (1.1/DR) and the next start's
        # bus time, or every read would find the conversion still running.
        self.focus.period_s = adc.conversion_time_s() + FOCUS_MARGIN_S
        return self.focus

    def poll_focused(self) -> None:
        """One tick of the focused chip (its conversion read, the focused input started)."""
        if self.focus is not None:
            self._poll_chip(self.focus.chip)

    def end_focus(self) -> None:
        """Back to the chip's rotation at its own data rate, where it left off. Idempotent;
        touches no bus (the next start writes the whole config word)."""
        focus, self.focus = self.focus, None
        if focus is None:
            return
        chip = focus.chip
        self.pads.adcs[chip.index].set_data_rate(focus.rate_sps)
        chip.inputs, chip.n_inputs, chip.next = focus.inputs, len(focus.inputs), focus.next

    def _pad_open(self, pad: int) -> None:
        """Pad ``pad`` read at the rail: ``fault_after`` in a row are a fault."""
        self._pad_fail[pad] += 1
        if self._pad_fail[pad] == self.fault_after:
            fault = PadFault(pad, None, "input at the rail: unplugged?")
            self.book.fault(self._parts[pad], fault)

    def _supply_result(self, counts: int) -> None:
        try:
            self.pads.update_supply(counts)
        except SupplyRefFault as fault:
            self.book.count("supply_ref_refused")
            self._supply_failed(fault)
        else:
            self._supply_fail = 0
            if SUPPLY_REF in self.book.active_faults:
                self.pads.set_supply_fault(None)
                self.book.recovered(SUPPLY_REF)

    def _failed(self, channel: PadChannel | None, errno: int | None, what: str) -> None:
        part = self._parts[channel.pad] if channel is not None else SUPPLY_REF
        self.book.count("bus_errors")
        if part in self.book.active_faults:
            return  # already reported; keep counting quietly until it recovers
        self.book.event("bus_error", part, errno, what)
        if channel is None:
            self._supply_failed(SupplyRefFault(errno, f"ADS1115 {what} failed"))
            return
        self._pad_fail[channel.pad] += 1
        if self._pad_fail[channel.pad] >= self.fault_after:
            self.book.fault(part, PadFault(channel.pad, errno, f"ADS1115 {what} failed"))

    def _supply_failed(self, fault: SupplyRefFault) -> None:
        # One refused reading is not used and moves nothing; ``fault_after`` in a row make
        # every pad's force NaN and the readers raise the fault.
        self._supply_fail += 1
        if self._supply_fail >= self.fault_after and SUPPLY_REF not in self.book.active_faults:
            self.pads.set_supply_fault(fault)
            self.book.fault(SUPPLY_REF, fault)
