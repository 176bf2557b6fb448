"""The envelope of every station-to-clinic message (``rehab.envelope/1``).

``{"schema", "msg_id", "station_id", "seq", "created_at", "clock_synced", "boot_id",
"body"}``: ``msg_id`` (uuid4, stored before the first publish) is the consumer's
idempotency key; ``seq`` (per station, never reused) reveals gaps; ``created_at`` is the
station's wall clock (as :func:`mqtt_bridge.clocks.iso_utc` writes it), trustworthy only
with ``clock_synced``; ``boot_id`` lets the clinic order messages of one boot when the
clock was not synchronised (a Pi without an RTC can boot at 1970). MQTT v5 properties
repeat ``msg_id`` and ``schema`` as user properties so a broker-side tool can route
without parsing JSON.
"""

from __future__ import annotations

import ctypes
import json
import math
import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_bridge import schema

SCHEMA = "rehab.envelope/1"
CONTENT_TYPE = "application/json"
FIELDS = ("schema", "msg_id", "station_id", "seq", "created_at", "clock_synced", "boot_id", "body")

#: adjtimex(2) returns TIME_ERROR while the kernel clock is flagged unsynchronised
#: (STA_UNSYNC), which is how chrony, ntpd and systemd-timesyncd report their state.
_TIME_ERROR = 5
#: Larger than ``struct timex`` on every Linux ABI (208 bytes on 64-bit).
_TIMEX_BYTES = 512
_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def new_msg_id() -> str:
    """A fresh random msg_id (uuid4, lower-case hex with dashes)."""
    return str(uuid.uuid4())


def clock_synced() -> bool:
    """Whether the kernel says the wall clock is synchronised (Linux ``adjtimex``).

    False when it is not, or when it cannot be asked (not Linux): an unknown clock is
    reported as unsynchronised rather than trusted."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(_TIMEX_BYTES)  # modes = 0: read only
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return False
    return 0 <= state < _TIME_ERROR


@cache
def boot_id() -> str:
    """The Linux boot id; where there is none, a random id fixed for this process."""
    try:
        return _BOOT_ID_FILE.read_text().strip() or str(uuid.uuid4())
    except OSError:
        return str(uuid.uuid4())


def build(
    schema_name: str,
    msg_id: str,
    station_id: str,
    seq: int,
    created_at: str,
    clock_synced: bool,
    boot_id: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """The envelope as a dict (field order as documented)."""
    return {
        "schema": schema_name,
        "msg_id": msg_id,
        "station_id": station_id,
        "seq": seq,
        "created_at": created_at,
        "clock_synced": clock_synced,
        "boot_id": boot_id,
        "body": body,
    }


def encode(env: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities are refused (``ValueError``): not JSON."""
    return json.dumps(env, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


#: Integers beyond a signed 64-bit value are refused: SQLite (the station's and the
#: clinic's store) cannot hold them, and no field of the contract comes near.
MAX_INT = 2**63 - 1


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # float() turns 1e999 into inf: JSON without the NaN/Infinity literals, yet not finite.
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"the number {text[:40]} is out of range (at most about 1.8e308)")
    return v


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A duplicated key is refused, not resolved: readers disagree on which copy wins (Python
    # keeps the last, many others the first), so two readers of one payload could see two
    # different plans or summaries.
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the key {k[:40]!r} appears twice in one object")
        out[k] = v
    return out


def _bounded_int(text: str) -> int:
    v = int(text)  # more than 4300 digits is already a ValueError (int_max_str_digits)
    if abs(v) > MAX_INT:
        raise ValueError(f"the integer {text[:40]} is out of range (at most {MAX_INT})")
    return v


#: A ``\\uD800``-``\\uDFFF`` escape in JSON text: json decodes a lone one into a string that
#: cannot be encoded as UTF-8 (SQLite and every later ``str.encode`` raise on it).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_B = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _key_text(key: str) -> str:
    # Rendered without the surrogate, so the reason itself can be stored and sent.
    return key.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")


def _check_scalar_values(doc: Any) -> None:
    """Raise ``ValueError`` naming the path of the first string (key or value) holding a
    lone surrogate, which is not a Unicode scalar value (RFC 8259 §8.2). Iterative: the
    document may be nested as deeply as json allows."""
    stack: list[tuple[Any, str]] = [(doc, "$")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ValueError(f"the string at {path} is not valid Unicode (a lone surrogate)")
        elif isinstance(value, dict):
            for k, v in value.items():
                p = f"{path}.{_key_text(k)}"
                if _SURROGATE.search(k):
                    raise ValueError(f"the key at {p} is not valid Unicode (a lone surrogate)")
                stack.append((v, p))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value))


def loads(payload: bytes | bytearray | str) -> Any:
    """Strict JSON: raises ``UnicodeDecodeError`` (not UTF-8), ``json.JSONDecodeError`` or
    ``ValueError`` (NaN/Infinity, a number beyond a finite double such as ``1e999``, an
    integer beyond 64 bits, a key twice in one object, too deeply nested, a string that is
    not valid Unicode such as a lone surrogate ``"\\ud800"``)."""
    try:
        doc = json.loads(
            payload,
            parse_constant=_no_constants,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if isinstance(payload, str):
        suspect = bool(_SURROGATE_ESCAPE.search(payload) or _SURROGATE.search(payload))
    else:
        suspect = bool(_SURROGATE_ESCAPE_B.search(payload))
    if suspect:  # the walk only when an escape (or a raw surrogate) could have made one
        _check_scalar_values(doc)
    return doc


def decode(payload: bytes | bytearray | str, check_body: bool = False) -> dict[str, Any]:
    """Parse and validate an envelope; with ``check_body`` also its body against the schema
    it names. Raises ``ValueError`` (or its subclasses ``UnicodeDecodeError`` and
    ``json.JSONDecodeError``) with the JSON path of the first problem."""
    env = loads(payload)
    try:
        schema.validate(env, schema.load(SCHEMA))
    except schema.SchemaError as exc:
        raise ValueError(str(exc)) from None
    if check_body:
        validate_body(env)
    result: dict[str, Any] = env
    return result


def validate_body(env: dict[str, Any]) -> None:
    """Validate ``env["body"]`` against the schema named by ``env["schema"]``; raises
    ``ValueError`` for an unknown schema or a violation (path prefixed with ``body.``)."""
    try:
        doc = schema.load(env["schema"])
    except FileNotFoundError:
        raise ValueError(f"schema: unknown schema {env['schema']!r}") from None
    for e in schema.iter_errors(env["body"], doc, ("body",)):
        raise ValueError(str(e))


def properties(schema_name: str, msg_id: str | None = None) -> Properties:
    """MQTT v5 PUBLISH properties: ContentType, PayloadFormatIndicator 1 (UTF-8) and the
    user properties ``msg_id`` (when given) and ``schema``."""
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = CONTENT_TYPE
    props.PayloadFormatIndicator = 1
    user = [("schema", schema_name)]
    if msg_id is not None:
        user.insert(0, ("msg_id", msg_id))
    props.UserProperty = user
    return props
