"""`twinsim serve` under bad input and load (docs/service.md, "Limits"):
oversized bodies and headers, slow clients, too many connections, ids that
look like paths. Each case gets a clear ADT-shaped error or a closed
connection, and the server keeps serving everyone else."""

import json
import socket
import subprocess
import time
import urllib.parse

import pytest

from service_fixtures import CLI, Server

pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

ROOM = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:test:Room;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "t", "schema": "double"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits")
    s = Server(folder / "store", extra=["--threads", "2", "--backlog", "1", "--read-timeout", "1",
                                         "--max-body", "65536"])
    yield s
    s.stop()


def address(server):
    parsed = urllib.parse.urlparse(server.url)
    return parsed.hostname, parsed.port


def exchange(server, raw, timeout=20):
    """Sends raw bytes on a new connection and reads until the server closes
    it or a whole response (by Content-Length) arrived."""
    with socket.create_connection(address(server), timeout=timeout) as s:
        s.sendall(raw)
        return read_response(s)


def read_response(s):
    data = b""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) >= length:
                return data
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def request(method, target, body=b"", headers=()):
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def status_of(response):
    return int(response.split(b" ", 2)[1]) if response else None


def body_of(response):
    return json.loads(response.partition(b"\r\n\r\n")[2])


def healthy(server):
    return status_of(exchange(server, request("GET", "/health", headers=["Connection: close"]))) == 200


def test_oversized_body_is_413_with_an_adt_error_and_nothing_changes(server):
    models = json.dumps([ROOM]).encode()
    assert status_of(exchange(server, request("POST", "/models?api-version=2023-10-31", models,
                                              ["Content-Type: application/json", "Connection: close"]))) == 201
    big = b'{"$metadata": {"$model": "dtmi:test:Room;1"}, "pad": "' + b"x" * 70000 + b'"}'
    r = exchange(server, request("PUT", "/digitaltwins/big?api-version=2023-10-31", big,
                                 ["Content-Type: application/json", "Connection: close"]))
    assert status_of(r) == 413
    assert body_of(r)["error"]["code"] == "PayloadTooLarge" and b"x-ms-error-code: PayloadTooLarge" in r
    r = exchange(server, request("GET", "/digitaltwins/big?api-version=2023-10-31", headers=["Connection: close"]))
    assert status_of(r) == 404
    assert healthy(server)


def test_oversized_header_line_is_refused_and_the_server_serves_on(server):
    r = exchange(server, request("GET", "/health", headers=["X-Big: " + "y" * 20000, "Connection: close"]))
    assert status_of(r) in (None, 400, 413, 431)
    assert healthy(server)


def test_malformed_request_lines_get_an_error_or_a_closed_connection(server):
    for raw in (b"NONSENSE\r\n\r\n", b"GET\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
                b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
        r = exchange(server, raw)
        assert status_of(r) in (None, 400, 404, 414, 505), r[:200]
    assert healthy(server)


def test_a_slow_client_is_cut_off_after_the_read_timeout(server):
    with socket.create_connection(address(server), timeout=30) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
        assert healthy(server)  # others are served meanwhile
        started = time.monotonic()
        leftover = slow.recv(65536)
        while leftover and not leftover.endswith(b"}"):
            more = slow.recv(65536)
            if not more:
                break
            leftover += more
        assert time.monotonic() - started < 25  # closed by the server (--read-timeout 1), not by our timeout
        assert slow.recv(65536) == b""  # and the connection is closed


def test_too_many_connections_get_503_and_a_closed_connection(server):
    held = []
    try:
        for _ in range(2):  # hold both threads with idle keep-alive connections
            s = socket.create_connection(address(server), timeout=30)
            s.sendall(request("GET", "/health"))
            assert status_of(read_response(s)) == 200
            held.append(s)
        waiting = socket.create_connection(address(server), timeout=30)  # fills the backlog of 1
        waiting.sendall(request("GET", "/health", headers=["Connection: close"]))
        held.append(waiting)
        time.sleep(0.2)
        r = exchange(server, request("GET", "/health"))  # one more: no room
        assert status_of(r) == 503
        assert body_of(r)["error"]["code"] == "ServiceUnavailable" and b"Retry-After: 1" in r
    finally:
        for s in held[:2]:
            s.close()
    # the waiting connection is served once a thread is free
    assert status_of(read_response(held[2])) == 200
    held[2].close()
    assert healthy(server)


def test_ids_that_look_like_paths_are_ids_or_refused(server):
    r = exchange(server, request("GET", "/digitaltwins/..%2F..%2Fetc%2Fpasswd?api-version=2023-10-31",
                                 headers=["Connection: close"]))
    assert status_of(r) == 404 and body_of(r)["error"]["code"] == "DigitalTwinNotFound"
    for target in ("/digitaltwins/..?api-version=2023-10-31", "/digitaltwins/.?api-version=2023-10-31",
                   "/digitaltwins/a%00b?api-version=2023-10-31", "/digitaltwins/a%zz?api-version=2023-10-31"):
        r = exchange(server, request("GET", target, headers=["Connection: close"]))
        assert status_of(r) == 400 and body_of(r)["error"]["code"] == "InvalidArgument", target
    r = exchange(server, request("GET", "/digitaltwins/../models?api-version=2023-10-31", headers=["Connection: close"]))
    assert status_of(r) in (400, 404)  # never read as /models
    assert healthy(server)


def test_import_and_delete_jobs_stay_inside_the_import_directory(tmp_path):
    import requests

    imports = tmp_path / "imports"
    imports.mkdir()
    (tmp_path / "outside.ndjson").write_text("{}\n", encoding="utf-8")
    lines = [{"Section": "Header"}, {"fileVersion": "1.0.0", "author": "t", "organization": "t"},
             {"Section": "Models"}, ROOM, {"Section": "Twins"},
             {"$dtId": "imported", "$metadata": {"$model": "dtmi:test:Room;1"}, "t": 4.0}]
    (imports / "good.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    bad = lines[:4] + [{"Section": "Twins"}, {"$dtId": "broken", "$metadata": {"$model": "dtmi:test:Nope;1"}}]
    (imports / "bad.ndjson").write_text("\n".join(json.dumps(x) for x in bad) + "\n", encoding="utf-8")
    server = Server(tmp_path / "store", extra=["--import-dir", str(imports)])
    s = requests.Session()
    s.trust_env = False
    v = "?api-version=2023-10-31"
    def finished(job_id):
        # The PUT only queues the job; poll it as an ADT client does.
        deadline = time.time() + 60
        while True:
            job = s.get(f"{server.url}/jobs/imports/{job_id}{v}").json()
            if job["status"] in ("succeeded", "failed", "cancelled") or time.time() > deadline:
                return job
            assert job["status"] in ("notstarted", "running", "cancelling"), job
            time.sleep(0.05)

    try:
        r = s.put(f"{server.url}/jobs/imports/j1{v}", json={"inputBlobUri": "good.ndjson", "outputBlobUri": "j1.log"})
        assert r.status_code == 201 and r.json()["status"] in ("notstarted", "running"), r.text
        assert r.json()["createdDateTime"] and "finishedDateTime" not in r.json()
        job = finished("j1")
        assert job["status"] == "succeeded" and job["finishedDateTime"] >= job["createdDateTime"], job
        assert s.get(f"{server.url}/digitaltwins/imported{v}").json()["t"] == 4.0
        assert "imported 1 models, 1 twins" in (imports / "j1.log").read_text()
        assert s.put(f"{server.url}/jobs/imports/j1{v}", json={"inputBlobUri": "good.ndjson"}).status_code == 400
        for uri in ("../outside.ndjson", str(tmp_path / "outside.ndjson"), "file:///etc/passwd",
                    "https://example.com/x.ndjson", "sub/../../outside.ndjson"):
            r = s.put(f"{server.url}/jobs/imports/j9{v}", json={"inputBlobUri": uri})
            assert r.status_code == 400 and r.json()["error"]["code"] == "ValidationFailed", (uri, r.text)
        r = s.put(f"{server.url}/jobs/imports/j2{v}", json={"inputBlobUri": "bad.ndjson", "outputBlobUri": "j2.log"})
        assert r.status_code == 201
        job = finished("j2")
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "ImportFailed" and "dtmi:test:Nope;1" in (imports / "j2.log").read_text()
        assert s.get(f"{server.url}/digitaltwins/broken{v}").status_code == 404  # nothing of it was applied
        r = s.put(f"{server.url}/jobs/imports/j3{v}", json={"inputBlobUri": "missing.ndjson"})
        assert r.status_code == 201 and finished("j3")["status"] == "failed"  # found missing when it runs
        assert sorted(j["id"] for j in s.get(f"{server.url}/jobs/imports{v}").json()["value"]) == ["j1", "j2", "j3"]
        assert s.post(f"{server.url}/jobs/imports/j1/cancel{v}").json()["status"] == "succeeded"  # done: unchanged
        assert s.delete(f"{server.url}/jobs/imports/j1{v}").status_code == 204
        r = s.get(f"{server.url}/jobs/imports/j1{v}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "ImportJobNotFound"
        assert s.post(f"{server.url}/jobs/imports/nope/cancel{v}").json()["error"]["code"] == "ImportJobNotFound"

        r = s.post(f"{server.url}/jobs/deletions{v}")
        assert r.status_code == 202 and r.json()["status"] == "succeeded"
        assert s.get(r.headers["Operation-Location"]).json()["id"] == r.json()["id"]
        assert s.get(f"{server.url}/digitaltwins/imported{v}").status_code == 404
        assert s.get(f"{server.url}/models{v}").json()["value"] == []
        assert s.get(f"{server.url}/jobs/deletions/nope{v}").json()["error"]["code"] == "DeleteJobNotFound"
    finally:
        server.stop()
    refused = Server(tmp_path / "store2")
    try:
        r = s.put(f"{refused.url}/jobs/imports/j{v}", json={"inputBlobUri": "good.ndjson"})
        assert r.status_code == 400 and "--import-dir" in r.json()["error"]["message"]
    finally:
        refused.stop()


def test_event_routes_post_cloud_events_to_webhooks_with_retries_and_dead_letters(tmp_path):
    import http.server
    import threading

    import requests

    received, attempts = [], {"flaky": 0}

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/flaky":
                attempts["flaky"] += 1
                if attempts["flaky"] == 1:  # the first attempt fails: the router retries
                    self.send_response(500)
                    self.end_headers()
                    return
            if self.path == "/broken":
                self.send_response(503)
                self.end_headers()
                return
            received.append((self.path, self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{hook.server_address[1]}"
    store = tmp_path / "store"
    server = Server(store, extra=["--webhook", f"flaky={base}/flaky", "--webhook", f"broken={base}/broken"])
    s = requests.Session()
    s.trust_env = False
    v = "?api-version=2023-10-31"
    try:
        assert s.put(f"{server.url}/eventroutes/r1{v}", json={"endpointName": "flaky", "filter": "true"}).status_code == 204
        assert s.put(f"{server.url}/eventroutes/r2{v}", json={"endpointName": "broken", "filter": "true"}).status_code == 204
        assert s.post(f"{server.url}/models{v}", json=[ROOM]).status_code == 201
        twin = {"$metadata": {"$model": "dtmi:test:Room;1"}, "t": 1.0}
        assert s.put(f"{server.url}/digitaltwins/hooked{v}", json=twin).status_code == 200
        deadline = time.time() + 30
        while time.time() < deadline and not any(e.get("subject") == "hooked" for _, _, e in received):
            time.sleep(0.1)
    finally:
        status, _, err = server.stop()  # delivers what is queued, dead-letters what keeps failing
        hook.shutdown()
    assert status == 0, err
    created = [(p, ct, e) for p, ct, e in received if e.get("subject") == "hooked"]
    assert created and created[0][0] == "/flaky" and created[0][1].startswith("application/cloudevents+json")
    assert created[0][2]["type"] == "Microsoft.DigitalTwins.Twin.Create" and created[0][2]["specversion"] == "1.0"
    assert attempts["flaky"] >= 2  # the first attempt was refused and retried
    dead = [json.loads(line) for line in (store / "dead-letter-events.ndjson").read_text().splitlines() if line.strip()]
    assert any("broken" in json.dumps(d) and "503" in json.dumps(d) for d in dead), dead


def test_webhook_endpoints_and_routes_made_through_the_api_survive_a_restart(tmp_path):
    import http.server
    import threading

    import requests

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{hook.server_address[1]}"
    store = tmp_path / "store"
    s = requests.Session()
    s.trust_env = False
    v = "?api-version=2023-10-31"
    creates = "type = 'Microsoft.DigitalTwins.Twin.Create'"

    def delivered(subject, wanted, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = {p for p, e in received if e.get("subject") == subject}
            if found >= wanted:
                return found
            time.sleep(0.05)
        return found

    try:
        server = Server(store, extra=["--webhook", f"flagged={base}/flagged"])
        try:
            r = s.put(f"{server.url}/endpoints/api-hook{v}", json={"endpointType": "webhook", "url": f"{base}/api"})
            assert r.status_code == 201 and r.json() == {"name": "api-hook", "endpointType": "webhook", "url": f"{base}/api"}
            # The same description again is fine; another one under the name is refused.
            assert s.put(f"{server.url}/endpoints/api-hook{v}", json={"endpointType": "webhook", "url": f"{base}/api"}).status_code == 200
            r = s.put(f"{server.url}/endpoints/api-hook{v}", json={"endpointType": "webhook", "url": f"{base}/other"})
            assert r.status_code == 409 and r.json()["error"]["code"] == "EndpointAlreadyExists"
            for body in ({"endpointType": "ndjson", "url": f"{base}/x"}, {"endpointType": "webhook", "url": "ftp://x"},
                         {"endpointType": "webhook"}, {"endpointType": "webhook", "url": f"{base}/x", "extra": 1}):
                r = s.put(f"{server.url}/endpoints/bad{v}", json=body)
                assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidArgument", (body, r.text)
            assert s.put(f"{server.url}/eventroutes/to-api{v}", json={"endpointName": "api-hook", "filter": creates}).status_code == 204
            assert s.put(f"{server.url}/eventroutes/to-flagged{v}", json={"endpointName": "flagged", "filter": creates}).status_code == 204
            assert s.post(f"{server.url}/models{v}", json=[ROOM]).status_code == 201
        finally:
            status, _, err = server.stop()
        assert status == 0, err
        saved = json.loads((store / "routes.json").read_text())
        assert {e["name"]: e["kind"] for e in saved["endpoints"]} == {"api-hook": "webhook", "flagged": "webhook"}
        assert sorted(r["id"] for r in saved["routes"]) == ["to-api", "to-flagged"]

        # Restarted without --webhook: the endpoints and routes are back and deliver.
        server = Server(store)
        try:
            names = {e["name"]: e for e in s.get(f"{server.url}/endpoints{v}").json()["value"]}
            assert names["api-hook"]["url"] == f"{base}/api" and names["flagged"]["url"] == f"{base}/flagged"
            assert s.get(f"{server.url}/eventroutes/to-api{v}").json()["endpointName"] == "api-hook"
            twin = {"$metadata": {"$model": "dtmi:test:Room;1"}, "t": 1.0}
            assert s.put(f"{server.url}/digitaltwins/after-restart{v}", json=twin).status_code == 200
            assert delivered("after-restart", {"/api", "/flagged"}) == {"/api", "/flagged"}
            r = s.delete(f"{server.url}/endpoints/api-hook{v}")
            assert r.status_code == 409 and r.json()["error"]["code"] == "EndpointInUse"
            assert s.delete(f"{server.url}/eventroutes/to-api{v}").status_code == 204
            assert s.delete(f"{server.url}/endpoints/api-hook{v}").status_code == 204
            assert s.get(f"{server.url}/endpoints/api-hook{v}").json()["error"]["code"] == "EndpointNotFound"
        finally:
            status, _, err = server.stop()
        assert status == 0, err

        # The deletion is saved too; --webhook under a saved name with another URL is refused.
        server = Server(store)
        try:
            assert s.get(f"{server.url}/endpoints/api-hook{v}").status_code == 404
            assert s.get(f"{server.url}/endpoints/flagged{v}").status_code == 200
        finally:
            server.stop()
        refused = subprocess.run([CLI, "serve", "--store", str(store), "--listen", "127.0.0.1:0",
                                  "--webhook", f"flagged={base}/elsewhere"], capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "already has an endpoint flagged" in refused.stderr
    finally:
        hook.shutdown()
