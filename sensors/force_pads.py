"""Force pads: ADS1115 counts -> volts -> divider conductance -> newtons, per pad.

Each pad is an FSR in a divider (``reference/HARDWARE.md`` §6): V = V_cc·R_M/(R_M + R_FSR),
so the FSR's conductance is G = V / (R_M·(V_cc − V)). Force is a per-pad fit of force
against conductance through the pad's own textured overlay (:func:`sensors.calibration.
fit_pad`), stored as a versioned ``rehab.calibration/1`` record.

* **Tare** at session start: the no-load conductance of every pad is measured and
  subtracted (drift, creep left over, leakage); a pad already pressed at tare is refused.
* **Supply correction**: the ADS1115 has its own reference, so the divider supply is a gain
  error. When a reference channel is fitted (``supply_ref``: a ``ratio`` divider of the
  supply on a spare input), the measured supply (median of the last
  ``SUPPLY_FILTER_READINGS`` accepted readings) is used instead of the nominal one. A
  reading more than ``SUPPLY_REF_TOLERANCE`` (±15 %) from the nominal supply is refused
  (:class:`~sensors.faults.SupplyRefFault`): an open reference divider floats to full scale
  and would read 8.2 V, turning 10 N into 0.25 N. The acquisition loop makes repeated
  refusals a fault (:meth:`ForcePads.set_supply_fault`); while it lasts every force is NaN
  and :meth:`ForcePads.supply_v` raises it.
* **Flags**: ``open`` when the input sits at a rail no healthy divider reaches (a floating
  input reads full scale: pad unplugged; or a short) — the force is then NaN, never 0 N;
  ``saturated`` beyond 1.5 × the calibrated range (the curve is extrapolated there).
* **Contact** with hysteresis: on at ``contact_on_n``, off below ``contact_off_n``.

Tolerance (what a calibrated pad promises, stored in each pad record): **±(0.3 N + 25 % of
the reading)** from 0.5 N to the top calibration weight, after tare, with the default
``power_sat`` fit, loading and unloading, holds up to ~10 s. Budget (HARDWARE.md §6, the
upper end of its ±10-25 %): hysteresis, +10 % in resistance on unloading, is +12..18 % in
force (F rises faster than G, more so near saturation); creep < 5 % per decade adds ≈ +3 %
over a 10 s hold relative to the 2-3 s read of calibration (≈ −2 % in the first half second
of a press); fit residuals and single-part repeatability ≈ 2 %. Measured in the simulated
world: worst case ≈ 24 % while unloading (``tests/test_force_pads.py``). A grip's peak (the
loading branch) shows no bias: −0.4 % ± 0.4 % (SEM) over 20 simulated hand-sessions
(``tests/bench/grip_bias.py``). Temperature (up to ±15 %) is outside it: recalibrate when
the room changes, and prefer relative force (% of in-session maximum) for trends.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from sensors.calibration import (
    CalibrationError,
    CalibrationRecord,
    CalibrationStore,
    PadCurve,
    fit_pad,
)
from sensors.faults import SupplyRefFault

#: Promised accuracy of a calibrated pad: |error| <= abs_n + rel * force.
PAD_TOLERANCE = {"abs_n": 0.3, "rel": 0.25}
OPEN_RAIL_FRACTION = 0.995  # above this fraction of V_cc no healthy divider can be
NEGATIVE_V = -0.02  # below this the input is miswired (or the ADC reads garbage)
SATURATION_FACTOR = 1.5  # beyond 1.5 x the top calibration weight: extrapolated, flagged
#: Bits of a pad sample's ``flags`` in the acquisition loop's ring buffers and windows.
FLAG_CONTACT, FLAG_SATURATED, FLAG_OPEN = 1, 2, 4
#: A supply reference reading is used only within ±15 % of the nominal supply.
SUPPLY_REF_TOLERANCE = 0.15
#: The measured supply is the median of this many accepted readings (one spike moves nothing).
SUPPLY_FILTER_READINGS = 5


@dataclass(frozen=True)
class PadChannel:
    """Pad ``pad`` is wired to input AIN``ain`` of ADC number ``adc`` (order of ``adcs``)."""

    pad: int
    adc: int
    ain: int


@dataclass(frozen=True)
class SupplyReference:
    """A ``ratio`` divider of the pads' supply on AIN``ain`` of ADC ``adc``."""

    adc: int
    ain: int
    ratio: float = 0.5


class PadSample(NamedTuple):
    """One converted pad reading. ``force_n`` is NaN when ``open``, uncalibrated or while the
    supply reference is faulty."""

    t_s: float
    pad: int
    counts: int
    volts: float
    conductance_s: float
    force_n: float
    contact: bool
    saturated: bool
    open: bool


#: ``PadSample(*fields)`` without the generated ``__new__``'s Python frame (once per sample).
_new_sample = tuple.__new__


class PadLoadedAtTare(ValueError):
    """A pad was pressed while taring; the message names it and its reading."""


def default_layout(n_adcs: int, pads_per_adc: int) -> list[PadChannel]:
    """Pads numbered chip by chip: ADC 0 AIN0.. is pad 0.., as in ``pads.pads_per_adc``."""
    if not 1 <= pads_per_adc <= 4:
        raise ValueError(f"pads_per_adc must be 1..4, got {pads_per_adc}")
    return [
        PadChannel(a * pads_per_adc + i, a, i) for a in range(n_adcs) for i in range(pads_per_adc)
    ]


class ForcePads:
    """Calibrated force pads on the ADS1115 chips ``adcs`` (drivers, already constructed).

    This class converts and keeps per-pad state; the acquisition loop schedules the
    conversions. ``pga_v`` must match the chips' full-scale range.
    """

    def __init__(
        self,
        adcs: Sequence[Any],
        layout: Sequence[PadChannel],
        divider_ohm: float = 10_000.0,
        supply_v: float = 3.3,
        supply_ref: SupplyReference | None = None,
        contact_on_n: float = 0.3,
        contact_off_n: float = 0.15,
    ) -> None:
        if not contact_off_n < contact_on_n:
            raise ValueError("contact_off_n must be below contact_on_n (hysteresis)")
        pads = [c.pad for c in layout]
        if sorted(pads) != list(range(len(pads))):
            raise ValueError(f"pads must be numbered 0..{len(pads) - 1}, got {pads}")
        used = {(c.adc, c.ain) for c in layout}
        if len(used) != len(layout) or (supply_ref and (supply_ref.adc, supply_ref.ain) in used):
            raise ValueError("two pads (or a pad and the supply reference) share an input")
        inputs = [(c.adc, c.ain) for c in layout]
        if supply_ref is not None:
            inputs.append((supply_ref.adc, supply_ref.ain))
        for adc_index, ain in inputs:
            if not (0 <= adc_index < len(adcs) and 0 <= ain <= 3):
                raise ValueError(f"no input AIN{ain} on ADC {adc_index} ({len(adcs)} ADCs)")
        self.adcs = list(adcs)
        self.layout = sorted(layout, key=lambda c: c.pad)
        self.divider_ohm = float(divider_ohm)
        self.nominal_supply_v = float(supply_v)
        self.supply_ref = supply_ref
        self.contact_on_n = contact_on_n
        self.contact_off_n = contact_off_n
        #: Measured supply (V) from the reference channel, None until it is read.
        self.measured_supply_v: float | None = None
        #: The supply reference's fault while it is active (set by the acquisition loop).
        self.supply_fault: SupplyRefFault | None = None
        self._supply_readings: deque[float] = deque(maxlen=SUPPLY_FILTER_READINGS)
        self.records: dict[int, CalibrationRecord] = {}
        self._curves: dict[int, PadCurve] = {}
        self._tare_s = np.zeros(len(self.layout))
        self._tare = [0.0] * len(self.layout)  # the same, as floats for the scalar path
        self._pad_adcs = [self.adcs[c.adc] for c in self.layout]  # pad -> its ADS1115
        self._contact = [False] * len(self.layout)

    def __repr__(self) -> str:
        cal = sum(1 for p in range(self.n_pads) if p in self._curves)
        return f"ForcePads({self.n_pads} pads on {len(self.adcs)} ADS1115, {cal} calibrated)"

    @property
    def n_pads(self) -> int:
        return len(self.layout)

    def init(self) -> None:
        """Initialise every ADS1115 (DeviceNotFound / OSError name the chip)."""
        for adc in self.adcs:
            adc.init()

    def close(self) -> None:
        for adc in self.adcs:
            adc.close()

    # -- calibration -----------------------------------------------------------------------

    def set_calibration(self, pad: int, record: CalibrationRecord) -> None:
        self._check_pad(pad)
        self._curves[pad] = PadCurve.from_record(record)
        self.records[pad] = record

    def load_calibrations(self, store: CalibrationStore) -> list[int]:
        """Load the latest record of every pad; returns the pads that have none."""
        missing = []
        for pad in range(self.n_pads):
            record = store.latest("pad", f"pad{pad}")
            if record is None:
                missing.append(pad)
            else:
                self.set_calibration(pad, record)
        return missing

    def calibrated(self, pad: int) -> bool:
        return pad in self._curves

    def full_scale_n(self) -> float:
        """Largest calibrated force over the pads (the top calibration weight)."""
        if not self._curves:
            raise CalibrationError("no pad is calibrated")
        return max(c.max_force_n for c in self._curves.values())

    # -- conversion ------------------------------------------------------------------------

    def supply_v(self) -> float:
        """The divider supply (V): measured if a reference is fitted and read, else nominal.

        Raises :class:`~sensors.faults.SupplyRefFault` while the reference is faulty: no
        conductance or force is computed with a supply nobody knows.
        """
        if self.supply_fault is not None:
            raise self.supply_fault
        return self.measured_supply_v or self.nominal_supply_v

    def update_supply(self, counts: int) -> float:
        """Take one reading (counts) of the supply reference; returns the supply it gives (V).

        Raises :class:`~sensors.faults.SupplyRefFault` for a reading outside
        ±``SUPPLY_REF_TOLERANCE`` of the nominal supply (reference divider open or shorted,
        or the supply itself out of range); the reading is then not used.
        """
        ref = self.supply_ref
        if ref is None:
            raise ValueError("no supply reference is fitted")
        supply = self.adcs[ref.adc].counts_to_volts(counts) / ref.ratio
        nominal = self.nominal_supply_v
        if not abs(supply - nominal) <= SUPPLY_REF_TOLERANCE * nominal:
            raise SupplyRefFault(
                None,
                f"reads {supply:.2f} V, expected {nominal:.2f} V "
                f"±{SUPPLY_REF_TOLERANCE:.0%}: check the reference divider on ADS1115 "
                f"{ref.adc} AIN{ref.ain} and the pads' supply",
            )
        self._supply_readings.append(supply)
        self.measured_supply_v = statistics.median(self._supply_readings)
        return supply

    def set_supply_fault(self, fault: SupplyRefFault | None) -> None:
        """Mark the supply reference faulty (every force NaN, :meth:`supply_v` raises) or,
        with None, healthy again; the filter restarts from the next reading either way."""
        self.supply_fault = fault
        self._supply_readings.clear()
        if fault is not None:
            self.measured_supply_v = None

    def conductance_s(self, volts: np.ndarray | float, supply_v: float | None = None) -> np.ndarray:
        """FSR conductance (S) for divider voltage(s); the tare is not removed."""
        vcc = supply_v or self.supply_v()
        v = np.asarray(volts, dtype=float)
        return np.clip(v, 0.0, None) / (self.divider_ohm * np.clip(vcc - v, 1e-6, None))

    def tare(self, volts_by_pad: Mapping[int, Sequence[float] | np.ndarray]) -> dict[int, float]:
        """Zero every pad from no-load voltage samples; returns the tare conductance per pad.

        Raises :class:`PadLoadedAtTare` when a calibrated pad reads at least
        ``contact_on_n`` above its previous tare (someone is pressing it).
        """
        result = {}
        for pad, volts in volts_by_pad.items():
            self._check_pad(pad)
            g0 = float(np.median(self.conductance_s(np.asarray(volts, dtype=float))))
            if pad in self._curves:
                loaded = float(self._curves[pad].force_n(g0 - self._tare_s[pad]))
                if loaded >= self.contact_on_n:
                    raise PadLoadedAtTare(
                        f"pad {pad} reads {loaded:.2f} N at tare: lift every finger off the "
                        "pads and start again"
                    )
            result[pad] = g0
        for pad, g0 in result.items():
            self._tare_s[pad] = g0
            self._tare[pad] = g0
        return result

    def tare_conductance_s(self, pad: int) -> float:
        return float(self._tare_s[pad])

    def sample(self, pad: int, t_s: float, counts: int) -> PadSample:
        """Convert one reading of ``pad`` taken at ``t_s``; updates its contact state."""
        volts = self._pad_adcs[pad].counts_to_volts(counts)
        vcc = self.measured_supply_v or self.nominal_supply_v
        is_open = counts >= 32767 or volts > OPEN_RAIL_FRACTION * vcc or volts < NEGATIVE_V
        # Scalar arithmetic, not numpy: this runs for every conversion. The conditionals
        # are max(volts, 0.0) and max(vcc - volts, 1e-6), without the builtin's call.
        headroom = vcc - volts
        g = (0.0 if volts < 0.0 else volts) / (
            self.divider_ohm * (1e-6 if headroom < 1e-6 else headroom)
        ) - self._tare[pad]
        curve = self._curves.get(pad)
        saturated = False
        if is_open or curve is None or self.supply_fault is not None:
            force = math.nan
        else:
            force = curve.force_scalar(g)
            saturated = force > SATURATION_FACTOR * curve.max_force_n
        contact = self._contact[pad]
        if force == force:  # not NaN (without math.isnan's call)
            if contact and force < self.contact_off_n:
                contact = False
            elif not contact and force >= self.contact_on_n:
                contact = True
            self._contact[pad] = contact
        return _new_sample(
            PadSample, (t_s, pad, counts, volts, g, force, contact, saturated, is_open)
        )

    def force_array(self, pad: int, volts: np.ndarray, supply_v: float | None = None) -> np.ndarray:
        """Vectorised force for many voltages of one pad (NaN where open or uncalibrated)."""
        curve = self._curves.get(pad)
        v = np.asarray(volts, dtype=float)
        if curve is None:
            return np.full(v.shape, math.nan)
        vcc = supply_v or self.supply_v()
        force = curve.force_n(self.conductance_s(v, vcc) - self._tare_s[pad])
        bad = (v > OPEN_RAIL_FRACTION * vcc) | (v < NEGATIVE_V)
        return np.where(bad, math.nan, force)

    def _check_pad(self, pad: int) -> None:
        if not 0 <= pad < self.n_pads:
            raise ValueError(f"pad must be 0..{self.n_pads - 1}, got {pad}")


#: A weight is read over the 2nd to 3rd second it rests on the pad: an FSR creeps (reads
#: higher the longer it is loaded), and that is where a grip squeeze's peak is read (force on
#: the pad for about 3.5 s of the 4 s squeeze). Read at 1.0-1.5 s, simulated grips
#: over-read by +0.96 %; at 2-3 s by +0.04 % (20 hand-sessions, tests/bench/grip_bias.py
#: with press-to-press repeatability off).
CAL_HOLD_S, CAL_READ_S = 3.0, 1.0
#: Off the pad between weights, so that every weight is a fresh loading.
CAL_RELEASE_S = 1.5


def calibrate_pad(
    acquisition: Any,
    pad: int,
    weights_n: Sequence[float],
    place: Callable[[float | None], None],
    settle_s: float = CAL_HOLD_S,
    measure_s: float = CAL_READ_S,
    method: str = "power_sat",
    serial: str = "",
    release_s: float = CAL_RELEASE_S,
) -> CalibrationRecord:
    """Calibrate ``pad`` with known weights through its overlay; returns an unsaved record.

    ``place(weight_n)`` asks for a weight to be put on the pad (``place(None)``: take it
    off); each weight is read as the median conductance of the last ``measure_s`` of a
    ``settle_s`` hold, then removed for ``release_s`` so every point is a fresh loading. The
    acquisition loop must be running and the pads tared. Raises :class:`CalibrationError`
    for a pad read open while weighed, or whose fit misses a weight by more than
    ``PAD_TOLERANCE`` (:func:`sensors.calibration.fit_pad`).
    """
    return calibrate_pads(
        acquisition, [pad], weights_n, place, settle_s, measure_s, method, serial, release_s
    )[pad]


def calibrate_pads(
    acquisition: Any,
    pads_to_fit: Sequence[int],
    weights_n: Sequence[float],
    place: Callable[[float | None], None],
    settle_s: float = CAL_HOLD_S,
    measure_s: float = CAL_READ_S,
    method: str = "power_sat",
    serial: str = "",
    release_s: float = CAL_RELEASE_S,
) -> dict[int, CalibrationRecord]:
    """Calibrate several pads at once with a weight jig that loads them together.

    Same procedure as :func:`calibrate_pad`; ``place(weight_n)`` loads every pad in
    ``pads_to_fit`` with ``weight_n``. Returns one unsaved record per pad.
    """
    pads: ForcePads = acquisition.pads
    forces: list[float] = []
    conductances: dict[int, list[float]] = {p: [] for p in pads_to_fit}
    try:
        for weight in weights_n:
            place(weight)
            acquisition.clock.sleep(settle_s)
            window = acquisition.window(measure_s).pads
            for pad in pads_to_fit:
                volts = window[pad].volts
                if not len(volts):
                    raise CalibrationError(f"pad {pad}: no readings while weighed")
                if np.any(window[pad].flags & FLAG_OPEN):
                    raise CalibrationError(
                        f"pad {pad}: input at the rail (open: unplugged or a broken lead) "
                        f"with the {weight:g} N weight on: check its connector and recalibrate"
                    )
                g = pads.conductance_s(volts) - pads.tare_conductance_s(pad)
                conductances[pad].append(float(np.median(g)))
            forces.append(float(weight))
            place(None)
            acquisition.clock.sleep(release_s)
    finally:
        place(None)
    return {
        pad: fit_pad(forces, conductances[pad], f"pad{pad}", method, dict(PAD_TOLERANCE), serial)
        for pad in pads_to_fit
    }
