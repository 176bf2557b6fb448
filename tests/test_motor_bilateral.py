"""scratch"""

from __future__ import annotations

import json
import time

from test_session_e2e import (  # noqa: F401
    Stations,
    calibrated,
    make_plan,
    patient,
    run,
    stations,
)


def bilateral_item(**params):
    p = {"left_pad": 0, "right_pad": 1, "level_pct": 20, "hold_s": 5, "trials": 2}
    p.update(params)
    return {"protocol": "bilateral", "days": "daily", "params": p}


def test_scratch(stations: Stations) -> None:
    app = stations.open()
    p = patient(app)
    t = time.process_time()
    out = run(app, make_plan(app, [bilateral_item(lead="uninvolved")], maximal=False))
    print("cpu", time.process_time() - t)
    print(out.state, out.reason)
    print(json.dumps(out.summary["protocols"], indent=1)[:4000])
    for tr in app.journal.trials(out.session_id, "bilateral"):
        print(tr.quality, tr.response)
    print(p.log[-40:])
