"""``rehab-station clinic export --fhir``: FHIR R4 Bundles validated by a FHIR library
(fhir.resources, its R4B models: R4B changed no Observation or Bundle element of R4), and
their numbers checked against the clinic database they come from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError
from test_clinic_report import fill_sensory, sensory_week
from test_clinic_review import MONTH, STATION, clinic_db  # noqa: F401 (a fixture)

from mqtt_bridge.clinic_db import ClinicDB
from station import cli


def export(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert cli.main(["clinic", "export", "--fhir", "--db", str(db), *extra]) == 0
    bundles: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    for b in bundles:
        Bundle.model_validate(b)  # raises on anything FHIR R4 does not allow
    return bundles


def observations(b: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in b["entry"]
        if any(c.get("code") == code for c in e["resource"]["code"].get("coding", []))
    ]


def test_clinic_fhir_grip_per_hand_with_loinc_unit_and_pad_note(
    clinic_db: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (b,) = export(capsys, clinic_db)
    assert (b["resourceType"], b["type"]) == ("Bundle", "collection")
    right, left = observations(b, "83174-3"), observations(b, "83173-5")
    # The involved (right) hand in sessions 1-5, the uninvolved (left) in 1-4.
    assert [o["valueQuantity"]["value"] for o in right] == [9.0, 9.5, 10.0, 12.0, 12.5]
    assert [o["valueQuantity"]["value"] for o in left] == [14.0, 14.2, 14.0, 14.1]
    q = right[0]["valueQuantity"]
    assert (q["unit"], q["system"], q["code"]) == ("N", "http://unitsofmeasure.org", "N")
    notes = " ".join(n["text"] for n in right[0]["note"])
    assert "not a dynamometer reading" in notes and "Standard uncertainty 0.9 N" in notes
    assert right[0]["subject"]["identifier"]["value"] == STATION
    # Session 4: the station's clock was not synchronised; the time is the clinic's receipt.
    assert right[3]["effectiveDateTime"] == "2026-11-16T10:00:00Z"
    assert "not synchronised" in " ".join(n["text"] for n in right[3]["note"])


def test_clinic_fhir_pain_nrs_before_and_after(
    clinic_db: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (b,) = export(capsys, clinic_db)
    pain = observations(b, "72514-3")
    truth = [(body["checkin"]["pain_before"], body["checkin"]["pain_after"]) for *_, body in MONTH]
    expected = [v for pair in truth for v in pair if v is not None]
    assert [o["valueInteger"] for o in pain] == expected
    assert pain[5]["code"]["text"] == "pain 0-10, after them"  # session 3: 5 after


def test_clinic_fhir_sensory_thresholds_keep_their_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ClinicDB(tmp_path / "clinic.db") as db:
        fill_sensory(db)
    out = tmp_path / "fhir"
    assert (
        cli.main(
            ["clinic", "export", "--fhir", "--db", str(tmp_path / "clinic.db"), "--out", str(out)]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith(f"{out / 'st-0003.fhir.json'}: ")
    b = json.loads((out / "st-0003.fhir.json").read_text())
    Bundle.model_validate(b)
    # Every assessment threshold of the week, with its intervals, from the summaries.
    truth = []
    for _, _, body in sensory_week():
        for p in body["protocols"]:
            for name, m in p["metrics"].items():
                if name.endswith("_threshold") and m.get("mode") == "assessment":
                    truth.append((m["value"], m["ci68"], m["ci95"]))
    exported = []
    for e in b["entry"]:
        o = e["resource"]
        if (
            o["code"]["coding"][0]["code"].endswith(".threshold")
            and "assessment" in o["code"]["text"]
        ):
            c = {x["code"]["text"]: x["valueQuantity"]["value"] for x in o["component"]}
            exported.append(
                (
                    o["valueQuantity"]["value"],
                    [c["68 % interval lower bound"], c["68 % interval upper bound"]],
                    [c["95 % interval lower bound"], c["95 % interval upper bound"]],
                )
            )
    assert sorted(exported) == sorted(truth) and len(truth) == 4


def test_clinic_fhir_validation_refuses_a_broken_observation(
    clinic_db: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The validation above can fail: the same bundle with one element of the wrong type or
    an unknown element is refused. (fhir.resources checks structure, types and cardinality;
    it does not check codes against their value sets, e.g. ``status``.)"""
    (b,) = export(capsys, clinic_db)
    broken = json.loads(json.dumps(b))
    broken["entry"][0]["resource"]["valueQuantity"]["value"] = "nine"
    with pytest.raises(ValidationError):
        Bundle.model_validate(broken)
    broken = json.loads(json.dumps(b))
    broken["entry"][0]["resource"]["effectiveDateTime"] = "last Monday"
    with pytest.raises(ValidationError):
        Bundle.model_validate(broken)
