"""``run --sim`` with its output not a terminal: a transcript of the screens, one line each.

Run in this process on a small station (four pads, no motors, no glove) with a one-trial-
per-hand grip plan, as fast as the host goes; the virtual patient plays.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from small_station import GRIP_PLAN, SMALL_STATION

from station.cli import main

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SCREEN = re.compile(r"t=\s*(\d+\.\d) s  (\S.*)")


def test_run_sim_off_a_terminal_prints_a_transcript_of_the_screens(tmp_path: Path, capsys):
    (tmp_path / "station.toml").write_text(SMALL_STATION)
    (tmp_path / "plan.json").write_text(json.dumps(GRIP_PLAN))
    data = tmp_path / "data"
    argv = ["run", "--sim", "--speed", "0", "--config", str(tmp_path / "station.toml")]
    argv += ["--data-dir", str(data), "--plan", str(tmp_path / "plan.json")]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    # the first start: the calibration's progress, one line as it starts and one at its end
    assert lines[:2] == [
        "calibrating the simulated station (first start) ...",
        "calibrating the simulated station (first start): done",
    ]
    assert lines[2] == (
        "the virtual patient (typical) at as fast as the host goes: --speed 1 for real time, "
        "--interactive to be the patient yourself"
    )
    screens = [m for m in map(SCREEN.fullmatch, lines) if m]
    words = [m.group(2) for m in screens]
    times = [float(m.group(1)) for m in screens]
    # one line per screen whose words changed: no box, no repeated screen, time going on
    assert not any(line.startswith(("+--", "|")) for line in lines)
    assert all(a != b for a, b in itertools.pairwise(words))
    assert times == sorted(times)
    assert words[0] == "Hello! / Let's start with / three quick / questions."
    assert "Squeeze, right hand! / As hard as you / comfortably can." in words
    assert "Squeeze, left hand! / As hard as you / comfortably can." in words
    assert words[-1] == "All done for today. / Thank you, well / done!"
    # two trials with a 15 s rest counted down between them: 28 screens, where the
    # boxed frames of every bar and countdown step were over 600 lines
    assert 20 <= len(screens) <= 40, len(screens)
    assert len(lines) - len(screens) == 3 + 14  # calibration, the pace, then the summary
    # the summary names one id, the session's; the log went to a file, named last
    assert len(set(re.findall(UUID, out))) == 1
    assert re.search(rf"^session {UUID}: complete$", out, re.M)
    assert lines[-1] == f"log: {data / 'sim-run.log'}"
    log = (data / "sim-run.log").read_text()
    assert "simulated technician: calibrating pads [0, 1, 2, 3]" in log
    assert "INFO" not in out and err == ""
