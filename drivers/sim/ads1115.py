"""Register-level model of the TI ADS1115 16-bit ADC (``reference/HARDWARE.md`` §5, §12).

What it models, from the datasheet (SBAS444, SBAS563) unless marked as a modelling choice:

* Four registers behind a 2-bit pointer: conversion (reset 0x0000, stays 0 until the first
  conversion completes), config (reset **0x8583**), Lo_thresh (0x8000), Hi_thresh (0x7FFF).
  Every write starts with the pointer byte; a 1-byte write only moves the pointer, a 3-byte
  write sets a 16-bit register, MSB first. Reads return the pointed register MSB first, as
  often as the controller asks without a new pointer write.
* Writes to the conversion register are ignored. Malformed writes (2 bytes, or more than 3)
  and reads of more than 2 bytes are unspecified in the datasheet: they are counted in
  :attr:`flags` (modelling choice: extra read bytes repeat the register, as users report).
* Single-shot: writing OS = 1 in power-down starts one conversion; OS reads 0 while it runs
  and 1 when idle; writing OS while converting does nothing (the other fields are written).
  A conversion takes ``oscillator_factor / DR`` on the SimClock (the internal oscillator
  varies by about ±10 %, so tests can set 0.9..1.1). The input is sampled at the END of the
  conversion, so a physical-world model can drive it through :meth:`set_input_source`.
* Continuous mode converts back to back at the same cadence; a config write takes effect
  from the next conversion (the one in progress completes with the settings it started
  with). Switching back to single-shot powers down after the conversion in progress.
  OS reads 0 in continuous mode (modelling choice: the device is always converting, verify).
* MUX (all eight codes, differential pairs too) and PGA (codes 101..111 all ±0.256 V);
  codes are ``floor(v / LSB)`` clipped to 0x7FFF / 0x8000 beyond full scale.
* ALERT/RDY (open drain, :meth:`alert_pin` is the line level with its pull-up): high-Z when
  COMP_QUE = 11; conversion-ready mode when Hi_thresh MSB = 1 and Lo_thresh MSB = 0 (mirrors
  OS in single-shot, an ``RDY_PULSE_S`` pulse per conversion in continuous mode); otherwise
  the traditional (hysteresis) or window comparator with the COMP_QUE count (1, 2, 4), the
  polarity bit and the latch, cleared by reading the conversion register.
* Faults: :attr:`stuck` makes a conversion never finish (OS stays 0), ``unplug()`` drops the
  chip off the bus with its state kept, :meth:`power_cycle` restores the reset state, and
  :attr:`brownout_on_start` power-cycles the chip whenever a conversion starts (a supply
  that sags under the conversion's load): the chip then reads "idle" with the reset config
  and a zero conversion.

Timing detail: the bus hands a transaction to the chip at its START and only then advances
the clock by the wire time. With ``bus_hz`` given, a conversion starts where a real chip
latches the config word, 37 bits into the write (START + address + pointer + 2 bytes);
without it, at the START.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

from drivers.sim.chip import SimChip
from drivers.sim.clock import time_cell

REG_CONVERSION, REG_CONFIG, REG_LO_THRESH, REG_HI_THRESH = 0, 1, 2, 3
RESET_CONFIG, RESET_LO_THRESH, RESET_HI_THRESH = 0x8583, 0x8000, 0x7FFF

OS = 0x8000
MODE_SINGLE = 0x0100
COMP_MODE_WINDOW = 0x0010
COMP_POL_HIGH = 0x0008
COMP_LAT = 0x0004
COMP_QUE_MASK = 0x0003

#: DR code -> samples per second (config bits 7:5).
DATA_RATES_SPS = (8, 16, 32, 64, 128, 250, 475, 860)
#: PGA code -> full-scale range in volts (config bits 11:9).
FULL_SCALE_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
#: PGA code -> volts per code (LSB = FSR / 32768).
LSB_V = tuple(fsr / 32768 for fsr in FULL_SCALE_V)
#: MUX code -> (positive input, negative input or None for GND) (config bits 14:12).
MUX_INPUTS: tuple[tuple[int, int | None], ...] = (
    (0, 1), (0, 3), (1, 3), (2, 3), (0, None), (1, None), (2, None), (3, None),
)  # fmt: skip
#: ALERT/RDY pulse width per conversion in continuous conversion-ready mode (older
#: datasheets quote ~8 us; verify).
RDY_PULSE_S = 8e-6
#: Bits from START to the end of a config write's LSB: where the chip latches it.
CONFIG_LATCH_BITS = 1 + 9 * 4

InputFn = Callable[[float], float]


def _constant(volts: float) -> InputFn:
    return lambda _t: volts


class SimADS1115(SimChip):
    """An ADS1115 on the SimClock ``clock``; analogue inputs AIN0..AIN3 set from outside."""

    part = "ADS1115"

    def __init__(self, clock, oscillator_factor: float = 1.0, bus_hz: float | None = None) -> None:
        super().__init__()
        self.clock = clock
        self._time = time_cell(clock)  # a SimClock's time, read without a call
        self.oscillator_factor = oscillator_factor  # sets the conversion time per DR code
        self.bus_hz = bus_hz
        #: Inject "never finishes": a conversion in progress stays in progress.
        self.stuck = False
        #: Inject a brown-out at every conversion start (power_cycle() right after it).
        self.brownout_on_start = False
        #: Unspecified traffic seen: "long_read", "short_write", "long_write",
        #: "conversion_write", "os_while_converting".
        self.flags: Counter[str] = Counter()
        self._inputs: list[InputFn] = [_constant(0.0)] * 4
        self.power_cycle()

    def __repr__(self) -> str:
        state = "converting" if self._busy else "idle"
        return f"SimADS1115(config=0x{self.config:04X}, {state}, {self._conversions} conversions)"

    @property
    def oscillator_factor(self) -> float:
        """Actual conversion time over the nominal 1/DR (the oscillator's ±10 %: 0.9..1.1)."""
        return self._oscillator_factor

    @oscillator_factor.setter
    def oscillator_factor(self, factor: float) -> None:
        self._oscillator_factor = factor
        self._conversion_s = [factor / sps for sps in DATA_RATES_SPS]

    # -- the world side -------------------------------------------------------------------

    def set_input(self, channel: int, volts: float) -> None:
        """Hold AIN``channel`` (0..3) at ``volts`` relative to GND."""
        self.set_input_source(channel, _constant(float(volts)))

    def set_input_source(self, channel: int, fn: InputFn) -> None:
        """Drive AIN``channel`` with ``fn(t_s) -> volts``, sampled at the end of a conversion."""
        if not 0 <= channel <= 3:
            raise ValueError(f"channel must be 0..3, got {channel}")
        self._inputs[channel] = fn

    def power_cycle(self) -> None:
        """Power-on reset: reset register values, pointer 0, idle, comparator cleared."""
        self._config = RESET_CONFIG & ~OS
        self._lo, self._hi, self._conv = RESET_LO_THRESH, RESET_HI_THRESH, 0
        self._pointer = REG_CONVERSION
        self._busy = False
        self._end_s = 0.0
        self._conv_config = self._config
        self._last_end_s = -math.inf
        self._alert_active = False
        self._beyond = 0
        self._conversions = 0

    # -- inspection -----------------------------------------------------------------------

    @property
    def config(self) -> int:
        """The config register as a read returns it (OS = 1 when idle)."""
        self._advance()
        return self._config | (0 if self._busy else OS)

    @property
    def conversion(self) -> int:
        """The conversion register (16-bit two's complement, unsigned here)."""
        self._advance()
        return self._conv

    @property
    def conversions(self) -> int:
        """Conversions completed so far."""
        self._advance()
        return self._conversions

    @property
    def thresholds(self) -> tuple[int, int]:
        """``(Lo_thresh, Hi_thresh)`` register values."""
        return self._lo, self._hi

    @property
    def pointer(self) -> int:
        return self._pointer

    def converting(self) -> bool:
        self._advance()
        return self._busy

    def conversion_time_s(self, config: int | None = None) -> float:
        """Duration of one conversion at the DR of ``config`` (default: the current one)."""
        cfg = self._config if config is None else config
        return self._conversion_s[(cfg >> 5) & 0x7]

    def alert_pin(self) -> bool:
        """ALERT/RDY line level (True = high; the open-drain pin floats high when off)."""
        self._advance()
        if self._config & COMP_QUE_MASK == COMP_QUE_MASK:
            return True  # comparator disabled: high-Z, pulled up
        asserted = self._alert_active
        if self._ready_mode():
            if self._config & MODE_SINGLE:
                asserted = not self._busy
            else:
                asserted = self.clock.now() - self._last_end_s < RDY_PULSE_S
        active_high = bool(self._config & COMP_POL_HIGH)
        return asserted if active_high else not asserted

    def code_for(self, volts: float, pga_code: int) -> int:
        """Ideal signed code for a differential input of ``volts`` at ``pga_code``."""
        return max(-32768, min(32767, math.floor(volts / LSB_V[pga_code])))

    # -- the bus side ---------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not data:
            return  # address-only probe
        if self._busy:
            self._advance()
        self._pointer = pointer = data[0] & 0x03
        n = len(data)
        if n == 1:
            return
        if n != 3:
            self.flags["short_write" if n == 2 else "long_write"] += 1
            if n == 2:
                return
        value = (data[1] << 8) | data[2]
        if pointer == REG_CONFIG:
            self._write_config(value)
        elif pointer == REG_CONVERSION:
            self.flags["conversion_write"] += 1
        elif pointer == REG_LO_THRESH:
            self._lo = value
        else:
            self._hi = value

    def read(self, n: int) -> bytes:
        if self._busy:
            self._advance()
        if self._pointer == REG_CONVERSION:
            value = self._conv
            if self._config & COMP_LAT:
                self._alert_active = False  # a latched alert clears on a conversion read
        elif self._pointer == REG_CONFIG:
            value = self._config | (0 if self._busy else OS)
        elif self._pointer == REG_LO_THRESH:
            value = self._lo
        else:
            value = self._hi
        pair = value.to_bytes(2, "big")
        if n == 2:
            return pair
        if n > 2:
            self.flags["long_read"] += 1
        return (pair * (n // 2 + 1))[:n]

    # -- internals ------------------------------------------------------------------------

    def _write_config(self, value: int) -> None:
        if self._busy:
            if value & OS and self._config & MODE_SINGLE:
                self.flags["os_while_converting"] += 1
            # Fields change now; the conversion in progress keeps the settings it started
            # with, and _advance powers down or continues according to the new MODE.
            self._config = value & ~OS
            return
        self._config = config = value & ~OS
        if not value & MODE_SINGLE or value & OS:
            start = self._time.s if self._time is not None else self.clock.now()
            if self.bus_hz:
                start += CONFIG_LATCH_BITS / self.bus_hz
            self._busy = True
            self._conv_config = config
            self._end_s = start + self._conversion_s[(config >> 5) & 0x7]
            if self.brownout_on_start:
                self.power_cycle()

    def _advance(self) -> None:
        """Complete every conversion that has ended by now (lazily, on each access)."""
        if not self._busy:
            return
        now = self._time.s if self._time is not None else self.clock.now()
        if self._config & MODE_SINGLE:
            if not self.stuck and now >= self._end_s:
                self._complete(self._end_s, self._conv_config)
                self._busy = False  # single-shot: powers down after one conversion
            return
        while self._busy and not self.stuck and now >= self._end_s:
            self._complete(self._end_s, self._conv_config)
            if self._config & MODE_SINGLE:
                self._busy = False
                break
            period = self._conversion_s[(self._config >> 5) & 0x7]
            self._conv_config = self._config
            self._end_s += period
            skipped = math.floor((now - self._end_s) / period)
            if skipped > 0 and self._config & COMP_QUE_MASK == COMP_QUE_MASK:
                # Nothing observes the conversions in between: count them, sample the last.
                self._conversions += skipped
                self._end_s += skipped * period

    def _complete(self, t_end: float, config: int) -> None:
        positive, negative = MUX_INPUTS[(config >> 12) & 0x7]
        volts = self._inputs[positive](t_end)
        if negative is not None:
            volts -= self._inputs[negative](t_end)
        code = math.floor(volts / LSB_V[(config >> 9) & 0x7])
        if code > 32767:  # beyond full scale: clipped (code_for, without its calls)
            code = 32767
        elif code < -32768:
            code = -32768
        self._conv = code & 0xFFFF
        self._conversions += 1
        self._last_end_s = t_end
        if config & COMP_QUE_MASK != COMP_QUE_MASK:
            self._compare(code, config)

    def _ready_mode(self) -> bool:
        return bool(self._hi & 0x8000) and not self._lo & 0x8000

    def _compare(self, code: int, config: int) -> None:
        if config & COMP_QUE_MASK == COMP_QUE_MASK or self._ready_mode():
            return  # comparator off, or ALERT/RDY is a conversion-ready output
        hi, lo = _signed(self._hi), _signed(self._lo)
        window = config & COMP_MODE_WINDOW
        beyond = code > hi or (window and code < lo)
        self._beyond = self._beyond + 1 if beyond else 0
        if self._beyond >= (1, 2, 4)[config & COMP_QUE_MASK]:
            self._alert_active = True
        elif not config & COMP_LAT:
            # Non-latching: traditional de-asserts below Lo_thresh, window back inside.
            inside = lo <= code <= hi if window else code < lo
            if inside:
                self._alert_active = False


def _signed(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value
