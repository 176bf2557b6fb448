"""The simulated I2C bus: routing, wire time, a transaction log and fault injection.

It implements the same contract as MicroPython's ``machine.I2C`` and the smbus2 adapter, so
drivers run on it unchanged. Behaviour follows the Pi's ``i2c-bcm2835`` controller:

* an address nobody answers raises ``OSError(121, 'Remote I/O error')`` (the errno is
  configurable: 5, 6 or 110 as other controllers report);
* a combined transfer whose read segment is not the last raises ``OSError(95)``;
* wire time is counted at the bus speed as 9 bits a byte (8 data + ACK, the address byte
  included), 1 bit per START or repeated START and 1 bit per STOP, and the simulated clock
  is advanced by it (see ``reference/HARDWARE.md`` section 4.1 for the figures).

Chips hang directly on the bus (``attach``) or behind a switch model that implements
``routes``; writes reaching several chips at one address fan out, reads are wired-AND
(open drain) and counted as collisions.
"""

from __future__ import annotations

import errno as _errno
import os
import threading
from collections import defaultdict
from collections.abc import Sequence

from drivers.sim.bus_faults import FaultPlan
from drivers.sim.chip import ROUTING, SimChip
from drivers.sim.clock import time_cell
from drivers.sim.wire_log import (  # noqa: F401  (Segment, Transaction: the log's values)
    _SEGMENT_BITS,
    BITS_PER_BYTE,
    START_BITS,
    STOP_BITS,
    BusStats,
    Segment,
    Transaction,
    TransactionLog,
    WireSegment,
    transaction_bits,
)


class SimI2CBus:
    """A simulated I2C bus on a :class:`~drivers.sim.clock.SimClock`."""

    def __init__(
        self,
        clock,
        speed_hz: int = 100_000,
        name: str = "sim-i2c",
        log_size: int = 4096,
        nack_errno: int = _errno.EREMOTEIO,
        host_overhead_s: float = 0.0,
        read_must_be_last: bool = True,
    ) -> None:
        if speed_hz <= 0:
            raise ValueError(f"speed_hz must be > 0, got {speed_hz}")
        self.clock = clock
        #: Shortcut transactions' (bits, bytes, wire seconds) by their key (see _simple),
        #: and how many of each went through since the stats were reset.
        self._wire: dict[int, tuple[int, int, float]] = {}
        self._wire_s: dict[int, float] = {}
        self._tally: defaultdict[int, int] = defaultdict(int)
        self.speed_hz = speed_hz
        self.name = name
        self.nack_errno = nack_errno
        self.host_overhead_s = host_overhead_s
        self.read_must_be_last = read_must_be_last
        self.log = TransactionLog(log_size)
        self._stats = BusStats()  # the transfer path's; the shortcut's are in _tally
        self._chips: dict[int, list[SimChip]] = {}
        #: address -> (routing epoch, this bus's epoch, present chips answering it).
        self._routes: dict[int, tuple[int, int, list[SimChip]]] = {}
        #: The machine.I2C shortcut's routes: address -> (routing epoch, the one chip
        #: answering, whether it acts on STOP). Only while no fault is armed, the bus is
        #: open and its switches keep their channels: emptied when any of that changes.
        self._shortcuts: dict[int, tuple[int, SimChip, bool]] = {}
        #: The routing state of this bus's switches (``routing_changed``): a small number
        #: per state its switches describe (:meth:`SimChip.route_state`), so that the routes
        #: and shortcuts worked out for a selection are found again when it comes back (a
        #: glove drain switches the mux back and forth); a fresh number for a state that
        #: a switch does not describe.
        self._epoch = 0
        self._epochs = 0
        #: Route state -> (its number, its routes, its shortcuts), while ROUTING's epoch is
        #: ``_states_epoch`` (chips plugged, attached or detached void them all).
        self._states: dict[object, tuple[int, dict, dict]] = {}
        self._states_epoch = -1
        self._faults = FaultPlan()
        # On a SimClock the bus takes the clock's lock for a transaction and counts the
        # wire time on its time cell in the same hold, so it never waits for one lock while
        # holding another (see transfer); on any other clock it has a lock of its own.
        self._time = time_cell(clock)
        self._lock = clock.lock if self._time is not None else threading.Lock()
        self._closed = False

    @property
    def speed_hz(self) -> int:
        """The bus clock (SCL), Hz: wire time is counted at it."""
        return self._speed_hz

    @speed_hz.setter
    def speed_hz(self, value: int) -> None:
        if getattr(self, "_tally", None):
            self._stats = self.stats  # what went through so far, at the old speed
            self._tally.clear()
        self._speed_hz = value
        self._wire, self._wire_s = {}, {}

    @property
    def stats(self) -> BusStats:
        """What the bus carried since it was made or its stats were reset (a snapshot)."""
        s = self._stats
        out = BusStats(
            s.transactions,
            s.bytes,
            s.bits,
            s.wire_s,
            s.errors,
            s.collisions,
            dict(s.errors_by_errno),
        )
        for key, count in self._tally.items():
            bits, nbytes, wire_s = self._wire[key]
            out.transactions += count
            out.bits += bits * count
            out.bytes += nbytes * count
            out.wire_s += wire_s * count
        return out

    def __repr__(self) -> str:
        return f"SimI2CBus({self.name}, {self.speed_hz} Hz, {len(self._chips)} addresses)"

    # -- wiring --------------------------------------------------------------------------

    def attach(self, address: int, chip: SimChip) -> SimChip:
        """Hang ``chip`` directly on the bus at 7-bit ``address``."""
        _check_address(address)
        self._chips.setdefault(address, []).append(chip)
        chip.wired_to(self)
        ROUTING.changed()
        return chip

    def detach(self, address: int, chip: SimChip | None = None) -> None:
        """Remove ``chip`` (or every chip) at ``address``."""
        chips = self._chips.get(address, [])
        self._chips[address] = [c for c in chips if chip is not None and c is not chip]
        for gone in chips:
            if gone not in self._chips[address]:
                gone.unwired_from(self)
        if not self._chips[address]:
            del self._chips[address]
        ROUTING.changed()

    def routing_changed(self) -> None:
        """A switch on this bus selected other channels: the routes cached for the previous
        selection are put aside, and those of this one (if it was seen before) taken up."""
        key = self._route_state()
        epoch = ROUTING.epoch
        if epoch != self._states_epoch:
            self._states.clear()
            self._states_epoch = epoch
        state = self._states.get(key) if key is not None else None
        if state is None:
            self._epochs += 1
            state = (self._epochs, {}, {})
            if key is not None:
                self._states[key] = state
        self._epoch, self._routes, self._shortcuts = state

    def _route_state(self) -> object:
        """What the switches on this bus route now, hashable; None if one cannot say."""
        states = []
        for chips in self._chips.values():
            for chip in chips:
                state = chip.route_state()
                if state is None:
                    return None
                states.append(state)
        return tuple(states)

    def _drop_shortcuts(self) -> None:
        """Forget every shortcut (of every routing state): a fault or closing voids them."""
        self._shortcuts.clear()
        for _, _, shortcuts in self._states.values():
            shortcuts.clear()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` is called: every transaction raises ``OSError(EBADF)``."""
        return self._closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self._closed = value
        self._drop_shortcuts()

    def chips_at(self, address: int) -> list[SimChip]:
        """Present chips answering ``address`` now (direct and through enabled switches)."""
        return self._resolve(address)[0]

    # -- fault injection -----------------------------------------------------------------

    def nack(self, address: int, errno: int | None = None, times: int | None = None) -> None:
        """Make ``address`` fail (NACK by default) on every transaction, or ``times`` times."""
        with self._lock:
            self._faults.nack(errno or self.nack_errno, address, times)
            self._drop_shortcuts()  # every transaction goes through the fault check now

    def fail_nth(self, n: int, errno: int = _errno.EIO, address: int | None = None) -> None:
        """Raise ``OSError(errno)`` on the ``n``-th transaction from now (1 = the next)."""
        with self._lock:
            self._faults.fail_nth(n, errno, address)
            self._drop_shortcuts()

    def fail_randomly(
        self,
        probability: float,
        errno: int = _errno.EIO,
        seed: int = 0,
        address: int | None = None,
    ) -> None:
        """Raise ``OSError(errno)`` on each transaction with ``probability`` (seeded)."""
        with self._lock:
            self._faults.fail_randomly(probability, errno, seed, address)
            self._drop_shortcuts()

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults_fired(self) -> int:
        return self._faults.fired()

    # -- the machine.I2C contract --------------------------------------------------------

    def scan(self) -> list[int]:
        found = []
        for addr in range(0x08, 0x78):
            try:
                self.transfer([(addr, "W", b"")])
            except OSError:
                continue
            found.append(addr)
        return found

    def writeto(self, addr: int, buf: bytes, stop: bool = True) -> int:
        self._simple(addr, bytes(buf), None)
        return len(buf)

    def readfrom_into(self, addr: int, buf: bytearray, stop: bool = True) -> None:
        buf[:] = self._simple(addr, None, len(buf))

    # (_reg's 8-bit case inline: these two calls carry every register access.)
    def writeto_mem(self, addr: int, memaddr: int, buf: bytes, addrsize: int = 8) -> None:
        reg = _REG8[memaddr & 0xFF] if addrsize == 8 else _reg(memaddr, addrsize)
        self._simple(addr, reg + bytes(buf), None)

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: bytearray, addrsize: int = 8) -> None:
        reg = _REG8[memaddr & 0xFF] if addrsize == 8 else _reg(memaddr, addrsize)
        buf[:] = self._simple(addr, reg, len(buf))

    def close(self) -> None:
        with self._lock:
            self.closed = True

    # -- the wire ------------------------------------------------------------------------

    def transfer(self, segments: list[tuple[int, str, bytes | int]]) -> list[bytes]:
        """One transaction: segments of ``(address, 'W', data)`` or ``(address, 'R', n)``.

        Returns the bytes of each read segment, in order. Raises ``OSError`` for a NACK or
        an injected fault; segments before a NACK have taken effect, as on the wire.
        """
        # The wire time is added to the clock after the bus lock is released: a bus lock
        # held while waiting for the clock's lock would deadlock against a thread that
        # holds the clock (dispatching events) and wants the bus (e.g. the watchdog turning
        # the motors off from its own thread).
        owed = 0.0
        try:
            with self._lock:
                if self.closed:
                    raise OSError(_errno.EBADF, f"{os.strerror(_errno.EBADF)}: {self.name} closed")
                reads: list[bytes] = []
                done: list[WireSegment] = []
                addressed: list[SimChip] = []
                t0 = self.clock.now()
                error: int | None = None
                try:
                    if self.read_must_be_last:
                        for seg in segments[:-1]:
                            if seg[1] == "R":
                                raise _oserror(_errno.EOPNOTSUPP, self.name, segments[0][0])
                    if self._faults:
                        injected = self._faults.injected(segments[0][0])
                        if injected is not None:
                            raise _oserror(injected, self.name, segments[0][0])
                    routes = self._routes
                    for addr, kind, payload in segments:
                        cached = routes.get(addr)
                        if (
                            cached is not None
                            and cached[0] == ROUTING.epoch
                            and cached[1] == self._epoch
                        ):
                            chips = cached[2]
                        else:
                            chips = self._route(addr)
                        if not chips:
                            raise _oserror(self.nack_errno, self.name, addr)
                        for chip in chips:
                            if chip not in addressed:
                                addressed.append(chip)
                        if kind == "W":
                            data = bytes(payload)  # type: ignore[arg-type]
                            for chip in chips:
                                chip.write(data)
                        elif kind == "R":
                            data = self._read(chips, int(payload))  # type: ignore[arg-type]
                            reads.append(data)
                        else:
                            raise ValueError(f"segment kind must be 'W' or 'R', got {kind!r}")
                        done.append((addr, kind, data))
                except OSError as exc:
                    error = exc.errno
                    raise
                finally:
                    for chip in addressed:
                        chip.stop()
                    owed = self._account(t0, len(segments), done, error)
                return reads
        finally:
            if owed:
                self.clock.advance(owed)

    def _simple(self, addr: int, data: bytes | None, n: int | None) -> bytes:
        """A write of ``data`` and/or a read of ``n`` bytes, at one address: the
        ``machine.I2C`` calls. The same as :meth:`transfer`, with a shortcut for the usual
        case (one chip on a cached route, no fault armed); anything else goes there."""
        # The path of every simulated ADC conversion and IMU read: one lock hold (the
        # clock's, on a SimClock), no lists, a flat log record, STOP only for a chip that
        # acts on it. ``with``, never acquire() then try: a signal handler that raises
        # (SIGTERM ends a session so) runs as a call returns, and after acquire() it would
        # leave the lock held for ever (tests/test_signal_safe_locks.py).
        owed = 0.0
        try:
            with self._lock:
                shortcut = self._shortcuts.get(addr)
                if shortcut is None or shortcut[0] != ROUTING.epoch:
                    shortcut = self._shortcut(addr)
                if shortcut is not None:
                    chip = shortcut[1]
                    time = self._time
                    t0 = time.s if time is not None else self.clock.now()
                    reply = None
                    wrote = False
                    try:
                        # ``key``: the bytes moved, doubled, plus one for a write-then-read
                        # (the _wire table's index).
                        if data is None:
                            reply = chip.read(n)  # type: ignore[arg-type]
                            key = len(reply) << 1
                        else:
                            chip.write(data)
                            wrote = True
                            if n is None:
                                key = len(data) << 1
                            else:
                                reply = chip.read(n)
                                key = (len(data) + len(reply)) << 1 | 1
                    except BaseException as exc:
                        owed = self._abandoned(chip, t0, addr, data, wrote, n, exc)
                        raise
                    if shortcut[2]:
                        chip.stop()
                    # _account, for a transaction that went through (the shortcut's job): counted
                    # by kind, the stats are worked out when read.
                    wire_s = self._wire_s.get(key)
                    if wire_s is None:
                        wire_s = self._wire_for(key)
                    self._tally[key] += 1
                    self.log.append((t0, addr, data, reply, wire_s))
                    if time is not None:
                        time.s += wire_s + self.host_overhead_s  # under the clock's lock
                    else:
                        owed = wire_s + self.host_overhead_s
                    return reply if reply is not None else b""
        finally:
            if owed:
                self.clock.advance(owed)  # after the bus lock is released (see transfer)
        segments_: list[tuple[int, str, bytes | int]] = []
        if data is not None:
            segments_.append((addr, "W", data))
        if n is not None:
            segments_.append((addr, "R", n))
        reads = self.transfer(segments_)
        return reads[0] if reads else b""

    def _wire_for(self, key: int) -> float:
        """(Bus lock held.) The wire seconds of a shortcut transaction of ``key`` (see
        _simple); its bits, bytes (address bytes included) and seconds kept in ``_wire``."""
        segments, data_bytes = 1 + (key & 1), key >> 1
        bits = _SEGMENT_BITS * segments + BITS_PER_BYTE * data_bytes + STOP_BITS
        wire_s = bits / self.speed_hz
        self._wire[key] = (bits, data_bytes + segments, wire_s)
        self._wire_s[key] = wire_s
        return wire_s

    def _abandoned(
        self,
        chip: SimChip,
        t0: float,
        addr: int,
        data: bytes | None,
        wrote: bool,
        n: int | None,
        exc: BaseException,
    ) -> float:
        """(Bus lock held.) A shortcut transaction whose chip raised: STOP, and the
        transaction accounted as failed, with its write if that went through."""
        chip.stop()
        done: list[WireSegment] = []
        if wrote and data is not None:
            done.append((addr, "W", data))
        errno = exc.errno if isinstance(exc, OSError) else None
        return self._account(t0, (data is not None) + (n is not None), done, errno)

    def _shortcut(self, addr: int) -> tuple[int, SimChip, bool] | None:
        """(Bus lock held.) The shortcut to ``addr``: (routing epoch, the one chip answering,
        whether it acts on STOP), kept while the route is cached; None if a fault is armed,
        the bus is closed, or not exactly one chip answers (transfer handles those)."""
        if self._faults or self._closed or not 0 <= addr <= 0x7F:
            return None
        route = self._routes.get(addr)
        if route is not None and route[0] == ROUTING.epoch and route[1] == self._epoch:
            epoch, chips = route[0], route[2]
        else:
            epoch = ROUTING.epoch  # read first: a change while resolving voids the entry
            chips = self._route(addr)
        if len(chips) != 1:
            return None
        chip = chips[0]
        shortcut = (epoch, chip, type(chip).stop is not SimChip.stop)
        route = self._routes.get(addr)
        if route is not None and route[0] == epoch and route[1] == self._epoch:
            self._shortcuts[addr] = shortcut  # a route that may be cached, and is
        return shortcut

    def _read(self, chips: list[SimChip], n: int) -> bytes:
        """A read segment: the reply of the one chip addressed, or of several wired-AND."""
        data = chips[0].read(n)
        if len(chips) > 1:
            self._stats.collisions += 1
            for chip in chips[1:]:
                other = chip.read(n)
                data = bytes(a & b for a, b in zip(data, other, strict=True))
        return data

    def _route(self, address: int) -> list[SimChip]:
        """The present chips answering ``address`` now, resolved afresh and kept in the
        route cache (used while neither the routing epoch nor this bus's epoch moved)."""
        # The epochs are read first: a change while resolving voids the entry.
        epoch, local = ROUTING.epoch, self._epoch
        _check_address(address)
        chips, cacheable = self._resolve(address)
        if cacheable:
            self._routes[address] = (epoch, local, chips)
        return chips

    def _resolve(self, address: int) -> tuple[list[SimChip], bool]:
        """:meth:`chips_at`, and whether the answer may be cached (every switch on the way
        reports it when it re-routes, and no chip is a per-call fan-out port)."""
        found = [c for c in self._chips.get(address, []) if c.present]
        cacheable = True
        for chips in self._chips.values():
            for chip in chips:
                cacheable = cacheable and chip.routes_cacheable()
                if chip.present:
                    found.extend(c for c in chip.routes(address) if c.present)
        cacheable = cacheable and all(c.routes_cacheable() for c in found)
        return found, cacheable

    def _account(
        self, t0: float, n_segments: int, done: Sequence[WireSegment], error: int | None
    ) -> float:
        """Count the transaction; returns the seconds it held the wire (and the host)."""
        # A failed transaction still occupied the wire up to the failing address byte.
        failed_address = error is not None and len(done) < n_segments
        data_bytes = 0
        for d in done:
            data_bytes += len(d[2])
        segments = len(done) + failed_address
        # START (or repeated START) and address byte per segment, the data, one STOP.
        bits = segments * (START_BITS + BITS_PER_BYTE) + BITS_PER_BYTE * data_bytes + STOP_BITS
        wire_s = bits / self.speed_hz
        st = self._stats
        st.transactions += 1
        st.bits += bits
        st.bytes += data_bytes + segments
        st.wire_s += wire_s
        if error is not None:
            st.errors += 1
            st.errors_by_errno[error] = st.errors_by_errno.get(error, 0) + 1
        self.log.append((t0, done, wire_s, error))
        return wire_s + self.host_overhead_s

    def reset_stats(self) -> None:
        self._stats = BusStats()
        self._tally.clear()
        self.log.clear()


def _oserror(code: int, bus: str, address: int) -> OSError:
    return OSError(code, f"{os.strerror(code)} ({bus}, address 0x{address:02X})")


def _check_address(address: int) -> None:
    if not 0 <= address <= 0x7F:
        raise ValueError(f"I2C address must be 7-bit (0x00..0x7F), got 0x{address:X}")


_REG8 = [bytes((i,)) for i in range(256)]


def _reg(memaddr: int, addrsize: int) -> bytes:
    if addrsize == 8:
        return _REG8[memaddr & 0xFF]
    if addrsize == 16:
        return bytes([(memaddr >> 8) & 0xFF, memaddr & 0xFF])
    raise ValueError(f"addrsize must be 8 or 16, got {addrsize}")
