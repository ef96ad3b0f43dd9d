"""twinsim.TwinGraph from Python: an Azure-Digital-Twins-style script (the SDK's
DigitalTwinsClient method and argument names), snapshots, numpy columns, change
callbacks, NDJSON files and the exception classes. The graph's semantics are
tested in C++ (tests/cpp/graph); these tests exercise the Python surface."""

import copy
import datetime
import enum
import json
import sys
import threading

import numpy as np
import pytest

import twinsim
from twinsim import MatchConditions

CONTEXT = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
SPACE = "dtmi:test:Space;1"
THERMOSTAT = "dtmi:test:Thermostat;1"
ROOM = "dtmi:test:Room;1"
MEETING_ROOM = "dtmi:test:MeetingRoom;1"
FLOOR = "dtmi:test:Floor;1"

MODELS = [
    {
        "@context": CONTEXT,
        "@id": SPACE,
        "@type": "Interface",
        "contents": [{"@type": "Property", "name": "name", "schema": "string", "writable": True}],
    },
    {
        "@context": CONTEXT,
        "@id": THERMOSTAT,
        "@type": "Interface",
        "contents": [{"@type": "Property", "name": "setpoint", "schema": "double", "writable": True}],
    },
    {
        "@context": CONTEXT,
        "@id": ROOM,
        "@type": "Interface",
        "displayName": "Room",
        "extends": SPACE,
        "contents": [
            {
                "@type": ["Property", "Temperature"],
                "name": "temperature",
                "schema": "double",
                "unit": "degreeCelsius",
                "writable": True,
            },
            {"@type": "Property", "name": "capacity", "schema": "integer", "writable": True},
            {"@type": "Property", "name": "occupied", "schema": "boolean", "writable": True},
            {"@type": "Component", "name": "thermostat", "schema": THERMOSTAT},
        ],
    },
    {
        "@context": CONTEXT,
        "@id": MEETING_ROOM,
        "@type": "Interface",
        "extends": ROOM,
        "contents": [{"@type": "Property", "name": "seats", "schema": "integer", "writable": True}],
    },
    {
        "@context": CONTEXT,
        "@id": FLOOR,
        "@type": "Interface",
        "displayName": {"en": "Floor", "fr": "Étage"},
        "extends": SPACE,
        "contents": [
            {
                "@type": "Relationship",
                "name": "contains",
                "target": ROOM,
                "properties": [{"@type": "Property", "name": "since", "schema": "date", "writable": True}],
            },
            {"@type": "Relationship", "name": "above", "target": FLOOR},
        ],
    },
]


def room_twin(model=ROOM, **properties):
    twin = {"$metadata": {"$model": model}, "thermostat": {"$metadata": {}}}
    twin.update(properties)
    return twin


@pytest.fixture
def graph():
    """Two floors, three rooms (one a MeetingRoom), relationships between them."""
    g = twinsim.TwinGraph()
    g.create_models(copy.deepcopy(MODELS))
    g.upsert_digital_twin("floor-1", {"$metadata": {"$model": FLOOR}, "name": "Ground"})
    g.upsert_digital_twin("floor-2", {"$metadata": {"$model": FLOOR}, "name": "First"})
    g.upsert_digital_twin("room-1", room_twin(temperature=21.5, capacity=4, occupied=True))
    g.upsert_digital_twin("room-2", room_twin(temperature=19.0))  # capacity and occupied unset
    g.upsert_digital_twin("meet-1", room_twin(MEETING_ROOM, temperature=23.0, capacity=12, seats=10))
    for rel_id, target in [("c1", "room-1"), ("c2", "room-2"), ("c3", "meet-1")]:
        g.upsert_relationship("floor-1", rel_id, {"$targetId": target, "$relationshipName": "contains"})
    g.upsert_relationship("floor-2", "up", {"$targetId": "floor-1", "$relationshipName": "above"})
    return g


def without_etag(value):
    """A twin or relationship without what an import legitimately renews: its $etag
    (the recorded update times are restored)."""
    return {key: item for key, item in value.items() if key != "$etag"}


# --- models ---------------------------------------------------------------------------------


def test_create_models_returns_model_data_with_sdk_attributes():
    g = twinsim.TwinGraph()
    created = g.create_models(copy.deepcopy(MODELS))
    assert isinstance(created, list)
    assert sorted(m.id for m in created) == sorted(d["@id"] for d in MODELS)
    room = next(m for m in created if m.id == ROOM)
    assert isinstance(room, dict) and isinstance(room, twinsim.DigitalTwinsModelData)
    assert room["displayName"] == {"en": "Room"} == room.display_name
    assert room.decommissioned is False
    assert room.model is None and "model" not in room
    assert isinstance(room.upload_time, datetime.datetime) and room.upload_time.tzinfo is not None


def test_get_model_and_list_models(graph):
    floor = graph.get_model(FLOOR)
    assert floor.display_name == {"en": "Floor", "fr": "Étage"}
    assert floor.model is None
    defined = graph.get_model(FLOOR, include_model_definition=True)
    assert defined.model["@id"] == FLOOR and defined["model"]["extends"] == SPACE

    everything = graph.list_models()
    assert isinstance(everything, list)  # a list, not the SDK's pager
    assert sorted(m.id for m in everything) == sorted(d["@id"] for d in MODELS)
    assert all(m.model is None for m in everything)
    assert all(m.model is not None for m in graph.list_models(include_model_definition=True, results_per_page=2))

    # The requested models plus what they extend or use as components.
    assert sorted(m.id for m in graph.list_models([MEETING_ROOM])) == sorted([MEETING_ROOM, ROOM, SPACE, THERMOSTAT])
    assert sorted(m.id for m in graph.list_models(dependencies_for=[FLOOR])) == sorted([FLOOR, SPACE])
    with pytest.raises(twinsim.NotFoundError):
        graph.list_models(["dtmi:test:Nothing;1"])
    with pytest.raises(twinsim.NotFoundError) as caught:
        graph.get_model("dtmi:test:Nothing;1")
    assert caught.value.code == "ModelNotFound"


def test_model_errors(graph):
    with pytest.raises(twinsim.ConflictError) as caught:
        graph.create_models([copy.deepcopy(MODELS[0])])
    assert caught.value.code == "ModelAlreadyExists"
    broken = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:test:Broken;1", "@type": "Interface", "contents": 3}
    with pytest.raises(twinsim.ModelError) as invalid:
        graph.create_models([broken])
    assert invalid.value.code == "DTDLParserError"
    assert any(d.file == "<model 0>" for d in invalid.value.errors)
    assert "dtmi:test:Broken;1" not in [m.id for m in graph.list_models()]


def test_decommission_and_delete_model(graph):
    graph.decommission_model(MEETING_ROOM)
    assert graph.get_model(MEETING_ROOM).decommissioned is True
    with pytest.raises(twinsim.ValidationError) as caught:
        graph.upsert_digital_twin("meet-2", room_twin(MEETING_ROOM))
    assert caught.value.code == "ModelDecommissioned"

    with pytest.raises(twinsim.ConflictError) as refused:
        graph.delete_model(MEETING_ROOM)  # meet-1 still has it
    assert refused.value.code == "ModelReferencesNotDeleted"
    graph.delete_digital_twin("meet-1", cascade=True)
    graph.delete_model(MEETING_ROOM)
    with pytest.raises(twinsim.NotFoundError):
        graph.get_model(MEETING_ROOM)


# --- twins -----------------------------------------------------------------------------------


def test_upsert_and_get_digital_twin(graph):
    stored = graph.upsert_digital_twin("room-3", room_twin(temperature=20, name="Lab"))
    assert stored["$dtId"] == "room-3"
    assert stored["$metadata"]["$model"] == ROOM
    assert stored["temperature"] == 20 and stored["name"] == "Lab"
    assert "thermostat" in stored
    assert "lastUpdateTime" in stored["$metadata"]["temperature"]
    assert graph.get_digital_twin("room-3") == stored
    assert graph.get_digital_twin(digital_twin_id="room-3")["$etag"] == stored["$etag"]
    assert "room-3" in graph and len(graph) == 6


def test_upsert_create_only_with_match_conditions(graph):
    with pytest.raises(twinsim.ConflictError) as caught:
        graph.upsert_digital_twin("room-1", room_twin(), match_condition=MatchConditions.IfMissing)
    assert caught.value.code == "DigitalTwinAlreadyExists"
    assert graph.get_digital_twin("room-1")["temperature"] == 21.5  # untouched

    # azure.core.MatchConditions (any enum with the same member names) and plain names work too.
    class AzureMatchConditions(enum.Enum):
        Unconditionally = 1
        IfNotModified = 2
        IfModified = 3
        IfPresent = 4
        IfMissing = 5

    with pytest.raises(twinsim.ConflictError):
        graph.upsert_digital_twin("room-1", room_twin(), match_condition=AzureMatchConditions.IfMissing)
    graph.upsert_digital_twin("room-9", room_twin(), match_condition="IfMissing")
    assert "room-9" in graph
    with pytest.raises(ValueError):
        graph.upsert_digital_twin("room-9", room_twin(), match_condition="IfSomething")
    with pytest.raises(TypeError):
        graph.upsert_digital_twin("room-9", room_twin(), match_condition=7)


def test_update_digital_twin_with_etags(graph):
    etag = graph.get_digital_twin("room-1")["$etag"]
    patch = [{"op": "replace", "path": "/temperature", "value": 22.0}]
    graph.update_digital_twin("room-1", patch, etag=etag, match_condition=MatchConditions.IfNotModified)
    new_etag = graph.get_digital_twin("room-1")["$etag"]
    assert new_etag != etag
    assert graph.get_digital_twin("room-1")["temperature"] == 22.0

    stale = [{"op": "replace", "path": "/temperature", "value": 30.0}]
    with pytest.raises(twinsim.ConflictError) as caught:
        graph.update_digital_twin("room-1", stale, etag=etag, match_condition=MatchConditions.IfNotModified)
    assert caught.value.code == "PreconditionFailed"
    # An etag alone means IfNotModified (the SDK would ignore it; twinsim takes the intent).
    with pytest.raises(twinsim.ConflictError):
        graph.update_digital_twin("room-1", stale, etag=etag)
    assert graph.get_digital_twin("room-1")["temperature"] == 22.0
    # Unconditionally ignores the etag, as in the SDK.
    graph.update_digital_twin("room-1", stale, etag=etag, match_condition=MatchConditions.Unconditionally)
    assert graph.get_digital_twin("room-1")["temperature"] == 30.0

    with pytest.raises(ValueError, match="etag must be provided"):
        graph.update_digital_twin("room-1", stale, match_condition=MatchConditions.IfNotModified)
    with pytest.raises(ValueError):
        graph.update_digital_twin("room-1", stale, match_condition=MatchConditions.IfMissing)
    graph.update_digital_twin("room-1", patch, match_condition=MatchConditions.IfPresent)
    with pytest.raises(twinsim.NotFoundError):
        graph.update_digital_twin("nobody", patch, match_condition=MatchConditions.IfPresent)


def test_a_bad_patch_changes_nothing(graph):
    before = graph.get_digital_twin("room-1")
    patch = [
        {"op": "replace", "path": "/temperature", "value": 25.0},
        {"op": "replace", "path": "/capacity", "value": "many"},
    ]
    with pytest.raises(twinsim.ValidationError) as caught:
        graph.update_digital_twin("room-1", patch)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code
    assert "capacity" in str(caught.value)
    assert graph.get_digital_twin("room-1") == before
    with pytest.raises(twinsim.ValidationError):
        graph.upsert_digital_twin("room-1", room_twin(undeclared=1))


def test_argument_types_are_checked(graph):
    with pytest.raises(TypeError):
        graph.upsert_digital_twin("room-1", json.dumps(room_twin()))
    with pytest.raises(TypeError):
        graph.update_digital_twin("room-1", {"op": "remove", "path": "/temperature"})
    with pytest.raises(TypeError):
        graph.upsert_digital_twin("room-1", room_twin(name={1, 2}))


def test_ids_with_nul_or_a_lone_surrogate_raise_validation_error_with_the_whole_message(graph):
    nul = "room\x00-after-the-nul"
    # NUL is text, but not in an id: the library refuses it, and the message shows it escaped
    # (a raw NUL would cut the message short wherever it is read as a C string).
    with pytest.raises(twinsim.ValidationError) as caught:
        graph.upsert_digital_twin(nul, room_twin(temperature=20.0))
    message = str(caught.value)
    assert 'twin id "room\\x00-after-the-nul" holds the control character U+0000 (byte 5)' in message, message
    with pytest.raises(twinsim.ValidationError, match=r'relationship id "rel\\x00tail" holds the control character'):
        graph.upsert_relationship("floor-1", "rel\x00tail", {"$targetId": "room-1", "$relationshipName": "contains"})
    with pytest.raises(twinsim.ValidationError, match=r'"a\\x1B\[31m" holds the control character U\+001B'):
        graph.upsert_digital_twin("a\x1b[31m", room_twin())  # a terminal escape sequence
    # Reads of such an id: not found, the whole id in the message.
    with pytest.raises(twinsim.NotFoundError) as missing:
        graph.get_digital_twin(nul)
    assert "room\\x00-after-the-nul" in str(missing.value)
    with pytest.raises(twinsim.NotFoundError, match="after-the-nul"):
        graph.get_relationship(nul, "r")

    # The same id with a lone surrogate instead of the NUL (no UTF-8 form): ValidationError too,
    # on writes and on reads (test_lone_surrogates_in_ids_names_and_values_raise_validation_error
    # covers the other methods).
    lone = "room\ud800-after-the-surrogate"
    for call in (lambda: graph.upsert_digital_twin(lone, room_twin()),
                 lambda: graph.upsert_relationship("floor-1", lone, {"$targetId": "room-1",
                                                                     "$relationshipName": "contains"}),
                 lambda: graph.get_relationship("floor-1", lone)):
        with pytest.raises(twinsim.ValidationError, match=r"lone surrogate U\+D800 at position 4"):
            call()
    assert graph.get_digital_twin("room-1")["temperature"] == 21.5
    assert graph.query_twins("SELECT COUNT() FROM DIGITALTWINS").to_dataframe()["COUNT"][0] == 5


def test_values_nested_beyond_the_depth_limit_are_a_value_error_not_a_crash(graph):
    deep = 1
    for _ in range(100_000):
        deep = [deep]
    limit = "deeper than the limit of 128 levels"
    with pytest.raises(ValueError, match=limit):
        graph.upsert_digital_twin("room-1", room_twin(name=deep))
    with pytest.raises(ValueError, match=limit):
        graph.update_digital_twin("room-1", [{"op": "add", "path": "/name", "value": {"a": deep}}])
    looped = []
    looped.append(looped)
    with pytest.raises(ValueError, match=limit):
        graph.upsert_digital_twin("room-1", room_twin(name=looped))
    assert graph.get_digital_twin("room-1")["temperature"] == 21.5


def test_numpy_values_are_accepted(graph):
    graph.update_digital_twin(
        "room-2",
        [
            {"op": "add", "path": "/temperature", "value": np.float64(18.5)},
            {"op": "add", "path": "/capacity", "value": np.int64(3)},
            {"op": "add", "path": "/occupied", "value": np.bool_(False)},
        ],
    )
    twin = graph.get_digital_twin("room-2")
    assert (twin["temperature"], twin["capacity"], twin["occupied"]) == (18.5, 3, False)
    assert type(twin["capacity"]) is int and type(twin["occupied"]) is bool


def test_components(graph):
    graph.update_component("room-1", "thermostat", [{"op": "add", "path": "/setpoint", "value": 21.0}])
    component = graph.get_component("room-1", "thermostat")
    assert component["setpoint"] == 21.0
    assert graph.get_digital_twin("room-1")["thermostat"]["setpoint"] == 21.0
    graph.update_digital_twin("room-1", [{"op": "replace", "path": "/thermostat/setpoint", "value": 20.5}])
    assert graph.snapshot().get_component("room-1", "thermostat")["setpoint"] == 20.5
    with pytest.raises(twinsim.NotFoundError) as caught:
        graph.get_component("room-1", "temperature")
    assert caught.value.code == "ComponentNotFound"


# --- relationships ---------------------------------------------------------------------------


def test_relationships(graph):
    stored = graph.upsert_relationship(
        "floor-1", "c1", {"$targetId": "room-1", "$relationshipName": "contains", "since": "2020-01-01"}
    )
    assert stored["$relationshipId"] == "c1" and stored["$sourceId"] == "floor-1"
    assert stored["since"] == "2020-01-01" and "$etag" in stored
    assert graph.get_relationship("floor-1", "c1") == stored

    graph.update_relationship("floor-1", "c1", [{"op": "replace", "path": "/since", "value": "2021-06-01"}])
    assert graph.get_relationship("floor-1", "c1")["since"] == "2021-06-01"
    with pytest.raises(twinsim.ConflictError):
        graph.update_relationship(
            "floor-1", "c1", [{"op": "remove", "path": "/since"}], etag=stored["$etag"]
        )

    # The SDK's second argument is called relationship_id but filters by relationship NAME.
    contains = graph.list_relationships("floor-1", "contains")
    assert sorted(r["$relationshipId"] for r in contains) == ["c1", "c2", "c3"]
    assert graph.list_relationships("floor-1", relationship_id="above") == []
    assert [r["$targetId"] for r in graph.list_relationships("floor-2")] == ["floor-1"]

    incoming = graph.list_incoming_relationships("floor-1")
    assert len(incoming) == 1
    (up,) = incoming
    assert (up.relationship_id, up.source_id, up.relationship_name) == ("up", "floor-2", "above")
    assert up["$sourceId"] == "floor-2" and up.relationship_link

    graph.delete_relationship("floor-1", "c2")
    with pytest.raises(twinsim.NotFoundError) as caught:
        graph.get_relationship("floor-1", "c2")
    assert caught.value.code == "RelationshipNotFound"
    assert graph.relationship_count == 3


def test_relationship_errors(graph):
    with pytest.raises(twinsim.ValidationError):  # self-relationship
        graph.upsert_relationship("floor-1", "self", {"$targetId": "floor-1", "$relationshipName": "above"})
    with pytest.raises(twinsim.ValidationError):  # a Room is not a Floor
        graph.upsert_relationship("floor-1", "bad", {"$targetId": "room-1", "$relationshipName": "above"})
    with pytest.raises(twinsim.TwinsimError) as missing:
        graph.upsert_relationship("floor-1", "ghost", {"$targetId": "nobody", "$relationshipName": "contains"})
    assert missing.value.code == "TargetTwinNotFound"
    with pytest.raises(twinsim.ConflictError) as exists:
        graph.upsert_relationship(
            "floor-1", "c1", {"$targetId": "room-1", "$relationshipName": "contains"}, match_condition=MatchConditions.IfMissing
        )
    assert exists.value.code == "RelationshipAlreadyExists"
    with pytest.raises(twinsim.ValidationError):
        graph.upsert_relationship("floor-1", "empty")  # relationship=None: no target, no name


def test_delete_twin_refused_then_cascade(graph):
    with pytest.raises(twinsim.ConflictError) as caught:
        graph.delete_digital_twin("room-1")
    assert caught.value.code == "RelationshipsNotDeleted"
    assert "room-1" in graph

    graph.delete_digital_twin("room-1", cascade=True)
    assert "room-1" not in graph
    assert sorted(r["$relationshipId"] for r in graph.list_relationships("floor-1")) == ["c2", "c3"]
    try:
        graph.get_digital_twin("room-1")
    except LookupError as error:  # the Pythonic base
        assert error.code == "DigitalTwinNotFound"
        assert "room-1" in str(error)
    else:
        pytest.fail("get_digital_twin of a deleted twin must raise")

    etag = graph.get_digital_twin("room-2")["$etag"]
    graph.delete_relationship("floor-1", "c2")
    with pytest.raises(twinsim.ConflictError):
        graph.delete_digital_twin("room-2", etag="W/\"not-it\"")
    graph.delete_digital_twin("room-2", etag=etag)
    assert "room-2" not in graph


# --- snapshots and columns ----------------------------------------------------------------------


def test_snapshot_isolation(graph):
    snapshot = graph.snapshot()
    assert isinstance(snapshot, twinsim.Snapshot)
    graph.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": 40.0}])
    graph.upsert_digital_twin("room-7", room_twin(temperature=1.0))
    graph.delete_relationship("floor-1", "c1")

    assert snapshot.get_digital_twin("room-1")["temperature"] == 21.5
    assert graph.get_digital_twin("room-1")["temperature"] == 40.0
    assert "room-7" not in snapshot and "room-7" in graph
    assert len(snapshot) == 5 and len(graph) == 6
    assert sorted(snapshot) == ["floor-1", "floor-2", "meet-1", "room-1", "room-2"]
    assert snapshot.get_relationship("floor-1", "c1")["$targetId"] == "room-1"
    assert len(snapshot.list_relationships("floor-1")) == 3
    assert [r.source_id for r in snapshot.list_incoming_relationships("room-1")] == ["floor-1"]
    assert snapshot.relationship_count == 4
    assert [m.id for m in snapshot.list_models()] == [m.id for m in graph.list_models()]
    assert snapshot.get_model(ROOM).id == ROOM
    assert ROOM in snapshot.models and snapshot.models.is_a(MEETING_ROOM, ROOM)
    assert copy.copy(snapshot) is not None and len(copy.deepcopy(snapshot)) == 5
    assert "5 twins" in repr(snapshot)
    assert 42 not in snapshot


def test_column_values_ids_and_read_only(graph):
    ids, values = graph.column(ROOM, "temperature")
    assert isinstance(values, np.ndarray) and values.dtype == np.float64
    assert dict(zip(ids, values.tolist())) == {"room-1": 21.5, "room-2": 19.0, "meet-1": 23.0}
    assert not values.flags.writeable
    with pytest.raises(ValueError):
        values[0] = 1.0
    with pytest.raises(ValueError):
        values.setflags(write=True)  # no way back to writing (it is not the graph's memory anyway)

    column = graph.snapshot().column(ROOM, "temperature")
    assert column.unit == "degreeCelsius"
    assert column.ids == ids

    exact_ids, _ = graph.column(ROOM, "temperature", include_derived=False)
    assert sorted(exact_ids) == ["room-1", "room-2"]

    # Unset values are left out; integers and booleans come back as float64.
    ids, capacity = graph.column(ROOM, "capacity")
    assert dict(zip(ids, capacity.tolist())) == {"room-1": 4.0, "meet-1": 12.0}
    ids, occupied = graph.column(model_id=ROOM, property="occupied")
    assert ids == ["room-1"] and occupied.tolist() == [1.0]
    ids, seats = graph.column(MEETING_ROOM, "seats")
    assert ids == ["meet-1"] and seats.tolist() == [10.0]


def test_a_write_after_a_snapshot_copies_little(graph):
    for i in range(2000):
        graph.upsert_digital_twin(f"bulk-{i}", room_twin(temperature=float(i)))
    snapshot = graph.snapshot()
    before = graph.stats()
    graph.update_digital_twin("bulk-7", [{"op": "replace", "path": "/temperature", "value": -1.0}])
    after = graph.stats()
    assert after["twins"] == len(graph) == 2005 and after["events_emitted"] >= 0
    copied = after["bytes_copied"] - before["bytes_copied"]
    assert 0 < copied < 2000 * 8  # a few chunks, not the whole column
    assert snapshot.get_digital_twin("bulk-7")["temperature"] == 7.0


def test_column_errors_and_isolation(graph):
    with pytest.raises(twinsim.NotFoundError):
        graph.column("dtmi:test:Nothing;1", "temperature")
    with pytest.raises(twinsim.ValidationError):
        graph.column(SPACE, "name")  # a string property has no numeric column
    with pytest.raises(twinsim.ValidationError):
        graph.column(ROOM, "nothing")

    snapshot = graph.snapshot()
    graph.update_digital_twin("room-2", [{"op": "replace", "path": "/temperature", "value": 5.0}])
    before = dict(zip(*snapshot.column(ROOM, "temperature")))
    after = dict(zip(*graph.column(ROOM, "temperature")))
    assert before["room-2"] == 19.0 and after["room-2"] == 5.0


# --- batched writes (twinsim extensions beyond the ADT SDK) -------------------------------------


def test_update_digital_twins_applies_every_patch_in_order(graph):
    etag = graph.get_digital_twin("room-2")["$etag"]
    graph.update_digital_twins(
        [
            ("room-1", [{"op": "replace", "path": "/temperature", "value": 18.0}]),
            ("room-2", [{"op": "replace", "path": "/temperature", "value": 17.0}], etag),
            {"digital_twin_id": "meet-1", "json_patch": [{"op": "replace", "path": "/seats", "value": 8}]},
            ["room-1", [{"op": "replace", "path": "/temperature", "value": 18.5}]],  # sees the first patch
        ]
    )
    assert graph.get_digital_twin("room-1")["temperature"] == 18.5
    assert graph.get_digital_twin("room-2")["$etag"] != etag
    assert graph.get_digital_twin("meet-1")["seats"] == 8
    assert dict(zip(*graph.column(ROOM, "temperature"))) == {"room-1": 18.5, "room-2": 17.0, "meet-1": 23.0}
    graph.update_digital_twins([])


def test_update_digital_twins_is_atomic(graph):
    before = {twin_id: graph.get_digital_twin(twin_id) for twin_id in graph}
    events = []
    graph.subscribe(events.append)
    good = ("room-1", [{"op": "replace", "path": "/temperature", "value": 30.0}])
    with pytest.raises(twinsim.ValidationError) as info:
        graph.update_digital_twins([good, ("room-2", [{"op": "replace", "path": "/temperature", "value": "warm"}])])
    assert "room-2" in str(info.value) and isinstance(info.value, ValueError)
    with pytest.raises(twinsim.ConflictError):
        graph.update_digital_twins([good, {"digital_twin_id": "room-2", "json_patch": [], "etag": 'W/"0000000000000000"'}])
    with pytest.raises(twinsim.NotFoundError):
        graph.update_digital_twins([good, ("nobody", [])])
    assert {twin_id: graph.get_digital_twin(twin_id) for twin_id in graph} == before
    assert events == []

    for bad in ["room-1", [("room-1",)], [("room-1", [], None, 4)], [{"digital_twin_id": "room-1"}],
                [{"digital_twin_id": "room-1", "json_patch": [], "if_match": "*"}], [42], [(7, [])]]:
        with pytest.raises(TypeError):
            graph.update_digital_twins(bad)


def test_write_properties_sets_values_visible_in_column(graph):
    events = []
    graph.subscribe(events.append)
    etag = graph.get_digital_twin("meet-1")["$etag"]
    graph.write_properties(ROOM, "temperature", ["room-1", "meet-1"], np.array([25.0, 26.5]))
    assert dict(zip(*graph.column(ROOM, "temperature"))) == {"room-1": 25.0, "room-2": 19.0, "meet-1": 26.5}
    assert graph.get_digital_twin("meet-1")["$etag"] != etag
    assert [(e["type"], e["twin_id"]) for e in events] == [
        ("Microsoft.DigitalTwins.Twin.Update", "room-1"),
        ("Microsoft.DigitalTwins.Twin.Update", "meet-1"),
    ]
    # Integers from a list, numpy str ids; an integer array for a derived model's own property.
    graph.write_properties(ROOM, "capacity", np.array(["room-2"]), [7])
    assert graph.get_digital_twin("room-2")["capacity"] == 7
    graph.write_properties(model_id=MEETING_ROOM, property="seats", twin_ids=("meet-1",), values=np.array([9], dtype=np.int32))
    assert graph.column(MEETING_ROOM, "seats").values.tolist() == [9.0]
    graph.write_properties(ROOM, "occupied", ["room-2"], [True])
    assert graph.get_digital_twin("room-2")["occupied"] is True
    graph.write_properties(ROOM, "temperature", [], [])


def test_write_properties_is_atomic_and_checked(graph):
    before = {twin_id: graph.get_digital_twin(twin_id) for twin_id in graph}
    with pytest.raises(twinsim.ValidationError, match="write 1"):
        graph.write_properties(ROOM, "capacity", ["room-1", "room-2"], [5, 2.5])  # not integral
    with pytest.raises(twinsim.ValidationError):
        graph.write_properties(ROOM, "temperature", ["room-1", "room-2"], [1.0, float("nan")])
    with pytest.raises(twinsim.NotFoundError):
        graph.write_properties(ROOM, "temperature", ["room-1", "nobody"], [1.0, 2.0])
    with pytest.raises(twinsim.NotFoundError):
        graph.write_properties("dtmi:test:Nothing;1", "temperature", ["room-1"], [1.0])
    with pytest.raises(twinsim.ValidationError):
        graph.write_properties(ROOM, "nothing", ["room-1"], [1.0])
    with pytest.raises(twinsim.ValidationError):
        graph.write_properties(SPACE, "name", ["floor-1"], [1.0])  # not numeric
    with pytest.raises(twinsim.ValidationError, match="neither"):
        graph.write_properties(MEETING_ROOM, "temperature", ["meet-1", "room-1"], [1.0, 2.0])  # room-1 is a Room
    with pytest.raises(ValueError, match="length"):
        graph.write_properties(ROOM, "temperature", ["room-1", "room-2"], [1.0])
    for ids, values in [("room-1", [1.0]), ([1], [1.0]), (["room-1"], [[1.0]]), (["room-1"], ["warm"])]:
        with pytest.raises(TypeError):
            graph.write_properties(ROOM, "temperature", ids, values)
    assert {twin_id: graph.get_digital_twin(twin_id) for twin_id in graph} == before


def test_write_properties_in_bulk(graph, tmp_path):
    # Speed sanity, not timed: 20,000 twins loaded from a file and written in one call.
    n = 20000
    ids = [f"bulk-{i}" for i in range(n)]
    path = tmp_path / "bulk.ndjson"
    with path.open("w", encoding="utf-8") as out:
        out.write('{"Section": "Header"}\n{"fileVersion": "1.0.0"}\n{"Section": "Twins"}\n')
        for twin_id in ids:
            out.write(json.dumps(room_twin(**{"$dtId": twin_id})) + "\n")
    graph.import_ndjson(path)
    values = np.arange(n, dtype=np.float64) / 4
    graph.write_properties(ROOM, "temperature", np.array(ids), values)
    column = dict(zip(*graph.column(ROOM, "temperature", include_derived=False)))
    assert [column[twin_id] for twin_id in ids] == values.tolist()


# --- change callbacks -------------------------------------------------------------------------


def test_subscribe_receives_adt_shaped_events(graph):
    events = []
    listener = graph.subscribe(events.append)
    graph.upsert_digital_twin("room-5", room_twin(temperature=20.0))
    graph.update_digital_twin("room-5", [{"op": "replace", "path": "/temperature", "value": 21.0}])
    graph.upsert_relationship("floor-1", "c5", {"$targetId": "room-5", "$relationshipName": "contains"})
    graph.delete_digital_twin("room-5", cascade=True)
    graph.unsubscribe(listener)
    graph.upsert_digital_twin("room-6", room_twin())

    types = [e["type"] for e in events]
    assert types[:3] == [
        "Microsoft.DigitalTwins.Twin.Create",
        "Microsoft.DigitalTwins.Twin.Update",
        "Microsoft.DigitalTwins.Relationship.Create",
    ]
    assert set(types[3:]) == {"Microsoft.DigitalTwins.Relationship.Delete", "Microsoft.DigitalTwins.Twin.Delete"}
    for event in events:
        assert set(event) == {"type", "subject", "twin_id", "relationship_id", "time", "sequence", "data"}
    sequences = [e["sequence"] for e in events]
    assert sequences == list(range(sequences[0], sequences[0] + len(events)))
    create, update, relationship = events[:3]
    assert create["subject"] == "room-5" and create["relationship_id"] is None
    assert create["data"]["$dtId"] == "room-5"
    assert update["data"]["modelId"] == ROOM
    assert update["data"]["patch"] == [{"op": "replace", "path": "/temperature", "value": 21.0}]
    assert relationship["subject"] == "floor-1/relationships/c5"
    assert (relationship["twin_id"], relationship["relationship_id"]) == ("floor-1", "c5")
    assert relationship["time"].endswith("Z")


def test_callbacks_may_read_but_not_write_and_their_errors_do_not_undo(graph, monkeypatch):
    seen, refused, unraisable = [], [], []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def reader(event):
        seen.append(graph.get_digital_twin(event["twin_id"])["temperature"])
        try:
            graph.update_digital_twin(event["twin_id"], [{"op": "remove", "path": "/temperature"}])
        except RuntimeError as error:
            refused.append(str(error))

    def failing(event):
        raise KeyError("listener bug")

    graph.subscribe(reader)
    graph.subscribe(failing)
    graph.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": 24.0}])
    assert seen == [24.0]
    assert refused and "listener" in refused[0]
    assert len(unraisable) == 1 and isinstance(unraisable[0].exc_value, KeyError)
    assert graph.get_digital_twin("room-1")["temperature"] == 24.0  # committed despite the failure
    with pytest.raises(TypeError):
        graph.subscribe(42)


def test_writers_and_readers_on_threads_with_a_callback(graph):
    """Writes release the GIL and callbacks take it back: no deadlock between a
    writing thread (holding the graph, wanting the GIL for its callback) and a
    reading thread (holding the GIL, wanting the graph)."""
    events = []
    graph.subscribe(lambda event: events.append(event["sequence"]))
    errors = []

    def writer():
        try:
            for i in range(200):
                graph.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": float(i)}])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while thread.is_alive() and reads < 100000:
        graph.get_digital_twin("room-1")
        graph.column(ROOM, "temperature")
        reads += 1
    thread.join(timeout=60)
    assert not thread.is_alive() and not errors
    assert len(events) == 200
    assert graph.get_digital_twin("room-1")["temperature"] == 199.0


# --- NDJSON files ---------------------------------------------------------------------------------


def test_ndjson_round_trip(graph, tmp_path):
    graph.update_component("room-1", "thermostat", [{"op": "add", "path": "/setpoint", "value": 21.0}])
    graph.update_relationship("floor-1", "c1", [{"op": "add", "path": "/since", "value": "2020-01-01"}])
    path = tmp_path / "building.ndjson"
    graph.to_ndjson(path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert {"Section": "Header"} in lines and {"Section": "Twins"} in lines

    loaded = twinsim.TwinGraph.from_ndjson(str(path))
    assert sorted(loaded) == sorted(graph)
    for twin_id in graph:
        assert without_etag(loaded.get_digital_twin(twin_id)) == without_etag(graph.get_digital_twin(twin_id))
        original = {r["$relationshipId"]: without_etag(r) for r in graph.list_relationships(twin_id)}
        copied = {r["$relationshipId"]: without_etag(r) for r in loaded.list_relationships(twin_id)}
        assert copied == original
    assert sorted(m.id for m in loaded.list_models()) == sorted(m.id for m in graph.list_models())

    snapshot_path = tmp_path / "snapshot.ndjson"
    graph.snapshot().to_ndjson(snapshot_path)
    assert len(twinsim.TwinGraph.from_ndjson(snapshot_path)) == len(graph)


def test_from_ndjson_with_separate_models(tmp_path):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for document in MODELS:
        name = document["@id"].split(":")[-1].replace(";", "_") + ".json"
        (model_dir / name).write_text(json.dumps(document), encoding="utf-8")
    lines = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0", "author": "tests", "organization": "twinsim"},
        {"Section": "Twins"},
        {"$dtId": "f", "$metadata": {"$model": FLOOR}},
        {"$dtId": "r", "$metadata": {"$model": ROOM}, "temperature": 20.5, "thermostat": {"$metadata": {}}},
        {"Section": "Relationships"},
        {"$dtId": "f", "$relationshipId": "f-r", "$targetId": "r", "$relationshipName": "contains"},
    ]
    path = tmp_path / "twins.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    graph = twinsim.TwinGraph.from_ndjson(path, models=model_dir)
    assert sorted(graph) == ["f", "r"]
    assert graph.get_relationship("f", "f-r")["$targetId"] == "r"
    assert graph.column(ROOM, "temperature").values.tolist() == [20.5]

    stats = twinsim.TwinGraph()
    stats.create_models(copy.deepcopy(MODELS))
    counts = stats.import_ndjson(path)
    assert (counts["twins"], counts["relationships"]) == (2, 1)


def test_the_bundled_building_sample(source_dir):
    """The package docstring's first use: the sample with its models, a write, a column."""
    graph = twinsim.TwinGraph.from_ndjson(
        source_dir / "scenarios" / "building" / "building.ndjson", models=source_dir / "models" / "building"
    )
    room_model = "dtmi:twinsim:building:Room;1"
    assert len(graph) > 0 and graph.relationship_count > 0
    ids, temperatures = graph.snapshot().column(room_model, "temperature")
    assert len(ids) == len(temperatures) > 0 and np.isfinite(temperatures).all()
    graph.update_digital_twin(ids[0], [{"op": "replace", "path": "/temperature", "value": 23.5}])
    assert graph.column(room_model, "temperature").values[0] == 23.5
    assert all(graph.models.is_a(graph.get_digital_twin(i)["$metadata"]["$model"], room_model) for i in ids[:5])


def test_import_problems_are_all_reported_and_nothing_is_loaded(graph, tmp_path):
    lines = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0", "author": "tests", "organization": "twinsim"},
        {"Section": "Twins"},
        {"$dtId": "ok", "$metadata": {"$model": FLOOR}},
        {"$dtId": "bad-1", "$metadata": {"$model": ROOM}, "temperature": "hot", "thermostat": {"$metadata": {}}},
        {"$dtId": "bad-2", "$metadata": {"$model": "dtmi:test:Nothing;1"}},
    ]
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    before = sorted(graph)
    with pytest.raises(twinsim.GraphImportError) as caught:
        graph.import_ndjson(path)
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, twinsim.TwinsimError)
    assert error.code == "ImportFailed"
    assert [(line, section) for line, section, _ in error.problems] == [(5, "Twins"), (6, "Twins")]
    assert all(message for _, _, message in error.problems)
    assert sorted(graph) == before and "ok" not in graph

    with pytest.raises(twinsim.GraphImportError):
        twinsim.TwinGraph.from_ndjson(path, models=[])
    with pytest.raises(twinsim.TwinsimIoError):
        twinsim.TwinGraph.from_ndjson(tmp_path / "missing.ndjson")


# --- the exception family -------------------------------------------------------------------------


def test_exception_classes():
    assert issubclass(twinsim.NotFoundError, twinsim.TwinsimError)
    assert issubclass(twinsim.NotFoundError, LookupError)
    assert issubclass(twinsim.ConflictError, twinsim.TwinsimError)
    assert issubclass(twinsim.ValidationError, twinsim.TwinsimError)
    assert issubclass(twinsim.ValidationError, ValueError)
    assert issubclass(twinsim.GraphImportError, twinsim.TwinsimError)
    assert issubclass(twinsim.GraphImportError, ValueError)
    # Every class has a .code, also when raised from Python.
    assert twinsim.NotFoundError("x").code == "NotFound"
    assert twinsim.ConflictError("x").code == "Conflict"
    assert twinsim.GraphImportError("x").problems == ()
    assert twinsim.TwinsimError("x").code is None
    assert twinsim.ModelError.code == "DTDLParserError"


def test_repr_and_empty_graph():
    g = twinsim.TwinGraph()
    assert len(g) == 0 and list(g) == [] and g.list_models() == []
    assert "0 twins" in repr(g)
    with pytest.raises(twinsim.NotFoundError):
        g.get_digital_twin("anything")
    with pytest.raises(twinsim.NotFoundError):
        g.list_relationships("anything")


def test_lone_surrogates_in_ids_names_and_values_raise_validation_error(graph):
    graph.upsert_digital_twin("room-ok", room_twin())
    bad = "room-\ud800"
    calls = [
        lambda: graph.upsert_digital_twin(bad, room_twin()),
        lambda: graph.get_digital_twin(bad),
        lambda: graph.update_digital_twin(bad, []),
        lambda: graph.delete_digital_twin(bad),
        lambda: graph.list_relationships(bad),
        lambda: graph.query_twins(f"SELECT * FROM DIGITALTWINS T WHERE T.$dtId = '{bad}'"),
        lambda: graph.upsert_digital_twin("room-2", room_twin(name="caf\udce9")),
    ]
    for call in calls:
        with pytest.raises(twinsim.ValidationError, match=r"lone surrogate U\+D[8C]..? at position \d+"):
            call()
    # A NUL is valid text: it reaches the graph like any other character.
    with pytest.raises(twinsim.NotFoundError):
        graph.get_digital_twin("room\x00ok")
