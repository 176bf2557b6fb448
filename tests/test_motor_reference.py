"""A glove IMU as the motors' reference accelerometer: the spectrum arithmetic, the
LSM6DSOX burst capture on the wire, and the measurement on the simulated station, where
the IMU lies on a pad and feels that pad's motor as the world models it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stations import sim_station
from test_lsm6dsox import make, wire

from drivers.lsm6dsox import DeviceReset
from sensors.calibration import CalibrationError
from sensors.imu_reference import ODR_HZ, SAMPLES, ImuReference, vibration
from station.parts import Station
from station.sim.handles import SimHandles

PAD = 2
#: The glove's stream registers: CTRL1_XL, CTRL2_G (104 Hz, +-4 g, 500 dps), FIFO_CTRL3/4.
GLOVE_REGS = {0x10: 0x48, 0x11: 0x44, 0x09: 0x44, 0x0A: 0x06}


def db(measured: float, truth: float) -> float:
    return 20 * math.log10(measured / truth)


def station(tmp_path: Path, actuator: str = "erm") -> Station[SimHandles]:
    return sim_station(
        tmp_path, fitted=["haptics", "glove"], seed=5, haptics={"actuator": actuator}
    )


def regs(chip: Any) -> dict[int, int]:
    return {r: chip.register(r) for r in GLOVE_REGS}


def test_motor_reference_vibration_finds_a_tone_whatever_the_imu_orientation() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(SAMPLES) / ODR_HZ
    gravity = np.array([0.31, -0.22, 0.92])  # tilted on the pad
    along = np.array([0.6, 0.0, 0.8])  # the vibration shared between two axes
    tone = 0.25 * math.sqrt(2) * np.sin(2 * np.pi * 178.3 * t)
    samples = gravity + tone[:, None] * along + rng.normal(0, 0.002, (SAMPLES, 3))
    v = vibration(samples, ODR_HZ)
    assert abs(db(v.amplitude_g, 0.25)) < 0.1
    assert v.frequency_hz == pytest.approx(178.3, abs=0.5)
    assert v.gravity_g == pytest.approx(tuple(gravity), abs=0.01)
    with pytest.raises(ValueError, match="need"):
        vibration(samples[:, :2], ODR_HZ)


def test_motor_reference_capture_bytes_on_the_wire_and_the_stream_restored() -> None:
    clock, bus, chip, imu = make()
    imu.init()
    chip.set_motion_source(
        lambda t: ((0.5 * math.sin(2 * math.pi * 500.0 * t), 0.0, 1.0), (0.0, 0.0, 0.0))
    )
    bus.log.clear()
    samples = imu.capture_accel(SAMPLES)
    log = wire(list(bus.log))
    assert log[:3] == [
        (("W", b"\x0a\x00"),),  # FIFO_CTRL4: bypass (empties the FIFO)
        (("W", b"\x10\x9c\x00"),),  # CTRL1_XL 3333 Hz +-8 g, CTRL2_G gyro off
        (("W", b"\x09\x09\x01"),),  # FIFO_CTRL3 BDR_XL 3333 Hz, FIFO_CTRL4 FIFO mode
    ]
    bursts = [seg for t in log for seg in t if seg[0] == "R" and len(seg[1]) > 2]
    assert sum(len(data) for _, data in bursts) == 7 * (SAMPLES + 16)  # 16 words dropped
    assert len(samples) == SAMPLES
    v = vibration(samples, ODR_HZ)  # 3333 samples a second: 500 Hz is where it is
    assert v.frequency_hz == pytest.approx(500.0, abs=1.0)
    assert v.amplitude_g == pytest.approx(0.5 / math.sqrt(2), rel=0.01)
    assert samples[0][2] == pytest.approx(1.0, abs=0.244e-3)  # +-8 g: 0.244 mg a count
    with pytest.raises(DeviceReset):
        imu.read_fifo()  # the stream is off until init()
    imu.init()
    clock.sleep(0.1)
    assert len(imu.read_fifo().accel_g) >= 9
    for bad in ({"n": 0}, {"n": 497}, {"n": 10, "odr_hz": 100}, {"n": 10, "accel_fs_g": 3}):
        with pytest.raises(ValueError):
            imu.capture_accel(**bad)


@pytest.mark.parametrize("actuator", ["erm", "lra"])
def test_motor_reference_measures_the_motor_at_the_pad_within_a_fraction_of_a_db(
    actuator: str, tmp_path: Path
) -> None:
    st = station(tmp_path, actuator)
    assert st.glove is not None and st.haptics is not None
    world = st.sim.world
    world.place_imu("index", PAD)
    with ImuReference(st.glove, "index", PAD) as ref:
        assert ref.threshold_g < 0.005  # the rest's noise floor: a few mg
        for drive in (0.3, 0.6, 1.0):
            drive_set = st.haptics.drive_raw(PAD, drive)
            st.clock.sleep(0.25)
            amplitude, frequency = ref()
            truth_g, truth_hz = world.motors[PAD].vibration_for_drive(drive_set)
            assert abs(db(amplitude, truth_g)) < 0.2, (drive, amplitude, truth_g)
            assert frequency == pytest.approx(truth_hz, abs=1.0)
        st.haptics.stop(PAD)
        st.clock.sleep(0.3)
        assert ref() == (0.0, 0.0)  # still: no vibration above the noise


def test_motor_reference_leaves_the_glove_as_it_was(tmp_path: Path) -> None:
    st = station(tmp_path)
    assert st.glove is not None and st.acquisition is not None and st.haptics is not None
    chip = st.sim.chips.imus["index"]
    assert regs(chip) == GLOVE_REGS
    st.sim.world.place_imu("index", PAD)
    with ImuReference(st.glove, "index", PAD) as ref:
        st.haptics.drive_raw(PAD, 0.8)
        st.clock.sleep(0.25)
        assert ref()[0] > 0.5
        assert regs(chip) != GLOVE_REGS  # the burst's configuration meanwhile
    st.haptics.stop(PAD)
    assert regs(chip) == GLOVE_REGS
    st.sim.world.place_imu("index", None)  # back on the glove
    st.start()
    st.clock.sleep(1.5)
    w = st.acquisition.window(1.0).imus["index"]
    assert 100 <= len(w.t_s) <= 108  # 104 Hz again
    assert np.linalg.norm(np.mean(w.accel_g, axis=0)) == pytest.approx(1.0, abs=0.05)
    assert float(np.median(np.diff(w.t_s))) == pytest.approx(1 / 104)
    assert not [e for e in st.acquisition.events if e.kind == "imu_reset"]


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("vibrating", "is not still"),
        ("offset", "reads 1.30 g at rest, not 1 g"),
    ],
)
def test_motor_reference_rest_check_refuses_an_imu_not_at_rest(
    fault: str, words: str, tmp_path: Path
) -> None:
    st = station(tmp_path)
    assert st.glove is not None and st.haptics is not None
    chip = st.sim.chips.imus["index"]
    st.sim.world.place_imu("index", PAD)
    if fault == "vibrating":  # the motor already runs under it
        st.haptics.drive_raw(PAD, 0.6)
        st.clock.sleep(0.25)
    else:  # an accelerometer 0.3 g off
        chip.accel_bias_g = (0.0, 0.0, 0.3)
    ref = ImuReference(st.glove, "index", PAD)
    with pytest.raises(CalibrationError, match=words), ref:
        pass
    assert regs(chip) == GLOVE_REGS  # restored all the same
    with pytest.raises(RuntimeError, match="open"):
        ref()


def test_motor_reference_capture_faults_are_named(tmp_path: Path) -> None:
    st = station(tmp_path)
    assert st.glove is not None and st.haptics is not None
    world, chip = st.sim.world, st.sim.chips.imus["index"]
    world.place_imu("index", PAD)
    world.motors[PAD].max_amplitude_g = 7.0  # a knock: 10 g peak past the +-8 g range
    with ImuReference(st.glove, "index", PAD) as ref:
        st.haptics.drive_raw(PAD, 1.0)
        st.clock.sleep(0.25)
        with pytest.raises(CalibrationError, match=r"went past \+-8 g: was it knocked"):
            ref()
        chip.unplug()
        with pytest.raises(CalibrationError, match="index IMU stopped answering"):
            ref()
    with pytest.raises(ValueError, match="no 'wrist' IMU"):
        ImuReference(st.glove, "wrist", PAD)
