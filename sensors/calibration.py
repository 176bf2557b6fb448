"""Versioned calibration records (schema ``rehab.calibration/1``) and the curve fits.

A record is one JSON file per part and version under a directory the caller gives
(``<part>-<slot>-v<version>.json``); saving never overwrites, it adds the next version, so
the history of every pad and motor is kept. A version that cannot be read or validated (not
JSON, a field missing or of the wrong type, NaN or infinity anywhere, coefficients that give
no usable curve) is skipped with a logged warning naming the file (the latest valid one is
used, or the part is uncalibrated).
Fields: ``schema``, ``part`` ("pad", "motor", "glove"), ``slot`` (where it is fitted, e.g.
"pad3"), ``serial`` (the part's own serial if known), ``date`` (ISO 8601 UTC), ``version``,
``method``, ``coefficients``, ``points`` (the measured calibration points), ``residuals``
and ``tolerance``.

Pad fits (``reference/HARDWARE.md`` §6 "Calibration practice") map divider **conductance**
(siemens, tare removed) to force:

* ``"power_law"``: log F = a + b·log G (log-log linear; R ∝ F^-n gives a straight line);
* ``"power_sat"`` (default): R = R_sat + k·F^-n — the power law in series with the contact
  floor that bends it at high force (HARDWARE.md §6 "Curve shape"), fitted in log F;
* ``"loglog2"``: log F = a + b·log G + c·(log G)². Its quadratic only approximates that
  bend: it over-reads by up to 1.5 % from 5 to 15 N and under-reads at the ends, a bias
  every grip in that range inherits, so new records use ``power_sat``;
* ``"piecewise"``: linear interpolation in log-log between the points (a lookup table).

Residuals are kept in newtons; the record's ``tolerance`` is what the force pads promise
(see :mod:`sensors.force_pads` for the figure and its budget).

Motor curves map RTP drive (0..1) to vibration amplitude at the site (g rms) and frequency
(Hz), as a monotone table interpolated linearly; ``reference_g`` is 0 dB.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = "rehab.calibration/1"
PARTS = ("pad", "motor", "glove")
PAD_METHODS = ("power_law", "power_sat", "loglog2", "piecewise")
_SLOT_RE = re.compile(r"^[A-Za-z0-9_.:]{1,40}$")
_VERSION_RE = re.compile(r"v([0-9]{1,9})\.json")

log = logging.getLogger(__name__)


class CalibrationError(ValueError):
    """A calibration record or fit that cannot be used; the message says why."""


@dataclass(frozen=True)
class CalibrationRecord:
    part: str
    slot: str
    method: str
    coefficients: dict[str, Any]
    residuals: list[float]
    tolerance: dict[str, float]
    points: list[list[float]] = field(default_factory=list)
    serial: str = ""
    date: str = ""
    version: int = 0
    schema: str = SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Any) -> CalibrationRecord:
        """Validate a parsed record; raises :class:`CalibrationError` naming the field."""
        if not isinstance(d, dict):
            raise CalibrationError("calibration record must be a JSON object")
        if d.get("schema") != SCHEMA:
            raise CalibrationError(f"schema must be {SCHEMA!r}, got {d.get('schema')!r}")
        if d.get("part") not in PARTS:
            raise CalibrationError(f"part must be one of {PARTS}, got {d.get('part')!r}")
        for key, kind in (
            ("slot", str), ("method", str), ("coefficients", dict), ("residuals", list),
            ("tolerance", dict), ("points", list), ("serial", str), ("date", str),
            ("version", int),
        ):  # fmt: skip
            if not isinstance(d.get(key), kind):
                raise CalibrationError(f"{key} must be a {kind.__name__}, got {d.get(key)!r}")
        if not _SLOT_RE.match(d["slot"]):
            raise CalibrationError(f"slot must match {_SLOT_RE.pattern}, got {d['slot']!r}")
        if isinstance(d["version"], bool):
            raise CalibrationError(f"version must be an int, got {d['version']!r}")
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


class CalibrationStore:
    """Calibration records as JSON files in ``directory`` (created when first saving)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def save(self, record: CalibrationRecord, now: dt.datetime | None = None) -> CalibrationRecord:
        """Store ``record`` as the next version of its part/slot; returns it as stored.

        Written to a temporary file, flushed, then renamed: a power cut leaves the old
        versions intact and never a half-written record.
        """
        if record.part not in PARTS or not _SLOT_RE.match(record.slot):
            raise CalibrationError(f"bad part/slot {record.part!r}/{record.slot!r}")
        self.directory.mkdir(parents=True, exist_ok=True)
        # Numbered from the file names, unreadable ones included: never overwrite a file.
        version = max(self._versions(record.part, record.slot), default=0) + 1
        when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        stored = CalibrationRecord(**{**asdict(record), "version": version, "date": when})
        path = self._path(record.part, record.slot, version)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(stored.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return stored

    def history(self, part: str, slot: str) -> list[CalibrationRecord]:
        """Every valid stored version for ``part``/``slot``, oldest first.

        A version that cannot be read, is not valid JSON, has another schema or names
        another part, slot or version than its file is skipped with a logged warning (the
        part is uncalibrated if none is left): one bad file must not stop the station or a
        recalibration.
        """
        out = []
        for version, path in self._files(part, slot):
            try:
                record = _load(path)
                found = (record.part, record.slot, record.version)
                if found != (part, slot, version):
                    raise CalibrationError(f"holds {found}, not {(part, slot, version)}")
                check_usable(record)
            except (OSError, ValueError) as exc:  # JSON and CalibrationError are ValueErrors
                log.warning("calibration file %s skipped: %s", path, exc)
                continue
            out.append(record)
        return sorted(out, key=lambda r: r.version)

    def latest(self, part: str, slot: str) -> CalibrationRecord | None:
        history = self.history(part, slot)
        return history[-1] if history else None

    def _path(self, part: str, slot: str, version: int) -> Path:
        return self.directory / f"{part}-{slot}-v{version}.json"

    def _files(self, part: str, slot: str) -> list[tuple[int, Path]]:
        """``(version, path)`` of every file named as a version of ``part``/``slot``."""
        out = []
        for path in self.directory.glob(f"{part}-{slot}-v*.json"):
            m = _VERSION_RE.fullmatch(path.name[len(f"{part}-{slot}-") :])
            if m is None:
                log.warning("calibration file %s skipped: no version number in its name", path)
            else:
                out.append((int(m.group(1)), path))
        return out

    def _versions(self, part: str, slot: str) -> list[int]:
        return [v for v, _ in self._files(part, slot)]


def _load(path: Path) -> CalibrationRecord:
    with open(path, encoding="utf-8") as f:
        return CalibrationRecord.from_dict(
            json.load(f, parse_float=_finite, parse_constant=_not_a_number)
        )


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to infinity
        raise CalibrationError(f"{text} is not a finite number")
    return value


def _not_a_number(name: str) -> float:
    raise CalibrationError(f"{name} in the record: a calibration holds finite numbers only")


def _numbers(value: Any, where: str, depth: int = 1) -> None:
    """``value`` is a number, or (``depth`` > 0) a list of what ``depth - 1`` allows."""
    if isinstance(value, list) and depth > 0:
        for item in value:
            _numbers(item, where, depth - 1)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise CalibrationError(f"{where} must hold numbers, got {value!r}")


def check_usable(record: CalibrationRecord) -> None:
    """Raise :class:`CalibrationError` unless every figure in ``record`` is a number where
    one belongs and its coefficients give a usable curve (pads and motors)."""
    _numbers(record.residuals, "residuals")
    _numbers(record.points, "points", depth=2)
    for key, value in record.tolerance.items():
        _numbers(value, f"tolerance.{key}", depth=0)
        if value < 0:
            raise CalibrationError(f"tolerance.{key} must be >= 0, got {value}")
    for key, value in record.coefficients.items():
        if key != "actuator":  # the one text coefficient (motor records)
            _numbers(value, f"coefficients.{key}")
    if record.part == "pad":
        _check_pad_curve(record)
    elif record.part == "motor":
        MotorCurve.from_record(record)


def _check_pad_curve(record: CalibrationRecord) -> None:
    """What :func:`fit_pad` guarantees of a curve it fits: between positive forces, force
    rises with conductance over the calibrated range."""
    curve = PadCurve.from_record(record)
    c = record.coefficients
    lo, hi = (
        (c["log_g"][0], c["log_g"][-1])
        if curve.method == "piecewise"
        else (c["log_g_min"], c["log_g_max"])
    )
    if not (0 < curve.min_force_n < curve.max_force_n and lo < hi):
        raise CalibrationError(
            f"pad forces and conductances must rise, got {curve.min_force_n}.."
            f"{curve.max_force_n} N over log G {lo}..{hi}"
        )
    forces_n = curve.force_n(np.exp(np.linspace(lo, hi, 64)))
    if not (np.all(np.isfinite(forces_n)) and np.all(np.diff(forces_n) > 0)):
        raise CalibrationError(f"pad {curve.method} curve does not rise with conductance")


# -- pads: conductance -> force ------------------------------------------------------------


class PadCurve:
    """Force (N) from tare-corrected divider conductance (S), per a fitted record."""

    def __init__(self, method: str, coefficients: dict[str, Any]) -> None:
        if method not in PAD_METHODS:
            raise CalibrationError(f"pad method must be one of {PAD_METHODS}, got {method!r}")
        self.method = method
        self.coefficients = coefficients
        self._scalar_power_sat = method == "power_sat"
        try:
            if method == "piecewise":
                self._lg = np.asarray(coefficients["log_g"], dtype=float)
                self._lf = np.asarray(coefficients["log_f"], dtype=float)
                if len(self._lg) < 2 or np.any(np.diff(self._lg) <= 0):
                    raise CalibrationError("piecewise log_g must rise strictly, >= 2 points")
            else:
                if method == "power_sat":
                    self._sat = _sat_coefficients(coefficients)
                else:
                    self._poly = [float(c) for c in coefficients["poly"]]
                self._lg_range = (
                    float(coefficients["log_g_min"]),
                    float(coefficients["log_g_max"]),
                )
            self.min_force_n = float(coefficients["min_force_n"])
            self.max_force_n = float(coefficients["max_force_n"])
        except (KeyError, TypeError) as exc:
            raise CalibrationError(f"pad coefficients incomplete: {exc}") from exc

    @classmethod
    def from_record(cls, record: CalibrationRecord) -> PadCurve:
        if record.part != "pad":
            raise CalibrationError(f"not a pad record: part {record.part!r}")
        return cls(record.method, record.coefficients)

    def force_scalar(self, conductance_s: float) -> float:
        """:meth:`force_n` for one value without numpy (the acquisition loop's hot path)."""
        if conductance_s <= 0:
            return 0.0
        if self._scalar_power_sat:
            lg = math.log(conductance_s)
            lo, hi = self._lg_range
            lc = lo if lo > lg else lg  # min(max(lg, lo), hi) without the builtins' calls
            lc = hi if hi < lc else lc
            r_sat, log_k, exponent = self._sat
            r = math.exp(-lc)
            value = (log_k - math.log(r - r_sat)) / exponent
            slope = r / (exponent * (r - r_sat))
            return math.exp(value + slope * (lg - lc))
        if self.method == "piecewise":
            return float(self.force_n(conductance_s))
        lg = math.log(conductance_s)
        lo, hi = self._lg_range
        lc = min(max(lg, lo), hi)
        value = slope = 0.0
        for c in self._poly:  # Horner for the polynomial and its derivative together
            slope = slope * lc + value
            value = value * lc + c
        return math.exp(value + slope * (lg - lc))

    def force_n(self, conductance_s: np.ndarray | float) -> np.ndarray:
        """Force for conductance(s); conductance ≤ 0 gives 0 N (no contact)."""
        g = np.asarray(conductance_s, dtype=float)
        lg = np.log(np.maximum(g, 1e-12))
        if self.method == "piecewise":
            # Beyond the table, extend the end segments' slopes (extrapolation is flagged
            # by the caller through max_force_n).
            slope_lo = (self._lf[1] - self._lf[0]) / (self._lg[1] - self._lg[0])
            slope_hi = (self._lf[-1] - self._lf[-2]) / (self._lg[-1] - self._lg[-2])
            lf = np.interp(lg, self._lg, self._lf)
            lf = np.where(lg < self._lg[0], self._lf[0] + slope_lo * (lg - self._lg[0]), lf)
            lf = np.where(lg > self._lg[-1], self._lf[-1] + slope_hi * (lg - self._lg[-1]), lf)
        else:
            # Outside the calibrated range follow the tangent at its ends: a quadratic
            # extrapolated far below the lightest weight could turn back up.
            lo, hi = self._lg_range
            lc = np.clip(lg, lo, hi)
            if self.method == "power_sat":
                r_sat, log_k, exponent = self._sat
                r = np.exp(-lc)
                value = (log_k - np.log(r - r_sat)) / exponent
                slope = r / (exponent * (r - r_sat))
            else:
                value = np.polyval(self._poly, lc)
                slope = np.polyval(np.polyder(self._poly), lc)
            lf = value + slope * (lg - lc)
        return np.where(g > 0, np.exp(lf), 0.0)


def fit_pad(
    forces_n: Sequence[float],
    conductances_s: Sequence[float],
    slot: str,
    method: str = "power_sat",
    tolerance: dict[str, float] | None = None,
    serial: str = "",
) -> CalibrationRecord:
    """Fit force against conductance from known weights; returns an unsaved record.

    Needs at least 3 points (4 for ``power_sat`` and ``loglog2``) with distinct, positive
    values. Raises :class:`CalibrationError` when the data cannot give a monotone curve, or
    when the fit misses a point by more than ``tolerance`` (``abs_n`` + ``rel`` × force: the
    accuracy the record would promise), naming the worst point.
    """
    f = np.asarray(forces_n, dtype=float)
    g = np.asarray(conductances_s, dtype=float)
    if f.shape != g.shape or f.ndim != 1:
        raise CalibrationError("forces and conductances must be equal-length sequences")
    need = 4 if method in ("power_sat", "loglog2") else 3
    if len(f) < need:
        raise CalibrationError(f"{method} needs at least {need} points, got {len(f)}")
    if np.any(f <= 0) or np.any(g <= 0) or not np.all(np.isfinite(g)):
        raise CalibrationError("calibration forces and conductances must be positive")
    order = np.argsort(g)
    f, g = f[order], g[order]
    if np.any(np.diff(f) <= 0):
        raise CalibrationError(
            "force does not rise with conductance: a weight slipped, the pad is faulty, "
            "or two readings came from the same load"
        )
    lg, lf = np.log(g), np.log(f)
    coefficients: dict[str, Any] = {"min_force_n": float(f[0]), "max_force_n": float(f[-1])}
    if method == "piecewise":
        coefficients.update(log_g=lg.tolist(), log_f=lf.tolist())
    elif method == "power_sat":
        coefficients.update(_fit_power_sat(lg, lf), log_g_min=float(lg[0]), log_g_max=float(lg[-1]))
    elif method in ("power_law", "loglog2"):
        poly = np.polyfit(lg, lf, 1 if method == "power_law" else 2)
        coefficients.update(poly=poly.tolist(), log_g_min=float(lg[0]), log_g_max=float(lg[-1]))
        dense = np.linspace(lg[0], lg[-1], 64)
        if np.any(np.diff(np.polyval(poly, dense)) <= 0):
            raise CalibrationError("fitted curve is not monotone over the calibrated range")
    else:
        raise CalibrationError(f"pad method must be one of {PAD_METHODS}, got {method!r}")
    curve = PadCurve(method, coefficients)
    residuals = curve.force_n(g) - f
    _check_residuals(slot, f, residuals, tolerance or {})
    return CalibrationRecord(
        part="pad",
        slot=slot,
        method=method,
        coefficients=coefficients,
        residuals=[round(float(r), 6) for r in residuals],
        tolerance=dict(tolerance or {}),
        points=[[float(a), float(b)] for a, b in zip(f, g, strict=True)],
        serial=serial,
    )


#: Golden-section steps for R_sat: the bracket shrinks to 0.618^60 ≈ 3e-13 of its width.
_SAT_SEARCH_STEPS = 60


def _fit_power_sat(lg: np.ndarray, lf: np.ndarray) -> dict[str, float]:
    """R = R_sat + k·F^-n through the points (log conductance ``lg``, log force ``lf``).

    For a given R_sat, log F is linear in log(R − R_sat); R_sat is searched in [0, the
    smallest R) for the least squared error in log F (the residuals' scale).
    """
    r = np.exp(-lg)

    def fit(r_sat: float) -> tuple[float, float, float]:
        y = np.log(r - r_sat)
        slope, intercept = np.polyfit(y, lf, 1)
        return float(np.sum((intercept + slope * y - lf) ** 2)), float(slope), float(intercept)

    lo, hi = 0.0, float(r.min()) * (1.0 - 1e-6)
    step = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(_SAT_SEARCH_STEPS):
        a, b = hi - step * (hi - lo), lo + step * (hi - lo)
        if fit(a)[0] < fit(b)[0]:
            hi = b
        else:
            lo = a
    r_sat = (lo + hi) / 2.0
    _, slope, intercept = fit(r_sat)
    if slope >= 0:
        raise CalibrationError("fitted curve is not monotone over the calibrated range")
    exponent = -1.0 / slope  # log F = (log k − log(R − R_sat)) / n
    return {"r_sat_ohm": r_sat, "log_k": intercept * exponent, "exponent": exponent}


def _sat_coefficients(coefficients: dict[str, Any]) -> tuple[float, float, float]:
    """``(r_sat_ohm, log_k, exponent)`` of a ``power_sat`` record, checked usable."""
    r_sat = float(coefficients["r_sat_ohm"])
    log_k, exponent = float(coefficients["log_k"]), float(coefficients["exponent"])
    smallest_r = math.exp(-float(coefficients["log_g_max"]))
    if not (0.0 <= r_sat < smallest_r and exponent > 0 and math.isfinite(log_k)):
        raise CalibrationError(
            f"power_sat coefficients unusable: r_sat_ohm {r_sat:g} must be in "
            f"[0, {smallest_r:g}), exponent {exponent:g} > 0, log_k {log_k:g} finite"
        )
    return r_sat, log_k, exponent


def _check_residuals(
    slot: str, forces_n: np.ndarray, residuals_n: np.ndarray, tolerance: dict[str, float]
) -> None:
    """A record must not promise a tolerance its own points break (a weight that slipped
    or sat on the rim, a pad that moved): the worst point beyond it is named."""
    if not tolerance:
        return
    abs_n, rel = float(tolerance.get("abs_n", 0.0)), float(tolerance.get("rel", 0.0))
    ratio = np.abs(residuals_n) / (abs_n + rel * forces_n)
    worst = int(np.argmax(ratio))
    if ratio[worst] > 1.0:
        f, r = float(forces_n[worst]), float(residuals_n[worst])
        raise CalibrationError(
            f"{slot}: the fit misses the {f:g} N weight by {r:+.2f} N ({r / f:+.0%}), beyond "
            f"the ±({abs_n:g} N + {rel:.0%}) the pad would promise: a weight slipped or sat "
            "off the pad's centre; place each weight again and recalibrate"
        )


# -- motors: drive -> amplitude and frequency ----------------------------------------------


class MotorCurve:
    """Vibration at the site against RTP drive, from a motor calibration record.

    ``drive`` and ``amplitude_g`` rise strictly (the table starts at drive 0, amplitude 0;
    a second row at 0 g marks an ERM's start-up drive);
    ``frequency_hz`` is the measured vibration frequency at each drive (ERM: rises with
    drive; LRA: the resonance). 0 dB is ``reference_g``.
    """

    def __init__(self, coefficients: dict[str, Any]) -> None:
        try:
            self.drive = np.asarray(coefficients["drive"], dtype=float)
            self.amplitude_g = np.asarray(coefficients["amplitude_g"], dtype=float)
            self.frequency_hz = np.asarray(coefficients["frequency_hz"], dtype=float)
            self.reference_g = float(coefficients["reference_g"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"motor coefficients incomplete: {exc}") from exc
        d, a = self.drive, self.amplitude_g
        if not (len(d) == len(a) == len(self.frequency_hz) >= 2):
            raise CalibrationError("motor table needs >= 2 rows of drive/amplitude/frequency")
        if not (np.all(np.isfinite(d)) and np.all(np.isfinite(a))):
            raise CalibrationError("motor table values must be finite")
        if d[0] != 0.0 or a[0] != 0.0 or d[-1] > 1.0:
            raise CalibrationError("motor table must start at drive 0, amplitude 0, end <= 1")
        rising = np.diff(a) > 0
        if np.any(np.diff(d) <= 0) or not (np.all(rising[1:]) and (rising[0] or len(a) > 2)):
            # One flat first segment (0 g up to an ERM's start-up drive) is allowed.
            raise CalibrationError("motor table drive and amplitude must rise strictly")
        if a[-1] <= 0:
            raise CalibrationError("motor table has no vibration at any drive")
        if not self.reference_g > 0 or not math.isfinite(self.reference_g):
            raise CalibrationError(f"reference_g must be > 0, got {self.reference_g}")

    @classmethod
    def from_record(cls, record: CalibrationRecord) -> MotorCurve:
        if record.part != "motor":
            raise CalibrationError(f"not a motor record: part {record.part!r}")
        return cls(record.coefficients)

    @property
    def max_g(self) -> float:
        return float(self.amplitude_g[-1])

    def g_for_drive(self, drive: float) -> float:
        return float(np.interp(drive, self.drive, self.amplitude_g))

    def drive_for_g(self, amplitude_g: float) -> float:
        """Drive that gives ``amplitude_g`` (clipped to the table's range)."""
        return float(np.interp(amplitude_g, self.amplitude_g, self.drive))

    def frequency_for_drive(self, drive: float) -> float:
        return float(np.interp(drive, self.drive, self.frequency_hz))

    def drive_for_frequency(self, frequency_hz: float) -> float | None:
        """Drive giving ``frequency_hz`` where frequency rises with drive (ERM), else None."""
        fr = self.frequency_hz[1:]
        if len(fr) < 2 or np.any(np.diff(fr) <= 0):
            return None
        if not fr[0] <= frequency_hz <= fr[-1]:
            return None
        return float(np.interp(frequency_hz, fr, self.drive[1:]))


def motor_record(
    slot: str,
    drives: Sequence[float],
    amplitudes_g: Sequence[float],
    frequencies_hz: Sequence[float],
    reference_g: float = 1.0,
    actuator: str = "erm",
    tolerance_db: float = 1.0,
    serial: str = "",
) -> CalibrationRecord:
    """A motor record from measurements at the site; (0, 0) is prepended if missing.

    Zero amplitudes (below an ERM's start-up drive) keep only the highest such drive, and
    amplitudes that do not rise are dropped, so the table stays invertible. Raises
    :class:`CalibrationError`, naming the drive for a zero amplitude above one that
    vibrated (the reference accelerometer dropped out, or the motor stalled).
    """
    rows = sorted(zip(drives, amplitudes_g, frequencies_hz, strict=True))
    if not rows:
        raise CalibrationError("a motor calibration needs measurements")
    table: list[tuple[float, float, float]] = [(0.0, 0.0, float(rows[0][2]))]
    for d, a, fr in rows:
        if d <= table[-1][0] or d > 1.0:
            continue
        if a <= 0.0:
            if table[-1][1] > 0.0:
                raise CalibrationError(
                    f"{slot}: no vibration measured at drive {d:.2f} after "
                    f"{table[-1][1]:.3f} g at drive {table[-1][0]:.2f}: the reference "
                    "accelerometer lost contact or the motor stalled; check both and "
                    "calibrate again"
                )
            # Below an ERM's start-up drive: one flat row marks where vibration begins.
            table[1:] = [(float(d), 0.0, float(fr))]
        elif a > table[-1][1]:
            table.append((float(d), float(a), float(fr)))
    coefficients = {
        "drive": [r[0] for r in table],
        "amplitude_g": [r[1] for r in table],
        "frequency_hz": [r[2] for r in table],
        "reference_g": float(reference_g),
        "actuator": actuator,
    }
    curve = MotorCurve(coefficients)
    residuals = []
    for d, a, _ in rows:
        if a > 0 and d > 0:
            g = curve.g_for_drive(d)
            if g <= 0:  # two measurements at one drive, one of them zero
                raise CalibrationError(
                    f"{slot}: {a:.3f} g measured at drive {d:.2f}, where the table has no "
                    "vibration: measure each drive once and calibrate again"
                )
            residuals.append(round(20 * math.log10(g / a), 4))
    return CalibrationRecord(
        part="motor",
        slot=slot,
        method="table",
        coefficients=coefficients,
        residuals=residuals,
        tolerance={"db": float(tolerance_db)},
        points=[[float(d), float(a), float(fr)] for d, a, fr in rows],
        serial=serial,
    )
