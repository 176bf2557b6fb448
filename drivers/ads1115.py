"""TI ADS1115 16-bit delta-sigma ADC on I2C, MicroPython-clean.

Datasheet: TI SBAS444 (ADS111x), SBAS563 (ADS1115-Q1); facts and their sources in
``reference/HARDWARE.md`` §5, bus costs in §4.1-4.2. This driver gives raw signed counts and
their voltage; force pads turn voltages into newtons one layer up.

Choices made here, and why
    * Single-shot with a sleep of 1.1/DR (the internal oscillator varies by about ±10 %), not
      a busy OS poll, which would multiply bus traffic (§4.2). After the sleep one OS read
      confirms the result is fresh; it costs no pointer write because the pointer still
      selects the config register after the start. Only a chip that is late is polled, and
      only until ``timeout_s`` (a :func:`~drivers.clock.deadline`, integer ticks on
      MicroPython): a chip that never finishes raises ``OSError(110)``, never a stale
      result presented as new.
    * The register pointer is cached, so repeated reads of one register skip the pointer
      write (29 instead of 48 bits, §4.1). Any ``OSError`` forgets it, so the next access
      rewrites it (a chip that lost power comes back with pointer 0 and config 0x8583).
    * Every start writes the whole config word (MUX, PGA, DR, mode, comparator), so a chip
      that was reset or replaced is reconfigured by the next start without a new ``init``.
    * Errors: bus errors are ``OSError`` with the errno intact (absent: see
      :func:`~drivers.bus.no_answer`). A chip that does not hold the config written to it
      raises :class:`~drivers.bus.DeviceNotFound`.
"""

from drivers.bus import DeviceNotFound, bus_name
from drivers.clock import MonotonicClock, deadline

try:
    from micropython import const
except ImportError:  # CPython

    def const(x: int) -> int:  # type: ignore[misc,no-redef]
        return x


try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from drivers.bus import I2CBus
    from drivers.clock import Clock, Deadline


ADDRESS = const(0x48)  # ADDR to GND; 0x49 VDD, 0x4A SDA, 0x4B SCL (§5 "Addressing")
ADDRESS_MIN = const(0x48)
ADDRESS_MAX = const(0x4B)

# Pointer register values (SBAS444 §9.6.1; HARDWARE.md §5 "Pointer register")
REG_CONVERSION = const(0)
REG_CONFIG = const(1)
REG_LO_THRESH = const(2)
REG_HI_THRESH = const(3)

# Config register fields (SBAS444 §9.6.3; HARDWARE.md §5 "Config register")
CFG_OS = const(0x8000)  # write 1: start a single conversion; read 0: converting
CFG_MUX_SHIFT = const(12)  # 100..111: AIN0..AIN3 against GND
CFG_MUX_SINGLE_AIN0 = const(4)
CFG_PGA_SHIFT = const(9)
CFG_MODE_SINGLE = const(0x0100)  # 1: single-shot / power-down, 0: continuous
CFG_DR_SHIFT = const(5)
CFG_COMP_QUE_1 = const(0x0000)  # ALERT/RDY asserts after one conversion
CFG_COMP_QUE_OFF = const(0x0003)  # comparator disabled, ALERT/RDY high-Z

# Conversion-ready mode of ALERT/RDY: Hi_thresh MSB = 1, Lo_thresh MSB = 0 (§5 "ALERT/RDY")
RDY_HI_THRESH = const(0x8000)
RDY_LO_THRESH = const(0x0000)

#: Full-scale range in volts -> PGA code.
PGA_CODES = {6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}
#: Data rate in samples per second -> DR code.
DR_CODES = {8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 250: 5, 475: 6, 860: 7}

OSCILLATOR_MARGIN = 1.1  # the data rate varies by about ±10 % (§5 "Conversion time")
POLL_FRACTION = 8  # a late conversion is polled every conversion time / 8 ...
POLL_MIN_S = 0.0001  # ... but not more often than every 100 us
ETIMEDOUT = const(110)


class ADS1115:
    """One ADS1115 on ``bus`` (a ``machine.I2C``-like object) at ``address`` (0x48..0x4B).

    ``pga_v`` is the full-scale range (6.144, 4.096, 2.048, 1.024, 0.512 or 0.256 V) and
    ``data_rate_sps`` the data rate (8, 16, 32, 64, 128, 250, 475 or 860). The constructor
    touches no hardware; :meth:`init` checks the chip and configures it.
    """

    def __init__(
        self,
        bus: "I2CBus",
        address: int = ADDRESS,
        clock: "Clock | None" = None,
        pga_v: float = 4.096,
        data_rate_sps: int = 475,
    ) -> None:
        if not ADDRESS_MIN <= address <= ADDRESS_MAX:
            raise ValueError("ADS1115 address must be 0x48..0x4B, got 0x%02X" % address)
        if pga_v not in PGA_CODES:
            raise ValueError(
                "pga_v must be one of 6.144, 4.096, 2.048, 1.024, 0.512, 0.256, got %r" % (pga_v,)
            )
        if data_rate_sps not in DR_CODES:
            raise ValueError(
                "data_rate_sps must be one of 8, 16, 32, 64, 128, 250, 475, 860, got %r"
                % (data_rate_sps,)
            )
        self._bus = bus
        self._address = address
        self._clock: "Clock" = clock if clock is not None else MonotonicClock()
        self.pga_v = pga_v
        self.data_rate_sps = data_rate_sps
        self._base = (PGA_CODES[pga_v] << CFG_PGA_SHIFT) | (DR_CODES[data_rate_sps] << CFG_DR_SHIFT)
        self._set_comp(CFG_COMP_QUE_OFF)
        self._pointer = -1  # register the chip's pointer selects, -1 = unknown
        self._tx = bytearray(2)
        self._rx = bytearray(2)
        self._continuous_ready: "Deadline | None" = None  # read_latest is fresh after it
        self.close_error: "OSError | None" = None  # the OSError the last close() met, if any

    def __repr__(self) -> str:
        return "ADS1115(%s, 0x%02X, ±%s V, %d SPS)" % (
            bus_name(self._bus),
            self._address,
            self.pga_v,
            self.data_rate_sps,
        )

    # -- set-up ----------------------------------------------------------------------------

    def init(self) -> None:
        """Write a known config (AIN0, single-shot power-down, comparator off), read it back.

        Raises ``DeviceNotFound`` when the chip does not hold it (another part answers at
        the address), ``OSError`` for bus errors (``no_answer`` when nothing answers).
        """
        self._set_comp(CFG_COMP_QUE_OFF)
        config = self._config(CFG_MUX_SINGLE_AIN0, True, False)
        self._write_reg(REG_CONFIG, config)
        found = self._read_reg(REG_CONFIG)
        # OS reads 1 when idle and 0 if a conversion started before this call still runs.
        if found & ~CFG_OS != config:
            raise DeviceNotFound(
                "ADS1115",
                bus_name(self._bus),
                self._address,
                config | CFG_OS,
                found,
                "The device at this address did not keep the config written to it: another "
                "part answers there (TMP102/LM75 sensors and the PCF8591 also use 0x48-0x4B) "
                "or reads are corrupted. Check the ADDR pin (GND 0x48, VDD 0x49, SDA 0x4A, "
                "SCL 0x4B), pads.adc_addresses, the wiring and the pull-ups.",
            )

    def enable_ready_pin(self) -> None:
        """Make ALERT/RDY a conversion-ready output (active low), SBAS444 §9.3.8.

        Hi_thresh MSB = 1, Lo_thresh MSB = 0 and COMP_QUE = 00; later starts keep it. In
        single-shot the pin goes low when a conversion is done; in continuous mode it pulses.
        """
        self._write_reg(REG_LO_THRESH, RDY_LO_THRESH)
        self._write_reg(REG_HI_THRESH, RDY_HI_THRESH)
        self._set_comp(CFG_COMP_QUE_1)
        self._write_reg(REG_CONFIG, self._config(CFG_MUX_SINGLE_AIN0, True, False))

    # -- single-shot -----------------------------------------------------------------------

    def conversion_time_s(self) -> float:
        """Worst-case conversion time: 1.1 / DR (the data rate varies by about ±10 %),
        counted from when the chip latches the config, i.e. the end of the start write;
        confirm the OS bit before reading when that time is not clearly past."""
        return OSCILLATOR_MARGIN / self.data_rate_sps

    def set_data_rate(self, data_rate_sps: int) -> None:
        """Convert at ``data_rate_sps`` (8..860, as in the constructor) from the next start.

        No bus traffic: every start writes the whole config word (DR bits 7:5, SBAS444
        §9.6.3), so the next :meth:`start_single` applies it; a conversion in progress ends
        at the rate it started with. A focused burst (one input at 860 SPS) uses it."""
        if data_rate_sps not in DR_CODES:
            raise ValueError(
                "data_rate_sps must be one of 8, 16, 32, 64, 128, 250, 475, 860, got %r"
                % (data_rate_sps,)
            )
        self.data_rate_sps = data_rate_sps
        self._base = (PGA_CODES[self.pga_v] << CFG_PGA_SHIFT) | (
            DR_CODES[data_rate_sps] << CFG_DR_SHIFT
        )
        self._set_comp(self._comp)

    def start_single(self, channel: int) -> None:
        """Start one conversion of AIN``channel`` (0..3) against GND: one config write."""
        if not isinstance(channel, int) or not 0 <= channel <= 3:
            _mux(channel)  # raises ValueError
        self._write_reg(REG_CONFIG, self._start_words[channel])

    def ready(self) -> bool:
        """True when no conversion is in progress (config OS bit = 1)."""
        return self._read_reg(REG_CONFIG) & CFG_OS != 0

    def read_raw(self) -> int:
        """The conversion register as signed counts (-32768..32767)."""
        value = self._read_reg(REG_CONVERSION)
        return value - 0x10000 if value & 0x8000 else value

    def read_single(self, channel: int, timeout_s: "float | None" = None) -> int:
        """Convert AIN``channel`` (0..3) once and return signed counts.

        Starts, sleeps :meth:`conversion_time_s`, confirms OS = 1 and reads the result. A
        late chip is polled until ``timeout_s`` after the start (default: twice the
        conversion time); if it is still converting, raises ``OSError(110)`` (ETIMEDOUT).
        """
        wait_s = self.conversion_time_s()
        if timeout_s is None:
            timeout_s = 2 * wait_s
        elif not timeout_s > 0:
            raise ValueError("timeout_s must be > 0, got %r" % (timeout_s,))
        self.start_single(channel)
        end = deadline(self._clock, timeout_s)
        self._clock.sleep(min(wait_s, timeout_s))
        poll_s = max(wait_s / POLL_FRACTION, POLL_MIN_S)
        while not self.ready():
            left_s = end.left_s()
            if left_s <= 0:
                raise OSError(
                    ETIMEDOUT,
                    "ADS1115 at 0x%02X on %s: AIN%d conversion not done after %.4f s"
                    % (self._address, bus_name(self._bus), channel, timeout_s),
                )
            self._clock.sleep(min(poll_s, left_s))
        return self.read_raw()

    def counts_to_volts(self, counts: int) -> float:
        """Volts for ``counts`` at the configured full-scale range (LSB = FSR / 32768)."""
        return counts * self.pga_v / 32768

    # -- continuous ------------------------------------------------------------------------

    def start_continuous(self, channel: int) -> None:
        """Convert AIN``channel`` (0..3) back to back at the data rate.

        A conversion in progress when the channel changes finishes with the old settings, so
        :meth:`read_latest` waits up to two conversion times after a switch (the stale-channel
        trap of HARDWARE.md §5 "Continuous mode").
        """
        self._write_reg(REG_CONFIG, self._config(_mux(channel), False, False))
        self._continuous_ready = deadline(self._clock, 2 * self.conversion_time_s())

    def read_latest(self) -> int:
        """The latest conversion in continuous mode, signed counts (no pointer write)."""
        if self._continuous_ready is not None:
            wait_s = self._continuous_ready.left_s()
            if wait_s > 0:
                self._clock.sleep(wait_s)
        return self.read_raw()

    # -- power -----------------------------------------------------------------------------

    def close(self) -> None:
        """Power down: single-shot config, comparator off (ALERT/RDY high-Z).

        Never raises; the ``OSError`` met, if any, is kept in ``close_error``. Safe to call
        again.
        """
        self.close_error = None
        self._set_comp(CFG_COMP_QUE_OFF)
        try:
            self._write_reg(REG_CONFIG, self._config(CFG_MUX_SINGLE_AIN0, True, False))
        except OSError as exc:
            self.close_error = exc

    def __enter__(self) -> "ADS1115":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _set_comp(self, comp: int) -> None:
        # The comparator bits are in every config word: the start words change with them.
        self._comp = comp
        self._start_words = [self._config(_mux(ain), True, True) for ain in range(4)]

    def _config(self, mux: int, single: bool, start: bool) -> int:
        config = (mux << CFG_MUX_SHIFT) | self._base | self._comp
        if single:
            config |= CFG_MODE_SINGLE
        if start:
            config |= CFG_OS
        return config

    def _write_reg(self, reg: int, value: int) -> None:
        self._tx[0] = (value >> 8) & 0xFF
        self._tx[1] = value & 0xFF
        try:
            self._bus.writeto_mem(self._address, reg, self._tx)
        except OSError:
            self._pointer = -1
            raise
        self._pointer = reg

    def _read_reg(self, reg: int) -> int:
        rx = self._rx
        try:
            if self._pointer == reg:
                self._bus.readfrom_into(self._address, rx)
            else:
                self._bus.readfrom_mem_into(self._address, reg, rx)
        except OSError:
            self._pointer = -1
            raise
        self._pointer = reg
        return (rx[0] << 8) | rx[1]


def _mux(channel: int) -> int:
    if not isinstance(channel, int) or not 0 <= channel <= 3:
        raise ValueError("channel must be 0..3 (AIN0..AIN3), got %r" % (channel,))
    return CFG_MUX_SINGLE_AIN0 + channel
