"""Haptics against the simulated motors: calibrated levels arrive within 1 dB, caps hold
whatever the command, plan or calibration (property test), dose, motors off on every path."""

from __future__ import annotations

import errno
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stations import calibrate, sim_station

from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock
from sensors.calibration import CalibrationError, motor_record
from sensors.dose import DoseTotals
from sensors.faults import MotorFault
from sensors.haptics import Haptics, Stimulus, VibrationCapReached, VibrationCaps
from sensors.pwm_motor import PwmMotor
from station.parts import Station
from station.sim.handles import SimHandles

CAPS = VibrationCaps(max_vibration_g=3.0, daily_vibration_min=30.0)


def motors_station(
    data_dir: Path, actuator: str = "erm", max_vibration_g: float = CAPS.max_vibration_g
) -> Station[SimHandles]:
    """The motors alone; the station's caps from the config's safety section."""
    safety = {"max_vibration_g": max_vibration_g, "daily_vibration_min": CAPS.daily_vibration_min}
    return sim_station(
        data_dir, fitted=["haptics"], seed=11, haptics={"actuator": actuator}, safety=safety
    )


def calibrated(
    data_dir: Path, actuator: str = "erm", max_vibration_g: float = CAPS.max_vibration_g
) -> Station[SimHandles]:
    station = motors_station(data_dir, actuator, max_vibration_g)
    calibrate(station, motors=[0, 1])
    return station


def play_and_measure(
    station: Station[SimHandles], motor: int, stimulus: Stimulus, at_s: float
) -> tuple:
    """Play ``stimulus``; the vibration at the site ``at_s`` into it, from the world."""
    assert station.haptics is not None
    t0 = station.clock.now()
    seen: list[tuple[float, float]] = []

    def look() -> bool:
        if not seen and station.clock.now() - t0 >= at_s:
            seen.append(station.sim.world.motors[motor].vibration_at(station.clock.now()))
        return False

    result = station.haptics.play(motor, stimulus, until=look)
    return result, seen[0]


@pytest.mark.parametrize("actuator", ["erm", "lra"])
@pytest.mark.parametrize("level_db", [-12.0, -6.0, 0.0, 2.0])
def test_haptics_commanded_level_arrives_within_1_db(
    tmp_path: Path, actuator: str, level_db: float
) -> None:
    station = calibrated(tmp_path, actuator)
    result, (amp_g, freq_hz) = play_and_measure(station, 1, Stimulus(0.6, level_db), 0.4)
    wanted_g = 1.0 * 10 ** (level_db / 20)  # reference_g = 1 g at 0 dB
    assert abs(20 * math.log10(result.amplitude_g / wanted_g)) < 0.3  # RTP steps of 1/127
    assert abs(20 * math.log10(amp_g / wanted_g)) <= 1.0
    assert freq_hz == pytest.approx(result.frequency_hz, rel=0.1)
    assert station.sim.world.motors[1].vibration_at(station.clock.now() + 0.3) == (0.0, 0.0)


def test_haptics_erm_gives_a_frequency_or_an_amplitude_not_both(tmp_path: Path) -> None:
    station = calibrated(tmp_path, "erm")
    assert station.haptics is not None
    result, (_, freq_hz) = play_and_measure(
        station, 0, Stimulus(0.5, None, frequency_hz=150.0), 0.4
    )
    assert freq_hz == pytest.approx(150.0, rel=0.05)
    assert result.frequency_hz == pytest.approx(150.0, rel=0.05)
    with pytest.raises(ValueError, match="couples frequency and amplitude"):
        station.haptics.play(0, Stimulus(0.5, -6.0, frequency_hz=150.0))
    with pytest.raises(ValueError, match="cannot vibrate at 900"):
        station.haptics.play(0, Stimulus(0.5, None, frequency_hz=900.0))


def test_haptics_lra_runs_at_its_resonance_only(tmp_path: Path) -> None:
    station = calibrated(tmp_path, "lra")
    assert station.haptics is not None
    resonance = station.sim.world.motors[0].resonance_hz
    result = station.haptics.play(0, Stimulus(0.2, -6.0, frequency_hz=resonance))
    assert result.frequency_hz == pytest.approx(resonance, rel=0.02)
    with pytest.raises(ValueError, match="LRA at"):
        station.haptics.play(0, Stimulus(0.2, -6.0, frequency_hz=80.0))


def test_haptics_level_above_the_cap_is_clamped_at_the_site(tmp_path: Path) -> None:
    station = calibrated(tmp_path, "erm", max_vibration_g=1.0)
    result, (amp_g, _) = play_and_measure(station, 0, Stimulus(0.6, 20.0), 0.4)
    assert result.capped
    assert amp_g <= 1.0
    assert result.amplitude_g <= 1.0 / 10 ** (1.0 / 20) + 1e-9  # cap less the 1 dB tolerance


def test_haptics_calibration_sweep_stops_below_the_cap(tmp_path: Path) -> None:
    station = motors_station(tmp_path, max_vibration_g=0.8)
    record = calibrate(station, motors=[0])["motor0"]
    assert max(record.coefficients["amplitude_g"]) < 0.8
    assert station.sim.chips.drvs[0].drive_at(station.clock.now()) == 0.0


def test_haptics_plan_caps_can_only_lower_the_station_caps(tmp_path: Path) -> None:
    station = calibrated(tmp_path)
    assert station.haptics is not None
    plan = SimpleNamespace(max_vibration_g=10.0, daily_vibration_min=600.0, max_force_n=5.0)
    assert station.haptics.set_plan_caps(plan) == CAPS
    lower = station.haptics.set_plan_caps({"max_vibration_g": 0.5, "daily_vibration_min": 5.0})
    assert lower == VibrationCaps(0.5, 5.0)
    with pytest.raises(ValueError, match="numbers >= 0"):
        station.haptics.set_plan_caps({"max_vibration_g": math.nan, "daily_vibration_min": 60.0})
    assert station.haptics.caps == lower


def test_haptics_daily_minutes_shorten_then_refuse(tmp_path: Path) -> None:
    station = calibrated(tmp_path)
    assert station.haptics is not None
    # 2.02 s a day: below the floor of the station's own cap (safety.daily_vibration_min),
    # so a plan lowers it, as plans do
    daily = VibrationCaps(3.0, 2.02 / 60)
    assert station.haptics.set_plan_caps(daily) == daily
    station.haptics.ledger.begin_session()
    assert not station.haptics.play(0, Stimulus(2.0, -6.0)).shortened
    # 20 ms left, shorter than one playing step: the motor write that starts it takes wire
    # time on the simulated bus, and none of that may be added to the day's dose
    second = station.haptics.play(0, Stimulus(2.0, -6.0))
    assert second.shortened and 0.0199 <= second.played_s <= 0.02 + 1e-9
    with pytest.raises(VibrationCapReached):
        station.haptics.play(0, Stimulus(2.0, -6.0))
    assert 2.0199 <= station.haptics.ledger.vibration_s_today() <= 2.02 + 1e-9


def test_haptics_dose_is_recorded_per_session(tmp_path: Path) -> None:
    station = calibrated(tmp_path)
    assert station.haptics is not None
    station.haptics.ledger.begin_session()
    result = station.haptics.play(0, Stimulus(1.0, 0.0))
    expected = DoseTotals()
    expected.add(result.amplitude_g, result.frequency_hz, 1.0)
    session = station.haptics.ledger.session
    assert session.vibration_s == pytest.approx(1.0, abs=0.02)
    assert session.a8_ms2 == pytest.approx(expected.a8_ms2, rel=0.02)


def test_haptics_motors_are_off_after_a_bus_error_mid_stimulus(tmp_path: Path) -> None:
    station = calibrated(tmp_path)
    assert station.haptics is not None
    station.haptics.motors[2].set_realtime(0.5)  # type: ignore[attr-defined]
    station.sim.buses["station"].fail_nth(4, errno=5, address=0x5A)
    with pytest.raises(MotorFault) as exc:
        station.haptics.play(0, Stimulus(1.0, 0.0, ramp_s=0.3))
    assert exc.value.motor == 0 and exc.value.errno == 5
    now = station.clock.now()
    assert all(chip.drive_at(now) == 0.0 for chip in station.sim.chips.drvs)


def test_haptics_running_is_true_until_a_stop_is_known_to_have_landed(tmp_path: Path) -> None:
    """What the watchdog arms itself on: a motor counts as running while driven, and after
    a stop that did not reach it, until a later stop does."""
    station = calibrated(tmp_path)
    haptics = station.haptics
    assert haptics is not None
    assert not haptics.running()
    during: list[bool] = []
    haptics.play(0, Stimulus(0.2, 0.0), until=lambda: during.append(haptics.running()) or False)
    # asked before the first write (not yet running), then at every step while it runs
    assert len(during) > 2 and not during[0] and all(during[1:]) and not haptics.running()
    haptics.drive_raw(2, 0.4)
    assert haptics.running()
    station.sim.buses["station"].nack(0x5A, times=1)  # the stop of motor 0 does not land
    with pytest.raises(MotorFault):
        haptics.stop_all()
    assert haptics.running()
    assert station.sim.chips.drvs[2].drive_at(station.clock.now()) == 0.0  # the others were stopped
    haptics.stop_all()  # the bus is back
    assert not haptics.running()


class _AllCall(SimChip):
    """Another part answering the motor mux's address (a PCA9685's ALL_CALL is 0x70): the
    mux's read-back is wired-AND with its 0x00, so no selection reads back as written."""

    def read(self, n: int) -> bytes:
        return bytes(n)


def test_haptics_stop_all_tries_every_motor_when_the_mux_selection_does_not_hold(
    tmp_path: Path,
) -> None:
    station = calibrated(tmp_path)
    haptics = station.haptics
    assert haptics is not None
    for motor in range(4):
        haptics.drive_raw(motor, 0.6)
    intruder = station.sim.buses["station"].attach(0x70, _AllCall())
    station.sim.buses["station"].reset_stats()
    with pytest.raises(MotorFault) as exc:
        haptics.stop_all()
    assert exc.value.motor == 0 and exc.value.errno == errno.EIO
    assert haptics.running()  # no stop is known to have landed: the watchdog stays armed
    # every motor was tried: each selection was written (and read back wrong) once
    selects = [t for t in station.sim.buses["station"].log if t.segments[0].address == 0x70]
    assert {t.segments[0].data for t in selects if t.segments[0].kind == "W"} == {
        bytes([1 << motor]) for motor in range(4)
    }
    station.sim.buses["station"].detach(0x70, intruder)
    haptics.stop_all()  # the bus is clean again
    assert not haptics.running()
    assert all(chip.drive_at(station.clock.now()) == 0.0 for chip in station.sim.chips.drvs)


def test_haptics_motors_are_off_when_the_session_stops_mid_stimulus(tmp_path: Path) -> None:
    station = calibrated(tmp_path)
    assert station.haptics is not None

    def stop_button() -> bool:
        if station.clock.now() > 0.2 + t0:
            raise KeyboardInterrupt
        return False

    t0 = station.clock.now()
    with pytest.raises(KeyboardInterrupt):
        station.haptics.play(1, Stimulus(2.0, 0.0), until=stop_button)
    assert station.sim.chips.drvs[1].drive_at(station.clock.now()) == 0.0
    assert station.haptics.ledger.vibration_s_today() == pytest.approx(0.2, abs=0.06)


class SessionStopped(Exception):
    """Stands for what ends a session from outside (Stop button, SIGTERM)."""


@pytest.mark.parametrize("stop", [SessionStopped, KeyboardInterrupt])
def test_haptics_a_motor_bus_failing_during_cleanup_does_not_hide_what_stopped_the_play(
    tmp_path: Path, stop: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    station = calibrated(tmp_path)
    haptics = station.haptics
    assert haptics is not None
    t0 = station.clock.now()

    def stop_button() -> bool:
        if station.clock.now() > t0 + 0.2:
            station.sim.buses["station"].nack(
                0x70
            )  # the motor mux stops answering as the stop comes
            raise stop("stop pressed")
        return False

    with pytest.raises(stop, match="stop pressed") as exc:
        haptics.play(1, Stimulus(2.0, 0.0), until=stop_button)
    assert any("motor" in note and "errno 121" in note for note in exc.value.__notes__)
    faults = [r for r in caplog.records if r.levelname == "ERROR" and "motor_fault" in r.message]
    assert faults and "stop pressed" in faults[0].message
    assert haptics.running()  # no stop landed: the watchdog stays armed
    assert haptics.ledger.vibration_s_today() == pytest.approx(0.2, abs=0.06)
    station.sim.buses["station"].clear_faults()
    haptics.stop_all()
    assert not haptics.running()
    assert all(chip.drive_at(station.clock.now()) == 0.0 for chip in station.sim.chips.drvs)


def test_haptics_stop_all_ends_a_play_in_progress_that_has_no_until(tmp_path: Path) -> None:
    """Stop and the watchdog call stop_all from elsewhere: a running play() must not turn
    its motor back on at its next step."""
    station = calibrated(tmp_path)
    assert station.haptics is not None
    t0 = station.clock.now()
    station.clock.call_later(0.3, station.haptics.stop_all, "stop-button")
    result = station.haptics.play(1, Stimulus(3.0, 0.0))
    assert result.stopped_early
    assert station.clock.now() - t0 == pytest.approx(0.3, abs=0.06)
    for dt in (0.0, 0.5, 2.0):
        station.clock.sleep(dt)
        assert station.sim.chips.drvs[1].drive_at(station.clock.now()) == 0.0
    assert station.haptics.ledger.vibration_s_today() == pytest.approx(0.3, abs=0.06)


def test_haptics_close_turns_every_motor_off_and_is_idempotent(tmp_path: Path) -> None:
    station = calibrated(tmp_path)
    assert station.haptics is not None
    for motor in station.haptics.motors:
        motor.set_realtime(0.7)
    station.haptics.close()
    station.haptics.close()
    assert all(chip.drive_at(station.clock.now()) == 0.0 for chip in station.sim.chips.drvs)
    assert all(chip.standby for chip in station.sim.chips.drvs)
    with pytest.raises(RuntimeError, match="closed"):
        station.haptics.play(0, Stimulus(0.1))


def test_haptics_uncalibrated_motor_does_not_vibrate(tmp_path: Path) -> None:
    station = motors_station(tmp_path)
    assert station.haptics is not None
    with pytest.raises(CalibrationError, match="motor 3 is not calibrated"):
        station.haptics.play(3, Stimulus(0.5, 0.0))
    assert station.sim.chips.drvs[3].history[-1][1] == 0.0


def test_haptics_pwm_fallback_has_the_same_interface() -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        motors = [PwmMotor(12, factory), PwmMotor(13, factory)]
        clock = SimClock()
        haptics = Haptics(motors, clock, CAPS)
        haptics.init()
        record = motor_record("motor0", [0.2, 0.6, 1.0], [0.1, 1.0, 2.0], [40, 130, 220])
        haptics.set_calibration(0, record)
        pin = factory.pin(12)
        seen: list[float] = []

        def look() -> bool:
            seen.append(pin.state)
            return False

        haptics.play(0, Stimulus(0.1, 0.0), until=look)
        assert seen[-1] == pytest.approx(0.6, abs=0.01)
        assert pin.state == 0
        motors[1].set_realtime(0.4)
        haptics.close()
        assert factory.pin(13).state == 0
        with pytest.raises(ValueError, match="ERM only"):
            PwmMotor(18, factory).init(actuator="lra")
    finally:
        factory.reset()


# -- the cap property ----------------------------------------------------------------------


class RecordingMotor:
    """A motor port that records every drive it is given (DRV2605L RTP quantisation)."""

    drive_steps = 127

    def __init__(self) -> None:
        self.drives: list[float] = [0.0]

    def set_realtime(self, amplitude: float) -> None:
        assert 0.0 <= amplitude <= 1.0
        self.drives.append(amplitude)

    def stop(self) -> None:
        self.drives.append(0.0)

    def close(self) -> None:
        self.drives.append(0.0)


tables = st.lists(
    st.tuples(st.floats(0.01, 1.0), st.floats(0.001, 8.0), st.floats(1.0, 300.0)),
    min_size=1,
    max_size=8,
)
commands = st.lists(
    st.tuples(st.floats(-60.0, 60.0), st.floats(0.01, 0.3), st.floats(0.0, 0.5), st.booleans()),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    station_g=st.floats(0.1, 10.0),
    station_min=st.floats(0.01, 120.0),
    plan_g=st.floats(0.0, 50.0) | st.just(math.nan),
    plan_min=st.floats(0.0, 600.0),
    table=tables,
    reference_g=st.floats(0.01, 5.0),
    tolerance_db=st.floats(0.0, 3.0),
    cmds=commands,
)
def test_haptics_no_command_plan_or_calibration_exceeds_the_caps(
    station_g: float,
    station_min: float,
    plan_g: float,
    plan_min: float,
    table: list[tuple[float, float, float]],
    reference_g: float,
    tolerance_db: float,
    cmds: list[tuple[float, float, float, bool]],
) -> None:
    try:
        d, a, f = zip(*table, strict=True)
        record = motor_record("motor0", d, a, f, reference_g, "erm", tolerance_db)
    except CalibrationError:
        return  # a calibration that cannot be inverted is refused, so nothing plays
    motor = RecordingMotor()
    haptics = Haptics([motor], SimClock(), VibrationCaps(station_g, station_min))
    haptics.set_calibration(0, record)
    try:
        haptics.set_plan_caps(SimpleNamespace(max_vibration_g=plan_g, daily_vibration_min=plan_min))
    except ValueError:
        assert math.isnan(plan_g)  # refused: the station's caps stay in force
    caps = haptics.caps
    curve = haptics.curves[0]
    for level_db, duration, ramp_frac, by_frequency in cmds:
        stimulus = Stimulus(
            duration,
            None if by_frequency else level_db,
            f[0] if by_frequency else None,
            ramp_frac * duration,
        )
        try:
            haptics.play(0, stimulus)
        except (VibrationCapReached, ValueError):
            pass
    limit = min(station_g, caps.max_vibration_g) / 10 ** (tolerance_db / 20)
    for drive in motor.drives:
        assert curve.g_for_drive(drive) <= limit + 1e-9
        assert curve.g_for_drive(drive) <= station_g
    assert motor.drives[-1] == 0.0
    assert haptics.ledger.vibration_s_today() <= caps.daily_vibration_min * 60 + 1e-6
    assert caps.daily_vibration_min <= station_min
