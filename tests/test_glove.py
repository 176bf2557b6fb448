"""The glove against the simulated hand: still calibration, flexion within ±5° for the long
fingers, tremor frequency, FIFO timestamps; the fusion maths on its own."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stations import sim_station

from sensors.faults import ImuFault
from sensors.fusion import (
    Madgwick,
    fit_accel,
    joint_angle_deg,
    q_conj_array,
    q_mul_array,
    tremor_band,
    welch_psd,
)
from sensors.glove import FifoTimeline, Glove
from station.parts import Station
from station.sim.hand import q_axis_angle
from station.sim.handles import SimHandles

FLEXION_TOLERANCE_DEG = 5.0


def glove_station(data_dir: Path) -> Station[SimHandles]:
    st = sim_station(data_dir, fitted=["glove"], seed=7, acquisition={"buffer_s": 10.0})
    assert st.acquisition is not None
    st.start()
    st.clock.sleep(0.3)
    st.acquisition.glove_still(2.0)
    return st


def test_glove_still_pose_removes_gyro_bias(tmp_path: Path) -> None:
    st = glove_station(tmp_path)
    assert st.glove is not None and st.acquisition is not None
    for segment, chip in st.sim.chips.imus.items():
        assert st.glove.gyro_bias_dps[segment] == pytest.approx(chip.gyro_bias_dps, abs=0.05)
    st.clock.sleep(1.0)
    gyro = st.acquisition.window(1.0).imus["index"].gyro_dps
    assert np.abs(np.mean(gyro, axis=0)).max() < 0.05


def test_glove_still_pose_refuses_a_moving_hand(tmp_path: Path) -> None:
    st = sim_station(tmp_path, fitted=["glove"], seed=7)
    assert st.acquisition is not None
    st.acquisition.start()
    st.sim.world.hand.set_tremor(5.0, 3.0)
    with pytest.raises(ValueError, match="moved during the still pose"):
        st.acquisition.glove_still(1.0)


class _StillEndedWhileLooking(Glove):
    """A glove whose still-pose capture is ended (end_still on the session's thread) right
    after the loop's thread first looks at it."""

    @property
    def _still(self) -> Any:
        still, self.__dict__["_still_state"] = self.__dict__.get("_still_state"), None
        if still is not None:
            self.ended = still
        return still

    @_still.setter
    def _still(self, value: Any) -> None:
        self.__dict__["_still_state"] = value


def test_glove_still_capture_ended_on_another_thread_does_not_break_a_drain() -> None:
    glove = _StillEndedWhileLooking({"back": object()}, clock=None)
    glove.begin_still()
    batch = glove.process("back", 1.0, np.tile([0.0, 0.0, 1.0], (4, 1)), np.zeros((4, 3)))
    assert len(batch.t_s) == 4  # the drain went on: no TypeError on a capture gone None
    assert len(glove.ended["back"].accel) == 1  # its samples went to the capture it saw


@pytest.mark.parametrize(("finger", "angle"), [("index", 45.0), ("middle", 80.0), ("little", 20.0)])
def test_glove_known_flexion_is_measured_within_tolerance(
    tmp_path: Path, finger: str, angle: float
) -> None:
    st = glove_station(tmp_path)
    assert st.acquisition is not None
    st.sim.world.hand.set_flexion(finger, angle, duration_s=0.6)
    st.clock.sleep(2.0)
    _, flexion = st.acquisition.flexion_deg(finger)
    assert flexion[-1] == pytest.approx(angle, abs=FLEXION_TOLERANCE_DEG)
    _, other = st.acquisition.flexion_deg("ring")
    assert abs(other[-1]) < FLEXION_TOLERANCE_DEG


def test_glove_flexion_tracks_while_the_hand_turns(tmp_path: Path) -> None:
    st = glove_station(tmp_path)
    assert st.acquisition is not None
    t0 = st.clock.now()
    st.sim.world.hand.set_orientation_profile(
        lambda t: (10 * math.sin(0.5 * (t - t0)), 20 * math.sin(0.3 * (t - t0)), 15 * (t - t0))
    )
    st.sim.world.hand.set_flexion_profile(
        "index", lambda t: 30 + 25 * math.sin(2 * math.pi * 0.4 * max(0.0, t - t0))
    )
    st.clock.sleep(6.0)
    t, flexion = st.acquisition.flexion_deg("index", 3.0)
    true = np.array([st.sim.world.hand.flexion_at("index", x) for x in t])
    assert np.max(np.abs(flexion - true)) < 2 * FLEXION_TOLERANCE_DEG
    assert np.sqrt(np.mean((flexion - true) ** 2)) < FLEXION_TOLERANCE_DEG


def tilt_hand_40_deg(st: Station[SimHandles]) -> None:
    """The whole hand tilts 40 deg about the flexion axis in 0.5 s; no finger flexes."""
    t0 = st.clock.now()
    st.sim.world.hand.set_orientation_profile(
        lambda t: (0.0, 40.0 * min(1.0, max(0.0, (t - t0) / 0.5)), 0.0)
    )


def test_glove_failed_back_imu_is_raised_by_flexion_and_tremor_never_a_flexion(
    tmp_path: Path,
) -> None:
    st = glove_station(tmp_path)
    acq = st.acquisition
    assert acq is not None
    st.sim.chips.imus["back"].unplug()  # only the back-of-hand IMU stops answering
    st.clock.sleep(0.3)
    assert set(acq.active_faults) == {"imu:back"}
    tilt_hand_40_deg(st)
    st.clock.sleep(1.0)
    for seconds in (0.0, 1.5):
        with pytest.raises(ImuFault, match="IMU back") as exc:
            acq.flexion_deg("index", seconds)
        assert exc.value is acq.active_faults["imu:back"]
    with pytest.raises(ImuFault, match="IMU back"):
        acq.tremor(4.0)
    with pytest.raises(ImuFault, match="IMU back"):
        acq.imu_window("back", 1.0)
    assert len(acq.imu_window("index", 0.5).t_s) >= 45  # the other IMUs carry on


def test_glove_failed_finger_imu_is_raised_by_its_flexion(tmp_path: Path) -> None:
    st = glove_station(tmp_path)
    acq = st.acquisition
    assert acq is not None
    st.sim.chips.imus["index"].unplug()
    st.clock.sleep(0.3)
    for seconds in (0.0, 1.0):  # the last second still holds samples from before it failed
        with pytest.raises(ImuFault, match="IMU index") as exc:
            acq.flexion_deg("index", seconds)
        assert exc.value is acq.active_faults["imu:index"]
    assert abs(acq.flexion_deg("middle")[1][-1]) < FLEXION_TOLERANCE_DEG


def test_glove_flexion_refuses_a_stale_back_sample_before_the_fault_is_declared(
    tmp_path: Path,
) -> None:
    st = glove_station(tmp_path)
    acq = st.acquisition
    assert acq is not None
    acq.fault_after = 1000  # the back IMU's fault is not declared during this test
    st.sim.chips.imus["back"].unplug()
    tilt_hand_40_deg(st)
    st.clock.sleep(1.0)
    assert not acq.active_faults
    with pytest.raises(ImuFault, match=r"IMU back: no sample(s in the last| within) \d+ ms"):
        acq.flexion_deg("index")
    with pytest.raises(ImuFault, match="IMU back: no sample within"):
        acq.flexion_deg("index", 1.5)


def test_glove_reinitialised_imu_restarts_its_orientation_from_gravity(tmp_path: Path) -> None:
    st = glove_station(tmp_path)
    acq = st.acquisition
    assert acq is not None
    st.sim.chips.imus["back"].unplug()
    tilt_hand_40_deg(st)  # motion the back IMU's filter never sees
    st.clock.sleep(1.0)
    st.sim.chips.imus["back"].plug()  # powers up with reset registers: re-initialised
    st.clock.sleep(0.3)
    assert ("imu_reset", "imu:back") in [(e.kind, e.part) for e in acq.events]
    _, flexion = acq.flexion_deg("index", 0.2)
    assert np.all(np.abs(flexion) < FLEXION_TOLERANCE_DEG), flexion  # truth 0 deg


def test_glove_imu_overrun_restarts_its_orientation_from_gravity(tmp_path: Path) -> None:
    st = glove_station(tmp_path)
    acq = st.acquisition
    assert acq is not None
    acq.stop()  # a stalled loop: every FIFO overflows while the finger flexes
    st.sim.world.hand.set_flexion("index", 40.0, duration_s=0.5)
    st.clock.sleep(5.0)
    acq.start()
    st.clock.sleep(1.0)  # the first drains read full FIFOs: the loop catches up meanwhile
    assert acq.counters["imu_overruns"] == 6
    _, flexion = acq.flexion_deg("index", 0.2)
    assert np.all(np.abs(flexion - 40.0) < FLEXION_TOLERANCE_DEG), flexion


@pytest.mark.parametrize("freq_hz", [5.0, 8.5])
def test_glove_known_tremor_frequency_is_found(tmp_path: Path, freq_hz: float) -> None:
    st = glove_station(tmp_path)
    assert st.acquisition is not None
    st.sim.world.hand.set_tremor(freq_hz, 1.0)
    st.clock.sleep(4.5)
    tremor = st.acquisition.tremor(4.0)
    assert tremor.peak_hz == pytest.approx(freq_hz, abs=0.3)
    expected_rms = 2 * math.pi * freq_hz * 1.0 / math.sqrt(2)  # dps rms of the y axis
    assert tremor.band_rms_dps == pytest.approx(expected_rms, rel=0.15)
    st.sim.world.hand.set_tremor(0.0, 0.0)
    st.clock.sleep(4.5)
    assert st.acquisition.tremor(4.0).band_rms_dps < 0.1 * expected_rms


def test_glove_samples_are_timestamped_on_the_odr_grid(tmp_path: Path) -> None:
    st = glove_station(tmp_path)
    assert st.acquisition is not None
    st.clock.sleep(3.0)
    t = st.acquisition.window(3.0).imus["ring"].t_s
    dt = np.diff(t)
    assert np.all(dt > 0)
    assert np.median(dt) == pytest.approx(1 / 104, rel=1e-6)
    assert len(t) == pytest.approx(3.0 * 104, abs=6)  # up to 40 ms not drained yet
    assert st.acquisition.counters["imu_overruns"] == 0


def test_glove_fifo_timeline_clamps_a_fast_chip_into_the_drain_window() -> None:
    tl = FifoTimeline(100.0)
    first = tl.stamp(4, 0.040)
    assert first[-1] == pytest.approx(0.035) and np.diff(first) == pytest.approx([0.01] * 3)
    assert tl.stamp(4, 0.080)[-1] == pytest.approx(0.075)
    fast = tl.stamp(6, 0.120)  # 6 samples in 40 ms: the grid would run past the drain
    assert fast[-1] <= 0.120 and tl.corrections == 1
    assert tl.stamp(0, 0.2).size == 0


def test_glove_fusion_madgwick_converges_to_a_tilt() -> None:
    f = Madgwick(beta=0.1)
    f.reset_from_accel((0.0, 0.0, 1.0))
    a = (-math.sin(math.radians(30)), 0.0, math.cos(math.radians(30)))
    q = f.update_many(np.zeros((2000, 3)), np.tile(a, (2000, 1)), 0.01)[-1]
    pitch = joint_angle_deg(np.array([1.0, 0, 0, 0]), q, (0.0, 1.0, 0.0))
    assert float(pitch) == pytest.approx(30.0, abs=0.5)


def test_glove_fusion_reset_from_accel_can_keep_the_heading() -> None:
    f = Madgwick()
    f.q = tuple(q_axis_angle((0.0, 0.0, 1.0), math.radians(70.0)))  # type: ignore[assignment]
    a = (-math.sin(math.radians(30)), 0.0, math.cos(math.radians(30)))  # pitched 30 deg
    f.reset_from_accel(a, keep_heading=True)
    w, x, y, z = f.q
    assert math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))) == (
        pytest.approx(70.0, abs=1e-6)
    )
    # The tilt is the accelerometer's: gravity in the body frame is ``a`` again.
    q = np.array(f.q)
    up = q_mul_array(q_mul_array(q_conj_array(q), np.array([0.0, 0, 0, 1])), q)[1:]
    assert up == pytest.approx(a, abs=1e-9)
    f.reset_from_accel(a)
    assert f.q[3] == pytest.approx(0.0, abs=1e-12)  # heading 0 by default


def test_glove_fusion_joint_angle_sign_and_magnitude() -> None:
    parent = np.array(q_axis_angle((0.0, 0.0, 1.0), 0.7))
    for deg in (-20.0, 0.0, 35.0, 110.0):
        child = np.array(q_axis_angle((0.0, 1.0, 0.0), math.radians(deg)))
        angle = joint_angle_deg(parent, q_mul_array(parent, child), (0.0, 1.0, 0.0))
        assert float(angle) == pytest.approx(deg, abs=1e-6)


def test_glove_fusion_six_pose_accel_fit_recovers_bias_and_scale() -> None:
    bias, scale = np.array([0.02, -0.03, 0.015]), np.array([1.01, 0.98, 1.02])
    poses = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    readings = poses / scale + bias
    b, s = fit_accel(readings)
    assert b == pytest.approx(bias, abs=1e-6) and s == pytest.approx(scale, abs=1e-6)
    b1, s1 = fit_accel(readings[4:5])
    assert np.all(b1 == 0) and s1[0] == pytest.approx(1 / np.linalg.norm(readings[4]))


def test_glove_fusion_welch_psd_integrates_to_the_variance() -> None:
    fs = 104.0
    t = np.arange(0, 8, 1 / fs)
    x = 3.0 * np.sin(2 * np.pi * 7.0 * t)
    freqs, psd = welch_psd(x, fs, 208)
    assert np.sum(psd) * (freqs[1] - freqs[0]) == pytest.approx(4.5, rel=0.05)
    est = tremor_band(np.stack([x, 0 * x, 0 * x], axis=1), fs)
    assert est.peak_hz == pytest.approx(7.0, abs=0.1)
    with pytest.raises(ValueError, match="at least 8"):
        welch_psd(x[:4], fs, 208)
