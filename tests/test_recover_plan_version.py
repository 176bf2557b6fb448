"""A session cut by a power loss is summarised at the next start with the plan it ran: its
plan version's protocols and params, not those of the plan in force at the restart.

The power cut is a copy of the station database taken in the middle of the session (what
the disk held at that moment); the restart opens that copy under a newer plan.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from drivers.sim.clock import SimClock
from station import config
from station.journal import SCHEMA_SQL, Journal, Trial
from station.plan import DAYS, Caps, Plan, ScheduleItem
from station.protocol_params import IntParam, Param
from station.protocols import PROTOCOLS
from station.protocols.base import Protocol
from station.protocols.max_grip import MaxGrip
from station.protocols.metrics import metric
from station.runner import SessionRunner
from station.safety import SafetyLayer
from station.storage import check_station_db

TODAY = dt.date(2026, 1, 5)
HANDS = {"involved": "right", "uninvolved": "left"}
CAPS = Caps(2.0, 20.0, 20.0, 20.0, 15.0, 5, 2)
#: Plan v1: the involved hand only, two trials; and a tally that counts 3 per trial.
V1_GRIP = {"hands": ["involved"], "trials_per_hand": 2}
V1_TALLY = {"per_trial": 3}
#: Plan v2: both hands, three trials; the tally is no longer planned.
V2_GRIP = {"hands": ["involved", "uninvolved"], "trials_per_hand": 3}


class QuietPatient:
    """The session's UI: every pain answer 0, no numbness, no wound, OK to everything."""

    def bind(self, check: Callable[[], None] | None) -> None: ...
    def pause_requested(self) -> bool:
        return False

    def prompt(self, key: str, **params: Any) -> None: ...
    def ask_ok(self, key: str, timeout_s: float, *, back: bool = True, **params: Any) -> bool:
        return True

    def ask_yes_no(self, key: str, timeout_s: float) -> bool:
        return False

    def ask_rating(self, key: str, timeout_s: float) -> int:
        return 0

    def countdown(self, key: str, seconds: int, wait: Callable[[float], None]) -> None: ...
    def biofeedback(self, *args: Any, **params: Any) -> None: ...
    def cue(self, name: str) -> None: ...
    def error(self, key: str, code: str) -> None: ...


class JournalledGrip(MaxGrip):
    """Maximal grip as the journal records it, without pads: two squeezes of the involved
    hand (20 N, then 18 N). Its metrics are maximal grip's own."""

    def pads_used(self) -> tuple[int, ...]:
        return ()

    def run(self, ctx: Any) -> None:
        side = ctx.hands["involved"]
        for index, peak in enumerate((20.0, 18.0)):
            t = ctx.clock.now()
            stimulus = {"role": "involved", "pad": 0}
            response = {"peak_force_n": peak, "samples": 400, "gaps": 0}
            ctx.record_trial(Trial("max_grip", index, side, stimulus, response, 0.3, peak, t, t))


class Tally(Protocol):
    """A second protocol: one trial; its metric counts ``per_trial`` for each trial. The
    power goes right after its trial, when ``cut_to`` says where (:func:`power_cut`)."""

    name = "tally"
    PARAMS: ClassVar[Mapping[str, Param]] = {"per_trial": IntParam(1, 10, default=1)}
    cut_to: Path | None = None

    def run(self, ctx: Any) -> None:
        t = ctx.clock.now()
        ctx.record_trial(Trial(self.name, 0, None, {}, {}, None, None, t, t))
        if Tally.cut_to is not None:
            power_cut(ctx.journal, Tally.cut_to)

    def metrics(self, trials: list[Trial], ctx: Any) -> dict[str, Any]:
        return {"count": metric(len(trials) * self.params["per_trial"], "count")}


def power_cut(journal: Journal, to: Path) -> None:
    """What the disk holds at this moment, as a database file of its own."""
    with sqlite3.connect(to) as copy:
        journal.conn.backup(copy)
    copy.close()


def plan(version: int, *items: tuple[str, dict[str, Any]]) -> Plan:
    schedule = tuple(ScheduleItem(name, DAYS, params) for name, params in items)
    return Plan("st-0001", version, "2026-01-01T08:00:00Z", "dr-test", CAPS, True, schedule)


@pytest.fixture
def protocols(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(PROTOCOLS, "max_grip", JournalledGrip)
    monkeypatch.setitem(PROTOCOLS, "tally", Tally)
    yield
    Tally.cut_to = None


class Station:
    """A session runner on ``db`` with ``the_plan``; the summaries it queues in ``sent``."""

    def __init__(self, db: Path, the_plan: Plan) -> None:
        self.clock = SimClock()
        self.journal = Journal(db)
        self.sent: list[dict[str, Any]] = []
        safety = SafetyLayer(
            lambda: None, self.journal.record_event, self.clock, 1.0, lambda: False
        )
        self.runner = SessionRunner(
            clock=self.clock,
            ui=QuietPatient(),
            forces=None,
            journal=self.journal,
            safety=safety,
            plan=the_plan,
            station_safety=config.defaults()["safety"],
            hands=HANDS,
            enqueue=self.enqueue,
        )

    def enqueue(self, conn: Any, schema: str, body: dict[str, Any]) -> str:
        self.sent.append(body)
        return f"msg-{len(self.sent)}"


def by_protocol(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["protocol"]: p for p in body["protocols"]}


def test_recover_summarises_with_the_plan_version_the_session_ran(
    tmp_path: Path, protocols: None
) -> None:
    Tally.cut_to = cut = tmp_path / "at-the-power-cut.db"
    before = Station(tmp_path / "station.db", plan(1, ("max_grip", V1_GRIP), ("tally", V1_TALLY)))
    outcome = before.runner.run_session(TODAY)
    before.journal.close()
    assert outcome is not None and outcome.state == "complete"
    ran = by_protocol(outcome.summary)

    after = Station(cut, plan(2, ("max_grip", V2_GRIP)))  # the restart, under a newer plan
    assert after.journal.interrupted() == [outcome.session_id]
    assert after.runner.recover() == ["msg-1"]
    after.journal.close()
    (body,) = after.sent
    assert body["state"] == "incomplete" and body["plan_version"] == 1
    recovered = by_protocol(body)
    assert list(recovered) == ["max_grip", "tally"]  # v2 no longer lists the tally
    grip = recovered["max_grip"]["metrics"]
    # v1 planned the involved hand only: no uninvolved hand in the summary (v2 has one)
    assert set(grip) == {
        "involved_trials",
        "involved_mean_force",
        "involved_best_force",
        "involved_cv",
    }
    assert grip == ran["max_grip"]["metrics"]  # the same figures the session itself sent
    assert grip["involved_mean_force"]["value"] == pytest.approx(19.0)
    assert recovered["tally"]["metrics"]["count"]["value"] == 3  # v1's per_trial


def journalled_without_its_plan(db: Path) -> int:
    """A session as an older software version journalled it (no plan items kept), cut off
    after one grip trial and one tally trial."""
    j = Journal(db)
    sid = j.start_session(1, ["max_grip", "tally"])
    j.record_trial(sid, Trial("max_grip", 0, "right", {}, {"peak_force_n": 9.0}, 0.4, 9.0, 1, 4))
    j.record_trial(sid, Trial("tally", 0, None, {}, {}, None, None, 5.0, 5.0))
    j.close()
    return sid


def test_recover_session_without_its_plan_uses_the_current_params_and_says_so(
    tmp_path: Path, protocols: None
) -> None:
    """The fallback for a session journalled before the journal kept its plan: the active
    plan's params for a protocol it lists, the protocol's defaults for one it no longer
    lists (never dropped), and the summary's data quality says the params were assumed."""
    sid = journalled_without_its_plan(tmp_path / "station.db")
    station = Station(tmp_path / "station.db", plan(2, ("max_grip", V2_GRIP)))
    assert station.runner.recover() == ["msg-1"]
    s = station.journal.session(sid)
    station.journal.close()
    (body,) = station.sent
    assert s["state"] == "incomplete" and body["plan_version"] == 1
    recovered = by_protocol(body)
    assert list(recovered) == ["max_grip", "tally"]
    assert recovered["max_grip"]["metrics"]["uninvolved_trials"]["value"] == 0  # v2's hands
    assert recovered["tally"]["metrics"]["count"]["value"] == 1  # the default per_trial
    assert body["data_quality"]["plan_params"] == "assumed"


def test_recover_session_without_its_plan_under_the_same_plan_version_is_not_assumed(
    tmp_path: Path, protocols: None
) -> None:
    """The active plan has the session's version: it is the plan the session ran (a
    version is never stored twice), so its params are the session's own."""
    journalled_without_its_plan(tmp_path / "station.db")
    station = Station(tmp_path / "station.db", plan(1, ("max_grip", V1_GRIP)))
    assert station.runner.recover() == ["msg-1"]
    station.journal.close()
    (body,) = station.sent
    recovered = by_protocol(body)
    assert "uninvolved_trials" not in recovered["max_grip"]["metrics"]  # v1's hands
    assert recovered["tally"]["metrics"]["count"]["value"] == 1  # v1 lists none: default
    assert "plan_params" not in body["data_quality"]


def test_recover_journal_of_the_previous_schema_is_migrated_and_recovered(
    tmp_path: Path, protocols: None
) -> None:
    """A station database as the previous release left it (no plan items column, schema
    version 0) with a session cut off: the start-up check accepts it, the journal adds
    the column when it opens, and the session is recovered by the fallback."""
    db = tmp_path / "station.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA_SQL)
        conn.execute(
            "INSERT INTO sessions(session_uid, started_at, plan_version, protocols) "
            "VALUES ('old-1', '2026-01-05T09:00:00.000Z', 1, '[\"max_grip\"]')"
        )
        conn.execute(
            "INSERT INTO trials(session_id, protocol, trial_index, hand, response, ended_at) "
            "VALUES (1, 'max_grip', 0, 'right', '{\"peak_force_n\": 9.0}', "
            "'2026-01-05T09:01:00.000Z')"
        )
    conn.close()
    check_station_db(db)  # the previous schema is the station's own, not a foreign one
    station = Station(db, plan(2, ("max_grip", V2_GRIP)))
    columns = {r[1] for r in station.journal.conn.execute("PRAGMA table_info(sessions)")}
    assert "plan_items" in columns
    assert station.runner.recover() == ["msg-1"]
    s = station.journal.session(1)
    station.journal.close()
    assert (s["state"], s["ended_at"]) == ("incomplete", "2026-01-05T09:01:00.000Z")
    (body,) = station.sent
    assert by_protocol(body)["max_grip"]["metrics"]["involved_mean_force"]["value"] == 9.0
    assert body["data_quality"]["plan_params"] == "assumed"
    check_station_db(db)  # and the migrated database too
