"""Register-level model of the TI DRV2605L haptic driver (``reference/HARDWARE.md`` §7, §12).

What it models, from the datasheet (SLOS854D) unless marked as a modelling choice:

* Register file 0x00..0x22 with the reset values of HARDWARE.md §7.1, auto-incrementing
  register pointer, STATUS 0xE0 (DEVICE_ID 7, or 3 for a DRV2605). The two disputed
  defaults: LIBRARY_SEL resets to **0x01** (the TI field table gives LIBRARY_SEL default 1;
  the kernel's 0x00 matches only the summary table) and CONTROL2 to **0xF5** (TI E2E
  register dumps of real parts; the kernel's 0xFA is its own init value). Drivers write both.
* MODE resets to 0x40 (standby). DEV_RESET restores every default, reads back 1 for
  ``RESET_TIME_S`` (modelling choice: the 250 us start-up time) and then self-clears; writes
  during that time are ignored.
* GO starts the process MODE selects (0-2: the waveform sequence, 6: diagnostics, 7:
  auto-calibration) and self-clears on the SimClock when it is done: sequence = sum of the
  library effect durations (``EFFECTS``; estimates, except the 750 / 1000 ms alerts named in
  the library) plus WAIT x 10 ms; auto-calibration = AUTO_CAL_TIME (CONTROL4[5:4], the middle
  of the datasheet's min..max window); diagnostics ``DIAG_TIME_S`` (estimate). Writing GO = 0
  cancels. Changing MODE or entering standby cancels a running process (modelling choice).
* GO written in standby is ignored (the datasheet does not say; modelled conservatively so
  software that forgets to leave standby sees nothing happen, as users report).
* DIAG_RESULT and OVER_TEMP clear on a STATUS read (§8.6.1). OC_DETECT latches until
  DEV_RESET or a power cycle (conservative, after TI E2E 1554535).
* EN low (``enable_pin = False``): writes are ACKed and ignored, reads return 0xFF (nothing
  drives SDA) and the output is off. Both (verify) in HARDWARE.md §7.

The commanded drive is derived from register state only and is observable over time:
:meth:`SimDRV2605L.drive_at` gives the normalised drive magnitude (0..1) delivered to the
actuator at any time, :attr:`history` the change points. RTP: signed format 0x7F = 1.0,
unsigned 0xFF = 1.0 (or 0x80 = 0 in bidirectional mode); negative drive counts as drive in
open loop (an ERM spins backwards) and as 0 in closed loop (braking is automatic).
Auto-calibration drives at 1.0 and diagnostics at 0.5 (estimates).

``unplug()`` models the I2C link failing: the chip keeps its state, so a motor in RTP keeps
running. ``power_cycle()`` models losing power.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from drivers.sim.chip import SimChip

STATUS, MODE, RTP, LIBRARY, SEQ1, GO = 0x00, 0x01, 0x02, 0x03, 0x04, 0x0C
FEEDBACK, CONTROL2, CONTROL3, CONTROL4 = 0x1A, 0x1C, 0x1D, 0x1E
A_CAL_COMP, A_CAL_BEMF = 0x18, 0x19
N_REGS = 0x23
READ_ONLY = (STATUS, 0x21, 0x22)

#: Reset values 0x01..0x22 (STATUS is computed), HARDWARE.md §7.1.
RESET = {
    MODE: 0x40, RTP: 0x00, LIBRARY: 0x01, SEQ1: 0x01, 0x11: 0x05, 0x12: 0x19, 0x13: 0xFF,
    0x14: 0x19, 0x15: 0xFF, 0x16: 0x3E, 0x17: 0x8C, A_CAL_COMP: 0x0C, A_CAL_BEMF: 0x6C,
    FEEDBACK: 0x36, 0x1B: 0x93, CONTROL2: 0xF5, CONTROL3: 0xA0, CONTROL4: 0x20, 0x1F: 0x80,
    0x20: 0x33, 0x21: 0x96, 0x22: 0x00,
}  # fmt: skip

RESET_TIME_S = 250e-6
DIAG_TIME_S = 0.08
#: AUTO_CAL_TIME codes: middle of the datasheet windows 150-350, 250-450, 500-700, 1000-1200 ms.
AUTO_CAL_TIME_S = (0.25, 0.35, 0.60, 1.10)
AUTOCAL_DRIVE, DIAG_DRIVE = 1.0, 0.5
#: Plausible auto-calibration results (A_CAL_COMP, A_CAL_BEMF, BEMF_GAIN) per actuator type.
CAL_RESULTS = {"erm": (0x0D, 0x8F, 2), "lra": (0x0B, 0xA4, 2)}
HISTORY_SIZE = 4096


def _effects() -> dict[int, tuple[float, str, float, float]]:
    """Library effects: id -> (duration_s, shape, start level, end level).

    Names and levels from the DRV2605L waveform library list; durations are estimates.
    Shapes: "on" (constant), "pulses2"/"pulses3"/"pulses4" (on-off pulses), "ramp".
    """
    table: dict[int, tuple[float, str, float, float]] = {}

    def put(first: int, dur_ms: int, shape: str, levels: tuple[float, ...]) -> None:
        for i, level in enumerate(levels):
            table[first + i] = (dur_ms / 1000, shape, level, level)

    put(1, 60, "on", (1.0, 0.6, 0.3))  # strong click
    put(4, 40, "on", (1.0, 0.6, 0.3))  # sharp click
    put(7, 80, "on", (1.0, 0.6, 0.3))  # soft bump
    put(10, 150, "pulses2", (1.0, 0.6))  # double click
    put(12, 250, "pulses3", (1.0,))  # triple click
    put(13, 300, "on", (0.6,))  # soft fuzz
    put(14, 300, "on", (1.0,))  # strong buzz
    put(15, 750, "on", (1.0,))  # 750 ms alert
    put(16, 1000, "on", (1.0,))  # 1000 ms alert
    put(17, 50, "on", (1.0, 0.8, 0.6, 0.3, 1.0, 0.8, 0.6))  # strong / medium clicks
    put(24, 30, "on", (1.0, 0.8, 0.6))  # sharp ticks
    put(27, 120, "pulses2", (1.0, 0.8, 0.6, 0.3, 1.0, 0.8, 0.6, 1.0, 0.8, 0.6))  # short doubles
    put(37, 250, "pulses2", (1.0, 0.8, 0.6, 0.3, 1.0, 0.8, 0.6, 1.0, 0.8, 0.6))  # long doubles
    put(47, 200, "on", (1.0, 0.8, 0.6, 0.4, 0.2))  # buzz 1-5
    put(52, 400, "pulses4", (1.0, 0.6, 1.0, 0.6, 1.0, 0.6))  # pulsing strong / medium / sharp
    put(58, 50, "on", (1.0, 0.8, 0.6, 0.4, 0.2, 0.1))  # transition clicks
    put(64, 200, "on", (1.0, 0.8, 0.6, 0.4, 0.2, 0.1))  # transition hums
    ramps = ((70, 1.0, 0.0), (82, 0.0, 1.0), (94, 0.5, 0.0), (106, 0.0, 0.5))
    for first, start, end in ramps:  # long / medium / short, smooth then sharp, two of each
        for i, dur_ms in enumerate((1000, 1000, 500, 500, 250, 250) * 2):
            table[first + i] = (dur_ms / 1000, "ramp", start, end)
    put(118, 5000, "on", (1.0,))  # long buzz for programmatic stopping
    put(119, 500, "on", (0.5, 0.4, 0.3, 0.2, 0.1))  # smooth hums
    return table


EFFECTS = _effects()


def _envelope(effect_id: int, tau: float) -> float:
    dur, shape, start, end = EFFECTS[effect_id]
    if shape == "ramp":
        return start + (end - start) * tau / dur
    if shape.startswith("pulses"):
        period = dur / int(shape[-1])
        return start if (tau % period) < period / 2 else 0.0
    return start


class SimDRV2605L(SimChip):
    """A DRV2605L (``device_id`` 7) or DRV2605 (3) on the SimClock ``clock``."""

    part = "DRV2605L"

    def __init__(self, clock, device_id: int = 7, actuator_ok: bool = True) -> None:
        super().__init__()
        if device_id not in range(8):
            raise ValueError(f"device_id must be 0..7, got {device_id}")
        self.clock = clock
        self.device_id = device_id
        self.actuator_fault: str | None = None if actuator_ok else "open"
        self.calibration_converges = True
        self.regs = bytearray(N_REGS)
        self._ptr = 0
        self._enable = True
        self._process: str | None = None
        self._event = None
        self._steps: list[tuple[float, float, int]] = []  # (t_start, t_end, effect id or 0)
        self._resetting = False
        self._go_stuck = False
        self._diag = self._ot = self._oc = False
        self._ot_active = self._oc_active = False
        self._segments: deque[tuple[float, Callable[[float], float]]] = deque(maxlen=HISTORY_SIZE)
        self._history: deque[tuple[float, float]] = deque(maxlen=HISTORY_SIZE)
        self._load_defaults()
        self._update_drive()

    def __repr__(self) -> str:
        return f"SimDRV2605L(id={self.device_id}, mode=0x{self.regs[MODE]:02X}, go={self.go})"

    # -- inspection ------------------------------------------------------------------------

    @property
    def mode(self) -> int:
        """MODE[2:0] (0 internal trigger ... 5 RTP, 6 diagnostics, 7 auto-calibration)."""
        return self.regs[MODE] & 0x07

    @property
    def standby(self) -> bool:
        return bool(self.regs[MODE] & 0x40)

    @property
    def go(self) -> bool:
        return bool(self.regs[GO] & 1)

    @property
    def status(self) -> int:
        """STATUS as it would read now, without the clear-on-read side effect."""
        return self.device_id << 5 | self._diag << 3 | self._ot << 1 | int(self._oc)

    def reg(self, addr: int) -> int:
        """Register ``addr`` without side effects."""
        return self.status if addr == STATUS else self.regs[addr]

    def drive_at(self, t_s: float) -> float:
        """Normalised drive magnitude (0..1) delivered to the actuator at time ``t_s``."""
        for start, fn in reversed(self._segments):
            if start <= t_s:
                return min(1.0, max(0.0, fn(t_s)))
        return 0.0

    @property
    def history(self) -> list[tuple[float, float]]:
        """Drive change points ``(t_s, drive)`` up to now (bounded)."""
        now = self.clock.now()
        return [p for p in self._history if p[0] <= now]

    # -- fault injection and wiring --------------------------------------------------------

    @property
    def enable_pin(self) -> bool:
        return self._enable

    @enable_pin.setter
    def enable_pin(self, high: bool) -> None:
        self._enable = bool(high)
        if not high:
            self._cancel()
        self._update_drive()

    def inject_actuator_fault(self, kind: str | None) -> None:
        """``"open"`` (no actuator), ``"short"`` (shorted leads) or ``None`` (healthy)."""
        if kind not in ("open", "short", None):
            raise ValueError(f"actuator fault must be 'open', 'short' or None, got {kind!r}")
        self.actuator_fault = kind
        self._update_drive()

    def inject_over_temp(self, active: bool = True) -> None:
        """Thermal shutdown: output off while active; OVER_TEMP latches until read after."""
        self._ot_active = active
        self._ot = self._ot or active
        self._update_drive()

    def inject_over_current(self, active: bool = True) -> None:
        """Over-current shutdown: output off while active; OC_DETECT latches until reset."""
        self._oc_active = active
        self._oc = self._oc or active
        self._update_drive()

    def inject_go_stuck(self, stuck: bool = True) -> None:
        """GO never self-clears (TI E2E 1234373: diagnostics of an open-loop LRA)."""
        self._go_stuck = stuck

    def power_cycle(self) -> None:
        """Supply lost and restored: every register to its reset value, latches cleared."""
        self._cancel()
        self._diag, self._ot, self._oc = False, self._ot_active, self._oc_active
        self._load_defaults()
        self._update_drive()

    # -- the wire --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._ptr = data[0]
        for value in data[1:]:
            if self._enable and not self._resetting and self._ptr < N_REGS:
                self._write_reg(self._ptr, value)
            self._ptr += 1

    def read(self, n: int) -> bytes:
        if not self._enable:
            return b"\xff" * n
        out = bytearray()
        for _ in range(n):
            out.append(self._read_reg(self._ptr) if self._ptr < N_REGS else 0)
            self._ptr += 1
        return bytes(out)

    def _read_reg(self, addr: int) -> int:
        if addr != STATUS:
            return self.regs[addr]
        value = self.status
        self._diag = False
        self._ot = self._ot_active
        return value

    def _write_reg(self, addr: int, value: int) -> None:
        if addr in READ_ONLY:
            return
        if addr == MODE:
            self._write_mode(value)
        elif addr == GO:
            self._write_go(value & 1)
        elif addr == CONTROL4:  # OTP_STATUS is read-only; OTP programming is not modelled
            self.regs[addr] = (value & 0xF0) | (self.regs[addr] & 0x04)
        elif addr == LIBRARY:
            self.regs[addr] = value & 0x17
        else:
            self.regs[addr] = value
        self._update_drive()

    def _write_mode(self, value: int) -> None:
        if value & 0x80:
            self._cancel()
            self._load_defaults()
            self._diag, self._ot, self._oc = False, self._ot_active, self._oc_active
            self.regs[MODE] = 0xC0
            self._resetting = True
            self._event = self.clock.call_later(RESET_TIME_S, self._reset_done, "drv-reset")
            return
        old = self.regs[MODE]
        self.regs[MODE] = value & 0x47
        if self._process and (value & 0x40 or (old ^ value) & 0x07):
            self._cancel()

    def _write_go(self, go: int) -> None:
        if go and not self.go:
            self._start()
        elif not go and self.go:
            self._cancel()

    # -- processes -------------------------------------------------------------------------

    def _start(self) -> None:
        if self.standby:
            return  # GO is ignored in standby (modelling choice, see module docstring)
        mode, now = self.mode, self.clock.now()
        if mode <= 2:
            self._process, duration = "sequence", self._load_sequence(now)
        elif mode == 6:
            self._process, duration = "diag", DIAG_TIME_S
        elif mode == 7:
            self._process = "autocal"
            duration = AUTO_CAL_TIME_S[(self.regs[CONTROL4] >> 4) & 3]
        else:
            return  # PWM / analog, audio-to-vibe and RTP do not use GO
        self.regs[GO] = 1
        if not self._go_stuck:
            self._event = self.clock.call_at(now + duration, self._finish, "drv-go")

    def _load_sequence(self, t0: float) -> float:
        self._steps, t = [], t0
        library = self.regs[LIBRARY] & 0x07
        for code in self.regs[SEQ1 : SEQ1 + 8]:
            if code == 0:
                break
            if code & 0x80:
                dur, effect = (code & 0x7F) * 0.010, 0
            else:
                effect = code if code in EFFECTS and library else 0
                dur = EFFECTS[effect][0] if effect else 0.0
            self._steps.append((t, t + dur, effect))
            t += dur
        return t - t0

    def _finish(self) -> None:
        if self._process == "autocal":
            ok = self.actuator_fault is None and self.calibration_converges
            if ok:
                lra = "lra" if self.regs[FEEDBACK] & 0x80 else "erm"
                comp, bemf, gain = CAL_RESULTS[lra]
                self.regs[A_CAL_COMP], self.regs[A_CAL_BEMF] = comp, bemf
                self.regs[FEEDBACK] = (self.regs[FEEDBACK] & 0xFC) | gain
            self._diag = not ok
        elif self._process == "diag":
            self._diag = self.actuator_fault is not None
        self._process, self._event = None, None
        self.regs[GO] = 0
        self._update_drive()

    def _cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self._process = None
        self._resetting = False
        self.regs[GO] = 0

    def _reset_done(self) -> None:
        self._resetting = False
        self._event = None
        self.regs[MODE] &= 0x7F

    def _load_defaults(self) -> None:
        self.regs[:] = bytes(N_REGS)
        for addr, value in RESET.items():
            self.regs[addr] = value

    # -- the drive -------------------------------------------------------------------------

    def _commanded(self) -> Callable[[float], float]:
        """The drive function the current register state commands (before protection)."""
        if not self._enable or self.standby or self._resetting:
            return _zero
        if self._process == "sequence":
            steps = tuple(self._steps)
            return lambda t: _sequence_level(steps, t)
        if self._process == "autocal":
            return lambda t: AUTOCAL_DRIVE
        if self._process == "diag":
            return lambda t: DIAG_DRIVE
        if self.mode == 5:
            level = self._rtp_level()
            return lambda t: level
        return _zero

    def _rtp_level(self) -> float:
        raw = self.regs[RTP]
        lra = bool(self.regs[FEEDBACK] & 0x80)
        open_loop = bool(self.regs[CONTROL3] & (0x01 if lra else 0x20))
        if self.regs[CONTROL3] & 0x08:  # unsigned
            if not self.regs[CONTROL2] & 0x80:  # unidirectional
                return raw / 255
            value = raw - 128
        else:
            value = raw - 256 if raw & 0x80 else raw
        if value >= 0:
            return value / 127
        return -value / 128 if open_loop else 0.0

    def _update_drive(self) -> None:
        now = self.clock.now()
        fn = self._commanded()
        if self.actuator_fault == "short" and (fn(now) > 0 or self._process is not None):
            self._oc = True  # the output stage trips on the short and stays latched
        if self._oc_active or self._ot_active or self.actuator_fault is not None:
            fn = _zero
        while self._segments and self._segments[-1][0] >= now:
            self._segments.pop()
        self._segments.append((now, fn))
        while self._history and self._history[-1][0] > now:
            self._history.pop()  # planned points of a sequence that was cut short
        points = [(now, fn(now))]
        if self._process == "sequence" and fn is not _zero:
            points += [(t, fn(t)) for step in self._steps for t in _change_times(*step)]
        for t, level in points:
            if t < now:
                continue
            if self._history and self._history[-1][0] == t:
                self._history.pop()
            if not self._history or self._history[-1][1] != level:
                self._history.append((t, level))


def _zero(t: float) -> float:
    return 0.0


def _change_times(start: float, end: float, effect: int) -> list[float]:
    """Times where a step's envelope changes: edges, pulse edges, ramp points every 10 ms."""
    if not effect:
        return [start, end]
    dur, shape, _, _ = EFFECTS[effect]
    if shape == "ramp":
        n = max(1, round(dur / 0.010))
    elif shape.startswith("pulses"):
        n = 2 * int(shape[-1])
    else:
        n = 1
    return [start + dur * i / n for i in range(n)] + [end]


def _sequence_level(steps: tuple[tuple[float, float, int], ...], t: float) -> float:
    for start, end, effect in steps:
        if start <= t < end:
            return _envelope(effect, t - start) if effect else 0.0
    return 0.0
