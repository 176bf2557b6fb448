"""FSR pad physics: finger force (N) -> resistance -> divider voltage at the ADS1115 input.

The model follows ``reference/HARDWARE.md`` §6 (Interlink FSR 400 series, PDS-10004-C):

* **Break force**: below ~0.2 N the pad is an open switch (> 10 MΩ); around the break force
  the conductance switches on steeply (a logistic in log-force, modelling choice).
* **Power law** over the dynamic range: R = R1 · F^-n (R1 = 6 kΩ at 1 N, n = 0.8, which
  reproduces the Adafruit FSR-402 points ≈ 30 kΩ at 0.2 N, 6 kΩ at 1 N, 1 kΩ at 10 N),
  **saturation** through a series floor R_sat = 200 Ω (≈ 250 Ω at 100 N).
* **Hysteresis** between loading and unloading, with the datasheet's definition
  (R_F+ − R_F−)/R_F+ = +10 %: a play (backlash) operator on log-force decides which branch
  the pad is on; a force change of ±``hysteresis_width`` (relative) swaps branches.
* **Creep** under load: conductance rises by ``creep_per_decade`` (4 %, datasheet < 5 %) per
  decade of time since contact began, G·(1 + c·log10(1 + t/τ)), reset when the pad is released.
* **Repeatability**: the datasheet's single-part repeatability (±2 %, "with repeatable
  actuation") is press to press, so each contact draws one conductance gain (1 % rms, ±2 %
  at 2 SD) held until the pad is released: a calibration weight or a squeeze reads a little
  high or low as a whole, with no preferred sign.
* **Noise**: small per-sample multiplicative conductance noise (0.1 % rms, modelling choice)
  and additive voltage noise at the ADC input, seeded. Drawing the ±2 % afresh on every
  sample instead would be noise no dead weight shows, and it biases any peak upwards.
* **Part-to-part spread**: :meth:`FsrParams.spread` draws R1 within ±6 % and n within ±3 %
  (datasheet ±6 % part-to-part); the **texture** overlay changes contact area, so rougher
  grades raise R1 by 4 % per grade (modelling choice: calibration through the overlay
  absorbs it, as §6 "Calibration practice" says).
* **Unplugged pad**: the ADC input floats; a floating ADS1115 input reads full scale
  (TI E2E, HARDWARE.md §5), modelled as a voltage above the PGA range.

Temperature effects (−5 %..+30 %) are not modelled.

Divider (§6 "Circuit"): V_out = V_cc · R_M / (R_M + R_FSR), R_M to ground.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

FloatFn = Callable[[float], float]
FLOATING_INPUT_V = 4.5  # above the ±4.096 V PGA range: a floating input reads 0x7FFF


@dataclass(frozen=True)
class FsrParams:
    """One FSR part. Resistances in ohms, forces in newtons."""

    break_force_n: float = 0.2
    r_at_1n_ohm: float = 6000.0
    exponent: float = 0.8
    r_saturation_ohm: float = 200.0
    r_open_ohm: float = 10e6
    hysteresis: float = 0.10
    hysteresis_width: float = 0.10
    creep_per_decade: float = 0.04
    creep_tau_s: float = 1.0
    repeatability_rel: float = 0.01
    noise_rel: float = 0.001
    noise_v: float = 0.0003

    def spread(self, rng: random.Random, part_rel: float = 0.06) -> FsrParams:
        """This part with seeded part-to-part spread (R1 ±``part_rel``, n ±``part_rel``/2)."""
        return replace(
            self,
            r_at_1n_ohm=self.r_at_1n_ohm * rng.uniform(1 - part_rel, 1 + part_rel),
            exponent=self.exponent * rng.uniform(1 - part_rel / 2, 1 + part_rel / 2),
        )

    def with_texture(self, grade: int) -> FsrParams:
        """Under a textured overlay of ``grade`` (0 smooth .. 7 coarse): less contact area."""
        if not 0 <= grade <= 7:
            raise ValueError(f"texture grade must be 0..7, got {grade}")
        return replace(self, r_at_1n_ohm=self.r_at_1n_ohm * (1 + 0.04 * grade))


def loading_conductance_s(params: FsrParams, force_n: float) -> float:
    """Noise-free conductance (S) on the loading branch, no creep: the calibration truth."""
    return _conductance(params, force_n, 0.0, 1.0)


def _conductance(p: FsrParams, force_n: float, unloading: float, creep: float) -> float:
    g_open = 1.0 / p.r_open_ohm
    if force_n <= 0.0:
        return g_open
    r_power = p.r_at_1n_ohm * force_n ** (-p.exponent) / creep
    r = (p.r_saturation_ohm + r_power) * (1.0 - p.hysteresis * unloading)
    switch = 1.0 / (1.0 + (p.break_force_n / force_n) ** 6)
    return g_open + switch / r


class FsrPad:
    """One textured pad: an FSR in a divider, driven by a force (N) over time.

    ``set_force`` / ``set_force_profile`` script the finger; :meth:`voltage_at` is what the
    ADS1115 input sees (pass it to ``SimADS1115.set_input_source``). The model is stateful
    (hysteresis branch, creep clock), advanced each time it is sampled; samples at times
    earlier than the last one reuse the state.
    """

    def __init__(
        self,
        index: int,
        params: FsrParams,
        texture_grade: int,
        divider_ohm: float,
        supply_v: float | FloatFn,
        seed: int,
    ) -> None:
        self.index = index
        self.texture_grade = texture_grade
        self.params = params.with_texture(texture_grade)  # sets the open resistance too
        self.divider_ohm = float(divider_ohm)
        self.set_supply(supply_v)
        self._rng = random.Random(seed)
        self._force: FloatFn = _constant(0.0)
        self._held_n: float | None = 0.0  # the force set_force holds (None: a profile)
        self.plugged = True
        self._t_last = -math.inf
        self._play: float | None = None  # play-operator state (log force), None: no contact
        self._contact_t: float | None = None
        self._unloading = 0.0
        self._creep = 1.0
        self._press_gain = 1.0  # this contact's repeatability draw

    def __repr__(self) -> str:
        return f"FsrPad({self.index}, grade {self.texture_grade}, R1={self.params.r_at_1n_ohm:.0f})"

    @property
    def params(self) -> FsrParams:
        """This part's parameters (its texture included)."""
        return self._params

    @params.setter
    def params(self, params: FsrParams) -> None:
        self._params = params
        #: Resistance with no force on the pad, as _resistance computes it.
        self._r_open = 1.0 / max(_conductance(params, 0.0, 0.0, 1.0), 1e-12)

    # -- scripting -------------------------------------------------------------------------

    def set_force(self, force_n: float) -> None:
        """Hold ``force_n`` (≥ 0) from now on."""
        if not force_n >= 0.0:
            raise ValueError(f"force_n must be >= 0, got {force_n}")
        self._force = _constant(float(force_n))
        self._held_n = float(force_n)

    def set_force_profile(self, fn: FloatFn) -> None:
        """Force follows ``fn(t_s) -> newtons`` (negative values count as 0)."""
        self._force = fn
        self._held_n = None

    def force_at(self, t_s: float) -> float:
        """The true force at ``t_s`` (what a session should measure)."""
        return max(0.0, float(self._force(t_s)))

    def set_supply(self, supply_v: float | FloatFn) -> None:
        """Feed the divider from ``supply_v`` volts, or ``supply_v(t_s) -> volts``."""
        if callable(supply_v):
            self._supply_v = supply_v
            self._supply_held_v: float | None = None
        else:
            self._supply_held_v = float(supply_v)
            self._supply_v = _constant(self._supply_held_v)

    def unplug(self) -> None:
        """Pull the pad's connector: the ADC input floats (reads full scale)."""
        self.plugged = False

    def plug(self) -> None:
        self.plugged = True

    # -- physics ---------------------------------------------------------------------------

    def resistance_at(self, t_s: float) -> float:
        """FSR resistance (Ω) at ``t_s``, noise included; advances the pad's state."""
        return self._resistance(t_s, self.force_at(t_s))

    def voltage_at(self, t_s: float) -> float:
        """Divider output (V) at the ADC input at ``t_s``: V_cc·R_M/(R_M + R_FSR) + noise."""
        if not self.plugged:
            return FLOATING_INPUT_V
        force = self._held_n  # set_force's constant, read without a call (most samples)
        if force is None:
            force = self._force(t_s)
        if force <= 0.0 and self._play is None and t_s >= self._t_last:
            # Nothing on a released pad (most samples): the open resistance, and no state
            # to reset; the same arithmetic as _resistance, without the calls.
            self._t_last = t_s
            r = self._r_open
        else:
            r = self._resistance(t_s, max(0.0, float(force)))
        supply_v = self._supply_held_v
        if supply_v is None:
            supply_v = self._supply_v(t_s)
        v = supply_v * self.divider_ohm / (self.divider_ohm + r)
        noise_v = self._params.noise_v
        if noise_v:
            v += self._rng.gauss(0.0, noise_v)
        return v

    def _resistance(self, t_s: float, force: float) -> float:
        if t_s >= self._t_last:
            self._advance(t_s, force)
        p = self._params
        g = _conductance(p, force, self._unloading, self._creep)
        if force > 0.0:
            g *= self._press_gain
            if p.noise_rel:
                g *= 1.0 + self._rng.gauss(0.0, p.noise_rel)
        return 1.0 / max(g, 1e-12)

    def _advance(self, t_s: float, force: float) -> None:
        p = self._params
        self._t_last = t_s
        if force < 0.5 * p.break_force_n:
            self._play = None  # released: both the branch and the creep clock reset
            self._contact_t = None
            self._unloading = 0.0
            self._creep = 1.0
            self._press_gain = 1.0
            return
        x = math.log(force)
        w = p.hysteresis_width
        if self._play is None:
            self._play = x - w  # first contact is a loading
            self._contact_t = t_s
            if p.repeatability_rel:
                self._press_gain = 1.0 + self._rng.gauss(0.0, p.repeatability_rel)
        self._play = min(max(self._play, x - w), x + w)
        self._unloading = (self._play - x + w) / (2 * w)
        held_s = t_s - (self._contact_t if self._contact_t is not None else t_s)
        self._creep = 1.0 + p.creep_per_decade * math.log10(1.0 + held_s / p.creep_tau_s)


def _constant(value: float) -> FloatFn:
    return lambda _t: value
