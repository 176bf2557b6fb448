"""TI TCA9548A 8-channel I2C switch, MicroPython-clean.

Datasheet: TI SCPS207F §8.5 (address table, control register); facts in
``reference/HARDWARE.md`` §8. Drivers of chips behind the switch take a :class:`MuxChannel`,
a bus object with the ``machine.I2C`` methods that selects its channel before each
operation, so they need not know about the switch.

Choices made here, and why
    * The selection is cached and written only when it changes, so repeated accesses to one
      channel cost nothing extra (the Adafruit driver writes the channel before and 0x00
      after every access: two extra transactions, §8 "Driver cost"). Every write is read
      back; a mismatch raises :class:`~drivers.bus.DeviceNotFound` naming the expected and
      found masks, because a switch that does not hold its selection would send the next
      access to the wrong device. Through a :class:`MuxChannel` the same mismatch is an
      ``OSError`` (EIO) with that message: for the device behind the switch it is a bus
      error, and its drivers' stop and close paths, which handle bus errors, must still
      try every write (a motor must never be left running because of it).
    * Any ``OSError``, from the switch or from a device behind it, forgets the cached
      selection: a switch that was reset (power, RESET pin) comes back with no channel
      enabled and its downstream devices NACK, so the next call re-selects and recovers.
    * Several channels at once (:meth:`TCA9548A.channels`) are for broadcast writes to
      identical devices; reads through them raise ``ValueError`` because every device would
      answer and the open-drain bus would AND the replies together.
    * Threads: pass ``lock`` (a ``threading.RLock`` on CPython) when several threads use
      channels of one switch, so that select + access is atomic; MicroPython code without
      threads leaves it ``None``.
"""

from drivers.bus import EIO, DeviceNotFound, bus_name

try:
    from micropython import const
except ImportError:  # CPython

    def const(x: int) -> int:  # type: ignore[misc,no-redef]
        return x


try:
    from typing import TYPE_CHECKING, Any, Iterable, Protocol, Union
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from drivers.bus import Buffer, I2CBus

    #: One channel number or several.
    Channels = Union[int, Iterable[int]]

    class Lock(Protocol):
        """What ``lock`` must do (``threading.RLock`` does); it never swallows errors."""

        def __enter__(self) -> Any: ...

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...


ADDRESS = const(0x70)  # 0b1110 A2 A1 A0 -> 0x70..0x77 (SCPS207F §8.5.1)
ADDRESS_MIN = const(0x70)
ADDRESS_MAX = const(0x77)
CHANNELS = const(8)  # control register bit n enables channel n (SCPS207F §8.5.2)
NO_CHANNEL = const(0x00)  # power-up / RESET value


class _NoLock:
    def __enter__(self) -> "_NoLock":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        return None


class TCA9548A:
    """One TCA9548A on ``bus`` at ``address`` (0x70..0x77). The constructor touches no
    hardware; :meth:`init` checks the switch and disables every channel."""

    def __init__(self, bus: "I2CBus", address: int = ADDRESS, lock: "Lock | None" = None) -> None:
        if not ADDRESS_MIN <= address <= ADDRESS_MAX:
            raise ValueError("TCA9548A address must be 0x70..0x77, got 0x%02X" % address)
        self._bus = bus
        self._address = address
        self._lock: "Lock" = lock if lock is not None else _NoLock()
        self._mask = -1  # selection the switch holds, -1 = unknown
        self._tx = bytearray(1)
        self._rx = bytearray(1)
        self.name = "%s/mux0x%02X" % (bus_name(bus), address)
        # the error the last close() met, if any
        self.close_error: "OSError | DeviceNotFound | None" = None

    def __repr__(self) -> str:
        mask = "?" if self._mask < 0 else "0x%02X" % self._mask
        return "TCA9548A(%s, selected=%s)" % (self.name, mask)

    def init(self) -> None:
        """Disable every channel (write 0x00) and read it back.

        Raises ``DeviceNotFound`` when the device at the address does not read back 0x00,
        ``OSError`` for bus errors (``drivers.bus.no_answer`` when nothing answers).
        """
        with self._lock:
            self._write_mask(
                NO_CHANNEL,
                "Another device answers at this address (a PCA9685 answers its ALL_CALL "
                "address 0x70, an HT16K33 uses 0x70-0x77): check haptics.mux_address or "
                "glove.mux_address and the A0-A2 pins.",
            )

    def select(self, channels: "Channels") -> None:
        """Enable exactly ``channels``: one channel number (0..7) or an iterable of them.

        Writes the mask only when it differs from the cached one, then reads it back.
        Raises ``ValueError`` for a bad channel, ``DeviceNotFound`` when the read-back
        differs from the mask written, ``OSError`` for bus errors (the cache is then
        forgotten, so the next call writes again).
        """
        mask = _mask(channels)
        with self._lock:
            self._ensure(mask)

    def selected(self) -> int:
        """The control register read from the switch (bit n = channel n enabled)."""
        with self._lock:
            try:
                self._bus.readfrom_into(self._address, self._rx)
            except OSError:
                self._mask = -1
                raise
            self._mask = self._rx[0]
            return self._mask

    def disable_all(self) -> None:
        """Disable every channel: always written (it is the safe state) and read back."""
        with self._lock:
            self._write_mask(NO_CHANNEL, _HOLD_HINT)

    def invalidate(self) -> None:
        """Forget the cached selection (the next access writes it again)."""
        self._mask = -1

    def channel(self, n: int) -> "MuxChannel":
        """A bus object for downstream channel ``n`` (0..7)."""
        return MuxChannel(self, _mask(n), "%s/ch%d" % (self.name, n))

    def channels(self, ns: "Channels") -> "MuxChannel":
        """A write-only bus object for several channels at once (broadcast writes)."""
        mask = _mask(ns)
        if not mask:
            raise ValueError("channels needs at least one channel in 0..7")
        chans = [str(n) for n in range(CHANNELS) if mask & (1 << n)]
        return MuxChannel(self, mask, "%s/ch%s" % (self.name, "+".join(chans)))

    def close(self) -> None:
        """Disable every channel, best effort; never raises (see ``close_error``)."""
        self.close_error = None
        try:
            self.disable_all()
        except (OSError, DeviceNotFound) as exc:
            self.close_error = exc

    def __enter__(self) -> "TCA9548A":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (called with the lock held) ---------------------------------------------

    def _ensure(self, mask: int) -> None:
        if mask != self._mask:
            self._write_mask(mask, _HOLD_HINT)

    def _write_mask(self, mask: int, hint: str) -> None:
        self._tx[0] = mask
        self._mask = -1  # unknown until read back: any error below leaves it so
        self._bus.writeto(self._address, self._tx)
        self._bus.readfrom_into(self._address, self._rx)
        if self._rx[0] != mask:
            raise DeviceNotFound(
                "TCA9548A", bus_name(self._bus), self._address, mask, self._rx[0], hint
            )
        self._mask = mask


_HOLD_HINT = (
    "The switch did not hold the channel selection written to it: check its RESET pin "
    "(pulled high), its supply, and that no other device answers at its address."
)


class MuxChannel:
    """A ``machine.I2C``-like bus for one channel (or several) of a :class:`TCA9548A`.

    Each operation selects the channel mask first (free when it is already selected). An
    ``OSError`` forgets the switch's cached selection; a selection that does not read back
    is an ``OSError`` (EIO) too, so every error through a channel is a bus error. A
    multi-channel object refuses reads with ``ValueError``. ``name`` (e.g.
    ``station/mux0x70/ch2``) names it in errors.
    """

    def __init__(self, mux: TCA9548A, mask: int, name: str) -> None:
        self.mux = mux
        self.mask = mask
        self.name = name
        self._single = not mask & (mask - 1)

    def __repr__(self) -> str:
        return "MuxChannel(%s)" % self.name

    def scan(self) -> list:
        """Addresses that ACK with this channel selected (upstream devices and the switch
        itself included, as on the wire)."""
        with self.mux._lock:
            self._select()
            return self.mux._bus.scan()

    def writeto(self, addr: int, buf: "Buffer", stop: bool = True) -> int:
        with self.mux._lock:
            self._select()
            try:
                return self.mux._bus.writeto(addr, buf)
            except OSError:
                self.mux._mask = -1
                raise

    def writeto_mem(self, addr: int, memaddr: int, buf: "Buffer", addrsize: int = 8) -> None:
        with self.mux._lock:
            self._select()
            try:
                self.mux._bus.writeto_mem(addr, memaddr, buf, addrsize)
            except OSError:
                self.mux._mask = -1
                raise

    def readfrom_into(self, addr: int, buf: "Buffer", stop: bool = True) -> None:
        self._check_read(addr)
        with self.mux._lock:
            self._select()
            try:
                self.mux._bus.readfrom_into(addr, buf)
            except OSError:
                self.mux._mask = -1
                raise

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: "Buffer", addrsize: int = 8) -> None:
        if not self._single:
            self._check_read(addr)
        mux = self.mux
        with mux._lock:
            if mux._mask != self.mask:  # the FIFO drains' path: no calls when selected
                self._select()
            try:
                mux._bus.readfrom_mem_into(addr, memaddr, buf, addrsize)
            except OSError:
                mux._mask = -1
                raise

    def _select(self) -> None:
        try:
            self.mux._ensure(self.mask)
        except DeviceNotFound as exc:
            # Through a channel the caller talks to a device behind the switch: a selection
            # that did not hold is a bus error for that device (EIO), which its stop and
            # close paths already handle. The switch's own select() keeps DeviceNotFound.
            # No "raise ... from": MicroPython prints a warning for every chained raise.
            raise OSError(EIO, "%s: %s" % (self.name, exc))  # noqa: B904

    def _check_read(self, addr: int) -> None:
        if not self._single:
            raise ValueError(
                "cannot read 0x%02X through %s: several channels are enabled and the "
                "replies would be wired-AND; read through one channel" % (addr, self.name)
            )


def _mask(channels: "Channels") -> int:
    ns = (channels,) if isinstance(channels, int) else channels
    mask = 0
    for n in ns:
        if not isinstance(n, int) or not 0 <= n < CHANNELS:
            raise ValueError("mux channel must be 0..7, got %r" % (n,))
        mask |= 1 << n
    return mask
