"""Config validation: every bad input names its key and changes nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from station import config as cfgmod
from station.cli import main

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "station.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_config_example_file_is_generated_from_the_schema_and_valid() -> None:
    text = (ROOT / "station.example.toml").read_text(encoding="utf-8")
    assert text == cfgmod.example_toml(), "regenerate station.example.toml from example_toml()"
    cfg = cfgmod.load(ROOT / "station.example.toml", sim=True)
    assert cfg.values == cfgmod.defaults().values
    for sec, keys in cfgmod.SCHEMA_KEYS.items():
        for name in keys:
            assert f"\n{name} = " in text, f"{sec}.{name} undocumented"


def test_config_values_override_defaults(tmp_path: Path) -> None:
    cfg = cfgmod.load(
        write(tmp_path, '[station]\nid = "st-0042"\n[pads]\nrate_hz = 50\n'), sim=False
    )
    assert cfg.station_id == "st-0042"
    assert cfg["pads"]["rate_hz"] == 50
    assert cfg["pads"]["data_rate_sps"] == 475


@pytest.mark.parametrize(
    ("text", "key", "allowed"),
    [
        ("[pads]\nrate_hz = 0\n", "pads.rate_hz", "1..200"),
        ('[pads]\nrate_hz = "fast"\n', "pads.rate_hz", "an integer"),
        ("[pads]\nfitted = 1\n", "pads.fitted", "true or false"),
        ("[pads]\ndata_rate_sps = 500\n", "pads.data_rate_sps", "475, 860"),
        ("[pads]\nadc_addresses = [0x48, 0x50]\n", "pads.adc_addresses", "0x48..0x4B"),
        ("[pads]\nadc_addresses = [0x48, 0x48]\n", "pads.adc_addresses", "repeat"),
        ("[pads]\nwobble = 3\n", "pads.wobble", "unknown key"),
        ("[padz]\nrate_hz = 3\n", "padz", "unknown section"),
        ("[haptics]\nmux_address = 0x20\n", "haptics.mux_address", "0x70..0x77"),
        ('[haptics]\ndriver = "piezo"\n', "haptics.driver", "drv2605l, pwm"),
        ("[lcd]\naddress = 0x30\n", "lcd.address", "0x27"),
        ('[lcd]\nsize = "40x2"\n', "lcd.size", "20x4, 16x2"),
        ("[buttons]\nok = 6\nback = 6\n", "buttons.back", "already used by buttons.ok"),
        ("[buttons]\nstop = 40\n", "buttons.stop", "0..27"),
        (
            '[haptics]\ndriver = "pwm"\npwm_pins = [12, 24]\n',
            "haptics.pwm_pins",
            "GPIO 24 is already used by buttons.stop",
        ),
        ('[mqtt]\nbroker = "http://x:1"\n', "mqtt.broker", "mqtts://host:port"),
        ("[safety]\nmax_vibration_g = 50\n", "safety.max_vibration_g", "0.1..10.0"),
        ("[safety]\nmax_session_min = -1\n", "safety.max_session_min", "1.0..120.0"),
        ('[station]\nid = "a/b"\n', "station.id", "letters, digits, '-' or '_'"),
        ('schema = "rehab.config/9"\n', "schema", "rehab.config/1"),
        ("pads = 3\n", "pads", "must be a table"),
    ],
)
def test_config_bad_value_names_the_key(tmp_path: Path, text: str, key: str, allowed: str) -> None:
    with pytest.raises(cfgmod.ConfigError) as info:
        cfgmod.load(write(tmp_path, text), sim=True)
    assert info.value.key == key
    assert f"'{key}'" in str(info.value)
    assert allowed in str(info.value)


def test_config_not_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(cfgmod.ConfigError, match="not valid TOML"):
        cfgmod.load(write(tmp_path, "[pads\n"), sim=True)


def test_config_password_file_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    text = f'[mqtt]\nenabled = true\npassword_file = "{secret}"\n'
    with pytest.raises(cfgmod.ConfigError) as info:
        cfgmod.load(write(tmp_path, text), sim=True)
    assert info.value.key == "mqtt.password_file" and "chmod 600" in str(info.value)
    secret.chmod(0o600)
    cfg = cfgmod.load(write(tmp_path, text), sim=True)
    assert cfgmod.mqtt_password(cfg) == "s3cret"
    assert cfg.redacted()["mqtt"]["password"] == "***"


def test_config_password_from_environment() -> None:
    cfg = cfgmod.defaults()
    assert cfgmod.mqtt_password(cfg, {"REHAB_MQTT_PASSWORD": "pw"}) == "pw"
    assert cfgmod.mqtt_password(cfg, {}) is None


def test_config_data_dir_follows_platform_conventions() -> None:
    cfg = cfgmod.defaults()
    assert cfgmod.data_dir(cfg, {"STATE_DIRECTORY": "/var/lib/rehab-station"}) == Path(
        "/var/lib/rehab-station"
    )
    assert cfgmod.data_dir(cfg, {"XDG_STATE_HOME": "/x/state", "HOME": "/h"}) == Path(
        "/x/state/rehab-station"
    )
    assert cfgmod.data_dir(cfg, {"HOME": "/h"}) == Path("/h/.local/state/rehab-station")
    cfg2 = cfgmod.with_overrides(cfg, data_dir="/d")
    assert cfgmod.data_dir(cfg2, {"STATE_DIRECTORY": "/s"}) == Path("/d")


def test_config_broker_url_parsing() -> None:
    assert cfgmod.parse_broker_url("mqtts://clinic.example:8883") == cfgmod.BrokerURL(
        "clinic.example", 8883, True
    )
    assert cfgmod.parse_broker_url("mqtt://127.0.0.1").port == 1883
    for bad in ("tcp://h:1", "mqtt://", "mqtt://h:99999", "mqtt://h:1/path"):
        with pytest.raises(cfgmod.ConfigError):
            cfgmod.parse_broker_url(bad)


def test_cli_config_check_prints_resolved_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--sim"]) == 0
    out = capsys.readouterr().out
    assert "config OK" in out and 'id = "st-sim-0001"' in out
    assert 'password = "(not set)"' in out


def test_cli_bad_config_exits_1_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = write(tmp_path, "[pads]\nrate_hz = 9999\n")
    assert main(["--config", str(p), "config", "check"]) == 1
    err = capsys.readouterr().err
    assert "pads.rate_hz" in err and "1..200" in err
    # Global options work after the subcommand too.
    assert main(["config", "check", "--config", str(p)]) == 1


def test_cli_broker_override_is_validated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sim", "--broker", "ftp://x", "config", "check"]) == 1
    assert "--broker" in capsys.readouterr().err
    assert main(["config", "check", "--sim", "--broker", "mqtt://127.0.0.1:1884"]) == 0
    assert 'broker = "mqtt://127.0.0.1:1884"' in capsys.readouterr().out


def test_cli_without_config_or_sim_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("REHAB_STATION_CONFIG", raising=False)
    if Path("/etc/rehab-station/station.toml").exists():
        pytest.fail("a system config exists on this machine; the test needs a clean one")
    assert main(["config", "check"]) == 1
    assert "--sim" in capsys.readouterr().err


def test_cli_version_and_module_entry_point() -> None:
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "station", "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert out.stdout.startswith("rehab-station ")
    helped = subprocess.run(
        [sys.executable, "-m", "station", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert "config" in helped.stdout


def test_config_pad_data_rate_must_give_every_input_its_rate() -> None:
    """4 inputs at 100 Hz need 440 conversions/s (1.1/DR each): 250 is refused, naming the
    key and the smallest data rate that works; a slower pad rate makes 250 fine."""
    with pytest.raises(cfgmod.ConfigError) as info:
        cfgmod.validate({"pads": {"data_rate_sps": 250}})
    assert info.value.key == "pads.data_rate_sps"
    assert "use at least 475" in str(info.value) and "100 Hz on 4 inputs" in str(info.value)
    assert cfgmod.validate({"pads": {"data_rate_sps": 250, "rate_hz": 50}})["pads"]["rate_hz"] == 50
    with pytest.raises(cfgmod.ConfigError, match=r"lower pads\.rate_hz"):
        cfgmod.validate({"pads": {"rate_hz": 200}})  # 880/s: no data rate is enough
    # the supply reference is one more input on a chip with fewer than 4 pads
    with pytest.raises(cfgmod.ConfigError, match="on 3 inputs"):
        cfgmod.validate({"pads": {"pads_per_adc": 2, "supply_ref": True, "data_rate_sps": 250}})


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_config_non_finite_numbers_are_refused(tmp_path: Path, text: str) -> None:
    """TOML allows nan and inf; NaN passes every range check, so a NaN watchdog would never
    fire and a NaN station cap would let a plan's value through."""
    f = tmp_path / "station.toml"
    f.write_text(f'schema = "rehab.config/1"\n[safety]\nwatchdog_s = {text}\n')
    with pytest.raises(cfgmod.ConfigError) as info:
        cfgmod.load(f, sim=True)
    assert info.value.key == "safety.watchdog_s" and "finite" in str(info.value)
    for key in ("max_force_n", "max_session_min", "daily_vibration_min"):
        with pytest.raises(cfgmod.ConfigError, match=f"safety.{key}"):
            cfgmod.validate({"safety": {key: float(text)}})
