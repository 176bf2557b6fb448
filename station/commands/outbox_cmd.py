"""``rehab-station outbox [--json]``: what waits for the clinic in the station outbox.

Reads ``<data_dir>/station.db`` read-only. Exit 0; 1 when the outbox needs a technician:
rows rejected by the broker, or the outbox at its capacity (``mqtt.outbox_max_rows``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mqtt_bridge import outbox
from station.paths import station_db


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "outbox",
        parents=parents,
        help="messages waiting for the clinic: pending, sent, acknowledged, rejected",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def run(args: argparse.Namespace, ctx: Any) -> int:
    path = station_db(ctx.data_dir)
    max_rows = int(ctx.config["mqtt"]["outbox_max_rows"])
    counts = outbox.read_counts(path)
    if counts is None:
        counts = outbox.Counts(0, 0, 0, 0, 0, 0, None)
    full = counts.depth >= max_rows
    needs_attention = counts.rejected > 0 or full
    if args.json:
        out = {"database": str(path), "exists": path.exists(), **counts.to_dict()}
        out.update(max_rows=max_rows, full=full)
        print(json.dumps(out, indent=2))
        return 1 if needs_attention else 0
    if not path.exists():
        print(f"no station database yet at {path}: nothing waiting")
        return 0
    rows = [
        ("pending", counts.pending, "not yet confirmed by the broker"),
        ("sent", counts.sent, "broker has it; waiting for the clinic's acknowledgement"),
        ("rejected", counts.rejected, "refused by the broker (never resent)"),
        ("acknowledged", counts.acknowledged, "stored by the clinic, removed from the outbox"),
    ]
    print(f"outbox in {path}")
    for name, n, what in rows:
        print(f"  {name:<13}{n:>8}  {what}")
    print(f"  {'depth':<13}{counts.depth:>8}  of at most {max_rows}")
    print(f"  oldest unacknowledged: {_age(counts.oldest_pending_age_s)}")
    if counts.rejected:
        print("ATTENTION: rejected messages: check the broker ACL for this station id")
    if full:
        print("ATTENTION: outbox full: new summaries are refused; check network and clinic")
    return 1 if needs_attention else 0
