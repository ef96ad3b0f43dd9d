"""MQTT ingestion (`twinsim ingest --mqtt`) and the MQTT route endpoint against a
real mosquitto broker on a free loopback port, with device messages published
by paho-mqtt (docs/ingest.md "MQTT", docs/events.md)."""

import getpass
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

import pytest

import twinsim

SOURCE = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SAMPLE = SOURCE / "scenarios" / "ingest"
CLI = os.environ.get("TWINSIM_CLI")

cli = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)

MAPPING = """
mappings:
  - name: ahu-telemetry
    topic: "site/{site}/ahu/{ahu}/telemetry"
    twin: {id: "ahu-{ahu}"}
    model: "dtmi:example:ingest:AirHandler;1"
    set:
      sat: supplyTemperature
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A mosquitto on 127.0.0.1:port with persistence in `directory`, restartable."""

    def __init__(self, directory):
        assert MOSQUITTO, "the mosquitto broker is not installed (Debian package mosquitto; scripts/run-tests installs it)"
        self.directory = directory
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {directory}/\nautosave_interval 1\n"
            # Started by root, mosquitto would switch to user mosquitto, who cannot write here.
            f"user {getpass.getuser()}\n"
        )
        self.process = None
        self.start()

    def start(self):
        self.log = open(self.directory / "broker.log", "ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.directory / "broker.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto did not start listening")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # a clean stop saves the persistence file
            self.process.wait(timeout=20)
        self.log.close()

    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
def broker(tmp_path):
    directory = tmp_path / "broker"
    directory.mkdir()
    b = Broker(directory)
    yield b
    b.stop()


def publish(broker, messages, client_id="device-gateway"):
    """Publishes (topic, payload) pairs with QoS 1 and waits for each PUBACK: the broker accepted it."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            info = client.publish(topic, text, qos=1)
            info.wait_for_publish(timeout=20)
            assert info.is_published(), f"the broker did not accept {topic} {text}"
    finally:
        client.loop_stop()
        client.disconnect()


def make_store(tmp_path):
    store = tmp_path / "store"
    made = subprocess.run([CLI, "import", "--store", store, "--models", SAMPLE / "models.json", SAMPLE / "graph.ndjson"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    return store, mapping


def start_ingest(store, mapping, broker, *extra):
    return subprocess.Popen([CLI, "ingest", "--store", store, "--mapping", mapping, "--mqtt", broker.url(),
                             "--client-id", "twinsim-test", "--json", *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, json.loads(out) if out.strip() else None, err


def establish_session(store, mapping, broker, topic):
    """A first ingest that makes the persistent session and its subscription, then stops at one message.
    Until the subscription exists a publish reaches nobody, so the first reading (one id: one update) is
    repeated until it is taken."""
    first = start_ingest(store, mapping, broker, "--max-messages", 1, "--idle", 60)
    deadline = time.monotonic() + 30
    while first.poll() is None and time.monotonic() < deadline:
        publish(broker, [(topic, reading(0))])
        time.sleep(0.3)
    code, report, err = finish(first)
    assert code == 0, err
    assert report["updates"] == 1 and report["mqtt"]["connects"] == 1
    return report


def wait_connected(broker, count, deadline=30):
    """Until the broker's log shows the ingest client's `count`-th connection."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if (broker.directory / "broker.log").read_text(errors="replace").count(" as twinsim-test") >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the ingest client did not connect")


def history_values(store, twin, prop):
    out = subprocess.run([CLI, "history", "--store", store, "--twin", twin, "--property", prop, "--format", "ndjson"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [json.loads(line)["Value"] for line in out.stdout.splitlines() if line.strip()]


def reading(n, **more):
    return {"id": f"m{n}", "time": f"2026-07-01T12:{n // 60 % 60:02d}:{n % 60:02d}Z", "sat": float(n), **more}


@cli
def test_device_messages_update_twins_and_history_bad_ones_dead_lettered(tmp_path, broker):
    store, mapping = make_store(tmp_path)
    establish_session(store, mapping, broker, "site/north/ahu/3/telemetry")
    # The session stays: messages published while no ingest runs are kept by the broker.
    publish(broker, [
        ("site/north/ahu/3/telemetry", reading(1)),
        ("site/north/ahu/3/telemetry", "{not json"),                      # malformed
        ("site/north/ahu/99/telemetry", reading(2)),                      # no twin ahu-99
        ("site/north/ahu/3/telemetry", {"id": "m3", "sat": "warm"}),      # not a number
        ("site/north/ahu/3/telemetry", reading(4)),
        ("site/north/ahu/3/telemetry", reading(4)),                       # a duplicate id
    ])
    code, report, err = finish(start_ingest(store, mapping, broker, "--idle", 2))
    assert code == 1, err  # bad rows: exit 1, the good ones applied
    assert (report["rows"], report["updates"], report["duplicates"]) == (6, 2, 1)
    reasons = {(b["source"], b["field"]): b["reason"] for b in report["bad_rows"]}
    assert "malformed JSON" in reasons[("mqtt:site/north/ahu/3/telemetry", "")]
    assert "no twin 'ahu-99'" in reasons[("mqtt:site/north/ahu/99/telemetry", "ahu")]
    assert "expected a number" in reasons[("mqtt:site/north/ahu/3/telemetry", "sat")]
    dead = [json.loads(line) for line in (store / "dead-letter.ndjson").read_text().splitlines()]
    assert len(dead) == 3 and dead[0]["record"] == "{not json"
    assert [d["record"]["id"] for d in dead if "ahu-99" in d["reason"]] == ["m2"]
    with twinsim.open_store(store) as stored:
        ahu = stored.get_digital_twin("ahu-3")
        assert ahu["supplyTemperature"] == 4.0
        assert ahu["$metadata"]["supplyTemperature"]["sourceTime"].startswith("2026-07-01T12:00:04")
    assert history_values(store, "ahu-3", "supplyTemperature")[-3:] == [0.0, 1.0, 4.0]


@cli
def test_a_broker_restart_loses_no_accepted_qos1_message(tmp_path, broker):
    store, mapping = make_store(tmp_path)
    topic = "site/s/ahu/3/telemetry"
    establish_session(store, mapping, broker, topic)
    # Accepted while the ingest is away, then the broker restarts: kept by its persistence.
    publish(broker, [(topic, reading(n)) for n in range(1, 51)])
    broker.stop()
    broker.start()
    ingest = start_ingest(store, mapping, broker, "--idle", 4)
    publish(broker, [(topic, reading(n)) for n in range(51, 101)])
    # Mid-stream: the broker restarts under the running ingest, which reconnects with backoff.
    wait_connected(broker, 2)
    broker.stop()
    broker.start()
    publish(broker, [(topic, reading(n)) for n in range(101, 151)])
    code, report, err = finish(ingest)
    assert code == 0, err
    assert report["bad_rows"] == []
    assert report["mqtt"]["connects"] >= 2 and report["mqtt"]["disconnects"] >= 1
    values = history_values(store, "ahu-3", "supplyTemperature")
    missing = sorted(set(range(151)) - {int(v) for v in values})
    assert missing == [], (report, err)


@cli
def test_mqtt_usage_errors(tmp_path, broker):
    store, mapping = make_store(tmp_path)
    bad_url = subprocess.run([CLI, "ingest", "--store", store, "--mapping", mapping, "--mqtt", "http://x:1"],
                             capture_output=True, text=True, timeout=60)
    assert bad_url.returncode == 2 and "mqtt://HOST" in bad_url.stderr
    reject = subprocess.run([CLI, "ingest", "--store", store, "--mapping", mapping, "--mqtt", broker.url(),
                             "--policy", "reject"], capture_output=True, text=True, timeout=60)
    assert reject.returncode == 2 and "dead-letter" in reject.stderr
    bad_topic = tmp_path / "bad.yaml"
    bad_topic.write_text(MAPPING.replace("site/{site}/ahu/{ahu}/telemetry", "site/#/ahu/{ahu}"))
    refused = subprocess.run([CLI, "ingest", "--store", store, "--mapping", bad_topic, "--mqtt", broker.url()],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "mappings[0].topic" in refused.stderr and "'#' must be the last" in refused.stderr


@cli
def test_sigterm_stops_cleanly_and_nothing_is_lost(tmp_path, broker):
    store, mapping = make_store(tmp_path)
    topic = "site/x/ahu/3/telemetry"
    establish_session(store, mapping, broker, topic)
    ingest = start_ingest(store, mapping, broker)  # no limit: runs until a signal
    wait_connected(broker, 2)
    publish(broker, [(topic, reading(n)) for n in range(1, 101)])
    ingest.send_signal(signal.SIGTERM)
    code, first, err = finish(ingest)
    assert code == 0, err
    # What the stopped run did not take, the next one gets: together every message once.
    code, second, err = finish(start_ingest(store, mapping, broker, "--idle", 2))
    assert code == 0, err
    assert first["updates"] + second["updates"] == 100
    values = history_values(store, "ahu-3", "supplyTemperature")
    assert sorted(int(v) for v in values if v != 0) == list(range(1, 101))


@cli
def test_an_mqtt_route_endpoint_publishes_cloudevents(tmp_path, broker):
    import paho.mqtt.client as mqtt

    store, mapping = make_store(tmp_path)
    added = subprocess.run([CLI, "routes", "add-endpoint", "--store", store, "bus", "--mqtt", broker.url(),
                            "--topic", "twins/{twin}/{type}"], capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    routed = subprocess.run([CLI, "routes", "add", "--store", store, "updates", "--endpoint", "bus", "--filter",
                             "type = 'Microsoft.DigitalTwins.Twin.Update'"], capture_output=True, text=True, timeout=60)
    assert routed.returncode == 0, routed.stderr
    listed = subprocess.run([CLI, "routes", "list", "--store", store], capture_output=True, text=True, timeout=60)
    assert f"endpoint bus: MQTT {broker.url()} topic twins/{{twin}}/{{type}} (QoS 1)" in listed.stdout
    received = []
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener")
    subscriber.on_message = lambda client, userdata, message: received.append(message)
    subscriber.connect("127.0.0.1", broker.port)
    subscriber.subscribe("twins/#", qos=1)
    subscriber.loop_start()
    try:
        time.sleep(0.5)  # the SUBACK
        # A file ingest into the store: its committed update goes along the store's routes.
        ingested = subprocess.run([CLI, "ingest", "--store", store, "--mapping", SAMPLE / "mapping.yaml",
                                   SAMPLE / "messages.ndjson"], capture_output=True, text=True, timeout=120)
        assert ingested.returncode == 0, ingested.stderr
        assert "routed" in ingested.stdout and "0 dead-lettered" in ingested.stdout, ingested.stdout
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(m.topic.startswith("twins/ahu-3/") for m in received):
            time.sleep(0.05)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    by_topic = {m.topic: json.loads(m.payload) for m in received}
    event = by_topic["twins/ahu-3/Microsoft.DigitalTwins.Twin.Update"]
    assert event["specversion"] == "1.0" and event["subject"] == "ahu-3"
    assert {"op": "add", "path": "/supplyTemperature", "value": 14.2} in event["data"]["patch"]
    assert all(m.qos == 1 for m in received)
    assert "twins/room-1/Microsoft.DigitalTwins.Twin.Update" in by_topic

    bad = subprocess.run([CLI, "routes", "add-endpoint", "--store", store, "bad", "--mqtt", broker.url(),
                          "--topic", "twins/#"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "wildcards" in bad.stderr


@cli
def test_serve_with_mqtt_ingests_device_messages_seen_through_rest_and_the_event_stream(tmp_path, broker):
    import threading

    import requests

    from service_fixtures import Server

    store, mapping = make_store(tmp_path)
    server = Server(store, extra=["--mqtt", broker.url(), "--mapping", mapping, "--mqtt-client-id", "twinsim-test"])
    try:
        assert server.url.startswith("http://")
        wait_connected(broker, 1)
        api = "?api-version=2023-10-31"
        stream = requests.get(server.url + "/events" + api, stream=True, timeout=60)
        assert stream.status_code == 200
        seen = []

        def reader():
            for line in stream.iter_lines(decode_unicode=True):
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["subject"] == "ahu-3":
                        return

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        # The subscription exists once the broker logged the client; a message published before the
        # SUBACK would be lost to a new session, so the first one is repeated (one id: one update).
        deadline = time.monotonic() + 30
        twin = None
        while time.monotonic() < deadline:
            publish(broker, [("site/north/ahu/3/telemetry", reading(7)),
                             ("site/north/ahu/3/telemetry", "{not json")])
            twin = requests.get(server.url + "/digitaltwins/ahu-3" + api, timeout=30).json()
            if twin.get("supplyTemperature") == 7.0:
                break
            time.sleep(0.3)
        assert twin["supplyTemperature"] == 7.0, twin
        assert twin["$metadata"]["supplyTemperature"]["sourceTime"].startswith("2026-07-01T12:00:07")
        thread.join(30)
        stream.close()
        update = [e for e in seen if e["subject"] == "ahu-3"]
        assert update and update[0]["type"] == "Microsoft.DigitalTwins.Twin.Update", seen
        assert {"op": "add", "path": "/supplyTemperature", "value": 7.0} in update[0]["data"]["patch"] or \
            {"op": "replace", "path": "/supplyTemperature", "value": 7.0} in update[0]["data"]["patch"], update
    finally:
        code, out, err = server.stop()
    assert code == 0, err
    assert "MQTT messages from " + broker.url() in out, out
    dead = [json.loads(line) for line in (store / "dead-letter.ndjson").read_text().splitlines()]
    assert dead and all(d["record"] == "{not json" for d in dead), dead
    assert "malformed JSON" in err, err
    # The message id is remembered by the store: a redelivery after a restart is a duplicate.
    with twinsim.open_store(store) as stored:
        assert stored.get_digital_twin("ahu-3")["supplyTemperature"] == 7.0


@cli
def test_serve_mqtt_usage_errors(tmp_path, broker):
    store, mapping = make_store(tmp_path)
    no_mapping = subprocess.run([CLI, "serve", "--store", store, "--listen", "127.0.0.1:0", "--mqtt", broker.url()],
                                capture_output=True, text=True, timeout=60)
    assert no_mapping.returncode == 2 and "--mqtt needs --mapping" in no_mapping.stderr
    bad_url = subprocess.run([CLI, "serve", "--store", store, "--listen", "127.0.0.1:0", "--mqtt", "http://x:1",
                              "--mapping", mapping], capture_output=True, text=True, timeout=60)
    assert bad_url.returncode == 2 and "mqtt://HOST" in bad_url.stderr
    no_topic = tmp_path / "no-topic.yaml"
    no_topic.write_text(MAPPING.replace('    topic: "site/{site}/ahu/{ahu}/telemetry"\n', "").replace(
        'twin: {id: "ahu-{ahu}"}', 'twin: {id: "ahu-3"}'))
    refused = subprocess.run([CLI, "serve", "--store", store, "--listen", "127.0.0.1:0", "--mqtt", broker.url(),
                              "--mapping", no_topic], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "nothing to subscribe to" in refused.stderr
    stray = subprocess.run([CLI, "serve", "--store", store, "--listen", "127.0.0.1:0", "--mapping", mapping],
                           capture_output=True, text=True, timeout=60)
    assert stray.returncode == 2 and "go with --mqtt" in stray.stderr
