"""The clinician's plan (``rehab.plan/1``): what to do on which days, within which caps.

A plan arrives over MQTT (already schema-checked by ``mqtt_bridge.plans``) or from a file.
:func:`from_dict` checks it again against the station's own hard limits, independent of
the clinician's input (``reference/MQTT.md`` §10.2), and names the field of any problem.
The *effective* caps are always the tighter of the plan's and the station config's: a plan
can lower a cap, never raise it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mqtt_bridge import envelope
from mqtt_bridge.plans import StationCap
from station.catalog import CATALOG, StationAbilities
from station.protocol_params import ParamError, parse_params

SCHEMA = "rehab.plan/1"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_PLAN_BYTES = 16 * 1024

#: cap name -> (min, max, unit); None allowed only where noted.
CAP_LIMITS: dict[str, tuple[float, float, str]] = {
    "max_vibration_g": (0.05, 10.0, "g"),
    "daily_vibration_min": (0.0, 120.0, "min"),
    "max_force_n": (0.5, 200.0, "N"),
    "force_ceiling_pct_other_hand": (5.0, 100.0, "%"),
    "max_session_min": (1.0, 120.0, "min"),
    "min_rest_s": (15.0, 600.0, "s"),
    "pain_stop_nrs": (1, 10, "NRS"),
    "pain_rise_stop": (1, 10, "NRS points"),
}
OPTIONAL_CAPS = ("force_ceiling_pct_other_hand",)


class PlanError(ValueError):
    """A plan problem a clinician can act on; ``field`` is the dotted path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Caps:
    max_vibration_g: float
    daily_vibration_min: float
    max_force_n: float
    max_session_min: float
    min_rest_s: float
    pain_stop_nrs: int
    pain_rise_stop: int
    force_ceiling_pct_other_hand: float | None = None

    def tightened_by(self, station: dict[str, Any]) -> Caps:
        """These caps bounded by the station config's ``[safety]`` hard caps."""
        return Caps(
            max_vibration_g=min(self.max_vibration_g, station["max_vibration_g"]),
            daily_vibration_min=min(self.daily_vibration_min, station["daily_vibration_min"]),
            max_force_n=min(self.max_force_n, station["max_force_n"]),
            max_session_min=min(self.max_session_min, station["max_session_min"]),
            min_rest_s=max(self.min_rest_s, station["min_rest_s"]),
            pain_stop_nrs=self.pain_stop_nrs,
            pain_rise_stop=self.pain_rise_stop,
            force_ceiling_pct_other_hand=self.force_ceiling_pct_other_hand,
        )

    def station_applies(self, station: dict[str, Any]) -> list[StationCap]:
        """The caps the station's ``[safety]`` tightens, with the plan's value and its own."""
        tight = self.tightened_by(station)
        return [
            StationCap(name, getattr(self, name), getattr(tight, name), unit)
            for name, (_, _, unit) in CAP_LIMITS.items()
            if getattr(self, name) != getattr(tight, name)
        ]


@dataclass(frozen=True)
class ScheduleItem:
    protocol: str
    days: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def on(self, day: str) -> bool:
        return day in self.days


@dataclass(frozen=True)
class Plan:
    station_id: str
    plan_version: int
    issued_at: str
    issued_by: str
    caps: Caps
    maximal_tests: bool
    schedule: tuple[ScheduleItem, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def today(self, date: dt.date) -> list[ScheduleItem]:
        """The schedule items due on ``date``, in plan order."""
        day = DAYS[date.weekday()]
        return [item for item in self.schedule if item.on(day)]

    def effective_caps(self, station_safety: dict[str, Any]) -> Caps:
        return self.caps.tightened_by(station_safety)


def from_dict(
    d: Any, station_id: str | None = None, station: StationAbilities | None = None
) -> Plan:
    """Validate a parsed plan; raises :class:`PlanError` naming the field. With
    ``station``, each protocol is also checked against what that station's hardware can
    do (motors under the pads it names, frequency control, textures)."""
    if not isinstance(d, dict):
        raise PlanError("(plan)", "must be a JSON object")
    allowed = {
        "schema",
        "station_id",
        "plan_version",
        "issued_at",
        "issued_by",
        "caps",
        "gates",
        "schedule",
    }
    for key in d:
        if key not in allowed:
            raise PlanError(key, f"unknown field (allowed: {', '.join(sorted(allowed))})")
    if d.get("schema") != SCHEMA:
        raise PlanError("schema", f"must be {SCHEMA!r}, got {d.get('schema')!r}")
    sid = _str(d, "station_id", 64)
    if station_id is not None and sid != station_id:
        raise PlanError("station_id", f"is {sid!r} but this station is {station_id!r}")
    version = d.get("plan_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PlanError("plan_version", f"must be an integer >= 1, got {version!r}")
    issued_at = _str(d, "issued_at", 40)
    try:
        dt.datetime.fromisoformat(issued_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PlanError("issued_at", f"must be an ISO 8601 time, got {issued_at!r}") from exc
    issued_by = _str(d, "issued_by", 64)
    caps = _caps(d.get("caps"))
    gates = d.get("gates", {})
    if not isinstance(gates, dict) or set(gates) - {"maximal_tests"}:
        raise PlanError("gates", "must be an object with only 'maximal_tests'")
    maximal = gates.get("maximal_tests", False)
    if not isinstance(maximal, bool):
        raise PlanError("gates.maximal_tests", f"must be true or false, got {maximal!r}")
    schedule = _schedule(d.get("schedule"), station)
    return Plan(sid, version, issued_at, issued_by, caps, maximal, schedule, raw=d)


def parse(payload: bytes, station_id: str | None = None) -> Plan:
    """Parse and validate a plan from bytes (size cap, UTF-8, JSON, fields)."""
    if len(payload) > MAX_PLAN_BYTES:
        raise PlanError("(plan)", f"is {len(payload)} bytes; the limit is {MAX_PLAN_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError("(plan)", "is not UTF-8 text") from exc
    try:
        data = envelope.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError("(plan)", f"is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except ValueError as exc:  # a key twice, NaN, 1e999, too deep
        raise PlanError("(plan)", f"is not valid JSON ({exc})") from exc
    return from_dict(data, station_id)


def load(path: str | Path, station_id: str | None = None) -> Plan:
    return parse(Path(path).read_bytes(), station_id)


def semantic_check(
    d: dict[str, Any],
    station_id: str,
    station_safety: dict[str, Any] | None = None,
    station: StationAbilities | None = None,
) -> list[StationCap]:
    """For the MQTT client: raise ValueError with a clinician-readable reason; else the
    caps the station's ``[safety]`` tightens (the plan is accepted, they apply)."""
    plan = from_dict(d, station_id, station)
    return plan.caps.station_applies(station_safety) if station_safety is not None else []


def _str(d: dict[str, Any], key: str, max_len: int) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v or len(v) > max_len:
        raise PlanError(
            key, f"must be a non-empty string of at most {max_len} characters, got {v!r}"
        )
    return v


def _number(path: str, v: Any, lo: float, hi: float, unit: str, integer: bool) -> float:
    ok_type = isinstance(v, int) if integer else isinstance(v, int | float)
    if isinstance(v, bool) or not ok_type or not lo <= v <= hi:
        kind = "an integer" if integer else "a number"
        raise PlanError(path, f"must be {kind} from {lo:g} to {hi:g} {unit}, got {v!r}")
    return v


def _caps(c: Any) -> Caps:
    if not isinstance(c, dict):
        raise PlanError("caps", "must be an object")
    unknown = set(c) - set(CAP_LIMITS)
    if unknown:
        raise PlanError(
            f"caps.{sorted(unknown)[0]}", "unknown cap (allowed: " + ", ".join(CAP_LIMITS) + ")"
        )
    values: dict[str, Any] = {}
    for name, (lo, hi, unit) in CAP_LIMITS.items():
        if name not in c:
            if name in OPTIONAL_CAPS:
                values[name] = None
                continue
            raise PlanError(f"caps.{name}", "is missing")
        if c[name] is None and name in OPTIONAL_CAPS:
            values[name] = None
            continue
        integer = name.startswith("pain_")
        values[name] = _number(f"caps.{name}", c[name], lo, hi, unit, integer)
    return Caps(**values)


def _schedule(s: Any, station: StationAbilities | None = None) -> tuple[ScheduleItem, ...]:
    if not isinstance(s, list) or not 1 <= len(s) <= 16:
        raise PlanError("schedule", "must be a list of 1 to 16 items")
    items = []
    for i, item in enumerate(s):
        path = f"schedule[{i}]"
        if not isinstance(item, dict) or set(item) - {"protocol", "days", "params"}:
            raise PlanError(path, "must be an object with protocol, days and params")
        proto = item.get("protocol")
        if not isinstance(proto, str) or proto not in CATALOG:
            raise PlanError(
                f"{path}.protocol", f"must be one of {', '.join(CATALOG)}, got {proto!r}"
            )
        days = item.get("days")
        if days == "daily":
            days = list(DAYS)
        if (
            not isinstance(days, list)
            or not days
            or len(set(days)) != len(days)
            or any(day not in DAYS for day in days)
        ):
            raise PlanError(
                f"{path}.days",
                'must be "daily" or a list of distinct day '
                f"names from {', '.join(DAYS)}, got {item.get('days')!r}",
            )
        params = item.get("params", {})
        if not isinstance(params, dict) or len(params) > 32:
            raise PlanError(f"{path}.params", "must be an object with at most 32 keys")
        _check_params(path, proto, params, station)
        items.append(ScheduleItem(proto, tuple(days), dict(params)))
    return tuple(items)


def _check_params(
    path: str, proto: str, params: dict[str, Any], station: StationAbilities | None = None
) -> None:
    """The params of a protocol this station runs are checked against its catalogue entry
    now (and against the station's hardware when known), so a plan it could not run is
    refused when it arrives, never accepted to fail at session time."""
    spec = CATALOG[proto]
    try:
        parsed = parse_params(spec.params, params)
    except ParamError as exc:
        where = f"{path}.params.{exc.key}" if exc.key else f"{path}.params"
        raise PlanError(where, exc.message) from None
    if spec.params_check is not None:
        wrong = spec.params_check(parsed)
        if wrong is not None:
            raise PlanError(f"{path}.params.{wrong[0]}", wrong[1])
    if station is not None and spec.station_check is not None:
        problem = spec.station_check(parsed, station)
        if problem is not None:
            raise PlanError(path, f"{proto} cannot run on this station: {problem}")


def default_sim_plan(
    station_id: str, today: dt.date | None = None, trials_per_hand: int = 3
) -> Plan:
    """The built-in plan for ``--sim``: maximal grip on both hands, allowed, every day
    (``trials_per_hand`` fewer than the ASHT's 3: a shorter session of the same plan)."""
    issued = (today or dt.date.today()).isoformat() + "T08:00:00Z"
    return from_dict(
        {
            "schema": SCHEMA,
            "station_id": station_id,
            "plan_version": 1,
            "issued_at": issued,
            "issued_by": "sim-clinician",
            "caps": {
                "max_vibration_g": 2.0,
                "daily_vibration_min": 20,
                "max_force_n": 20.0,
                "max_session_min": 20,
                "min_rest_s": 15,
                "pain_stop_nrs": 5,
                "pain_rise_stop": 2,
            },
            "gates": {"maximal_tests": True},
            "schedule": [
                {
                    "protocol": "max_grip",
                    "days": "daily",
                    "params": {
                        "hands": ["involved", "uninvolved"],
                        "trials_per_hand": trials_per_hand,
                    },
                }
            ],
        },
        station_id,
    )
