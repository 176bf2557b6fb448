"""The simulated physical world (pads, hand, motors) and the virtual patient.

Product code, CPython only: ``station/hardware.py`` builds it for ``--sim`` and for the
tests (``tests/stations.py``), one wiring for both. Modules here may import ``drivers.sim``
and never the session logic (runner, protocols, safety, app, ui): the virtual patient
sees the station only as a person would.
"""
