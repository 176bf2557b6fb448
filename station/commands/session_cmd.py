"""``rehab-station session PROTOCOL``: run one protocol now, as a session of its own.

The protocol's parameters and every cap come from the clinic's active plan (with ``--sim``
and no plan, the built-in simulated plan); a protocol the plan does not list, or a maximal
test the plan does not allow, is refused. The session is journalled and summarised like
any other: check-in, the protocol, the end check, the summary in the outbox.

Exit codes: 0 the session ran (whatever its outcome), 1 refused (no plan, protocol not in
the plan or not allowed), 2 usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from station.catalog import CATALOG
from station.commands import _session_io as io


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "session",
        parents=parents,
        help="run one protocol now as a session (with --sim: with a virtual patient)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("protocol", choices=sorted(CATALOG), help="the protocol to run")
    io.add_sim_options(p, default_speed=0.0)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Any) -> int:
    from station.plan import DAYS

    with io.open_app(args, ctx) as app:
        plan = app.plan()
        if plan is None:
            print("rehab-station: no plan from the clinic yet: nothing to run", file=sys.stderr)
            return 1
        items = [i for i in plan.schedule if i.protocol == args.protocol]
        if not items:
            print(
                f"rehab-station: the plan (version {plan.plan_version}) does not include "
                f"{args.protocol}",
                file=sys.stderr,
            )
            return 1
        if CATALOG[args.protocol].maximal and not plan.maximal_tests:
            print(
                f"rehab-station: {args.protocol} is a maximal test and the plan does not allow "
                "maximal tests yet",
                file=sys.stderr,
            )
            return 1
        now = dataclasses.replace(items[0], days=DAYS)
        patient = io.start_patient(app, args) if ctx.sim else None
        outcome = app.run_session(dataclasses.replace(plan, schedule=(now,)))
        extra = None
        if patient is not None:
            patient.stop()
            extra = io.truth(patient, io.hands(ctx.config))
        io.report(outcome, args.json, extra)
        return 0
