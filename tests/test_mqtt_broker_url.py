"""The one broker URL parser both the station's config and the clinic's client use."""

from __future__ import annotations

import pytest

from mqtt_bridge import broker_url
from mqtt_bridge.clinic import parse_broker_url


def test_broker_url_defaults_the_port_by_scheme() -> None:
    assert broker_url.parse("mqtt://127.0.0.1") == broker_url.BrokerURL("127.0.0.1", 1883, False)
    assert broker_url.parse("mqtts://clinic.example/") == broker_url.BrokerURL(
        "clinic.example", 8883, True
    )
    assert str(broker_url.parse("mqtts://h:9")) == "mqtts://h:9"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mqtt://127.0.0.1:0", "port must be 1..65535"),
        ("mqtt://127.0.0.1:65536", "port must be 1..65535"),
        ("mqtt://h:x", "port must be 1..65535"),
        ("http://h", "must be mqtt://host:port"),
        ("mqtt://h/topic", "must be mqtt://host:port"),
        ("mqtt://", "must be mqtt://host:port"),
    ],
)
def test_broker_url_clinic_side_refuses_what_the_config_refuses(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_broker_url(url)


def test_broker_url_with_a_password_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError) as info:
        parse_broker_url("mqtt://user:hunter2@clinic.example:1883")
    assert "hunter2" not in str(info.value)
    assert "password_env" in str(info.value)
