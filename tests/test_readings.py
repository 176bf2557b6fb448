"""The read side of the acquisition: a force is today's force of a working pad or a named
fault, never a plausible number; flexion samples pair with the nearest back sample."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from drivers.sim.clock import SimClock
from sensors.fault_book import FaultBook
from sensors.faults import PadFault, PadGap, SupplyRefFault
from sensors.force_pads import PadSample
from sensors.readings import Readings, nearest
from sensors.ring import SampleStore


def _readings(clock: SimClock) -> tuple[Readings, SampleStore, FaultBook]:
    store = SampleStore(2, pad_rows=64, segments=[], imu_rows=1)
    book = FaultBook(clock)
    return Readings(clock, store, book, None, None, 0.1, 0.05), store, book


def _sample(pad: int, t_s: float, force_n: float) -> PadSample:
    return PadSample(t_s, pad, 9000, 1.1, 1e-4, force_n, True, False, False)


def test_readings_latest_n_is_the_newest_force_while_fresh() -> None:
    clock = SimClock()
    readings, store, _ = _readings(clock)
    with pytest.raises(PadFault, match="no calibrated reading yet"):
        readings.latest_n(0)
    store.put_pad(_sample(0, 0.0, 12.5), 0)
    clock.advance(0.1)
    assert readings.latest_n(0) == 12.5
    clock.advance(0.05)
    with pytest.raises(PadFault, match="newest reading is 150 ms old"):
        readings.latest_n(0)


def test_readings_latest_n_refuses_a_sample_without_force() -> None:
    clock = SimClock()
    readings, store, _ = _readings(clock)
    store.put_pad(_sample(1, 0.0, float("nan")), 0)
    with pytest.raises(PadGap):
        readings.latest_n(1)


def test_readings_latest_n_raises_the_supply_fault_before_the_pads() -> None:
    clock = SimClock()
    readings, store, book = _readings(clock)
    store.put_pad(_sample(0, 0.0, 3.0), 0)
    pad = PadFault(0, errno.EREMOTEIO)
    book.fault("pad0", pad)
    with pytest.raises(PadFault) as exc:
        readings.latest_n(0)
    assert exc.value is pad
    supply = SupplyRefFault(None, "reads 2.0 V")
    book.fault("supply_ref", supply)
    with pytest.raises(SupplyRefFault) as exc:
        readings.latest_n(0)
    assert exc.value is supply


def test_readings_window_n_is_one_pads_times_and_forces() -> None:
    clock = SimClock()
    readings, store, _ = _readings(clock)
    for i in range(5):
        store.put_pad(_sample(0, i * 0.01, float(i)), 0)
        store.put_pad(_sample(1, i * 0.01, -1.0), 0)
    clock.advance(0.04)
    t, f = readings.window_n(0, 0.025)
    assert np.allclose(t, [0.02, 0.03, 0.04]) and f.tolist() == [2.0, 3.0, 4.0]


def test_nearest_pairs_each_time_with_the_nearest_reference() -> None:
    t_ref = np.array([0.0, 1.0, 2.0])
    idx, gap = nearest(t_ref, np.array([-0.5, 0.4, 0.5, 0.6, 1.9, 7.0]))
    assert idx.tolist() == [0, 0, 0, 1, 2, 2]  # a tie goes to the earlier sample
    assert np.allclose(gap, [0.5, 0.4, 0.5, 0.4, 0.1, 5.0])
    idx, gap = nearest(np.array([3.0]), np.array([1.0, 3.5]))
    assert idx.tolist() == [0, 0] and np.allclose(gap, [2.0, 0.5])
