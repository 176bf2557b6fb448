"""The MQTT topic layout (ARCHITECTURE.md §6): ``rehab/v1/stations/<station_id>/<kind>``.

The major version sits in the topic root so a consumer subscribes only to what it
understands; each payload also names its schema. A station id is opaque (never a patient
identifier: topics appear in broker logs) and is also the TLS certificate CN / username.
"""

from __future__ import annotations

import re

ROOT = "rehab/v1/stations"

STATUS = "status"
SUMMARY = "summary"
SELFTEST = "selftest"
ACK = "ack"
PLAN = "plan"
PLAN_RESULT = "plan/result"
#: Every topic kind (the part after the station id).
KINDS = (STATUS, SUMMARY, SELFTEST, ACK, PLAN, PLAN_RESULT)
#: Kinds the station publishes from its outbox (inside the envelope).
OUTBOX_KINDS = (SUMMARY, SELFTEST, PLAN_RESULT)

#: The schema of the payload on each kind (inside the envelope for the OUTBOX_KINDS).
SCHEMA_FOR_KIND = {
    STATUS: "rehab.status/1",
    SUMMARY: "rehab.session/1",
    SELFTEST: "rehab.selftest/1",
    ACK: "rehab.ack/1",
    PLAN: "rehab.plan/1",
    PLAN_RESULT: "rehab.plan_result/1",
}
#: The outbox topic kind for a body schema (one schema, one topic).
KIND_FOR_SCHEMA = {SCHEMA_FOR_KIND[k]: k for k in OUTBOX_KINDS}

#: Wildcard subscriptions for the clinic.
ALL_STATUS = f"{ROOT}/+/{STATUS}"
ALL_SUMMARY = f"{ROOT}/+/{SUMMARY}"
ALL_SELFTEST = f"{ROOT}/+/{SELFTEST}"
ALL_PLAN_RESULT = f"{ROOT}/+/{PLAN_RESULT}"

STATION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_station_id(station_id: str) -> str:
    """Return ``station_id`` if usable as a topic level, else raise ``ValueError``.

    Allowed: 1-64 characters of letters, digits, ``-`` and ``_``, starting with a letter or
    digit (no ``/``, ``+``, ``#``: they would change the topic's meaning)."""
    if not isinstance(station_id, str) or not STATION_ID_RE.fullmatch(station_id):
        raise ValueError(
            f"station id {station_id!r} must be 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return station_id


def topic(station_id: str, kind: str) -> str:
    """``rehab/v1/stations/<station_id>/<kind>``; raises ``ValueError`` for a bad id or kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r} (allowed: {', '.join(KINDS)})")
    return f"{ROOT}/{check_station_id(station_id)}/{kind}"


def status(station_id: str) -> str:
    return topic(station_id, STATUS)


def summary(station_id: str) -> str:
    return topic(station_id, SUMMARY)


def selftest(station_id: str) -> str:
    return topic(station_id, SELFTEST)


def ack(station_id: str) -> str:
    return topic(station_id, ACK)


def plan(station_id: str) -> str:
    return topic(station_id, PLAN)


def plan_result(station_id: str) -> str:
    return topic(station_id, PLAN_RESULT)


def parse_station_topic(name: str) -> tuple[str, str]:
    """``rehab/v1/stations/st-0001/plan/result`` -> ``("st-0001", "plan/result")``.

    Raises ``ValueError`` for a topic outside the layout."""
    prefix = ROOT + "/"
    if not name.startswith(prefix):
        raise ValueError(f"topic {name!r} is not under {prefix}")
    station_id, _, kind = name[len(prefix) :].partition("/")
    if kind not in KINDS or not STATION_ID_RE.fullmatch(station_id):
        raise ValueError(f"topic {name!r} is not {ROOT}/<station_id>/<{'|'.join(KINDS)}>")
    return station_id, kind
