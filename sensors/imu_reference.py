"""A glove IMU as the reference accelerometer of a motor calibration.

The technician straps one of the glove's LSM6DSOX flat on the pad under test.
:class:`ImuReference` first checks it at rest, before the motor starts (gravity about 1 g,
little motion), then each call captures a burst and returns the vibration's rms amplitude
and dominant frequency (:func:`vibration`); closing it restores the glove's configuration.

The burst (``LSM6DSOX.capture_accel``): accelerometer alone at 3333 Hz, +-8 g, gyroscope
off, 480 samples (144 ms, 6.9 Hz bins) collected by the FIFO in FIFO mode and read once it
is full. 3333 Hz puts Nyquist (1666 Hz) 7x above the fastest fundamental (LRA resonance
150-240 Hz, an ERM at most ~220 Hz at full drive: HARDWARE.md section 7, CLINICAL.md
section 4.1); 6666 Hz would only halve the window the 512-word FIFO holds. +-8 g holds 1 g
of gravity plus a 2.5 g rms motor's 3.5 g peak (+-4 g would clip). Streaming 3333 Hz
words would take 52 % of the 400 kHz glove bus and polling the output registers more than
all of it (HARDWARE.md section 4.1); letting the FIFO fill and reading it in 128-word
bursts takes ~80 ms of bus time per capture, with no timing jitter from the host.

The amplitude comes from all three axes (the IMU's orientation on the pad does not
matter): the summed power spectrum (Hann window, mean removed) in the band of its peak
(+-3 bins), less the noise the rest capture had in such a band; a band weaker than 4x
that noise (or 2 mg) is no vibration, (0, 0), as an ERM below its start-up drive gives.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivers.lsm6dsox import DeviceReset
from sensors.calibration import CalibrationError

log = logging.getLogger(__name__)

ODR_HZ = 3333
ACCEL_FS_G = 8
SAMPLES = 480
BAND_BINS = 3
#: At rest: the magnitude of gravity the IMU must read (g), and its most motion (g rms).
GRAVITY_G = (0.9, 1.1)
REST_MOTION_G = 0.02
#: A vibration is one whose band beats the rest's band noise this many times (amplitude).
DETECT_FACTOR = 4.0
DETECT_FLOOR_G = 0.002
#: A sample this close to full scale clipped.
CLIP_FRACTION = 0.995


@dataclass(frozen=True)
class Vibration:
    """What one capture shows: the strongest band's rms (g) and centre (Hz), the band's
    mean square (g^2, noise included) and the capture's mean (gravity, g)."""

    amplitude_g: float
    frequency_hz: float
    band_g2: float
    gravity_g: tuple[float, float, float]


def vibration(samples_g: Any, rate_hz: float) -> Vibration:
    """The strongest vibration in ``(n, 3)`` accelerometer samples (g) at ``rate_hz``:
    rms over its band (peak bin +-:data:`BAND_BINS`, Hann window, the three axes' power
    summed) and its power-weighted centre frequency. ``ValueError`` for fewer than 64
    samples or not three columns."""
    a = np.asarray(samples_g, dtype=float)
    if a.ndim != 2 or a.shape[1] != 3 or len(a) < 64:
        raise ValueError(f"need (n >= 64, 3) samples, got shape {a.shape}")
    n = len(a)
    mean = a.mean(axis=0)
    w = np.hanning(n)
    spec = np.fft.rfft((a - mean) * w[:, None], axis=0)
    power = (np.abs(spec) ** 2).sum(axis=1)
    # Parseval with the window's power: a band's mean square, one-sided (DC counted once).
    scale = np.full(len(power), 2.0 / (n * float(np.sum(w * w))))
    scale[0] /= 2.0
    ms = power * scale
    peak = int(np.argmax(ms[1:])) + 1
    lo, hi = max(peak - BAND_BINS, 0), min(peak + BAND_BINS, len(ms) - 1)
    band = ms[lo : hi + 1]
    band_g2 = float(band.sum())
    bins = np.arange(lo, hi + 1)
    freq = float((bins * band).sum() / band_g2) * rate_hz / n if band_g2 > 0 else 0.0
    g = (float(mean[0]), float(mean[1]), float(mean[2]))
    return Vibration(math.sqrt(band_g2), freq, band_g2, g)


def band_noise_g2(samples_g: Any) -> float:
    """The mean square noise of one :func:`vibration` band in ``(n, 3)`` samples taken at
    rest: the mean per-bin power (DC left out) times the band's bins."""
    a = np.asarray(samples_g, dtype=float)
    n = len(a)
    w = np.hanning(n)
    spec = np.fft.rfft((a - a.mean(axis=0)) * w[:, None], axis=0)
    ms = (np.abs(spec[1:]) ** 2).sum(axis=1) * 2.0 / (n * float(np.sum(w * w)))
    return float(ms.mean()) * (2 * BAND_BINS + 1)


class ImuReference:
    """``glove``'s IMU ``segment`` lying on pad ``pad``: ``open()`` checks it at rest,
    ``ref()`` -> ``(amplitude g rms, frequency Hz)`` (the ``measure`` of
    :func:`sensors.motor_calibration.calibrate_motor`), ``close()`` restores the glove's
    configuration of it (also as a context manager). The acquisition loop must be stopped:
    it would re-initialise the IMU in the middle of a capture.

    Raises :class:`CalibrationError` with what the technician should do: not still or not
    1 g at rest, a capture that clipped, the IMU not answering.
    """

    def __init__(self, glove: Any, segment: str, pad: int) -> None:
        if segment not in glove.imus:
            raise ValueError(f"the glove has no {segment!r} IMU: {sorted(glove.imus)}")
        self.glove = glove
        self.segment = segment
        self.pad = pad
        self.imu = glove.imus[segment]
        self.threshold_g = DETECT_FLOOR_G
        self.noise_g2 = 0.0
        self.rest: Vibration | None = None

    def __repr__(self) -> str:
        return f"ImuReference({self.segment} IMU on pad {self.pad})"

    def __enter__(self) -> ImuReference:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> Vibration:
        """Capture at rest and check it: about 1 g of gravity and little motion. Sets the
        detection threshold from the rest's band noise. Returns the rest capture."""
        samples = self._capture()
        rest = vibration(samples, ODR_HZ)
        gravity = math.sqrt(sum(c * c for c in rest.gravity_g))
        motion = float(np.sqrt(np.sum(np.var(samples, axis=0))))
        where = f"the {self.segment} IMU on pad {self.pad}"
        if not GRAVITY_G[0] <= gravity <= GRAVITY_G[1]:
            raise CalibrationError(
                f"{where} reads {gravity:.2f} g at rest, not 1 g: let go of it and keep the "
                "station still; if it still reads so, run the self-test (imu checks)"
            )
        if motion > REST_MOTION_G:
            raise CalibrationError(
                f"{where} is not still ({1000 * motion:.0f} mg rms at rest, at most "
                f"{1000 * REST_MOTION_G:.0f}): strap it flat on the pad and let go of it"
            )
        self.noise_g2 = band_noise_g2(samples)
        self.threshold_g = max(DETECT_FACTOR * math.sqrt(self.noise_g2), DETECT_FLOOR_G)
        self.rest = rest
        return rest

    def __call__(self) -> tuple[float, float]:
        """The vibration at the pad now: ``(amplitude g rms, frequency Hz)``, (0, 0) when
        there is none above the rest's noise."""
        if self.rest is None:
            raise RuntimeError("ImuReference: open() it (the rest check) before measuring")
        v = vibration(self._capture(), ODR_HZ)
        amp = math.sqrt(max(v.band_g2 - self.noise_g2, 0.0))
        if amp < self.threshold_g:
            return 0.0, 0.0
        return amp, v.frequency_hz

    def close(self) -> None:
        """The IMU back in the glove's configuration; never raises (the acquisition
        re-initialises an IMU it finds unconfigured)."""
        try:
            self.glove.reinit(self.segment)
        except (OSError, DeviceReset, ValueError) as exc:
            log.warning("%s: could not restore the IMU's configuration: %s", self, exc)

    def _capture(self) -> np.ndarray:
        try:
            rows = self.imu.capture_accel(SAMPLES, ODR_HZ, ACCEL_FS_G)
        except (OSError, DeviceReset) as exc:
            raise CalibrationError(
                f"the {self.segment} IMU stopped answering ({exc}): check the glove's cable "
                "and connector, then calibrate again"
            ) from exc
        samples = np.asarray(rows, dtype=float).reshape(-1, 3)
        if len(samples) < SAMPLES:
            raise CalibrationError(
                f"the {self.segment} IMU gave {len(samples)} of {SAMPLES} samples: run the "
                "self-test (imu checks)"
            )
        if float(np.max(np.abs(samples))) >= CLIP_FRACTION * ACCEL_FS_G:
            raise CalibrationError(
                f"the {self.segment} IMU on pad {self.pad} went past +-{ACCEL_FS_G} g: was it "
                "knocked? Strap it flat on the pad, then calibrate again"
            )
        return samples
