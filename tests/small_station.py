"""A small simulated station and a short grip plan, for tests that run whole sessions.

One ADS1115 (four pads), no motors, no glove: the cheapest station that runs maximal grip;
the plan asks one trial a hand, so a session is about 50 simulated seconds.
"""

from __future__ import annotations

from plans import example_plan

SMALL_STATION = """schema = "rehab.config/1"
[pads]
adc_addresses = [0x48]
[haptics]
fitted = false
[glove]
fitted = false
"""
#: The tests' grip plan (``tests/data/grip-plan.json``) for the simulated station, every
#: day, one trial a hand, under the built-in simulated plan's caps (20 N, 15 s rest).
GRIP_PLAN = example_plan(
    station_id="st-sim-0001",
    caps__max_force_n=20.0,
    caps__min_rest_s=15,
    schedule__0__days="daily",
    schedule__0__params__trials_per_hand=1,
)
