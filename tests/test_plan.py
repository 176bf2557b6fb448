"""Plan validation: every problem names the field; caps only ever tighten."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plans import PLAN, example_plan

from station import config as cfgmod
from station import plan as planmod


def with_change(path: str, value: Any) -> dict[str, Any]:
    """The example plan with ``path`` (dotted) set to ``value``, or deleted for KeyError."""
    return example_plan(**{path.replace(".", "__"): ... if value is KeyError else value})


def test_plan_good_plan_parses() -> None:
    p = planmod.parse(json.dumps(PLAN).encode(), "st-0001")
    assert p.plan_version == 3
    assert p.caps.max_force_n == 15.0
    assert p.maximal_tests
    assert [i.protocol for i in p.today(dt.date(2026, 11, 23))] == ["max_grip"]  # a Monday
    assert p.today(dt.date(2026, 11, 24)) == []  # Tuesday


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("caps.max_force_n", 500, "caps.max_force_n", "0.5 to 200 N"),
        ("caps.max_force_n", "lots", "caps.max_force_n", "a number"),
        ("caps.min_rest_s", 5, "caps.min_rest_s", "15 to 600"),
        ("caps.pain_stop_nrs", 5.5, "caps.pain_stop_nrs", "an integer"),
        ("caps.max_session_min", KeyError, "caps.max_session_min", "missing"),
        ("caps.turbo", 1, "caps.turbo", "unknown cap"),
        ("plan_version", 0, "plan_version", ">= 1"),
        ("plan_version", True, "plan_version", ">= 1"),
        ("station_id", "st-0002", "station_id", "this station is 'st-0001'"),
        ("issued_at", "yesterday", "issued_at", "ISO 8601"),
        ("schema", "rehab.plan/2", "schema", "rehab.plan/1"),
        ("gates.maximal_tests", "yes", "gates.maximal_tests", "true or false"),
        ("schedule", [], "schedule", "1 to 16"),
        ("schedule.0.protocol", "juggling", "schedule[0].protocol", "max_grip"),
        ("schedule.0.days", ["mon", "mon"], "schedule[0].days", "distinct"),
        ("schedule.0.days", ["funday"], "schedule[0].days", "day names"),
        ("extra", 1, "extra", "unknown field"),
        # params of a protocol this station runs are checked when the plan arrives
        (
            "schedule.0.params.trials_per_hand",
            99,
            "schedule[0].params.trials_per_hand",
            "an integer from 1 to 6",
        ),
        ("schedule.0.params.hands", ["left"], "schedule[0].params.hands", "'involved'"),
        ("schedule.0.params.pad", -1, "schedule[0].params.pad", "from 0 to 15"),
        ("schedule.0.params", [], "schedule[0].params", "an object"),
    ],
)
def test_plan_bad_field_is_named(path: str, value: Any, field: str, words: str) -> None:
    with pytest.raises(planmod.PlanError) as info:
        planmod.from_dict(with_change(path, value), "st-0001")
    assert info.value.field == field
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b" " * (planmod.MAX_PLAN_BYTES + 1), "limit"),
        (b"[1, 2]", "JSON object"),
        (b'{"caps": {"max_force_n": 500, "max_force_n": 15.0}}', "'max_force_n' appears twice"),
        (b'{"station_id": "st-other", "station_id": "st-0001"}', "'station_id' appears twice"),
    ],
)
def test_plan_bad_payloads_are_rejected_with_a_reason(payload: bytes, words: str) -> None:
    with pytest.raises(planmod.PlanError, match=words):
        planmod.parse(payload, "st-0001")


def test_plan_caps_are_tightened_by_the_station_config() -> None:
    safety = cfgmod.defaults()["safety"]
    loose = with_change("caps.max_vibration_g", 9.0)
    loose["caps"]["max_force_n"] = 150.0
    loose["caps"]["min_rest_s"] = 15
    caps = planmod.from_dict(loose).effective_caps(safety)
    assert caps.max_vibration_g == safety["max_vibration_g"]
    assert caps.max_force_n == safety["max_force_n"]
    assert caps.min_rest_s == max(15, safety["min_rest_s"])
    tight = planmod.from_dict(PLAN).effective_caps(safety)
    assert tight.max_force_n == 15.0  # the plan may lower a cap


@settings(max_examples=200, deadline=None)
@given(st.floats(0.05, 10), st.floats(0.5, 200), st.floats(1, 120), st.floats(15, 600))
def test_plan_effective_caps_never_exceed_the_station_caps(
    vib: float, force: float, session: float, rest: float
) -> None:
    safety = cfgmod.defaults()["safety"]
    d = copy.deepcopy(PLAN)
    d["caps"].update(
        max_vibration_g=vib, max_force_n=force, max_session_min=session, min_rest_s=rest
    )
    caps = planmod.from_dict(d).effective_caps(safety)
    assert caps.max_vibration_g <= safety["max_vibration_g"]
    assert caps.max_force_n <= safety["max_force_n"]
    assert caps.max_session_min <= safety["max_session_min"]
    assert caps.min_rest_s >= safety["min_rest_s"]


def test_plan_default_sim_plan_allows_maximal_grip_daily() -> None:
    p = planmod.default_sim_plan("st-sim-0001", dt.date(2026, 11, 24))
    assert p.maximal_tests
    assert [i.protocol for i in p.today(dt.date(2026, 11, 24))] == ["max_grip"]


def test_plan_knows_exactly_the_protocols_the_station_runs() -> None:
    """Every catalogue entry runs, or every station this version builds refuses it when
    the plan arrives (frequency discrimination: no supported actuator can do it)."""
    from station import config
    from station.catalog import CATALOG, StationAbilities
    from station.protocol_params import parse_params
    from station.protocols import PROTOCOLS

    assert set(PROTOCOLS) <= set(CATALOG)
    assert set(CATALOG) - set(PROTOCOLS) == {"frequency_discrimination"}
    spec = CATALOG["frequency_discrimination"]
    assert spec.station_check is not None
    for haptics in ({}, {"actuator": "lra"}, {"driver": "pwm", "pwm_pins": [12]}):
        station = StationAbilities.of(config.validate({"haptics": haptics}))
        problem = spec.station_check(parse_params(spec.params, {}), station)
        assert problem is not None and "varies frequency at a matched intensity" in problem


@pytest.mark.parametrize(
    ("key", "value"), [("trials_per_hnd", 6), ("rest_s", -10), ("target_force_n", 500)]
)
def test_plan_unknown_param_is_refused_naming_it(key: str, value: Any) -> None:
    with pytest.raises(planmod.PlanError) as info:
        planmod.from_dict(with_change(f"schedule.0.params.{key}", value), "st-0001")
    assert info.value.field == f"schedule[0].params.{key}"
    assert str(info.value) == (
        f"schedule[0].params.{key}: unknown parameter; known: hands, pad, trials_per_hand"
    )


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("key", ["deep", "hands", "trials_per_hand"])
def test_plan_param_nested_200_deep_is_refused_in_one_short_line(key: str) -> None:
    payload = json.dumps(with_change(f"schedule.0.params.{key}", nested(200))).encode()
    with pytest.raises(planmod.PlanError) as info:
        planmod.parse(payload, "st-0001")
    assert info.value.field == f"schedule[0].params.{key}"
    assert len(str(info.value)) < 200, str(info.value)


def test_plan_semantic_check_names_the_caps_the_station_tightens() -> None:
    from mqtt_bridge.plans import StationCap

    safety = {**cfgmod.defaults()["safety"], "max_force_n": 30.0, "min_rest_s": 20.0}
    d = example_plan(caps__max_force_n=40, caps__min_rest_s=15, caps__max_vibration_g=1.0)
    assert planmod.semantic_check(d, "st-0001", safety) == [
        StationCap("max_force_n", 40, 30.0, "N"),
        StationCap("min_rest_s", 15, 20.0, "s"),
    ]
    assert planmod.semantic_check(PLAN, "st-0001", cfgmod.defaults()["safety"]) == []
