"""aiokafka connection arguments built from `Settings`, so every client connects the same way.

Used by the admin commands, the integration tests and any raw producer or consumer; the faust
app builds its own credentials from the same settings.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError
from aiokafka.helpers import create_ssl_context

from streams.errors import ConfigError
from streams.settings import Settings

_CLIENT_CERT_REFUSED = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
    }
)
_TLS_ALERT_WAIT_SECONDS = 1.0
"""How long the TLS probe waits for a broker's post-handshake alert (TLS 1.3 sends its verdict on
the client certificate after the handshake completes)."""


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments common to AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
        "client_id": settings.app_id,
    }
    if settings.uses_sasl:
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            kwargs["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    if settings.uses_ssl:
        kwargs["ssl_context"] = ssl_context(settings)
    return kwargs


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of `settings`, or `ConfigError` naming the file settings that failed."""
    key_password = settings.ssl_keyfile_password
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
            password=key_password.get_secret_value() if key_password is not None else None,
        )
    except (OSError, ssl.SSLError) as exc:
        detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or "unreadable"
        msg = (
            f"cannot load TLS files ({detail}): check NCRS_SSL_CAFILE, NCRS_SSL_CERTFILE, "
            "NCRS_SSL_KEYFILE and NCRS_SSL_KEYFILE_PASSWORD"
        )
        raise ConfigError(msg) from exc
    return context


async def diagnose_connection(settings: Settings, timeout: float = 5.0) -> str | None:
    """Why the first bootstrap broker refuses this client, in words that say what to set.

    aiokafka's bootstrap only logs the cause and raises "Unable to bootstrap", so a wrong
    password or an untrusted certificate would read as "broker down". This probe repeats the
    TLS handshake and the SASL exchange against one broker to name the cause. None when the
    cause is not a security refusal (nothing listening, timeouts): the caller's message stands.
    """
    host, _, port_text = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        return None
    kwargs = client_kwargs(settings)
    try:
        async with asyncio.timeout(timeout):
            if settings.uses_ssl:
                found = await _tls_refusal(host, port, kwargs["ssl_context"])
                if found is not None:
                    return found
            if settings.uses_sasl:
                return await _sasl_refusal(host, port, kwargs, settings)
    except (OSError, TimeoutError, KafkaError):
        return None
    return None


async def _tls_refusal(host: str, port: int, context: ssl.SSLContext) -> str | None:
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except ssl.SSLCertVerificationError as exc:
        return (
            f"the broker's TLS certificate is not trusted ({exc.verify_message}): "
            "set NCRS_SSL_CAFILE to the CA that signed it"
        )
    except ssl.SSLError as exc:
        return f"TLS handshake failed ({exc.reason}): check NCRS_SECURITY_PROTOCOL and the port"
    try:
        async with asyncio.timeout(_TLS_ALERT_WAIT_SECONDS):
            await reader.read(1)
    except TimeoutError:
        return None  # the broker waits for a request: it accepted us
    except ssl.SSLError as exc:
        return _describe_tls_alert(str(exc.reason))
    finally:
        writer.close()
    return None


def _describe_tls_alert(reason: str) -> str:
    """The broker's TLS alert after the handshake, as what to fix on the client side."""
    if reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED":
        return (
            "the broker requires a client certificate (mutual TLS): "
            "set NCRS_SSL_CERTFILE and NCRS_SSL_KEYFILE"
        )
    if reason in _CLIENT_CERT_REFUSED:
        return (
            f"the broker refused the client certificate ({reason}): NCRS_SSL_CERTFILE "
            "must be valid and signed by a CA the broker trusts"
        )
    return f"TLS connection refused ({reason})"


async def _sasl_refusal(
    host: str, port: int, kwargs: dict[str, Any], settings: Settings
) -> str | None:
    try:
        conn = await create_conn(
            host,
            port,
            client_id=kwargs["client_id"],
            ssl_context=kwargs.get("ssl_context"),
            security_protocol=settings.security_protocol,
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=kwargs.get("sasl_plain_username"),
            sasl_plain_password=kwargs.get("sasl_plain_password"),
        )
    except SaslAuthenticationFailed:
        return (
            f"SASL {settings.sasl_mechanism} authentication failed for user "
            f"{settings.sasl_username!r}: check NCRS_SASL_USERNAME and NCRS_SASL_PASSWORD"
        )
    except UnsupportedSaslMechanismError:
        return f"the broker does not offer SASL {settings.sasl_mechanism}: set NCRS_SASL_MECHANISM"
    conn.close()
    return None
