"""A fitted chip that does not answer at start, or is another chip: named, with a code.

:func:`starting` wraps a part's initialisation: a bus error or an identity mismatch becomes
a :class:`HardwareError` naming the part, the chip, its bus and address (and mux channel),
what to check, and the technician code the LCD shows (``E-PAD-121``; the part, then the
errno, ENODEV for a wrong chip).
"""

from __future__ import annotations

import errno as errno_mod
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from drivers.bus import DeviceNotFound, bus_name, no_answer


class HardwareError(RuntimeError):
    """The station cannot be built (a part is missing or a library is not installed).

    For a fitted chip that did not answer or is not the chip expected: ``part`` ("pads",
    "motors", "glove", "lcd"), ``bus`` (its name), ``address`` and ``channel`` (behind a
    mux; else None), ``errno`` (None for an identity mismatch) and ``code``, the technician
    code the LCD shows (``E-PAD-121``; ``-019``, ENODEV, for a wrong chip). All None
    otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        part: str | None = None,
        bus: str | None = None,
        address: int | None = None,
        channel: int | None = None,
        errno: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.part = part
        self.bus = bus
        self.address = address
        self.channel = channel
        self.errno = errno
        self.code = code


@dataclass(frozen=True)
class _Part:
    label: str  # how messages name it
    code: str  # the part in the technician code: E-<code>-<errno>
    screen: str  # the error screen's message key: what the patient can do


PARTS = {
    "pads": _Part("force pads", "PAD", "error.bus"),
    "motors": _Part("vibration motors", "MOTOR", "error.bus"),
    "glove": _Part("glove", "GLOVE", "error.glove"),  # the patient can plug it back in
    "lcd": _Part("LCD", "LCD", "error.bus"),
}


@contextmanager
def starting(
    part: str,
    chip: str,
    bus: Any,
    address: int,
    hint: str,
    behind: tuple[int, int] | None = None,
) -> Iterator[None]:
    """Turn a bus error or an identity mismatch of ``chip`` at ``address`` on ``bus`` (behind
    mux address and channel ``behind``) into a :class:`HardwareError` for ``part``."""
    try:
        yield
    except (OSError, DeviceNotFound) as exc:
        where = f"the {chip} at 0x{address:02X}"
        if behind is not None:
            where += f" behind the mux at 0x{behind[0]:02X}, channel {behind[1]},"
        where += f" on {bus_name(bus)}"
        err = None if isinstance(exc, DeviceNotFound) else exc.errno
        if isinstance(exc, DeviceNotFound):
            # Linux drivers answer a wrong chip ID with ENODEV; the code does the same.
            problem, number = f"is not the chip expected: {exc}", errno_mod.ENODEV
        elif err is not None and no_answer(exc):  # the drivers' one named condition
            problem, number = f"does not answer (errno {err}: {os.strerror(err)})", err
        else:
            problem, number = f"gave a bus error ({exc})", err or 0
        p = PARTS[part]
        raise HardwareError(
            f"{p.label}: {where} {problem}. {hint}",
            part=part,
            bus=bus_name(bus),
            address=address,
            channel=None if behind is None else behind[1],
            errno=err,
            code=f"E-{p.code}-{number:03d}",
        ) from exc
