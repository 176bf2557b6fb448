"""Why the station's MQTT link failed, in words a technician can act on.

paho reports a failed connect only as "failed": its network loop catches the exception of
the attempt and calls ``on_connect_fail`` without it, and a TLS alert or a closed socket
before the CONNACK arrives as a disconnect with "Unspecified error". :class:`CapturingClient`
keeps the exception of the last attempt, and the station client hands what it saw to
:func:`from_exception`, :func:`from_connack` or :func:`before_connack`, which name the
reason (:data:`KINDS`) and what to check.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

CERT_VERIFY = "certificate verify failed"
HOSTNAME = "hostname mismatch"
CLIENT_CERT = "client certificate refused"
TLS = "TLS handshake failed"
REFUSED = "connection refused"
UNREACHABLE = "unreachable"
DNS = "DNS failure"
TIMEOUT = "timeout"
NOT_AUTHORISED = "not authorised"
BROKER_REFUSED = "refused by the broker"
CLOSED = "closed by the broker"
LOST = "connection lost"
NETWORK = "network error"
#: Every reason, as the first words of a :class:`LinkFailure` text.
KINDS = (
    CERT_VERIFY,
    HOSTNAME,
    CLIENT_CERT,
    TLS,
    REFUSED,
    UNREACHABLE,
    DNS,
    TIMEOUT,
    NOT_AUTHORISED,
    BROKER_REFUSED,
    CLOSED,
    LOST,
    NETWORK,
)

#: OpenSSL verify codes of a certificate that is valid, but not for the name dialled.
_X509_HOSTNAME_MISMATCH, _X509_IP_ADDRESS_MISMATCH = 62, 64
#: OpenSSL verify codes of a certificate outside its validity dates: on a Pi without a
#: real-time clock the station's own clock is the usual cause.
_X509_NOT_YET_VALID, _X509_EXPIRED = 9, 10
#: CONNACK reason codes (MQTT 5.0 §3.2.2.2) that say who the station is, not where it is.
_AUTH_CODES = {0x85, 0x86, 0x87, 0x8A, 0x8C}
_UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
#: paho's log lines for a socket error while reading (it logs them and reports only
#: "Unspecified error" to on_disconnect).
SOCKET_ERROR_PREFIXES = ("failed to receive on socket: ", "timeout on socket: ")


@dataclass(frozen=True)
class LinkFailure:
    """One reason: ``kind`` (one of :data:`KINDS`) and what was seen, with the check to make."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class CapturingClient(mqtt.Client):
    """paho's client keeping the exception of its last failed connect attempt
    (``last_connect_error``), which paho's network loop catches and drops. Read it in
    ``on_connect_fail``, which paho calls right after, in the same thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_connect_error: OSError | None = None

    def reconnect(self) -> mqtt.MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as exc:
            self.last_connect_error = exc
            raise


def from_exception(exc: BaseException | None, host: str, timeout_s: float) -> LinkFailure:
    """The reason of a connect attempt that raised ``exc`` (None: not known)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _verify_failure(exc, host)
    if isinstance(exc, ssl.SSLError):
        return _tls_failure(exc.reason or str(exc))
    if isinstance(exc, socket.gaierror):
        return LinkFailure(DNS, f"the name {host!r} cannot be resolved ({exc.strerror})")
    if isinstance(exc, TimeoutError):
        return LinkFailure(
            TIMEOUT, f"no answer within {timeout_s:g} s (broker down, or a firewall in between)"
        )
    if isinstance(exc, ConnectionRefusedError):
        return LinkFailure(REFUSED, "nothing listens on that port (broker down, or wrong port)")
    if isinstance(exc, ConnectionResetError):
        return LinkFailure(
            CLOSED,
            "the broker reset the connection during the handshake (mqtts:// needs the "
            "broker's TLS port, mqtt:// its plain one)",
        )
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return LinkFailure(UNREACHABLE, f"{exc.strerror} (check the network and the address)")
    if isinstance(exc, OSError):
        return LinkFailure(NETWORK, exc.strerror or str(exc) or type(exc).__name__)
    return LinkFailure(NETWORK, "the connection failed for a reason paho did not report")


def from_connack(rc: Any) -> LinkFailure:
    """The reason of a CONNACK with a failure reason code ``rc`` (paho ``ReasonCode``)."""
    code = int(getattr(rc, "value", 0))
    if code in _AUTH_CODES:
        return LinkFailure(
            NOT_AUTHORISED,
            f"the broker answered {rc} (0x{code:02X}): check the station id, the username "
            "and password (mqtt.username, mqtt.password_env or mqtt.password_file) or the "
            "client certificate, and the broker's ACL",
        )
    return LinkFailure(BROKER_REFUSED, f"the broker answered {rc} (0x{code:02X})")


def before_connack(socket_error: str | None, rc: Any) -> LinkFailure:
    """The reason of a connection that ended before the broker's CONNACK: ``socket_error``
    is paho's logged read error (see :data:`SOCKET_ERROR_PREFIXES`), if there was one."""
    text = _socket_text(socket_error)
    if "SSL" in text or "alert" in text:
        return _tls_failure(text)
    if socket_error and socket_error.startswith(SOCKET_ERROR_PREFIXES[1]):
        return LinkFailure(TIMEOUT, f"no CONNACK from the broker ({text})")
    if "reset" in text.lower():
        return LinkFailure(
            CLOSED,
            "the broker reset the connection before accepting it (a TLS port reached "
            "without TLS, or a client certificate it refuses?)",
        )
    if "keep alive" in str(rc).lower():
        return LinkFailure(TIMEOUT, "no CONNACK from the broker within the keepalive")
    detail = text or str(rc)
    return LinkFailure(CLOSED, f"the broker closed the connection before accepting it ({detail})")


def lost(socket_error: str | None, rc: Any) -> LinkFailure:
    """The reason of an established connection that ended."""
    text = _socket_text(socket_error)
    return LinkFailure(LOST, f"{rc}" + (f" ({text})" if text else ""))


def _socket_text(socket_error: str | None) -> str:
    """paho's logged read error without its prefix ("" when there was none)."""
    text = socket_error or ""
    for prefix in SOCKET_ERROR_PREFIXES:
        text = text.removeprefix(prefix)
    return text


def _verify_failure(exc: ssl.SSLCertVerificationError, host: str) -> LinkFailure:
    message = exc.verify_message or str(exc)
    if exc.verify_code in (_X509_HOSTNAME_MISMATCH, _X509_IP_ADDRESS_MISMATCH):
        return LinkFailure(
            HOSTNAME,
            f"the broker's certificate is not valid for {host!r}: put the name it was issued "
            "for in mqtt.broker, or give the broker a certificate for this name",
        )
    if exc.verify_code in (_X509_NOT_YET_VALID, _X509_EXPIRED):
        return LinkFailure(
            CERT_VERIFY,
            f"{message}: check the station's clock (is it synchronised?) and the broker's "
            "certificate dates",
        )
    return LinkFailure(
        CERT_VERIFY,
        f"{message}: the broker's certificate is not signed by the CA in mqtt.ca_file "
        "(a wrong CA file, or not the clinic's broker)",
    )


def _tls_failure(text: str) -> LinkFailure:
    upper = text.upper()
    if "ALERT" in upper and ("CERTIFICATE" in upper or "UNKNOWN_CA" in upper):
        return LinkFailure(
            CLIENT_CERT,
            f"the broker refused the station's certificate ({text}): check mqtt.cert_file "
            "and mqtt.key_file, and that the broker trusts their CA",
        )
    return LinkFailure(TLS, text)


__all__ = [
    "KINDS",
    "SOCKET_ERROR_PREFIXES",
    "CapturingClient",
    "LinkFailure",
    "before_connack",
    "from_connack",
    "from_exception",
    "lost",
]
