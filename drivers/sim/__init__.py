"""Register-level simulated chips and the simulated I2C bus (CPython only).

These are product code: ``--sim`` runs the whole station on them, and every test of a
driver, a sensor or a session runs against them. Only ``station/hardware.py`` (the
composition root) and tests import this package.
"""
