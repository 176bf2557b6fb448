"""The systemd unit the README installs: what issue 7 and the README promise of it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "station" / "deploy" / "rehab-station.service"


def unit_settings() -> dict[str, dict[str, list[str]]]:
    """Section -> key -> values (a key may repeat), as systemd reads the file."""
    out: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = m.group(1)
            out.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"not a systemd setting: {raw!r}"
        out[section].setdefault(key.strip(), []).append(value.strip())
    return out


def test_deploy_unit_runs_the_station_service_as_its_own_user() -> None:
    svc = unit_settings()["Service"]
    assert svc["User"] == ["rehab"]
    assert set(svc["SupplementaryGroups"][0].split()) == {"i2c", "gpio"}
    argv = shlex.split(svc["ExecStart"][0])
    assert argv[0].endswith("/bin/rehab-station") and argv[-1] == "run"
    assert argv[argv.index("--config") + 1] == "/etc/rehab-station/station.toml"
    assert svc["Restart"] == ["on-failure"]
    # the data directory comes from systemd as $STATE_DIRECTORY (station.config.data_dir)
    assert svc["StateDirectory"] == ["rehab-station"]
    assert svc["StateDirectoryMode"] == ["0700"]
    # secrets: an optional root-owned KEY=value file, never the unit itself
    assert svc["EnvironmentFile"] == ["-/etc/rehab-station/secrets.env"]
    assert not any("PASSWORD" in v for vals in svc.values() for v in vals)
    # SIGTERM is what the station handles (motors off, session closed), with time to do it
    assert svc["KillSignal"] == ["SIGTERM"] and int(svc["TimeoutStopSec"][0]) >= 10
    assert unit_settings()["Install"]["WantedBy"] == ["multi-user.target"]


def test_deploy_readme_installs_the_paths_the_unit_uses() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    svc = unit_settings()["Service"]
    venv = shlex.split(svc["ExecStart"][0])[0].removesuffix("/bin/rehab-station")
    assert f"python3 -m venv {venv}" in readme
    assert "useradd --system --groups i2c,gpio" in readme and " rehab\n" in readme
    assert "cp station/deploy/rehab-station.service /etc/systemd/system/" in readme
    assert "/etc/rehab-station/secrets.env" in readme
