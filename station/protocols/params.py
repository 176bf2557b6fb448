"""The parameter types a protocol declares (defined in :mod:`station.protocol_params`, below
the plan, so that the plan can check params without importing the protocols)."""

from station.protocol_params import (
    ChoicesParam,
    IntParam,
    NumberParam,
    Param,
    ParamError,
    parse_params,
    shown,
)

__all__ = [
    "ChoicesParam",
    "IntParam",
    "NumberParam",
    "Param",
    "ParamError",
    "parse_params",
    "shown",
]
