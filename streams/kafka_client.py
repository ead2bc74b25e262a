"""aiokafka connection arguments built from `Settings`, so every client connects the same way.

Used by the admin commands, the integration tests and any raw producer or consumer; the faust
app builds its own credentials from the same settings.
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from streams.settings import Settings


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
        key_password = settings.ssl_keyfile_password
        kwargs["ssl_context"] = create_ssl_context(
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
            password=key_password.get_secret_value() if key_password is not None else None,
        )
    return kwargs
