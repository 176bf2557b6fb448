"""What every command handler receives: the validated config and where data lives."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from station import config as config_mod

CONFIG_SEARCH = (
    "~/.config/rehab-station/station.toml",
    "/etc/rehab-station/station.toml",
)


def find_config(environ: dict[str, str] | None = None) -> Path | None:
    """The config file to use when ``--config`` is not given, or None."""
    env = os.environ if environ is None else environ
    if env.get("REHAB_STATION_CONFIG"):
        return Path(env["REHAB_STATION_CONFIG"])
    for candidate in CONFIG_SEARCH:
        p = Path(candidate).expanduser()
        if p.is_file():
            return p
    return None


@dataclass
class Context:
    config: config_mod.Config
    sim: bool
    args: argparse.Namespace

    @property
    def data_dir(self) -> Path:
        """The data directory; the simulated station keeps its own (``...-sim``) unless
        one is given, so simulated sessions never mix with a patient's."""
        d = config_mod.data_dir(self.config)
        if self.sim and not self.config["data"]["dir"]:
            d = d.with_name(d.name + "-sim")
        return d

    def ensure_data_dir(self) -> Path:
        """Create the data directory (0700) on first use and return it."""
        d = self.data_dir
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return d

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        sim = bool(getattr(args, "sim", False))
        path = getattr(args, "config", None)
        if path is None and not getattr(args, "no_config_needed", False):
            found = find_config()
            path = str(found) if found else None
        if path is not None:
            cfg = config_mod.load(path, sim=sim)
        elif sim or getattr(args, "no_config_needed", False):
            cfg = config_mod.defaults()
        else:
            raise config_mod.ConfigError(
                "<file>",
                "no config file found; pass --config FILE, set "
                "$REHAB_STATION_CONFIG, or use --sim for the simulated station",
            )
        cfg = config_mod.with_overrides(
            cfg, data_dir=getattr(args, "data_dir", None), broker=getattr(args, "broker", None)
        )
        return cls(cfg, sim, args)
