"""A plan looked at before it is sent (``clinic send-plan``): would a station running this
software version take it, and does it give the patient something to do on each day it lists?

A plan the station accepts can still run nothing, e.g. only maximal grip with
``gates.maximal_tests`` false: the patient would get empty sessions until a new plan.
"""

from __future__ import annotations

from typing import Any

from station.plan import DAYS, PlanError, from_dict
from station.protocols import PROTOCOLS


def review(d: dict[str, Any], station_id: str) -> list[str]:
    """What a station of this version would make of ``d`` (a plan that passed the MQTT
    contract's checks), one sentence per problem; empty when it would run it as meant."""
    try:
        from_dict(d, station_id)
    except PlanError as exc:  # then it runs nothing at all: no need to go day by day
        return [f"a station on this software version would refuse it: {exc}"]
    problems = []
    by_reasons: dict[tuple[str, ...], list[str]] = {}
    for day, why in idle_days(d).items():
        by_reasons.setdefault(tuple(why), []).append(day)
    for reasons, days in by_reasons.items():
        problems.append(f"it runs nothing on {', '.join(days)}: {'; '.join(reasons)}")
    return problems


def idle_days(d: dict[str, Any]) -> dict[str, list[str]]:
    """The days the schedule of ``d`` lists on which this software version runs none of its
    protocols, in week order, each with why its protocols do not run."""
    maximal_allowed = (d.get("gates") or {}).get("maximal_tests") is True
    runs: set[str] = set()
    why_not: dict[str, list[str]] = {}
    for item in d["schedule"]:
        days = DAYS if item["days"] == "daily" else item["days"]
        reason = _why_not(item, maximal_allowed)
        for day in days:
            if reason is None:
                runs.add(day)
            elif reason not in why_not.setdefault(day, []):
                why_not[day].append(reason)
    return {day: why_not[day] for day in DAYS if day in why_not and day not in runs}


def _why_not(item: dict[str, Any], maximal_allowed: bool) -> str | None:
    """Why this schedule item would not run on a station of this version, or None."""
    name = item["protocol"]
    factory = PROTOCOLS.get(name)
    if factory is None:
        return f"{name} is not a protocol this software version runs"
    try:
        proto = factory(item.get("params") or {})
    except ValueError:
        return f"{name} has params this software version refuses"
    if proto.maximal and not maximal_allowed:
        return f"{name} is a maximal test and gates.maximal_tests is not true"
    return None


__all__ = ["idle_days", "review"]
