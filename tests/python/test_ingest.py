"""Ingestion from Python (TwinGraph.ingest) and from the command line (`twinsim ingest`),
on the sample under scenarios/ingest (docs/ingest.md)."""

import json
import os
import pathlib
import subprocess

import pytest

import twinsim

SOURCE = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SAMPLE = SOURCE / "scenarios" / "ingest"
CLI = os.environ.get("TWINSIM_CLI")


@pytest.fixture
def graph():
    return twinsim.TwinGraph.from_ndjson(SAMPLE / "graph.ndjson", models=SAMPLE / "models.json")


def value(graph, twin, name):
    return graph.get_digital_twin(twin).get(name)


def source_time(graph, twin, name):
    return graph.get_digital_twin(twin)["$metadata"].get(name, {}).get("sourceTime")


def test_messages_through_a_mapping_file(graph):
    report = graph.ingest(SAMPLE / "messages.ndjson", mapping=SAMPLE / "mapping.yaml")
    assert report["applied"] and report["bad_rows"] == []
    assert (report["rows"], report["updates"], report["duplicates"]) == (4, 3, 1)
    assert value(graph, "room-1", "temperature") == pytest.approx(22.0)  # 71.6 degF, via `serves`
    assert value(graph, "ahu-3", "supplyTemperature") == pytest.approx(14.2)  # id "AHU-3" lower-cased
    assert value(graph, "meter-a", "energy") == pytest.approx(125.0)  # found by serialNumber; MWh -> kWh
    assert source_time(graph, "ahu-3", "supplyTemperature").startswith("2026-07-01T12:00:05")


def test_mapping_as_a_dict_is_checked_against_the_models(graph, tmp_path):
    mapping = {"mappings": [{"twin": {"id": "{dev}", "transform": "lower"}, "set": {"sat": "supplyTemperature"}}]}
    messages = tmp_path / "m.ndjson"
    messages.write_text('{"dev": "AHU-3", "sat": 9.5}\n', encoding="utf-8")
    assert graph.ingest(messages, mapping=mapping)["updates"] == 1
    assert value(graph, "ahu-3", "supplyTemperature") == 9.5
    with pytest.raises(twinsim.MappingError) as info:
        graph.ingest(messages, mapping={"mappings": [{"twin": "{dev}", "follow": "feeds", "set": {"sat": "supplyTemperature"}}]})
    assert info.value.field == "mappings[0].follow"
    assert info.value.line is None
    assert isinstance(info.value, ValueError)


def test_mapping_file_errors_name_file_and_line(graph, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mappings:\n  - twin: \"{d}\"\n    model: dtmi:example:ingest:Room;1\n    set:\n      t: temprature\n")
    with pytest.raises(twinsim.MappingError) as info:
        graph.ingest(SAMPLE / "messages.ndjson", mapping=bad)
    assert (info.value.file, info.value.line, info.value.field) == (str(bad), 5, "mappings[0].set.t.property")


def test_long_and_wide_csv_files(graph):
    report = graph.ingest([SAMPLE / "long.csv", SAMPLE / "wide.csv"], mapping=SAMPLE / "mapping.yaml")
    assert report["bad_rows"] == []
    assert report["updates"] == 10
    assert value(graph, "room-1", "temperature") == 21.75  # the wide file came last
    assert value(graph, "room-2", "occupied") is True
    assert value(graph, "ahu-3", "supplyTemperature") == pytest.approx(14.0)


def test_dataframes_long_and_wide(graph):
    pd = pytest.importorskip("pandas")
    long = pd.DataFrame(
        {
            "time": pd.to_datetime(["2026-07-01T12:00:00Z", "2026-07-01T12:01:00Z"]),
            "twin": ["room-1", "room-2"],
            "property": ["temperature", "temperature"],
            "value": [20.5, 68.0],
            "unit": [None, "degF"],
        }
    )
    report = graph.ingest(long)
    assert report["bad_rows"] == [] and report["updates"] == 2
    assert value(graph, "room-2", "temperature") == pytest.approx(20.0)
    assert source_time(graph, "room-2", "temperature").startswith("2026-07-01T12:01:00")
    wide = pd.DataFrame(
        {"room-1.people": [3, 5], "room-2.people": [1.0, float("nan")]},
        index=pd.DatetimeIndex(["2026-07-01T13:00:00", "2026-07-01T13:15:00"], name="t"),
    )
    report = graph.ingest(wide)
    assert report["bad_rows"] == [] and report["updates"] == 3  # the NaN cell is skipped
    assert value(graph, "room-1", "people") == 5
    assert value(graph, "room-2", "people") == 1
    assert source_time(graph, "room-1", "people").startswith("2026-07-01T13:15:00")


def test_bad_rows_reject_or_dead_letter(graph, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"twin": ["room-1", "room-9"], "property": ["people", "people"], "value": [2, 3]})
    report = graph.ingest(frame)
    assert not report["applied"]
    assert [(b["line"], b["field"], b["reason"]) for b in report["bad_rows"]] == [(2, "twin", "no twin 'room-9'")]
    assert value(graph, "room-1", "people") is None
    dead = tmp_path / "dead.ndjson"
    report = graph.ingest(frame, policy="dead-letter", dead_letter=dead)
    assert report["applied"]
    assert value(graph, "room-1", "people") == 2
    lines = [json.loads(line) for line in dead.read_text().splitlines()]
    assert lines[0]["reason"] == "no twin 'room-9'" and lines[0]["record"]["twin"] == "room-9"


def test_out_of_order_policy(graph, tmp_path):
    messages = tmp_path / "m.ndjson"
    messages.write_text(
        '{"time": "2026-07-01T12:00:10Z", "dev": "ahu-3", "sat": 15}\n'
        '{"time": "2026-07-01T12:00:05Z", "dev": "ahu-3", "sat": 14}\n'
    )
    report = graph.ingest(messages, mapping=SAMPLE / "mapping.yaml", order="source-time")
    assert report["stale"] == 1
    assert value(graph, "ahu-3", "supplyTemperature") == 15
    with pytest.raises(ValueError):
        graph.ingest(messages, mapping=SAMPLE / "mapping.yaml", order="sideways")


# --- the command line ---------------------------------------------------------------

cli = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")


def twinsim_cli(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


@cli
def test_cli_ingest_writes_the_updated_graph(tmp_path):
    out = tmp_path / "out.ndjson"
    result = twinsim_cli("ingest", "--models", SAMPLE / "models.json", "--graph", SAMPLE / "graph.ndjson",
                         "--mapping", SAMPLE / "mapping.yaml", SAMPLE / "messages.ndjson", SAMPLE / "wide.csv",
                         "--output", out, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["applied"] and report["duplicates"] == 1 and report["bad_rows"] == []
    graph = twinsim.TwinGraph.from_ndjson(out, models=SAMPLE / "models.json")
    assert value(graph, "ahu-3", "supplyTemperature") == pytest.approx(14.0)
    assert value(graph, "room-2", "people") == 4


@cli
def test_cli_ingest_into_a_store_survives_reopening(tmp_path):
    store = tmp_path / "store"
    made = twinsim_cli("import", "--store", store, "--models", SAMPLE / "models.json", SAMPLE / "graph.ndjson")
    assert made.returncode == 0, made.stderr
    result = twinsim_cli("ingest", "--store", store, "--mapping", SAMPLE / "mapping.yaml",
                         SAMPLE / "messages.ndjson", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["updates"] == 3
    # Another process (the query command) opens the store and sees the ingested values.
    query = twinsim_cli("query", "--store", store,
                        "SELECT T.supplyTemperature FROM DIGITALTWINS T WHERE T.$dtId = 'ahu-3'")
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout)["value"][0]["supplyTemperature"] == pytest.approx(14.2)
    with twinsim.open_store(store) as stored:
        assert value(stored, "room-1", "temperature") == pytest.approx(22.0)
    both = twinsim_cli("ingest", "--store", store, "--graph", SAMPLE / "graph.ndjson", SAMPLE / "messages.ndjson")
    assert both.returncode == 2 and "--store" in both.stderr


@cli
def test_cli_bad_rows_exit_1_and_dead_letter(tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("twin,property,value\nroom-1,people,2\nroom-1,people,many\n")
    args = ["ingest", "--models", SAMPLE / "models.json", "--graph", SAMPLE / "graph.ndjson", rows]
    result = twinsim_cli(*args)
    assert result.returncode == 1
    assert f"{rows}:3: value: twin 'room-1', property 'people': expected a number" in result.stderr
    assert "nothing was applied" in result.stdout
    dead = tmp_path / "dead.ndjson"
    out = tmp_path / "out.ndjson"
    result = twinsim_cli(*args, "--policy", "dead-letter", "--dead-letter", dead, "--output", out)
    assert result.returncode == 1
    assert len(dead.read_text().splitlines()) == 1
    graph = twinsim.TwinGraph.from_ndjson(out, models=SAMPLE / "models.json")
    assert value(graph, "room-1", "people") == 2


@cli
def test_cli_usage_and_mapping_errors(tmp_path):
    base = ["ingest", "--models", SAMPLE / "models.json", "--graph", SAMPLE / "graph.ndjson"]
    assert twinsim_cli(*base, tmp_path / "missing.csv").returncode == 2
    assert twinsim_cli(*base, "--policy", "dead-letter", SAMPLE / "long.csv").returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("mappings:\n  - twin: \"{d}\"\n    set: {t: nothingLikeThis}\n")
    result = twinsim_cli(*base, "--mapping", bad, SAMPLE / "messages.ndjson")
    assert result.returncode == 1
    assert f"{bad}:3: mappings[0].set.t.property: no model declares a property 'nothingLikeThis'" in result.stderr
    result = twinsim_cli(*base, SAMPLE / "messages.ndjson")
    assert result.returncode == 1 and "need a mapping" in result.stderr


@cli
def test_a_store_drops_duplicate_message_ids_across_restarts_and_cli_runs(tmp_path):
    store = tmp_path / "store"
    made = twinsim_cli("import", "--store", store, "--models", SAMPLE / "models.json", SAMPLE / "graph.ndjson")
    assert made.returncode == 0, made.stderr
    args = ["ingest", "--store", store, "--mapping", SAMPLE / "mapping.yaml", SAMPLE / "messages.ndjson", "--json"]
    first = twinsim_cli(*args)
    assert first.returncode == 0, first.stderr
    assert (json.loads(first.stdout)["updates"], json.loads(first.stdout)["duplicates"]) == (3, 1)
    assert (store / "message-ids.db").exists()
    # A second run of the same file: every message was seen by the first.
    second = twinsim_cli(*args)
    assert second.returncode == 0, second.stderr
    assert (json.loads(second.stdout)["updates"], json.loads(second.stdout)["duplicates"]) == (0, 4)
    # Python on the same store, after a restart, drops them too; a new id goes through.
    fresh = tmp_path / "fresh.ndjson"
    fresh.write_text('{"id": "m2", "dev": "AHU-3", "sat": 99.0}\n{"id": "m9", "dev": "AHU-3", "sat": 15.5}\n')
    with twinsim.open_store(store) as stored:
        report = stored.ingest(fresh, mapping=SAMPLE / "mapping.yaml")
        assert (report["updates"], report["duplicates"]) == (1, 1)
        assert value(stored, "ahu-3", "supplyTemperature") == pytest.approx(15.5)
    with twinsim.open_store(store) as stored:
        report = stored.ingest(fresh, mapping=SAMPLE / "mapping.yaml")
        assert (report["updates"], report["duplicates"]) == (0, 2)
        # A window of no ids forgets them all.
        report = stored.ingest(fresh, mapping=SAMPLE / "mapping.yaml", dedup_window=0)
        assert report["duplicates"] == 0
    bad = twinsim_cli("ingest", "--store", store, "--dedup-age", "soon", SAMPLE / "long.csv")
    assert bad.returncode == 2 and "--dedup-age" in bad.stderr
