"""The ``params`` a protocol takes from a plan: each protocol declares its parameters (type,
range, default) on its class, and :func:`parse_params` refuses anything else, naming it.

A plan comes from outside the station (a clinic's system, an older software version), so a
misspelt parameter must be refused rather than fall back silently to its default.
"""

from __future__ import annotations

import itertools
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Shows a bad value briefly: a value nested 200 deep or 16 KiB long stays one short line.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 30
MAX_KEY_CHARS = 40


class ParamError(ValueError):
    """A parameter a protocol refuses; ``key`` is the parameter's name as shown ("" when
    ``params`` itself is wrong)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"params.{key}: {message}" if key else f"params: {message}")


def shown(value: Any) -> str:
    """``value`` as a short, bounded repr for an error message (never recurses deeply)."""
    return _SHORT.repr(value)


def key_text(key: str) -> str:
    """A parameter name as it can appear in a message: printable, at most 40 characters."""
    text = key if key.isprintable() else repr(key)[1:-1]
    return text if len(text) <= MAX_KEY_CHARS else text[: MAX_KEY_CHARS - 3] + "..."


@dataclass(frozen=True)
class IntParam:
    """An integer from ``lo`` to ``hi`` (``unit`` for the message)."""

    lo: int
    hi: int
    default: int
    unit: str = ""

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            unit = f" {self.unit}" if self.unit else ""
            raise ValueError(
                f"must be an integer from {self.lo} to {self.hi}{unit}, got {shown(value)}"
            )
        return value


@dataclass(frozen=True)
class NumberParam:
    """A number from ``lo`` to ``hi`` in ``unit``."""

    lo: float
    hi: float
    default: float
    unit: str = ""

    def parse(self, value: Any) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not self.lo <= value <= self.hi:
            unit = f" {self.unit}" if self.unit else ""
            raise ValueError(
                f"must be a number from {self.lo:g} to {self.hi:g}{unit}, got {shown(value)}"
            )
        return float(value)


@dataclass(frozen=True)
class ChoicesParam:
    """A non-empty list of distinct names from ``choices``."""

    choices: tuple[str, ...]
    default: tuple[str, ...]

    def parse(self, value: Any) -> list[str]:
        if (
            not isinstance(value, list)
            or not value
            or any(not isinstance(v, str) or v not in self.choices for v in value)
            or len(set(value)) != len(value)
        ):
            names = " and/or ".join(repr(c) for c in self.choices)
            raise ValueError(f"must list {names}, each once, got {shown(value)}")
        return list(value)


@dataclass(frozen=True)
class OneOfParam:
    """One name from ``choices``."""

    choices: tuple[str, ...]
    default: str

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            names = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"must be one of {names}, got {shown(value)}")
        return value


@dataclass(frozen=True)
class PadsParam:
    """A list of ``lo`` to ``hi`` distinct pad indices (0-15), in increasing order."""

    lo: int
    hi: int
    default: tuple[int, ...]

    def parse(self, value: Any) -> list[int]:
        ok = (
            isinstance(value, list)
            and self.lo <= len(value) <= self.hi
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 15 for v in value)
            and all(a < b for a, b in itertools.pairwise(value))
        )
        if not ok:
            raise ValueError(
                f"must list {self.lo} to {self.hi} pad numbers 0-15 in increasing order, "
                f"got {shown(value)}"
            )
        return list(value)


Param = IntParam | NumberParam | ChoicesParam | OneOfParam | PadsParam


def parse_params(declared: Mapping[str, Param], params: Any) -> dict[str, Any]:
    """``params`` checked against ``declared``, with the defaults of those not given.

    Raises :class:`ParamError` naming the first unknown parameter (unknown ones first, in
    name order, so the answer does not depend on the plan's key order), then the first bad
    value. Values are never walked deeper than their declaration needs."""
    if not isinstance(params, dict):
        raise ParamError("", f"must be an object, got {shown(params)}")
    unknown = sorted(k for k in params if k not in declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ParamError(key_text(str(unknown[0])), f"unknown parameter; known: {known}")
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        if name not in params:
            default = spec.default
            out[name] = list(default) if isinstance(default, tuple) else default
            continue
        try:
            out[name] = spec.parse(params[name])
        except ValueError as exc:
            raise ParamError(name, str(exc)) from None
    return out


__all__ = [
    "ChoicesParam",
    "IntParam",
    "NumberParam",
    "OneOfParam",
    "PadsParam",
    "Param",
    "ParamError",
    "parse_params",
    "shown",
]
