"""Register-level model of the TI TCA9548A 8-channel I2C switch (``reference/HARDWARE.md`` §8).

What it models, from the datasheet (SCPS207F §8.5):

* One 8-bit control register, no pointer; bit n enables channel n, several at once allowed.
  Power-up and RESET give 0x00 (no channel).
* A write sets the register, the **last byte** winning when several are sent; an
  address-only write (a probe) changes nothing. The new selection takes effect only at
  STOP: the rest of a combined transfer (repeated START) still reaches the old channel set.
* A read returns the register (every byte of a longer read).
* Downstream chips are attached per channel and address. The bus asks :meth:`routes` for
  the chips answering an address through the enabled channels; chips not ``present`` are
  left out (an unplugged device behind the mux NACKs) and switches behind a channel are
  followed (nested muxes).
* Several chips answering one address through the enabled channels all receive writes
  (broadcast, counted in :attr:`broadcasts`); their read replies are wired-AND by the bus,
  which counts it in ``stats.collisions``; this model counts the read segments it caused
  that way in :attr:`collisions`.

``unplug()`` takes the switch off the bus with its register kept (a broken link);
:meth:`reset` models the RESET pin or a power cycle.
"""

from __future__ import annotations

from typing import Any, TypeVar

from drivers.sim.chip import ROUTING, SimChip

CHANNELS = 8
ChipT = TypeVar("ChipT", bound=SimChip)


class _Fanout:
    """One routing decision that reached several chips: counted once per segment."""

    def __init__(self) -> None:
        self.read = False
        self.written = False


class _Port(SimChip):
    """A chip as seen through the switch when it shares its address with another chip.

    Forwards everything to the chip and tells the switch about fan-out reads and writes.
    """

    def __init__(self, mux: SimTCA9548A, chip: SimChip) -> None:
        self.mux = mux
        self.chip = chip
        self.part = chip.part
        self.fanout = _Fanout()

    @property  # type: ignore[override]
    def present(self) -> bool:
        return self.chip.present

    @present.setter
    def present(self, value: bool) -> None:
        self.chip.present = value

    def write(self, data: bytes) -> None:
        if not self.fanout.written:
            self.fanout.written = True
            self.mux.broadcasts += 1
        self.chip.write(data)

    def read(self, n: int) -> bytes:
        if not self.fanout.read:
            self.fanout.read = True
            self.mux.collisions += 1
        return self.chip.read(n)

    def stop(self) -> None:
        self.chip.stop()

    def routes(self, address: int) -> list[SimChip]:
        return self.chip.routes(address)

    def routes_cacheable(self) -> bool:
        return False  # a port carries this segment's fan-out count: made afresh each time


class SimTCA9548A(SimChip):
    """A TCA9548A: attach downstream chips with :meth:`attach`, hang it on a bus yourself."""

    part = "TCA9548A"

    def __init__(self) -> None:
        super().__init__()
        self._register = 0x00
        self._pending: int | None = None
        self._downstream: list[tuple[int, int, SimChip]] = []
        self._ports: dict[int, _Port] = {}
        self._parents: list[Any] = []  # buses and switches carrying this one
        #: (register, address) -> chips routed, while the routing epoch is _memo_epoch.
        self._memo: dict[tuple[int, int], list[SimChip]] = {}
        self._memo_epoch = -1
        self._cacheable = False
        #: Read segments that reached several chips at one address (wired-AND replies).
        self.collisions = 0
        #: Write segments that reached several chips at one address.
        self.broadcasts = 0
        #: Control-register writes (data bytes after the address) received.
        self.writes = 0

    def __repr__(self) -> str:
        return f"SimTCA9548A(register=0x{self.register:02X}, {len(self._downstream)} chips)"

    # -- wiring ---------------------------------------------------------------------------

    def attach(self, channel: int, address: int, chip: ChipT) -> ChipT:
        """Wire ``chip`` at 7-bit ``address`` on downstream ``channel`` (0..7)."""
        _check_channel(channel)
        if not 0 <= address <= 0x7F:
            raise ValueError(f"address must be 7-bit (0x00..0x7F), got 0x{address:X}")
        self._downstream.append((channel, address, chip))
        chip.wired_to(self)
        ROUTING.changed()
        return chip

    def detach(self, channel: int, address: int, chip: SimChip | None = None) -> None:
        """Remove ``chip`` (or every chip) at ``address`` on ``channel``."""
        kept = []
        for ch, addr, c in self._downstream:
            if ch == channel and addr == address and (chip is None or c is chip):
                c.unwired_from(self)
            else:
                kept.append((ch, addr, c))
        self._downstream = kept
        ROUTING.changed()

    def chips_on(self, channel: int) -> list[tuple[int, SimChip]]:
        """``(address, chip)`` pairs wired on ``channel``, present or not."""
        return [(addr, c) for ch, addr, c in self._downstream if ch == channel]

    def reset(self) -> None:
        """RESET pin low or power cycle: no channel selected, a pending write dropped."""
        self.register = 0x00
        self._pending = None

    @property
    def register(self) -> int:
        """The control register in effect on the wire (bit n: channel n enabled)."""
        return self._register

    @register.setter
    def register(self, value: int) -> None:
        if value != self._register:
            self._register = value
            self._tell_parents()  # the memo is per register value: it still holds

    # -- routing change reports (see drivers.sim.chip) -------------------------------------

    def wired_to(self, parent: Any) -> None:
        self._parents.append(parent)

    def unwired_from(self, parent: Any) -> None:
        self._parents = [p for p in self._parents if p is not parent]

    def routing_changed(self) -> None:
        """A switch behind this one re-routed: forget the memo, tell the buses above."""
        self._memo.clear()  # a switch behind this one re-routed
        self._tell_parents()

    def _tell_parents(self) -> None:
        for parent in self._parents:
            parent.routing_changed()

    @property
    def enabled(self) -> list[int]:
        """Channels enabled now (in effect on the wire)."""
        return [ch for ch in range(CHANNELS) if self.register & (1 << ch)]

    # -- the bus side ---------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if data:
            self.writes += len(data)
            self._pending = data[-1]

    def read(self, n: int) -> bytes:
        return bytes((self.register,)) * n

    def stop(self) -> None:
        if self._pending is not None:
            self.register, self._pending = self._pending, None

    def routes(self, address: int) -> list[SimChip]:
        self._sync_memo()
        key = (self._register, address)
        known = self._memo.get(key)
        if known is not None:
            return list(known)
        found = self._route(address)
        if self._cacheable and len(found) < 2:
            self._memo[key] = found
        return list(found)

    def _route(self, address: int) -> list[SimChip]:
        found: list[SimChip] = []
        for channel, addr, chip in self._downstream:
            if not self.register & (1 << channel) or not chip.present:
                continue
            if addr == address:
                found.append(chip)
            found.extend(c for c in chip.routes(address) if c.present)
        if len(found) < 2:
            return found
        fanout = _Fanout()
        ports: list[SimChip] = []
        for chip in found:
            port = self._ports.get(id(chip))
            if port is None or port.chip is not chip:
                port = self._ports[id(chip)] = _Port(self, chip)
            port.fanout = fanout
            ports.append(port)
        return ports

    def routes_cacheable(self) -> bool:
        """Every change of what this switch routes is reported (its register to the parents
        it is wired to; wiring and presence move the routing epoch), so its routes may be
        cached if those of the chips behind it may."""
        self._sync_memo()
        return self._cacheable

    def route_state(self) -> object:
        """The control register and the state of the switches behind it (None if one of
        them cannot say)."""
        nested = []
        for _, _, chip in self._downstream:
            state = chip.route_state()
            if state is None:
                return None
            if state != ():
                nested.append(state)
        return (self._register, *nested) if nested else self._register

    def _sync_memo(self) -> None:
        """Forget the routes worked out before the routing epoch last moved."""
        epoch = ROUTING.epoch
        if epoch != self._memo_epoch:
            self._memo.clear()
            self._memo_epoch = epoch
            self._cacheable = all(chip.routes_cacheable() for _, _, chip in self._downstream)


def _check_channel(channel: int) -> None:
    if not 0 <= channel < CHANNELS:
        raise ValueError(f"channel must be 0..7, got {channel}")
