"""Every setting of the monitor, in one frozen object read from `NCRS_*` environment variables.

One place to look for what can be configured; each field's description is what an operator needs
to set it. Defaults suit the local single-broker set-up in `deploy/local-kafka`; production must
set at least `NCRS_BOOTSTRAP_SERVERS`, security, and `NCRS_TOPIC_REPLICATION_FACTOR=3`.
Values marked [assumed] in the rules file are defaults to be confirmed by the Force Crime
Registrar before go-live.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from streams.errors import ConfigError

ENV_PREFIX = "NCRS_"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["auto", "json", "console"]


class Settings(BaseSettings):
    """Monitor configuration; immutable once loaded so every component sees the same values."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        case_sensitive=False,
    )

    # --- Kafka connection ---
    bootstrap_servers: str = Field(
        "127.0.0.1:19092",
        description="Comma-separated host:port list of Kafka brokers.",
    )
    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="Kafka security protocol; SASL_SSL in production."
    )
    sasl_mechanism: SaslMechanism = Field(
        "SCRAM-SHA-512", description="SASL mechanism, used only with a SASL_* protocol."
    )
    sasl_username: str | None = Field(None, description="SASL user; required with SASL_*.")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password; required with SASL_*. Never logged."
    )
    ssl_cafile: str | None = Field(None, description="CA bundle that signed the broker certs.")
    ssl_certfile: str | None = Field(None, description="Client certificate for mutual TLS.")
    ssl_keyfile: str | None = Field(None, description="Private key of the client certificate.")
    ssl_keyfile_password: SecretStr | None = Field(
        None, description="Password of `ssl_keyfile`, if encrypted. Never logged."
    )

    # --- application and topics ---
    app_id: str = Field(
        "ncrs-monitor",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Consumer group id and prefix of faust's internal topics.",
    )
    topic_suffix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Appended to every topic name in streams/topics.py (test isolation only).",
    )
    topic_partitions: int = Field(
        6, ge=1, le=1024, description="Partitions of input and output topics (same for all)."
    )
    topic_replication_factor: int = Field(
        1, ge=1, le=16, description="Replication factor of created topics; set 3 in production."
    )
    consumer_group_instance_id: str | None = Field(
        None,
        description="Static group membership id (one per worker) to avoid rebalances on restart.",
    )
    store_url: str = Field(
        "memory://", description="faust table store: memory:// or rocksdb:// (persistent)."
    )

    # --- clocks [assumed defaults, rules file §2] ---
    grace_seconds: int = Field(
        120, ge=0, description="Pipeline-lag grace before a live breach is declared."
    )
    staleness_seconds: int = Field(
        900, ge=1, description="Silence after which a source's breaches are held as undecided."
    )
    tick_interval_seconds: float = Field(
        10.0, gt=0, description="How often the live clock ticks to fire due deadlines."
    )
    future_tolerance_seconds: int = Field(
        300, ge=0, description="Clock skew tolerated before an event time counts as future."
    )

    # --- web, logs ---
    web_host: str = Field("0.0.0.0", description="Bind address of health and metrics.")  # noqa: S104 - a container must listen on all interfaces
    web_port: int = Field(6066, ge=1, le=65535, description="Port of health and metrics.")
    log_level: LogLevel = Field("INFO", description="Minimum log level.")
    log_format: LogFormat = Field(
        "auto", description="json, console, or auto (console on a terminal, else json)."
    )

    # --- force and rules ---
    force_code: str = Field(
        "CHE", pattern=r"^[A-Z0-9]{2,8}$", description="Force whose events are monitored."
    )
    victim_care_unit_name: str = Field(
        "Cheshire Cares", max_length=64, description="Victim-care unit name shown in reports."
    )
    ruleset_overrides: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description=(
            'Per-rule threshold overrides as JSON, e.g. {"REC-24H": {"warn_hours": 12}};'
            " the rules engine validates names and values."
        ),
    )

    # --- guardrails ---
    max_open_obligations_per_rule: int = Field(
        2_000_000,
        ge=1,
        description=(
            "Open obligations of one rule a worker may hold; beyond it each new one is still"
            " opened and monitored, and counted in ncrs_guardrail_exceeded_total."
        ),
    )
    max_obligation_age_days: int = Field(
        400, ge=1, description="Open obligations older than this are expired as stale."
    )

    @field_validator("log_level", "security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("ruleset_overrides", mode="before")
    @classmethod
    def _parse_json(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                msg = f"not valid JSON ({exc.msg})"
                raise ValueError(msg) from exc
        return value

    @model_validator(mode="after")
    def _sasl_credentials(self) -> Settings:
        if self.security_protocol.startswith("SASL") and (
            self.sasl_username is None or self.sasl_password is None
        ):
            msg = f"{ENV_PREFIX}SASL_USERNAME and {ENV_PREFIX}SASL_PASSWORD are required with SASL"
            raise ValueError(msg)
        return self

    @property
    def uses_sasl(self) -> bool:
        """Whether SASL credentials go to the broker."""
        return self.security_protocol.startswith("SASL")

    @property
    def uses_ssl(self) -> bool:
        """Whether the connection is TLS."""
        return self.security_protocol.endswith("SSL")


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return f"{ENV_PREFIX}{field.upper()}"


def describe_settings_error(exc: ValidationError) -> str:
    """`NCRS_WEB_PORT: Input should be a valid integer; ...` — names and messages, no values."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = err["loc"]
        name = env_name(str(loc[0])) if loc else "configuration"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {msg}")
    return "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (keywords win), or `ConfigError` saying what to set."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_settings_error(exc)) from exc
    except SettingsError as exc:  # a JSON-typed variable that does not parse
        found = re.search(r'field "(\w+)"', str(exc))
        name = env_name(found.group(1)) if found else "configuration"
        raise ConfigError(f"{name}: not valid JSON") from exc
