"""A small simulated station and a short grip plan, for tests that run whole sessions.

One ADS1115 (four pads), no motors, no glove: the cheapest station that runs maximal grip;
the plan asks one trial a hand, so a session is about 50 simulated seconds.
"""

from __future__ import annotations

SMALL_STATION = """schema = "rehab.config/1"
[pads]
adc_addresses = [0x48]
[haptics]
fitted = false
[glove]
fitted = false
"""
GRIP_PLAN = {
    "schema": "rehab.plan/1",
    "station_id": "st-sim-0001",
    "plan_version": 1,
    "issued_at": "2026-11-20T10:00:00Z",
    "issued_by": "test",
    "caps": {
        "max_vibration_g": 2.0,
        "daily_vibration_min": 20,
        "max_force_n": 20.0,
        "max_session_min": 20,
        "min_rest_s": 15,
        "pain_stop_nrs": 5,
        "pain_rise_stop": 2,
    },
    "gates": {"maximal_tests": True},
    "schedule": [
        {
            "protocol": "max_grip",
            "days": "daily",
            "params": {"hands": ["involved", "uninvolved"], "trials_per_hand": 1},
        }
    ],
}
