"""The station's configuration: one TOML file, validated before anything else happens.

Every key is declared below with its type, default, allowed range and meaning; the same
declarations produce ``station.example.toml``'s documentation check, the validation
messages and the resolved printout of ``rehab-station config check``. A bad file raises
:class:`ConfigError` naming the key and what is allowed; the CLI turns that into exit 1.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SCHEMA = "rehab.config/1"


class ConfigError(ValueError):
    """A configuration problem; ``key`` is the dotted key, e.g. ``pads.rate_hz``."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {message}")


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, range or choices, and documentation."""

    type: type | tuple[type, ...]
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    item_min: int | None = None
    item_max: int | None = None
    hex: bool = False

    def allowed(self) -> str:
        fmt = _hex if self.hex else str
        if self.choices is not None:
            return "one of " + ", ".join(fmt(c) for c in self.choices)
        tname = _type_name(self.type)
        if self.type is list:
            rng = ""
            if self.item_min is not None:
                rng = f" of integers {fmt(self.item_min)}..{fmt(self.item_max)}"
            return f"a list{rng}"
        if self.min is not None or self.max is not None:
            return f"{tname} in {fmt(self.min)}..{fmt(self.max)}"
        return tname


def _hex(v: Any) -> str:
    return f"0x{v:02X}" if isinstance(v, int) else str(v)


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        list: "a list",
    }
    if isinstance(t, tuple):
        return " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


#: section -> key -> Key. Order is the order of the example file and the printout.
SCHEMA_KEYS: dict[str, dict[str, Key]] = {
    "station": {
        "id": Key(
            str,
            "st-sim-0001",
            "Opaque station id; also the MQTT username / TLS CN. No patient identifiers.",
        ),
        "handedness": Key(
            str,
            "right",
            "Patient's dominant hand, for symmetry indices.",
            choices=("right", "left", "ambidextrous"),
        ),
        "involved_hand": Key(
            str, "right", "The injured (trained) hand.", choices=("right", "left")
        ),
    },
    "data": {
        "dir": Key(
            str,
            "",
            "Data directory (journal, outbox, calibrations). Empty: "
            "$STATE_DIRECTORY under systemd, else $XDG_STATE_HOME/rehab-station.",
        ),
    },
    "buses": {
        "station_bus": Key(
            int, 1, "Linux I2C bus number of the station bus (pads, motors).", min=0, max=31
        ),
        "station_speed_hz": Key(
            int, 400_000, "Station bus clock, as set in config.txt.", choices=(100_000, 400_000)
        ),
        "glove_bus": Key(int, 3, "I2C bus number of the glove bus.", min=0, max=31),
        "glove_speed_hz": Key(int, 400_000, "Glove bus clock.", choices=(100_000, 400_000)),
        "lcd_bus": Key(int, 4, "I2C bus number of the LCD bus.", min=0, max=31),
        "lcd_speed_hz": Key(
            int,
            100_000,
            "LCD bus clock (the PCF8574 is a 100 kHz part).",
            choices=(100_000, 400_000),
        ),
    },
    "pads": {
        "fitted": Key(bool, True, "Force pads (FSR + ADS1115) are fitted."),
        "adc_addresses": Key(
            list,
            [0x48, 0x49],
            "ADS1115 addresses on the station bus, 4 pads each.",
            item_min=0x48,
            item_max=0x4B,
            hex=True,
        ),
        "pads_per_adc": Key(int, 4, "Pads wired to each ADS1115 (inputs AIN0..).", min=1, max=4),
        "rate_hz": Key(int, 100, "Sample rate per pad.", min=1, max=200),
        "data_rate_sps": Key(
            int,
            475,
            "ADS1115 data rate (samples per second).",
            choices=(8, 16, 32, 64, 128, 250, 475, 860),
        ),
        "divider_ohm": Key(
            int, 10_000, "Divider resistor in series with each FSR.", min=1_000, max=100_000
        ),
        "supply_v": Key(float, 3.3, "Divider supply voltage.", min=1.8, max=5.5),
        "supply_ref": Key(
            bool,
            False,
            "The last ADS1115's AIN3 reads the divider supply through a 1:2 divider "
            "(forces are corrected for supply drift; that chip then carries 3 pads).",
        ),
    },
    "haptics": {
        "fitted": Key(bool, True, "Vibration motors are fitted."),
        "driver": Key(
            str,
            "drv2605l",
            "Motor driver: DRV2605L behind a TCA9548A, or plain PWM through a transistor.",
            choices=("drv2605l", "pwm"),
        ),
        "mux_address": Key(
            int, 0x70, "TCA9548A address on the station bus.", min=0x70, max=0x77, hex=True
        ),
        "channels": Key(
            list,
            [0, 1, 2, 3],
            "Mux channel of each motor (motor n = pad n).",
            item_min=0,
            item_max=7,
        ),
        "actuator": Key(str, "erm", "Actuator type.", choices=("erm", "lra")),
        "pwm_pins": Key(
            list, [12, 13], "GPIO pins for the PWM fallback driver.", item_min=0, item_max=27
        ),
    },
    "glove": {
        "fitted": Key(bool, True, "The IMU glove (6 x LSM6DSOX) is fitted."),
        "mux_address": Key(
            int,
            0x70,
            "TCA9548A address on the glove bus (0x71 if shared).",
            min=0x70,
            max=0x77,
            hex=True,
        ),
        "odr_hz": Key(int, 104, "IMU output data rate.", choices=(26, 52, 104, 208, 416)),
    },
    "lcd": {
        "fitted": Key(bool, True, "The character LCD is fitted."),
        "address": Key(
            int,
            0x27,
            "PCF8574 backpack address (0x27, or 0x3F for PCF8574A).",
            choices=tuple(range(0x20, 0x28)) + tuple(range(0x38, 0x40)),
            hex=True,
        ),
        "size": Key(str, "20x4", "Display size.", choices=("20x4", "16x2")),
        "resync_s": Key(
            float, 30.0, "Full re-initialisation period (recovers desync).", min=5.0, max=3600.0
        ),
    },
    "buttons": {
        # Defaults stay clear of I2C (GPIO 2/3, and 4/5, 8/9 for the extra buses in the
        # README), PWM (12/13) and the buzzer (18).
        "ok": Key(int, 17, "GPIO (BCM) of the OK button.", min=0, max=27),
        "back": Key(int, 27, "GPIO of the Back button.", min=0, max=27),
        "left": Key(int, 22, "GPIO of the Left button.", min=0, max=27),
        "right": Key(int, 23, "GPIO of the Right button.", min=0, max=27),
        "stop": Key(int, 24, "GPIO of the emergency Stop button.", min=0, max=27),
        "bounce_ms": Key(int, 30, "Debounce time.", min=0, max=500),
        "hold_s": Key(float, 1.5, "Hold time for a long press.", min=0.3, max=10.0),
    },
    "buzzer": {
        "fitted": Key(bool, False, "A buzzer (gpiozero TonalBuzzer) is fitted."),
        "pin": Key(int, 18, "GPIO of the buzzer.", min=0, max=27),
        "enabled": Key(bool, True, "Play audio cues (start, correct, incorrect, rest over)."),
    },
    "mqtt": {
        "enabled": Key(bool, False, "Publish summaries to the clinic broker."),
        "broker": Key(
            str, "mqtt://127.0.0.1:1883", "Broker URL: mqtt://host:port or mqtts://host:port."
        ),
        "ca_file": Key(str, "", "CA certificate (PEM) for mqtts."),
        "cert_file": Key(str, "", "Client certificate (PEM) for mutual TLS."),
        "key_file": Key(str, "", "Client key (PEM) for mutual TLS; must not be world-readable."),
        "username": Key(str, "", "Username (defaults to the station id when a password is set)."),
        "password_env": Key(
            str, "REHAB_MQTT_PASSWORD", "Environment variable holding the password."
        ),
        "password_file": Key(str, "", "File holding the password; must be mode 0600."),
        "keepalive_s": Key(int, 30, "MQTT keepalive.", min=5, max=600),
        "session_expiry_s": Key(
            int,
            7 * 24 * 3600,
            "Broker session expiry, so plans queue while the station is off.",
            min=60,
            max=90 * 24 * 3600,
        ),
        "resend_after_s": Key(
            float,
            60.0,
            "Resend a summary not acknowledged by the clinic after this long.",
            min=1.0,
            max=86_400.0,
        ),
        "outbox_max_rows": Key(
            int,
            100_000,
            "Outbox capacity; full raises an alarm and refuses new rows, never overwrites.",
            min=10,
            max=10_000_000,
        ),
    },
    "safety": {
        "max_vibration_g": Key(
            float,
            3.0,
            "Hard cap on vibration amplitude at the skin (g rms), whatever a plan says.",
            min=0.1,
            max=10.0,
        ),
        "daily_vibration_min": Key(
            float, 30.0, "Hard cap on vibration time per day.", min=1.0, max=120.0
        ),
        "max_force_n": Key(
            float, 20.0, "Hard cap on any force target (newtons).", min=1.0, max=200.0
        ),
        "max_session_min": Key(
            float, 30.0, "Hard cap on one session's length.", min=1.0, max=120.0
        ),
        "min_rest_s": Key(
            float, 15.0, "Floor on rests between maximal trials.", min=5.0, max=600.0
        ),
        "watchdog_s": Key(
            float,
            0.5,
            "Motors off if the session loop stalls this long while a motor runs.",
            min=0.05,
            max=10.0,
        ),
        "no_response_s": Key(
            float,
            120.0,
            "Pause a session after this long without a response.",
            min=10.0,
            max=3600.0,
        ),
    },
}


@dataclass(frozen=True)
class Config:
    """The resolved configuration: ``section(name)`` gives a dict of validated values."""

    values: dict[str, dict[str, Any]]
    source: str = "<built-in simulated station>"
    schema: str = SCHEMA
    overrides: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    @property
    def station_id(self) -> str:
        return str(self.values["station"]["id"])

    def redacted(self) -> dict[str, Any]:
        """The configuration as a dict, with secrets replaced by a marker."""
        out: dict[str, Any] = {"schema": self.schema}
        for sec, keys in SCHEMA_KEYS.items():
            out[sec] = {name: _copy(self.values[sec][name]) for name in keys}
        out["mqtt"]["password"] = "***" if mqtt_password(self) else "(not set)"
        return out


def defaults() -> Config:
    """The built-in simulated station (used by ``--sim`` with no config file)."""
    return Config(
        {sec: {k: _copy(s.default) for k, s in keys.items()} for sec, keys in SCHEMA_KEYS.items()}
    )


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else v


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config file; raises :class:`ConfigError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError("<file>", f"cannot read {p}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError("<file>", f"{p} is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", f"{p} is not valid TOML: {exc}") from exc
    return validate(data, source=str(p))


def validate(data: dict[str, Any], source: str = "<dict>") -> Config:
    """Validate a parsed config; raises :class:`ConfigError` naming the first bad key."""
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise ConfigError("schema", f"must be {SCHEMA!r}, got {schema!r}")
    values = defaults().values
    for sec, body in data.items():
        if sec == "schema":
            continue
        if sec not in SCHEMA_KEYS:
            raise ConfigError(
                sec, "unknown section (allowed: schema, " + ", ".join(SCHEMA_KEYS) + ")"
            )
        if not isinstance(body, dict):
            raise ConfigError(sec, f"must be a table [{sec}], got {type(body).__name__}")
        for name, value in body.items():
            key = f"{sec}.{name}"
            spec = SCHEMA_KEYS[sec].get(name)
            if spec is None:
                raise ConfigError(key, "unknown key (allowed: " + ", ".join(SCHEMA_KEYS[sec]) + ")")
            values[sec][name] = _check(key, spec, value)
    cfg = Config(values, source=source)
    _cross_checks(cfg)
    return cfg


def _check(key: str, spec: Key, value: Any) -> Any:
    bad = ConfigError(key, f"must be {spec.allowed()}, got {value!r}")
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if spec.type is list:
        if not isinstance(value, list):
            raise bad
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int):
                raise bad
            if spec.item_min is not None and not spec.item_min <= item <= (spec.item_max or 0):
                raise bad
        if len(set(value)) != len(value):
            raise ConfigError(key, f"must not repeat a value, got {value!r}")
        return list(value)
    if isinstance(value, bool) != (spec.type is bool) or not isinstance(value, spec.type):
        raise bad
    if spec.choices is not None and value not in spec.choices:
        raise bad
    if isinstance(value, int | float):
        if spec.min is not None and value < spec.min:
            raise bad
        if spec.max is not None and value > spec.max:
            raise bad
    return value


def _cross_checks(cfg: Config) -> None:
    station_id = cfg["station"]["id"]
    if not station_id or any(c in station_id for c in "/+#\0 ") or len(station_id) > 64:
        raise ConfigError(
            "station.id",
            f"must be 1..64 characters without '/', '+', '#' or spaces, got {station_id!r}",
        )
    parse_broker_url(cfg["mqtt"]["broker"], key="mqtt.broker")
    pins = {k: v for k, v in cfg["buttons"].items() if k in ("ok", "back", "left", "right", "stop")}
    seen: dict[int, str] = {}
    for name, pin in pins.items():
        if pin in seen:
            raise ConfigError(
                f"buttons.{name}", f"GPIO {pin} is already used by buttons.{seen[pin]}"
            )
        seen[pin] = name
    if cfg["buzzer"]["fitted"] and cfg["buzzer"]["pin"] in seen:
        raise ConfigError(
            "buzzer.pin",
            f"GPIO {cfg['buzzer']['pin']} is already used by buttons.{seen[cfg['buzzer']['pin']]}",
        )
    hap = cfg["haptics"]
    if hap["fitted"] and hap["driver"] == "pwm":
        if cfg["buzzer"]["fitted"]:
            seen.setdefault(cfg["buzzer"]["pin"], "buzzer.pin")
        for pin in hap["pwm_pins"]:
            if pin in seen:
                owner = seen[pin] if "." in seen[pin] else f"buttons.{seen[pin]}"
                raise ConfigError("haptics.pwm_pins", f"GPIO {pin} is already used by {owner}")
    if hap["fitted"] and hap["driver"] == "drv2605l" and len(hap["channels"]) == 0:
        raise ConfigError("haptics.channels", "must list at least one mux channel")
    if cfg["pads"]["fitted"] and not cfg["pads"]["adc_addresses"]:
        raise ConfigError("pads.adc_addresses", "must list at least one ADS1115 address")
    if (
        cfg["glove"]["fitted"]
        and cfg["haptics"]["fitted"]
        and cfg["buses"]["glove_bus"] == cfg["buses"]["station_bus"]
        and cfg["glove"]["mux_address"] == cfg["haptics"]["mux_address"]
    ):
        raise ConfigError(
            "glove.mux_address", "collides with haptics.mux_address on a shared bus (use 0x71)"
        )
    for k in ("key_file", "password_file"):
        path = cfg["mqtt"][k]
        if path and cfg["mqtt"]["enabled"]:
            _check_private(f"mqtt.{k}", Path(path))


def _check_private(key: str, path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            key,
            f"{path} must be readable by its owner only (chmod 600), "
            f"mode is {stat.S_IMODE(mode):04o}",
        )


@dataclass(frozen=True)
class BrokerURL:
    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str, key: str = "--broker") -> BrokerURL:
    """Parse ``mqtt://host:port`` or ``mqtts://host:port``; raises :class:`ConfigError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(key, f"must be mqtt://host:port or mqtts://host:port, got {url!r}")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise ConfigError(key, f"has a bad port: {url!r}") from exc
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise ConfigError(key, f"must be mqtt://host:port or mqtts://host:port, got {url!r}")
    return BrokerURL(parts.hostname, port, parts.scheme == "mqtts")


def mqtt_password(cfg: Config, environ: dict[str, str] | None = None) -> str | None:
    """The MQTT password from the 0600 file or the environment variable, or None."""
    env = os.environ if environ is None else environ
    m = cfg["mqtt"]
    if m["password_file"]:
        path = Path(m["password_file"])
        _check_private("mqtt.password_file", path)
        return path.read_text(encoding="utf-8").strip()
    value = env.get(m["password_env"]) if m["password_env"] else None
    return value or None


def with_overrides(cfg: Config, data_dir: str | None = None, broker: str | None = None) -> Config:
    """Apply the command line's ``--data-dir`` and ``--broker`` (validated)."""
    values = {sec: dict(v) for sec, v in cfg.values.items()}
    overrides: dict[str, str] = dict(cfg.overrides)
    if data_dir is not None:
        values["data"]["dir"] = data_dir
        overrides["data.dir"] = "--data-dir"
    if broker is not None:
        parse_broker_url(broker)
        values["mqtt"]["broker"] = broker
        values["mqtt"]["enabled"] = True
        overrides["mqtt.broker"] = "--broker"
    return Config(values, source=cfg.source, overrides=overrides)


def data_dir(cfg: Config, environ: dict[str, str] | None = None) -> Path:
    """The data directory: config, ``$STATE_DIRECTORY`` (systemd) or XDG state home."""
    env = os.environ if environ is None else environ
    if cfg["data"]["dir"]:
        return Path(cfg["data"]["dir"]).expanduser()
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local" / "state"
    )
    return Path(base) / "rehab-station"


def example_toml() -> str:
    """The documented example file, generated from the key declarations above.

    ``station.example.toml`` in the repository is this text; a test keeps them equal.
    """
    out = [
        "# rehab-station configuration (TOML). Every key is optional: the value shown is",
        "# the default. Validated at start: an unknown key, a wrong type or an out-of-range",
        "# value stops the station with exit code 1 and a message naming the key.",
        "# Check a file with: rehab-station --config FILE config check",
        "",
        f'schema = "{SCHEMA}"',
    ]
    for sec, keys in SCHEMA_KEYS.items():
        out.append("")
        out.append(f"[{sec}]")
        for name, spec in keys.items():
            out.append(f"# {spec.doc}")
            out.append(f"# Allowed: {spec.allowed()}.")
            out.append(f"{name} = {_toml_value(spec.default, spec.hex)}")
    return "\n".join(out) + "\n"


def _toml_value(v: Any, hexed: bool = False) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x, hexed) for x in v) + "]"
    if isinstance(v, int) and hexed:
        return f"0x{v:02X}"
    return repr(v)
