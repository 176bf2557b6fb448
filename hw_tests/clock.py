"""The wall clock: synchronised (the kernel's NTP state), so summaries carry true times."""

from __future__ import annotations

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed


def check(ctx: CheckContext) -> list[CheckResult]:
    if ctx.clock_synced():
        return [passed("clock", f"synchronised, {ctx.wall_clock():%Y-%m-%d %H:%M} UTC")]
    return [
        failed(
            "clock",
            "the wall clock is not synchronised",
            "the network, then 'timedatectl' (NTP service active, 'System clock synchronized')",
            "T-CLOCK-01",
        )
    ]
