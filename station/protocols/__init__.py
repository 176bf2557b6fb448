"""Session protocols. Each is a unit the runner can start, pause, resume and stop; it
journals its trials and yields its metrics (see :mod:`station.protocols.base`)."""
