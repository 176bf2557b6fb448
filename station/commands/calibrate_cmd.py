"""``rehab-station calibrate``: placeholder while it is written."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("calibrate", parents=parents, help="guided calibration")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Any) -> int:
    return 2
