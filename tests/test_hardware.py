"""The composition root: the station the config describes, real parts refused clearly
where the machine has none, the simulated station wired per config."""

from __future__ import annotations

import errno as errno_mod
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.sim.clock import RealTimeClock
from station import config, hardware
from station.sim.handles import SimHandles


def sim_config(**sections: dict) -> config.Config:
    data: dict = {"schema": config.SCHEMA}
    data.update(sections)
    return config.validate(data)


def test_hardware_sim_station_has_the_configured_parts(tmp_path: Path) -> None:
    with hardware.build(config.defaults(), sim=True, data_dir=tmp_path) as st:
        assert st.pads is not None and st.pads.n_pads == 8
        assert st.haptics is not None and len(st.haptics.motors) == 4
        assert st.glove is not None and st.display is not None and st.buttons is not None
        assert st.uncalibrated == []  # the simulated technician calibrated pads and motors
        stored = sorted(p.name for p in (tmp_path / "calibration").iterdir())
        assert len(stored) == 12 and stored[0].startswith("motor-motor0-v1")
    # a second start loads the records instead of calibrating again
    with hardware.build(config.defaults(), sim=True, data_dir=tmp_path) as st:
        assert st.uncalibrated == [] and st.clock.now() < 1.0


@pytest.mark.parametrize("supply_ref", [True, False])
def test_hardware_supply_reference_from_the_config_corrects_a_sagging_supply(
    tmp_path: Path, supply_ref: bool
) -> None:
    cfg = sim_config(pads={"supply_ref": supply_ref}, glove={"fitted": False})
    with hardware.build(cfg, sim=True, data_dir=tmp_path) as st:
        assert st.pads is not None and st.acquisition is not None and st.sim is not None
        assert st.pads.n_pads == (7 if supply_ref else 8)
        assert (st.pads.supply_ref is not None) == supply_ref
        world, acq = st.sim.world, st.acquisition
        st.start()
        world.pads[2].set_force(8.0)
        st.clock.sleep(1.0)
        nominal = acq.latest_n(2)
        world.pads[2].set_force(0.0)
        st.clock.sleep(1.0)
        world.set_supply(3.0)  # a 9 % sag
        world.pads[2].set_force(8.0)
        st.clock.sleep(1.0)
        error = abs(acq.latest_n(2) / nominal - 1.0)
        if supply_ref:
            assert error < 0.08
            assert st.pads.supply_v() == pytest.approx(3.0, abs=0.03)
        else:  # without the reference the sag reads as a different force
            assert error > 0.15


def test_hardware_a_5v_divider_uses_the_range_that_holds_it(tmp_path: Path) -> None:
    """On a 5 V divider a firm press is above 4.096 V: with the 4.096 V range it clipped and
    read as an unplugged pad (a fault, motors off). The 6.144 V range measures it."""
    assert hardware.ads1115_range_v(3.3) == 4.096 and hardware.ads1115_range_v(5.0) == 6.144
    cfg = sim_config(pads={"supply_v": 5.0}, glove={"fitted": False})
    with hardware.build(cfg, sim=True, data_dir=tmp_path) as st:
        assert st.uncalibrated == []  # the technician's weights up to 20 N fitted too
        assert st.acquisition is not None and st.sim is not None and st.pads is not None
        st.start()
        st.sim.world.pads[1].set_force(15.0)
        st.clock.sleep(1.0)
        assert st.acquisition.latest_n(1) == pytest.approx(15.0, abs=0.3 + 0.25 * 15.0)
        assert st.acquisition.active_faults == {}


def test_hardware_pwm_motors_drive_the_simulated_motors(tmp_path: Path) -> None:
    cfg = sim_config(
        haptics={"driver": "pwm", "pwm_pins": [12, 13]},
        glove={"fitted": False},
        pads={"fitted": False},
    )
    with hardware.build(cfg, sim=True, data_dir=tmp_path) as st:
        assert st.haptics is not None and st.sim is not None
        assert len(st.haptics.motors) == 2 and st.uncalibrated == []
        st.haptics.drive_raw(1, 0.8)
        st.clock.sleep(0.5)
        assert st.sim.world.motors[1].vibration_at(st.clock.now())[0] > 0.1
        st.close()
        st.clock.sleep(0.5)
        assert st.sim.world.motors[1].vibration_at(st.clock.now())[0] < 0.01


def test_hardware_acquisition_buffer_is_a_config_key(tmp_path: Path) -> None:
    """acquisition.buffer_s sets how far back the ring buffers reach; bad values are
    refused by name."""
    cfg = sim_config(acquisition={"buffer_s": 5.0}, glove={"fitted": False})
    with hardware.build(cfg, sim=True, data_dir=tmp_path, calibrate_sim=False) as st:
        assert st.acquisition is not None
        st.start()
        st.clock.sleep(8.0)
        kept = len(st.acquisition.window(8.0).pads[0].t_s)
        assert 5.0 * 100 <= kept < 8.0 * 100  # at least the 5 s asked for, not all 8 s
    for bad in (4.9, 60.5, "30"):
        with pytest.raises(config.ConfigError, match=r"'acquisition\.buffer_s'.*5\.0\.\.60\.0"):
            sim_config(acquisition={"buffer_s": bad})


def test_hardware_sim_texture_grades_reach_the_pads(tmp_path: Path) -> None:
    grades = [7, 6, 5, 4, 3, 2, 1, 0]
    cfg = sim_config(glove={"fitted": False}, haptics={"fitted": False})
    with hardware.build(
        cfg, sim=True, data_dir=tmp_path, calibrate_sim=False, texture_grades=grades
    ) as st:
        assert [p.texture_grade for p in st.sim.world.pads] == grades
    with pytest.raises(ValueError, match="texture_grades needs 8 entries"):
        hardware.build(cfg, sim=True, data_dir=tmp_path, texture_grades=[1, 2])


def test_hardware_sim_station_has_only_the_buses_a_fitted_part_is_on(tmp_path: Path) -> None:
    cfg = sim_config(glove={"fitted": False}, lcd={"fitted": False})
    with hardware.build(cfg, sim=True, data_dir=tmp_path, calibrate_sim=False) as st:
        assert set(st.buses) == set(st.sim.buses) == {"station"}  # as on a Pi


def test_hardware_sim_station_runs_on_the_real_clock(tmp_path: Path) -> None:
    """The real-time clock of the jitter figures (tests/bench/acquisition.py): the simulated
    chips convert in real time."""
    clock = RealTimeClock()
    cfg = sim_config(glove={"fitted": False}, haptics={"fitted": False}, lcd={"fitted": False})
    with hardware.build(cfg, sim=True, data_dir=tmp_path, clock=clock, calibrate_sim=False) as st:
        assert st.pads is not None and st.clock is clock
        st.sim.world.pads[1].set_force(5.0)
        adc = st.pads.adcs[0]
        volts = adc.counts_to_volts(adc.read_single(1))
        assert volts == pytest.approx(st.sim.world.pads[1].voltage_at(clock.now()), abs=0.01)
        assert st.sim.buses["station"].stats.wire_s > 0  # accounted, not waited for


def test_hardware_real_station_without_i2c_says_which_bus(tmp_path: Path) -> None:
    cfg = sim_config(buses={"station_bus": 29})  # no /dev/i2c-29 on a test machine
    with pytest.raises(hardware.HardwareError, match=r"/dev/i2c-29 for the station bus"):
        hardware.build(cfg, sim=False, data_dir=tmp_path)


# -- a fitted chip missing or wrong at start ------------------------------------------------


class Wiring:
    """The simulated station's handles, kept when ``build`` hands them to ``prepare_sim``
    (the station itself is never returned when a part fails)."""

    def __init__(self, change: Callable[[SimHandles], None]) -> None:
        self.change = change
        self.sim: SimHandles | None = None

    def __call__(self, sim: SimHandles) -> None:
        self.sim = sim
        self.change(sim)

    def lcd(self) -> list[str]:
        assert self.sim is not None
        return [" ".join(line.split()) for line in self.sim.lcd_lines()]


def build_failing(tmp_path: Path, wiring: Wiring, cfg: config.Config | None = None):
    threads = set(threading.enumerate())
    with pytest.raises(hardware.HardwareError) as err:
        hardware.build(cfg or config.defaults(), sim=True, data_dir=tmp_path, prepare_sim=wiring)
    assert set(threading.enumerate()) == threads  # nothing left running
    assert wiring.sim is not None
    assert all(bus.closed for bus in wiring.sim.buses.values())  # and everything closed
    return err.value


def test_hardware_an_adc_missing_at_start_is_named_and_shown_on_the_lcd(tmp_path: Path) -> None:
    """The second ADS1115 does not answer (OSError 121, as on a Pi). Before, the raw OSError
    left build(): the CLI printed a traceback and the LCD stayed blank."""
    wiring = Wiring(lambda sim: sim.buses["station"].detach(0x49))
    err = build_failing(tmp_path, wiring)
    assert (err.part, err.address, err.errno, err.code) == ("pads", 0x49, 121, "E-PAD-121")
    assert err.bus == "sim-station-bus" and err.channel is None
    msg = str(err)
    assert msg.startswith("force pads: the ADS1115 at 0x49 on sim-station-bus does not answer")
    assert "ADDR pin" in msg and "i2cdetect -y 1" in msg
    assert isinstance(err.__cause__, OSError)
    # the LCD came up first and keeps the error, lit, for the technician
    lines = wiring.lcd()
    assert lines[0] == "Station problem"
    assert lines[-1].endswith("Code E-PAD-121")
    assert wiring.sim is not None and wiring.sim.chips.lcd.backlight


@pytest.mark.parametrize(
    ("errno", "code"), [(errno_mod.EIO, "E-PAD-005"), (errno_mod.ENXIO, "E-PAD-006")]
)
def test_hardware_an_adc_that_does_not_answer_with_another_errno_is_named_the_same(
    tmp_path: Path, errno: int, code: str
) -> None:
    """EIO is how MicroPython's rp2 port and some Linux adapters report a NACK, ENXIO how
    i2c-gpio does: the same condition as EREMOTEIO, with the errno in the code."""
    wiring = Wiring(lambda sim: sim.buses["station"].nack(0x49, errno=errno))
    err = build_failing(tmp_path, wiring)
    assert (err.part, err.address, err.errno, err.code) == ("pads", 0x49, errno, code)
    assert str(err).startswith("force pads: the ADS1115 at 0x49 on sim-station-bus does not answer")


def test_hardware_a_glove_imu_missing_at_start_is_named_with_its_channel(tmp_path: Path) -> None:
    def unplug_ring(sim: SimHandles) -> None:
        sim.chips.imus["ring"].unplug()

    wiring = Wiring(unplug_ring)
    err = build_failing(tmp_path, wiring)
    assert (err.part, err.address, err.channel, err.code) == ("glove", 0x6B, 1, "E-GLOVE-121")
    assert str(err).startswith(
        "glove: the LSM6DSOX ring IMU at 0x6B behind the mux at 0x70, channel 1, "
        "on sim-glove-bus does not answer"
    )
    assert wiring.lcd()[0] == "Glove problem."
    assert wiring.lcd()[-1].endswith("Code E-GLOVE-121")
    # the parts built before the glove were closed: every motor driver in standby
    assert wiring.sim is not None
    assert all(drv.regs[0x01] & 0x40 for drv in wiring.sim.chips.drvs)


def test_hardware_a_wrong_chip_at_a_motor_channel_is_named(tmp_path: Path) -> None:
    """A chip answers at 0x5A on channel 2 but is not a DRV2605/DRV2605L (DEVICE_ID 5):
    DeviceNotFound becomes a HardwareError with the driver's own hint; code ENODEV."""

    def swap(sim: SimHandles) -> None:
        from drivers.sim.drv2605l import SimDRV2605L

        sim.chips.haptic_mux.detach(2, 0x5A)
        sim.chips.haptic_mux.attach(2, 0x5A, SimDRV2605L(sim.world.clock, device_id=5))

    wiring = Wiring(swap)
    err = build_failing(tmp_path, wiring)
    assert (err.part, err.address, err.channel, err.errno) == ("motors", 0x5A, 2, None)
    assert err.code == "E-MOTOR-019"
    assert str(err).startswith(
        "vibration motors: the DRV2605L at 0x5A behind the mux at 0x70, channel 2, "
        "on sim-station-bus is not the chip expected: DRV2605L not found"
    )
    assert "Check motor 2's DRV2605L board" in str(err)
    assert wiring.lcd()[-1].endswith("Code E-MOTOR-019")


def test_hardware_a_missing_lcd_fails_first_and_touches_nothing_else(tmp_path: Path) -> None:
    wiring = Wiring(lambda sim: sim.buses["lcd"].detach(0x27))
    err = build_failing(tmp_path, wiring)
    assert (err.part, err.address, err.code) == ("lcd", 0x27, "E-LCD-121")
    assert str(err).startswith("LCD: the PCF8574 LCD backpack at 0x27 on sim-lcd-bus does not")
    assert "lcd.address (0x27 for a PCF8574 backpack, 0x3F for a PCF8574A)" in str(err)
    assert wiring.sim is not None
    assert wiring.sim.buses["station"].stats.transactions == 0  # the LCD is built first
    assert wiring.sim.buses["glove"].stats.transactions == 0
