"""What the clinic knows of a station's patient that the station does not send: handedness
(for the grip symmetry, ``reference/CLINICAL.md`` §2.4). Set by
``rehab-station clinic station --station ID --handedness right``.
"""

from __future__ import annotations

from typing import Any

from mqtt_bridge.clinic_db import ClinicDB

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


__all__ = ["HANDEDNESS", "get", "set_handedness"]
