"""What the clinic knows of a station that the station does not send: the patient's
handedness (for the grip symmetry, ``reference/CLINICAL.md`` §2.4; set by
``rehab-station clinic station --station ID --handedness right``), and the plan the clinic
retained for the station on the broker (for sessions planned per week; the consumer keeps
it as it sees it).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mqtt_bridge import envelope, schema, topics
from mqtt_bridge.clinic_db import ClinicDB

log = logging.getLogger(__name__)
PLAN_SCHEMA = "rehab.plan/1"

HANDEDNESS = ("right", "left", "ambidextrous")


def set_handedness(db: ClinicDB, station_id: str, handedness: str) -> None:
    """Record the patient's dominant hand; raises ``ValueError`` naming the allowed ones."""
    if handedness not in HANDEDNESS:
        raise ValueError(f"handedness must be one of {', '.join(HANDEDNESS)}, got {handedness!r}")
    with db.transaction():
        db.execute(
            "INSERT INTO station_settings(station_id, handedness, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(station_id) DO UPDATE SET handedness=excluded.handedness,"
            " updated_at=excluded.updated_at",
            (station_id, handedness, db.now()),
        )


def get(db: ClinicDB, station_id: str) -> dict[str, Any]:
    """The station's settings (``handedness`` None when not set)."""
    rows = db.query("SELECT * FROM station_settings WHERE station_id=?", (station_id,))
    return dict(rows[0]) if rows else {"station_id": station_id, "handedness": None}


def keep_plan(db: ClinicDB, topic: str, payload: bytes, received_at: str) -> bool:
    """Keep the plan retained on ``topic`` as the station's latest (inside the consumer's
    transaction). False, and nothing kept, for an empty payload (a plan withdrawn) or one
    that is not a valid ``rehab.plan/1`` for that station: it was the clinic's to send."""
    if not payload:
        return False
    try:
        station_id, _ = topics.parse_station_topic(topic)
        plan = envelope.loads(payload)
        schema.validate(plan, schema.load(PLAN_SCHEMA))
        if plan["station_id"] != station_id:
            raise ValueError(f"plan for {plan['station_id']!r} on {station_id!r}'s topic")
    except (ValueError, KeyError, TypeError) as exc:  # SchemaError is a ValueError
        log.warning("plan on %s not kept: %s", topic, exc)
        return False
    db.execute(
        "INSERT INTO plans(station_id, plan_version, body, received_at) VALUES (?,?,?,?)"
        " ON CONFLICT(station_id) DO UPDATE SET plan_version=excluded.plan_version,"
        " body=excluded.body, received_at=excluded.received_at"
        " WHERE excluded.plan_version >= plans.plan_version",
        (station_id, int(plan["plan_version"]), json.dumps(plan), received_at),
    )
    return True


def plan(db: ClinicDB, station_id: str) -> dict[str, Any] | None:
    """The latest plan kept for the station, or None."""
    rows = db.query("SELECT body FROM plans WHERE station_id=?", (station_id,))
    return json.loads(rows[0][0]) if rows else None


def planned_days(doc: dict[str, Any]) -> list[str]:
    """The weekdays (mon..sun) on which the plan schedules anything."""
    days: set[str] = set()
    for item in doc.get("schedule") or []:
        d = item.get("days")
        days.update(DAYS if d == "daily" else (d or []))
    return [d for d in DAYS if d in days]


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

__all__ = ["HANDEDNESS", "get", "keep_plan", "plan", "planned_days", "set_handedness"]
