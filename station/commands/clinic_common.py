"""What the ``rehab-station clinic`` actions share: the ``--db`` help and check, argument
types, the MQTT connection options and the broker options built from them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqtt_bridge.clinic import BrokerOptions


def positive(text: str) -> float:
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


DB_HELP = "clinic database: a SQLite file, or a postgresql://user@host/db URL"


def workers(text: str) -> int:
    v = int(text)
    if not 1 <= v <= 64:
        raise argparse.ArgumentTypeError(f"must be 1..64, got {text}")
    return v


def db_missing(db: str) -> bool:
    """Whether a SQLite ``--db`` names no file (said, not created, by the readers); a
    PostgreSQL URL is checked when connecting."""
    from mqtt_bridge.clinic_schema import is_postgres

    if is_postgres(db) or Path(db).is_file():
        return False
    print(f"rehab-station clinic: no database at {db}", file=sys.stderr)
    return True


def connection_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection")
    g.add_argument("--ca", metavar="FILE", help="CA certificate (PEM) for mqtts")
    g.add_argument("--cert", metavar="FILE", help="client certificate (PEM) for mutual TLS")
    g.add_argument("--key", metavar="FILE", help="client private key (PEM)")
    g.add_argument("--username", help="MQTT username")
    g.add_argument(
        "--password-env",
        metavar="VAR",
        help="environment variable holding the MQTT password (never on the command line)",
    )


def broker_options(args: argparse.Namespace, client_id: str) -> BrokerOptions | None:
    from mqtt_bridge.clinic import BrokerOptions

    if not getattr(args, "broker", None):
        print("rehab-station clinic: --broker URL is required", file=sys.stderr)
        return None
    password = os.environ.get(args.password_env) if args.password_env else None
    if args.password_env and password is None:
        print(f"rehab-station clinic: ${args.password_env} is not set", file=sys.stderr)
        return None
    return BrokerOptions(
        args.broker, client_id, args.ca, args.cert, args.key, args.username, password
    )


__all__ = ["DB_HELP", "broker_options", "connection_options", "db_missing", "positive", "workers"]
