"""Subcommands of ``rehab-station``: one module each, listed in ``COMMANDS``.

A module provides ``register(subparsers, parents)`` that adds its parser (with
``parents=parents`` so global options work after the subcommand) and sets
``func=handler``; ``handler(args, ctx) -> int`` returns the exit code.
"""

from station.commands import (
    bench_cmd,
    calibrate_cmd,
    clinic_cmd,
    config_cmd,
    outbox_cmd,
    run_cmd,
    selftest_cmd,
    session_cmd,
)

COMMANDS = [
    run_cmd,
    session_cmd,
    selftest_cmd,
    calibrate_cmd,
    config_cmd,
    outbox_cmd,
    bench_cmd,
    clinic_cmd,
]
