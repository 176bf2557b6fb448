"""MQTT bridge between the station and the clinic.

Station side: :mod:`topics` (the topic layout), :mod:`envelope` (the envelope of every
station-to-clinic message), :mod:`schema` and ``schemas/`` (JSON Schemas of every payload),
:mod:`outbox` (the durable SQLite outbox), :mod:`plans` (parsing and storing inbound plans)
and :mod:`client` (the paho client that drains the outbox and receives plans and acks;
its threads talk through :mod:`events`, its sender thread runs :mod:`sender` and
:mod:`publisher`). Clinic side: :mod:`clinic`, :mod:`clinic_db`, :mod:`clinic_report`
(with :mod:`clinic_sensory` for the sensory thresholds), :mod:`sendplan`. Both sides read
time through :mod:`clocks` (injected, never slept on).

This package imports only the standard library and paho-mqtt; it knows nothing of
``station``, ``sensors`` or ``ui_lcd``. The contract is documented in
``docs/mqtt-contract.md``.
"""
