"""Chip drivers: one file per chip, MicroPython-clean.

Every driver takes a bus with the method names and arguments of MicroPython's
``machine.I2C`` (``scan``, ``writeto``, ``readfrom_into``, ``writeto_mem``,
``readfrom_mem_into``). On a Raspberry Pi that bus is :class:`drivers.smbus2_bus.SMBus2Bus`;
in tests and ``--sim`` it is :class:`drivers.sim.bus.SimI2CBus`.
"""
