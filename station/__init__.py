"""The rehab-station application: CLI, config, composition root, sessions and safety."""

__version__ = "0.1.0"
