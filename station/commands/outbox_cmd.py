"""``rehab-station outbox [--json] [--retry-rejected]``: what waits for the clinic.

Reads ``<data_dir>/station.db`` read-only. Exit 0; 1 when the outbox needs a technician:
rows rejected by the broker, the outbox at its capacity (``mqtt.outbox_max_rows``), or a
database that is damaged or not the station's (``station.storage``).
``--retry-rejected`` (once the cause, often the broker's ACL for this station id, is fixed)
queues the rejected rows again; a running station sends them within a few seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from station.paths import station_db


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "outbox",
        parents=parents,
        help="messages waiting for the clinic: pending, sent, acknowledged, rejected",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--retry-rejected",
        action="store_true",
        help="queue the messages the broker rejected again (after fixing the cause)",
    )
    p.set_defaults(func=run)


#: Rejected rows listed by name in the text report.
SHOW_REJECTED = 10


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
    # Loaded when the command runs, not for every command's start (and --help).
    from mqtt_bridge import outbox
    from station.storage import StorageError, check_station_db

    path = station_db(ctx.data_dir)
    try:
        check_station_db(path)
    except StorageError as exc:
        print(f"rehab-station: {exc}", file=sys.stderr)
        return 1
    max_rows = int(ctx.config["mqtt"]["outbox_max_rows"])
    retried = _retry_rejected(path) if args.retry_rejected else None
    counts = outbox.read_counts(path)
    if counts is None:
        counts = outbox.Counts(0, 0, 0, 0, 0, 0, None)
    full = counts.depth >= max_rows
    needs_attention = counts.rejected > 0 or full
    rejected = outbox.read_rejected(path)
    link = outbox.read_link(path)
    if args.json:
        out = {"database": str(path), "exists": path.exists(), **counts.to_dict()}
        out.update(max_rows=max_rows, full=full, rejected_rows=rejected, link=link)
        if retried is not None:
            out["retried"] = retried
        print(json.dumps(out, indent=2))
        return 1 if needs_attention else 0
    if not path.exists():
        print(f"no station database yet at {path}: nothing waiting")
        return 0
    if retried is not None:
        print(f"{retried} rejected message(s) queued again for the clinic")
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
    for line in _link_lines(link):
        print(line)
    if counts.rejected:
        print("ATTENTION: rejected messages: check the broker ACL for this station id,")
        print("  then queue them again with: rehab-station outbox --retry-rejected")
        for r in rejected[:SHOW_REJECTED]:
            print(f"  seq {r['seq']} {r['kind']} of {r['created_at']}: {r['reason']}")
        if len(rejected) > SHOW_REJECTED:
            print(f"  ... and {len(rejected) - SHOW_REJECTED} more (--json lists them all)")
    if full:
        print("ATTENTION: outbox full: new summaries are refused; check network and clinic")
    return 1 if needs_attention else 0


def _link_lines(link: dict[str, Any] | None) -> list[str]:
    """The MQTT link as the station last recorded it, and its latest error."""
    from mqtt_bridge import outbox

    if link is None:
        return ["  link to the broker: not recorded yet"]
    state = {
        outbox.LINK_CONNECTED: "connected",
        outbox.LINK_DOWN: "NOT connected",
        outbox.LINK_STOPPED: "station client stopped",
    }.get(link["state"], link["state"])
    lines = [f"  link to the broker {link['broker']}: {state} since {link['since']}"]
    if link["last_error"]:
        lines.append(f"  last link error, first seen {link['last_error_at']}: {link['last_error']}")
    return lines


def _retry_rejected(path: Path) -> int:
    from mqtt_bridge import outbox

    counts = outbox.read_counts(path)
    if counts is None or not counts.rejected:
        return 0  # nothing to do: the database is not created or changed
    with outbox.Outbox(path) as ob:
        return ob.retry_rejected()
