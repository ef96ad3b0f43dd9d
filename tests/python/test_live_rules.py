"""Live rules from Python and the CLI (models/rules/rules.md, "Live rules"):
rule sets added, listed and removed at run time on a plain graph and on a
store, checked against the models, firings committed with the rule as cause,
kept by the store and run again by `twinsim ingest --store` / open_store."""

import json
import os
import pathlib
import subprocess

import pytest

import twinsim

ROOT = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILDING = ROOT / "scenarios" / "building" / "building.ndjson"
MODELS = ROOT / "models" / "building"
CLI = os.environ.get("TWINSIM_CLI")

HOT_ROOM = {
    "clock": "source",
    "groups": [{
        "where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND $dtId = 'room-01-01'",
        "rules": [{
            "name": "too hot",
            "when": "temperature > 26",
            "for": "PT15M",
            "then": [{"alarm": "room above 26 °C for 15 minutes"}, {"set": {"temperatureSetpoint": 21.0}}],
        }],
    }],
}

SENSOR_MEAN = """
- where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
  rules:
    - name: room temperature from its sensor
      relationship: hasPoint
      direction: outgoing
      aggregate: mean
      source_property: temperature
      target_property: temperature
      where: "IS_OF_MODEL('dtmi:twinsim:building:TemperatureSensor;1')"
"""


def set_temperature(graph, twin, value, source_time):
    graph.update_digital_twin(twin, [
        {"op": "replace", "path": "/temperature", "value": value},
        {"op": "add", "path": "/$metadata/temperature/sourceTime", "value": source_time},
    ])


def test_rules_on_a_plain_graph_fire_with_the_rule_as_cause():
    graph = twinsim.TwinGraph.from_ndjson(BUILDING, models=MODELS)
    events = []
    graph.add_endpoint("memory", events.append)
    graph.upsert_event_route("all", {"endpointName": "memory", "filter": "true"})
    rule_set = graph.add_rules(HOT_ROOM)
    assert rule_set == "rules-1"
    assert [r["rules"] for r in graph.rules()] == [["too hot"]]
    set_temperature(graph, "room-01-01", 27.0, "2026-07-01T12:00:00Z")
    set_temperature(graph, "room-01-01", 27.5, "2026-07-01T12:14:00Z")
    graph.drain_rules()
    assert graph.rule_firings() == []
    set_temperature(graph, "room-01-01", 28.0, "2026-07-01T12:16:00Z")
    graph.drain_rules()
    [firing] = graph.rule_firings()
    assert firing["rule"] == "too hot" and firing["twin"] == "room-01-01"
    assert firing["source_time"] == "2026-07-01T12:15:00.0000000Z"
    assert firing["alarms"] == ["room above 26 °C for 15 minutes"]
    assert graph.get_digital_twin("room-01-01")["temperatureSetpoint"] == 21.0
    graph.close_events()
    caused = [e for e in events if e.get("twinsimcause")]
    assert [e["twinsimcause"] for e in caused] == ["rule:too hot"]
    assert caused[0]["subject"] == "room-01-01"
    stats = graph.rules_statistics()
    assert stats["firings"] == 1 and stats["failures"] == 0
    graph.remove_rules(rule_set)
    assert graph.rules() == []
    with pytest.raises(twinsim.RuleFileError):
        graph.remove_rules(rule_set)
    graph.stop_rules()
    assert graph.rules() == [] and graph.rules_statistics()["firings"] == 0


def test_an_unrelated_write_evaluates_nothing(tmp_path):
    graph = twinsim.TwinGraph.from_ndjson(BUILDING, models=MODELS)
    path = tmp_path / "rooms.yaml"
    path.write_text(SENSOR_MEAN)
    graph.add_rules(path)
    graph.drain_rules()
    before = graph.rules_statistics()
    graph.update_digital_twin("chiller-1", [{"op": "replace", "path": "/runHours", "value": 1.0}])
    graph.drain_rules()
    after = graph.rules_statistics()
    assert after["batches"] == before["batches"] + 1
    assert after["recomputations"] == before["recomputations"]
    graph.update_digital_twin("room-02-02-temperature", [{"op": "replace", "path": "/temperature", "value": 31.0}])
    graph.drain_rules()
    assert graph.rules_statistics()["recomputations"] == before["recomputations"] + 1
    assert graph.get_digital_twin("room-02-02")["temperature"] == 31.0
    graph.stop_rules()


def test_a_bad_rule_file_is_refused_with_file_line_rule_and_field(tmp_path):
    graph = twinsim.TwinGraph.from_ndjson(BUILDING, models=MODELS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(SENSOR_MEAN.replace("source_property: temperature", "source_property: temprature"))
    with pytest.raises(twinsim.RuleFileError) as caught:
        graph.add_rules(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}:8: groups[0].rules[0].source_property: rule \"room temperature from its sensor\"")
    assert "temprature" in message
    assert isinstance(caught.value, ValueError)
    assert graph.rules() == []
    graph.stop_rules()


def test_a_store_keeps_its_rules_and_runs_them_when_reopened(tmp_path):
    store_dir = tmp_path / "site"
    with twinsim.open_store(store_dir) as store:
        documents = []
        for path in sorted(MODELS.glob("*.json")):
            loaded = json.loads(path.read_text())
            documents.extend(loaded if isinstance(loaded, list) else [loaded])
        store.create_models(documents)
        store.import_ndjson(BUILDING)
        store.add_rules(HOT_ROOM)
        assert (store_dir / "rules" / "rules-1.json").exists()
    with twinsim.open_store(store_dir) as store:
        assert [r["id"] for r in store.rules()] == ["rules-1"]
        set_temperature(store, "room-01-01", 27.0, "2026-07-01T12:00:00Z")
        set_temperature(store, "room-01-01", 27.0, "2026-07-01T12:20:00Z")
        store.drain_rules()
        assert [f["rule"] for f in store.rule_firings()] == ["too hot"]
        assert store.get_digital_twin("room-01-01")["temperatureSetpoint"] == 21.0
        # The history names the rule as the cause of what it wrote, and nothing else.
        frame = store.history(twins="room-01-01")
        caused = frame[frame["Cause"].notna()]
        assert caused["Key"].tolist() == ["temperatureSetpoint"]
        assert caused["Cause"].tolist() == ["rule:too hot"]
        assert set(frame[frame["Key"] == "temperature"]["Cause"].isna()) == {True}
    if CLI:
        run = subprocess.run([CLI, "history", "--store", store_dir, "--twin", "room-01-01", "--property",
                              "temperatureSetpoint", "--format", "ndjson"], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        rows = [json.loads(line) for line in run.stdout.splitlines()]
        assert [(r["Value"], r["Cause"]) for r in rows][-1] == (21.0, "rule:too hot")


@pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")
def test_cli_rules_add_list_remove_and_ingest_runs_them(tmp_path):
    store_dir = tmp_path / "building.store"

    def twinsim_cli(*args):
        return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)

    run = twinsim_cli("import", "--store", store_dir, "--models", MODELS, BUILDING)
    assert run.returncode == 0, run.stderr
    rules = tmp_path / "rooms.yaml"
    rules.write_text(SENSOR_MEAN)
    run = twinsim_cli("rules", "add", "--store", store_dir, rules, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["id"] == "rules-1"

    bad = tmp_path / "bad.yaml"
    bad.write_text(SENSOR_MEAN.replace("relationship: hasPoint", "relationship: hasPont"))
    run = twinsim_cli("rules", "add", "--store", store_dir, bad)
    assert run.returncode == 1
    assert f"{bad}:5: groups[0].rules[0].relationship:" in run.stderr and "hasPont" in run.stderr

    run = twinsim_cli("rules", "list", "--store", store_dir, "--json")
    assert run.returncode == 0, run.stderr
    assert [(s["id"], s["rules"]) for s in json.loads(run.stdout)] == [("rules-1", ["room temperature from its sensor"])]

    feed = tmp_path / "feed.csv"
    feed.write_text("time,twin,property,value\n2026-07-01T12:00:00Z,room-03-04-temperature,temperature,29.5\n")
    run = twinsim_cli("ingest", "--store", store_dir, feed)
    assert run.returncode == 0, run.stderr
    assert "live rules:" in run.stdout
    run = twinsim_cli("query", "--store", store_dir, "SELECT T.temperature FROM DIGITALTWINS T WHERE T.$dtId = 'room-03-04'")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["value"] == [{"temperature": 29.5}]

    run = twinsim_cli("rules", "remove", "--store", store_dir, "rules-1")
    assert run.returncode == 0, run.stderr
    run = twinsim_cli("rules", "remove", "--store", store_dir, "rules-1")
    assert run.returncode == 1 and "keeps no rule set \"rules-1\"" in run.stderr
    run = twinsim_cli("rules", "list", "--store", store_dir)
    assert "keeps no rule sets" in run.stdout


def test_cli_rules_list_and_remove_take_the_store_lock(tmp_path):
    store_dir = tmp_path / "locked.store"

    def twinsim_cli(*args):
        return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)

    run = twinsim_cli("import", "--store", store_dir, "--models", MODELS, BUILDING)
    assert run.returncode == 0, run.stderr
    rules = tmp_path / "rooms.yaml"
    rules.write_text(SENSOR_MEAN)
    assert twinsim_cli("rules", "add", "--store", store_dir, rules).returncode == 0
    with twinsim.open_store(store_dir):
        # The store is open here: its rules run in this process, so another
        # process may neither list a changing set nor remove one from under it.
        for args in (("list",), ("remove", "rules-1")):
            run = twinsim_cli("rules", *args, "--store", store_dir)
            assert run.returncode == 2, run.stdout
            assert "already open in process" in run.stderr and str(os.getpid()) in run.stderr
    assert (store_dir / "rules" / "rules-1.json").exists()
    run = twinsim_cli("rules", "list", "--store", store_dir)
    assert run.returncode == 0 and "rules-1" in run.stdout
    run = twinsim_cli("rules", "list", "--store", tmp_path / "nowhere")
    assert run.returncode == 2 and "is not a store" in run.stderr

