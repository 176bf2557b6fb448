"""Ring buffers and the acquisition's sample store: the newest rows kept, oldest first, in
the right columns; windows copied out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sensors.force_pads import FLAG_CONTACT, FLAG_OPEN, PadSample
from sensors.ring import Ring, SampleStore


def test_ring_keeps_the_newest_rows_across_wraps_and_long_appends() -> None:
    rng = np.random.default_rng(3)
    ring = Ring(7, 3)
    kept_t: list[float] = []
    kept: list[np.ndarray] = []
    t0 = 0
    for n in [1, 3, 5, 0, 7, 2, 16, 4, 9, 1, 6]:  # wraps mid-append, appends over capacity
        t = np.arange(t0, t0 + n, dtype=float)
        a, b = rng.normal(size=(n, 1)), rng.normal(size=(n, 2))
        ring.append(t, a, b)
        kept_t.extend(t)
        kept.extend(np.hstack([a, b]))
        t0 += n
        got_t, got = ring.since(-math.inf)
        np.testing.assert_array_equal(got_t, kept_t[-7:])
        np.testing.assert_array_equal(got, np.array(kept[-7:]).reshape(-1, 3))
    assert ring.n == t0


def test_ring_put_and_since_return_the_rows_from_a_time_as_copies() -> None:
    ring = Ring(4, 2)
    for i in range(6):
        ring.put(float(i), (i * 10.0, -i))
    t, d = ring.since(3.0)
    assert t.tolist() == [3.0, 4.0, 5.0] and d.tolist() == [[30, -3], [40, -4], [50, -5]]
    t[:], d[:] = 0, 0
    assert ring.since(3.0)[0].tolist() == [3.0, 4.0, 5.0]
    assert ring.since(9.0)[1].shape == (0, 2)
    last = ring.last()
    assert last is not None and last[0] == 5.0 and last[1].tolist() == [50, -5]


def _sample(pad: int, t_s: float, force_n: float, volts: float) -> PadSample:
    return PadSample(t_s, pad, 0, volts, 0.0, force_n, force_n > 0.5, False, False)


def test_sample_store_keeps_each_pads_samples_and_newest() -> None:
    store = SampleStore(2, pad_rows=10, segments=[], imu_rows=1)
    assert store.latest() == [None, None]
    store.put_pad(_sample(1, 0.01, 2.0, 0.4), FLAG_CONTACT)
    store.put_pad(_sample(1, 0.02, 0.0, 0.1), FLAG_OPEN)
    store.put_pad(_sample(0, 0.02, 1.0, 0.2), 0)
    assert store.latest_pad(1) == _sample(1, 0.02, 0.0, 0.1)
    w = store.pad_window(1, 0.0)
    assert w.t_s.tolist() == [0.01, 0.02] and w.force_n.tolist() == [2.0, 0.0]
    assert w.volts.tolist() == [0.4, 0.1] and w.flags.tolist() == [FLAG_CONTACT, FLAG_OPEN]
    assert w.flags.dtype == np.uint8
    both = store.window(0.015)
    assert both.pads[0].t_s.tolist() == [0.02] and both.pads[1].t_s.tolist() == [0.02]
    assert both.imus == {}
    with pytest.raises(KeyError):
        store.pad_window(2, 0.0)


def test_sample_store_keeps_imu_samples_in_their_columns() -> None:
    store = SampleStore(0, pad_rows=1, segments=["back", "index"], imu_rows=8)
    t = np.array([0.1, 0.2, 0.3])
    accel, gyro = np.arange(9.0).reshape(3, 3), -np.arange(9.0).reshape(3, 3)
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (3, 1))
    store.append_imu("index", t, accel, gyro, quat)
    w = store.imu_windows(["index", "back"], 0.15)
    assert w["index"].t_s.tolist() == [0.2, 0.3]
    np.testing.assert_array_equal(w["index"].accel_g, accel[1:])
    np.testing.assert_array_equal(w["index"].gyro_dps, gyro[1:])
    np.testing.assert_array_equal(w["index"].quat, quat[1:])
    assert len(w["back"].t_s) == 0 and w["back"].quat.shape == (0, 4)
    assert store.window(0.0).imus["index"].t_s.tolist() == [0.1, 0.2, 0.3]
    assert store.nbytes() == 2 * (8 + 8 * 10) * 8  # two IMU rings, no pads
