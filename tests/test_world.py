"""The simulated world wired to the simulated chips: pads reach the ADC, the hand reaches
the IMUs, the DRV2605L drive reaches the motors, and a resting finger feels its pad."""

from __future__ import annotations

import errno
import math
from pathlib import Path

import numpy as np
import pytest
from stations import sim_station

from drivers.sim.clock import SimClock
from drivers.sim.lsm6dsox import SimLSM6DSOX
from station import config as cfgmod
from station.sim.hand import Hand
from station.sim.motors import MotorParams, SiteMotor, lra_response
from station.sim.world import World


def test_world_pad_force_reaches_the_adc_counts(tmp_path: Path) -> None:
    st = sim_station(tmp_path, fitted=["pads"])
    assert st.pads is not None
    adc = st.pads.adcs[0]
    idle = adc.counts_to_volts(adc.read_single(1))
    st.sim.world.pads[1].set_force(5.0)
    pressed = adc.counts_to_volts(adc.read_single(1))
    assert idle < 0.02
    assert pressed == pytest.approx(st.sim.world.pads[1].voltage_at(st.clock.now()), abs=0.01)
    assert 2.0 < pressed < 3.3


def test_world_pad_texture_grades_are_known() -> None:
    world = World(SimClock(), texture_grades=[0, 1, 2, 3, 4, 5, 6, 7])
    assert [p.texture_grade for p in world.pads] == list(range(8))
    with pytest.raises(ValueError, match="8 entries"):
        World(SimClock(), texture_grades=[1, 2])


def test_world_texture_widths_default_to_the_grade_ladder() -> None:
    world = World(SimClock(), texture_grades=[0, 1, 2, 3, 4, 5, 6, 7])
    # the standard kit: 0.5 mm x 1.26^grade to the micron, as the station's config has it
    assert world.texture_widths_mm == pytest.approx([0.5 * 1.26**g for g in range(8)], abs=5e-4)
    assert world.texture_widths_mm == list(cfgmod.STANDARD_TEXTURE_MM)
    with pytest.raises(ValueError, match="8 entries"):
        World(SimClock(), texture_widths_mm=[1.0, 2.0])
    with pytest.raises(ValueError, match="> 0"):
        World(SimClock(), texture_widths_mm=[1.0] * 7 + [0.0])


def test_world_supply_reference_reads_half_the_supply(tmp_path: Path) -> None:
    st = sim_station(tmp_path, fitted=["pads"], pads={"supply_ref": True})
    assert st.pads is not None
    st.sim.world.set_supply(3.0)
    adc = st.pads.adcs[1]
    assert adc.counts_to_volts(adc.read_single(3)) == pytest.approx(1.5, abs=0.001)


def test_world_flat_still_hand_reads_gravity_on_z_and_no_rotation() -> None:
    hand = Hand(SimClock())
    for segment in ("back", "index", "thumb"):
        accel, gyro = hand.motion(segment, 1.0)
        assert accel == pytest.approx((0.0, 0.0, 1.0), abs=1e-9)
        assert gyro == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)


def test_world_flexed_finger_tilts_gravity_and_rotates_while_moving() -> None:
    clock = SimClock()
    hand = Hand(clock)
    hand.set_flexion("index", 60.0, duration_s=0.5)
    _, gyro_mid = hand.motion("index", 0.25)
    accel, gyro = hand.motion("index", 1.0)
    assert accel == pytest.approx((-math.sin(math.radians(60)), 0, math.cos(math.radians(60))))
    assert gyro == pytest.approx((0, 0, 0), abs=1e-6)
    assert gyro_mid[1] > 100.0  # min-jerk peak rate 1.875 x 60 deg / 0.5 s = 225 dps
    assert hand.motion("back", 1.0)[0] == pytest.approx((0, 0, 1))


def test_world_tremor_shows_on_every_gyro_at_its_frequency() -> None:
    hand = Hand(SimClock())
    hand.set_tremor(6.0, 1.5)
    t = np.arange(0, 2, 1 / 1000)
    gy = np.array([hand.motion("back", x)[1][1] for x in t])
    peak = 2 * math.pi * 6.0 * 1.5
    assert np.max(gy) == pytest.approx(peak, rel=0.01)
    spectrum = np.abs(np.fft.rfft(gy))
    assert np.fft.rfftfreq(len(gy), 1 / 1000)[np.argmax(spectrum)] == pytest.approx(6.0)


def test_world_hand_motion_reaches_the_imu_driver(tmp_path: Path) -> None:
    st = sim_station(tmp_path, fitted=["glove"])
    assert st.glove is not None
    st.sim.world.hand.set_orientation(0.0, 30.0, 0.0)
    st.clock.sleep(0.1)
    batch = st.glove.imus["back"].read_fifo()
    ax, _, az = np.mean(batch.accel_g, axis=0)
    assert math.degrees(math.atan2(-ax, az)) == pytest.approx(30.0, abs=3.0)


def test_world_erm_frequency_rises_with_drive() -> None:
    motor = SiteMotor(0, MotorParams.default("erm"), seed=0)
    assert motor.vibration_for_drive(0.1) == (0.0, 0.0)  # below start-up drive
    (a1, f1), (a2, f2) = motor.vibration_for_drive(0.5), motor.vibration_for_drive(1.0)
    assert f2 > f1 > 0 and a2 > a1 > 0
    assert f2 == pytest.approx(220.0)
    assert 0.3 <= a2 <= 2.5  # vendor normalised amplitudes of coin motors (CLINICAL.md 4.1)


def test_world_lra_vibrates_at_resonance_and_falls_off_it() -> None:
    motor = SiteMotor(0, MotorParams.default("lra"), seed=0)
    amp, freq = motor.vibration_for_drive(0.5)
    assert freq == pytest.approx(motor.resonance_hz) and 170 <= freq <= 180
    assert motor.vibration_for_drive(1.0)[0] == pytest.approx(2 * amp)
    motor.drive_frequency_hz = 120.0
    assert motor.vibration_for_drive(0.5)[0] < 0.5 * amp
    assert lra_response(175.0, 175.0, 6.0) == pytest.approx(1.0)


def test_world_motor_follows_the_drv2605l_drive_with_a_lag(tmp_path: Path) -> None:
    st = sim_station(tmp_path, fitted=["haptics"])
    assert st.haptics is not None
    drv = st.haptics.motors[2]
    t_on = st.clock.now()
    drv.set_realtime(0.8)  # type: ignore[attr-defined]
    st.clock.sleep(0.5)
    motor = st.sim.world.motors[2]
    early, _ = motor.vibration_at(t_on + 0.01)
    steady, freq = motor.vibration_at(st.clock.now())
    assert steady == pytest.approx(motor.vibration_for_drive(round(0.8 * 127) / 127)[0], rel=1e-3)
    assert 0 < early < 0.5 * steady
    assert freq > 100
    drv.stop()
    st.clock.sleep(0.5)
    assert st.sim.world.motors[2].vibration_at(st.clock.now()) == (0.0, 0.0)
    assert st.sim.world.motors[0].vibration_at(st.clock.now()) == (0.0, 0.0)


def test_world_finger_resting_on_a_pad_feels_its_motor_on_the_imu(tmp_path: Path) -> None:
    st = sim_station(tmp_path, fitted=["haptics", "glove"])
    assert st.haptics is not None and st.glove is not None
    st.sim.world.rest_finger("index", 1)
    st.clock.sleep(0.2)
    for segment in ("index", "middle"):
        st.glove.imus[segment].read_fifo()
    st.haptics.motors[1].set_realtime(1.0)  # type: ignore[attr-defined]
    st.clock.sleep(0.5)
    index = np.asarray(st.glove.imus["index"].read_fifo().accel_g)[:, 2]
    middle = np.asarray(st.glove.imus["middle"].read_fifo().accel_g)[:, 2]
    assert np.std(index) > 0.3  # ~2 g rms x 0.5 coupling, aliased at 104 Hz
    assert np.std(middle) < 0.02
    st.sim.world.rest_finger("index", None)
    with pytest.raises(ValueError, match="no motor under pad 6"):
        st.sim.world.rest_finger("index", 6)


def test_world_unplugged_glove_stops_answering_and_comes_back_reset(tmp_path: Path) -> None:
    st = sim_station(tmp_path, fitted=["glove"])
    assert st.glove is not None
    st.sim.world.unplug_glove()
    with pytest.raises(OSError) as exc:
        st.glove.imus["ring"].read_fifo()
    assert exc.value.errno == errno.EREMOTEIO
    st.sim.world.plug_glove()
    assert isinstance(st.sim.chips.imus["ring"], SimLSM6DSOX)
    assert st.sim.chips.imus["ring"].register(0x10) == 0  # powered up with reset registers
