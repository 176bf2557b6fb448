"""The simulated physical world (pads, hand, motors) and the virtual patient.

Product code, CPython only: ``station/hardware.py`` builds it for ``--sim``; tests build it
through their own rig. Modules here may import ``drivers.sim``.
"""
