"""``run --sim --interactive``: a person at the keyboard plays the patient, on a real pty.

The command runs as it would in a shell (its own pseudo-terminal, read through a VT100
emulator); the test types keys as a person would and reads what is drawn. A small station
(one ADS1115, four pads, no motors, no glove) and a one-trial-per-hand grip plan keep it
short; the world, chips, drivers, runner, journal and outbox are the product's.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from ptyterm import PtyTerm
from small_station import GRIP_PLAN, SMALL_STATION

from station.cli import main
from station.commands._session_io import calibrate_first
from station.context import Context

RIGHT, UP, ENTER, CTRL_C = b"\x1bOC", b"\x1bOA", b"\r", b"\x03"
LEFT = b"\x1bOD"
#: Resting-force steps typed for the left hand's trial (0.25 N each: 6.0 N).
STEPS = 24


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small station's calibration records, made once by the simulated technician."""
    root = tmp_path_factory.mktemp("calibrated")
    (root / "station.toml").write_text(SMALL_STATION)
    args = argparse.Namespace(
        sim=True, config=str(root / "station.toml"), data_dir=str(root), broker=None, seed=1
    )
    calibrate_first(args, Context.from_args(args))
    return root / "calibration"


@pytest.fixture
def station_files(tmp_path: Path, calibration: Path) -> dict[str, Path]:
    (tmp_path / "station.toml").write_text(SMALL_STATION)
    (tmp_path / "plan.json").write_text(json.dumps(GRIP_PLAN))
    shutil.copytree(calibration, tmp_path / "data" / "calibration")
    return {"config": tmp_path / "station.toml", "plan": tmp_path / "plan.json", "data": tmp_path}


@contextmanager
def auto_repeat(term: PtyTerm, key: bytes, every_s: float) -> Iterator[None]:
    """``key`` typed every ``every_s`` (real s) while the block runs: a held key."""
    done = threading.Event()

    def repeat() -> None:
        while not done.wait(every_s):
            term.type(key)

    term.type(key)
    t = threading.Thread(target=repeat, name="auto-repeat", daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()


def play(files: dict[str, Path], *extra: str) -> PtyTerm:
    return PtyTerm(
        [
            sys.executable,
            "-m",
            "station",
            "run",
            "--sim",
            "--interactive",
            "--config",
            str(files["config"]),
            "--data-dir",
            str(files["data"] / "data"),
            "--plan",
            str(files["plan"]),
            *extra,
        ]
    )


def echoing(modes: list) -> bool:
    """A shell's terminal: keys echoed, lines edited (what curses turns off)."""
    lflag = modes[3]
    return bool(lflag & termios.ECHO) and bool(lflag & termios.ICANON)


def answer_checkin(term: PtyTerm, pain: int) -> None:
    term.wait_for("Pain in your hand")
    term.type(RIGHT * (pain + 1))  # unset -> 0 -> ... -> pain
    term.wait_for(f"< {pain:2d} >")
    term.type(ENTER)
    for question in ("numbness", "wound"):
        term.wait_for(question)
        term.type(LEFT)  # "No" is on the left
        term.wait_for("[No]")
        term.type(ENTER)


def pad_force_n(text: str, pad: int) -> float:
    """The force drawn under pad ``pad`` (1-based) on the play screen."""
    line = next(line for line in text.splitlines() if line.startswith("N "))
    return float(line.split()[pad])


def json_after_curses(raw: bytes) -> dict:
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    start = text.index('{\n  "session_id"')
    return json.JSONDecoder().raw_decode(text[start:])[0]


def journalled_peaks(data: Path) -> dict[str, float]:
    with sqlite3.connect(data / "station.db") as conn:
        rows = conn.execute("SELECT hand, response FROM trials ORDER BY id").fetchall()
    return {hand: json.loads(response)["peak_force_n"] for hand, response in rows}


def test_play_keys_press_buttons_and_squeeze_pads_the_journal_measures(station_files):
    term = play(station_files, "--speed", "10", "--json")
    try:
        answer_checkin(term, pain=1)
        term.wait_for("Press OK when ready")
        term.type(ENTER)
        drawn = term.wait_for("Squeeze, right hand!")
        assert "|Squeeze, right hand!|" in drawn  # the LCD's box, drawn as the LCD shows it
        # Held Space: the terminal's auto-repeat, a Space every 20 ms until the trial ends,
        # from a thread of its own (as a terminal's repeat is), so that a busy host slowing
        # this loop's screen reading does not let go of the key.
        seen_full = ""
        with auto_repeat(term, b" ", 0.02):
            while "Squeeze, right hand!" in term.text():
                term.pump(0.02)
                if pad_force_n(term.text(), 1) >= 15.9:
                    seen_full = term.text()
        assert "1*G" in seen_full and pad_force_n(seen_full, 1) == pytest.approx(16.0)
        term.wait_for("Press OK when ready")
        term.type(ENTER)
        term.wait_for("Squeeze, left hand!")
        term.type(UP * STEPS)  # 24 steps of 0.25 N on the chosen (grip) pad
        term.wait_for(lambda t: "left hand" in t and pad_force_n(t, 1) == 6.0)
        term.wait_for("Relax")
        term.type(b"0")  # lift the finger
        term.wait_for("Last one: pain")
        term.type(RIGHT * 2)
        term.wait_for("<  1 >")
        term.type(ENTER)
        assert term.finish() == 0
        out = json_after_curses(bytes(term.raw))
        assert echoing(term.modes())
    finally:
        term.close()
    assert out["state"] == "complete"
    assert out["simulation"]["squeeze_peaks_n"] == [pytest.approx(16.0)]  # one held Space
    peaks = journalled_peaks(station_files["data"] / "data")
    # right: the held Space's 16 N; left: 24 Up steps, 6 N; FSR and calibration within 8 %.
    assert peaks["right"] == pytest.approx(16.0, rel=0.08)
    assert peaks["left"] == pytest.approx(STEPS * 0.25, rel=0.08)
    metrics = out["protocols"][0]["metrics"]
    assert metrics["involved_best_force"]["value"] == pytest.approx(peaks["right"], abs=0.01)


def test_play_ctrl_c_gives_the_terminal_back_and_closes_the_session(station_files):
    term = play(station_files, "--speed", "10")
    try:
        drawn = term.wait_for("Pain in your hand")
        assert drawn.count("+" + "-" * 20 + "+") == 2  # one LCD, drawn by the play screen only
        assert not echoing(term.modes())  # curses has the terminal
        term.type(CTRL_C)
        assert term.finish() == 130
        assert echoing(term.modes())
    finally:
        term.close()
    assert term.raw.rfind(b"\x1b[?1049l") > term.raw.rfind(b"\x1b[?1049h")  # screen back
    assert b"incomplete (SIGINT received)" in term.raw  # the summary, on the shell's screen
    with sqlite3.connect(station_files["data"] / "data" / "station.db") as conn:
        (state, reason), *_ = conn.execute("SELECT state, ended_reason FROM sessions")
    assert state == "incomplete", reason


SCREEN_THEN_BOOM = """
from ui_lcd.frame import Frame
from ui_lcd.play_screen import PlayScreen

class View:
    chosen = grip_pad = 0
    squeezing = False
    def force_n(self): return [0.0] * 4
    def vibration_g(self): return [0.0, 0.2, 0.0, 0.0]
    def buttons_down(self): return {"ok": True}

with PlayScreen() as screen:
    screen.draw(Frame(("Hello!".ljust(20),) + (" " * 20,) * 3), View(), 1.5)
    screen._win.nodelay(False)
    screen._win.getch()
    raise RuntimeError("boom")
"""


def test_play_screen_gives_the_terminal_back_after_an_exception():
    term = PtyTerm([sys.executable, "-c", SCREEN_THEN_BOOM])
    try:
        # the help lines are drawn last: the whole first frame has arrived
        drawn = term.wait_for(lambda text: "|Hello!" in text and "Ctrl-C quit" in text)
        assert "< OK >" in drawn  # a button held down is drawn pressed
        buzz = next(line for line in drawn.splitlines() if line.startswith("buzz"))
        assert re.fullmatch(r"buzz {10}~~~~~ *", buzz)  # the mark under pad 2, not pad 1
        assert not echoing(term.modes())
        term.type(b"x")
        assert term.finish() == 1
        assert echoing(term.modes())
    finally:
        term.close()
    assert "RuntimeError: boom" in term.raw.decode("utf-8", "replace")


def test_play_needs_the_simulated_station_and_a_terminal(tmp_path: Path, capsys) -> None:
    (tmp_path / "station.toml").write_text(SMALL_STATION + '[station]\nid = "st-0001"\n')
    common = ["--config", str(tmp_path / "station.toml"), "--data-dir", str(tmp_path / "d")]
    assert main(["run", "--interactive", *common]) == 2
    assert "--interactive needs --sim" in capsys.readouterr().err
    assert main(["run", "--sim", "--interactive", *common]) == 2  # pytest's stdout: no tty
    assert "--interactive needs a terminal" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything was built or written
    with pytest.raises(SystemExit) as usage:
        main(["run", "--sim", "--interactive", "--max-force", "500", *common])
    assert usage.value.code == 2
    assert "must be a force in 1..100 N, got '500'" in capsys.readouterr().err
