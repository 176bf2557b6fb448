"""A plan looked at before sending: the days it lists on which this version runs nothing."""

from __future__ import annotations

import pytest
from plans import PLAN, example_plan

from station.plan_review import idle_days, review
from station.protocols import PROTOCOLS
from station.protocols.base import Protocol

GATED = "max_grip is a maximal test and gates.maximal_tests is not true"


def test_plan_review_example_plan_runs_on_every_day_it_lists() -> None:
    assert idle_days(PLAN) == {}
    assert review(PLAN, "st-0001") == []


def test_plan_review_maximal_grip_without_maximal_tests_runs_nothing() -> None:
    d = example_plan(gates={"maximal_tests": False})
    assert idle_days(d) == {day: [GATED] for day in ("mon", "wed", "fri")}
    assert review(d, "st-0001") == [f"it runs nothing on mon, wed, fri: {GATED}"]
    assert idle_days(example_plan(gates=...)) == idle_days(d)  # the gate's default is false


def test_plan_review_unknown_protocol_runs_nothing_and_would_be_refused() -> None:
    # In the catalogue (so a plan may name it), but no station this version supports runs it.
    d = example_plan(schedule__0__protocol="frequency_discrimination", schedule__0__params={})
    why = "frequency_discrimination is not a protocol this software version runs"
    assert idle_days(d) == {day: [why] for day in ("mon", "wed", "fri")}
    assert review(d, "st-0001") == [f"it runs nothing on mon, wed, fri: {why}"]
    # Not in the catalogue at all (a newer version's protocol): refused as a whole.
    d = example_plan(schedule__0__protocol="pinch_tracking")
    (problem,) = review(d, "st-0001")
    assert problem.startswith("a station on this software version would refuse it: ")
    assert "schedule[0].protocol" in problem


class Threshold(Protocol):
    """Stands in for a sensory protocol, one that needs no maximal tests."""

    name = "vibration_threshold"


def test_plan_review_only_the_days_with_nothing_to_run_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(PROTOCOLS, Threshold.name, Threshold)
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    d = example_plan(
        gates={"maximal_tests": False},
        schedule=[
            {"protocol": "vibration_threshold", "days": weekdays},
            {"protocol": "max_grip", "days": "daily"},
        ],
    )
    assert idle_days(d) == {"sat": [GATED], "sun": [GATED]}
    d["gates"]["maximal_tests"] = True
    assert idle_days(d) == {}


def test_plan_review_misspelt_param_is_named() -> None:
    d = example_plan(schedule__0__params__trials_per_hnd=6)
    assert review(d, "st-0001") == [
        "a station on this software version would refuse it: schedule[0].params."
        "trials_per_hnd: unknown parameter; known: hands, pad, trials_per_hand"
    ]
