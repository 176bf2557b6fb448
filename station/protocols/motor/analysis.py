"""Force-control signal analysis for the steadiness and tracking tasks
(``reference/CLINICAL.md`` §3.1-3.2): a zero-phase low-pass, the steady window of a hold
and its variability, tracking error and the lag between force and target.

Pad samples come at about 100 Hz but not on an exact grid (the ADC inputs are read in
turn), so the signals are first put on a uniform :data:`GRID_HZ` grid by linear
interpolation of the samples that have a force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

GRID_HZ = 100.0
#: Low-pass corner (Hz): §3.1 "about 10-20 Hz"; hand force has little above it.
LOWPASS_HZ = 15.0
#: A hold's steady part starts this long after the force first reached the band (§3.1:
#: "excluding the ramp-up and the first 1-2 s after reaching the target")...
SETTLE_S = 1.5
#: ...and ends this long before the hold does (the patient may let go early).
TAIL_S = 0.5
#: Lags the cross-correlation looks at (s): a visuomotor delay is 0.1-0.5 s.
MAX_LAG_S = 1.0


def uniform(t_s: np.ndarray, f: np.ndarray, t_from: float, t_to: float) -> tuple[Any, Any]:
    """``f`` on a :data:`GRID_HZ` grid from ``t_from`` to ``t_to`` (only samples with a
    force; empty arrays when fewer than two)."""
    ok = np.isfinite(f)
    t, f = t_s[ok], f[ok]
    if len(t) < 2 or t_to <= t_from:
        return np.empty(0), np.empty(0)
    grid = np.arange(max(t_from, t[0]), min(t_to, t[-1]), 1.0 / GRID_HZ)
    return grid, np.interp(grid, t, f)


def lowpass(x: np.ndarray, fs_hz: float = GRID_HZ, fc_hz: float = LOWPASS_HZ) -> np.ndarray:
    """2nd-order Butterworth low-pass run forwards and backwards (zero phase, 4th order)."""
    if len(x) < 4:
        return x.copy()
    k = math.tan(math.pi * fc_hz / fs_hz)
    q = math.sqrt(2.0)
    norm = 1.0 / (1.0 + q * k + k * k)
    b0 = k * k * norm
    b = (b0, 2 * b0, b0)
    a1, a2 = 2.0 * (k * k - 1.0) * norm, (1.0 - q * k + k * k) * norm

    def once(v: np.ndarray) -> np.ndarray:
        out = np.empty_like(v)
        x1 = x2 = v[0]
        y1 = y2 = v[0]
        for i, x0 in enumerate(v):
            y0 = b[0] * x0 + b[1] * x1 + b[2] * x2 - a1 * y1 - a2 * y2
            out[i] = y0
            x2, x1, y2, y1 = x1, x0, y1, y0
        return out

    return once(once(x)[::-1])[::-1]


@dataclass(frozen=True)
class Hold:
    """One hold's steady part: where it lies (s from the start) and its variability."""

    window_s: tuple[float, float] | None
    reached_s: float | None
    mean_n: float | None = None
    sd_n: float | None = None
    cv_pct: float | None = None
    detrended_cv_pct: float | None = None
    cvt_pct: float | None = None
    mad_n: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: _r(v) for k, v in self.__dict__.items() if k != "window_s"}
        out["window_s"] = None if self.window_s is None else [_r(x) for x in self.window_s]
        return out


def hold(t_s: np.ndarray, f: np.ndarray, target_n: float, band_n: float, hold_s: float) -> Hold:
    """The steady part of a hold at ``target_n``: from :data:`SETTLE_S` after the filtered
    force first reached the band's lower edge (a third of the hold in when it never did)
    to :data:`TAIL_S` before the end; CV = SD/mean, detrended CV (SD about a fitted line
    / mean), CVT = SD/target (Blomkvist 2018), mean absolute deviation from the target."""
    grid, x = uniform(t_s, f, 0.0, hold_s)
    if len(x) < 4:
        return Hold(None, None)
    x = lowpass(x)
    above = np.nonzero(x >= target_n - band_n)[0]
    reached = float(grid[above[0]]) if len(above) else None
    start = reached + SETTLE_S if reached is not None else hold_s / 3.0
    end = hold_s - TAIL_S
    keep = (grid >= start) & (grid <= end)
    if np.count_nonzero(keep) < GRID_HZ:  # under a second of steady force
        return Hold(None, reached)
    g, y = grid[keep], x[keep]
    mean, sd = float(np.mean(y)), float(np.std(y, ddof=1))
    fit = np.polyval(np.polyfit(g, y, 1), g)
    sd_detrended = float(np.std(y - fit, ddof=2))
    cv = 100.0 * sd / mean if mean > 0 else None
    dcv = 100.0 * sd_detrended / mean if mean > 0 else None
    return Hold(
        (float(g[0]), float(g[-1])),
        reached,
        mean,
        sd,
        cv,
        dcv,
        100.0 * sd / target_n,
        float(np.mean(np.abs(y - target_n))),
    )


@dataclass(frozen=True)
class Tracked:
    """Tracking error over the analysed part of a run (N unless named)."""

    rmse_n: float
    rms_target_n: float
    constant_error_n: float
    variable_error_n: float
    in_band_pct: float
    lag_s: float | None

    @property
    def relative_error(self) -> float:
        return self.rmse_n / self.rms_target_n if self.rms_target_n > 0 else math.nan

    def as_json(self) -> dict[str, Any]:
        out = {k: _r(v) for k, v in self.__dict__.items()}
        out["relative_error"] = _r(self.relative_error)
        return out


def tracked(
    t_s: np.ndarray, f: np.ndarray, target: np.ndarray, band_n: float, t_from: float, t_to: float
) -> Tracked | None:
    """Force against target from ``t_from`` to ``t_to`` (s): RMSE, RMS of the target,
    constant error (mean signed force - target), variable error (SD of the error), time in
    band (% of the time within ± ``band_n``), and the lag of force behind target by
    cross-correlation. None without enough samples."""
    ok = np.isfinite(f) & np.isfinite(target)
    grid, x = uniform(t_s[ok], f[ok], t_from, t_to)
    if len(x) < GRID_HZ:
        return None
    goal = np.interp(grid, t_s[ok], target[ok])
    x = lowpass(x)
    err = x - goal
    return Tracked(
        float(np.sqrt(np.mean(err**2))),
        float(np.sqrt(np.mean(goal**2))),
        float(np.mean(err)),
        float(np.std(err, ddof=1)),
        100.0 * float(np.mean(np.abs(err) <= band_n)),
        xcorr_lag(x, goal),
    )


def xcorr_lag(force: np.ndarray, target: np.ndarray, max_lag_s: float = MAX_LAG_S) -> float | None:
    """The delay (s, >= 0) of ``force`` behind ``target`` (both on the grid) at which their
    normalised cross-correlation peaks, refined between grid points by a parabola; None
    when the target does not vary."""
    n = len(force)
    max_k = min(int(max_lag_s * GRID_HZ), n // 2)
    if max_k < 2 or float(np.std(target)) == 0.0:
        return None
    r = np.empty(max_k + 1)
    for k in range(max_k + 1):
        a, b = force[k:], target[: n - k]
        sa, sb = float(np.std(a)), float(np.std(b))
        r[k] = float(np.mean((a - a.mean()) * (b - b.mean()))) / (sa * sb) if sa and sb else -1
    k = int(np.argmax(r))
    shift = 0.0
    if 0 < k < max_k:
        den = r[k - 1] - 2 * r[k] + r[k + 1]
        shift = 0.5 * (r[k - 1] - r[k + 1]) / den if den else 0.0
    return (k + shift) / GRID_HZ


def _r(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)
