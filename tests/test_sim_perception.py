"""The virtual patient's senses act through the physical channels only: it feels what the
simulated motors under its fingertips do and the groove widths of the pads it touches, and
answers the sensory screens (ui_lcd/messages.py "sense.*") with a known psychometric truth.

Each test runs a real World and SimClock, gpiozero mock pins for the buttons, an LCD text
source the test controls, and motors driven by a drive function (``world.connect_motor``),
playing the part of a protocol with the screens' texts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPin
from stations import sim_config, sim_station

from drivers.sim.clock import SimClock
from station.adaptive.psychometric import rising_part
from station.sim.patient import NUMB_SITE, VirtualPatient, profile, with_site_offsets
from station.sim.perception import Scale, weibull
from station.sim.world import World
from ui_lcd.keys import KEYS

INTERVAL_S = 1.0  # a "Buzz k of 2" screen
STIM_AT_S, STIM_S = 0.15, 0.4  # the stimulus inside it: onset and duration
ANSWER_TIMEOUT_S = 12.0  # covers an inattentive patient's 8 s lapse
BAND_N = (0.3, 3.0)  # the protocols' contact-force band


class Screen:
    """The LCD text source: four rows the test sets."""

    def __init__(self) -> None:
        self.rows = ["", "", "", ""]

    def show(self, *rows: str) -> None:
        self.rows = [*rows, "", "", "", ""][:4]

    def __call__(self) -> list[str]:
        return list(self.rows)


@dataclass
class Drives:
    """Per-motor drive windows ``(t0, t1, drive 0..1)``: the stimuli a protocol plays."""

    windows: dict[int, list[tuple[float, float, float]]] = field(default_factory=dict)

    def add(self, motor: int, t0: float, duration_s: float, drive: float) -> None:
        kept = [w for w in self.windows.get(motor, []) if w[1] > t0 - 1.0]  # the recent ones
        self.windows[motor] = [*kept, (t0, t0 + duration_s, drive)]

    def fn(self, motor: int) -> Callable[[float], float]:
        def drive(t: float) -> float:
            return next((d for t0, t1, d in self.windows.get(motor, ()) if t0 <= t < t1), 0.0)

        return drive


@dataclass
class Rig:
    clock: SimClock
    world: World
    screen: Screen
    pins: dict[str, MockPin]
    patient: VirtualPatient
    drives: Drives

    def wait(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def show(self, seconds: float, *rows: str) -> None:
        self.screen.show(*rows)
        self.clock.sleep(seconds)

    def ask(self, *rows: str) -> str | None:
        """Show a question; the key the patient pressed (None: no press in time)."""
        for pin in self.pins.values():
            pin.clear_states()
        self.screen.show(*rows)
        end = self.clock.now() + ANSWER_TIMEOUT_S
        while self.clock.now() < end:
            self.clock.sleep(0.05)
            pressed = [k for k, pin in self.pins.items() if any(not s.state for s in pin.states)]
            if pressed:
                self.clock.sleep(0.8)  # let an "OK" after a yes/no land too
                return pressed[0]
        return None

    def drive_for_level(self, motor: int, level_db: float, strength: float = 1.0) -> float:
        """The drive giving ``level_db`` (dB re 1 g rms) at pad ``motor`` for a motor of
        nominal strength ``strength`` x its true one: what a station calibrated on that
        motor (before it weakened) would send."""
        m = self.world.motors[motor]
        amp = 10 ** (level_db / 20)
        if m.actuator == "lra":
            return amp / (m.max_amplitude_g * strength)
        x = math.sqrt(amp / (m.max_amplitude_g * strength))
        d0 = m.params.start_drive
        return d0 + x * (1 - d0)


def make_rig(
    name: str = "typical",
    seed: int = 1,
    actuator: str = "erm",
    texture_widths_mm: list[float] | None = None,
    day: float = 0.0,
    **abilities: Any,
) -> Rig:
    """A world with a patient of profile ``name`` (``abilities`` override it) on ``day``."""
    clock = SimClock()
    world = World(clock, seed=seed, actuator=actuator, texture_widths_mm=texture_widths_mm)
    drives = Drives()
    for i in range(len(world.motors)):
        world.connect_motor(i, drives.fn(i))
    factory = MockFactory()
    pins = {key: factory.pin(5 + i) for i, key in enumerate(KEYS)}
    for pin in pins.values():
        pin.function, pin.pull = "input", "up"  # as the station's buttons: pressed = low
    screen = Screen()
    patient = VirtualPatient(
        profile(name, **abilities), clock, screen, pins, world.pads, seed=seed, world=world, day=day
    )
    patient.start()
    return Rig(clock, world, screen, pins, patient, drives)


def place(r: Rig, pad: int) -> None:
    """The block's placement screen (LCD pad numbers are 1-based)."""
    ok = r.ask(f"Rest a fingertip on pad {pad + 1}.", "Press OK when ready.")
    assert ok == "ok"


def two_intervals(r: Rig, pad: int, drives: tuple[float, float], question: str) -> str | None:
    """One 2AFC vibration trial on ``pad``: drive per interval (0: none); the key pressed."""
    r.show(0.6, "Trial 1 of 1")
    for k, drive in enumerate(drives, start=1):
        if drive > 0:
            r.drives.add(pad, r.clock.now() + STIM_AT_S, STIM_S, drive)
        r.show(INTERVAL_S, f"Buzz {k} of 2", "Keep still and feel.")
        r.show(0.3, "")
    return r.ask(question, "", "", "< First  Second >")


def proportion_correct(r: Rig, pad: int, drive: float, n: int, rng: random.Random) -> float:
    correct = 0
    for _ in range(n):
        first = rng.random() < 0.5
        key = two_intervals(r, pad, (drive, 0.0) if first else (0.0, drive), "Which one buzzed?")
        correct += key == ("left" if first else "right")
    return correct / n


def expected_2afc(r: Rig, level_db: float, pad: int) -> float:
    """ψ for 2AFC with the patient's truth: a lapse answers at random, so λ = lapse / 2."""
    sense = r.patient.a.senses["vibration"]
    f = float(
        rising_part(
            level_db, r.patient.true_threshold("vibration", pad), sense.slope, "weibull", "dB"
        )
    )
    return 0.5 + 0.5 * (1 - r.patient.a.sensory_lapse) * f


def binomial_tolerance(p: float, n: int) -> float:
    return 3.0 * math.sqrt(p * (1 - p) / n) + 0.5 / n


# -- vibration detection ----------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["dB", "log10"])
def test_patient_weibull_is_the_adaptive_procedures_weibull(scale: Scale) -> None:
    xs = [-40.0, -25.0, -20.0, -18.5, -10.0, 0.0, 5.0, 300.0]
    for x in xs:
        want = float(rising_part(x, -20.0, 3.5, "weibull", scale))
        assert weibull(x, -20.0, 3.5, scale) == pytest.approx(want, abs=1e-12)


def test_patient_rests_a_fingertip_in_the_band_and_presses_ok() -> None:
    r = make_rig()
    place(r, 2)
    force = r.world.pads[2].force_at(r.clock.now())
    assert BAND_N[0] < force < BAND_N[1]
    assert all(r.world.pads[i].force_at(r.clock.now()) == 0.0 for i in (0, 1, 3))
    r.show(1.0, "Set done.", "9 of 10 correct. Thank you!")
    assert r.world.pads[2].force_at(r.clock.now()) == 0.0  # lifted at the block's end


def test_patient_detection_follows_the_psychometric_function() -> None:
    r = make_rig(seed=3)
    rng = random.Random(7)
    place(r, 0)
    n = 120
    for level in (-26.0, -20.0, -15.0):
        drive = r.drive_for_level(0, level)
        seen = proportion_correct(r, 0, drive, n, rng)
        want = expected_2afc(r, level, 0)
        assert seen == pytest.approx(want, abs=binomial_tolerance(want, n)), level


def test_patient_feels_a_weaker_motor_as_a_weaker_stimulus() -> None:
    """The same drive on a motor 3 dB weaker: felt 3 dB lower, detected less often."""
    rng = random.Random(11)
    n = 150
    results = {}
    for weaker in (False, True):
        r = make_rig(seed=5)
        drive = r.drive_for_level(0, -20.0)
        if weaker:
            r.world.motors[0].max_amplitude_g *= 10 ** (-3 / 20)
        place(r, 0)
        r.drives.add(0, r.clock.now() + STIM_AT_S, STIM_S, drive)
        r.show(INTERVAL_S, "Buzz 1 of 2", "Keep still and feel.")
        felt = r.patient.felt.strongest("1")
        assert felt is not None and felt[0] == 0
        results[weaker] = (felt[1].level_db, proportion_correct(r, 0, drive, n, rng))
    (strong_db, p_strong), (weak_db, p_weak) = results[False], results[True]
    assert strong_db == pytest.approx(-20.0, abs=0.05)
    assert strong_db - weak_db == pytest.approx(3.0, abs=0.01)
    # ψ(-20 dB) = 0.81 and ψ(-23 dB) = 0.63 for threshold -20 dB, slope 3.5, lapse 0.02.
    assert p_strong == pytest.approx(0.81, abs=binomial_tolerance(0.81, n))
    assert p_weak == pytest.approx(0.63, abs=binomial_tolerance(0.63, n))
    assert p_strong - p_weak > 0.1


def test_patient_lapses_make_answers_random() -> None:
    rng = random.Random(3)
    n = 100
    seen = {}
    for name in ("typical", "inattentive"):
        r = make_rig(name, seed=9)
        place(r, 1)
        seen[name] = proportion_correct(r, 1, r.drive_for_level(1, 0.0), n, rng)
    # 20 dB above threshold F = 1: ψ = 1 - lapse/2 (0.99 typical, 0.925 inattentive).
    assert seen["typical"] >= 0.96
    assert seen["inattentive"] == pytest.approx(0.925, abs=binomial_tolerance(0.925, n))
    assert seen["inattentive"] < seen["typical"]


def test_patient_with_no_finger_on_the_pad_feels_nothing() -> None:
    r = make_rig(seed=2)
    rng = random.Random(5)
    seen = proportion_correct(r, 0, r.drive_for_level(0, 0.0), 80, rng)  # never placed
    assert seen == pytest.approx(0.5, abs=binomial_tolerance(0.5, 80))


# -- discrimination ---------------------------------------------------------------------------


def test_patient_amplitude_answers_the_stronger_buzz() -> None:
    r = make_rig(seed=4, actuator="lra")
    place(r, 0)
    answers = []
    for first_stronger in (True, False) * 10:
        loud, soft = r.drive_for_level(0, -2.0), r.drive_for_level(0, -12.0)
        pair = (loud, soft) if first_stronger else (soft, loud)
        key = two_intervals(r, 0, pair, "Which buzz felt stronger?")
        answers.append(key == ("left" if first_stronger else "right"))
    assert sum(answers) >= 19  # 10 dB apart, JND 2.5 dB: only a lapse errs


def test_patient_frequency_answers_the_faster_buzz_not_the_stronger() -> None:
    r = make_rig(seed=4, actuator="lra")
    motor = r.world.motors[0]
    place(r, 0)
    correct = 0
    for first_faster in (True, False) * 10:
        r.show(0.6, "Trial 1 of 1")
        for k, faster in enumerate((first_faster, not first_faster), start=1):
            # The faster buzz at 250 Hz is 6 dB weaker than the slower one at 125 Hz.
            motor.drive_frequency_hz = 250.0 if faster else 125.0
            level = -16.0 if faster else -10.0
            gain = 10 ** (level / 20) / (motor.vibration_for_drive(1.0)[0])
            r.drives.add(0, r.clock.now() + STIM_AT_S, STIM_S, min(1.0, gain))
            r.show(INTERVAL_S, f"Buzz {k} of 2", "Keep still and feel.")
            felt = r.patient.felt.strongest(str(k))
            assert felt is not None
            assert felt[1].frequency_hz == (250.0 if faster else 125.0)
            assert felt[1].level_db == pytest.approx(level, abs=0.1)
            r.show(0.3, "")
        key = r.ask("Which buzz felt faster?", "", "", "< First  Second >")
        correct += key == ("left" if first_faster else "right")
    assert correct >= 19  # log10(2) = 0.3, Weber 0.1 log10: only a lapse errs


# -- localisation and texture -----------------------------------------------------------------


def test_patient_localisation_presses_the_pad_that_buzzed() -> None:
    r = make_rig(seed=6)
    ok = r.ask("Rest your fingertips on pads 1 to 4.", "Press OK when ready.")
    assert ok == "ok"
    rng = random.Random(2)
    hits = 0
    for _ in range(20):
        target = rng.randrange(4)
        r.show(0.5, "Trial 1 of 1")
        r.drives.add(target, r.clock.now() + STIM_AT_S, STIM_S, r.drive_for_level(target, -4.0))
        r.show(INTERVAL_S, "Feel", "Which pad buzzes? Keep still.")
        r.screen.show("Press the pad that buzzed.")
        peaks = [0.0] * 4
        for _ in range(300):  # 3 s, the pad forces every 10 ms
            r.clock.sleep(0.01)
            t = r.clock.now()
            peaks = [max(p, r.world.pads[i].force_at(t)) for i, p in enumerate(peaks)]
        pressed = [i for i, p in enumerate(peaks) if p > 4.0]
        assert len(pressed) == 1
        assert all(BAND_N[0] < p < BAND_N[1] for i, p in enumerate(peaks) if i != pressed[0])
        hits += pressed[0] == target
    assert hits >= 19  # 10 dB above the localisation threshold


def touch_pads(r: Rig, pads: list[int]) -> list[float]:
    """The protocol's touch screens, 2.5 s each; the peak force on each touched pad."""
    peaks = []
    for pad in pads:
        r.screen.show(f"Touch pad {pad + 1} lightly.", "Feel its surface.")
        peak = 0.0
        for _ in range(50):
            r.clock.sleep(0.05)
            peak = max(peak, r.world.pads[pad].force_at(r.clock.now()))
        peaks.append(peak)
    return peaks


def test_patient_texture_rougher_follows_the_groove_widths() -> None:
    widths = [0.5, 0.5, 1.26, 0.55, 0.6, 0.7, 0.8, 0.9]
    r = make_rig(seed=8, texture_widths_mm=widths)
    correct = 0
    for first_rough in (True, False) * 10:
        r.show(0.5, "Trial 1 of 1")
        peaks = touch_pads(r, [2, 0] if first_rough else [0, 2])
        assert all(BAND_N[0] < p < BAND_N[1] for p in peaks)
        key = r.ask("Which pad felt rougher?", "", "", "< First  Second >")
        assert r.world.pads[0].force_at(r.clock.now()) == 0.0  # lifted after touching
        correct += key == ("left" if first_rough else "right")
    assert correct >= 19  # log10(2.52) = 0.4 against a 0.1 log10 threshold


def test_patient_texture_odd_one_out_presses_the_different_pad() -> None:
    widths = [0.5, 0.5, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9]
    r = make_rig(seed=8, texture_widths_mm=widths)
    rng = random.Random(4)
    hits = 0
    for _ in range(15):
        order = [0, 2, 3]
        rng.shuffle(order)
        r.show(0.5, "Trial 1 of 1")
        touch_pads(r, order)
        r.screen.show("Press the pad that felt different.")
        peaks = [0.0] * 4
        for _ in range(150):
            r.clock.sleep(0.02)
            peaks = [max(p, r.world.pads[i].force_at(r.clock.now())) for i, p in enumerate(peaks)]
        pressed = [i for i, p in enumerate(peaks) if p > 4.0]
        assert len(pressed) == 1
        hits += pressed[0] == 2
    assert hits >= 14


# -- questions, contact force and truth -------------------------------------------------------


@pytest.mark.parametrize("tingling, numb", [(True, False), (False, True)])
def test_patient_tingling_and_numbness_questions_have_their_own_truth(
    tingling: bool, numb: bool
) -> None:
    r = make_rig(tingling_after_vibration=tingling, new_numbness=numb)
    yes_no = "< No  Yes >"
    after = r.ask("After the buzzing: any", "tingling or", "discomfort?", yes_no)
    checkin = r.ask("Any new numbness or", "tingling?", "", yes_no)
    assert after == ("right" if tingling else "left")
    assert checkin == ("right" if numb else "left")


def stimulus_forces(r: Rig, pad: int, trials: int) -> tuple[list[float], int]:
    """Contact force on ``pad`` mid-stimulus over ``trials`` intervals; a protocol repeats
    an out-of-band interval after its "firmer/lighter" screen. Returns forces, repeats."""
    forces, repeats = [], 0
    for _ in range(trials):
        r.show(0.5, "Trial 1 of 1")
        r.show(0.3, "Buzz 1 of 2", "Keep still and feel.")
        force = r.world.pads[pad].force_at(r.clock.now())
        r.show(0.5, "")
        forces.append(force)
        if not BAND_N[0] <= force <= BAND_N[1]:
            repeats += 1
            firmer = force < BAND_N[0]
            r.show(1.5, f"A little {'firmer' if firmer else 'lighter'}, please.", "Again.")
            assert BAND_N[0] < r.world.pads[pad].force_at(r.clock.now()) < BAND_N[1]
    return forces, repeats


def test_patient_contact_force_stays_in_the_band_unless_it_slips() -> None:
    steady = make_rig(seed=12)
    place(steady, 0)
    forces, repeats = stimulus_forces(steady, 0, 60)
    assert repeats == 0
    assert 0.9 < sum(forces) / len(forces) < 1.15  # about contact_force_n = 1 N
    assert max(forces) - min(forces) > 0.1  # a trial-to-trial spread

    slippy = make_rig(seed=12, contact_slip_rate=0.2)
    place(slippy, 0)
    _, repeats = stimulus_forces(slippy, 0, 60)
    assert 5 <= repeats <= 20  # 0.2 x 60 = 12 expected


def test_patient_true_thresholds_per_site_and_week() -> None:
    typical = make_rig().patient
    assert typical.true_threshold("vibration", 0) == -20.0
    assert typical.true_threshold("localisation", 0) == -14.0
    assert typical.true_threshold("texture", 3) == pytest.approx(0.1)
    numb = make_rig("numb_site").patient
    assert numb.true_threshold("vibration", NUMB_SITE) == -20.0 + 25.0
    assert numb.true_threshold("vibration", NUMB_SITE + 1) == -20.0
    start = make_rig("improving", day=0).patient.true_threshold("vibration", 0)
    week2 = make_rig("improving", day=14).patient.true_threshold("vibration", 0)
    late = make_rig("improving", day=200).patient.true_threshold("vibration", 0)
    assert start - week2 == pytest.approx(2 * 2.5)
    assert late == -20.0  # improves to the typical threshold, not beyond
    with pytest.raises(ValueError, match="dimension"):
        typical.true_threshold("smell", 0)
    involved = with_site_offsets(profile("typical"), "vibration", {4: 10.0, 5: 12.0})
    assert involved.senses["vibration"].threshold_at(5) == -8.0
    assert involved.senses["vibration"].threshold_at(0) == -20.0
    assert profile("typical").senses["vibration"].threshold_at(5) == -20.0  # not shared


def test_station_patient_feels_the_station_world(tmp_path: Path) -> None:
    """handles.patient() hands the patient the station's world and the session's day."""
    cfg = sim_config(["pads", "haptics"])
    st = sim_station(tmp_path, fitted=["pads", "haptics"])
    try:
        p = st.sim.patient("improving", st.clock, cfg["buttons"], seed=1, day=14)
        assert p.world is st.sim.world
        assert p.felt.motors is st.sim.world.motors
        assert p.true_threshold("vibration", 0) == pytest.approx(-5.0 - 2 * 2.5)
    finally:
        st.close()


def test_patient_numb_site_misses_what_other_sites_feel() -> None:
    r = make_rig("numb_site", seed=13)
    rng = random.Random(8)
    place(r, 0)
    fine = proportion_correct(r, 0, r.drive_for_level(0, -10.0), 40, rng)
    place(r, NUMB_SITE)
    numb = proportion_correct(r, NUMB_SITE, r.drive_for_level(NUMB_SITE, -10.0), 40, rng)
    assert fine >= 0.9
    assert numb == pytest.approx(0.5, abs=binomial_tolerance(0.5, 40))
