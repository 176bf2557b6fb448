"""``rehab-station clinic ingest``: consume the stations' messages into the clinic database,
in this process or in ``--workers N`` processes on an MQTT v5 shared subscription."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from station.commands.clinic_common import broker_options

log = logging.getLogger(__name__)


def run_ingest(args: argparse.Namespace, ctx: Any) -> int:
    from mqtt_bridge.clinic import SESSION_EXPIRY_S, Ingest, IngestStats, make_client, subscriptions
    from mqtt_bridge.clinic_db import ClinicDB, ClinicDBError
    from mqtt_bridge.clinic_workers import (
        DEFAULT_GROUP,
        SHARED_SESSION_EXPIRY_S,
        WorkerPlan,
        run_workers,
    )

    opts = broker_options(args, args.client_id)
    if opts is None:
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    group = args.group if args.group is not None else (DEFAULT_GROUP if args.workers > 1 else None)
    try:
        subs = subscriptions(group, status=not args.no_status)
    except ValueError as exc:
        print(f"rehab-station clinic: --group: {exc}", file=sys.stderr)
        return 2
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if args.workers > 1:
            plan = WorkerPlan(
                opts,
                args.db,
                group,
                not args.no_status,
                SHARED_SESSION_EXPIRY_S,
                args.max_seconds,
                args.until_idle,
                logging.getLogger().getEffectiveLevel(),
            )
            totals, errors = run_workers(plan, args.workers, stop)
            for error in errors:
                print(f"rehab-station clinic: {error}", file=sys.stderr)
            if errors:
                return 1
            stats = IngestStats(**totals)
        else:
            expiry = SESSION_EXPIRY_S if group is None else SHARED_SESSION_EXPIRY_S
            client, connect = make_client(opts, persistent=True, session_expiry_s=expiry)
            with ClinicDB(args.db) as db:
                ingest = Ingest(client, db, subs=subs, end_session=group is not None)
                stats = ingest.run(stop, args.max_seconds, args.until_idle, connect)
    except ClinicDBError as exc:
        print(f"rehab-station clinic: {exc}", file=sys.stderr)
        return 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if args.json:
        print(json.dumps(stats.as_dict(), sort_keys=True))
    else:
        print(
            f"ingest: {stats.received} received, {stats.stored} stored, "
            f"{stats.duplicates} duplicates, {stats.id_conflicts} id conflicts, "
            f"{stats.rejected} rejected, "
            f"{stats.statuses} status, {stats.acks_published} acks, {stats.connects} connects"
        )
    return 0


__all__ = ["run_ingest"]
