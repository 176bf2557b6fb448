"""A plan for tests to vary (``example_plan(caps__max_force_n=500)``): maximal grip on
Mondays, ``tests/data/grip-plan.json``, addressed to ``st-0001``. The plan clinicians start
from, the one the MQTT contract shows, is ``docs/example-plan.json``
(:data:`EXAMPLE_PLAN_FILE`): a post-operative sensory week."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLE_PLAN_FILE = Path(__file__).resolve().parents[1] / "docs" / "example-plan.json"
TEST_PLAN_FILE = Path(__file__).resolve().parent / "data" / "grip-plan.json"
PLAN: dict[str, Any] = json.loads(TEST_PLAN_FILE.read_text(encoding="utf-8"))


def example_plan(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the example plan with changes by path (``__`` between keys, list
    indexes as digits: ``schedule__0__days``); the value ``...`` deletes the key."""
    p: dict[str, Any] = json.loads(json.dumps(PLAN))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node: Any = p
        for k in parents:
            node = node[int(k)] if k.isdigit() else node[k]
        key: Any = int(last) if last.isdigit() else last
        if value is ...:
            del node[key]
        else:
            node[key] = value
    return p
