"""``rehab-station config check``: validate a config and print it resolved."""

from __future__ import annotations

import argparse
import json

from station import config as config_mod


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "config", help="validate and show the station configuration", parents=parents
    )
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser(
        "check", parents=parents, help="validate the config; print it resolved, secrets redacted"
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace, ctx) -> int:
    cfg = ctx.config
    resolved = cfg.redacted()
    resolved["data"]["resolved_dir"] = str(ctx.data_dir)
    if args.json:
        print(json.dumps({"source": cfg.source, "config": resolved}, indent=2))
        return 0
    print(f"# config OK: {cfg.source}")
    for sec, values in resolved.items():
        if sec == "schema":
            print(f'schema = "{values}"')
            continue
        print(f"\n[{sec}]")
        for name, value in values.items():
            print(f"{name} = {_toml(value)}")
    return 0


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return str(v)


__all__ = ["config_mod", "register"]
