"""Settings: defaults, NCRS_ environment, errors naming the variable, aiokafka arguments."""

from __future__ import annotations

import os
import ssl

import pytest
from pydantic import ValidationError

from streams.errors import ConfigError, NcrsError
from streams.kafka_client import client_kwargs
from streams.settings import Settings, load_settings

SECRET = "s3cret-Sentinel-pw"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Each test sees only the NCRS_ variables it sets."""
    for name in list(os.environ):
        if name.startswith("NCRS_"):
            monkeypatch.delenv(name)


def test_defaults_suit_the_local_broker():
    """With no environment the monitor talks to the local test broker, in plaintext."""
    settings = load_settings()
    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.security_protocol == "PLAINTEXT"
    assert settings.app_id == "ncrs-monitor"
    assert settings.topic_partitions == 6
    assert settings.topic_replication_factor == 1
    assert settings.grace_seconds == 120
    assert settings.staleness_seconds == 900
    assert settings.force_code == "CHE"
    assert settings.victim_care_unit_name == "Cheshire Cares"
    assert settings.ruleset_overrides == {}
    assert settings.max_open_obligations_per_rule == 2_000_000
    assert settings.max_obligation_age_days == 400


def test_environment_variables_with_prefix_are_read(monkeypatch):
    """NCRS_* variables set the fields, converted to their types."""
    monkeypatch.setenv("NCRS_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("NCRS_WEB_PORT", "8080")
    monkeypatch.setenv("NCRS_TICK_INTERVAL_SECONDS", "2.5")
    monkeypatch.setenv("NCRS_LOG_LEVEL", "debug")
    monkeypatch.setenv("NCRS_RULESET_OVERRIDES", '{"REC-24H": {"warn_hours": 12}}')
    settings = load_settings()
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.web_port == 8080
    assert settings.tick_interval_seconds == 2.5
    assert settings.log_level == "DEBUG"
    assert settings.ruleset_overrides == {"REC-24H": {"warn_hours": 12.0}}


def test_keyword_overrides_win_over_environment(monkeypatch):
    """Tests and commands can pin a value regardless of the environment."""
    monkeypatch.setenv("NCRS_WEB_PORT", "8080")
    assert load_settings(web_port=9000).web_port == 9000


def test_settings_are_frozen():
    """Every component sees the same configuration for the life of the process."""
    settings = load_settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.web_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NCRS_WEB_PORT", "eighty", "NCRS_WEB_PORT: Input should be a valid integer"),
        ("NCRS_WEB_PORT", "70000", "NCRS_WEB_PORT: Input should be less than or equal to 65535"),
        ("NCRS_TOPIC_PARTITIONS", "0", "NCRS_TOPIC_PARTITIONS: Input should be greater than"),
        ("NCRS_SECURITY_PROTOCOL", "TLS", "NCRS_SECURITY_PROTOCOL: Input should be"),
        ("NCRS_LOG_FORMAT", "xml", "NCRS_LOG_FORMAT: Input should be"),
        ("NCRS_FORCE_CODE", "cheshire", "NCRS_FORCE_CODE: String should match pattern"),
        ("NCRS_GRACE_SECONDS", "-1", "NCRS_GRACE_SECONDS: Input should be greater than"),
        ("NCRS_RULESET_OVERRIDES", "{not json", "NCRS_RULESET_OVERRIDES: not valid JSON"),
        ("NCRS_RULESET_OVERRIDES", '{"REC-24H": 12}', "NCRS_RULESET_OVERRIDES: Input should be"),
    ],
)
def test_invalid_variable_gives_config_error_naming_it(monkeypatch, variable, value, message):
    """A bad value fails at start with a message that says which variable to fix."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert message in str(caught.value)
    assert isinstance(caught.value, NcrsError)


def test_sasl_without_credentials_says_what_to_set(monkeypatch):
    """SASL without user and password is refused naming both variables."""
    monkeypatch.setenv("NCRS_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError, match="NCRS_SASL_USERNAME and NCRS_SASL_PASSWORD"):
        load_settings()


def test_config_error_never_contains_the_secret(monkeypatch):
    """A rejected password-bearing configuration does not echo the password."""
    monkeypatch.setenv("NCRS_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NCRS_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("NCRS_WEB_PORT", SECRET)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert SECRET not in str(caught.value)


def test_secrets_are_masked_in_repr(monkeypatch):
    """Logging the settings object cannot leak the password."""
    settings = load_settings(
        security_protocol="SASL_SSL", sasl_username="ncrs", sasl_password=SECRET
    )
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())


def test_plaintext_client_kwargs_have_no_credentials():
    """The local broker gets a bare connection."""
    kwargs = client_kwargs(load_settings(bootstrap_servers="h:1"))
    assert kwargs == {
        "bootstrap_servers": "h:1",
        "security_protocol": "PLAINTEXT",
        "client_id": "ncrs-monitor",
    }


def test_sasl_ssl_client_kwargs_carry_mechanism_credentials_and_tls():
    """SASL_SSL gets SCRAM-SHA-512 by default, the plain password and an SSL context."""
    settings = load_settings(
        security_protocol="SASL_SSL", sasl_username="ncrs", sasl_password=SECRET
    )
    kwargs = client_kwargs(settings)
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "ncrs"
    assert kwargs["sasl_plain_password"] == SECRET
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].verify_mode is ssl.CERT_REQUIRED


def test_sasl_plaintext_has_no_ssl_context():
    """SASL over plaintext (e.g. inside a private network) gets no TLS context."""
    settings = load_settings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="u",
        sasl_password="p",
    )
    kwargs = client_kwargs(settings)
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
    assert "ssl_context" not in kwargs


def test_unknown_setting_keyword_is_refused():
    """A misspelt setting passed in code is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="NCRS_WEB_PROT"):
        load_settings(web_prot=1)


def test_every_field_is_documented():
    """Each setting says what it is for, where it is declared."""
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []
