"""Event routes, endpoints and telemetry on twinsim.TwinGraph (sim/live/routes.hpp)."""

import datetime
import json
import threading
import time

import pytest

import twinsim

THERMOSTAT = {
    "@context": "dtmi:dtdl:context;2", "@id": "dtmi:live:Thermostat;1", "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "setpoint", "schema": "double", "writable": True},
        {"@type": ["Telemetry", "Temperature"], "name": "supply", "schema": "double", "unit": "degreeCelsius"},
    ],
}
ROOM = {
    "@context": "dtmi:dtdl:context;2", "@id": "dtmi:live:Room;1", "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "temperature", "schema": "double", "writable": True},
        {"@type": ["Telemetry", "Temperature"], "name": "airTemperature", "schema": "double",
         "unit": "degreeCelsius"},
        {"@type": "Telemetry", "name": "occupancy", "schema": "integer"},
        {"@type": "Relationship", "name": "next"},
        {"@type": "Component", "name": "thermostat", "schema": "dtmi:live:Thermostat;1"},
    ],
}


def room(temperature):
    return {"$metadata": {"$model": "dtmi:live:Room;1"}, "temperature": temperature,
            "thermostat": {"$metadata": {}, "setpoint": 21.0}}


@pytest.fixture
def graph():
    g = twinsim.TwinGraph()
    g.configure_events(source="plant.example", initial_backoff=0.001, max_backoff=0.004)
    g.create_models([THERMOSTAT, ROOM])
    g.upsert_digital_twin("room1", room(20.0))
    yield g
    g.close_events()


def test_a_python_callback_receives_routed_cloud_events_off_the_writer_thread(graph):
    got, threads = [], []

    def endpoint(event):
        got.append(event)
        threads.append(threading.get_ident())

    graph.add_endpoint("py", endpoint)
    graph.upsert_event_route("updates", {"endpointName": "py",
                                         "filter": "type = 'Microsoft.DigitalTwins.Twin.Update'"})
    graph.update_digital_twin("room1", [{"op": "replace", "path": "/temperature", "value": 23.5}])
    graph.upsert_digital_twin("room2", room(1.0))  # a create: not routed
    assert graph.flush_events(5.0)
    assert len(got) == 1
    event = got[0]
    assert event["type"] == "Microsoft.DigitalTwins.Twin.Update"
    assert event["specversion"] == "1.0"
    assert event["source"] == "plant.example"
    assert event["subject"] == "room1"
    assert event["data"] == {"modelId": "dtmi:live:Room;1",
                             "patch": [{"op": "replace", "path": "/temperature", "value": 23.5}]}
    assert len(event["sequence"]) == 20 and int(event["sequence"]) >= 1
    assert threads[0] != threading.get_ident()
    assert graph.get_event_route("updates") == {
        "id": "updates", "endpointName": "py", "filter": "type = 'Microsoft.DigitalTwins.Twin.Update'"}
    assert [r["id"] for r in graph.list_event_routes()] == ["updates"]
    graph.delete_event_route("updates")
    with pytest.raises(twinsim.NotFoundError):
        graph.get_event_route("updates")


def test_telemetry_is_checked_routed_and_changes_nothing(graph, tmp_path):
    path = tmp_path / "events.ndjson"
    graph.add_endpoint("file", path)
    graph.add_event_route("tele", "file", "type = 'microsoft.iot.telemetry'")
    before = graph.get_digital_twin("room1")
    when = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.timezone.utc)
    graph.publish_telemetry("room1", {"airTemperature": 68.0, "occupancy": 2}, "msg-1", source_time=when,
                            units={"airTemperature": "degreeFahrenheit"})
    graph.publish_component_telemetry("room1", "thermostat", '{"supply": 14.5}')
    assert graph.flush_events(5.0)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    assert lines[0]["id"] == "msg-1"
    assert lines[0]["source"] == "plant.example/digitaltwins/room1"
    assert lines[0]["dataschema"] == "dtmi:live:Room;1"
    assert lines[0]["telemetrysourcetime"] == "2026-07-01T12:00:00.0000000Z"
    assert lines[0]["data"]["airTemperature"] == pytest.approx(20.0)
    assert lines[1]["subject"] == "thermostat"
    assert lines[1]["dataschema"] == "dtmi:live:Thermostat;1"
    assert graph.get_digital_twin("room1") == before

    with pytest.raises(twinsim.TelemetryError, match="telemetry 'humidity': the model declares no such telemetry"):
        graph.publish_telemetry("room1", {"humidity": 3})
    with pytest.raises(ValueError, match="'temperature' is a Property of the model, not a Telemetry"):
        graph.publish_telemetry("room1", {"temperature": 3})
    with pytest.raises(twinsim.NotFoundError):
        graph.publish_telemetry("ghost", {"occupancy": 3})
    with pytest.raises(twinsim.NotFoundError):
        graph.publish_component_telemetry("room1", "boiler", {"supply": 3})


def test_bad_filters_raise_route_filter_error_with_position(graph):
    graph.add_endpoint("sink", lambda event: None)
    with pytest.raises(twinsim.RouteFilterError) as caught:
        graph.add_event_route("r", "sink", "type = 'a' OR typ = 'b'")
    assert caught.value.line == 1 and caught.value.column == 15
    assert "unknown event attribute 'typ'" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(twinsim.RouteFilterError, match="write STARTS_WITH"):
        graph.add_event_route("r", "sink", "STARTSWITH(subject, 'x')")
    with pytest.raises(twinsim.ValidationError):
        graph.add_event_route("r", "nowhere", "true")


def test_a_raising_callback_is_retried_then_dead_lettered(tmp_path):
    g = twinsim.TwinGraph()
    dead = tmp_path / "dead.ndjson"
    g.configure_events(max_attempts=3, initial_backoff=0.001, max_backoff=0.002, dead_letter=dead)
    g.create_models([THERMOSTAT, ROOM])
    calls = []

    def refuse(event):
        calls.append(event["subject"])
        raise RuntimeError("no room at the inn")

    g.add_endpoint("refuse", refuse)
    g.add_event_route("all", "refuse", "STARTS_WITH(subject, 'room')")
    g.upsert_digital_twin("room1", room(20.0))
    assert g.flush_events(5.0)
    assert calls == ["room1"] * 3
    [record] = [json.loads(line) for line in dead.read_text(encoding="utf-8").splitlines()]
    assert record["endpoint"] == "refuse"
    assert record["attempts"] == 3
    assert "no room at the inn" in record["reason"]
    assert record["event"]["subject"] == "room1"
    stats = g.event_stats()
    assert stats["dead_lettered"] == 1 and stats["retries"] == 2
    g.close_events()


def test_close_events_flushes_and_a_dropped_graph_closes_its_router(tmp_path):
    g = twinsim.TwinGraph()
    g.create_models([THERMOSTAT, ROOM])
    g.upsert_digital_twin("room1", room(20.0))
    got = []

    def slow(event):
        time.sleep(0.002)
        got.append(event["data"]["patch"][0]["value"])

    g.add_endpoint("slow", slow)
    g.add_event_route("all", "slow", "true")
    for i in range(50):
        g.update_digital_twin("room1", [{"op": "replace", "path": "/temperature", "value": i}])
    g.close_events()
    assert got == list(range(50))

    path = tmp_path / "gone.ndjson"
    g2 = twinsim.TwinGraph()
    g2.add_endpoint("file", path)
    g2.add_event_route("all", "file", "true")
    g2.create_models([THERMOSTAT, ROOM])
    del g2  # the router is closed with the graph: its events are in the file
    assert [json.loads(line)["type"] for line in path.read_text(encoding="utf-8").splitlines()] == [
        "twinsim.model.create", "twinsim.model.create"]
