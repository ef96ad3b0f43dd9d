"""`twinsim serve` driven by the real Azure SDK (azure-digitaltwins-core) over
TLS with a test CA: every public method of DigitalTwinsClient, paging,
conditional requests and the SDK's error mapping (docs/service.md)."""

import json
import subprocess
import time
import uuid

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.digitaltwins.core import DigitalTwinsClient, DigitalTwinsEventRoute
# The SDK's results_per_page keyword is broken in 1.3.0 (it passes max_item_count,
# which the transport refuses); the generated option objects set the
# max-items-per-page header as the REST API defines it.
from azure.digitaltwins.core._generated.models import (
    DigitalTwinModelsListOptions,
    DigitalTwinsListRelationshipsOptions,
    QueryTwinsOptions,
)

from service_fixtures import CLI, Server, StaticToken, make_test_ca

pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

CONTEXT = "dtmi:dtdl:context;3"
SENSOR = {
    "@context": CONTEXT, "@id": "dtmi:test:Sensor;1", "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "serial", "schema": "string"},
        {"@type": "Telemetry", "name": "temperature", "schema": "double"},
    ],
}
ROOM = {
    "@context": CONTEXT, "@id": "dtmi:test:Room;1", "@type": "Interface", "displayName": "Room",
    "contents": [
        {"@type": "Property", "name": "temperature", "schema": "double"},
        {"@type": "Property", "name": "name", "schema": "string"},
        {"@type": "Component", "name": "sensor", "schema": "dtmi:test:Sensor;1"},
        {"@type": "Relationship", "name": "adjacentTo", "target": "dtmi:test:Room;1",
         "properties": [{"@type": "Property", "name": "doors", "schema": "integer"}]},
        {"@type": "Telemetry", "name": "occupancy", "schema": "integer"},
    ],
}
MEETING_ROOM = {
    "@context": CONTEXT, "@id": "dtmi:test:MeetingRoom;1", "@type": "Interface", "extends": "dtmi:test:Room;1",
    "contents": [{"@type": "Property", "name": "seats", "schema": "integer"}],
}
UNUSED = {"@context": CONTEXT, "@id": "dtmi:test:Unused;1", "@type": "Interface", "contents": []}


def room(**properties):
    return {"$metadata": {"$model": "dtmi:test:Room;1"}, "sensor": {"$metadata": {}}, **properties}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The server over TLS on a fresh store with an NDJSON endpoint 'log'."""
    folder = tmp_path_factory.mktemp("service")
    ca, cert, key = make_test_ca(folder / "tls")
    store = folder / "store"
    first = Server(store, cert=cert, key=key)  # creates the store
    assert first.stop()[0] == 0
    events = folder / "events.ndjson"
    subprocess.run([CLI, "routes", "add-endpoint", "log", str(events), "--store", str(store)], check=True,
                   capture_output=True)
    server = Server(store, cert=cert, key=key)
    credential = StaticToken()
    client = DigitalTwinsClient(server.url, credential, connection_verify=str(ca))
    yield {"server": server, "client": client, "ca": ca, "cert": cert, "key": key, "store": store,
           "events": events, "credential": credential}
    server.stop()


@pytest.fixture(scope="module")
def client(served):
    return served["client"]


@pytest.fixture(scope="module")
def models(client):
    created = client.create_models([SENSOR, ROOM, MEETING_ROOM, UNUSED])
    return {m.id: m for m in created}


def test_the_server_listens_on_https_and_the_sdk_asks_for_the_adt_scope(served, models):
    assert served["server"].url.startswith("https://127.0.0.1:")
    assert ("https://digitaltwins.azure.net/.default",) in served["credential"].scopes


def test_create_models_returns_model_data_and_refuses_duplicates_and_bad_dtdl(client, models):
    assert set(models) == {"dtmi:test:Sensor;1", "dtmi:test:Room;1", "dtmi:test:MeetingRoom;1", "dtmi:test:Unused;1"}
    assert models["dtmi:test:Room;1"].display_name == {"en": "Room"}
    assert models["dtmi:test:Room;1"].decommissioned is False
    with pytest.raises(ResourceExistsError) as e:
        client.create_models([ROOM])
    assert e.value.error.code == "ModelAlreadyExists"
    broken = dict(UNUSED, **{"@id": "dtmi:test:Broken;1", "contents": [{"@type": "Property", "name": "x",
                                                                          "schema": "nope"}]})
    with pytest.raises(HttpResponseError) as e:
        client.create_models([broken])
    assert e.value.status_code == 400 and e.value.error.code == "DTDLParserError"
    with pytest.raises(ResourceNotFoundError):
        client.get_model("dtmi:test:Broken;1")  # all or nothing


def test_get_model_and_list_models_with_dependencies_definitions_and_paging(client, models):
    model = client.get_model("dtmi:test:MeetingRoom;1", include_model_definition=True)
    assert model.id == "dtmi:test:MeetingRoom;1" and model.model["extends"] == "dtmi:test:Room;1"
    assert client.get_model("dtmi:test:Room;1").model is None
    with pytest.raises(ResourceNotFoundError) as e:
        client.get_model("dtmi:test:Nothing;1")
    assert e.value.error.code == "ModelNotFound"

    listed = sorted(m.id for m in client.list_models())
    assert set(models) <= set(listed)
    deps = sorted(m.id for m in client.list_models(dependencies_for=["dtmi:test:MeetingRoom;1"]))
    assert deps == ["dtmi:test:MeetingRoom;1", "dtmi:test:Room;1", "dtmi:test:Sensor;1"]
    with_definitions = list(client.list_models(dependencies_for=["dtmi:test:Sensor;1"], include_model_definition=True))
    assert with_definitions[0].model["@id"] == "dtmi:test:Sensor;1"
    pages = [list(page) for page in client.list_models(
        digital_twin_models_list_options=DigitalTwinModelsListOptions(max_items_per_page=3)).by_page()]
    assert len(pages) >= 2 and all(len(p) <= 3 for p in pages)
    assert sorted(m.id for p in pages for m in p) == listed


def test_twin_upsert_get_update_and_delete_with_etags(client, models):
    created = client.upsert_digital_twin("room-1", room(temperature=20.5, name="one"))
    assert created["$dtId"] == "room-1" and created["temperature"] == 20.5
    etag = created["$etag"]
    got = client.get_digital_twin("room-1")
    assert got["$etag"] == etag and got["$metadata"]["$model"] == "dtmi:test:Room;1"

    with pytest.raises(ResourceExistsError):  # If-None-Match: * on an existing twin
        client.upsert_digital_twin("room-1", room(), match_condition=MatchConditions.IfMissing)
    client.upsert_digital_twin("room-new", room(), match_condition=MatchConditions.IfMissing)

    client.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": 22.0}],
                               etag=etag, match_condition=MatchConditions.IfNotModified)
    after = client.get_digital_twin("room-1")
    assert after["temperature"] == 22.0 and after["$etag"] != etag
    with pytest.raises(ResourceModifiedError) as e:  # the old etag: 412
        client.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": 1.0}],
                                   etag=etag, match_condition=MatchConditions.IfNotModified)
    assert e.value.error.code == "PreconditionFailed"
    assert client.get_digital_twin("room-1")["temperature"] == 22.0

    with pytest.raises(HttpResponseError) as e:
        client.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": "hot"}])
    assert e.value.status_code == 400 and e.value.error.code == "ValidationFailed"
    with pytest.raises(HttpResponseError) as e:
        client.upsert_digital_twin("bad", {"$metadata": {"$model": "dtmi:test:Room;1"}, "nope": 1, "sensor": {"$metadata": {}}})
    assert e.value.error.code == "ValidationFailed"

    client.delete_digital_twin("room-new", etag=client.get_digital_twin("room-new")["$etag"],
                               match_condition=MatchConditions.IfNotModified)
    with pytest.raises(ResourceNotFoundError) as e:
        client.get_digital_twin("room-new")
    assert e.value.error.code == "DigitalTwinNotFound"
    with pytest.raises(ResourceNotFoundError):
        client.delete_digital_twin("room-new")
    with pytest.raises(ResourceNotFoundError):
        client.update_digital_twin("room-new", [{"op": "add", "path": "/temperature", "value": 1.0}])


def test_components(client, models):
    client.upsert_digital_twin("room-c", room())
    client.update_component("room-c", "sensor", [{"op": "add", "path": "/serial", "value": "S-1"}])
    component = client.get_component("room-c", "sensor")
    assert component["serial"] == "S-1" and "$metadata" in component
    assert client.get_digital_twin("room-c")["sensor"]["serial"] == "S-1"
    with pytest.raises(ResourceNotFoundError) as e:
        client.get_component("room-c", "nothing")
    assert e.value.error.code == "ComponentNotFound"
    stale = client.get_digital_twin("room-c")["$etag"]
    client.update_component("room-c", "sensor", [{"op": "replace", "path": "/serial", "value": "S-2"}])
    with pytest.raises(ResourceModifiedError):
        client.update_component("room-c", "sensor", [{"op": "replace", "path": "/serial", "value": "S-3"}],
                                etag=stale, match_condition=MatchConditions.IfNotModified)


def test_relationships_outgoing_incoming_update_and_delete(client, models):
    for twin in ("a", "b", "c"):
        client.upsert_digital_twin(twin, room())
    rel = client.upsert_relationship("a", "a-b", {"$relationshipName": "adjacentTo", "$targetId": "b", "doors": 1})
    assert rel["$sourceId"] == "a" and rel["$targetId"] == "b" and rel["doors"] == 1
    client.upsert_relationship("c", "c-b", {"$relationshipName": "adjacentTo", "$targetId": "b"})
    assert client.get_relationship("a", "a-b")["$etag"] == rel["$etag"]

    client.update_relationship("a", "a-b", [{"op": "replace", "path": "/doors", "value": 2}],
                               etag=rel["$etag"], match_condition=MatchConditions.IfNotModified)
    assert client.get_relationship("a", "a-b")["doors"] == 2
    with pytest.raises(ResourceModifiedError):
        client.update_relationship("a", "a-b", [{"op": "replace", "path": "/doors", "value": 3}],
                                   etag=rel["$etag"], match_condition=MatchConditions.IfNotModified)

    assert [r["$relationshipId"] for r in client.list_relationships("a")] == ["a-b"]
    assert [r["$relationshipId"] for r in client.list_relationships("a", relationship_id="adjacentTo")] == ["a-b"]
    assert list(client.list_relationships("a", relationship_id="other")) == []
    incoming = sorted((r.relationship_id, r.source_id) for r in client.list_incoming_relationships("b"))
    assert incoming == [("a-b", "a"), ("c-b", "c")]

    with pytest.raises(HttpResponseError) as e:
        client.delete_digital_twin("b")
    assert e.value.status_code == 400 and e.value.error.code == "RelationshipsNotDeleted"
    with pytest.raises(HttpResponseError) as e:
        client.upsert_relationship("a", "a-x", {"$relationshipName": "adjacentTo", "$targetId": "missing"})
    assert e.value.error.code == "TargetTwinNotFound"
    with pytest.raises(ResourceNotFoundError) as e:
        client.get_relationship("a", "nothing")
    assert e.value.error.code == "RelationshipNotFound"

    client.delete_relationship("a", "a-b")
    client.delete_relationship("c", "c-b")
    client.delete_digital_twin("b")


def test_rest_shapes_next_links_headers_and_api_versions(served, client, models):
    """What the SDK hides: absolute nextLink paging with max-items-per-page,
    ETag, traceparent echoed, query-charge, x-ms-error-code, api-versions."""
    import requests

    session = requests.Session()
    session.verify = str(served["ca"])
    session.trust_env = False
    session.headers["Authorization"] = "Bearer test-token"
    base = served["server"].url
    client.upsert_digital_twin("hub", room())
    for i in range(7):
        client.upsert_digital_twin(f"spoke-{i}", room())
        client.upsert_relationship("hub", f"r{i}", {"$relationshipName": "adjacentTo", "$targetId": f"spoke-{i}"})
    url, sizes, ids = f"{base}/digitaltwins/hub/relationships?api-version=2023-10-31", [], []
    while url:
        r = session.get(url, headers={"max-items-per-page": "3"})
        assert r.status_code == 200, r.text
        body = r.json()
        sizes.append(len(body["value"]))
        ids += [x["$relationshipId"] for x in body["value"]]
        url = body["nextLink"]
        assert url is None or url.startswith(base + "/digitaltwins/hub/relationships?")
    assert sizes == [3, 3, 1] and sorted(ids) == [f"r{i}" for i in range(7)]

    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = session.get(f"{base}/digitaltwins/hub?api-version=2022-05-31", headers={"traceparent": trace})
    assert r.status_code == 200 and r.headers["traceparent"] == trace
    assert r.headers["ETag"] == r.json()["$etag"]
    r = session.post(f"{base}/query?api-version=2023-10-31", json={"query": "SELECT * FROM DIGITALTWINS"})
    assert r.status_code == 200 and float(r.headers["query-charge"]) >= 1
    r = session.get(f"{base}/digitaltwins/nobody?api-version=2023-10-31")
    assert r.status_code == 404 and r.headers["x-ms-error-code"] == "DigitalTwinNotFound"
    assert r.json()["error"]["code"] == "DigitalTwinNotFound" and "nobody" in r.json()["error"]["message"]
    r = session.get(f"{base}/digitaltwins/hub")
    assert r.status_code == 400 and r.headers["x-ms-error-code"] == "MissingApiVersionParameter"
    r = session.get(f"{base}/digitaltwins/hub?api-version=2020-01-01")
    assert r.status_code == 400 and r.json()["error"]["code"] == "UnsupportedApiVersion"
    r = session.put(f"{base}/digitaltwins/hub?api-version=2023-10-31", data=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidArgument"
    r = session.put(f"{base}/digitaltwins/hub?api-version=2023-10-31", data=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = session.get(f"{base}/health")
    assert r.status_code == 200 and r.json()["status"] == "healthy"


def test_query_pages_with_continuation_tokens(client, models):
    for i in range(25):
        client.upsert_digital_twin(f"q-{i:02}", {"$metadata": {"$model": "dtmi:test:MeetingRoom;1"},
                                                 "sensor": {"$metadata": {}}, "seats": i})
    query = "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:MeetingRoom;1') AND T.seats >= 5"
    pages = [list(p) for p in client.query_twins(
        query, query_twins_options=QueryTwinsOptions(max_items_per_page=7)).by_page()]
    assert [len(p) for p in pages] == [7, 7, 6]
    assert sorted(t["$dtId"] for p in pages for t in p) == [f"q-{i:02}" for i in range(5, 25)]
    count = list(client.query_twins("SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:MeetingRoom;1')"))
    assert count == [{"COUNT": 25}]
    with pytest.raises(HttpResponseError) as e:
        list(client.query_twins("SELEC * FROM"))
    assert e.value.status_code == 400 and e.value.error.code == "SqlQueryError"


def test_telemetry_and_component_telemetry(served, client, models):
    client.upsert_digital_twin("room-t", room())
    client.publish_telemetry("room-t", {"occupancy": 3}, message_id=str(uuid.uuid4()))
    client.publish_component_telemetry("room-t", "sensor", {"temperature": 21.5})
    with pytest.raises(HttpResponseError) as e:
        client.publish_telemetry("room-t", {"occupancy": "many"})
    assert e.value.status_code == 400 and e.value.error.code == "ValidationFailed"
    with pytest.raises(ResourceNotFoundError) as e:
        client.publish_telemetry("nobody", {"occupancy": 1})
    assert e.value.error.code == "DigitalTwinNotFound"
    with pytest.raises(ResourceNotFoundError) as e:
        client.publish_component_telemetry("room-t", "nothing", {"temperature": 1.0})
    assert e.value.error.code == "ComponentNotFound"


def test_event_routes_deliver_cloud_events_to_a_store_endpoint(served, client, models):
    route = DigitalTwinsEventRoute(endpoint_name="log", filter="type = 'Microsoft.DigitalTwins.Twin.Create'")
    client.upsert_event_route("creates", route)
    got = client.get_event_route("creates")
    assert got.endpoint_name == "log" and got.filter == route.filter and got.id == "creates"
    assert [r.id for r in client.list_event_routes()] == ["creates"]
    with pytest.raises(HttpResponseError) as e:
        client.upsert_event_route("bad", DigitalTwinsEventRoute(endpoint_name="nowhere", filter="true"))
    assert e.value.error.code == "EventRouteEndpointInvalid"
    with pytest.raises(HttpResponseError) as e:
        client.upsert_event_route("bad", DigitalTwinsEventRoute(endpoint_name="log", filter="type = "))
    assert e.value.error.code == "EventRouteFilterInvalid"

    client.upsert_digital_twin("routed", room())
    deadline = time.time() + 30
    events = []
    while time.time() < deadline:
        if served["events"].exists():
            events = [json.loads(line) for line in served["events"].read_text().splitlines() if line.strip()]
            if any(e.get("subject") == "routed" for e in events):
                break
        time.sleep(0.1)
    created = [e for e in events if e.get("subject") == "routed"]
    assert created and created[0]["type"] == "Microsoft.DigitalTwins.Twin.Create"
    assert created[0]["data"]["$dtId"] == "routed"

    client.delete_event_route("creates")
    assert list(client.list_event_routes()) == []
    with pytest.raises(ResourceNotFoundError) as e:
        client.get_event_route("creates")
    assert e.value.error.code == "EventRouteNotFound"


def read_events(response, wanted, timeout=30):
    """CloudEvents from an open text/event-stream response until `wanted(event)`."""
    import threading

    found, seen = [], []

    def reader():
        event = {}
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("id: "):
                event = {"id": int(line[4:])}
            elif line.startswith("event: "):
                event["type"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
                seen.append(event)
                if wanted(event["data"]):
                    found.append(event)
                    return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    return found, seen


def test_the_event_stream_sends_changes_and_telemetry_as_server_sent_events(served, client, models):
    import requests

    response = requests.get(f"{served['server'].url}/events?api-version=2023-10-31", stream=True,
                            verify=str(served["ca"]), timeout=60, headers={"Authorization": "Bearer x"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    client.upsert_digital_twin("streamed", room(temperature=1.0))
    client.update_digital_twin("streamed", [{"op": "replace", "path": "/temperature", "value": 2.0}])
    client.publish_telemetry("streamed", {"occupancy": 7}, message_id="m-stream")
    found, seen = read_events(response, lambda e: e.get("type") == "microsoft.iot.telemetry"
                              and e.get("data") == {"occupancy": 7})
    response.close()
    assert found, seen
    mine = [e for e in seen if e["data"].get("subject") == "streamed" or e["data"].get("id") == "m-stream"]
    assert [e["type"] for e in mine] == ["Microsoft.DigitalTwins.Twin.Create", "Microsoft.DigitalTwins.Twin.Update",
                                         "microsoft.iot.telemetry"]
    assert [e["id"] for e in mine] == sorted(e["id"] for e in mine)
    assert mine[1]["data"]["data"]["patch"] == [{"op": "replace", "path": "/temperature", "value": 2.0}]
    assert "twinsim-event-stream" not in [r.id for r in client.list_event_routes()]


def test_decommission_and_delete_models(client, models):
    client.decommission_model("dtmi:test:Unused;1")
    assert client.get_model("dtmi:test:Unused;1").decommissioned is True
    with pytest.raises(HttpResponseError) as e:
        client.upsert_digital_twin("u", {"$metadata": {"$model": "dtmi:test:Unused;1"}})
    assert e.value.error.code == "ModelDecommissioned"
    client.delete_model("dtmi:test:Unused;1")
    with pytest.raises(ResourceNotFoundError):
        client.get_model("dtmi:test:Unused;1")
    with pytest.raises(ResourceExistsError) as e:  # twins and MeetingRoom use it: 409
        client.delete_model("dtmi:test:Room;1")
    assert e.value.error.code == "ModelReferencesNotDeleted"
    with pytest.raises(ResourceNotFoundError):
        client.decommission_model("dtmi:test:Nothing;1")


def test_the_store_survives_a_graceful_stop_and_serves_again(served, client, models):
    client.upsert_digital_twin("kept", room(temperature=30.0))
    status, out, err = served["server"].stop()
    assert status == 0, err
    assert "stopped by SIGTERM; the store is closed" in out
    again = Server(served["store"], cert=served["cert"], key=served["key"])
    try:
        fresh = DigitalTwinsClient(again.url, StaticToken(), connection_verify=str(served["ca"]))
        assert fresh.get_digital_twin("kept")["temperature"] == 30.0
    finally:
        again.stop()


def import_file(path, twins, prefix, models=()):
    """An ADT import file: a header, `models`, then `twins` Room twins named prefix-0, prefix-1, ..."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"Section": "Header"}\n{"fileVersion": "1.0.0", "author": "test", "organization": "test"}\n')
        if models:
            out.write('{"Section": "Models"}\n')
            for m in models:
                out.write(json.dumps(m) + "\n")
        out.write('{"Section": "Twins"}\n')
        for i in range(twins):
            out.write('{"$dtId": "%s-%d", "$metadata": {"$model": "dtmi:test:Room;1"}, "temperature": %d.5, '
                      '"name": "room %d of the imported building", "sensor": {"$metadata": {}}}\n' % (prefix, i, i % 40, i))


def test_import_jobs_run_in_the_background_and_are_polled_cancelled_and_listed_through_the_sdk(tmp_path_factory):
    """ADT's import job as its users drive it: add returns at once (notstarted or
    running), get_by_id is polled until succeeded or failed, cancel stops a job
    that has not finished (nothing of it is applied), finished jobs stay listed."""
    from azure.digitaltwins.core._generated.models import ImportJob

    folder = tmp_path_factory.mktemp("import-jobs")
    ca, cert, key = make_test_ca(folder / "tls")
    imports = folder / "imports"
    imports.mkdir()
    import_file(imports / "small.ndjson", 3, "small", models=[SENSOR, ROOM])
    import_file(imports / "big.ndjson", 200_000, "big")
    import_file(imports / "queued.ndjson", 10, "queued")
    (imports / "broken.ndjson").write_text('{"Section": "Header"}\n{"fileVersion": "1.0.0"}\n{"Section": "Twins"}\n'
                                           '{"$dtId": "x", "$metadata": {"$model": "dtmi:test:Missing;1"}}\n')
    server = Server(folder / "store", cert=cert, key=key, extra=["--import-dir", str(imports)])
    try:
        client = DigitalTwinsClient(server.url, StaticToken(), connection_verify=str(ca))
        jobs = client._client.import_jobs  # the SDK's generated import-job operations (ADT 2023-10-31)

        def wait(job_id, timeout=120):
            deadline = time.time() + timeout
            seen = []
            while True:
                job = jobs.get_by_id(job_id)
                seen.append(job.status)
                if job.status in ("succeeded", "failed", "cancelled") or time.time() > deadline:
                    return job, seen
                time.sleep(0.05)

        started = jobs.add("small-job", ImportJob(input_blob_uri="small.ndjson", output_blob_uri="small.log"))
        assert started.id == "small-job" and started.status in ("notstarted", "running")
        assert started.finished_date_time is None and started.created_date_time is not None
        job, seen = wait("small-job")
        assert job.status == "succeeded", (job.status, job.error and job.error.message)
        assert job.finished_date_time >= job.created_date_time
        assert client.get_digital_twin("small-2")["temperature"] == 2.5
        assert "imported 2 models, 3 twins" in (imports / "small.log").read_text()

        job = jobs.add("broken-job", ImportJob(input_blob_uri="broken.ndjson", output_blob_uri="broken.log"))
        job, _ = wait("broken-job")
        assert job.status == "failed" and job.error.code == "ImportFailed"
        with pytest.raises(ResourceNotFoundError):
            client.get_digital_twin("x")

        # A big job runs while another waits behind it: cancelling the waiting
        # one ends it at once; cancelling the running one rolls it back.
        big = jobs.add("big-job", ImportJob(input_blob_uri="big.ndjson", output_blob_uri="big.log"))
        jobs.add("queued-job", ImportJob(input_blob_uri="queued.ndjson", output_blob_uri="queued.log"))
        assert big.status in ("notstarted", "running")
        assert jobs.get_by_id("queued-job").status == "notstarted"
        cancelled_queued = jobs.cancel("queued-job")
        assert cancelled_queued.status in ("cancelling", "cancelled")
        deadline = time.time() + 60
        while jobs.get_by_id("big-job").status == "notstarted" and time.time() < deadline:
            time.sleep(0.01)
        at_cancel = jobs.cancel("big-job")
        big, seen = wait("big-job")
        queued, _ = wait("queued-job")
        assert queued.status == "cancelled" and queued.finished_date_time is not None
        with pytest.raises(ResourceNotFoundError):
            client.get_digital_twin("queued-0")
        count = list(client.query_twins("SELECT COUNT() FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'big-')"))[0]["COUNT"]
        if at_cancel.status == "cancelling":  # it was running: stopped and rolled back
            assert big.status == "cancelled", (big.status, seen)
            assert count == 0
        else:  # it had finished before the cancel came (a fast machine): all of it is there
            assert big.status == "succeeded" and count == 200_000
        assert "cancelled" in (imports / "queued.log").read_text()

        listed = {j.id: j.status for j in jobs.list()}
        assert listed == {"small-job": "succeeded", "broken-job": "failed", "big-job": big.status,
                          "queued-job": "cancelled"}
        jobs.delete("small-job")
        with pytest.raises(ResourceNotFoundError):
            jobs.get_by_id("small-job")
        with pytest.raises(HttpResponseError) as exists:
            jobs.add("broken-job", ImportJob(input_blob_uri="small.ndjson", output_blob_uri="again.log"))
        assert exists.value.status_code == 400
    finally:
        status, _, err = server.stop()
    assert status == 0, err
