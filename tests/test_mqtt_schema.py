"""The JSON-Schema subset validator and the shipped schemas, checked against jsonschema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from plans import EXAMPLE_PLAN_FILE, PLAN
from plans import example_plan as plan

from mqtt_bridge import schema
from station import config
from station import plan as planmod
from station.catalog import StationAbilities
from station.protocols import PROTOCOLS

EXAMPLE = json.loads(EXAMPLE_PLAN_FILE.read_text(encoding="utf-8"))


def test_schema_example_plan_file_is_the_contracts_example_and_valid() -> None:
    """``docs/example-plan.json`` (for clinicians to start from) is the plan the contract
    shows, and the shipped schema accepts it."""
    doc = (EXAMPLE_PLAN_FILE.parent / "mqtt-contract.md").read_text(encoding="utf-8")
    shown = doc.split("## Plans (`rehab.plan/1`", 1)[1].split("```json\n", 1)[1].split("```")[0]
    assert json.loads(shown) == EXAMPLE
    assert schema.errors(EXAMPLE, schema.load("rehab.plan/1")) == []


def test_schema_example_plan_is_a_post_operative_sensory_week() -> None:
    """Sensory training every day, a vibration threshold assessment once a week, light
    motor work (imagery, steady holds at a low level), no maximal tests
    (``reference/CLINICAL.md`` §5, §6.3), within the caps of the station's defaults."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert EXAMPLE["gates"]["maximal_tests"] is False
    runs: dict[str, list[tuple[str, str]]] = {d: [] for d in days}
    for item in EXAMPLE["schedule"]:
        for d in days if item["days"] == "daily" else item["days"]:
            runs[d].append((item["protocol"], item["params"].get("mode", "")))
    assert all(("texture_discrimination", "training") in r for r in runs.values())
    assert [d for d, r in runs.items() if ("vibration_threshold", "assessment") in r] == ["mon"]
    assert all(("vibration_threshold", "training") in r for d, r in runs.items() if d != "mon")
    motor = {i["protocol"]: i["params"] for i in EXAMPLE["schedule"] if "mode" not in i["params"]}
    assert set(motor) == {"motor_imagery", "force_steadiness"}
    # light, early after a repair: a fraction of a comfortable (not a maximal) squeeze
    assert motor["force_steadiness"]["max_level_pct"] <= 25
    assert EXAMPLE["caps"]["max_vibration_g"] <= 3.0  # station.example.toml's hard caps
    assert EXAMPLE["caps"]["daily_vibration_min"] <= 30
    # the station's own check, against the simulated station's hardware, accepts it
    cfg = config.validate({})
    station_plan = planmod.from_dict(EXAMPLE, cfg.station_id, StationAbilities.of(cfg))
    assert {i.protocol for i in station_plan.schedule} <= set(PROTOCOLS)


#: (instance, schema name) pairs, valid and invalid, on which both validators must agree.
CORPUS: list[tuple[Any, str]] = [
    (PLAN, "rehab.plan/1"),
    (EXAMPLE, "rehab.plan/1"),
    (plan(caps__max_force_n=500), "rehab.plan/1"),
    (plan(caps__max_force_n=0.4), "rehab.plan/1"),
    (plan(caps__max_force_n="15"), "rehab.plan/1"),
    (plan(caps__max_force_n=True), "rehab.plan/1"),
    (plan(caps__pain_stop_nrs=5.0), "rehab.plan/1"),
    (plan(caps__pain_stop_nrs=5.5), "rehab.plan/1"),
    (plan(caps__force_ceiling_pct_other_hand=50), "rehab.plan/1"),
    (plan(caps__force_ceiling_pct_other_hand=2), "rehab.plan/1"),
    (plan(caps__extra=1), "rehab.plan/1"),
    (plan(caps__max_force_n=...), "rehab.plan/1"),
    (plan(gates=...), "rehab.plan/1"),
    (plan(gates={"maximal_tests": 1}), "rehab.plan/1"),
    (plan(surprise=1), "rehab.plan/1"),
    (plan(schema="rehab.plan/2"), "rehab.plan/1"),
    (plan(plan_version=0), "rehab.plan/1"),
    (plan(plan_version=3.0), "rehab.plan/1"),
    (plan(plan_version=2**31), "rehab.plan/1"),
    (plan(station_id="st/0001"), "rehab.plan/1"),
    (plan(issued_by=""), "rehab.plan/1"),
    (plan(issued_by="x" * 65), "rehab.plan/1"),
    (plan(issued_at="2026-11-20 10:00"), "rehab.plan/1"),
    (plan(schedule=[]), "rehab.plan/1"),
    (plan(schedule=[PLAN["schedule"][0]] * 17), "rehab.plan/1"),
    (plan(schedule__0__days="daily"), "rehab.plan/1"),
    (plan(schedule__0__days="weekly"), "rehab.plan/1"),
    (plan(schedule__0__days=["mon", "mon"]), "rehab.plan/1"),
    (plan(schedule__0__days=["funday"]), "rehab.plan/1"),
    (plan(schedule__0__days=[]), "rehab.plan/1"),
    (plan(schedule__0__protocol="maxgrip"), "rehab.plan/1"),
    (plan(schedule__0__params={f"k{i}": i for i in range(33)}), "rehab.plan/1"),
    (plan(schedule__0__params=[]), "rehab.plan/1"),
    ([1, 2], "rehab.plan/1"),
    (None, "rehab.plan/1"),
    ({"msg_ids": ["a"]}, "rehab.ack/1"),
    ({"msg_ids": []}, "rehab.ack/1"),
    ({"msg_ids": [1]}, "rehab.ack/1"),
    ({"msg_ids": ["a"], "seqs": [1]}, "rehab.ack/1"),
    ({"plan_version": 3, "status": "accepted", "reason": ""}, "rehab.plan_result/1"),
    ({"plan_version": None, "status": "rejected", "reason": "x"}, "rehab.plan_result/1"),
    ({"plan_version": 3, "status": "maybe", "reason": ""}, "rehab.plan_result/1"),
    ({"passed": True}, "rehab.selftest/1"),
    ({"passed": True, "checks": [{"name": "lcd", "status": "PASS"}]}, "rehab.selftest/1"),
    ({"passed": True, "checks": [{"name": "lcd", "status": "ok"}]}, "rehab.selftest/1"),
    ({"passed": "yes"}, "rehab.selftest/1"),
]


def session_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "session_id": "s-1",
        "started_at": "2026-11-20T09:50:00Z",
        "ended_at": "2026-11-20T10:02:31Z",
        "state": "complete",
        "complete": True,
        "ended_reason": "",
        "protocols": [
            {
                "protocol": "max_grip",
                "trials": 6,
                "metrics": {
                    "involved_mean_force": {
                        "value": 80.1,
                        "unit": "N",
                        "uncertainty": 2.1,
                        "hand": "left",
                        "n": 3,
                    },
                    "involved_cv": {"value": None, "unit": "%"},
                },
            }
        ],
        "adherence": {"minutes": 12.5, "trials": 6, "days_this_week": 3},
        "checkin": {
            "pain_before": 2,
            "pain_after": None,
            "new_numbness": False,
            "wound_problem": None,
        },
        "safety_events": [
            {
                "t_s": 12.0,
                "at": "2026-11-20T09:51:00Z",
                "kind": "pain_rise",
                "code": "S3",
                "detail": {"from": 2, "to": 5},
            }
        ],
        "data_quality": {"bus_errors": 0, "overruns": 0, "calibration_age_days": 12},
        "software_version": "0.1.0",
        "plan_version": 3,
    }
    body.update(over)
    return body


CORPUS += [
    (session_body(), "rehab.session/1"),
    (session_body(plan_version=None), "rehab.session/1"),
    (session_body(adherence={"minutes": 1, "trials": 1, "days_this_week": 8}), "rehab.session/1"),
    (
        session_body(
            checkin={
                "pain_before": 11,
                "pain_after": 0,
                "new_numbness": False,
                "wound_problem": False,
            }
        ),
        "rehab.session/1",
    ),
    (
        session_body(protocols=[{"protocol": "max_grip", "metrics": {"f": {"value": 1}}}]),
        "rehab.session/1",
    ),
    (session_body(complete="yes"), "rehab.session/1"),
    ({k: v for k, v in session_body().items() if k != "checkin"}, "rehab.session/1"),
    (
        {
            "schema": "rehab.status/1",
            "station_id": "st-0001",
            "state": "online",
            "last_seen": "2026-11-20T10:00:00.123Z",
            "outbox_depth": 0,
        },
        "rehab.status/1",
    ),
    (
        {
            "schema": "rehab.status/1",
            "station_id": "st-0001",
            "state": "asleep",
            "last_seen": "2026-11-20T10:00:00Z",
        },
        "rehab.status/1",
    ),
    *(
        (
            {
                "schema": "rehab.status/1",
                "station_id": "st-0001",
                "state": "online",
                "last_seen": "2026-11-20T10:00:00Z",
                "plan": plan_state,
            },
            "rehab.status/1",
        )
        for plan_state in (
            {"version": 3, "state": "refused", "reason": "schedule[0].params.x: unknown"},
            {"version": None, "state": "none", "reason": ""},
            {"version": 3, "state": "stale", "reason": ""},
            {"version": 3, "state": "in_force"},
        )
    ),
    *(
        (
            {"plan_version": 3, "status": "accepted", "reason": "", "station_caps": caps},
            "rehab.plan_result/1",
        )
        for caps in (
            [{"cap": "max_force_n", "plan": 40, "station": 30.0, "unit": "N"}],
            [{"cap": "max_force_n", "plan": 40, "station": "30", "unit": "N"}],
            [{"cap": "max_force_n", "plan": 40, "unit": "N"}],
        )
    ),
]


def sensory_protocol(**threshold_over: Any) -> dict[str, Any]:
    """A vibration_threshold assessment entry as ``docs/mqtt-contract.md`` shows it, with
    changes to ``site0_threshold`` (the value ``...`` deletes the key)."""
    threshold: dict[str, Any] = {
        "value": -21.4,
        "unit": "dB",
        "uncertainty": 1.6,
        "ci68": [-23.0, -19.8],
        "ci95": [-24.6, -18.1],
        "interval": "posterior credible interval",
        "physical": {"value": 0.085, "unit": "g", "ci95": [0.059, 0.124]},
        "site": 0,
        "hand": "right",
        "mode": "assessment",
        "procedure": "quest_plus",
        "real_change": {
            "flag": True,
            "direction": "better",
            "previous_session": "s-0",
            "previous_value": -16.2,
            "previous_ci95": [-18.0, -14.5],
            "rule": "95 % intervals do not overlap",
        },
    }
    for key, value in threshold_over.items():
        if value is ...:
            del threshold[key]
        else:
            threshold[key] = value
    return {
        "protocol": "vibration_threshold",
        "trials": 50,
        "metrics": {
            "site0_threshold": threshold,
            "site0_trials": {"value": 50, "unit": "count"},
            "site0_percent_correct": {"value": 78.0, "unit": "%", "n": 50},
            "site0_catch_correct": {"value": 100.0, "unit": "%", "n": 5},
            "site0_lapse": {"value": 0.02, "unit": "1", "uncertainty": 0.015},
            "site0_contact_compliance": {"value": 96.4, "unit": "%", "repeats": 2},
            "vibration_time": {"value": 41.5, "unit": "s"},
            "vibration_a8": {"value": 0.004, "unit": "m/s2"},
        },
    }


def sensory_body(**threshold_over: Any) -> dict[str, Any]:
    return session_body(protocols=[sensory_protocol(**threshold_over)])


CORPUS += [
    (sensory_body(), "rehab.session/1"),
    (sensory_body(real_change=..., ci68=None, ci95=None, value=None), "rehab.session/1"),
    (
        sensory_body(
            real_change={
                "flag": False,
                "direction": None,
                "previous_session": "s-0",
                "previous_value": -20.0,
                "previous_ci95": [-22.0, -18.0],
                "rule": "intervals overlap",
            }
        ),
        "rehab.session/1",
    ),
    (sensory_body(ci95=[-24.6]), "rehab.session/1"),
    (sensory_body(ci95=[-24.6, -18.1, 0.0]), "rehab.session/1"),
    (sensory_body(ci95=["-24.6", -18.1]), "rehab.session/1"),
    (sensory_body(ci95=-24.6), "rehab.session/1"),
    (sensory_body(physical={"value": 0.085}), "rehab.session/1"),
    (sensory_body(mode="weekly"), "rehab.session/1"),
    (sensory_body(procedure="psi"), "rehab.session/1"),
    (sensory_body(site=-1), "rehab.session/1"),
    (sensory_body(real_change={"flag": True}), "rehab.session/1"),
    (
        sensory_body(
            real_change={
                "flag": True,
                "direction": None,
                "previous_session": "s-0",
                "previous_value": -16.2,
                "previous_ci95": [-18.0, -14.5],
                "rule": "95 % intervals do not overlap",
            }
        ),
        "rehab.session/1",
    ),
    (
        sensory_body(
            real_change={
                "flag": True,
                "direction": "better",
                "previous_session": "s-0",
                "previous_value": -16.2,
                "previous_ci95": [-18.0, -14.5],
                "rule": "intervals overlap",
            }
        ),
        "rehab.session/1",
    ),
]


def test_mqtt_schema_sensory_summary_is_valid() -> None:
    """A summary with the sensory metrics (intervals, physical units, real change) passes."""
    assert schema.errors(sensory_body(), schema.load("rehab.session/1")) == []


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"ci95": [-24.6]},
            "protocols[0].metrics.site0_threshold.ci95: 1 entries, at least 2 required",
        ),
        (
            {"ci95": [-24.6, -18.1, 0.0]},
            "protocols[0].metrics.site0_threshold.ci95: 3 entries, at most 2 allowed",
        ),
        (
            {"ci95": ["-24.6", -18.1]},
            'protocols[0].metrics.site0_threshold.ci95[0]: "-24.6" is a string, expected a number',
        ),
        (
            {"ci95": -24.6},
            "protocols[0].metrics.site0_threshold.ci95: -24.6 is a number, expected an array or",
        ),
        (
            {"physical": {"value": 0.085}},
            "protocols[0].metrics.site0_threshold.physical: the field 'unit' is required",
        ),
        (
            {"mode": "weekly"},
            'protocols[0].metrics.site0_threshold.mode: "weekly" is not one of: "training", ',
        ),
        (
            {"real_change": {"flag": True}},
            "protocols[0].metrics.site0_threshold.real_change: the field 'direction' is required",
        ),
    ],
)
def test_mqtt_schema_malformed_sensory_metric_is_refused_naming_it(
    over: dict[str, Any], message: str
) -> None:
    errs = schema.errors(sensory_body(**over), schema.load("rehab.session/1"))
    assert errs, "expected a violation"
    assert str(errs[0]).startswith(message), str(errs[0])


def test_mqtt_schema_real_change_flag_needs_a_direction_and_a_separating_rule() -> None:
    """A flag raised on overlapping intervals, or without a direction, is refused."""
    doc = schema.load("rehab.session/1")
    change = dict(sensory_protocol()["metrics"]["site0_threshold"]["real_change"])
    assert schema.errors(sensory_body(real_change=change), doc) == []
    for bad in ({"direction": None}, {"rule": "intervals overlap"}, {"flag": False}):
        errs = schema.errors(sensory_body(real_change={**change, **bad}), doc)
        assert [e.path[-1] for e in errs] == ["real_change"], (bad, errs)


def test_mqtt_schema_summaries_without_sensory_fields_stay_valid() -> None:
    """The revision only adds optional keys: a max_grip summary as version 0.1.0 sent it,
    and metrics carrying unknown extra keys, still validate."""
    doc = schema.load("rehab.session/1")
    assert schema.errors(session_body(), doc) == []
    extra = session_body(
        protocols=[
            {
                "protocol": "max_grip",
                "metrics": {"f": {"value": 1.0, "unit": "N", "hand": "both", "future": [1]}},
            }
        ]
    )
    assert schema.errors(extra, doc) == []


def test_mqtt_schema_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    names = schema.names()
    assert names == [
        "rehab.ack/1",
        "rehab.envelope/1",
        "rehab.plan/1",
        "rehab.plan_result/1",
        "rehab.selftest/1",
        "rehab.session/1",
        "rehab.status/1",
    ]
    for name in names:
        doc = schema.load(name)
        jsonschema.Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert doc["$id"].endswith(name)


@pytest.mark.parametrize(("instance", "name"), CORPUS)
def test_mqtt_schema_validator_agrees_with_jsonschema(instance: Any, name: str) -> None:
    doc = schema.load(name)
    ours = not schema.errors(instance, doc)
    theirs = jsonschema.Draft202012Validator(doc).is_valid(instance)
    assert ours == theirs, schema.errors(instance, doc)


def test_mqtt_schema_corpus_has_valid_and_invalid_cases_for_each_schema() -> None:
    for name in {n for _, n in CORPUS}:
        verdicts = {not schema.errors(i, schema.load(name)) for i, n in CORPUS if n == name}
        assert verdicts == {True, False}, name


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        (plan(caps__max_force_n=500), "caps.max_force_n: 500 is above the maximum 200"),
        (plan(caps__max_force_n=0.4), "caps.max_force_n: 0.4 is below the minimum 0.5"),
        (plan(caps__max_force_n="15"), 'caps.max_force_n: "15" is a string, expected a number'),
        (plan(caps__max_force_n=...), "caps: the field 'max_force_n' is required"),
        (plan(surprise=1), "(top level): unknown field 'surprise' (allowed: schema, "),
        (plan(schedule__0__days=["mon", "mon"]), 'schedule[0].days: "mon" appears more than'),
        (plan(schedule__0__days=["funday"]), 'schedule[0].days[0]: "funday" is not one of:'),
        (plan(schedule__0__days="weekly"), 'schedule[0].days: "weekly" must be "daily"'),
        (plan(schedule=[]), "schedule: 0 entries, at least 1 required"),
        (plan(issued_by="x" * 65), "issued_by: 65 characters, at most 64 allowed"),
        (
            plan(caps__pain_stop_nrs=5.5),
            "caps.pain_stop_nrs: 5.5 is a number, expected an integer",
        ),
        (plan(schema="x"), 'schema: "x" must be "rehab.plan/1"'),
        (
            plan(schedule__0__params={f"k{i}": i for i in range(33)}),
            "schedule[0].params: 33 fields, at most 32 allowed",
        ),
    ],
)
def test_mqtt_schema_errors_name_the_path_and_what_is_allowed(instance: Any, message: str) -> None:
    errs = schema.errors(instance, schema.load("rehab.plan/1"))
    assert errs, "expected a violation"
    assert str(errs[0]).startswith(message), str(errs[0])


def test_mqtt_schema_valid_plan_has_no_errors() -> None:
    assert schema.errors(PLAN, schema.load("rehab.plan/1")) == []
    schema.validate(PLAN, schema.load("rehab.plan/1"))


def test_mqtt_schema_validate_raises_first_error_as_value_error() -> None:
    with pytest.raises(ValueError, match=r"^plan_version: 0 is below the minimum 1$"):
        schema.validate(plan(plan_version=0), schema.load("rehab.plan/1"))


def test_mqtt_schema_json_equality_in_enum_const_and_unique_items() -> None:
    s = {"type": "array", "uniqueItems": True}
    assert schema.errors([1, 1.0], s)  # equal numbers
    assert not schema.errors([1, True], s)  # true is not 1 in JSON
    assert not schema.errors([{"a": 1}, {"a": 2}], s)
    assert schema.errors([{"a": 1, "b": 2}, {"b": 2, "a": 1}], s)
    assert schema.errors(True, {"const": 1})
    assert not schema.errors(1.0, {"const": 1})
    assert schema.errors(0, {"enum": [False]})


def test_mqtt_schema_one_of_needs_exactly_one_branch() -> None:
    s = {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]}
    assert not schema.errors(-1, s)
    assert "matches 2 forms" in str(schema.errors(5, s)[0])
    assert schema.errors("x", s)
    for inst in (-1, 5, "x", 2.5):
        assert (not schema.errors(inst, s)) == jsonschema.Draft202012Validator(s).is_valid(inst)


def test_mqtt_schema_unsupported_keyword_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match=r"properties\.a: keywords not supported here: \$ref"):
        schema.check_schema({"properties": {"a": {"$ref": "#/x"}}})
    with pytest.raises(ValueError, match="not supported here: if"):
        schema.check_schema({"if": {}})


def test_mqtt_schema_unknown_name_is_an_error() -> None:
    with pytest.raises(FileNotFoundError):
        schema.load("rehab.nothing/1")
    with pytest.raises(ValueError, match="not a schema name"):
        schema.load("../../etc/passwd")


def test_mqtt_schema_error_limit_bounds_the_report() -> None:
    bad = plan(schedule=[{"protocol": "x", "days": "y"}] * 16)
    assert len(schema.errors(bad, schema.load("rehab.plan/1"), limit=3)) == 3


def test_mqtt_schema_files_are_strict_json() -> None:
    def refuse(constant: str) -> None:
        raise ValueError(constant)

    for f in sorted(schema.SCHEMA_DIR.glob("*.json")):
        json.loads(f.read_text(), parse_constant=refuse)


def nested(depth: int, inner: bytes = b"") -> bytes:
    """``depth`` nested JSON arrays around ``inner``."""
    return b"[" * depth + inner + b"]" * depth


def test_mqtt_schema_deeply_nested_instance_is_a_schema_error_never_a_recursion_error() -> None:
    """Nesting that still parses (about 1000 levels) but exhausts the recursion of the
    validator's ``const``/``uniqueItems`` comparison or of a message's value rendering."""
    seen = 0
    for depth in range(850, 1000, 5):
        for doc in (
            b'{"schema": ' + nested(depth) + b', "msg_ids": []}',  # const: _canon
            b'{"schema": "rehab.ack/1", "msg_ids": ' + nested(depth) + b"}",  # _show
        ):
            try:
                instance = json.loads(doc)
            except RecursionError:
                continue  # too deep for the reader itself: refused before validation
            errs = schema.errors(instance, schema.load("rehab.ack/1"))
            assert errs, depth
            seen += any("nested too deeply" in str(e) for e in errs)
            with pytest.raises(schema.SchemaError):
                schema.validate(instance, schema.load("rehab.ack/1"))
    assert seen, "no depth reached the recursion limit: the test checks nothing"


def test_mqtt_schema_show_of_a_deep_value_names_its_type() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    err = schema.errors({"schema": "rehab.ack/1", "msg_ids": [deep]}, schema.load("rehab.ack/1"))
    assert (
        str(err[0])
        == "msg_ids[0]: (an array nested too deeply to show) is an array, expected a string"
    )
