"""A journal row whose JSON cannot be read (a flipped bit, a half-written value) is left out
of the summary with a data-quality note, and the summary still goes to the clinic: before,
one such row made every later summary of the week, and the recovery at every start, fail."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from mqtt_bridge import outbox
from mqtt_bridge import schema as schema_mod
from station import config, summary
from station.app import App
from station.journal import Journal, Trial
from station.paths import station_db


def trial(i: int) -> Trial:
    return Trial("max_grip", i, "right", {}, {"peak_force_n": 9.0 + i}, 0.4, 9.0 + i, i, i + 3)


def session(j: Journal, n_trials: int = 3) -> int:
    sid = j.start_session(1, ["max_grip"])
    j.set_checkin(sid, {"pain": 2, "new_numbness": False, "wound_problem": False})
    for i in range(n_trials):
        j.record_trial(sid, trial(i))
    j.record_event(sid, "pain_rise", {"before": 2, "after": 5}, 10.0, "S-PAIN")
    return sid


def corrupt(path: Path, sql: str, args: tuple[object, ...] = ()) -> None:
    """Change the journal file with plain SQL, as a bad write or flipped bit would."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, args)
    conn.close()


def valid_session_body(body: dict[str, object]) -> None:
    doc = schema_mod.load("rehab.session/1")
    assert schema_mod.errors(body, doc) == []
    jsonschema.Draft202012Validator(doc).validate(body)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("UPDATE trials SET response='{\"peak_force_n\": 9.' WHERE id=2", id="cut"),
        # the '{' of the stimulus with its top bit flipped: not even UTF-8 any more
        pytest.param("UPDATE trials SET stimulus=CAST(x'fb7d' AS TEXT) WHERE id=2", id="bit"),
        pytest.param("UPDATE trials SET quality='{}' WHERE id=2", id="type"),
    ],
)
def test_journal_unreadable_trial_is_left_out_and_counted(
    tmp_path: Path, sql: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "station.db"
    j = Journal(path)
    sid = session(j)
    corrupt(path, sql)
    with caplog.at_level("WARNING", logger="station.journal"):
        trials = j.trials(sid)
        j.trials(sid)  # logged once, not at every read
    assert [t.trial_index for t in trials] == [0, 2]
    assert j.unreadable_rows(sid) == 1
    (warning,) = caplog.records
    assert "trials #2 cannot be read" in warning.getMessage()


def test_journal_unreadable_checkin_and_event_detail_read_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    j = Journal(path)
    sid = session(j)
    corrupt(path, 'UPDATE sessions SET checkin=\'{"pain": 2, "new_\' WHERE id=?', (sid,))
    corrupt(path, "UPDATE safety_events SET detail='[' WHERE session_id=?", (sid,))
    assert j.session(sid)["checkin"] == {}
    # The safety event still reaches the clinic: only its detail is lost.
    (event,) = j.events(sid)
    assert (event["kind"], event["code"], event["detail"]) == ("pain_rise", "S-PAIN", {})
    assert len(j.trials(sid)) == 3
    assert j.unreadable_rows(sid) == 2


def test_summary_goes_out_when_an_earlier_session_row_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    j = Journal(path)
    first = session(j)
    j.end_session(first, "complete", "")
    corrupt(path, "UPDATE sessions SET checkin='{\"pain\": 2' WHERE id=?", (first,))
    second = session(j, n_trials=2)
    j.end_session(second, "complete", "")

    # The later session reads the week's sessions for its adherence: it goes out clean.
    body = summary.build(j, second, [], {"bus_errors": 0}, 1)
    assert body["data_quality"] == {"bus_errors": 0}
    assert body["adherence"]["trials"] == 2 and body["adherence"]["days_this_week"] == 1
    valid_session_body(body)
    summary.write(j, second, body, outbox.enqueue)

    # The session with the bad row goes out too, with its check-in unknown and the note.
    body = summary.build(j, first, [], {"bus_errors": 0}, 1)
    assert body["data_quality"] == {"bus_errors": 0, "unreadable_rows": 1}
    assert body["checkin"]["pain_before"] is None
    assert body["adherence"]["trials"] == 3
    valid_session_body(body)
    summary.write(j, first, body, outbox.enqueue)
    assert j.unsummarised() == []


def test_app_start_summarises_an_interrupted_session_with_an_unreadable_row(
    tmp_path: Path,
) -> None:
    """Before, the recovery failed on the row at every start and the session never reached
    the clinic; now it is summarised at the first start, the bad trial left out."""
    cfg = config.validate({"glove": {"fitted": False}})
    j = Journal(station_db(tmp_path))
    session(j)  # the power went before the session ended
    j.close()
    corrupt(station_db(tmp_path), "UPDATE trials SET response='{' WHERE id=3")
    app = App(cfg, tmp_path, sim=True, seed=3, calibrate_sim=False).open()
    try:
        assert app.journal is not None and len(app.recovered) == 1
        assert app.journal.unsummarised() == []
    finally:
        app.close()
    with outbox.Outbox(station_db(tmp_path)) as ob:
        (entry,) = ob.due(0.0, 10)
    body = json.loads(entry.body)
    valid_session_body(body)
    assert body["state"] == "incomplete"
    assert body["data_quality"] == {"recovered": True, "unreadable_rows": 1}
    assert body["adherence"]["trials"] == 2
    (proto,) = body["protocols"]
    assert proto["protocol"] == "max_grip" and proto["trials"] == 2
