"""Time travel on the durable store: store.snapshot_at(t), store.query_twins(q, as_of=t)
and `twinsim query --store DIR --as-of TIME`, with their errors."""

import datetime
import json
import os
import subprocess
import time

import pytest

import twinsim

CLI = os.environ.get("TWINSIM_CLI")

SENSOR = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:test:Sensor;1",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "value", "schema": "double"},
        {"@type": "Relationship", "name": "next"},
    ],
}


def sensor(value):
    return {"$metadata": {"$model": "dtmi:test:Sensor;1"}, "value": value}


def instant():
    """A moment strictly between the writes before it and those after it."""
    time.sleep(0.02)
    t = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.02)
    return t


def values(rows):
    return {r["$dtId"]: r["value"] for r in rows}


def build(path):
    """A store with a short history; returns the instants and what the graph held at each."""
    kept = []
    with twinsim.open_store(path) as store:
        kept.append((instant(), {}))
        store.create_models([SENSOR])
        store.upsert_digital_twin("s1", sensor(1.0))
        store.upsert_digital_twin("s2", sensor(2.0))
        kept.append((instant(), {"s1": 1.0, "s2": 2.0}))
        store.upsert_relationship("s1", "r1", {"$targetId": "s2", "$relationshipName": "next"})
        store.update_digital_twin("s1", [{"op": "replace", "path": "/value", "value": 10.0}])
        store.checkpoint()
        kept.append((instant(), {"s1": 10.0, "s2": 2.0}))
        store.delete_relationship("s1", "r1")
        store.delete_digital_twin("s2")
        store.upsert_digital_twin("s3", sensor(3.0))
        kept.append((instant(), {"s1": 10.0, "s3": 3.0}))
    return kept


def test_snapshot_at_and_query_as_of(tmp_path):
    path = tmp_path / "plant.store"
    kept = build(path)
    with twinsim.open_store(path) as store:
        for t, expected in kept:
            snap = store.snapshot_at(t)
            assert isinstance(snap, twinsim.Snapshot)
            assert len(snap) == len(expected)
            assert values(snap.query_twins("SELECT * FROM DIGITALTWINS")) == expected
            # as_of as a datetime and as an RFC 3339 string, the same answer
            assert values(store.query_twins("SELECT * FROM DIGITALTWINS", as_of=t)) == expected
            text = t.isoformat().replace("+00:00", "Z")
            assert values(store.query_twins("SELECT * FROM DIGITALTWINS", as_of=text)) == expected
        # the relationship existed only at the third instant
        assert [r["$relationshipId"] for r in store.snapshot_at(kept[2][0]).list_relationships("s1")] == ["r1"]
        assert store.snapshot_at(kept[3][0]).list_relationships("s1") == []
        # models: none before the first write
        assert store.snapshot_at(kept[0][0]).list_models() == []
        # an exportable copy of the past
        out = tmp_path / "past.ndjson"
        store.snapshot_at(kept[1][0]).to_ndjson(out)
        lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        assert {line.get("$dtId") for line in lines if "$dtId" in line} == {"s1", "s2"}
        # without as_of: the graph now
        assert values(store.query_twins("SELECT * FROM DIGITALTWINS")) == {"s1": 10.0, "s3": 3.0}


def test_bad_times_are_clear_errors(tmp_path):
    with twinsim.open_store(tmp_path / "s.store") as store:
        with pytest.raises(ValueError, match=r"as_of: 'yesterday' is not an RFC 3339 date-time"):
            store.query_twins("SELECT * FROM DIGITALTWINS", as_of="yesterday")
        with pytest.raises(ValueError, match="naive datetime"):
            store.snapshot_at(datetime.datetime(2026, 7, 14, 14, 0))
        with pytest.raises(TypeError, match="RFC 3339 str"):
            store.snapshot_at(12.5)
        # an int is nanoseconds since 1970, as history's start= and end= take it: before any batch
        assert len(store.snapshot_at(12345)) == 0


@pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")
def test_cli_query_as_of(tmp_path):
    path = tmp_path / "plant.store"
    kept = build(path)

    def run(*args):
        return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)

    query = "SELECT T.$dtId, T.value FROM DIGITALTWINS T"
    for t, expected in kept:
        r = run("query", "--store", path, "--as-of", t.isoformat().replace("+00:00", "Z"), query)
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)["value"]
        assert {row["$dtId"]: row["value"] for row in rows} == expected
    r = run("query", "--store", path, "--as-of", "2026-13-01T00:00:00Z", query)
    assert r.returncode == 2
    assert '--as-of "2026-13-01T00:00:00Z" is not an RFC 3339 time' in r.stderr
    r = run("query", "--as-of", "2026-07-14T14:00:00Z", "graph.ndjson", query)
    assert r.returncode == 2
    assert "--as-of needs --store DIR" in r.stderr


def test_keep_checkpoints_bounds_the_files_and_time_travel_still_works(tmp_path):
    path = tmp_path / "plant.store"
    kept = []
    with twinsim.open_store(path, checkpoint_every=0, keep_checkpoints=3) as store:
        store.create_models([SENSOR])
        for i in range(8):
            store.upsert_digital_twin(f"s{i}", sensor(float(i)))
            store.update_digital_twin("s0", [{"op": "replace", "path": "/value", "value": 100.0 + i}])
            store.checkpoint()
            kept.append((instant(), values(store.query_twins("SELECT * FROM DIGITALTWINS"))))
        assert len(list((path / "checkpoints").glob("*.ckpt"))) <= 3
        for t, expected in kept:
            assert values(store.query_twins("SELECT * FROM DIGITALTWINS", as_of=t)) == expected
