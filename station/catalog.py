"""The protocols a plan may name: each one's parameters and the gates it needs.

The one list of what this software version runs. The plan checks a schedule against it
(:mod:`station.plan`); each protocol class takes its name, params and gates from its entry,
and :data:`station.protocols.PROTOCOLS` maps every entry to the class that runs it. A leaf
module, so that the plan, which the protocols build on, checks params without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from station.protocol_params import (
    ChoicesParam,
    IntParam,
    NumberParam,
    OneOfParam,
    PadsParam,
    Param,
)


@dataclass(frozen=True)
class StationAbilities:
    """What a station's hardware can do: what a plan is checked against when it arrives,
    so that a plan the station could not run is refused then, with the reason."""

    n_pads: int
    #: Motors, motor n under pad n; 0 when no motors are fitted.
    n_motors: int
    actuator: str = "erm"
    #: Vary the vibration frequency at a matched intensity: neither an ERM (frequency and
    #: amplitude are one drive) nor an LRA at its resonance (one frequency) can.
    frequency_control: bool = False
    #: Groove width (mm) of each pad's overlay.
    texture_widths_mm: tuple[float, ...] = ()
    #: The IMU glove is fitted (finger range of motion needs it).
    glove: bool = False

    @classmethod
    def of(cls, config: Any) -> StationAbilities:
        """From a validated station config (``station.config``)."""
        from station.config import n_pads, texture_widths_mm

        hap = config["haptics"]
        motors = 0
        if hap["fitted"]:
            motors = len(hap["channels"] if hap["driver"] == "drv2605l" else hap["pwm_pins"])
        return cls(
            n_pads=n_pads(config),
            n_motors=motors,
            actuator=hap["actuator"] if hap["fitted"] else "",
            texture_widths_mm=tuple(texture_widths_mm(config)),
            glove=bool(config["glove"]["fitted"]),
        )


@dataclass(frozen=True)
class ProtocolSpec:
    """What a plan can say about a protocol, and what the session must allow it."""

    name: str
    #: The plan params it takes; a plan naming any other is refused.
    params: Mapping[str, Param]
    #: Needs the plan's ``gates.maximal_tests`` (maximal grip, RFD, fatigue).
    maximal: bool = False
    #: Stopped by a rule that stops force work; skipped on a day without vibration.
    uses_force: bool = False
    uses_vibration: bool = False
    #: ``check(params, station)``: why this station cannot run it with ``params``, or None.
    station_check: Callable[[dict[str, Any], StationAbilities], str | None] | None = None
    #: ``check(params)``: ``(param, problem)`` when the params do not fit together, or None.
    params_check: Callable[[dict[str, Any]], tuple[str, str] | None] | None = None


MAX_GRIP = ProtocolSpec(
    "max_grip",
    {
        "hands": ChoicesParam(("involved", "uninvolved"), default=("involved", "uninvolved")),
        "trials_per_hand": IntParam(1, 6, default=3),
        "pad": IntParam(0, 15, default=0),
    },
    maximal=True,
    uses_force=True,
)

# -- sensory (CLINICAL.md §4.7; docs/sensory.md) -----------------------------------------

_SENSORY_COMMON: dict[str, Param] = {
    "mode": OneOfParam(("training", "assessment"), default="training"),
    "hand": OneOfParam(("involved", "uninvolved"), default="involved"),
    # 0: the mode's default (training 30, assessment 50); the protocol checks the mode's
    # range (training 20-40, assessment 40-60).
    "trials": IntParam(0, 60, default=0),
}
_STIMULUS_S = NumberParam(0.2, 2.0, default=0.5, unit="s")
_ABOVE_DB = NumberParam(10.0, 25.0, default=18.0, unit="dB")
#: The params of a vibrotactile task run on each of its sites in turn.
_ONE_SITE_VIBRATION: dict[str, Param] = {
    **_SENSORY_COMMON,
    "sites": PadsParam(1, 4, default=(0,)),
    "stimulus_s": _STIMULUS_S,
}


#: Trials per block by mode: the range, and the default when the plan gives 0.
TRIALS_BY_MODE = {"training": (20, 40, 30), "assessment": (40, 60, 50)}


def _trials_check(params: dict[str, Any]) -> tuple[str, str] | None:
    lo, hi, _ = TRIALS_BY_MODE[params["mode"]]
    if params["trials"] and not lo <= params["trials"] <= hi:
        return "trials", f"must be {lo} to {hi} in {params['mode']} mode (or 0: the default)"
    return None


def _localisation_params(params: dict[str, Any]) -> tuple[str, str] | None:
    sites = params["sites"]
    if sites != list(range(sites[0], sites[0] + len(sites))):
        return "sites", f"must be neighbouring pads in order (e.g. [0, 1, 2, 3]), got {sites}"
    return _trials_check(params)


def _motors_check(params: dict[str, Any], station: StationAbilities) -> str | None:
    missing = [p for p in params["sites"] if p >= station.n_motors]
    if missing:
        have = f"motors under pads 0-{station.n_motors - 1}" if station.n_motors else "no motors"
        return f"no vibration motor under pad {missing[0]} (this station has {have})"
    return None


def _frequency_check(params: dict[str, Any], station: StationAbilities) -> str | None:
    if not station.frequency_control:
        what = {"erm": "ERM motors (frequency and amplitude move together)",
                "lra": "LRA motors at resonance (one frequency)"}.get(
            station.actuator, "no motors")  # fmt: skip
        return (
            "needs an actuator that varies frequency at a matched intensity; "
            f"this station has {what}"
        )
    return _motors_check(params, station)


def _texture_check(params: dict[str, Any], station: StationAbilities) -> str | None:
    pads = params["pads"]
    if any(p >= station.n_pads for p in pads):
        return f"pad {max(pads)} is not fitted (this station has pads 0-{station.n_pads - 1})"
    widths = [station.texture_widths_mm[p] for p in pads]
    if len(set(widths)) < 2:
        return "the pads' textures (pads.textures_mm) are all the same: nothing to compare"
    if params["task"] == "odd_one_out" and len(set(widths)) == len(widths):
        return "odd_one_out needs two pads of the same texture (pads.textures_mm)"
    return None


VIBRATION_THRESHOLD = ProtocolSpec(
    "vibration_threshold",
    {
        **_ONE_SITE_VIBRATION,
    },
    uses_vibration=True,
    station_check=_motors_check,
    params_check=_trials_check,
)
AMPLITUDE_DISCRIMINATION = ProtocolSpec(
    "amplitude_discrimination",
    {
        **_ONE_SITE_VIBRATION,
        "above_threshold_db": _ABOVE_DB,
    },
    uses_vibration=True,
    station_check=_motors_check,
    params_check=_trials_check,
)
FREQUENCY_DISCRIMINATION = ProtocolSpec(
    "frequency_discrimination",
    {
        **_ONE_SITE_VIBRATION,
        "above_threshold_db": _ABOVE_DB,
        "base_hz": NumberParam(50.0, 300.0, default=150.0, unit="Hz"),
    },
    uses_vibration=True,
    station_check=_frequency_check,
    params_check=_trials_check,
)
TEXTURE_DISCRIMINATION = ProtocolSpec(
    "texture_discrimination",
    {
        **_SENSORY_COMMON,
        # the standard station's 8 pads; a station with fewer is refused on arrival
        "pads": PadsParam(2, 16, default=tuple(range(8))),
        "task": OneOfParam(("2afc", "odd_one_out"), default="2afc"),
        "touch_s": NumberParam(1.0, 5.0, default=2.5, unit="s"),
    },
    station_check=_texture_check,
    params_check=_trials_check,
)
LOCALISATION = ProtocolSpec(
    "localisation",
    {
        **_SENSORY_COMMON,
        "sites": PadsParam(3, 4, default=(0, 1, 2, 3)),
        "stimulus_s": _STIMULUS_S,
    },
    uses_vibration=True,
    station_check=_motors_check,
    params_check=_localisation_params,
)

# -- motor relearning (CLINICAL.md §2-3, §5, §6; docs/motor.md) ---------------------------

_HAND = OneOfParam(("involved", "uninvolved"), default="involved")
#: Every motor task: the working hand, its pad, and priming (a short vibration block on
#: ``priming_sites`` just before the task; 0 s: none).
_PRIMING: dict[str, Param] = {
    "priming_s": NumberParam(0.0, 60.0, default=0.0, unit="s"),
    "priming_sites": PadsParam(1, 4, default=(0,)),
}
_MOTOR_COMMON: dict[str, Param] = {
    "hand": _HAND,
    "pad": IntParam(0, 15, default=0),
    **_PRIMING,
}
#: Rest between the holds or profiles of a bar task, and its progression (CLINICAL.md §5):
#: ``step_pct`` points of level a session, a plateau named after ``plateau_sessions``.
_REST_S = NumberParam(3.0, 60.0, default=10.0, unit="s")
_STEP_PCT = NumberParam(0.0, 10.0, default=2.5, unit="%")
_PLATEAU_SESSIONS = IntParam(2, 8, default=3)


def _pad_check(params: dict[str, Any], station: StationAbilities) -> str | None:
    pads = [params[k] for k in ("pad", "left_pad", "right_pad") if k in params]
    missing = [p for p in pads if p >= station.n_pads]
    if missing:
        return f"pad {missing[0]} is not fitted (this station has pads 0-{station.n_pads - 1})"
    return None


def _motor_check(params: dict[str, Any], station: StationAbilities) -> str | None:
    """The task's pads fitted, and motors under the priming sites when it primes."""
    wrong = _pad_check(params, station)
    if wrong is None and params.get("priming_s", 0.0) > 0:
        wrong = _motors_check({"sites": params["priming_sites"]}, station)
        if wrong is not None:
            wrong = f"priming: {wrong}"
    return wrong


def _glove_check(params: dict[str, Any], station: StationAbilities) -> str | None:
    if not station.glove:
        return "needs the IMU glove (glove.fitted is false on this station)"
    return _motor_check(params, station)


FORCE_STEADINESS = ProtocolSpec(
    "force_steadiness",
    {
        **_MOTOR_COMMON,
        "level_pct": NumberParam(2.0, 40.0, default=10.0, unit="%"),
        "hold_s": NumberParam(8.0, 30.0, default=12.0, unit="s"),
        "trials": IntParam(1, 6, default=3),
        "band_pct": NumberParam(2.0, 30.0, default=10.0, unit="%"),  # of the target
        "rest_s": _REST_S,
        "step_pct": _STEP_PCT,
        "max_level_pct": NumberParam(2.0, 40.0, default=25.0, unit="%"),
        "advance_cv_pct": NumberParam(1.0, 20.0, default=5.0, unit="%"),
        "plateau_sessions": _PLATEAU_SESSIONS,
    },
    uses_force=True,
    station_check=_motor_check,
)
FORCE_TRACKING = ProtocolSpec(
    "force_tracking",
    {
        **_MOTOR_COMMON,
        "profiles": ChoicesParam(("ramp", "sine", "steps"), default=("ramp", "sine", "steps")),
        "level_pct": NumberParam(5.0, 40.0, default=20.0, unit="%"),
        "band_pct": NumberParam(2.0, 20.0, default=10.0, unit="%"),
        "duration_s": NumberParam(10.0, 40.0, default=20.0, unit="s"),
        "rest_s": _REST_S,
        "step_pct": _STEP_PCT,
        "max_level_pct": NumberParam(5.0, 40.0, default=30.0, unit="%"),
        "advance_in_band_pct": NumberParam(30.0, 100.0, default=70.0, unit="%"),
        "plateau_sessions": _PLATEAU_SESSIONS,
    },
    uses_force=True,
    station_check=_motor_check,
)
RATE_OF_FORCE_DEVELOPMENT = ProtocolSpec(
    "rate_of_force_development",
    {
        **_MOTOR_COMMON,
        "trials": IntParam(1, 8, default=5),
    },
    maximal=True,
    uses_force=True,
    station_check=_motor_check,
)
GRIP_RELEASE = ProtocolSpec(
    "grip_release",
    {
        **_MOTOR_COMMON,
        "trials": IntParam(1, 3, default=2),
        "duration_s": NumberParam(5.0, 15.0, default=10.0, unit="s"),
    },
    uses_force=True,
    station_check=_motor_check,
)
SUSTAINED_HOLD = ProtocolSpec(
    "sustained_hold",
    {
        **_MOTOR_COMMON,
        "mode": OneOfParam(("intermittent", "sustained"), default="intermittent"),
        "reps": IntParam(4, 12, default=12),
        "hold_s": NumberParam(10.0, 60.0, default=30.0, unit="s"),
    },
    maximal=True,
    uses_force=True,
    station_check=_motor_check,
)
BILATERAL = ProtocolSpec(
    "bilateral",
    {
        "left_pad": IntParam(0, 15, default=0),
        "right_pad": IntParam(0, 15, default=1),
        **_PRIMING,
        "level_pct": NumberParam(5.0, 40.0, default=20.0, unit="%"),
        "hold_s": NumberParam(5.0, 20.0, default=8.0, unit="s"),
        "trials": IntParam(1, 6, default=3),
        "lead": OneOfParam(("together", "uninvolved"), default="together"),
    },
    uses_force=True,
    station_check=_motor_check,
)
FINGER_ROM = ProtocolSpec(
    "finger_rom",
    {
        "hand": _HAND,
        **_PRIMING,
        "fingers": ChoicesParam(
            ("thumb", "index", "middle", "ring", "little"),
            default=("thumb", "index", "middle", "ring", "little"),
        ),
        "tries": IntParam(1, 5, default=3),
        "hold_s": NumberParam(2.0, 6.0, default=3.0, unit="s"),
    },
    station_check=_glove_check,
)
MOTOR_IMAGERY = ProtocolSpec(
    "motor_imagery",
    {
        "hand": _HAND,
        "script": OneOfParam(("grip", "fingers", "reach"), default="grip"),
        "minutes": NumberParam(1.0, 15.0, default=5.0, unit="min"),
        # "auto": the short imagery-only version on a day pain or fatigue limits practice;
        # "always": the short version every time (the clinician's choice).
        "low_effort": OneOfParam(("auto", "always"), default="auto"),
    },
)

#: Every protocol this software version runs, by plan name.
CATALOG: Mapping[str, ProtocolSpec] = {
    spec.name: spec
    for spec in (
        MAX_GRIP,
        VIBRATION_THRESHOLD,
        AMPLITUDE_DISCRIMINATION,
        FREQUENCY_DISCRIMINATION,
        TEXTURE_DISCRIMINATION,
        LOCALISATION,
        FORCE_STEADINESS,
        FORCE_TRACKING,
        RATE_OF_FORCE_DEVELOPMENT,
        GRIP_RELEASE,
        SUSTAINED_HOLD,
        BILATERAL,
        FINGER_ROM,
        MOTOR_IMAGERY,
    )
}


__all__ = [
    "AMPLITUDE_DISCRIMINATION",
    "BILATERAL",
    "CATALOG",
    "FINGER_ROM",
    "FORCE_STEADINESS",
    "FORCE_TRACKING",
    "FREQUENCY_DISCRIMINATION",
    "GRIP_RELEASE",
    "LOCALISATION",
    "MAX_GRIP",
    "MOTOR_IMAGERY",
    "RATE_OF_FORCE_DEVELOPMENT",
    "SUSTAINED_HOLD",
    "TEXTURE_DISCRIMINATION",
    "VIBRATION_THRESHOLD",
    "ProtocolSpec",
    "StationAbilities",
]
