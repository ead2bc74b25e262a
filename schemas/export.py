"""JSON Schema and AsyncAPI documents generated from the contracts, for producers in other systems.

Pure: builds documents as dicts and renders JSON text; the caller writes files (see
`streams/commands/schemas_cmd.py`). The topic list is passed in rather than imported, so
`schemas/` stays independent of `streams/`. Output is deterministic (sorted keys, fixed order) so
a test can require the committed files to equal a fresh export byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel

from schemas.alerts import AlertEvent, WorkItem
from schemas.deadletter import DeadLetter
from schemas.events import INPUT_EVENT_TYPES, Envelope

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "urn:ncrs-monitor:schema:"
API_VERSION = "1.0.0"
"""Version of the AsyncAPI document; bump it (and CHANGELOG.md) with any contract change."""

KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_DIR = "schemas/json"
ASYNCAPI_PATH = "deploy/asyncapi.yaml"

OUTBOUND_MODELS: dict[str, type[BaseModel]] = {
    "ncrs.alert": AlertEvent,
    "ncrs.work_item": WorkItem,
    "ncrs.dead_letter": DeadLetter,
}
"""Message type of each outbound contract, as named in `streams/topics.py`."""


class TopicLike(Protocol):
    """What the AsyncAPI export needs of a topic declaration (`streams.topics.TopicSpec`)."""

    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def partitions(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def event_types(self) -> tuple[str, ...]: ...
    @property
    def description(self) -> str: ...
    @property
    def configs(self) -> dict[str, str]: ...
    @property
    def sender(self) -> str: ...
    @property
    def receiver(self) -> str: ...


def message_types() -> tuple[str, ...]:
    """Every message type with a schema: the input events, then the outbound contracts."""
    return (*INPUT_EVENT_TYPES, *OUTBOUND_MODELS)


def model_of(message_type: str) -> type[BaseModel]:
    """The pydantic model of a message type."""
    if message_type in INPUT_EVENT_TYPES:
        return INPUT_EVENT_TYPES[message_type]
    return OUTBOUND_MODELS[message_type]


def schema_file_name(message_type: str) -> str:
    """File name of a message type's schema under `schemas/json/`."""
    return f"{message_type}.json"


def _require_refs(schema: dict[str, Any], cls: type[Envelope]) -> None:
    """Make the refs an event type requires required and non-null in its schema too.

    Pydantic sees them as optional fields checked by a validator; a producer reading the schema
    must see that, say, `incident.reported` without `incident_ref` is invalid.
    """
    properties = schema["properties"]
    for name in cls.REQUIRED_REFS:
        prop = properties[name]
        non_null = [branch for branch in prop.pop("anyOf", []) if branch.get("type") != "null"]
        prop.pop("default", None)
        if len(non_null) == 1:
            prop.update(non_null[0])
    schema["required"] = [*schema["required"], "type", *cls.REQUIRED_REFS]


def json_schema(message_type: str) -> dict[str, Any]:
    """The draft 2020-12 JSON Schema of one message type, with `$schema` and `$id`."""
    cls = model_of(message_type)
    schema = cls.model_json_schema(mode="validation")
    if issubclass(cls, Envelope):
        _require_refs(schema, cls)
        version = cls.SCHEMA_VERSION
    else:
        version = 1
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = f"{SCHEMA_ID_BASE}{message_type}:v{version}"
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name to JSON Schema, for every message type."""
    return {schema_file_name(t): json_schema(t) for t in message_types()}


def render_json(document: Mapping[str, Any]) -> str:
    """Canonical text of a generated JSON document: sorted keys, indent 2, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _summary(cls: type[BaseModel]) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else cls.__name__


def _topic_configuration(configs: Mapping[str, str]) -> dict[str, Any]:
    """The subset of topic configs the AsyncAPI Kafka binding defines."""
    out: dict[str, Any] = {}
    if "cleanup.policy" in configs:
        out["cleanup.policy"] = configs["cleanup.policy"].split(",")
    for name in ("retention.ms", "retention.bytes", "delete.retention.ms", "max.message.bytes"):
        if name in configs:
            out[name] = int(configs[name])
    return out


def _message(message_type: str, key: str, schema_dir_ref: str) -> dict[str, Any]:
    cls = model_of(message_type)
    return {
        "name": message_type,
        "title": cls.__name__,
        "summary": _summary(cls),
        "contentType": "application/json",
        "payload": {"$ref": f"{schema_dir_ref}/{schema_file_name(message_type)}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the event's `{key}`"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def asyncapi_document(
    topics: Iterable[TopicLike],
    *,
    schema_dir_ref: str = "../schemas/json",
    servers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An AsyncAPI 3.0 document of every topic, from the monitor's point of view.

    The monitor `receive`s input topics and `send`s outputs; each channel also names the systems
    on the other side (`x-sender`, `x-receiver`). Full topic configs are in `x-configs`, since the
    Kafka binding only defines some of them.
    """
    servers = servers or {"local": "127.0.0.1:19092"}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics:
        channel_messages = {}
        for message_type in topic.event_types:
            messages.setdefault(message_type, _message(message_type, topic.key, schema_dir_ref))
            channel_messages[message_type] = {"$ref": f"#/components/messages/{message_type}"}
        channels[topic.name] = {
            "address": topic.name,
            "title": topic.name,
            "description": topic.description,
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": _topic_configuration(topic.configs),
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "x-key": topic.key,
            "x-role": str(topic.role),
            "x-configs": dict(topic.configs),
            "x-sender": topic.sender,
            "x-receiver": topic.receiver,
        }
        action = "receive" if str(topic.role) == "input" else "send"
        operations[f"{action}.{topic.name}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "summary": f"ncrs-monitor {action}s {topic.name}; "
            f"sent by {topic.sender}, read by {topic.receiver}.",
            "messages": [
                {"$ref": f"#/channels/{topic.name}/messages/{message_type}"}
                for message_type in topic.event_types
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ncrs-monitor",
            "version": API_VERSION,
            "description": (
                "Topics of the NCRS compliance monitor. Inputs are CloudEvents 1.0 JSON keyed by "
                "the aggregate they update; outputs are alerts, work items (compacted, tombstone "
                "when resolved) and dead letters. Generated by `ncrs-monitor schemas export`; "
                "do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            name: {"host": host, "protocol": "kafka", "description": f"{name} broker"}
            for name, host in sorted(servers.items())
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
