"""The session summary as ``run --sim`` and ``session`` print it for a person."""

from __future__ import annotations

import copy

import pytest

from station.commands._session_io import report
from station.runner import Outcome

SUMMARY = {
    "session_id": "c9e7eaff-2cf9-41ae-a540-4fd696ced577",
    "state": "incomplete",
    "ended_reason": "pain rose by 2",
    "protocols": [
        {
            "protocol": "max_grip",
            "trials": 4,
            "metrics": {
                "involved_trials": {"value": 3, "unit": "count", "hand": "right"},
                "involved_mean_force": {
                    "value": 9.432,
                    "unit": "N",
                    "uncertainty": 0.951,
                    "hand": "right",
                },
                "involved_cv": {"value": 1.7249, "unit": "%"},
            },
        }
    ],
    "safety_events": [
        {"kind": "pain_rise", "code": "S-PAIN", "detail": {"reason": "pain rose by 2"}}
    ],
}


def test_report_prints_counts_whole_values_with_units_and_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report(Outcome(7, "incomplete", "pain rose by 2", "msg-1", SUMMARY), as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "session c9e7eaff-2cf9-41ae-a540-4fd696ced577: incomplete (pain rose by 2)",
        "  max_grip: 4 trials",
        "    involved_trials                 3 count (right)",
        "    involved_mean_force          9.43 N ± 0.95 (right)",
        "    involved_cv                  1.72 %",
        "  safety event: pain_rise [S-PAIN] pain rose by 2",
        "  summary queued for the clinic (rehab-station outbox shows its delivery)",
    ]
    assert "msg-1" not in "\n".join(lines)  # one id: the session's, the one the clinic sees


def test_report_without_a_plan_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    report(None, as_json=False)
    assert capsys.readouterr().out == (
        "no session: no usable plan, or nothing planned today (the LCD says which)\n"
    )


def test_report_prints_a_metric_without_a_value_as_a_dash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = copy.deepcopy(SUMMARY)
    summary["protocols"][0]["metrics"] = {  # type: ignore[index]
        "site0_threshold": {"value": None, "unit": "dB", "uncertainty": None}
    }
    report(Outcome(7, "incomplete", "SIGINT received", "msg-1", summary), as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert "    site0_threshold                 - dB" in lines
