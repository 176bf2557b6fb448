"""FHIR R4 export of what a clinic's record system can take from the report: a ``Bundle``
(type ``collection``) per station of ``Observation`` resources.

- grip per hand per session: LOINC 83174-3 (right) / 83173-5 (left), the mean of the
  session's squeezes in newtons (UCUM ``N``), with a note that it is force on the station's
  pad, not a dynamometer reading (``reference/CLINICAL.md`` §2.6);
- pain before and after each session: LOINC 72514-3 (0-10 numeric rating);
- sensory thresholds per protocol, site and hand: the estimate, with its 68 % and 95 %
  intervals as components (FHIR has no interval of an estimate; these are the bounds).

No patient identifier leaves the clinic database, because it has none: the subject is a
logical reference to the station's patient by station id. Observation ids are derived from
the message id, so a second export of the same data gives the same ids.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from mqtt_bridge import clinic_report, clinic_sensory, clocks
from mqtt_bridge.clinic_db import ClinicDB
from mqtt_bridge.clinic_sessions import CLINIC_RECEIPT, iso, sessions

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
STATION_SYSTEM = "urn:rehab-station:station-id"
METRIC_SYSTEM = "urn:rehab-station:metric"
#: Hand -> (LOINC code, display) of grip strength.
GRIP_LOINC = {
    "right": ("83174-3", "Grip strength Hand - right Dynamometer"),
    "left": ("83173-5", "Grip strength Hand - left Dynamometer"),
}
PAIN_LOINC = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
PAD_NOTE = (
    "Force on the home station's force-sensing pad (FSR), mean of the session's squeezes; "
    "not a dynamometer reading: do not compare with Jamar values (pad range about 0.2-20 N)."
)
#: Units of the report that are UCUM codes as they stand.
UCUM_UNITS = {"N": "N", "dB": "dB", "%": "%", "s": "s", "1": "1"}
_NAMESPACE = uuid.UUID("6f1c7a52-2f0e-4d55-9a51-5a3c1e0b7d10")


def _id(*parts: Any) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def _quantity(value: float, unit: str) -> dict[str, Any]:
    q: dict[str, Any] = {"value": round(float(value), 4), "unit": unit}
    if unit in UCUM_UNITS:
        q.update(system=UCUM, code=UCUM_UNITS[unit])
    return q


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


def _observation(
    station_id: str, s: dict[str, Any], key: str, code: dict[str, Any], category: str
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id(station_id, s["msg_id"], key),
        "identifier": [{"system": METRIC_SYSTEM, "value": f"{s['msg_id']}/{key}"}],
        "status": "final",
        "category": _category(category),
        "code": code,
        "subject": {
            "identifier": {"system": STATION_SYSTEM, "value": station_id},
            "display": f"the patient of station {station_id}",
        },
        "effectiveDateTime": s["start"].isoformat().replace("+00:00", "Z"),
        "note": [],
    }
    if s["time_source"] == CLINIC_RECEIPT:
        obs["note"].append(
            {"text": "Station clock not synchronised: the time is when the clinic received it."}
        )
    obs["note"].append({"text": f"Session {s['session_id']} (#{s['number']}), {s['state']}."})
    return obs


def _grip(station_id: str, s: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in s["protocols"]:
        for role in ("involved", "uninvolved"):
            m = (p.get("metrics") or {}).get(f"{role}_mean_force")
            if not isinstance(m, dict) or m.get("unit") != "N" or m.get("hand") not in GRIP_LOINC:
                continue
            if not isinstance(m.get("value"), int | float):
                continue
            loinc, display = GRIP_LOINC[m["hand"]]
            code = {
                "coding": [{"system": LOINC, "code": loinc, "display": display}],
                "text": f"grip force, {m['hand']} hand ({role}), station pad",
            }
            obs = _observation(
                station_id, s, f"{p.get('protocol')}/{role}_mean_force", code, "exam"
            )
            obs["valueQuantity"] = _quantity(m["value"], "N")
            u = m.get("uncertainty")
            extra = f" Standard uncertainty {u:g} N, {m.get('n', '?')} squeezes." if u else ""
            obs["note"].append({"text": PAD_NOTE + extra})
            out.append(obs)
    return out


def _pain(station_id: str, s: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, when in (("pain_before", "before the exercises"), ("pain_after", "after them")):
        v = s["checkin"].get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            continue
        code = {
            "coding": [{"system": LOINC, "code": PAIN_LOINC[0], "display": PAIN_LOINC[1]}],
            "text": f"pain 0-10, {when}",
        }
        obs = _observation(station_id, s, key, code, "survey")
        obs["valueInteger"] = v
        out.append(obs)
    return out


def _interval(label: str, ci: list[float] | None, unit: str) -> list[dict[str, Any]]:
    if ci is None:
        return []
    return [
        {"code": {"text": f"{label} lower bound"}, "valueQuantity": _quantity(ci[0], unit)},
        {"code": {"text": f"{label} upper bound"}, "valueQuantity": _quantity(ci[1], unit)},
    ]


def _sensory(station_id: str, ss: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_number = {s["number"]: s for s in ss}
    out = []
    for g in clinic_sensory.sensory(ss)["series"]:
        what = clinic_sensory.SENSORY_PROTOCOLS[g["protocol"]]
        for kind, points in (("assessment", g["assessments"]), ("training", g["training"])):
            for pt in points:
                if pt["value"] is None:
                    continue
                s = by_number[pt["session"]]
                scale = clinic_sensory.SCALES[g["protocol"]]
                code = {
                    "coding": [{"system": METRIC_SYSTEM, "code": f"{g['protocol']}.threshold"}],
                    "text": f"{what}, {g['label']} ({kind}, {scale})",
                }
                key = f"{g['protocol']}/site{g['site']}/{g['hand']}"
                obs = _observation(station_id, s, key, code, "exam")
                obs["valueQuantity"] = _quantity(pt["value"], g["unit"])
                obs["bodySite"] = {"text": f"{g['hand']} hand, station pad {g['site'] + 1}"}
                comps = _interval("68 % interval", pt["ci68"], g["unit"])
                comps += _interval("95 % interval", pt["ci95"], g["unit"])
                if comps:
                    obs["component"] = comps
                obs["note"].append({"text": clinic_sensory.LOWER_IS_BETTER})
                out.append(obs)
    return out


def bundle(station_id: str, ss: list[dict[str, Any]], generated_at: str) -> dict[str, Any]:
    """The station's Observations as a FHIR R4 ``Bundle`` of type ``collection``."""
    observations: list[dict[str, Any]] = []
    for s in ss:
        observations += _grip(station_id, s) + _pain(station_id, s)
    observations += _sensory(station_id, ss)
    return {
        "resourceType": "Bundle",
        "id": _id(station_id, generated_at),
        "type": "collection",
        "timestamp": generated_at,
        "entry": [{"fullUrl": f"urn:uuid:{o['id']}", "resource": o} for o in observations],
    }


def bundles(db: ClinicDB, station_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Station id -> its Bundle, for every station in ``db`` (or one)."""
    now = iso(clocks.utc_now())
    return {
        s["station_id"]: bundle(s["station_id"], sessions(db, s["station_id"]), now)
        for s in clinic_report.all_stations(db)
        if station_id in (None, s["station_id"])
    }


def write(found: dict[str, dict[str, Any]], out_dir: str | Path) -> list[tuple[Path, int]]:
    """``<station>.fhir.json`` per bundle in ``out_dir``: (path, observations) each."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sid, b in found.items():
        path = out / f"{sid}.fhir.json"
        path.write_text(json.dumps(b, indent=2) + "\n")
        written.append((path, len(b["entry"])))
    return written


__all__ = ["GRIP_LOINC", "PAIN_LOINC", "bundle", "bundles", "write"]
