"""What the clinic consumer checks in a station's message before storing it: the size
limits of the contract, the envelope and its body's schema, a status payload, and the
``msg_id`` of a message that failed (so a reject can be acknowledged end to end)."""

from __future__ import annotations

import json
import re
from typing import Any

from mqtt_bridge import envelope, schema, topics
from mqtt_bridge.clinic_db import KINDS, MAX_MESSAGE_BYTES
from mqtt_bridge.outbox import MAX_BODY_BYTES


class MessageTooLarge(ValueError):
    """A message beyond the contract's size limit: a station never sends one (its outbox
    refuses such a body), so it is rejected before its body is stored or checked."""


def _check_size(payload: bytes) -> None:
    """Raise :class:`MessageTooLarge` for a payload longer than a station's largest message,
    before it is parsed (a body of 20 MB must not be stored, nor checked field by field)."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"the message is {len(payload)} bytes; the contract allows at most "
            f"{MAX_MESSAGE_BYTES} (a body of at most {MAX_BODY_BYTES} bytes and its envelope)"
        )


def _check_body_size(env: dict[str, Any]) -> None:
    """Raise :class:`MessageTooLarge` for a body over the station's limit, measured as the
    station measures it (compact UTF-8 JSON), whatever spacing the sender used."""
    text = json.dumps(env["body"], separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    size = len(text.encode())
    if size > MAX_BODY_BYTES:
        raise MessageTooLarge(
            f"the body is {size} bytes of JSON; the contract allows at most {MAX_BODY_BYTES}"
        )


def _check_envelope(payload: bytes, station_id: str, kind: str) -> dict[str, Any]:
    """The validated envelope (body checked against its schema) of an outbox message."""
    if kind not in KINDS:
        raise ValueError(f"unexpected topic kind {kind!r}")
    _check_size(payload)
    env = envelope.decode(payload)
    _check_body_size(env)
    if env["station_id"] != station_id:
        raise ValueError(
            f"station_id {env['station_id']!r} does not match the topic's {station_id!r}"
        )
    expected = topics.SCHEMA_FOR_KIND[kind]
    if env["schema"] != expected:
        raise ValueError(f"schema {env['schema']!r} on a {kind} topic (want {expected})")
    envelope.validate_body(env)
    return env


def _check_status(payload: bytes, station_id: str) -> dict[str, Any] | None:
    """The validated ``rehab.status/1`` payload; None for an empty (cleared retained) one."""
    if not payload:
        return None
    status = envelope.loads(payload)
    try:
        schema.validate(status, schema.load(topics.SCHEMA_FOR_KIND[topics.STATUS]))
    except schema.SchemaError as exc:
        raise ValueError(str(exc)) from None
    if status["station_id"] != station_id:
        raise ValueError(
            f"station_id {status['station_id']!r} does not match the topic's {station_id!r}"
        )
    result: dict[str, Any] = status
    return result


#: A msg_id as a station writes it (uuid4 text, any case).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _msg_id_of(payload: bytes) -> str | None:
    """The ``msg_id`` of a rejected envelope when one can be read, else None. Never raises.

    Lenient on purpose (NaN, ``1e999``): an id that can be read is acknowledged end to end,
    so the station stops resending a message that can never become valid. Too deep a
    nesting is a ``RecursionError``, not a ``ValueError``: caught too."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    v = obj.get("msg_id") if isinstance(obj, dict) else None
    # Only a UUID is an id a station could have sent; anything else (a lone surrogate,
    # which SQLite cannot store) is no id at all.
    return v if isinstance(v, str) and _UUID.fullmatch(v) else None


__all__ = ["MessageTooLarge", "_check_envelope", "_check_status", "_msg_id_of"]
