"""The broker URL both sides take: ``mqtt://host[:port]`` or ``mqtts://host[:port]``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerURL:
    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse(url: str) -> BrokerURL:
    """Raises ``ValueError`` saying what is wrong. No message repeats a URL holding ``@``:
    it may carry a password."""
    if "@" in url:
        raise ValueError(
            "must not hold a user name or password: set mqtt.username, and put the password "
            "in the variable named by mqtt.password_env or in mqtt.password_file "
            "(clinic commands: --username, --password-env)"
        )
    forms = f"must be mqtt://host:port or mqtts://host:port, got {url!r}"
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(forms)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(forms)
    try:
        port = parts.port
    except ValueError as exc:  # not a number, or above 65535
        raise ValueError(f"port must be 1..65535, got {url!r}") from exc
    if port == 0:  # "or default" would quietly turn port 0 into 1883
        raise ValueError(f"port must be 1..65535, got {url!r}")
    return BrokerURL(parts.hostname, port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts")
