"""The ``rehab-station`` command line (also ``python -m station``).

Global options (``--config``, ``--data-dir``, ``--broker``, ``--log-level``, ``--sim``) are
accepted before or after the subcommand. Each subcommand lives in ``station/commands/`` as
a module with ``register(subparsers, parents)``; its handler takes ``(args, ctx)`` and
returns the exit code. A bad configuration exits 1 naming the key, before any hardware,
network or data directory is touched.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from station import __version__
from station import config as config_mod
from station.commands import COMMANDS
from station.context import Context, find_config
from station.logsetup import setup_logging

log = logging.getLogger(__name__)

LOG_LEVELS = ("debug", "info", "warning", "error")


def _globals(suppress: bool) -> argparse.ArgumentParser:
    """Global options; on subparsers their defaults are suppressed so either place works."""
    p = argparse.ArgumentParser(add_help=False)
    d = argparse.SUPPRESS if suppress else None
    g = p.add_argument_group("global options")
    g.add_argument(
        "--config",
        metavar="FILE",
        default=d,
        help="station config (TOML); default: the first of "
        "$REHAB_STATION_CONFIG, ~/.config/rehab-station/station.toml, "
        "/etc/rehab-station/station.toml",
    )
    g.add_argument(
        "--data-dir",
        metavar="DIR",
        default=d,
        help="data directory (journal, outbox, calibrations)",
    )
    g.add_argument(
        "--broker",
        metavar="URL",
        default=d,
        help="MQTT broker, mqtt://host:port or mqtts://host:port "
        "(overrides the config and enables publishing)",
    )
    g.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=d if suppress else "info",
        help="log verbosity (default: info)",
    )
    g.add_argument(
        "--sim",
        action="store_true",
        default=d if suppress else False,
        help="run on the simulated station (no config file needed)",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rehab-station",
        description="Home hand-rehabilitation station: graded sensory and grip protocols, "
        "technician self-tests, and session summaries for the clinic.",
        parents=[_globals(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"rehab-station {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parents = [_globals(suppress=True)]
    for module in COMMANDS:
        module.register(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        ctx = Context.from_args(args)
    except config_mod.ConfigError as exc:
        print(f"rehab-station: {exc}", file=sys.stderr)
        return 1
    try:
        return int(args.func(args, ctx) or 0)
    except config_mod.ConfigError as exc:
        print(f"rehab-station: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


__all__ = ["build_parser", "find_config", "main"]
