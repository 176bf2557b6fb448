"""The composition root: the station the config describes, real parts refused clearly
where the machine has none, the simulated station wired per config."""

from __future__ import annotations

from pathlib import Path

import pytest

from station import config, hardware


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


def test_hardware_real_station_without_i2c_says_which_bus(tmp_path: Path) -> None:
    cfg = sim_config(buses={"station_bus": 29})  # no /dev/i2c-29 on a test machine
    with pytest.raises(hardware.HardwareError, match=r"/dev/i2c-29 for the station bus"):
        hardware.build(cfg, sim=False, data_dir=tmp_path)
