"""Secured Kafka: SASL_SSL with SCRAM-SHA-512 and mutual TLS, configured only through settings.

A second broker is started beside the shared test broker (its own ports and run directory) by
`deploy/local-kafka/secure/secure-kafka.sh`, with certificates generated for this module by
`make-certs.sh` (openssl) and the SCRAM user added when its storage is formatted. Misconfigured
clients must fail within seconds with a message that names the setting to fix, never hang or
print a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.registry import decode_event, encode_event
from streams import admin
from streams.admin import TopicStatus
from streams.errors import BrokerError, ConfigError
from streams.kafka_client import client_kwargs
from streams.settings import Settings, load_settings
from tests.factories import at, make_disclosure, make_incident_reported
from tests.poison import SENTINEL_NAME, SENTINELS, with_personal_data

ROOT = Path(__file__).resolve().parents[2]
SECURE_KAFKA = ROOT / "deploy" / "local-kafka" / "secure" / "secure-kafka.sh"
CLI = str(Path(sys.executable).with_name("ncrs-monitor"))
USER = "ncrs"
FAIL_FAST_S = 20.0
"""A misconfigured client must give up within this long (the brief: fail fast at start)."""
ROUND_TRIP_TIMEOUT_S = 30.0
WORKER_READY_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class SecureBroker:
    """Where the secured broker listens and the material a client needs."""

    sasl_ssl: str
    ssl: str
    certs: Path
    password: str

    def sasl_settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings keywords for the SASL_SSL listener with the right credentials."""
        return {
            "bootstrap_servers": self.sasl_ssl,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": USER,
            "sasl_password": self.password,
            "ssl_cafile": str(self.certs / "ca.crt"),
            **overrides,
        }

    def mtls_settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings keywords for the SSL listener with the trusted client certificate."""
        return {
            "bootstrap_servers": self.ssl,
            "security_protocol": "SSL",
            "ssl_cafile": str(self.certs / "ca.crt"),
            "ssl_certfile": str(self.certs / "client.crt"),
            "ssl_keyfile": str(self.certs / "client.key"),
            **overrides,
        }

    def env(self, settings: dict[str, Any]) -> dict[str, str]:
        """The same settings as NCRS_* environment variables, for the CLI."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NCRS_")}
        env.update({f"NCRS_{key.upper()}": str(value) for key, value in settings.items()})
        return env


def _free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out, so the second broker never collides with another."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """A throwaway broker with SASL_SSL (SCRAM-SHA-512) and mTLS listeners; stopped after."""
    run_dir = tmp_path_factory.mktemp("secure-kafka")
    plain, controller, sasl_ssl, ssl_port = _free_ports(4)
    password = secrets.token_hex(16)
    env = {
        **os.environ,
        "NCRS_KAFKA_DIR": str(run_dir),
        "NCRS_KAFKA_PORT": str(plain),
        "NCRS_KAFKA_CONTROLLER_PORT": str(controller),
        "NCRS_KAFKA_SASL_SSL_PORT": str(sasl_ssl),
        "NCRS_KAFKA_SSL_PORT": str(ssl_port),
        "NCRS_KAFKA_SCRAM_USER": USER,
        "NCRS_KAFKA_SCRAM_PASSWORD": password,
    }
    started = subprocess.run(  # noqa: PLW1510 - the return code is checked with the output
        [str(SECURE_KAFKA), "start"], env=env, capture_output=True, text=True, timeout=300
    )
    if started.returncode != 0:
        pytest.fail(f"secured broker did not start:\n{started.stderr[-3000:]}")
    try:
        yield SecureBroker(
            sasl_ssl=f"127.0.0.1:{sasl_ssl}",
            ssl=f"127.0.0.1:{ssl_port}",
            certs=run_dir / "certs",
            password=password,
        )
    finally:
        subprocess.run([str(SECURE_KAFKA), "stop"], env=env, capture_output=True, timeout=120)  # noqa: PLW1510


async def _round_trip(settings: Settings, topic: str) -> None:
    """Produce one event with the project's client kwargs and read the same event back."""
    event = make_incident_reported()
    producer = AIOKafkaProducer(**client_kwargs(settings), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode_event(event), key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        **client_kwargs(settings),
        group_id=f"secured-{topic}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(ROUND_TRIP_TIMEOUT_S):
            message = await consumer.getone()
    finally:
        await consumer.stop()
    assert decode_event(message.value) == event


async def _create_topic(settings: Settings, name: str) -> None:
    spec = admin.resolve_specs(settings, suffix=name)[0]
    report = await admin.ensure_topics(settings, [spec], timeout=FAIL_FAST_S)
    assert report[0].status is TopicStatus.CREATED


async def _fails_fast(settings: Settings) -> str:
    """The BrokerError message of `topics create` with bad credentials, asserting it was quick."""
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        await admin.ensure_topics(settings, admin.resolve_specs(settings), timeout=FAIL_FAST_S)
    assert time.monotonic() - started < FAIL_FAST_S
    return str(caught.value)


async def test_topics_create_over_sasl_ssl_creates_every_topic(secure_broker, unique_name):
    """ensure_topics with SASL_SSL settings creates every declared topic."""
    settings = load_settings(**secure_broker.sasl_settings(topic_partitions=2))
    specs = admin.resolve_specs(settings, suffix=f".{unique_name}")
    report = await admin.ensure_topics(settings, specs, timeout=FAIL_FAST_S)
    assert {row.status for row in report} == {TopicStatus.CREATED}
    assert len(report) == len(specs)


def test_cli_topics_create_over_sasl_ssl_from_environment(secure_broker, unique_name):
    """`ncrs-monitor topics create` configured only by NCRS_* variables succeeds over SASL_SSL."""
    settings = secure_broker.sasl_settings(topic_partitions=1)
    result = subprocess.run(  # noqa: PLW1510 - the test asserts on the return code
        [CLI, "topics", "create", "--suffix", f".{unique_name}", "--timeout", "20"],
        env=secure_broker.env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout


async def test_produce_consume_round_trip_over_sasl_ssl(secure_broker, unique_name):
    """A producer and a consumer built by kafka_client exchange an event over SASL_SSL."""
    settings = load_settings(**secure_broker.sasl_settings(topic_partitions=1))
    topic = f"ncrs.incidents.v1.{unique_name}"
    await _create_topic(settings, f".{unique_name}")
    await _round_trip(settings, topic)


async def test_produce_consume_round_trip_over_mutual_tls(secure_broker, unique_name):
    """A producer and a consumer built by kafka_client exchange an event over mutual TLS."""
    settings = load_settings(**secure_broker.mtls_settings(topic_partitions=1))
    topic = f"ncrs.incidents.v1.{unique_name}"
    await _create_topic(settings, f".{unique_name}")
    await _round_trip(settings, topic)


async def test_wrong_password_fails_fast_naming_the_sasl_settings(secure_broker):
    """A wrong SCRAM password is a BrokerError naming NCRS_SASL_PASSWORD within seconds."""
    settings = load_settings(**secure_broker.sasl_settings(sasl_password="not-the-password"))
    message = await _fails_fast(settings)
    assert "SASL SCRAM-SHA-512 authentication failed" in message
    assert "NCRS_SASL_PASSWORD" in message
    assert "not-the-password" not in message


async def test_unknown_user_fails_fast_naming_the_sasl_settings(secure_broker):
    """A user the broker does not know fails like a wrong password, naming the username setting."""
    settings = load_settings(**secure_broker.sasl_settings(sasl_username="nobody"))
    message = await _fails_fast(settings)
    assert "authentication failed for user 'nobody'" in message
    assert "NCRS_SASL_USERNAME" in message


async def test_untrusted_broker_certificate_fails_fast_naming_the_ca_setting(secure_broker):
    """A CA bundle that did not sign the broker's certificate fails fast, naming NCRS_SSL_CAFILE."""
    rogue_ca = str(secure_broker.certs / "rogue-ca.crt")
    settings = load_settings(**secure_broker.sasl_settings(ssl_cafile=rogue_ca))
    message = await _fails_fast(settings)
    assert "certificate is not trusted" in message
    assert "NCRS_SSL_CAFILE" in message


async def test_untrusted_client_certificate_fails_fast_on_mutual_tls(secure_broker):
    """A client certificate from a CA the broker does not trust is refused, naming the setting."""
    settings = load_settings(
        **secure_broker.mtls_settings(
            ssl_certfile=str(secure_broker.certs / "rogue-client.crt"),
            ssl_keyfile=str(secure_broker.certs / "rogue-client.key"),
        )
    )
    message = await _fails_fast(settings)
    assert "refused the client certificate" in message
    assert "NCRS_SSL_CERTFILE" in message


async def test_missing_client_certificate_fails_fast_on_mutual_tls(secure_broker):
    """Connecting to the mTLS listener without a certificate says one is required."""
    settings = load_settings(**secure_broker.mtls_settings(ssl_certfile=None, ssl_keyfile=None))
    message = await _fails_fast(settings)
    assert "requires a client certificate" in message


def test_missing_ca_file_is_a_config_error():
    """A CA path that does not exist is a ConfigError naming the TLS settings, not a traceback."""
    settings = load_settings(security_protocol="SSL", ssl_cafile="/nonexistent/ca.crt")
    with pytest.raises(ConfigError, match="NCRS_SSL_CAFILE"):
        client_kwargs(settings)


def test_cli_wrong_password_is_one_line_and_exit_2(secure_broker):
    """`topics create` with a wrong password prints what to fix, exits 2, no traceback, quickly."""
    settings = secure_broker.sasl_settings(sasl_password="not-the-password")
    started = time.monotonic()
    result = subprocess.run(  # noqa: PLW1510 - the test asserts on the return code
        [CLI, "topics", "create", "--timeout", "15"],
        env=secure_broker.env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "NCRS_SASL_PASSWORD" in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout
    assert time.monotonic() - started < FAIL_FAST_S


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _worker_env(broker: SecureBroker, name: str, port: int, **overrides: Any) -> dict[str, str]:
    settings = broker.sasl_settings(
        app_id=f"secured-{name}",
        topic_suffix=f".{name}",
        topic_partitions=1,
        grace_seconds=0,
        tick_interval_seconds=1,
        log_format="json",
        web_host="127.0.0.1",
        web_port=port,
        **overrides,
    )
    return {**broker.env(settings), "PYTHONPATH": str(ROOT)}


async def _first_alert_for(settings: Settings, topic: str, incident_ref: str) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        topic, **client_kwargs(settings), group_id=f"check-{topic}", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(ROUND_TRIP_TIMEOUT_S):
            async for message in consumer:
                alert = json.loads(message.value)
                if alert.get("subject", {}).get("incident_ref") == incident_ref:
                    return dict(alert)
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


async def test_worker_processes_an_event_end_to_end_over_sasl_ssl(
    secure_broker, unique_name, tmp_path
):
    """A worker over SASL_SSL alerts on an incident, dead-letters a bad one, logs no PII."""
    name = unique_name[-40:].strip("-.")
    settings = load_settings(
        **secure_broker.sasl_settings(topic_partitions=1, topic_suffix=f".{name}")
    )
    specs = admin.resolve_specs(settings, suffix=f".{name}")
    admin.raise_on_mismatch(await admin.ensure_topics(settings, specs, timeout=FAIL_FAST_S))
    port = _free_ports(1)[0]
    log = tmp_path / "worker.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [CLI, "worker"],
            env=_worker_env(secure_broker, name, port),
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while not _ready(port):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "not ready:\n" + log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        incident = make_incident_reported(
            incident_ref=f"SEC-{name}"[:60], received_at=at(0), disclosures=[make_disclosure()]
        )
        producer = AIOKafkaProducer(**client_kwargs(settings), acks="all")
        await producer.start()
        try:
            key = (incident.incident_ref or "").encode()
            topic = f"ncrs.incidents.v1.{name}"
            laden = with_personal_data(incident.model_dump(mode="json", exclude_none=True))
            wrong = {**laden, "time": SENTINEL_NAME}
            for value in (json.dumps(wrong).encode(), json.dumps(laden).encode()):
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()
        alert = await _first_alert_for(
            settings, f"ncrs.alerts.v1.{name}", incident.incident_ref or ""
        )
        assert alert["rule_id"] == "REC-24H"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    logged = log.read_text()
    assert "dead_letter" in logged, "the wrong-typed event must have been dead-lettered"
    assert [s for s in SENTINELS if s in logged] == [], "personal data in the worker's log"


def test_worker_with_wrong_password_exits_fast_with_a_clear_error(secure_broker, tmp_path):
    """A worker given a wrong SCRAM password exits 2 within seconds, naming the setting."""
    env = _worker_env(
        secure_broker, "wrong-password", _free_ports(1)[0], sasl_password="not-the-password"
    )
    started = time.monotonic()
    result = subprocess.run(  # noqa: PLW1510 - the test asserts on the return code
        [CLI, "worker"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "NCRS_SASL_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout
    assert time.monotonic() - started < FAIL_FAST_S
