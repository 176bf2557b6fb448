"""Sensory protocols in a plan: their params, and the checks against the station's hardware
that refuse on arrival a plan the station could not run (with the reason)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cli import rehab_station

from station import config as cfgmod
from station import plan as planmod
from station.catalog import StationAbilities
from station.protocols import PROTOCOLS
from station.protocols.sensory.texture import trial_options

STATION = "st-sim-0001"


def plan(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "rehab.plan/1",
        "station_id": STATION,
        "plan_version": 7,
        "issued_at": "2026-12-01T08:00:00Z",
        "issued_by": "ht-jones",
        "caps": {
            "max_vibration_g": 2.0,
            "daily_vibration_min": 20,
            "max_force_n": 15.0,
            "max_session_min": 30,
            "min_rest_s": 15,
            "pain_stop_nrs": 5,
            "pain_rise_stop": 2,
        },
        "gates": {"maximal_tests": False},
        "schedule": list(items),
    }


def item(protocol: str, **params: Any) -> dict[str, Any]:
    return {"protocol": protocol, "days": "daily", "params": params}


def abilities(**config: Any) -> StationAbilities:
    return StationAbilities.of(cfgmod.validate(config))


def refused(d: dict[str, Any], station: StationAbilities | None = None) -> planmod.PlanError:
    with pytest.raises(planmod.PlanError) as info:
        planmod.from_dict(d, STATION, station or abilities())
    return info.value


def test_sensory_plan_every_protocol_with_its_defaults_is_accepted() -> None:
    names = [
        "vibration_threshold",
        "amplitude_discrimination",
        "texture_discrimination",
        "localisation",
    ]
    p = planmod.from_dict(plan(*(item(n) for n in names)), STATION, abilities())
    assert [i.protocol for i in p.schedule] == names
    for name in names:
        proto = PROTOCOLS[name]({})
        assert proto.mode == "training" and proto.trials == 30  # type: ignore[attr-defined]
    assessment = PROTOCOLS["vibration_threshold"]({"mode": "assessment"})
    assert assessment.trials == 50  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"mode": "training", "trials": 60}, "trials", "20 to 40 in training mode"),
        ({"mode": "assessment", "trials": 30}, "trials", "40 to 60 in assessment mode"),
        ({"mode": "practice"}, "mode", "'training', 'assessment'"),
        ({"sites": [2, 1]}, "sites", "increasing order"),
        ({"sites": []}, "sites", "1 to 4 pad numbers"),
        ({"stimulus_s": 5}, "stimulus_s", "0.2 to 2 s"),
        ({"hand": "left"}, "hand", "'involved', 'uninvolved'"),
    ],
)
def test_sensory_plan_bad_params_are_refused_naming_them(
    params: dict[str, Any], field: str, words: str
) -> None:
    err = refused(plan(item("vibration_threshold", **params)))
    assert err.field == f"schedule[0].params.{field}"
    assert words in str(err)
    # the protocol itself refuses the same params (a plan stored by an older version)
    with pytest.raises(ValueError, match=field):
        PROTOCOLS["vibration_threshold"](params)


def test_sensory_plan_localisation_needs_neighbouring_pads() -> None:
    err = refused(plan(item("localisation", sites=[0, 1, 3])))
    assert err.field == "schedule[0].params.sites"
    assert "neighbouring pads" in str(err)


def test_sensory_plan_a_site_without_a_motor_is_refused_on_arrival() -> None:
    err = refused(plan(item("vibration_threshold", sites=[0, 5])))
    assert err.field == "schedule[0]"
    assert "no vibration motor under pad 5 (this station has motors under pads 0-3)" in str(err)
    two_motors = abilities(haptics={"channels": [0, 1]})
    err = refused(plan(item("localisation")), two_motors)
    assert "no vibration motor under pad 2" in str(err)
    no_motors = abilities(haptics={"fitted": False})
    assert "this station has no motors" in str(
        refused(plan(item("vibration_threshold")), no_motors)
    )
    # without the station's abilities (the clinic's own check) only the params are checked
    assert planmod.from_dict(plan(item("vibration_threshold", sites=[0, 5])), STATION)


@pytest.mark.parametrize("haptics", [{}, {"actuator": "lra"}])
def test_sensory_plan_frequency_discrimination_is_refused_with_the_reason(
    haptics: dict[str, Any],
) -> None:
    err = refused(plan(item("frequency_discrimination")), abilities(haptics=haptics))
    assert "frequency_discrimination cannot run on this station" in str(err)
    assert "varies frequency at a matched intensity" in str(err)
    assert ("ERM" if not haptics else "LRA") in str(err)


def test_sensory_plan_texture_tasks_follow_the_fitted_textures() -> None:
    standard = abilities()
    assert standard.texture_widths_mm[0] == 0.5 and standard.texture_widths_mm[7] == 2.521
    err = refused(plan(item("texture_discrimination", task="odd_one_out")), standard)
    assert "odd_one_out needs two pads of the same texture" in str(err)
    pairs = abilities(pads={"textures_mm": [0.5, 0.5, 0.63, 0.63, 0.8, 0.8, 1.0, 1.0]})
    p = planmod.from_dict(plan(item("texture_discrimination", task="odd_one_out")), STATION, pairs)
    assert p.schedule[0].params == {"task": "odd_one_out"}
    seven = abilities(pads={"supply_ref": True})
    assert seven.n_pads == 7
    err = refused(plan(item("texture_discrimination")), seven)
    assert "pad 7 is not fitted" in str(err)
    same = abilities(pads={"textures_mm": [1.0] * 8})
    assert "all the same" in str(refused(plan(item("texture_discrimination")), same))


def test_sensory_texture_ladder_is_what_the_pads_allow() -> None:
    ladder = trial_options(cfgmod.STANDARD_TEXTURE_MM, tuple(range(8)), "2afc")
    # the x1.26 kit: differences of 1 to 7 steps of 0.1 log10, each from its pad pairs
    assert [round(d, 1) for d in sorted(ladder)] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert len(ladder[min(ladder)]) == 7 and ladder[max(ladder)] == [(0, 7)]
    odd = trial_options([0.5, 0.5, 1.0, 2.0], (0, 1, 2, 3), "odd_one_out")
    assert sorted(odd) == pytest.approx([0.301, 0.602], abs=1e-3)
    assert odd[min(odd)] == [(0, 1, 2)] and odd[max(odd)] == [(0, 1, 3)]
    with pytest.raises(ValueError, match="no texture difference"):
        trial_options([0.5, 0.6], (0, 1), "odd_one_out")


def test_sensory_config_keys_are_checked() -> None:
    with pytest.raises(cfgmod.ConfigError, match=re.escape("one width per fitted pad (8), got 2")):
        cfgmod.validate({"pads": {"textures_mm": [0.5, 1.0]}})
    with pytest.raises(cfgmod.ConfigError, match=re.escape("numbers 0.1..10")):
        cfgmod.validate({"pads": {"textures_mm": [0.5] * 7 + [50]}})
    with pytest.raises(cfgmod.ConfigError, match=re.escape("above sensory.contact_min_n")):
        cfgmod.validate({"sensory": {"contact_min_n": 2.0, "contact_max_n": 1.0}})


def test_sensory_run_sim_plan_refuses_an_invalid_plan_file_naming_the_problem(tmp_path) -> None:
    import json

    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(plan(item("frequency_discrimination"))), encoding="utf-8")
    r = rehab_station("--data-dir", str(tmp_path / "d"), "run", "--sim", "--plan", str(bad))
    assert r.returncode == 2
    assert "frequency_discrimination cannot run on this station" in r.stderr
    bad.write_text(json.dumps(plan(item("vibration_threshold", trials=99))), encoding="utf-8")
    r = rehab_station("--data-dir", str(tmp_path / "d"), "run", "--sim", "--plan", str(bad))
    assert r.returncode == 2
    assert "plan refused" in r.stderr and "trials" in r.stderr
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").iterdir())


def test_sensory_run_sim_plan_runs_todays_session_of_the_file(tmp_path) -> None:
    """A clinician tries a plan on the simulator: the file's protocols run with the virtual
    patient and the summary reports them (a four-pad station without glove: quicker)."""
    import json

    cfg = tmp_path / "station.toml"
    cfg.write_text(
        "[glove]\nfitted = false\n[pads]\nadc_addresses = [0x48]\nrate_hz = 25\n"
        "data_rate_sps = 128\n",
        encoding="utf-8",
    )
    good = tmp_path / "plan.json"
    good.write_text(
        json.dumps(plan(item("texture_discrimination", pads=[0, 1, 2, 3], trials=20))),
        encoding="utf-8",
    )
    r = rehab_station(
        "--config", str(cfg), "--data-dir", str(tmp_path / "d"),
        "run", "--sim", "--speed", "0", "--plan", str(good), "--json",
        timeout_s=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["plan_version"] == 7 and summary["state"] == "complete"
    (texture,) = summary["protocols"]
    assert texture["protocol"] == "texture_discrimination" and texture["trials"] == 20
    assert texture["metrics"]["site0_trials"]["value"] == 20
