"""A small validator for the JSON Schema (draft 2020-12) subset our payload schemas use.

Why not the ``jsonschema`` package: it is a sizeable dependency tree for the station image,
and its error messages speak to developers ("500 is greater than the maximum of 200")
without the full JSON path a clinician needs. This module implements exactly the keywords
the schemas in ``mqtt_bridge/schemas/`` use and refuses to load a schema with any other
validation keyword, so a schema can never be silently under-checked. A test checks every
schema with ``jsonschema.Draft202012Validator.check_schema`` and that this validator agrees
with ``jsonschema`` on a corpus.

Supported: ``type`` (one or a list), ``required``, ``properties``, ``additionalProperties``
(bool or schema), ``minProperties``/``maxProperties``, ``enum``, ``const``,
``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``,
``minLength``/``maxLength``, ``pattern`` (Python ``re.search``, unanchored as in the spec),
``items``, ``minItems``/``maxItems``, ``uniqueItems``, ``anyOf``, ``oneOf``. ``format`` is
an annotation only (as in 2020-12 by default).

Error messages name the JSON path, e.g. ``caps.max_force_n: 500 is above the maximum 200``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path as FilePath
from typing import Any

#: Keywords that carry no validation (documentation and identification).
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "default", "format"}
)
#: Validation keywords implemented below.
KEYWORDS = frozenset(
    {
        "type",
        "required",
        "properties",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "anyOf",
        "oneOf",
    }
)
#: The JSON Schema documents (shipped as package data).
SCHEMA_DIR = FilePath(__file__).resolve().parent / "schemas"
#: Errors reported at most per validation: enough to fix a message, short enough to read.
MAX_ERRORS = 20

Path = tuple[str | int, ...]


class SchemaError(ValueError):
    """One violation: ``path`` (keys and list indices) and ``message`` (what is allowed)."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{format_path(path)}: {message}")


def format_path(path: Path) -> str:
    """``("schedule", 0, "days")`` -> ``schedule[0].days``; the empty path is ``(top level)``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out or "(top level)"


def _type_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _is_type(v: Any, t: str) -> bool:
    if t == "integer":
        # 2020-12: a number with a zero fractional part is an integer (1.0 is one).
        return (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, float) and math.isfinite(v) and v.is_integer()
        )
    return _type_of(v) == t


_ARTICLE = {"integer": "an integer", "object": "an object", "array": "an array"}


def _describe_type(t: str) -> str:
    return _ARTICLE.get(t, "null" if t == "null" else f"a {t}")


def _canon(v: Any) -> Any:
    """A hashable key with JSON equality: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(v, bool) or v is None:
        return ("lit", v)
    if isinstance(v, int | float):
        return ("num", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list):
        return ("arr", tuple(_canon(x) for x in v))
    if isinstance(v, dict):
        return ("obj", tuple(sorted((k, _canon(x)) for k, x in v.items())))
    return ("other", repr(v))


def _show(v: Any) -> str:
    """A short JSON rendering of a value for a message."""
    try:
        s = json.dumps(v, ensure_ascii=False, allow_nan=True)
    except RecursionError:
        # repr() would recurse as deeply; the type is all a reader needs here.
        s = f"({_describe_type(_type_of(v))} nested too deeply to show)"
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_schema(schema: Any, where: str = "(schema)") -> None:
    """Raise ``ValueError`` if ``schema`` uses a keyword this validator does not implement."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise ValueError(f"{where}: a schema must be an object or a boolean")
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise ValueError(f"{where}: keywords not supported here: {', '.join(sorted(unknown))}")
    for k, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.properties.{k}")
    for key in ("additionalProperties", "items"):
        if key in schema:
            check_schema(schema[key], f"{where}.{key}")
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key, [])):
            check_schema(sub, f"{where}.{key}[{i}]")
    if "pattern" in schema:
        re.compile(schema["pattern"])


def iter_errors(instance: Any, schema: Any, path: Path = ()) -> Iterator[SchemaError]:
    """Every violation of ``schema`` by ``instance``, outermost first.

    An instance nested too deeply for Python's recursion limit (a hostile payload can be
    nested about 1000 levels and still parse) yields one error at ``path`` instead of
    raising ``RecursionError``: callers handle ``ValueError`` only."""
    try:
        yield from _iter_errors(instance, schema, path)
    except RecursionError:
        yield SchemaError(path, "nested too deeply to check")


def _iter_errors(instance: Any, schema: Any, path: Path) -> Iterator[SchemaError]:
    if schema is True:
        return
    if schema is False:
        yield SchemaError(path, "is not allowed here")
        return
    s: dict[str, Any] = schema
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is_type(instance, t) for t in types):
            want = " or ".join(_describe_type(t) for t in types)
            yield SchemaError(
                path, f"{_show(instance)} is {_describe_type(_type_of(instance))}, expected {want}"
            )
            return  # the other keywords would only repeat the type mismatch
    if "const" in s and _canon(instance) != _canon(s["const"]):
        yield SchemaError(path, f"{_show(instance)} must be {_show(s['const'])}")
    if "enum" in s and _canon(instance) not in {_canon(e) for e in s["enum"]}:
        allowed = ", ".join(_show(e) for e in s["enum"])
        yield SchemaError(path, f"{_show(instance)} is not one of: {allowed}")
    if _type_of(instance) == "number":
        yield from _number(instance, s, path)
    elif isinstance(instance, str):
        yield from _string(instance, s, path)
    elif isinstance(instance, list):
        yield from _array(instance, s, path)
    elif isinstance(instance, dict):
        yield from _object(instance, s, path)
    if "anyOf" in s:
        yield from _any_of(instance, s["anyOf"], path)
    if "oneOf" in s:
        yield from _one_of(instance, s["oneOf"], path)


def _number(v: float, s: dict[str, Any], path: Path) -> Iterator[SchemaError]:
    if "minimum" in s and not v >= s["minimum"]:
        yield SchemaError(path, f"{_num(v)} is below the minimum {_num(s['minimum'])}")
    if "maximum" in s and not v <= s["maximum"]:
        yield SchemaError(path, f"{_num(v)} is above the maximum {_num(s['maximum'])}")
    if "exclusiveMinimum" in s and not v > s["exclusiveMinimum"]:
        yield SchemaError(path, f"{_num(v)} must be above {_num(s['exclusiveMinimum'])}")
    if "exclusiveMaximum" in s and not v < s["exclusiveMaximum"]:
        yield SchemaError(path, f"{_num(v)} must be below {_num(s['exclusiveMaximum'])}")


def _string(v: str, s: dict[str, Any], path: Path) -> Iterator[SchemaError]:
    if "minLength" in s and len(v) < s["minLength"]:
        yield SchemaError(path, f"{len(v)} characters, at least {s['minLength']} required")
    if "maxLength" in s and len(v) > s["maxLength"]:
        yield SchemaError(path, f"{len(v)} characters, at most {s['maxLength']} allowed")
    if "pattern" in s and not re.search(s["pattern"], v):
        yield SchemaError(path, f"{_show(v)} does not match the pattern {s['pattern']}")


def _array(v: list[Any], s: dict[str, Any], path: Path) -> Iterator[SchemaError]:
    if "minItems" in s and len(v) < s["minItems"]:
        yield SchemaError(path, f"{len(v)} entries, at least {s['minItems']} required")
    if "maxItems" in s and len(v) > s["maxItems"]:
        yield SchemaError(path, f"{len(v)} entries, at most {s['maxItems']} allowed")
    if s.get("uniqueItems"):
        seen: set[Any] = set()
        for x in v:
            key = _canon(x)
            if key in seen:
                yield SchemaError(path, f"{_show(x)} appears more than once")
                break
            seen.add(key)
    if "items" in s:
        for i, x in enumerate(v):
            yield from _iter_errors(x, s["items"], (*path, i))


def _object(v: dict[str, Any], s: dict[str, Any], path: Path) -> Iterator[SchemaError]:
    for k in s.get("required", []):
        if k not in v:
            yield SchemaError(path, f"the field {k!r} is required")
    if "minProperties" in s and len(v) < s["minProperties"]:
        yield SchemaError(path, f"{len(v)} fields, at least {s['minProperties']} required")
    if "maxProperties" in s and len(v) > s["maxProperties"]:
        yield SchemaError(path, f"{len(v)} fields, at most {s['maxProperties']} allowed")
    props: dict[str, Any] = s.get("properties", {})
    extra = s.get("additionalProperties", True)
    for k, x in v.items():
        if k in props:
            yield from _iter_errors(x, props[k], (*path, k))
        elif extra is False:
            allowed = ", ".join(props) or "none"
            yield SchemaError(path, f"unknown field {k!r} (allowed: {allowed})")
        elif extra is not True:
            yield from _iter_errors(x, extra, (*path, k))


def _branch_errors(instance: Any, branches: list[Any], path: Path) -> list[list[SchemaError]]:
    return [list(_iter_errors(instance, b, path)) for b in branches]


def _best_branch(
    instance: Any, branches: list[Any], errs: list[list[SchemaError]], path: Path, what: str
) -> Iterator[SchemaError]:
    """Explain a failed anyOf/oneOf: the errors of the one branch of the instance's type if
    there is exactly one (the useful case: "daily" or a list of day names), else a summary."""
    typed = [
        e
        for b, e in zip(branches, errs, strict=True)
        if isinstance(b, dict) and _branch_accepts_type(instance, b)
    ]
    if len(typed) == 1:
        yield from typed[0]
        return
    forms = "; or ".join(e[0].message if e else "?" for e in errs)
    yield SchemaError(path, f"{_show(instance)} does not match {what}: {forms}")


def _branch_accepts_type(instance: Any, b: dict[str, Any]) -> bool:
    if "type" in b:
        types = b["type"] if isinstance(b["type"], list) else [b["type"]]
        return any(_is_type(instance, t) for t in types)
    if "const" in b:
        return _type_of(instance) == _type_of(b["const"])
    if "enum" in b:
        return any(_type_of(instance) == _type_of(e) for e in b["enum"])
    return True


def _any_of(instance: Any, branches: list[Any], path: Path) -> Iterator[SchemaError]:
    errs = _branch_errors(instance, branches, path)
    if all(errs):
        yield from _best_branch(instance, branches, errs, path, "any allowed form")


def _one_of(instance: Any, branches: list[Any], path: Path) -> Iterator[SchemaError]:
    errs = _branch_errors(instance, branches, path)
    passing = sum(1 for e in errs if not e)
    if passing == 0:
        yield from _best_branch(instance, branches, errs, path, "any allowed form")
    elif passing > 1:
        yield SchemaError(
            path, f"{_show(instance)} matches {passing} forms where exactly one is allowed"
        )


def errors(instance: Any, schema: Any, limit: int = MAX_ERRORS) -> list[SchemaError]:
    """Up to ``limit`` violations, in document order."""
    out: list[SchemaError] = []
    for e in iter_errors(instance, schema):
        out.append(e)
        if len(out) >= limit:
            break
    return out


def validate(instance: Any, schema: Any) -> None:
    """Raise the first :class:`SchemaError`, or return if ``instance`` is valid."""
    for e in iter_errors(instance, schema):
        raise e


def schema_file(name: str) -> str:
    """``rehab.plan/1`` -> ``rehab.plan.1.json`` (the file in ``mqtt_bridge/schemas/``)."""
    if not re.fullmatch(r"rehab\.[a-z_]+/[0-9]+", name):
        raise ValueError(f"not a schema name: {name!r} (expected like 'rehab.plan/1')")
    return name.replace("/", ".") + ".json"


@cache
def load(name: str) -> dict[str, Any]:
    """The schema document ``name`` (e.g. ``rehab.plan/1``), checked for supported keywords.

    Raises ``FileNotFoundError`` for an unknown name. Callers must not mutate the result."""
    text = (SCHEMA_DIR / schema_file(name)).read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    check_schema(doc, name)
    return doc


def names() -> list[str]:
    """Every schema name shipped in the package, sorted."""
    out = []
    for f in SCHEMA_DIR.iterdir():
        m = re.fullmatch(r"(rehab\.[a-z_]+)\.([0-9]+)\.json", f.name)
        if m:
            out.append(f"{m.group(1)}/{m.group(2)}")
    return sorted(out)
