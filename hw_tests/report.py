"""Check results and the ``rehab.selftest/1`` report they make.

A :class:`CheckResult` is one line of the self-test: a name (``motors.motor2.diagnostics``),
a status, what was found (``detail``), and for a failure what to check (``hint``) and the
technician code (``code``, as the LCD shows it). :func:`report_body` is the body the
outbox sends on ``.../selftest``; :func:`exit_code` is the command's exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["PASS", "FAIL", "SKIP", "ERROR"]
SCHEMA = "rehab.selftest/1"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; ``hint`` and ``code`` say what to do about a failure."""

    name: str
    status: Status
    detail: str = ""
    hint: str = ""
    code: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("FAIL", "ERROR")

    def line(self) -> str:
        """One terminal line: status, name, what was found; a failure's hint and code below."""
        text = f"{self.status:<5} {self.name}"
        if self.detail:
            text += f": {self.detail}"
        if self.failed and (self.hint or self.code):
            code = f" [{self.code}]" if self.code else ""
            text += f"\n      check: {self.hint}{code}"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status}
        for key in ("detail", "hint", "code"):
            value = getattr(self, key)
            if value:
                out[key] = value[:2000]
        return out


def passed(name: str, detail: str = "") -> CheckResult:
    return CheckResult(name, "PASS", detail)


def failed(name: str, detail: str, hint: str, code: str = "") -> CheckResult:
    return CheckResult(name, "FAIL", detail, hint, code)


def skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name, "SKIP", why)


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when nothing failed (skips allowed), 1 when a check failed or raised."""
    return 1 if any(r.failed for r in results) else 0


def report_body(
    results: Sequence[CheckResult], software_version: str, **extra: Any
) -> dict[str, Any]:
    """The ``rehab.selftest/1`` body: ``passed``, the version, every check, and ``extra``
    (``simulated``, ``faults_injected``, ``attended``)."""
    return {
        "passed": exit_code(results) == 0,
        "software_version": software_version,
        "checks": [r.to_dict() for r in results],
        **extra,
    }
