"""Generated contract documents: up to date, valid, and covering every type and topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from schemas import export
from schemas.events import INPUT_EVENT_TYPES
from streams.cli import app
from streams.commands.schemas_cmd import generated_files, source_root, stale_files, write_all
from streams.topics import ALL_TOPICS
from tests.factories import (
    ALL_EVENT_TYPES,
    make_alert_event,
    make_dead_letter,
    make_event_dict,
    make_work_item,
)

ROOT = Path(__file__).resolve().parents[2]
OUTBOUND_EXAMPLES = {
    "ncrs.alert": make_alert_event,
    "ncrs.work_item": make_work_item,
    "ncrs.dead_letter": make_dead_letter,
}


def _committed_schema(message_type: str) -> dict:
    path = ROOT / export.SCHEMA_DIR / export.schema_file_name(message_type)
    return json.loads(path.read_text(encoding="utf-8"))


def test_source_root_is_this_checkout():
    """The CLI writes into the tree the tests read, not somewhere else."""
    assert source_root() == ROOT


def test_committed_files_equal_a_fresh_export_byte_for_byte(tmp_path):
    """`ncrs-monitor schemas export` would leave the tree unchanged."""
    written = write_all(tmp_path)
    assert written  # a fresh directory gets every file
    for path in written:
        committed = ROOT / path.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} is not committed"
        assert committed.read_bytes() == path.read_bytes(), f"{committed} is out of date"
    committed_schemas = {p.name for p in (ROOT / export.SCHEMA_DIR).glob("*.json")}
    assert committed_schemas == {p.name for p in (tmp_path / export.SCHEMA_DIR).glob("*.json")}


def test_export_is_deterministic_and_idempotent(tmp_path):
    """A second export changes nothing, so the check cannot flap."""
    write_all(tmp_path)
    assert write_all(tmp_path) == []
    assert stale_files(tmp_path) == []


def test_stale_detection_finds_edited_and_orphaned_files(tmp_path):
    """An edited schema and a schema for a removed type are both reported, and export fixes them."""
    write_all(tmp_path)
    edited = tmp_path / export.SCHEMA_DIR / "crime.filed.json"
    edited.write_text("{}\n", encoding="utf-8")
    orphan = tmp_path / export.SCHEMA_DIR / "crime.vanished.json"
    orphan.write_text("{}\n", encoding="utf-8")
    assert stale_files(tmp_path) == sorted([edited, orphan])
    write_all(tmp_path)
    assert stale_files(tmp_path) == []
    assert not orphan.exists()


def test_cli_check_exits_1_when_stale_and_0_when_current(tmp_path):
    """`schemas export --check` is usable as a CI gate."""
    runner = CliRunner()
    result = runner.invoke(app, ["schemas", "export", "--check", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "out of date" in result.output
    assert not (tmp_path / export.ASYNCAPI_PATH).exists()  # --check writes nothing
    result = runner.invoke(app, ["schemas", "export", "--root", str(tmp_path)])
    assert result.exit_code == 0
    result = runner.invoke(app, ["schemas", "export", "--check", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("message_type", export.message_types())
def test_every_schema_is_draft_2020_12_with_id(message_type):
    """Each generated schema is itself valid and self-identifying."""
    schema = _committed_schema(message_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith(export.SCHEMA_ID_BASE + message_type + ":v")


def test_schema_ids_are_unique():
    """No two documents claim the same `$id`."""
    ids = [_committed_schema(t)["$id"] for t in export.message_types()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_input_schema_accepts_the_factory_example(event_type):
    """What the models accept, the published schema accepts too."""
    Draft202012Validator(_committed_schema(event_type)).validate(make_event_dict(event_type))


@pytest.mark.parametrize("message_type", sorted(OUTBOUND_EXAMPLES))
def test_outbound_schema_accepts_the_factory_example(message_type):
    """Alerts, work items and dead letters as the monitor emits them match their schemas."""
    example = OUTBOUND_EXAMPLES[message_type]().model_dump(mode="json")
    Draft202012Validator(_committed_schema(message_type)).validate(example)


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_input_schema_requires_type_and_routing_refs(event_type):
    """A producer validating against the schema learns that `type` and the key refs are needed."""
    validator = Draft202012Validator(_committed_schema(event_type))
    for required in ("type", *INPUT_EVENT_TYPES[event_type].REQUIRED_REFS):
        example = make_event_dict(event_type)
        del example[required]
        assert not validator.is_valid(example), f"{required} should be required"


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("incident.reported", "force_code", "cheshire"),
        ("crime.recorded", "type", "crime.filed"),
        ("crime.cancelled", "crime_ref", None),
    ],
)
def test_input_schema_rejects_invalid_examples(event_type, field, value):
    """The schema carries the models' constraints (patterns, consts, non-null refs)."""
    example = make_event_dict(event_type)
    example[field] = value
    assert not Draft202012Validator(_committed_schema(event_type)).is_valid(example)


def test_input_schema_rejects_an_unknown_code():
    """Enum codes are enforced by the schema, not only by the models."""
    example = make_event_dict("crime.cancelled")
    example["data"]["cancellation_class"] = "C9"
    assert not Draft202012Validator(_committed_schema("crime.cancelled")).is_valid(example)


def test_outbound_schema_forbids_extra_fields():
    """additionalProperties is false on outbound contracts, as in the models."""
    example = make_alert_event().model_dump(mode="json")
    example["victim_name"] = "x"
    assert not Draft202012Validator(_committed_schema("ncrs.alert")).is_valid(example)


# --- AsyncAPI -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi() -> dict:
    return yaml.safe_load((ROOT / export.ASYNCAPI_PATH).read_text(encoding="utf-8"))


def test_asyncapi_is_version_3(asyncapi):
    """The document declares AsyncAPI 3.0 and JSON content."""
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["defaultContentType"] == "application/json"
    assert asyncapi["info"]["version"] == export.API_VERSION


def test_asyncapi_describes_every_topic(asyncapi):
    """Each declared topic is a channel with its address, key, partitions and configs."""
    channels = asyncapi["channels"]
    assert {c["address"] for c in channels.values()} == {t.name for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        channel = channels[topic.name]
        binding = channel["bindings"]["kafka"]
        assert binding["partitions"] == topic.partitions
        assert binding["topicConfiguration"]["cleanup.policy"] == [topic.configs["cleanup.policy"]]
        assert channel["x-key"] == topic.key
        assert channel["x-configs"] == topic.configs
        assert set(channel["messages"]) == set(topic.event_types)


def test_asyncapi_says_which_side_sends(asyncapi):
    """The monitor receives every input topic and sends every output topic."""
    operations = asyncapi["operations"]
    for topic in ALL_TOPICS:
        action = "receive" if topic.role == "input" else "send"
        operation = operations[f"{action}.{topic.name}"]
        assert operation["action"] == action
        assert operation["channel"] == {"$ref": f"#/channels/{topic.name}"}
    assert len(operations) == len(ALL_TOPICS)


def test_asyncapi_refs_resolve(asyncapi):
    """Every internal $ref points into the document and every payload to a committed schema."""
    messages = asyncapi["components"]["messages"]
    for channel in asyncapi["channels"].values():
        for ref in channel["messages"].values():
            assert ref["$ref"].removeprefix("#/components/messages/") in messages
    for operation in asyncapi["operations"].values():
        for ref in operation["messages"]:
            _, _, channel, _, message = ref["$ref"].split("/")
            assert message in asyncapi["channels"][channel]["messages"]
    for name, message in messages.items():
        payload = (ROOT / "deploy" / message["payload"]["$ref"]).resolve()
        assert payload.is_file(), name
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_generated_files_cover_every_message_type():
    """One schema file per input event and outbound contract, plus the AsyncAPI document."""
    files = generated_files(Path("/root-does-not-matter"))
    names = {p.name for p in files}
    assert {f"{t}.json" for t in export.message_types()} <= names
    assert "asyncapi.yaml" in names
    assert len(files) == len(export.message_types()) + 1
