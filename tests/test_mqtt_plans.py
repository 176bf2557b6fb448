"""Inbound plans: parse_plan rejects with actionable reasons; storage is transactional."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plans import PLAN
from plans import example_plan as plan

from mqtt_bridge import outbox, plans, schema
from mqtt_bridge.clocks import ManualClock
from mqtt_bridge.plans import PlanRejected, parse_plan
from station import config
from station import plan as station_plan


def raw(p: dict[str, Any]) -> bytes:
    return json.dumps(p).encode()


def rejected(payload: bytes, **kw: Any) -> PlanRejected:
    with pytest.raises(PlanRejected) as info:
        parse_plan(payload, **kw)
    return info.value


def test_mqtt_plans_valid_plan_is_returned_normalised() -> None:
    p = parse_plan(raw(plan(plan_version=4.0, caps__pain_stop_nrs=5.0)), "st-0001", 3)
    assert p["plan_version"] == 4 and type(p["plan_version"]) is int
    assert type(p["caps"]["pain_stop_nrs"]) is int
    assert p["schedule"] == PLAN["schedule"]


@pytest.mark.parametrize(
    ("payload", "reason", "version"),
    [
        (b" " * (16 * 1024 + 1), "the plan is 16385 bytes; at most 16384 are allowed", None),
        (b"\xff\xfe{}", "the plan is not UTF-8 text (invalid byte at 0)", None),
        (b'{"schema": ', "the plan is not valid JSON: Expecting value at line 1 column 12", None),
        (b'{"plan_version": NaN}', "the plan is not valid JSON: NaN is not valid JSON", None),
        (b"[]", "(top level): [] is an array, expected an object", None),
        (raw(plan(caps__max_force_n=500)), "caps.max_force_n: 500 is above the maximum 200", 3),
        (raw(plan(caps__max_force_n="15")), 'caps.max_force_n: "15" is a string', 3),
        (raw(plan(caps=...)), "(top level): the field 'caps' is required", 3),
        (raw(plan(plan_version=...)), "(top level): the field 'plan_version' is required", None),
        (raw(plan(plan_version="3")), 'plan_version: "3" is a string', None),
        (raw(plan(schedule__0__days="weekly")), 'schedule[0].days: "weekly" must be "daily"', 3),
        (
            raw(plan(issued_at="2026-02-30T10:00:00Z")),
            "issued_at: '2026-02-30T10:00:00Z' is not a real date and time",
            3,
        ),
        (
            raw(plan(station_id="st-0002")),
            "station_id: the plan is for 'st-0002', this station is 'st-0001'",
            3,
        ),
        (
            raw(plan(plan_version=2)),
            "plan_version: 2 is not newer than the active "
            "plan_version 2; send it with plan_version 3 or higher",
            2,
        ),
    ],
)
def test_mqtt_plans_rejection_reason_names_the_problem(
    payload: bytes, reason: str, version: int | None
) -> None:
    exc = rejected(payload, station_id="st-0001", current_version=2)
    assert exc.reason.startswith(reason), exc.reason
    assert exc.plan_version == version
    assert isinstance(exc, ValueError)


def test_mqtt_plans_several_schema_errors_are_listed_together() -> None:
    exc = rejected(raw(plan(caps__max_force_n=500, caps__min_rest_s=5)))
    assert "caps.max_force_n: 500 is above the maximum 200" in exc.reason
    assert "caps.min_rest_s: 5 is below the minimum 15" in exc.reason


def test_mqtt_plans_checks_are_optional_without_station_or_version() -> None:
    assert parse_plan(raw(plan(station_id="st-0009", plan_version=1)))["station_id"] == "st-0009"


def test_mqtt_plans_exactly_16_kib_is_allowed() -> None:
    body = raw(PLAN)
    padded = body[:-1] + b" " * (16 * 1024 - len(body)) + b"}"
    assert len(padded) == 16 * 1024
    assert parse_plan(padded)["plan_version"] == 3


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _mutations() -> st.SearchStrategy[bytes]:
    keys = [
        "schema",
        "station_id",
        "plan_version",
        "issued_at",
        "issued_by",
        "caps",
        "gates",
        "schedule",
    ]
    replace = st.builds(lambda k, v: raw({**PLAN, k: v}), st.sampled_from(keys), JSON)
    caps = st.builds(
        lambda k, v: raw({**PLAN, "caps": {**PLAN["caps"], k: v}}),
        st.sampled_from([*PLAN["caps"], "extra"]),
        JSON,
    )
    truncated = st.builds(lambda n: raw(PLAN)[:n], st.integers(0, len(raw(PLAN))))
    return (
        st.binary(max_size=300)
        | replace
        | caps
        | truncated
        | JSON.map(lambda v: json.dumps(v).encode())
    )


@settings(max_examples=400, deadline=None)
@given(_mutations())
def test_mqtt_plans_fuzz_parse_plan_only_raises_plan_rejected(payload: bytes) -> None:
    try:
        p = parse_plan(payload, "st-0001", 2)
    except PlanRejected as exc:
        assert exc.reason
        return
    assert p["plan_version"] > 2 and p["station_id"] == "st-0001"


def db(tmp_path: Path) -> sqlite3.Connection:
    conn = outbox.connect(tmp_path / "station.db")
    plans.ensure_tables(conn)
    return conn


def results(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in conn.execute("SELECT body FROM outbox ORDER BY seq")]


def test_mqtt_plans_receive_accepts_stores_and_answers_in_one_transaction(tmp_path: Path) -> None:
    conn = db(tmp_path)
    out = plans.receive_plan(conn, "st-0001", raw(PLAN), correlation=b"c-3")
    assert (out.status, out.plan_version) == ("accepted", 3)
    assert plans.active_version(conn) == 3 and plans.active_plan(conn) == PLAN
    assert results(conn) == [
        {"plan_version": 3, "status": "accepted", "reason": "", "active_plan_version": 3}
    ]
    row = conn.execute("SELECT kind, ack_mode, correlation FROM outbox").fetchone()
    assert row == ("plan/result", "puback", b"c-3")


def test_mqtt_plans_decision_is_stamped_by_the_injected_wall_clock(tmp_path: Path) -> None:
    """The stored plan, its answer's digest and the answer's outbox row carry one reading of
    the wall clock the station gives; a later rejection carries a later one."""
    conn = db(tmp_path)
    clock = ManualClock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    plans.receive_plan(conn, "st-0001", raw(PLAN), wall_clock=clock.wall)
    clock.advance(3 * 86400.0)
    plans.answer_unhandled(conn, b"{", None, "could not handle it", wall_clock=clock.wall)
    first, later = "2026-11-20T10:00:00.000Z", "2026-11-23T10:00:00.000Z"
    assert conn.execute("SELECT received_at FROM plans").fetchall() == [(first,)]
    answered = conn.execute("SELECT answered_at, status FROM plan_answers ORDER BY rowid")
    assert answered.fetchall() == [(first, "accepted"), (later, "rejected")]
    created = conn.execute("SELECT created_at FROM outbox ORDER BY seq").fetchall()
    assert created == [(first,), (later,)]


def test_mqtt_plans_receive_rejection_leaves_active_plan(tmp_path: Path) -> None:
    conn = db(tmp_path)
    plans.receive_plan(conn, "st-0001", raw(PLAN))
    out = plans.receive_plan(conn, "st-0001", raw(plan(plan_version=4, caps__max_force_n=900)))
    assert out.status == "rejected" and "caps.max_force_n" in out.reason
    assert plans.active_plan(conn) == PLAN
    assert results(conn)[-1]["active_plan_version"] == 3


def test_mqtt_plans_semantic_check_can_refuse(tmp_path: Path) -> None:
    conn = db(tmp_path)

    def check(p: dict[str, Any]) -> None:
        raise ValueError("schedule[0].protocol: 'max_grip' needs a force pad; none fitted")

    out = plans.receive_plan(conn, "st-0001", raw(PLAN), semantic_check=check)
    assert (out.status, out.plan_version) == ("rejected", 3)
    assert results(conn)[0]["reason"].endswith("none fitted")
    assert plans.active_version(conn) is None


def test_mqtt_plans_semantic_check_crash_is_a_rejection_not_an_acceptance(tmp_path: Path) -> None:
    conn = db(tmp_path)

    def broken(p: dict[str, Any]) -> None:
        raise ZeroDivisionError

    out = plans.receive_plan(conn, "st-0001", raw(PLAN), semantic_check=broken)
    assert out.status == "rejected"
    assert "could not check the plan (ZeroDivisionError)" in out.reason
    assert plans.active_version(conn) is None


def test_mqtt_plans_redelivery_and_cleared_retained_need_no_answer(tmp_path: Path) -> None:
    conn = db(tmp_path)
    plans.receive_plan(conn, "st-0001", raw(PLAN))
    assert plans.receive_plan(conn, "st-0001", raw(PLAN)).status == "redelivered"
    assert plans.receive_plan(conn, "st-0001", b"").status == "cleared"
    assert len(results(conn)) == 1


def test_mqtt_plans_a_message_answered_once_is_not_answered_again(tmp_path: Path) -> None:
    """Rejected or accepted, the same bytes (and correlation data) again are a redelivery:
    before, a rejected retained plan was answered again on every reconnect, and an accepted
    one sent as ``"plan_version": 3.0`` was stored normalised and its replay answered
    "3 is not newer than 3"."""
    conn = db(tmp_path)
    bad = raw(plan(plan_version=4, caps__max_force_n=500))
    as_float = raw(PLAN).replace(b'"plan_version": 3', b'"plan_version": 3.0')
    assert b"3.0" in as_float
    statuses = [
        plans.receive_plan(conn, "st-0001", payload, correlation=b"c-1").status
        for payload in (bad, bad, as_float, as_float, bad)
    ]
    assert statuses == ["rejected", "redelivered", "accepted", "redelivered", "redelivered"]
    assert [(r["plan_version"], r["status"]) for r in results(conn)] == [
        (4, "rejected"),
        (3, "accepted"),
    ]
    # The same bytes with new correlation data: a clinic asking again on purpose.
    out = plans.receive_plan(conn, "st-0001", bad, correlation=b"c-2")
    assert out.status == "rejected" and len(results(conn)) == 3
    assert plans.active_version(conn) == 3


def test_mqtt_plans_answered_digests_are_bounded(tmp_path: Path) -> None:
    conn = db(tmp_path)
    for i in range(plans.MAX_ANSWERS + 5):
        plans.receive_plan(conn, "st-0001", b"not json %d" % i)
    (n,) = conn.execute("SELECT count(*) FROM plan_answers").fetchone()
    assert n == plans.MAX_ANSWERS
    last = b"not json %d" % (plans.MAX_ANSWERS + 4)
    assert plans.was_answered(conn, plans.message_digest(last))
    assert not plans.was_answered(conn, plans.message_digest(b"not json 0"))


def test_mqtt_plans_database_error_propagates_and_stores_nothing(tmp_path: Path) -> None:
    conn = db(tmp_path)
    conn.execute("PRAGMA query_only=ON")
    with pytest.raises(sqlite3.OperationalError):
        plans.receive_plan(conn, "st-0001", raw(PLAN))
    conn.execute("PRAGMA query_only=OFF")
    assert plans.active_version(conn) is None and results(conn) == []
    assert not conn.in_transaction


def test_mqtt_plans_deeply_nested_values_are_rejected_never_raise() -> None:
    """A plan nested deep enough to parse (under 16 KiB) but to exhaust the validator's
    recursion (``days`` is compared for uniqueness) is a PlanRejected like any other."""
    reasons = set()
    for depth in range(850, 1000, 10):
        deep = b"[" * depth + b"]" * depth
        doc = raw(plan(plan_version=4, schedule__0__days=["mon", "tue"])).replace(
            b'["mon", "tue"]', b"[" + deep + b", " + deep + b"]"
        )
        reasons.add(rejected(doc, station_id="st-0001").reason)
    assert "(top level): nested too deeply to check" in reasons


def station_check(**safety: float) -> plans.SemanticCheck:
    """The station's own check (``station.plan``) with its ``[safety]`` caps changed."""
    limits = {**config.defaults()["safety"], **safety}
    return lambda d: station_plan.semantic_check(d, "st-0001", limits)


def test_mqtt_plans_accepted_answer_names_the_caps_the_station_tightens(tmp_path: Path) -> None:
    conn = db(tmp_path)
    check = station_check(max_force_n=30.0, max_vibration_g=1.5)
    out = plans.receive_plan(conn, "st-0001", raw(plan(caps__max_force_n=40)), semantic_check=check)
    assert (out.status, plans.active_version(conn)) == ("accepted", 3)
    (answer,) = results(conn)
    assert answer == {
        "plan_version": 3,
        "status": "accepted",
        "reason": "the station's caps apply: max_vibration_g 2 -> 1.5 g, max_force_n 40 -> 30 N",
        "active_plan_version": 3,
        "station_caps": [
            {"cap": "max_vibration_g", "plan": 2.0, "station": 1.5, "unit": "g"},
            {"cap": "max_force_n", "plan": 40, "station": 30.0, "unit": "N"},
        ],
    }
    assert schema.errors(answer, schema.load("rehab.plan_result/1")) == []


def test_mqtt_plans_accepted_answer_within_the_station_caps_names_none(tmp_path: Path) -> None:
    conn = db(tmp_path)
    plans.receive_plan(conn, "st-0001", raw(PLAN), semantic_check=station_check())
    assert results(conn) == [
        {"plan_version": 3, "status": "accepted", "reason": "", "active_plan_version": 3}
    ]


def test_mqtt_plans_active_plan_state_none_then_in_force(tmp_path: Path) -> None:
    conn = db(tmp_path)
    assert plans.check_active(conn, "st-0001", station_check()) == plans.PlanState(None, "none")
    plans.receive_plan(conn, "st-0001", raw(PLAN), semantic_check=station_check())
    state = plans.check_active(conn, "st-0001", station_check())
    assert state == plans.PlanState(3, "in_force")
    assert state.as_status() == {"version": 3, "state": "in_force", "reason": ""}


def test_mqtt_plans_stored_plan_this_version_refuses_is_refused_naming_why(
    tmp_path: Path,
) -> None:
    """A plan an earlier software version stored, with a parameter this one refuses."""
    conn = db(tmp_path)
    old = plan(schedule__0__params__trials_per_hnd=6)
    plans.store_plan(conn, old, "2026-11-20T10:00:01Z")
    assert plans.check_active(conn, "st-0001", station_check()) == plans.PlanState(
        3,
        "refused",
        "schedule[0].params.trials_per_hnd: unknown parameter; known: hands, pad, trials_per_hand",
    )
    # and the schema of this version is applied too
    conn.execute("UPDATE plans SET body = ?", (json.dumps(plan(caps__max_force_n=900)),))
    state = plans.check_active(conn, "st-0001", None)
    assert (state.state, state.reason) == (
        "refused",
        "caps.max_force_n: 900 is above the maximum 200",
    )


def test_mqtt_plans_active_plan_unreadable_or_check_crash_is_refused(tmp_path: Path) -> None:
    conn = db(tmp_path)
    plans.store_plan(conn, PLAN, "2026-11-20T10:00:01Z")

    def broken(p: dict[str, Any]) -> None:
        raise ZeroDivisionError

    state = plans.check_active(conn, "st-0001", broken)
    assert state == plans.PlanState(
        3, "refused", "the station could not check the plan (ZeroDivisionError)"
    )
    conn.execute("UPDATE plans SET body = '{not json'")
    state = plans.check_active(conn, "st-0001", station_check())
    assert (state.version, state.state) == (3, "refused")
    assert state.reason.startswith("the stored plan is not valid JSON (Expecting property")
