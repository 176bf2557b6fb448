"""Several clinic consumers at once: ``rehab-station clinic ingest --workers N`` runs N
worker processes that share the outbox topics through an MQTT v5 shared subscription
(:func:`mqtt_bridge.clinic.subscriptions`) and store into one database (PostgreSQL: SQLite
has one writer at a time, so more workers only wait for its lock).

Each worker is a full :class:`~mqtt_bridge.clinic.Ingest` with its own client id
(``<client-id>-<n>``) and a short persistent session (:data:`SHARED_SESSION_EXPIRY_S`): a
worker restarted within it gets back the messages the broker had in flight to it, and one
that stays away stops holding its share of new messages when the session expires; the
stations resend whatever was lost with it (end-to-end acknowledgements). Worker 0 also
keeps the stations' status and the clinic's plans.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import queue
import signal
import threading
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.clinic import Ingest, IngestStats, subscriptions
from mqtt_bridge.clinic_connect import BrokerOptions, make_client
from mqtt_bridge.clinic_db import ClinicDB, ClinicDBError

log = logging.getLogger(__name__)

#: Session expiry of a shared-subscription worker: long enough for a restart by its
#: supervisor, short enough that a dead worker does not hoard its share for long
#: (``reference/MQTT.md`` §8: a persistent member keeps receiving while offline).
SHARED_SESSION_EXPIRY_S = 60
#: The default share group of ``--workers N``.
DEFAULT_GROUP = "clinic-ingest"
#: How long the parent waits for its workers after asking them to stop.
STOP_WAIT_S = 15.0


@dataclass(frozen=True)
class WorkerPlan:
    """What every worker runs: the broker, the database (path or URL), the share group
    (None: not shared), whether worker 0 keeps status and plans, and when to stop."""

    opts: BrokerOptions
    db: str
    group: str | None
    status: bool = True
    session_expiry_s: int = SHARED_SESSION_EXPIRY_S
    max_seconds: float | None = None
    until_idle_s: float | None = None
    #: The parent's log level: a spawned worker starts without the parent's logging.
    log_level: int = logging.INFO


def run_one(plan: WorkerPlan, index: int, stop: threading.Event) -> IngestStats:
    """Run worker ``index`` in this process until ``stop`` (or the plan's limits)."""
    opts = dataclasses.replace(plan.opts, client_id=f"{plan.opts.client_id}-{index}")
    client, connect = make_client(opts, persistent=True, session_expiry_s=plan.session_expiry_s)
    with ClinicDB(plan.db) as db:
        subs = subscriptions(plan.group, status=plan.status and index == 0)
        ingest = Ingest(client, db, subs=subs, end_session=plan.group is not None)
        return ingest.run(stop, plan.max_seconds, plan.until_idle_s, connect)


def _child(plan: WorkerPlan, index: int, results: Any) -> None:
    logging.basicConfig(
        level=plan.log_level,
        format=f"%(asctime)s %(levelname)s %(name)s[worker {index}]: %(message)s",
    )
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    try:
        stats = run_one(plan, index, stop)
    except ClinicDBError as exc:
        results.put((index, None, str(exc)))
        raise SystemExit(1) from None
    results.put((index, stats.as_dict(), None))


def add_stats(total: dict[str, Any], one: dict[str, Any]) -> None:
    """Add one worker's counters into ``total``."""
    for k, v in one.items():
        if k == "reasons":
            for r, n in v.items():
                total["reasons"][r] = total["reasons"].get(r, 0) + n
        else:
            total[k] = total.get(k, 0) + v


def run_workers(
    plan: WorkerPlan, workers: int, stop: threading.Event
) -> tuple[dict[str, Any], list[str]]:
    """Run ``workers`` worker processes until ``stop`` is set, a worker fails (the others
    are then stopped: a supervisor restarts the command) or all end by the plan's limits.
    The summed counters, and the errors of workers that failed."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    ctx = multiprocessing.get_context("spawn")
    results: Any = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(plan, i, results), name=f"clinic-ingest-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    stopping = False
    while any(p.is_alive() for p in procs):
        failed = any(p.exitcode not in (None, 0) for p in procs)
        if (stop.is_set() or failed) and not stopping:
            stopping = True
            for p in procs:
                if p.is_alive():
                    p.terminate()  # SIGTERM: the worker finishes its batch and stops
        multiprocessing.connection.wait([p.sentinel for p in procs if p.is_alive()], 0.2)
    # A worker stopped by our SIGTERM before it set its handler ends with -SIGTERM.
    errors = [
        f"worker {p.name} ended with exit code {p.exitcode}"
        for p in procs
        if p.exitcode not in (0, -signal.SIGTERM)
    ]
    total: dict[str, Any] = {"reasons": {}}
    for _ in procs:
        try:
            _, stats, error = results.get(timeout=1.0)
        except queue.Empty:
            break
        if error:
            errors.append(error)
        else:
            add_stats(total, stats)
    for p in procs:
        p.join(STOP_WAIT_S)
    return total, errors


__all__ = [
    "DEFAULT_GROUP",
    "SHARED_SESSION_EXPIRY_S",
    "WorkerPlan",
    "add_stats",
    "run_one",
    "run_workers",
]
