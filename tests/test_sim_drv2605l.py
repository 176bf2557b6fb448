"""The simulated DRV2605L against the datasheet facts of HARDWARE.md §7 and §12."""

from __future__ import annotations

import pytest

from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.sim.drv2605l import (
    AUTO_CAL_TIME_S,
    CAL_RESULTS,
    DIAG_TIME_S,
    EFFECTS,
    HISTORY_SIZE,
    RESET_TIME_S,
    SimDRV2605L,
)

ADDR = 0x5A

#: HARDWARE.md §7.1 reset values 0x00..0x22 (LIBRARY_SEL 0x01, CONTROL2 0xF5: see the module).
RESET_MAP = bytes.fromhex(
    "e0 40 00 01 01 00 00 00 00 00 00 00 00 00 00 00 00"  # 0x00..0x10
    "05 19 ff 19 ff 3e 8c 0c 6c 36 93 f5 a0 20 80 33 96 00"  # 0x11..0x22
)


@pytest.fixture
def chip(clock: SimClock, bus: SimI2CBus) -> SimDRV2605L:
    return bus.attach(ADDR, SimDRV2605L(clock))  # type: ignore[return-value]


def wr(bus: SimI2CBus, reg: int, *values: int) -> None:
    bus.writeto_mem(ADDR, reg, bytes(values))


def rd(bus: SimI2CBus, reg: int, n: int = 1) -> bytes:
    buf = bytearray(n)
    bus.readfrom_mem_into(ADDR, reg, buf)
    return bytes(buf)


def start_sequence(bus: SimI2CBus, *codes: int) -> None:
    wr(bus, 0x01, 0x00)
    wr(bus, 0x04, *codes, 0x00)
    wr(bus, 0x0C, 0x01)


def test_sim_drv2605l_reset_values_match_the_register_map(bus: SimI2CBus, chip) -> None:
    assert rd(bus, 0x00, len(RESET_MAP)) == RESET_MAP
    assert chip.standby and chip.mode == 0


def test_sim_drv2605l_status_reports_drv2605_id(clock: SimClock, bus: SimI2CBus) -> None:
    bus.attach(ADDR, SimDRV2605L(clock, device_id=3))
    assert rd(bus, 0x00) == b"\x60"


def test_sim_drv2605l_rejects_impossible_device_id(clock: SimClock) -> None:
    with pytest.raises(ValueError, match=r"0\.\.7"):
        SimDRV2605L(clock, device_id=8)


def test_sim_drv2605l_pointer_auto_increments_on_write(bus: SimI2CBus, chip) -> None:
    wr(bus, 0x0D, 1, 2, 3, 4)
    assert rd(bus, 0x0D, 4) == b"\x01\x02\x03\x04"


def test_sim_drv2605l_status_is_read_only(bus: SimI2CBus, chip) -> None:
    wr(bus, 0x00, 0x00)
    assert rd(bus, 0x00) == b"\xe0"


def test_sim_drv2605l_dev_reset_restores_defaults_and_self_clears(
    clock: SimClock, bus: SimI2CBus, chip
) -> None:
    wr(bus, 0x01, 0x05)
    wr(bus, 0x02, 0x55)
    wr(bus, 0x16, 0x80)
    wr(bus, 0x01, 0x80)
    assert rd(bus, 0x01) == b"\xc0"
    wr(bus, 0x02, 0x11)  # ignored while resetting
    assert rd(bus, 0x02) == b"\x00"
    clock.sleep(RESET_TIME_S)
    assert rd(bus, 0x00, len(RESET_MAP)) == RESET_MAP


def test_sim_drv2605l_go_self_clears_after_effects_and_waits(
    clock: SimClock, bus: SimI2CBus, chip
) -> None:
    start_sequence(bus, 1, 0x85, 14)  # strong click, wait 50 ms, strong buzz
    t0 = chip.history[-1][0]
    duration = EFFECTS[1][0] + 0.050 + EFFECTS[14][0]
    clock.run_until(t0 + duration - 0.001)
    assert rd(bus, 0x0C) == b"\x01"
    clock.run_until(t0 + duration)
    assert rd(bus, 0x0C) == b"\x00"


def test_sim_drv2605l_sequence_envelope_is_observable(clock: SimClock, bus: SimI2CBus, chip):
    start_sequence(bus, 2, 0x8A, 82)  # strong click 60 %, wait 100 ms, ramp up 0 -> 100 %
    t0 = chip.history[-1][0]
    click, ramp = EFFECTS[2][0], EFFECTS[82][0]
    clock.sleep(2.0)
    assert chip.drive_at(t0 + click / 2) == pytest.approx(0.6)
    assert chip.drive_at(t0 + click + 0.05) == 0.0
    assert chip.drive_at(t0 + click + 0.1 + ramp / 2) == pytest.approx(0.5)
    assert chip.drive_at(t0 + click + 0.1 + ramp + 0.01) == 0.0
    levels = [round(lv, 3) for _, lv in chip.history]
    assert levels[:3] == [0.0, 0.6, 0.0]
    rising = levels[3:-1]
    assert rising == sorted(rising) and rising[0] < 0.05 and rising[-1] > 0.95
    assert levels[-1] == 0.0


def test_sim_drv2605l_writing_go_zero_cancels(clock: SimClock, bus: SimI2CBus, chip) -> None:
    start_sequence(bus, 118)  # long buzz for programmatic stopping
    clock.sleep(0.1)
    assert chip.drive_at(clock.now()) == 1.0
    wr(bus, 0x0C, 0x00)
    assert not chip.go
    assert chip.drive_at(clock.now()) == 0.0
    assert chip.drive_at(clock.now() - 0.05) == 1.0  # the past stays as it was


def test_sim_drv2605l_mode_change_cancels_sequence(clock: SimClock, bus: SimI2CBus, chip):
    start_sequence(bus, 118)
    wr(bus, 0x01, 0x05)
    assert not chip.go


def test_sim_drv2605l_go_is_ignored_in_standby(clock: SimClock, bus: SimI2CBus, chip) -> None:
    wr(bus, 0x04, 14, 0)
    wr(bus, 0x0C, 0x01)  # MODE is still 0x40
    assert rd(bus, 0x0C) == b"\x00"
    assert chip.drive_at(clock.now()) == 0.0


def test_sim_drv2605l_en_low_acks_but_ignores_writes(clock: SimClock, bus: SimI2CBus, chip):
    chip.enable_pin = False
    wr(bus, 0x01, 0x05)  # ACKed: no OSError
    wr(bus, 0x02, 0x7F)
    assert rd(bus, 0x00) == b"\xff"
    chip.enable_pin = True
    assert rd(bus, 0x01, 2) == b"\x40\x00"


def test_sim_drv2605l_en_low_turns_the_output_off(clock: SimClock, bus: SimI2CBus, chip) -> None:
    wr(bus, 0x02, 0x7F)
    wr(bus, 0x01, 0x05)
    chip.enable_pin = False
    assert chip.drive_at(clock.now()) == 0.0


@pytest.mark.parametrize(
    ("code", "window_s"), [(0, (0.15, 0.35)), (1, (0.25, 0.45)), (2, (0.5, 0.7)), (3, (1.0, 1.2))]
)
def test_sim_drv2605l_auto_calibration_takes_auto_cal_time(
    clock: SimClock, bus: SimI2CBus, chip, code: int, window_s: tuple[float, float]
) -> None:
    wr(bus, 0x1E, code << 4)
    wr(bus, 0x01, 0x07)
    wr(bus, 0x0C, 0x01)
    t0 = chip.history[-1][0]
    assert window_s[0] <= AUTO_CAL_TIME_S[code] <= window_s[1]
    clock.run_until(t0 + window_s[0])
    assert chip.go and chip.drive_at(clock.now()) == 1.0
    clock.run_until(t0 + window_s[1])
    assert not chip.go


@pytest.mark.parametrize(("feedback", "kind"), [(0x36, "erm"), (0xB4, "lra")])
def test_sim_drv2605l_auto_calibration_writes_results(
    clock: SimClock, bus: SimI2CBus, chip, feedback: int, kind: str
) -> None:
    wr(bus, 0x1A, feedback)
    wr(bus, 0x01, 0x07)
    wr(bus, 0x0C, 0x01)
    clock.sleep(1.0)
    comp, bemf, gain = CAL_RESULTS[kind]
    assert rd(bus, 0x18, 3) == bytes([comp, bemf, (feedback & 0xFC) | gain])
    assert rd(bus, 0x00) == b"\xe0"


@pytest.mark.parametrize("fault", ["open", "short", "no-convergence"])
def test_sim_drv2605l_auto_calibration_failure_sets_diag_result(
    clock: SimClock, bus: SimI2CBus, chip, fault: str
) -> None:
    if fault == "no-convergence":
        chip.calibration_converges = False
    else:
        chip.inject_actuator_fault(fault)
    wr(bus, 0x01, 0x07)
    wr(bus, 0x0C, 0x01)
    clock.sleep(1.0)
    assert rd(bus, 0x00)[0] & 0x08
    assert rd(bus, 0x18, 2) == b"\x0c\x6c"  # results untouched


def test_sim_drv2605l_diag_result_clears_on_read(clock: SimClock, bus: SimI2CBus, chip) -> None:
    chip.inject_actuator_fault("open")
    wr(bus, 0x01, 0x06)
    wr(bus, 0x0C, 0x01)
    clock.sleep(DIAG_TIME_S)
    assert rd(bus, 0x00) == b"\xe8"
    assert rd(bus, 0x00) == b"\xe0"


@pytest.mark.parametrize(("fault", "failed"), [(None, False), ("open", True), ("short", True)])
def test_sim_drv2605l_diagnostics_report_actuator(
    clock: SimClock, bus: SimI2CBus, chip, fault: str | None, failed: bool
) -> None:
    chip.inject_actuator_fault(fault)
    wr(bus, 0x01, 0x06)
    wr(bus, 0x0C, 0x01)
    clock.sleep(DIAG_TIME_S - 0.001)
    assert chip.go
    clock.sleep(0.001)
    assert not chip.go
    assert bool(rd(bus, 0x00)[0] & 0x08) is failed


def test_sim_drv2605l_rejects_unknown_actuator_fault(chip) -> None:
    with pytest.raises(ValueError, match="open"):
        chip.inject_actuator_fault("melted")


def test_sim_drv2605l_over_temp_shuts_down_and_latches_until_read(
    clock: SimClock, bus: SimI2CBus, chip
) -> None:
    wr(bus, 0x02, 0x7F)
    wr(bus, 0x01, 0x05)
    chip.inject_over_temp()
    assert chip.drive_at(clock.now()) == 0.0
    assert rd(bus, 0x00) == b"\xe2"  # still hot: stays set after the read
    chip.inject_over_temp(False)
    assert chip.drive_at(clock.now()) == 1.0
    assert rd(bus, 0x00) == b"\xe2"  # latched
    assert rd(bus, 0x00) == b"\xe0"  # cleared by the read


def test_sim_drv2605l_over_current_latches_until_dev_reset(
    clock: SimClock, bus: SimI2CBus, chip
) -> None:
    chip.inject_over_current()
    chip.inject_over_current(False)
    assert rd(bus, 0x00) == b"\xe1"
    assert rd(bus, 0x00) == b"\xe1"
    wr(bus, 0x01, 0x80)
    clock.sleep(RESET_TIME_S)
    assert rd(bus, 0x00) == b"\xe0"


def test_sim_drv2605l_shorted_actuator_trips_over_current_when_driven(
    clock: SimClock, bus: SimI2CBus, chip
) -> None:
    chip.inject_actuator_fault("short")
    wr(bus, 0x01, 0x05)  # RTP 0: nothing driven yet
    assert rd(bus, 0x00) == b"\xe0"
    wr(bus, 0x02, 0x40)
    assert rd(bus, 0x00) == b"\xe1"
    assert chip.drive_at(clock.now()) == 0.0


def test_sim_drv2605l_open_actuator_gets_no_drive(clock: SimClock, bus: SimI2CBus) -> None:
    chip = bus.attach(ADDR, SimDRV2605L(clock, actuator_ok=False))
    wr(bus, 0x02, 0x7F)
    wr(bus, 0x01, 0x05)
    assert chip.drive_at(clock.now()) == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("control3", "control2", "feedback", "raw", "level"),
    [
        (0xA0, 0xF5, 0x36, 0x7F, 1.0),  # signed, ERM open loop
        (0xA0, 0xF5, 0x36, 0x40, 64 / 127),
        (0xA0, 0xF5, 0x36, 0x80, 1.0),  # signed full negative: an open-loop ERM still spins
        (0x80, 0xF5, 0x36, 0x80, 0.0),  # closed-loop ERM: negative is braking, no drive
        (0xA8, 0xF5, 0x36, 0x80, 0.0),  # unsigned bidirectional: 0x80 is zero
        (0xA8, 0xF5, 0x36, 0x00, 1.0),  # ... and 0x00 full reverse drive in open loop
        (0x88, 0x75, 0xB6, 0xFF, 1.0),  # unsigned unidirectional, LRA closed loop
        (0x88, 0x75, 0xB6, 0x00, 0.0),
    ],
)
def test_sim_drv2605l_rtp_level_follows_format_registers(
    clock: SimClock, bus: SimI2CBus, chip, control3, control2, feedback, raw, level
) -> None:
    wr(bus, 0x1A, feedback)
    wr(bus, 0x1C, control2)
    wr(bus, 0x1D, control3)
    wr(bus, 0x02, raw)
    wr(bus, 0x01, 0x05)
    assert chip.drive_at(clock.now()) == pytest.approx(level)


def test_sim_drv2605l_rtp_history_records_change_points(clock: SimClock, bus: SimI2CBus, chip):
    wr(bus, 0x02, 0x7F)
    t_on = clock.now()  # the MODE write below starts now; the drive changes at its start
    wr(bus, 0x01, 0x05)
    clock.sleep(0.5)
    wr(bus, 0x02, 0x7F)  # same value: no new point
    t_off = clock.now()
    wr(bus, 0x01, 0x40)
    assert [lv for _, lv in chip.history] == [0.0, 1.0, 0.0]
    assert chip.history[1][0] == pytest.approx(t_on) and chip.history[2][0] == pytest.approx(t_off)


def test_sim_drv2605l_history_is_bounded(clock: SimClock, bus: SimI2CBus, chip) -> None:
    wr(bus, 0x01, 0x05)
    for i in range(HISTORY_SIZE + 10):
        wr(bus, 0x02, 1 + i % 2)
    assert len(chip.history) == HISTORY_SIZE


def test_sim_drv2605l_unplugged_nacks_but_keeps_driving(clock: SimClock, bus: SimI2CBus, chip):
    wr(bus, 0x02, 0x7F)
    wr(bus, 0x01, 0x05)
    chip.unplug()
    with pytest.raises(OSError) as err:
        wr(bus, 0x02, 0x00)
    assert err.value.errno == 121
    assert chip.drive_at(clock.now()) == 1.0


def test_sim_drv2605l_power_cycle_restores_reset_state(clock: SimClock, bus: SimI2CBus, chip):
    wr(bus, 0x02, 0x7F)
    wr(bus, 0x01, 0x05)
    chip.power_cycle()
    assert rd(bus, 0x00, len(RESET_MAP)) == RESET_MAP
    assert chip.drive_at(clock.now()) == 0.0


def test_sim_drv2605l_stuck_go_never_clears(clock: SimClock, bus: SimI2CBus, chip) -> None:
    chip.inject_go_stuck()
    wr(bus, 0x01, 0x06)
    wr(bus, 0x0C, 0x01)
    clock.sleep(10.0)
    assert chip.go
    wr(bus, 0x0C, 0x00)
    assert not chip.go
