"""``config check`` catches what ``run`` would otherwise die of: each bad config exits 1
with a message naming the key (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqtt_bridge.topics import check_station_id
from station import config as cfgmod
from station.cli import main

#: A real station's minimum: its own id (everything else has a default).
REAL = '[station]\nid = "st-0042"\n'


def check(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    """Run ``config check`` on ``text`` as a config file; (exit code, stdout, stderr)."""
    p = tmp_path / "station.toml"
    p.write_text(text, encoding="utf-8")
    code = main(["--config", str(p), *extra, "config", "check"])
    out, err = capsys.readouterr()
    return code, out, err


def refused(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """The error of a config ``config check`` must refuse (exit 1, nothing on stdout)."""
    code, out, err = check(tmp_path, text, capsys, *extra)
    assert (code, out) == (1, ""), err
    return err


# -- station id ------------------------------------------------------------------------------


@pytest.mark.parametrize("station_id", ["st.1", "st-é", "-st", "a" * 65, ""])
def test_config_check_refuses_a_station_id_mqtt_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], station_id: str
) -> None:
    err = refused(tmp_path, f'[station]\nid = "{station_id}"\n', capsys)
    assert "config key 'station.id'" in err
    assert "letters, digits, '-' or '_'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("station_id", ["st.1", "st-é", "st_7", "ST-0042", "9", "a" * 64])
def test_config_station_id_rule_is_the_mqtt_topic_rule(station_id: str) -> None:
    try:
        check_station_id(station_id)
        mqtt_ok = True
    except ValueError:
        mqtt_ok = False
    try:
        cfgmod.validate({"station": {"id": station_id}})
        config_ok = True
    except cfgmod.ConfigError as exc:
        assert exc.key == "station.id"
        config_ok = False
    assert config_ok == mqtt_ok


def test_config_check_real_station_without_id_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(tmp_path, "[pads]\nrate_hz = 50\n", capsys)
    assert "config key 'station.id': is not set" in err
    assert "set station.id to the id the clinic gave this station" in err


def test_config_check_real_station_with_the_simulated_id_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of the example file keeps st-sim-0001 until someone changes it."""
    example = Path(__file__).resolve().parents[1] / "station.example.toml"
    err = refused(tmp_path, example.read_text(encoding="utf-8"), capsys)
    assert "config key 'station.id': is 'st-sim-0001'" in err
    assert "the id the clinic gave this station" in err


def test_config_check_sim_keeps_the_simulated_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = check(tmp_path, "[pads]\nrate_hz = 50\n", capsys, "--sim")
    assert code == 0 and 'id = "st-sim-0001"' in out
    code, out, _ = check(tmp_path, REAL, capsys)
    assert code == 0 and 'id = "st-0042"' in out


# -- TLS and password files ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ca_file", "cert_file", "key_file", "password_file"])
def test_config_check_refuses_a_missing_mqtt_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Checked with MQTT off too: ``--broker`` turns it on after the file is read."""
    missing = tmp_path / "pki" / "nothing.pem"
    err = refused(tmp_path, REAL + f'[mqtt]\n{name} = "{missing}"\n', capsys)
    assert f"config key 'mqtt.{name}': cannot read {missing}" in err
    assert "No such file or directory" in err
    err = refused(
        tmp_path, REAL + f'[mqtt]\n{name} = "{missing}"\n', capsys, "--broker", "mqtt://h"
    )
    assert f"config key 'mqtt.{name}'" in err


@pytest.mark.parametrize("name", ["ca_file", "cert_file", "key_file"])
def test_config_check_refuses_a_directory_as_a_tls_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    err = refused(tmp_path, REAL + f'[mqtt]\nenabled = true\n{name} = "{pki}"\n', capsys)
    assert f"config key 'mqtt.{name}': {pki} is not a file" in err


def test_config_check_refuses_a_tls_file_below_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that cannot be opened (here: its 'directory' is a file) is named with why."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    err = refused(tmp_path, REAL + f'[mqtt]\nca_file = "{ca}/x"\n', capsys)
    assert f"config key 'mqtt.ca_file': cannot read {ca}/x (Not a directory)" in err


def test_config_check_accepts_readable_tls_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "st.pem", "st.key"))
    for f in (ca, cert, key):
        f.write_text("pem\n")
    key.chmod(0o600)
    text = REAL + f'[mqtt]\nca_file = "{ca}"\ncert_file = "{cert}"\nkey_file = "{key}"\n'
    code, out, err = check(tmp_path, text, capsys)
    assert code == 0, err
    assert f'ca_file = "{ca}"' in out


# -- broker URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["mqtt://127.0.0.1:0", "mqtts://clinic.example:0", "mqtt://h:65536", "mqtt://h:x"]
)
def test_config_check_refuses_a_broker_port_outside_1_65535(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    err = refused(tmp_path, REAL + f'[mqtt]\nbroker = "{url}"\n', capsys)
    assert f"config key 'mqtt.broker': port must be 1..65535, got '{url}'" in err
    err = refused(tmp_path, REAL, capsys, "--broker", url)
    assert "config key '--broker': port must be 1..65535" in err


def test_config_broker_url_keeps_its_port() -> None:
    assert cfgmod.parse_broker_url("mqtt://h:1").port == 1
    assert cfgmod.parse_broker_url("mqtt://h:65535").port == 65535
    assert cfgmod.parse_broker_url("mqtts://h").port == 8883


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://user:hunter2@clinic.example",
        "mqtts://hunter2@clinic.example:8883",
        "mqtt://user:hunter2@clinic.example:99999",
        "http://user:hunter2@clinic.example",
        "user:hunter2@clinic.example",
    ],
)
def test_config_check_never_prints_a_password_in_the_broker_url(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    url: str,
) -> None:
    err = refused(tmp_path, REAL + f'[mqtt]\nbroker = "{url}"\n', capsys)
    assert "config key 'mqtt.broker': must not hold a user name or password" in err
    assert "mqtt.password_env" in err and "mqtt.password_file" in err
    err += refused(tmp_path, REAL, capsys, "--broker", url)
    assert "config key '--broker'" in err
    code = main(["--broker", url, "clinic", "ingest", "--db", str(tmp_path / "clinic.db")])
    out, clinic_err = capsys.readouterr()
    assert code == 1 and "config key '--broker'" in clinic_err
    assert "hunter2" not in err + clinic_err + out + caplog.text


# -- GPIO pins -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "owner"),
    [
        ("[buttons]\nok = 2\n", "buttons.ok", "buses.station_bus (I2C bus 1 is on GPIO 2/3)"),
        ("[buttons]\nstop = 3\n", "buttons.stop", "buses.station_bus"),
        ("[buttons]\nleft = 5\n", "buttons.left", "buses.glove_bus (I2C bus 3 is on GPIO 4/5)"),
        ("[buttons]\nback = 8\n", "buttons.back", "buses.lcd_bus (I2C bus 4 is on GPIO 8/9)"),
        ("[buzzer]\nfitted = true\npin = 9\n", "buzzer.pin", "buses.lcd_bus"),
        ('[haptics]\ndriver = "pwm"\npwm_pins = [4, 13]\n', "haptics.pwm_pins", "buses.glove_bus"),
        ("[buses]\nlcd_bus = 1\n[buttons]\nok = 2\n", "buttons.ok", "buses.station_bus"),
        ("[buses]\nstation_bus = 4\n[buttons]\nok = 9\n", "buttons.ok", "buses.station_bus"),
    ],
)
def test_config_check_refuses_a_part_on_an_i2c_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, owner: str
) -> None:
    err = refused(tmp_path, REAL + text, capsys)
    assert f"config key '{key}': GPIO" in err and f"is already used by {owner}" in err


def test_config_check_allows_the_pins_of_a_bus_nothing_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a glove the glove bus's GPIO 4/5 are free (HARDWARE.md suggests GPIO 5)."""
    text = REAL + "[glove]\nfitted = false\n[buttons]\nok = 5\n"
    code, out, err = check(tmp_path, text, capsys)
    assert code == 0, err
    assert "ok = 5" in out
    err = refused(tmp_path, REAL + "[buttons]\nok = 5\n", capsys)
    assert "buses.glove_bus" in err


@pytest.mark.parametrize(
    ("text", "key", "owner"),
    [
        ('[haptics]\ndriver = "pwm"\npwm_pins = [12, 17]\n', "haptics.pwm_pins", "buttons.ok"),
        ("[buttons]\nright = 27\n", "buttons.right", "buttons.back"),
        ("[buzzer]\nfitted = true\npin = 22\n", "buzzer.pin", "buttons.left"),
        (
            '[buzzer]\nfitted = true\n[haptics]\ndriver = "pwm"\npwm_pins = [18]\n',
            "haptics.pwm_pins",
            "buzzer.pin",
        ),
    ],
)
def test_config_check_refuses_two_parts_on_one_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, owner: str
) -> None:
    err = refused(tmp_path, REAL + text, capsys)
    assert f"config key '{key}': GPIO" in err and f"is already used by {owner}\n" in err


def test_config_check_ignores_the_pins_of_parts_not_fitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PWM pins with the DRV2605L driver, and an absent buzzer, drive nothing."""
    text = REAL + "[haptics]\npwm_pins = [17, 2]\n[buzzer]\nfitted = false\npin = 24\n"
    code, _, err = check(tmp_path, text, capsys)
    assert code == 0, err
