"""Routes a durable store keeps (docs/events.md, "Saved routes"): from Python
(open_store) and from the command line (`twinsim routes`, `twinsim ingest --store`)."""

import json
import os
import pathlib
import subprocess

import pytest

import twinsim

SOURCE = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SAMPLE = SOURCE / "scenarios" / "ingest"
CLI = os.environ.get("TWINSIM_CLI")

UPDATES = "type = 'Microsoft.DigitalTwins.Twin.Update'"


def lines(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines() if line]


def test_a_file_endpoint_and_its_route_outlive_the_store_object(tmp_path):
    log = tmp_path / "events.ndjson"
    with twinsim.open_store(tmp_path / "s") as store:
        store.create_models(json.loads((SAMPLE / "models.json").read_text()))
        store.upsert_digital_twin("room-1", {"$metadata": {"$model": "dtmi:example:ingest:Room;1"}, "temperature": 20.0})
        store.add_endpoint("log", log)
        store.add_event_route("updates", "log", UPDATES)
        store.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": 21.0}])
    with twinsim.open_store(tmp_path / "s") as store:
        assert store.list_event_routes() == [{"id": "updates", "endpointName": "log", "filter": UPDATES}]
        store.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": 22.0}])
    events = lines(log)
    assert [e["data"]["patch"][0]["value"] for e in events] == [21.0, 22.0]
    first, second = (int(e["sequence"]) for e in events)
    assert second > first  # numbered on across sessions
    saved = json.loads((tmp_path / "s" / "routes.json").read_text())
    assert saved["routes"] == [{"id": "updates", "endpointName": "log", "filter": UPDATES}]
    assert saved["endpoints"][0]["path"] == str(log)


def test_routes_to_a_callback_belong_to_the_process(tmp_path):
    seen = []
    with twinsim.open_store(tmp_path / "s") as store:
        store.add_endpoint("mine", seen.append)
        store.add_event_route("all", "mine")
        store.create_models(json.loads((SAMPLE / "models.json").read_text()))
        store.flush_events()
    assert seen and seen[0]["type"].startswith("twinsim.model.")
    with twinsim.open_store(tmp_path / "s") as store:
        assert store.list_event_routes() == []
        assert store.list_endpoints() == []


def test_a_bad_filter_changes_nothing(tmp_path):
    with twinsim.open_store(tmp_path / "s") as store:
        store.add_endpoint("log", tmp_path / "e.ndjson")
        with pytest.raises(twinsim.RouteFilterError):
            store.add_event_route("bad", "log", "type = ")
    saved = json.loads((tmp_path / "s" / "routes.json").read_text())
    assert saved["routes"] == [] and [e["name"] for e in saved["endpoints"]] == ["log"]


def run(*args, cwd=None):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.mark.skipif(not CLI, reason="needs TWINSIM_CLI (set by CTest)")
def test_cli_routes_deliver_what_ingest_changes(tmp_path):
    store = tmp_path / "site.store"
    assert run("import", "--store", store, "--models", SAMPLE / "models.json", SAMPLE / "graph.ndjson").returncode == 0
    added = run("routes", "add-endpoint", "--store", store, "log", "events.ndjson", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    route = run("routes", "add", "--store", store, "updates", "--endpoint", "log", "--filter", UPDATES)
    assert route.returncode == 0, route.stderr
    listed = run("routes", "list", "--store", store, "--json")
    assert json.loads(listed.stdout)["routes"][0]["id"] == "updates"
    assert str(tmp_path / "events.ndjson") in run("routes", "list", "--store", store).stdout

    ingest = run("ingest", "--store", store, "--mapping", SAMPLE / "mapping.yaml", SAMPLE / "messages.ndjson")
    assert ingest.returncode == 0, ingest.stderr
    assert "routed 3 events: 3 deliveries, 0 dead-lettered" in ingest.stdout
    events = lines(tmp_path / "events.ndjson")
    assert len(events) == 3 and {e["type"] for e in events} == {"Microsoft.DigitalTwins.Twin.Update"}
    assert sorted(e["subject"] for e in events) == ["ahu-3", "meter-a", "room-1"]


@pytest.mark.skipif(not CLI, reason="needs TWINSIM_CLI (set by CTest)")
def test_cli_routes_errors(tmp_path):
    store = tmp_path / "s"
    assert run("import", "--store", store, "--models", SAMPLE / "models.json", SAMPLE / "graph.ndjson").returncode == 0
    assert run("routes", "add-endpoint", "--store", store, "log", tmp_path / "e.ndjson").returncode == 0
    bad = run("routes", "add", "--store", store, "r", "--endpoint", "log", "--filter", "type = STARTSWITH(type, 'x')")
    assert bad.returncode == 1 and "route filter" in bad.stderr
    unknown = run("routes", "add", "--store", store, "r", "--endpoint", "nowhere")
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr
    missing = run("routes", "delete", "--store", store, "r")
    assert missing.returncode == 1 and "r" in missing.stderr, missing.stderr
    assert run("routes", "list", "--store", tmp_path / "absent").returncode == 2
    (store / "routes.json").write_text('{"routes": 7}')
    damaged = run("ingest", "--store", store, "--mapping", SAMPLE / "mapping.yaml", SAMPLE / "messages.ndjson")
    assert damaged.returncode == 1 and "routes.json" in damaged.stderr and "/routes" in damaged.stderr
