"""`twinsim serve --auth`: bearer tokens (RS256 and HS256 from `twinsim token`),
ADT's roles and actions, custom roles, scoped assignments. Walks the whole
matrix: every operation x (no token, bad signature, expired, wrong audience,
Reader, Owner, scoped inside and outside its scope), over TLS
(docs/service.md, "Authentication and roles")."""

import base64
import json
import subprocess
import uuid

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from azure.digitaltwins.core import DigitalTwinsClient

from service_fixtures import CLI, Server, StaticToken, make_test_ca

pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

CONTEXT = "dtmi:dtdl:context;3"
SENSOR = {"@context": CONTEXT, "@id": "dtmi:test:Sensor;1", "@type": "Interface",
          "contents": [{"@type": "Telemetry", "name": "temperature", "schema": "double"}]}
ROOM = {"@context": CONTEXT, "@id": "dtmi:test:Room;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "t", "schema": "double"},
                     {"@type": "Component", "name": "sensor", "schema": "dtmi:test:Sensor;1"},
                     {"@type": "Relationship", "name": "next",
                      "properties": [{"@type": "Property", "name": "w", "schema": "double"}]},
                     {"@type": "Telemetry", "name": "occupancy", "schema": "integer"}]}
SPECIAL = {"@context": CONTEXT, "@id": "dtmi:test:Special;1", "@type": "Interface", "extends": "dtmi:test:Room;1"}
READER = "Azure Digital Twins Data Reader"
OWNER = "Azure Digital Twins Data Owner"


def token(key, *, sub="someone", roles=(), audience=None, expires_in=3600, alg=None):
    args = [CLI, "token", "--key", str(key), "--sub", sub, "--expires-in", str(expires_in)]
    for role in roles:
        args += ["--role", role]
    if audience:
        args += ["--audience", audience]
    if alg:
        args += ["--alg", alg]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    ca, cert, key = make_test_ca(folder / "tls")
    signing = folder / "signing.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(signing), "2048"], check=True, capture_output=True)
    other = folder / "other.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(other), "2048"], check=True, capture_output=True)
    jwks = json.loads(subprocess.run([CLI, "token", "--key", str(signing), "--jwks"], check=True, capture_output=True,
                                     text=True).stdout)
    secret = base64.urlsafe_b64encode(b"s" * 40).decode().rstrip("=")
    hmac_jwks = {"keys": [{"kty": "oct", "kid": "shared", "alg": "HS256", "k": secret}]}
    (folder / "hmac.json").write_text(json.dumps(hmac_jwks), encoding="utf-8")
    jwks["keys"] += hmac_jwks["keys"]
    (folder / "jwks.json").write_text(json.dumps(jwks), encoding="utf-8")
    auth = {
        "jwks": "jwks.json",
        "issuers": ["twinsim"],
        "roles": [{"name": "Telemetry sender", "actions": ["Microsoft.DigitalTwins/digitaltwins/action"]}],
        "assignments": [
            {"subject": "scoped", "role": OWNER, "scope": {"idPrefixes": ["in-"]}},
            {"subject": "special-reader", "role": READER, "scope": {"models": ["dtmi:test:Special;1"]}},
            {"subject": "sender", "role": "Telemetry sender"},
        ],
    }
    (folder / "auth.json").write_text(json.dumps(auth), encoding="utf-8")
    server = Server(folder / "store", cert=cert, key=key, extra=["--auth", str(folder / "auth.json")])
    owner = token(signing, sub="admin", roles=[OWNER])
    session = requests.Session()
    session.verify = str(ca)
    session.trust_env = False
    base = server.url

    def call(method, path, bearer, body=None, headers=()):
        h = dict(headers)
        if bearer is not None:
            h["Authorization"] = f"Bearer {bearer}"
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        sep = "&" if "?" in path else "?"
        return session.request(method, f"{base}{path}{sep}api-version=2023-10-31", data=body, headers=h)

    assert call("POST", "/models", owner, json.dumps([SENSOR, ROOM, SPECIAL])).status_code == 201
    for twin, model in (("in-1", "dtmi:test:Room;1"), ("out-1", "dtmi:test:Room;1"), ("sp-1", "dtmi:test:Special;1")):
        body = {"$metadata": {"$model": model}, "sensor": {"$metadata": {}}, "t": 1.0}
        assert call("PUT", f"/digitaltwins/{twin}", owner, json.dumps(body)).status_code == 200
    for source, target in (("in-1", "out-1"), ("out-1", "in-1")):
        rel = {"$relationshipName": "next", "$targetId": target}
        assert call("PUT", f"/digitaltwins/{source}/relationships/r1", owner, json.dumps(rel)).status_code == 200
    tokens = {
        "bad signature": token(other, roles=[OWNER]),
        "tampered": owner[:-4] + ("AAAA" if not owner.endswith("AAAA") else "BBBB"),
        "expired": token(signing, roles=[OWNER], expires_in=-300),
        "wrong audience": token(signing, roles=[OWNER], audience="https://example.com"),
        "hs256 owner": token(folder / "hmac.json", roles=[OWNER]),
        "reader": token(signing, sub="reader", roles=[READER]),
        "scoped": token(signing, sub="scoped"),
        "sender": token(signing, sub="sender"),
    }
    yield {"server": server, "call": call, "key": signing, "other": other, "hmac": folder / "hmac.json", "ca": ca,
           "owner": owner, "tokens": tokens}
    server.stop()


# (operation, method, path with {t} for the twin, body, extra headers). Write
# bodies are refused by validation (or preconditions) once authorised, so the
# matrix never changes the store: allowed means "not 401 or 403".
OPERATIONS = [
    ("create_models", "POST", "/models", "[]", {}),
    ("list_models", "GET", "/models", None, {}),
    ("get_model", "GET", "/models/dtmi:test:Room;1", None, {}),
    ("decommission_model", "PATCH", "/models/dtmi:test:Nothing;1",
     '[{"op": "replace", "path": "/decommissioned", "value": true}]', {"Content-Type": "application/json-patch+json"}),
    ("delete_model", "DELETE", "/models/dtmi:test:Nothing;1", None, {}),
    ("query_twins", "POST", "/query", '{"query": "SELECT * FROM DIGITALTWINS"}', {}),
    ("get_digital_twin", "GET", "/digitaltwins/{t}", None, {}),
    ("upsert_digital_twin", "PUT", "/digitaltwins/{t}", '{"$metadata": {"$model": "dtmi:test:Room;1"}, "bad": 1}', {}),
    ("update_digital_twin", "PATCH", "/digitaltwins/{t}", '[{"op": "move", "path": "/t"}]', {}),
    ("delete_digital_twin", "DELETE", "/digitaltwins/{t}", None, {"If-Match": 'W/"bogus"'}),
    ("get_component", "GET", "/digitaltwins/{t}/components/sensor", None, {}),
    ("update_component", "PATCH", "/digitaltwins/{t}/components/sensor", '[{"op": "move", "path": "/x"}]', {}),
    ("get_relationship", "GET", "/digitaltwins/{t}/relationships/r1", None, {}),
    ("upsert_relationship", "PUT", "/digitaltwins/{t}/relationships/r9", "{}", {}),
    ("update_relationship", "PATCH", "/digitaltwins/{t}/relationships/r1", '[{"op": "move", "path": "/w"}]', {}),
    ("delete_relationship", "DELETE", "/digitaltwins/{t}/relationships/r1", None, {"If-Match": 'W/"bogus"'}),
    ("list_relationships", "GET", "/digitaltwins/{t}/relationships", None, {}),
    ("list_incoming_relationships", "GET", "/digitaltwins/{t}/incomingrelationships", None, {}),
    ("publish_telemetry", "POST", "/digitaltwins/{t}/telemetry", '{"occupancy": 1}', {"Message-Id": "m"}),
    ("publish_component_telemetry", "POST", "/digitaltwins/{t}/components/sensor/telemetry", '{"temperature": 1.0}',
     {"Message-Id": "m"}),
    ("list_event_routes", "GET", "/eventroutes", None, {}),
    ("get_event_route", "GET", "/eventroutes/none", None, {}),
    ("upsert_event_route", "PUT", "/eventroutes/x", '{"endpointName": "nowhere", "filter": "true"}', {}),
    ("delete_event_route", "DELETE", "/eventroutes/none", None, {}),
    ("list_endpoints", "GET", "/endpoints", None, {}),
    ("get_endpoint", "GET", "/endpoints/none", None, {}),
    ("upsert_endpoint", "PUT", "/endpoints/x", '{"endpointType": "nope"}', {}),
    ("delete_endpoint", "DELETE", "/endpoints/none", None, {}),
]
READER_MAY = {"list_models", "get_model", "query_twins", "get_digital_twin", "get_component", "get_relationship",
              "list_relationships", "list_incoming_relationships", "list_event_routes", "get_event_route",
              "list_endpoints", "get_endpoint"}
TWIN_OPERATIONS = {name for name, _, path, _, _ in OPERATIONS if "{t}" in path}


def run(setup, operation, bearer, twin="in-1"):
    name, method, path, body, headers = operation
    return setup["call"](method, path.replace("{t}", twin), bearer, body, headers)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_every_operation_across_callers(setup, operation):
    name = operation[0]
    tokens = setup["tokens"]
    refused = {"no token": None, **{case: tokens[case] for case in ("bad signature", "tampered", "expired", "wrong audience")}}
    for case, bearer in refused.items():
        r = run(setup, operation, bearer)
        assert r.status_code == 401, (case, r.text)
        assert r.headers["x-ms-error-code"] == "Unauthorized" and "WWW-Authenticate" in r.headers

    r = run(setup, operation, setup["owner"])
    assert r.status_code not in (401, 403), r.text
    r = run(setup, operation, tokens["hs256 owner"])  # HS256 from the shared secret
    assert r.status_code not in (401, 403), r.text

    r = run(setup, operation, tokens["reader"])
    if name in READER_MAY:
        assert r.status_code not in (401, 403), r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "Forbidden" and "Microsoft.DigitalTwins/" in r.json()["error"]["message"]

    scoped = tokens["scoped"]  # Data Owner on twins whose id starts with "in-"
    inside, outside = run(setup, operation, scoped, "in-1"), run(setup, operation, scoped, "out-1")
    assert inside.status_code not in (401, 403), inside.text
    if name in TWIN_OPERATIONS:
        assert outside.status_code == 403 and "out-1" in outside.json()["error"]["message"], outside.text
    else:
        assert outside.status_code not in (401, 403), outside.text

    sender = tokens["sender"]  # the custom role: digitaltwins/action only
    r = run(setup, operation, sender)
    expected_allowed = name in ("publish_telemetry", "publish_component_telemetry")
    assert (r.status_code not in (401, 403)) == expected_allowed, r.text


def test_health_needs_no_token_and_the_store_is_unchanged_by_the_matrix(setup):
    call = setup["call"]
    r = requests.get(setup["server"].url + "/health", verify=str(setup["ca"]))
    assert r.status_code == 200
    twin = call("GET", "/digitaltwins/in-1", setup["owner"]).json()
    assert twin["t"] == 1.0
    assert call("GET", "/digitaltwins/in-1/relationships/r1", setup["owner"]).status_code == 200
    assert call("GET", "/models/dtmi:test:Room;1", setup["owner"]).json()["decommissioned"] is False


def test_a_query_answers_only_the_twins_the_caller_may_read(setup):
    call, key = setup["call"], setup["key"]
    q = json.dumps({"query": "SELECT * FROM DIGITALTWINS"})
    ids = lambda bearer: sorted(t["$dtId"] for t in call("POST", "/query", bearer, q).json()["value"])  # noqa: E731
    assert ids(setup["owner"]) == ["in-1", "out-1", "sp-1"]
    assert ids(token(key, sub="scoped")) == ["in-1"]
    assert ids(token(key, sub="special-reader")) == ["sp-1"]  # scoped by model (Special extends Room)
    joined = json.dumps({"query": "SELECT A, B FROM DIGITALTWINS A JOIN B RELATED A.next"})
    rows = call("POST", "/query", token(key, sub="scoped"), joined).json()["value"]
    assert rows == []  # in-1 -> out-1 and out-1 -> in-1 both name a twin outside the scope
    count = json.dumps({"query": "SELECT COUNT() FROM DIGITALTWINS"})
    r = call("POST", "/query", token(key, sub="scoped"), count)
    assert r.status_code == 403 and "scoped" in r.json()["error"]["message"]
    assert call("POST", "/query", setup["owner"], count).json()["value"] == [{"COUNT": 3}]
    assert call("GET", "/digitaltwins/sp-1", token(key, sub="special-reader")).status_code == 200
    assert call("GET", "/digitaltwins/in-1", token(key, sub="special-reader")).status_code == 403


def test_the_sdk_sees_401_and_403_as_its_exceptions(setup):
    key, url, ca = setup["key"], setup["server"].url, str(setup["ca"])
    reader = DigitalTwinsClient(url, StaticToken(token(key, sub="r", roles=[READER])), connection_verify=ca)
    assert reader.get_digital_twin("in-1")["$dtId"] == "in-1"
    with pytest.raises(HttpResponseError) as e:
        reader.upsert_digital_twin("new", {"$metadata": {"$model": "dtmi:test:Room;1"}, "sensor": {"$metadata": {}}})
    assert e.value.status_code == 403 and e.value.error.code == "Forbidden"
    expired = DigitalTwinsClient(url, StaticToken(token(key, roles=[OWNER], expires_in=-300)), connection_verify=ca)
    with pytest.raises(ClientAuthenticationError):
        expired.get_digital_twin("in-1")
    owner = DigitalTwinsClient(url, StaticToken(token(setup["hmac"], sub="h", roles=[OWNER])), connection_verify=ca)
    owner.publish_telemetry("in-1", {"occupancy": 2}, message_id=str(uuid.uuid4()))


def test_results_files_need_digitaltwins_read_without_a_scope(setup):
    """/results (twinsim serve --results): a results file holds runs of the whole graph, so a role
    scoped to some twins may not read it. This server has no --results: an authorised call gets 501."""
    call, tokens = setup["call"], setup["tokens"]
    for path in ("/results", "/results/x.h5", "/results/x.h5/comparison", "/results/x.h5/sparkline"):
        assert call("GET", path, None).status_code == 401
        for bearer in (setup["owner"], tokens["reader"]):
            r = call("GET", path, bearer)
            assert r.status_code == 501 and "--results DIR" in r.json()["error"]["message"], r.text
        r = call("GET", path, tokens["scoped"])
        assert r.status_code == 403 and "only within a scope" in r.json()["error"]["message"], r.text
        r = call("GET", path, tokens["sender"])
        assert r.status_code == 403 and "digitaltwins/read" in r.json()["error"]["message"], r.text


def test_the_event_stream_shows_a_scoped_caller_only_its_twins(setup):
    import threading

    import requests

    url = setup["server"].url + "/events?api-version=2023-10-31"
    r = requests.get(url, verify=str(setup["ca"]), timeout=30)
    assert r.status_code == 401
    stream = requests.get(url, stream=True, verify=str(setup["ca"]), timeout=60,
                          headers={"Authorization": f"Bearer {setup['tokens']['scoped']}"})
    assert stream.status_code == 200
    subjects = []

    def reader():
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                subjects.append(json.loads(line[6:])["subject"])
                if subjects[-1] == "in-1":
                    return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    call, owner = setup["call"], setup["owner"]
    patch = json.dumps([{"op": "replace", "path": "/t", "value": 5.0}])
    assert call("PATCH", "/digitaltwins/out-1", owner, patch, {"Content-Type": "application/json-patch+json"}).status_code == 204
    assert call("PATCH", "/digitaltwins/in-1", owner, patch, {"Content-Type": "application/json-patch+json"}).status_code == 204
    thread.join(30)
    stream.close()
    assert subjects == ["in-1"]  # out-1's update was not shown


def test_bad_auth_files_and_keys_are_refused_with_reasons(tmp_path):
    bad = tmp_path / "auth.json"
    bad.write_text(json.dumps({"jwks": {"keys": []}}), encoding="utf-8")
    r = subprocess.run([CLI, "serve", "--store", str(tmp_path / "s"), "--listen", "127.0.0.1:0", "--auth", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no keys" in r.stderr
    bad.write_text(json.dumps({"jwks": {"keys": [{"kty": "oct", "k": "c2hvcnQ"}]}}), encoding="utf-8")
    r = subprocess.run([CLI, "serve", "--store", str(tmp_path / "s"), "--listen", "127.0.0.1:0", "--auth", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "at least 32 bytes" in r.stderr
    bad.write_text(json.dumps({"jwks": {"keys": []}, "assignments": [{"subject": "x", "role": "Nope"}]}), encoding="utf-8")
    r = subprocess.run([CLI, "serve", "--store", str(tmp_path / "s"), "--listen", "127.0.0.1:0", "--auth", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
