"""Every configuration key of the station: type, default, allowed range and meaning.

Declarations only; :mod:`station.config` reads, validates and documents a file with them
(``station.example.toml`` is generated from this table, in this order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The simulated station's id (``--sim``); a real station must be given its own.
SIM_STATION_ID = "st-sim-0001"

#: Bus number -> (SDA, SCL) GPIO, for the Pi 4 overlays in the README (i2c_arm, i2c3
#: pins_4_5, i2c4 pins_8_9). Other bus numbers (i2c-gpio, other models) are not checked.
I2C_PINS_BY_BUS: dict[int, tuple[int, int]] = {1: (2, 3), 3: (4, 5), 4: (8, 9)}

_BUS_PINS_DOC = (
    "Its pins cannot be buttons, buzzer or PWM pins: "
    + ", ".join(f"bus {n} = GPIO {a}/{b}" for n, (a, b) in I2C_PINS_BY_BUS.items())
    + " (Pi 4 overlays of the README); other bus numbers are not checked."
)


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
    #: A list of numbers (in ``min``..``max``; repeats allowed) instead of integers.
    numbers: bool = False

    def allowed(self) -> str:
        fmt = _hex if self.hex else str
        if self.choices is not None:
            return "one of " + ", ".join(fmt(c) for c in self.choices)
        tname = _type_name(self.type)
        if self.type is list:
            rng = ""
            if self.numbers:
                rng = f" of numbers {self.min:g}..{self.max:g}"
            elif self.item_min is not None:
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
            SIM_STATION_ID,
            "The id the clinic gave this station (1-64 letters, digits, '-' or '_'); also "
            "the MQTT username / TLS CN. No patient identifiers. Required on a real station: "
            f"{SIM_STATION_ID} is the simulated station's (--sim).",
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
            int,
            1,
            "Linux I2C bus number of the station bus (pads, motors). " + _BUS_PINS_DOC,
            min=0,
            max=31,
        ),
        "station_speed_hz": Key(
            int, 400_000, "Station bus clock, as set in config.txt.", choices=(100_000, 400_000)
        ),
        "glove_bus": Key(
            int, 3, "I2C bus number of the glove bus. " + _BUS_PINS_DOC, min=0, max=31
        ),
        "glove_speed_hz": Key(int, 400_000, "Glove bus clock.", choices=(100_000, 400_000)),
        "lcd_bus": Key(int, 4, "I2C bus number of the LCD bus. " + _BUS_PINS_DOC, min=0, max=31),
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
        "supply_v": Key(
            float,
            3.3,
            "Divider supply voltage. Above 4.096 V the ADS1115s use their 6.144 V range "
            "(power them from the same supply: an input above VDD + 0.3 V harms them).",
            min=1.8,
            max=5.5,
        ),
        "supply_ref": Key(
            bool,
            False,
            "The last ADS1115's AIN3 reads the divider supply through a 1:2 divider "
            "(forces are corrected for supply drift; that chip then carries 3 pads).",
        ),
        "textures_mm": Key(
            list,
            [],
            "Groove width (mm) of each pad's textured overlay, pad 0 first, one per fitted "
            "pad; two pads may share a width (odd-one-out texture tasks need a pair). Empty: "
            "the standard overlay kit, 0.50 mm x 1.26^(n mod 8) on pad n (CLINICAL.md 4.3).",
            min=0.1,
            max=10.0,
            numbers=True,
        ),
    },
    "sensory": {
        "contact_min_n": Key(
            float,
            0.3,
            "Lightest contact force on a pad while a sensory stimulus plays; a trial below it "
            "is repeated (counted, not scored).",
            min=0.05,
            max=5.0,
        ),
        "contact_max_n": Key(
            float,
            3.0,
            "Firmest contact force on a pad while a sensory stimulus plays (contact force "
            "changes vibration thresholds, CLINICAL.md 4.1); above it the trial is repeated.",
            min=0.2,
            max=20.0,
        ),
        "max_contact_repeats": Key(
            int,
            8,
            "Trials repeated for contact force in one block before the block ends.",
            min=1,
            max=50,
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
    "acquisition": {
        "buffer_s": Key(
            float,
            30.0,
            "Seconds of samples kept for every pad and IMU (ring buffers): how far back a "
            "reading, a calibration or a tremor estimate can look. Memory grows with it, "
            "pads.rate_hz and glove.odr_hz: 2.7 MiB at the defaults, 17 MiB at 60 s with "
            "the fastest rates.",
            min=5.0,
            max=60.0,
        ),
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
        # Defaults stay clear of I2C (I2C_PINS_BY_BUS), PWM (12/13) and the buzzer (18).
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
            str,
            "mqtt://127.0.0.1:1883",
            "Broker URL: mqtt://host:port or mqtts://host:port (port 1..65535), without a "
            "user name or password (those go in username and password_env / password_file).",
        ),
        "ca_file": Key(str, "", "CA certificate (PEM) for mqtts. Checked whenever set."),
        "cert_file": Key(str, "", "Client certificate (PEM) for mutual TLS. Checked whenever set."),
        "key_file": Key(
            str,
            "",
            "Client key (PEM) for mutual TLS; must be mode 0600. Checked whenever set.",
        ),
        "username": Key(str, "", "Username (defaults to the station id when a password is set)."),
        "password_env": Key(
            str, "REHAB_MQTT_PASSWORD", "Environment variable holding the password."
        ),
        "password_file": Key(
            str, "", "File holding the password; must be mode 0600. Checked whenever set."
        ),
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
    "calibration": {
        "max_age_days": Key(
            int,
            180,
            "The self-test fails a pad or motor calibration older than this: recalibrate "
            "(rehab-station calibrate).",
            min=1,
            max=3650,
        ),
    },
}
