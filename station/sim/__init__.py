"""The simulated physical world (pads, hand, motors) and the virtual patient.

Product code, CPython only: ``station/hardware.py`` builds it for ``--sim`` and for the
tests (``tests/stations.py``), one wiring for both. Modules here may import ``drivers.sim``
and never the session logic (runner, protocols, safety, app, ui): the virtual patient
sees the station only as a person would.
"""

# The motor acts register the acts of station.sim.motor_track, which subclass their Act:
# loading them first lets motor_track be imported on its own (the bench's perfect patient).
from station.sim import motor_acts as _motor_acts  # noqa: F401
