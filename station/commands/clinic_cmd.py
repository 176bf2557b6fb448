"""``rehab-station clinic {ingest,report,send-plan}``: the clinician's side of the MQTT link.

These run at the clinic, not on a station, so they need no station config file
(``no_config_needed``). The broker is the global ``--broker URL``. ``--db`` is a SQLite
file or a ``postgresql://`` URL everywhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from station.commands import clinic_ingest_cmd
from station.commands.clinic_common import (
    DB_HELP,
    broker_options,
    connection_options,
    db_missing,
    positive,
    workers,
)

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "clinic", help="clinic side: ingest summaries, report, send plans", parents=parents
    )
    csub = p.add_subparsers(dest="clinic_command", metavar="ACTION", required=True)

    ingest = csub.add_parser(
        "ingest",
        parents=parents,
        help="consume station summaries into the clinic database and acknowledge them",
    )
    ingest.add_argument("--db", required=True, metavar="DB", help=DB_HELP)
    ingest.add_argument(
        "--client-id",
        default="clinic-ingest",
        help="MQTT client id (default: clinic-ingest; worker n of --workers: <id>-<n>)",
    )
    ingest.add_argument(
        "--workers",
        type=workers,
        default=1,
        metavar="N",
        help="N worker processes on an MQTT v5 shared subscription (default 1; use "
        "PostgreSQL for more than one)",
    )
    ingest.add_argument(
        "--group",
        metavar="NAME",
        help="share the outbox topics as $share/NAME/... with other consumers (default with "
        "--workers > 1: clinic-ingest)",
    )
    ingest.add_argument(
        "--no-status",
        action="store_true",
        help="leave the stations' status and the retained plans to another consumer of the "
        "group (run it on every process of a group but one)",
    )
    connection_options(ingest)
    ingest.add_argument("--max-seconds", type=positive, metavar="N", help="stop after N s")
    ingest.add_argument(
        "--until-idle", type=positive, metavar="S", help="stop after S s without a message"
    )
    ingest.add_argument("--json", action="store_true", help="print the final counters as JSON")
    ingest.set_defaults(func=clinic_ingest_cmd.run_ingest, no_config_needed=True)

    report = csub.add_parser(
        "report", parents=parents, help="adherence, latest results, trends, safety events"
    )
    report.add_argument("--db", required=True, metavar="DB", help=DB_HELP)
    report.add_argument("--station", metavar="ID", help="only this station")
    report.add_argument(
        "--plots", metavar="DIR", help="write one page per station (PNG and PDF) into DIR"
    )
    report.add_argument(
        "--as-of",
        metavar="TIME",
        help="ISO 8601 time the report is made for ('this week', ages; default: now)",
    )
    report.add_argument("--json", action="store_true", help="print JSON")
    report.set_defaults(func=run_report, no_config_needed=True)

    export = csub.add_parser(
        "export", parents=parents, help="export results for a record system (FHIR R4)"
    )
    export.add_argument("--db", required=True, metavar="DB", help=DB_HELP)
    export.add_argument(
        "--fhir", action="store_true", required=True, help="FHIR R4 Bundles of Observations"
    )
    export.add_argument("--station", metavar="ID", help="only this station")
    export.add_argument(
        "--out", metavar="DIR", help="write <station>.fhir.json per station (default: stdout)"
    )
    export.set_defaults(func=run_export, no_config_needed=True)

    user = csub.add_parser("user", parents=parents, help="dashboard users")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    uadd = usub.add_parser("add", parents=parents, help="add a user or set a new password")
    uadd.add_argument("--db", required=True, metavar="DB", help=DB_HELP)
    uadd.add_argument("--username", required=True, help="the clinician's user name")
    uadd.add_argument(
        "--password-env",
        metavar="VAR",
        help="environment variable holding the password (default: asked on the terminal)",
    )
    uadd.set_defaults(func=run_user_add, no_config_needed=True)

    serve = csub.add_parser(
        "serve", parents=parents, help="read-only web dashboard (sign-in required)"
    )
    serve.add_argument("--db", required=True, metavar="DB", help=DB_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free)")
    serve.add_argument("--cert", metavar="FILE", help="TLS certificate (PEM): serve https")
    serve.add_argument("--key", metavar="FILE", help="TLS private key (PEM)")
    serve.set_defaults(func=run_serve, no_config_needed=True)

    st = csub.add_parser(
        "station", parents=parents, help="record what the clinic knows of a station's patient"
    )
    st.add_argument("--db", required=True, metavar="DB", help=DB_HELP)
    st.add_argument("--station", required=True, metavar="ID", help="station id")
    st.add_argument(
        "--handedness",
        required=True,
        choices=("right", "left", "ambidextrous"),
        help="the patient's dominant hand (adjusts the grip symmetry, CLINICAL.md §2.4)",
    )
    st.set_defaults(func=run_station, no_config_needed=True)

    send = csub.add_parser(
        "send-plan",
        parents=parents,
        help="validate a plan, publish it to a station, print the station's answer",
    )
    send.add_argument("--station", required=True, metavar="ID", help="target station id")
    send.add_argument("file", metavar="FILE", help="plan (rehab.plan/1 JSON)")
    send.add_argument(
        "--timeout",
        type=positive,
        default=30.0,
        metavar="S",
        help="seconds to wait for the station's answer (default 30)",
    )
    send.add_argument(
        "--force",
        action="store_true",
        help="send even when this software version's station would refuse the plan or "
        "run nothing on a day it lists (a station on a newer version may run it)",
    )
    send.add_argument("--client-id", help="MQTT client id (default: a random one)")
    connection_options(send)
    send.set_defaults(func=run_send_plan, no_config_needed=True)


def run_report(args: argparse.Namespace, ctx: Any) -> int:
    from mqtt_bridge import clinic_plots, clinic_report, clinic_text, clocks
    from mqtt_bridge.clinic_db import ClinicDB, ClinicDBError

    if db_missing(args.db):
        return 1
    try:
        now = clocks.parse_iso(args.as_of) if args.as_of else None
    except ValueError as exc:
        print(f"rehab-station clinic: --as-of: {exc}", file=sys.stderr)
        return 2
    try:
        with ClinicDB(args.db) as db:
            rep = clinic_report.build_report(db, args.station, now)
    except ClinicDBError as exc:
        print(f"rehab-station clinic: {exc}", file=sys.stderr)
        return 1
    if args.station and not rep["stations"]:
        print(f"rehab-station clinic: no station {args.station!r} in {args.db}", file=sys.stderr)
        return 1
    plots: list[Path] = []
    if args.plots:
        try:
            plots = clinic_plots.write_plots(rep, args.plots)
        except RuntimeError as exc:
            print(f"rehab-station clinic: {exc}", file=sys.stderr)
            return 1
    if args.json:
        rep["plots"] = [str(p) for p in plots]
        print(json.dumps(rep, indent=2, sort_keys=True))
    else:
        print(clinic_text.format_text(rep))
        for p in plots:
            print(f"plot: {p}")
    return 0


def run_export(args: argparse.Namespace, ctx: Any) -> int:
    from mqtt_bridge import clinic_fhir
    from mqtt_bridge.clinic_db import ClinicDB, ClinicDBError

    if db_missing(args.db):
        return 1
    try:
        with ClinicDB(args.db) as db:
            bundles = clinic_fhir.bundles(db, args.station)
    except ClinicDBError as exc:
        print(f"rehab-station clinic: {exc}", file=sys.stderr)
        return 1
    if args.station and not bundles:
        print(f"rehab-station clinic: no station {args.station!r} in {args.db}", file=sys.stderr)
        return 1
    if not args.out:
        print(json.dumps(list(bundles.values()), indent=2))
        return 0
    for path, n in clinic_fhir.write(bundles, args.out):
        print(f"{path}: {n} observations")
    return 0


def run_user_add(args: argparse.Namespace, ctx: Any) -> int:
    import getpass

    from mqtt_bridge import clinic_users
    from mqtt_bridge.clinic_db import ClinicDB, ClinicDBError

    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"rehab-station clinic: ${args.password_env} is not set", file=sys.stderr)
            return 2
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("rehab-station clinic: the two passwords differ", file=sys.stderr)
            return 1
    try:
        with ClinicDB(args.db) as db:
            clinic_users.add(db, args.username, password)
    except (ClinicDBError, ValueError) as exc:
        print(f"rehab-station clinic: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.username}: password set")
    return 0


def run_serve(args: argparse.Namespace, ctx: Any) -> int:
    from mqtt_bridge import clinic_web

    if db_missing(args.db):
        return 1
    try:
        return clinic_web.serve(args.db, args.host, args.port, args.cert, args.key)
    except ValueError as exc:
        print(f"rehab-station clinic: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(
            f"rehab-station clinic: the dashboard needs 'rehab-station[clinic]' ({exc})",
            file=sys.stderr,
        )
        return 1


def run_station(args: argparse.Namespace, ctx: Any) -> int:
    from mqtt_bridge import clinic_settings
    from mqtt_bridge.clinic_db import ClinicDB, ClinicDBError

    try:
        with ClinicDB(args.db) as db:
            clinic_settings.set_handedness(db, args.station, args.handedness)
    except ClinicDBError as exc:
        print(f"rehab-station clinic: {exc}", file=sys.stderr)
        return 1
    print(f"station {args.station}: handedness {args.handedness}")
    return 0


def run_send_plan(args: argparse.Namespace, ctx: Any) -> int:
    from mqtt_bridge import sendplan

    opts = broker_options(args, args.client_id or f"clinic-plan-{uuid.uuid4().hex[:12]}")
    if opts is None:
        return 2
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"rehab-station clinic: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    if not _reviewed(args.station, data, args.force):
        return 1
    result = sendplan.send_plan(opts, args.station, data, args.timeout)
    print(result.describe())
    return result.exit_code


def _reviewed(station_id: str, data: bytes, force: bool) -> bool:
    """Whether to send: a plan this version's station would refuse or that runs nothing on
    a day it lists goes out only with ``--force``. Refusing by default because a sent plan
    is retained and taken at the station's next connect: a mistake cannot be called back,
    and the patient would have empty sessions until a newer plan arrives."""
    from mqtt_bridge import sendplan
    from station import plan_review

    try:
        doc = sendplan.validate(station_id, data)
    except ValueError:
        return True  # send_plan refuses it locally, naming the problem
    problems = plan_review.review(doc, station_id)
    version = doc["plan_version"]
    for problem in problems:
        label = "warning: " if force else ""
        print(f"rehab-station clinic: {label}plan_version {version}: {problem}", file=sys.stderr)
    if problems and not force:
        print(
            f"rehab-station clinic: plan_version {version} not sent; correct the plan, or "
            "send it anyway with --force",
            file=sys.stderr,
        )
        return False
    return True


__all__ = [
    "register",
    "run_export",
    "run_report",
    "run_send_plan",
    "run_serve",
    "run_station",
    "run_user_add",
]
