"""Replay a recorded bus transcript to the drivers on MicroPython (MicroPython-clean).

A recording (made on CPython by ``mpy_record.py``) is the ordered list of calls a driver
scenario made on its bus and clock, with what each returned. Here :class:`ReplayI2C`
stands in for ``machine.I2C`` and :class:`ReplayClock` for the clock: each call must be the
next one recorded (same method, address, register, bytes written, read length), and gets
the recorded answer (bytes read, time, or the ``OSError`` errno). The scenario's decoded
values are printed for the caller to compare with CPython's.

Floats travel as the 8 bytes of an IEEE double in hex, so neither side's float formatting
or parsing can change a value.
"""

import json
import struct
import sys

try:
    import io
except ImportError:  # pragma: no cover - every MicroPython port used here has io
    io = None

#: Prefix of each result line on stdout (other output is the scenario's own).
RESULT_PREFIX = "REPLAY "


def encode(value):
    """``value`` as JSON data: floats as {"f": hex double}, bytes as {"b": hex}."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"f": struct.pack("<d", value).hex()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {value!r}")


def decode_float(data):
    return struct.unpack("<d", bytes.fromhex(data["f"]))[0]


class Mismatch(Exception):
    """The driver's call differs from the recorded one (or the recording ran out)."""


class Transcript:
    """The recorded calls of one scenario, consumed in order."""

    def __init__(self, events):
        self.events = events
        self.index = 0

    def take(self, call):
        """Check ``call`` (a dict of what the driver did) against the next recorded call."""
        if self.index >= len(self.events):
            raise Mismatch(
                f"call {self.index}: the driver did {_describe(call)}, but the recording ended"
            )
        want = self.events[self.index]
        for key in call:
            if want.get(key) != call[key]:
                raise Mismatch(
                    f"call {self.index}: recorded {_describe(want)}, "
                    f"the driver did {_describe(call)} ({key} differs)"
                )
        self.index += 1
        return want

    def finish(self):
        if self.index != len(self.events):
            raise Mismatch(
                f"the driver stopped after {self.index} of {len(self.events)} recorded calls; "
                f"next recorded: {_describe(self.events[self.index])}"
            )


def _describe(event):
    keys = ("op", "addr", "mem", "wrote", "n", "read", "errno", "t", "s", "found")
    parts = []
    for key in keys:
        if key in event:
            value = event[key]
            if key == "addr" or key == "mem":
                value = f"0x{value:02X}"
            elif isinstance(value, dict) and "f" in value:
                value = repr(decode_float(value))
            parts.append(f"{key}={value}")
    return "(" + ", ".join(parts) + ")"


class ReplayI2C:
    """A ``machine.I2C`` that answers from a :class:`Transcript`."""

    def __init__(self, transcript, name):
        self._t = transcript
        self.name = name

    def scan(self):
        return list(self._answer({"op": "scan"}).get("found", []))

    def writeto(self, addr, buf, stop=True):
        call = {"op": "writeto", "addr": addr, "wrote": bytes(buf).hex(), "stop": stop}
        self._answer(call)
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        want = self._answer({"op": "readfrom_into", "addr": addr, "n": len(buf), "stop": stop})
        buf[:] = bytes.fromhex(want["read"])

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        call = {"op": "writeto_mem", "addr": addr, "mem": memaddr, "wrote": bytes(buf).hex()}
        call["addrsize"] = addrsize
        self._answer(call)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        call = {"op": "readfrom_mem_into", "addr": addr, "mem": memaddr, "n": len(buf)}
        call["addrsize"] = addrsize
        want = self._answer(call)
        buf[:] = bytes.fromhex(want["read"])

    def _answer(self, call):
        want = self._t.take(call)
        code = want.get("errno")
        if code is not None:
            raise OSError(code)  # as machine.I2C raises it: the errno alone
        return want


class ReplayClock:
    """A clock whose ``now()`` answers are recorded and whose sleeps must match."""

    def __init__(self, transcript):
        self._t = transcript

    def now(self):
        return decode_float(self._t.take({"op": "now"})["t"])

    def sleep(self, seconds):
        self._t.take({"op": "sleep", "s": encode(float(seconds))})

    def every(self, period_s, fn, name="periodic"):
        raise Mismatch("a driver scheduled a periodic task: not recorded")


class NoWorld:
    """On MicroPython the recording already holds the chips' answers: stages do nothing."""

    def stage(self, name):
        pass


def _traceback(exc):
    if io is None:
        return repr(exc)
    out = io.StringIO()
    sys.print_exception(exc, out)  # MicroPython's traceback printer
    return out.getvalue()


def replay_one(name, recording):
    """Replay one recording; returns the outcome dict printed for the caller."""
    import mpy_scenarios as scenarios

    transcript = Transcript(recording["events"])
    bus = ReplayI2C(transcript, recording["bus_name"])
    clock = ReplayClock(transcript)
    outcome = {"name": name, "ok": False, "calls": 0}
    try:
        results = getattr(scenarios, recording["scenario"])(bus, clock, NoWorld())
        transcript.finish()
        outcome["ok"] = True
        outcome["results"] = encode(results)
    except Mismatch as exc:
        outcome["error"] = str(exc)
    except Exception as exc:
        outcome["error"] = f"after call {transcript.index}: {_traceback(exc)}"
    outcome["calls"] = transcript.index
    return outcome


#: The outcome name of :func:`check_real_clock`.
REAL_CLOCK = "real clock"


def check_real_clock():
    """``drivers.clock`` on the port's own ticks: the MicroPython branch is taken, a wait
    times out, and not before its timeout."""
    import time

    from drivers.clock import MonotonicClock, TicksDeadline, wait_until

    clock = MonotonicClock()
    start = time.ticks_us()
    met = wait_until(clock, lambda: False, 0.003, 0.0005)
    waited_us = time.ticks_diff(time.ticks_us(), start)
    t0 = clock.now()
    clock.sleep(0.0015)
    slept_s = clock.now() - t0
    return [
        ("ticks deadline", isinstance(clock.deadline(0.002), TicksDeadline)),
        ("timed out", not met),
        ("waited the whole timeout", waited_us >= 3000),
        ("now() advanced by the sleep", slept_s >= 0.001),
    ]


def main(paths):
    """Replay each recording file in ``paths``, then check the real clock; one result line
    each."""
    for path in paths:
        with open(path) as f:
            recording = json.load(f)
        outcome = replay_one(recording["name"], recording)
        print(RESULT_PREFIX + json.dumps(outcome))
    outcome = {"name": REAL_CLOCK, "ok": True, "calls": 0, "results": encode(check_real_clock())}
    print(RESULT_PREFIX + json.dumps(outcome))
