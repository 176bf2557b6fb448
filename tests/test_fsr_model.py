"""The FSR pad model against HARDWARE.md §6: break force, power law, saturation,
hysteresis, creep, noise, part-to-part spread, texture, divider, unplugged input."""

from __future__ import annotations

import math
import random

import pytest

from station.sim.fsr import FLOATING_INPUT_V, FsrPad, FsrParams, loading_conductance_s

QUIET = FsrParams(noise_rel=0.0, noise_v=0.0, creep_per_decade=0.0, repeatability_rel=0.0)


def pad(params: FsrParams = QUIET, grade: int = 0, seed: int = 0) -> FsrPad:
    return FsrPad(0, params, grade, 10_000, lambda _t: 3.3, seed)


def test_fsr_model_is_open_below_the_break_force() -> None:
    p = FsrParams()
    assert 1 / loading_conductance_s(p, 0.0) >= 10e6
    assert 1 / loading_conductance_s(p, 0.05) > 1e6
    assert 1 / loading_conductance_s(p, 0.5) < 20e3


def test_fsr_model_follows_the_power_law_in_its_dynamic_range() -> None:
    p = FsrParams()
    r1, r5 = 1 / loading_conductance_s(p, 1.0), 1 / loading_conductance_s(p, 5.0)
    slope = math.log(r5 / r1) / math.log(5.0)
    assert slope == pytest.approx(-0.8, abs=0.1)
    assert r1 == pytest.approx(6200, rel=0.05)  # Adafruit FSR-402: ~6 kOhm at 1 N


def test_fsr_model_saturates_at_high_force() -> None:
    p = FsrParams()
    r100, r1000 = 1 / loading_conductance_s(p, 100.0), 1 / loading_conductance_s(p, 1000.0)
    assert 200 < r1000 < r100 < 400
    assert r100 / r1000 < 2.0  # a pure power law would fall 10^0.8 = 6.3 times


def test_fsr_model_unloading_branch_reads_about_ten_percent_lower_resistance() -> None:
    fsr = pad()
    t = 0.0
    for f in (1, 2, 4, 6, 8, 10):
        t += 0.1
        fsr.set_force(f)
        fsr.resistance_at(t)
    r_loading = 1 / loading_conductance_s(fsr.params, 5.0)
    for f in (9, 8, 7, 6, 5):
        t += 0.1
        fsr.set_force(f)
        r_unloading = fsr.resistance_at(t)
    assert (r_loading - r_unloading) / r_loading == pytest.approx(0.10, abs=0.005)


def test_fsr_model_creeps_under_static_load_by_log_time() -> None:
    fsr = pad(FsrParams(noise_rel=0.0, noise_v=0.0, repeatability_rel=0.0))
    fsr.set_force(5.0)
    r = {t: fsr.resistance_at(t) for t in (0.0, 1.0, 10.0, 100.0)}
    g = {t: 1 / v for t, v in r.items()}
    decade = g[100.0] / g[10.0] - 1
    assert 0.02 < decade < 0.05  # datasheet: < 5 % per decade
    assert g[10.0] > g[1.0] > g[0.0]
    fsr.set_force(0.0)
    fsr.resistance_at(101.0)
    fsr.set_force(5.0)
    assert fsr.resistance_at(101.0) == pytest.approx(r[0.0], rel=1e-6)  # released: reset


def test_fsr_model_noise_is_seeded() -> None:
    a, b, c = pad(FsrParams(), seed=1), pad(FsrParams(), seed=1), pad(FsrParams(), seed=2)
    for p in (a, b, c):
        p.set_force(3.0)
    va = [a.voltage_at(i * 0.01) for i in range(50)]
    assert va == [b.voltage_at(i * 0.01) for i in range(50)]
    assert va != [c.voltage_at(i * 0.01) for i in range(50)]
    assert 0.001 < (max(va) - min(va)) < 0.1


def test_fsr_model_repeatability_is_one_draw_per_press() -> None:
    """The datasheet's ±2 % single-part repeatability is press to press: one gain for the
    whole of a press, a new one after a release, centred on the loading curve."""
    fsr = pad(FsrParams(noise_rel=0.0, noise_v=0.0, creep_per_decade=0.0), seed=4)
    truth = 1 / loading_conductance_s(fsr.params, 5.0)
    gains, t = [], 0.0
    for _ in range(400):
        fsr.set_force(5.0)
        held = {fsr.resistance_at(t + dt) for dt in (0.0, 0.5, 1.0)}
        assert len(held) == 1  # no sample-to-sample scatter within the press
        gains.append(truth / held.pop())
        fsr.set_force(0.0)
        fsr.resistance_at(t + 1.5)
        t += 2.0
    mean = sum(gains) / len(gains)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gains) / (len(gains) - 1))
    assert mean == pytest.approx(1.0, abs=0.002)
    assert sd == pytest.approx(0.01, rel=0.15)


def test_fsr_model_part_to_part_spread_stays_within_six_percent() -> None:
    rng = random.Random(3)
    parts = [FsrParams().spread(rng) for _ in range(200)]
    r1 = [p.r_at_1n_ohm / 6000.0 for p in parts]
    assert min(r1) >= 0.94 and max(r1) <= 1.06
    assert max(r1) - min(r1) > 0.08


def test_fsr_model_texture_grade_lowers_contact_and_is_known() -> None:
    smooth, coarse = pad(grade=0), pad(grade=5)
    assert coarse.texture_grade == 5
    for p in (smooth, coarse):
        p.set_force(4.0)
    assert coarse.resistance_at(0.0) > smooth.resistance_at(0.0)
    with pytest.raises(ValueError, match=r"0\.\.7"):
        pad(grade=8)


def test_fsr_model_divider_voltage_matches_the_circuit() -> None:
    fsr = pad()
    fsr.set_force(2.0)
    r = 1 / loading_conductance_s(fsr.params, 2.0)
    assert fsr.voltage_at(0.0) == pytest.approx(3.3 * 10_000 / (10_000 + r), rel=1e-9)


def test_fsr_model_unplugged_pad_floats_above_full_scale() -> None:
    fsr = pad()
    fsr.unplug()
    assert fsr.voltage_at(0.0) == FLOATING_INPUT_V > 4.096
    fsr.plug()
    assert fsr.voltage_at(0.0) < 0.01


def test_fsr_model_force_profile_and_negative_force() -> None:
    fsr = pad()
    fsr.set_force_profile(lambda t: 2.0 * t - 1.0)
    assert fsr.force_at(0.0) == 0.0
    assert fsr.force_at(2.0) == 3.0
    with pytest.raises(ValueError):
        fsr.set_force(-1.0)
