"""The station's configuration: one TOML file, validated before anything else happens.

Every key is declared in :mod:`station.config_keys` with its type, default, allowed range
and meaning; the same declarations produce ``station.example.toml``, the validation
messages and the resolved printout of ``rehab-station config check``. A bad file raises
:class:`ConfigError` naming the key and what is allowed; the CLI turns that into exit 1.
"""

from __future__ import annotations

import math
import os
import stat
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mqtt_bridge import broker_url
from mqtt_bridge.broker_url import BrokerURL
from mqtt_bridge.topics import check_station_id
from station.config_keys import I2C_PINS_BY_BUS, SCHEMA_KEYS, SIM_STATION_ID, Key
from ui_lcd.keys import KEYS as BUTTON_KEYS

SCHEMA = "rehab.config/1"


class ConfigError(ValueError):
    """A configuration problem; ``key`` is the dotted key, e.g. ``pads.rate_hz``."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {message}")


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


def load(path: str | os.PathLike[str], *, sim: bool) -> Config:
    """Read and validate a TOML config file; raises :class:`ConfigError`.

    ``sim``: the file is for the simulated station (``--sim``); a real one needs its own
    ``station.id``."""
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
    return validate(data, source=str(p), sim=sim)


def validate(data: dict[str, Any], source: str = "<dict>", *, sim: bool = True) -> Config:
    """Validate a parsed config; raises :class:`ConfigError` naming the first bad key.

    ``sim=False`` applies the real station's rules too (``station.id`` must be set)."""
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
    if not sim:
        _check_real_station_id(cfg.station_id, given="id" in data.get("station", {}))
    _cross_checks(cfg)
    return cfg


def _check(key: str, spec: Key, value: Any) -> Any:
    bad = ConfigError(key, f"must be {spec.allowed()}, got {value!r}")
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        # TOML has nan and inf; NaN passes every range comparison (a NaN watchdog_s would
        # never fire, a NaN cap would let a plan's value through).
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if spec.type is list and spec.numbers:
        if not isinstance(value, list) or not all(
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
            and (spec.min or 0) <= v <= (spec.max or math.inf)
            for v in value
        ):
            raise bad
        return [float(v) for v in value]
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
    try:
        check_station_id(cfg.station_id)  # the MQTT side's rule: the id is a topic level
    except ValueError as exc:
        raise ConfigError("station.id", str(exc)) from exc
    parse_broker_url(cfg["mqtt"]["broker"], key="mqtt.broker")
    _check_pins(cfg)
    hap = cfg["haptics"]
    if hap["fitted"] and hap["driver"] == "drv2605l" and len(hap["channels"]) == 0:
        raise ConfigError("haptics.channels", "must list at least one mux channel")
    if cfg["pads"]["fitted"] and not cfg["pads"]["adc_addresses"]:
        raise ConfigError("pads.adc_addresses", "must list at least one ADS1115 address")
    if cfg["pads"]["fitted"]:
        _check_pad_rate(cfg["pads"])
        textures = cfg["pads"]["textures_mm"]
        if textures and len(textures) != n_pads(cfg):
            raise ConfigError(
                "pads.textures_mm",
                f"must give one width per fitted pad ({n_pads(cfg)}), got {len(textures)}",
            )
    sensory = cfg["sensory"]
    if sensory["contact_min_n"] >= sensory["contact_max_n"]:
        raise ConfigError(
            "sensory.contact_max_n",
            f"must be above sensory.contact_min_n ({sensory['contact_min_n']:g} N), "
            f"got {sensory['contact_max_n']:g} N",
        )
    if (
        cfg["glove"]["fitted"]
        and cfg["haptics"]["fitted"]
        and cfg["buses"]["glove_bus"] == cfg["buses"]["station_bus"]
        and cfg["glove"]["mux_address"] == cfg["haptics"]["mux_address"]
    ):
        raise ConfigError(
            "glove.mux_address", "collides with haptics.mux_address on a shared bus (use 0x71)"
        )
    _check_mqtt_files(cfg["mqtt"])


def _check_real_station_id(station_id: str, given: bool) -> None:
    """A real station never borrows the simulated station's id: its summaries would reach
    the clinic under another station's name."""
    if station_id != SIM_STATION_ID:
        return
    problem = f"is {SIM_STATION_ID!r}, the simulated station's id" if given else "is not set"
    raise ConfigError(
        "station.id",
        f"{problem}: set station.id to the id the clinic gave this station "
        "(only --sim runs without one)",
    )


def _check_mqtt_files(mqtt: dict[str, Any]) -> None:
    """Every file set is checked, MQTT enabled or not: ``config check`` is where the
    technician finds out, and ``--broker`` can enable MQTT after the file was read."""
    for name in ("ca_file", "cert_file", "key_file", "password_file"):
        if mqtt[name]:
            _check_readable(f"mqtt.{name}", Path(mqtt[name]))
    for name in ("key_file", "password_file"):
        if mqtt[name]:
            _check_private(f"mqtt.{name}", Path(mqtt[name]))


def _check_readable(key: str, path: Path) -> None:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # before open: a FIFO would block
            raise ConfigError(key, f"{path} is not a file; give the path of the file itself")
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(
            key, f"cannot read {path} ({exc.strerror}); check the path and its permissions"
        ) from exc


def bus_roles_in_use(cfg: Config) -> list[str]:
    """The buses (``station``, ``glove``, ``lcd``) a fitted part is on."""
    hap = cfg["haptics"]
    fitted = {
        "station": cfg["pads"]["fitted"] or (hap["fitted"] and hap["driver"] == "drv2605l"),
        "glove": cfg["glove"]["fitted"],
        "lcd": cfg["lcd"]["fitted"],
    }
    return [role for role, on in fitted.items() if on]


def bus_numbers_in_use(cfg: Config) -> dict[str, int]:
    """``buses.<role>_bus`` -> bus number, for the buses a fitted part is on."""
    return {f"buses.{r}_bus": cfg["buses"][f"{r}_bus"] for r in bus_roles_in_use(cfg)}


def _gpio_claims(cfg: Config) -> list[tuple[str, int]]:
    """(key, GPIO) for every pin a fitted part drives or reads, in the order checked."""
    claims = [(f"buttons.{name}", cfg["buttons"][name]) for name in BUTTON_KEYS]
    if cfg["buzzer"]["fitted"]:
        claims.append(("buzzer.pin", cfg["buzzer"]["pin"]))
    hap = cfg["haptics"]
    if hap["fitted"] and hap["driver"] == "pwm":
        claims.extend(("haptics.pwm_pins", pin) for pin in hap["pwm_pins"])
    return claims


def _check_pins(cfg: Config) -> None:
    """No GPIO serves two parts, and none is an I2C pin of a bus in use."""
    owner: dict[int, str] = {}
    for key, bus in bus_numbers_in_use(cfg).items():
        if bus in I2C_PINS_BY_BUS:
            sda, scl = I2C_PINS_BY_BUS[bus]
            for pin in (sda, scl):
                owner.setdefault(pin, f"{key} (I2C bus {bus} is on GPIO {sda}/{scl})")
    for key, pin in _gpio_claims(cfg):
        if pin in owner:
            raise ConfigError(key, f"GPIO {pin} is already used by {owner[pin]}")
        owner[pin] = key


#: The ADS1115's oscillator is within 10 %: a conversion takes up to 1.1 / data rate.
ADS1115_CONVERSION_MARGIN = 1.1


#: The standard overlay kit: groove width of grade n, on a x1.26 (0.1 log10) ladder.
STANDARD_TEXTURE_MM = tuple(round(0.5 * 1.26**n, 3) for n in range(8))


def n_pads(cfg: Config | dict[str, Any]) -> int:
    """Pads the configuration fits: 4 per ADS1115 (``pads_per_adc``), less the last chip's
    AIN3 when it reads the supply reference instead."""
    pads = cfg["pads"]
    if not pads["fitted"]:
        return 0
    n = len(pads["adc_addresses"]) * pads["pads_per_adc"]
    return n - 1 if pads["supply_ref"] and pads["pads_per_adc"] == 4 else n


def texture_widths_mm(cfg: Config | dict[str, Any]) -> list[float]:
    """Groove width (mm) of each fitted pad's overlay: ``pads.textures_mm``, or the
    standard kit (:data:`STANDARD_TEXTURE_MM`, pad n grade n mod 8) when it is empty."""
    given = cfg["pads"]["textures_mm"]
    if given:
        return [float(w) for w in given]
    return [STANDARD_TEXTURE_MM[p % 8] for p in range(n_pads(cfg))]


def _check_pad_rate(pads: dict[str, Any]) -> None:
    """Each ADS1115 converts its inputs one after another: the data rate must give every
    input ``rate_hz`` conversions a second, or the pads would read stale (a fault)."""
    inputs = pads["pads_per_adc"]
    if pads["supply_ref"]:
        inputs = max(inputs, min(inputs, 3) + 1)  # the last chip also reads the reference
    need_sps = pads["rate_hz"] * inputs * ADS1115_CONVERSION_MARGIN
    if pads["data_rate_sps"] < need_sps:
        choices = SCHEMA_KEYS["pads"]["data_rate_sps"].choices or ()
        enough = [c for c in choices if c >= need_sps]
        fix = f"use at least {enough[0]}" if enough else "lower pads.rate_hz"
        raise ConfigError(
            "pads.data_rate_sps",
            f"{pads['data_rate_sps']} samples/s cannot give {pads['rate_hz']} Hz on "
            f"{inputs} inputs per ADS1115 (needs {need_sps:.0f}): {fix}",
        )


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


def parse_broker_url(url: str, key: str = "--broker") -> BrokerURL:
    """Parse ``mqtt://host:port`` or ``mqtts://host:port``; raises :class:`ConfigError`."""
    try:
        return broker_url.parse(url)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


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


#: Comment width in the example file, so it reads in a terminal editor on the station.
EXAMPLE_WIDTH = 88


def example_toml() -> str:
    """The documented example file, generated from the key declarations.

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
            out.extend(f"# {line}" for line in textwrap.wrap(spec.doc, EXAMPLE_WIDTH - 2))
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
