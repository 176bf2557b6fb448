"""What finger_rom measured, from its journalled trials: each finger's best flexion and
extension and its active ROM (deg), and the tremor when it is there (docs/motor.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from station.journal import Trial
from station.protocols.metrics import metric

#: The glove's stated flexion accuracy (``sensors/glove.py``: ±5° for the long fingers
#: after the still calibration, hand still or slowly moving), used as the standard
#: uncertainty of each angle; active ROM, a difference of two angles, carries √2 of it.
GLOVE_ACCURACY_DEG = 5.0
#: The tremor band (Hz) of the back-of-hand gyro (``sensors.fusion.tremor_band``).
TREMOR_BAND_HZ = (4.0, 12.0)
#: Tremor is reported only above this band rms of the back-of-hand angular rate (dps):
#: about 15 times the glove's own noise in the band (0.07 dps rms), and about the rate of a
#: 0.05° tremor at 6 Hz, the small end of physiological tremor.
TREMOR_FLOOR_DPS = 1.0
#: Standard uncertainty of the tremor frequency: half a bin of the 2-s Welch spectrum.
TREMOR_HZ_U = 0.25
#: Relative standard uncertainty of the tremor band power and amplitude (three Welch
#: segments of a 4-s window; the virtual patient's amplitude is met within 10 %).
TREMOR_REL_U = 0.15
#: The furthest flexion or extension reached (journalled too) is taken after a running
#: median of this many samples (about 0.1 s at 104 Hz): one noisy sample does not make it.
SMOOTH_SAMPLES = 11
DIRECTIONS = ("flexion", "extension")


def finger_metrics(trials: list[Trial]) -> dict[str, Any]:
    """Per finger: the best flexion and extension (deg, the try each came from) and the
    active ROM; the tremor when above :data:`TREMOR_FLOOR_DPS`; from journalled trials."""
    out: dict[str, Any] = {}
    holds = [t for t in trials if t.stimulus.get("task") == "hold" and usable(t)]
    fingers = list(dict.fromkeys(t.stimulus["finger"] for t in holds))
    for finger in fingers:
        best: dict[str, Trial] = {}
        for direction in DIRECTIONS:
            mine = [
                t
                for t in holds
                if t.stimulus["finger"] == finger and t.stimulus["direction"] == direction
            ]
            if not mine:
                continue
            pick = max if direction == "flexion" else min
            best[direction] = pick(mine, key=lambda t: t.response["angle_deg"])
            out[f"{finger}_{direction}"] = metric(
                best[direction].response["angle_deg"],
                "deg",
                GLOVE_ACCURACY_DEG,
                best_try=best[direction].stimulus["try"],
                tries=len(mine),
            )
        if len(best) == 2:
            rom = best["flexion"].response["angle_deg"] - best["extension"].response["angle_deg"]
            out[f"{finger}_active_rom"] = metric(
                rom,
                "deg",
                GLOVE_ACCURACY_DEG * math.sqrt(2.0),
                flexion_try=best["flexion"].stimulus["try"],
                extension_try=best["extension"].stimulus["try"],
            )
    out["fingers_measured"] = metric(len(fingers), "count", 0.0)
    out.update(tremor_metrics(trials))
    return out


def tremor_metrics(trials: list[Trial]) -> dict[str, Any]:
    """The last usable tremor window: present (above the floor) or not; frequency (Hz),
    band power (dps²) and amplitude (deg, peak rotation of a sinusoid) only when present."""
    windows = [t for t in trials if t.stimulus.get("task") == "tremor" and usable(t)]
    if not windows:
        return {}
    r = windows[-1].response
    rms = r["band_rms_dps"]
    present = rms is not None and rms >= TREMOR_FLOOR_DPS
    out = {
        "tremor_present": metric(
            1.0 if present else 0.0,
            "flag",
            0.0,
            band_rms_dps=rms,
            floor_dps=TREMOR_FLOOR_DPS,
            band_hz=list(TREMOR_BAND_HZ),
        )
    }
    if present and r["peak_hz"]:
        hz, power = r["peak_hz"], r["band_power_dps2"]
        amp = tremor_amplitude_deg(rms, hz)
        out["tremor_frequency"] = metric(hz, "Hz", TREMOR_HZ_U)
        out["tremor_band_power"] = metric(power, "dps2", power * 2 * TREMOR_REL_U)
        out["tremor_amplitude"] = metric(amp, "deg", amp * TREMOR_REL_U, shape="sinusoid peak")
    return out


def tremor_amplitude_deg(band_rms_dps: float, freq_hz: float) -> float:
    """The peak rotation (deg) of a sinusoidal tremor with this rate rms at ``freq_hz``:
    a rotation A·sin(2πft) has a rate rms of 2πf·A/√2."""
    return band_rms_dps * math.sqrt(2.0) / (2.0 * math.pi * freq_hz)


def held(t_s: np.ndarray, angle_deg: np.ndarray, t_from: float) -> float | None:
    """The median flexion from ``t_from`` on (the finger held); None without samples."""
    a = angle_deg[(t_s >= t_from) & np.isfinite(angle_deg)]
    return float(np.median(a)) if len(a) else None


def extreme(angle_deg: np.ndarray, direction: str) -> float | None:
    """The furthest flexion (max) or extension (min) after a running median of
    :data:`SMOOTH_SAMPLES`; None for too few samples."""
    a = angle_deg[np.isfinite(angle_deg)]
    if len(a) < SMOOTH_SAMPLES:
        return None
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(a, SMOOTH_SAMPLES), axis=1)
    return float(np.max(smooth) if direction == "flexion" else np.min(smooth))


def usable(trial: Trial) -> bool:
    return not {"paused", "glove_gaps"} & set(trial.quality)
