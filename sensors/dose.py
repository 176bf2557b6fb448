"""Hand-arm vibration dose: W_h frequency weighting and A(8) (``reference/CLINICAL.md`` §6.1).

ISO 5349-1 rates exposure by the frequency-weighted rms acceleration a_hw (W_h weighting of
ISO 8041) and its 8-hour equivalent **A(8) = a_hv·√(T / 8 h)**; for exposures of several
parts, A(8) = √(Σ a_hv,i²·T_i / 8 h). Action value 2.5 m/s², limit value 5 m/s² (Directive
2002/44/EC). The station's motors vibrate along one axis (the pad normal), so a_hv = a_hw of
that axis; the other two axes are taken as zero (stated, not measured).

W_h (ISO 8041) is the product of a 2nd-order Butterworth high-pass at f1 = 10^0.8 Hz and
low-pass at f2 = 10^3.1 Hz (Q = 1/√2) and the acceleration-velocity transition
H_t(s) = (1 + s/ω3)/(1 + s/(Q4·ω4) + (s/ω4)²), f3 = f4 = 100/(2π) Hz, Q4 = 0.64.

The ledger accumulates Σ a_hw²·T and the vibration time per session and per calendar day
(the day comes from an injected ``today()``, since the station's clock is monotonic). A
station restart restores the day from :meth:`DoseLedger.to_dict` (kept by the journal).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

G_MS2 = 9.80665
EIGHT_HOURS_S = 8 * 3600.0
ACTION_VALUE_MS2 = 2.5
LIMIT_VALUE_MS2 = 5.0
_F1, _F2 = 10**0.8, 10**3.1
_F3 = _F4 = 100.0 / (2 * math.pi)
_Q1 = _Q2 = 1 / math.sqrt(2)
_Q4 = 0.64


def wh_weight(frequency_hz: float) -> float:
    """|W_h| at ``frequency_hz`` (dimensionless; 0 at 0 Hz)."""
    if frequency_hz <= 0:
        return 0.0
    s = 2j * math.pi * frequency_hz
    w1, w2, w3, w4 = (2 * math.pi * f for f in (_F1, _F2, _F3, _F4))
    hh = s * s / (s * s + s * w1 / _Q1 + w1 * w1)
    hl = 1 / (1 + s / (_Q2 * w2) + (s / w2) ** 2)
    ht = (1 + s / w3) / (1 + s / (_Q4 * w4) + (s / w4) ** 2)
    return abs(hh * hl * ht)


def a8_ms2(energy_m2s3: float) -> float:
    """A(8) in m/s² from Σ a_hw²·T ((m/s²)²·s)."""
    return math.sqrt(max(0.0, energy_m2s3) / EIGHT_HOURS_S)


def weighted_ms2(amplitude_g: float, frequency_hz: float) -> float:
    """W_h-weighted rms acceleration (m/s²) of a vibration of ``amplitude_g`` g rms."""
    return amplitude_g * G_MS2 * wh_weight(frequency_hz)


@dataclass
class DoseTotals:
    vibration_s: float = 0.0
    energy_m2s3: float = 0.0  # Σ a_hw²·T

    @property
    def a8_ms2(self) -> float:
        return a8_ms2(self.energy_m2s3)

    def add(self, amplitude_g: float, frequency_hz: float, duration_s: float) -> None:
        if amplitude_g <= 0 or duration_s <= 0:
            return
        self.vibration_s += duration_s
        self.energy_m2s3 += weighted_ms2(amplitude_g, frequency_hz) ** 2 * duration_s

    def as_dict(self) -> dict[str, float]:
        return {
            "vibration_s": round(self.vibration_s, 3),
            "a8_ms2": round(self.a8_ms2, 5),
            "energy_m2s3": round(self.energy_m2s3, 6),
        }


class DoseLedger:
    """Vibration dose per session and per day."""

    def __init__(self, today: Callable[[], dt.date] = dt.date.today) -> None:
        self._today = today
        self.day = today()
        self.today_totals = DoseTotals()
        self.session = DoseTotals()
        #: Recorded but not yet stored, per day (a session may cross midnight).
        self._unsaved: dict[dt.date, DoseTotals] = {}

    def __repr__(self) -> str:
        return (
            f"DoseLedger({self.day}, today {self.today_totals.vibration_s:.1f} s, "
            f"A(8) {self.today_totals.a8_ms2:.3f} m/s²)"
        )

    def begin_session(self) -> None:
        self.session = DoseTotals()

    def record(self, amplitude_g: float, frequency_hz: float, duration_s: float) -> None:
        """Add ``duration_s`` of vibration at ``amplitude_g`` g rms and ``frequency_hz``."""
        self._roll_day()
        self.today_totals.add(amplitude_g, frequency_hz, duration_s)
        self.session.add(amplitude_g, frequency_hz, duration_s)
        self._unsaved.setdefault(self.day, DoseTotals()).add(amplitude_g, frequency_hz, duration_s)

    def take_unsaved(self) -> dict[dt.date, DoseTotals]:
        """What was recorded since the last call, per day, for the caller to store (the
        journal); :meth:`put_back` returns it when storing failed."""
        out, self._unsaved = self._unsaved, {}
        return out

    def put_back(self, unsaved: dict[dt.date, DoseTotals]) -> None:
        for day, t in unsaved.items():
            mine = self._unsaved.setdefault(day, DoseTotals())
            mine.vibration_s += t.vibration_s
            mine.energy_m2s3 += t.energy_m2s3

    def vibration_s_today(self) -> float:
        self._roll_day()
        return self.today_totals.vibration_s

    def to_dict(self) -> dict[str, Any]:
        self._roll_day()
        return {"day": self.day.isoformat(), **self.today_totals.as_dict()}

    def restore(self, d: dict[str, Any]) -> None:
        """Continue a day from :meth:`to_dict` (ignored if it is another day)."""
        if d.get("day") == self._today().isoformat():
            self.day = self._today()
            self.today_totals = DoseTotals(float(d["vibration_s"]), float(d["energy_m2s3"]))

    def _roll_day(self) -> None:
        today = self._today()
        if today != self.day:
            self.day = today
            self.today_totals = DoseTotals()
