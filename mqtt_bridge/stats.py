"""The station client's counters, for telemetry, the watchdog and tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClientStats:
    """Counters for telemetry and tests (updated by the sender and network threads)."""

    connects: int = 0
    connect_failures: int = 0
    published: int = 0
    pubacks: int = 0
    rejected: int = 0
    acks_received: int = 0
    rows_acknowledged: int = 0
    plans_accepted: int = 0
    plans_rejected: int = 0
    plans_redelivered: int = 0
    callback_errors: int = 0
    sender_errors: int = 0
    last_connect_error: str = ""
    reason_codes: dict[str, int] = field(default_factory=dict)
