"""Sensory protocols in whole sessions on the simulated station, with the virtual patient.

The patient perceives only what the simulated world produces: the vibration of the motor
under its fingertip (spin-up and all, so a motor weaker than its calibration says is felt
as weaker), the groove widths of the pads it touches; it answers on the buttons and the
pads. Its true thresholds are known, so what a session measures is checked against them.

The station here is a smaller configuration of the product (one ADS1115 with four pads at
25 Hz, no glove): the sensory tasks need the four pads with motors and the contact force
over a stimulus (12 samples in 0.5 s), and the smaller station runs about three times as
fast on the simulator.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SimCalibrations
from test_session_e2e import Stations

from mqtt_bridge import schema
from mqtt_bridge.clinic_db import ClinicDB
from mqtt_bridge.clinic_report import build_report
from station import config as config_mod
from station import plan as plan_mod
from station.app import App
from station.catalog import StationAbilities
from station.journal import Trial
from station.kinds import DecisionKind
from station.protocols.base import MetricsContext
from station.runner import Outcome
from station.session_results import PlannedProtocol, protocol_results
from station.sim.patient import VirtualPatient

SEED = 4
SITES = [0, 1, 2, 3]


def light_config(buzzer: bool = False) -> config_mod.Config:
    return config_mod.validate(
        {
            "glove": {"fitted": False},
            "pads": {"adc_addresses": [0x48], "rate_hz": 25, "data_rate_sps": 128},
            "buzzer": {"fitted": buzzer},
        }
    )


@pytest.fixture(scope="module")
def calibrated(sim_calibrations: SimCalibrations) -> Path:
    return sim_calibrations.records(light_config(), SEED)


@pytest.fixture
def stations(tmp_path: Path, calibrated: Path) -> Iterator[Stations]:
    s = Stations(tmp_path, calibrated, light_config(), SEED)
    try:
        yield s
    finally:
        s.close()


def patient(app: App, seed: int = SEED, **abilities: Any) -> VirtualPatient:
    st = app.station
    assert st is not None and st.sim is not None
    p = st.sim.patient("typical", st.clock, app.config["buttons"], seed=seed, **abilities)
    p.start()
    return p


def item(protocol: str, **params: Any) -> dict[str, Any]:
    return {"protocol": protocol, "days": "daily", "params": params}


def sensory_plan(app: App, *items: dict[str, Any], **caps: Any) -> plan_mod.Plan:
    """A plan through the station's own checks against its hardware."""
    raw = json.loads(json.dumps(plan_mod.default_sim_plan(app.config.station_id).raw))
    raw["caps"].update({"max_session_min": 60, **caps})
    raw["gates"]["maximal_tests"] = False
    raw["schedule"] = list(items)
    station = StationAbilities.of(app.config)
    return plan_mod.from_dict(raw, app.config.station_id, station)


def run(app: App, plan: plan_mod.Plan) -> Outcome:
    outcome = app.run_session(plan)
    assert outcome is not None
    return outcome


def metrics(outcome: Outcome, protocol: str) -> dict[str, Any]:
    (entry,) = [p for p in outcome.summary["protocols"] if p["protocol"] == protocol]
    return entry["metrics"]


def db_re_1g(threshold: dict[str, Any]) -> tuple[float, float, float]:
    """A vibration threshold's physical value and 95 % interval in dB re 1 g rms."""
    phys = threshold["physical"]
    assert phys["unit"] == "g"
    lo, hi = phys["ci95"]
    return tuple(20 * math.log10(v) for v in (phys["value"], lo, hi))  # type: ignore[return-value]


def scored(trials: list[Trial]) -> list[Trial]:
    return [t for t in trials if not t.quality]


# -- measurement -----------------------------------------------------------------------------


def test_sensory_assessment_measures_the_true_threshold_and_a_weak_motor_shows(
    stations: Stations,
) -> None:
    """Sites 0 and 1: the measured threshold is the patient's, within its interval. Sites 2
    and 3: motors that lost 3 dB since their calibration; the station asks for the same dB,
    the fingertip feels 3 dB less, so the threshold measures ~3 dB higher, as with a
    person."""
    app = stations.open()
    for motor in app.station.sim.world.motors[2:]:
        motor.max_amplitude_g *= 10 ** (-3 / 20)
    p = patient(app)
    out = run(app, sensory_plan(app, item("vibration_threshold", mode="assessment", sites=SITES)))
    assert out.state == "complete"
    m = metrics(out, "vibration_threshold")
    errors = []
    for site in SITES:
        t = m[f"site{site}_threshold"]
        assert t["unit"] == "dB" and t["interval"] == "posterior credible interval"
        assert t["ci95"][0] < t["ci68"][0] < t["value"] < t["ci68"][1] < t["ci95"][1]
        value, lo, hi = db_re_1g(t)
        truth = p.true_threshold("vibration", site) + (3.0 if site >= 2 else 0.0)
        errors.append(value - truth)
        assert lo <= truth <= hi, (site, value, lo, hi, truth)
        # at most 50; from 30 on it stops once the 95 % interval is 6 dB wide
        assert 50 >= m[f"site{site}_trials"]["value"] >= 30
        assert m[f"site{site}_catch_correct"]["value"] >= 75 and m[f"site{site}_catch_correct"]["n"]
        assert m[f"site{site}_lapse"]["value"] < 0.1
        assert m[f"site{site}_contact_compliance"] == {"value": 100.0, "unit": "%", "repeats": 0}
    assert max(abs(e) for e in errors) <= 3.0, errors
    weak = statistics.mean(db_re_1g(m[f"site{s}_threshold"])[0] for s in (2, 3))
    intact = statistics.mean(db_re_1g(m[f"site{s}_threshold"])[0] for s in (0, 1))
    assert 1.5 <= weak - intact <= 4.5, (weak, intact)  # all sites have the same truth
    assert m["vibration_time"]["value"] > 0
    # no feedback in an assessment
    assert not [c for _, c in app.station.cues.played if c in ("correct", "incorrect")]
    # every trial journalled with what it presented, in its scale and in physical units
    trials = app.journal.trials(out.session_id, "vibration_threshold")
    assert len(scored(trials)) == sum(m[f"site{s}_trials"]["value"] for s in SITES)
    for t in scored(trials):
        s = t.stimulus
        assert s["scale"] == "dB" and s["site"] in SITES and s["interval"] in (0, 1)
        assert s["amplitude_g"] > 0 and s["frequency_hz"] > 0 and s["vibration_s"] > 0.4
        assert t.response["choice"] in (0, 1) and isinstance(t.response["correct"], bool)
        assert t.reaction_time_s is not None and t.reaction_time_s > 0.1
        assert t.contact_force_n is not None and 0.3 <= t.contact_force_n <= 3.0
    assert all(("procedure" in t.stimulus) == (t.trial_index in _firsts(trials)) for t in trials)
    # the summary's results come from the journal alone (a session summarised after a restart)
    planned = [PlannedProtocol("vibration_threshold", {"mode": "assessment", "sites": SITES})]
    (again,) = protocol_results(app.journal, out.session_id, planned, MetricsContext({}))
    assert again.metrics == m


def _firsts(trials: list[Trial]) -> set[int]:
    seen: dict[str, int] = {}
    for t in trials:
        seen.setdefault(t.stimulus["block"], t.trial_index)
    return set(seen.values())


def test_sensory_training_gives_feedback_and_works_near_80_percent(stations: Stations) -> None:
    app = stations.open(light_config(buzzer=True))
    typical = patient(app)
    typical.stop()
    senses = dict(typical.a.senses)  # a texture threshold inside the kit's ladder
    senses["texture"] = dataclasses.replace(senses["texture"], threshold=0.3)
    patient(app, senses=senses)
    plan = sensory_plan(
        app,
        item("vibration_threshold", sites=[1], trials=30),
        item("texture_discrimination", pads=[0, 1, 2, 3], trials=30),
    )
    out = run(app, plan)
    assert out.state == "complete"
    cues = [c for _, c in app.station.cues.played if c in ("correct", "incorrect")]
    assert len(cues) == 60
    vib, tex = metrics(out, "vibration_threshold"), metrics(out, "texture_discrimination")
    for m in (vib, tex):
        assert 65 <= m["site" + ("1" if m is vib else "0") + "_percent_correct"]["value"] <= 95
    t = vib["site1_threshold"]
    assert t["mode"] == "training" and t["interval"] == "likelihood interval over all trials"
    assert "real_change" not in t
    texture = tex["site0_threshold"]
    assert texture["unit"] == "log10 ratio" and texture["physical"]["unit"] == "1"
    trials = scored(app.journal.trials(out.session_id, "texture_discrimination"))
    widths = app.station.sim.world.texture_widths_mm
    for tr in trials:  # the pads touched and their real widths, journalled
        assert [widths[pad] for pad in tr.stimulus["pads"]] == tr.stimulus["widths_mm"]
        assert tr.contact_force_n is not None and 0.3 <= tr.contact_force_n <= 3.0


def test_sensory_prior_carries_over_and_a_changed_patient_is_not_trapped(
    stations: Stations,
) -> None:
    app = stations.open()
    plan = sensory_plan(app, item("vibration_threshold", mode="assessment", sites=[1]))
    p = patient(app)
    first = run(app, plan)
    p.stop()
    p = patient(app, seed=SEED + 1)
    second = run(app, plan)
    p.stop()
    trials = app.journal.trials(second.session_id, "vibration_threshold")
    uid = app.journal.session(first.session_id)["session_uid"]
    priors = [t.stimulus["procedure"]["prior"] for t in trials if "procedure" in t.stimulus]
    assert [pr["from"] for pr in priors] == [uid]
    m1, m2 = metrics(first, "vibration_threshold"), metrics(second, "vibration_threshold")
    for s in (1,):  # a stable patient: no slower, a narrower interval, no real change
        w1 = m1[f"site{s}_threshold"]["ci95"][1] - m1[f"site{s}_threshold"]["ci95"][0]
        w2 = m2[f"site{s}_threshold"]["ci95"][1] - m2[f"site{s}_threshold"]["ci95"][0]
        # (one seeded run; tests/bench/adaptive.py measures it over hundreds)
        assert w2 < w1
        assert m2[f"site{s}_trials"]["value"] <= m1[f"site{s}_trials"]["value"]
        change = m2[f"site{s}_threshold"]["real_change"]
        assert change["previous_session"] == uid and change["flag"] is False
    # the patient's sensation improved by 8 dB: the carried prior does not hold it back
    senses = dict(p.a.senses)
    senses["vibration"] = senses["vibration"].with_offset(1, -8.0)
    p = patient(app, seed=SEED + 2, senses=senses)
    third = run(app, plan)
    m3 = metrics(third, "vibration_threshold")
    for s in (1,):
        value, lo, hi = db_re_1g(m3[f"site{s}_threshold"])
        truth = p.true_threshold("vibration", s)
        assert abs(value - truth) <= 3.0 and lo <= truth + 1.0 and truth - 1.0 <= hi
        # the flag follows the rule: only when the two 95 % intervals do not overlap
        change = m3[f"site{s}_threshold"]["real_change"]
        t_lo, t_hi = m3[f"site{s}_threshold"]["ci95"]
        p_lo, p_hi = change["previous_ci95"]
        assert change["flag"] == (t_hi < p_lo or t_lo > p_hi), change
        assert change["direction"] == ("better" if change["flag"] else None)
    # what the clinic gets: valid summaries, and a report with each assessment in order
    with ClinicDB(app.data_dir / "clinic.db") as clinic:
        for seq, o in enumerate((first, second, third), 1):
            assert schema.errors(o.summary, schema.load("rehab.session/1")) == []
            envelope = {
                "schema": "rehab.session/1",
                "msg_id": o.msg_id,
                "station_id": app.config.station_id,
                "seq": seq,
                "created_at": o.summary["ended_at"],
                "clock_synced": True,
                "boot_id": "b-1",
                "body": o.summary,
            }
            assert clinic.store(envelope, "summary")
        (station,) = build_report(clinic)["stations"]
    (series,) = station["sensory"]["series"]
    assert (series["protocol"], series["site"]) == ("vibration_threshold", 1)
    shown = [a["value"] for a in series["assessments"]]
    assert shown == [metrics(o, "vibration_threshold")["site1_threshold"]["value"]
                     for o in (first, second, third)]  # fmt: skip
    assert len(series["changes"]) == 2


def test_sensory_discrimination_and_localisation_on_the_sites_thresholds(
    stations: Stations,
) -> None:
    app = stations.open()
    p = patient(app)
    plan = sensory_plan(
        app,
        item("amplitude_discrimination", sites=[0], trials=20),  # no threshold yet: stops
        item("vibration_threshold", mode="assessment", sites=[0], trials=40),
        item("amplitude_discrimination", sites=[0], trials=20),
        item("localisation", trials=20),
    )
    out = run(app, plan)
    assert out.state == "stopped"
    assert "amplitude_discrimination: " in out.reason and "run vibration_threshold" in out.reason
    threshold = metrics(out, "vibration_threshold")["site0_threshold"]["value"]
    amp = app.journal.trials(out.session_id, "amplitude_discrimination")
    spec = amp[0].stimulus["procedure"]
    # 18 dB over the site's threshold, lowered to leave room for the largest Δ under the cap
    haptics = app.station.haptics
    curve = haptics.curves[0]
    top_g = min(haptics.cap_g(0), curve.max_g)
    top = math.floor(40 * math.log10(top_g / curve.reference_g)) / 2
    assert spec["pedestal_db"] == pytest.approx(min(threshold + 18.0, top - 12.0), abs=0.01)
    assert spec["pedestal_db"] >= threshold + 10.0
    assert {t.stimulus["stronger"] for t in amp} == {0, 1}
    m = metrics(out, "amplitude_discrimination")
    assert m["site0_percent_correct"]["value"] >= 60
    loc = scored(app.journal.trials(out.session_id, "localisation"))
    assert len(loc) == 20 and {t.stimulus["pad"] for t in loc} <= set(SITES)
    assert all(t.response["pad"] in SITES for t in loc)
    right = sum(t.response["pad"] == t.stimulus["pad"] for t in loc)
    assert right == sum(t.response["correct"] for t in loc) >= 12
    assert p.true_threshold("localisation", 0) > p.true_threshold("vibration", 0)


# -- safety ------------------------------------------------------------------------------------


def test_sensory_new_numbness_skips_vibration_but_not_texture(stations: Stations) -> None:
    app = stations.open()
    patient(app, new_numbness=True)
    plan = sensory_plan(
        app,
        item("vibration_threshold", sites=[0], trials=20),
        item("texture_discrimination", pads=[0, 1, 2, 3], trials=20),
    )
    out = run(app, plan)
    assert "vibration_threshold: skipped, no vibration today" in out.reason
    assert app.journal.trials(out.session_id, "vibration_threshold") == []
    assert len(scored(app.journal.trials(out.session_id, "texture_discrimination"))) == 20
    assert app.station.haptics.ledger.vibration_s_today() == 0.0


def test_sensory_tingling_after_vibration_stops_it_for_the_day(stations: Stations) -> None:
    app = stations.open()
    patient(app, tingling_after_vibration=True)
    plan = sensory_plan(
        app,
        item("vibration_threshold", sites=[0, 1], trials=20),
        item("localisation", trials=20),
        item("texture_discrimination", pads=[0, 1], trials=20),
    )
    out = run(app, plan)
    assert out.state == "stopped"
    kinds = [e["kind"] for e in app.journal.events(out.session_id)]
    assert kinds.count(DecisionKind.PARESTHESIA) == 1
    blocks = {t.stimulus["block"] for t in app.journal.trials(out.session_id)}
    assert blocks == {"site0"}  # the second site and localisation never vibrated
    assert "localisation: skipped, no vibration today" in out.reason
    assert len(scored(app.journal.trials(out.session_id, "texture_discrimination"))) == 20
    assert not app.station.haptics.running()
    # a later session the same day does not vibrate at all
    again = run(app, sensory_plan(app, item("vibration_threshold", sites=[0], trials=20)))
    assert app.journal.trials(again.session_id) == []
    assert "skipped, no vibration today" in again.reason


def test_sensory_daily_vibration_cap_ends_the_block_and_holds(stations: Stations) -> None:
    app = stations.open()
    patient(app)
    plan = sensory_plan(
        app,
        item("vibration_threshold", sites=SITES, trials=30, stimulus_s=1.0),
        item("localisation", trials=20),
        daily_vibration_min=0.5,
    )
    out = run(app, plan)
    m = metrics(out, "vibration_threshold")
    dosed = app.station.haptics.ledger.vibration_s_today()
    assert 29.9 <= dosed <= 30.0 + 1e-6
    assert m["vibration_time"]["value"] == pytest.approx(dosed, abs=0.01)
    assert 0 < m["vibration_a8"]["value"] < 0.5  # far below the 2.5 m/s2 action value
    events = app.journal.events(out.session_id)
    assert [e["kind"] for e in events if e["kind"] == DecisionKind.VIBRATION_DOSE] == [
        DecisionKind.VIBRATION_DOSE
    ]
    cut = [t for t in app.journal.trials(out.session_id) if "vibration_cap" in t.quality]
    assert len(cut) == 1 and cut[0].response == {}
    assert "localisation: skipped, no vibration today" in out.reason
    assert not app.station.haptics.running()


def test_sensory_contact_out_of_band_is_repeated_counted_not_scored(stations: Stations) -> None:
    app = stations.open()
    patient(app, contact_slip_rate=0.05)
    out = run(app, sensory_plan(app, item("vibration_threshold", sites=[0], trials=20)))
    assert out.state == "complete"
    m = metrics(out, "vibration_threshold")
    trials = app.journal.trials(out.session_id, "vibration_threshold")
    repeated = [t for t in trials if {"contact_light", "contact_hard"} & set(t.quality)]
    assert repeated and all(t.response["correct"] is None for t in repeated)
    assert m["site0_trials"]["value"] == 20 == len(scored(trials))
    compliance = m["site0_contact_compliance"]
    assert compliance["repeats"] == len(repeated)
    assert compliance["value"] == pytest.approx(100 * 20 / (20 + len(repeated)), abs=1e-3)


def test_sensory_stop_during_a_stimulus_stops_the_motor_at_once(stations: Stations) -> None:
    app = stations.open()
    patient(app)
    st = app.station
    stop_pin = st.sim.button_pins(app.config["buttons"])["stop"]
    seen: list[float] = []

    def watch() -> None:
        if st.haptics.running() and not seen:
            seen.append(st.clock.now())
            stop_pin.drive_low()

    handle = st.clock.every(0.01, watch, name="test-stop")
    out = run(app, sensory_plan(app, item("vibration_threshold", sites=[0], trials=20)))
    handle.cancel()
    assert seen and out.state == "stopped"
    assert not st.haptics.running()
    assert all(m.vibration_at(st.clock.now())[0] == 0.0 for m in st.sim.world.motors)
    trials = app.journal.trials(out.session_id)
    assert all(t.t_end_s <= seen[0] + 0.5 for t in trials)
