"""Starting the station for a self-test: a part that does not start is left out.

The station's normal start stops at the first fitted chip that does not answer (the
service must not run without it). A self-test must go on and test everything else, so a
part whose start fails is recorded with its :class:`~station.hardware.HardwareError` and the
station is started again without it, until it starts.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import station.hardware as hardware
from station.config import Config
from station.hardware import HardwareError, Station

#: HardwareError part -> the config section that fits it.
SECTIONS = {"pads": "pads", "motors": "haptics", "glove": "glove", "lcd": "lcd"}


def without(config: Config, section: str) -> Config:
    """``config`` with ``section``'s part not fitted."""
    values = copy.deepcopy(config.values)
    values[section]["fitted"] = False
    return dataclasses.replace(config, values=values)


def start(
    config: Config,
    data_dir: Path,
    *,
    sim: bool,
    seed: int = 0,
    prepare_sim: Callable[[Any], None] | None = None,
) -> tuple[Station[Any], dict[str, HardwareError]]:
    """The station, and the parts left out because they did not start (by part).

    Raises :class:`HardwareError` for a problem that is not one part's (no GPIO, a bus
    that cannot be opened).
    """
    left_out: dict[str, HardwareError] = {}
    while True:
        try:
            station = hardware.build(
                config,
                sim=sim,
                data_dir=data_dir,
                seed=seed,
                calibrate_sim=False,
                prepare_sim=prepare_sim,
            )
        except HardwareError as exc:
            section = SECTIONS.get(exc.part or "")
            if section is None or exc.part in left_out:
                raise
            left_out[exc.part or ""] = exc
            config = without(config, section)
            continue
        return station, left_out
