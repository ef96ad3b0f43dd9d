"""The durable store from Python (twinsim.open_store) and the CLI (--store DIR):
writes survive reopening exactly, the store behaves as a TwinGraph, a second
open is refused, damaged stores give clear errors."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import twinsim

ROOT = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILDING = ROOT / "scenarios" / "building" / "building.ndjson"
MODELS = ROOT / "models" / "building"
CLI = os.environ.get("TWINSIM_CLI")

SENSOR = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:test:Sensor;1",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "value", "schema": "double"},
        {"@type": "Property", "name": "label", "schema": "string"},
        {"@type": "Relationship", "name": "next"},
    ],
}


def sensor(value):
    return {"$metadata": {"$model": "dtmi:test:Sensor;1"}, "value": value}


def everything(store):
    """What a reader can observe: twins with etags and times, relationships, models."""
    twins = {t["$dtId"]: t for t in store.query_twins("SELECT * FROM DIGITALTWINS")}
    rels = {tid: store.list_relationships(tid) for tid in twins}
    models = [(m.id, m.decommissioned, str(m.upload_time)) for m in store.list_models()]
    return twins, rels, models


@pytest.mark.parametrize("durability", ["per_batch", "group"])
def test_writes_survive_reopening_exactly(tmp_path, durability):
    path = tmp_path / "plant.store"
    with twinsim.open_store(path, durability=durability) as store:
        assert isinstance(store, twinsim.Store)
        assert isinstance(store.graph, twinsim.TwinGraph)
        store.create_models([SENSOR])
        store.upsert_digital_twin("s1", sensor(1.0))
        store.upsert_digital_twin("s2", sensor(2.0))
        store.upsert_relationship("s1", "r1", {"$targetId": "s2", "$relationshipName": "next"})
        store.update_digital_twin("s1", [{"op": "add", "path": "/label", "value": "first"}])
        store.delete_relationship("s1", "r1")
        store.decommission_model("dtmi:test:Sensor;1")
        before = everything(store)
        etag = store.get_digital_twin("s1")["$etag"]
    assert (path / "journal.db").exists()

    with twinsim.open_store(path, durability=durability) as store:
        assert everything(store) == before
        assert store.get_digital_twin("s1")["$etag"] == etag
        assert store.recovery["batches_replayed"] == store.recovery["last_batch"] == 7
        assert store.recovery["checkpoint"] is None
        # Conditional writes keep working on the restored etags.
        store.update_digital_twin("s1", [{"op": "replace", "path": "/value", "value": 5.0}], etag=etag)


def test_checkpoint_then_tail(tmp_path):
    path = tmp_path / "s"
    with twinsim.open_store(path, checkpoint_every=0) as store:
        store.create_models([SENSOR])
        store.upsert_digital_twin("s1", sensor(1.0))
        assert store.checkpoint() == 2
        store.upsert_digital_twin("s2", sensor(2.0))
        before = everything(store)
        assert store.stats()["checkpoints"] == 1
    with twinsim.open_store(path) as store:
        assert store.recovery["checkpoint_batch"] == 2
        assert store.recovery["batches_replayed"] == 1
        assert everything(store) == before


def test_checkpoint_every_changes_from_python(tmp_path):
    # Batches alone never trigger (checkpoint_every=0): the change count does.
    path = tmp_path / "c"
    with twinsim.open_store(path, checkpoint_every=0, checkpoint_every_changes=20) as store:
        store.create_models([SENSOR])
        for k in range(30):
            store.upsert_digital_twin(f"s{k}", sensor(float(k)))
        deadline = time.monotonic() + 10
        while store.stats()["checkpoints"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.stats()["checkpoints"] >= 1
        assert store.stats()["last_checkpoint_batch"] >= 20
    # checkpoint_every=0 alone still means "only on request".
    with twinsim.open_store(tmp_path / "d", checkpoint_every=0) as store:
        store.create_models([SENSOR])
        for k in range(30):
            store.upsert_digital_twin(f"s{k}", sensor(float(k)))
        time.sleep(0.2)
        assert store.stats()["checkpoints"] == 0
    with pytest.raises(TypeError):
        twinsim.open_store(tmp_path / "e", checkpoint_every_changes=-1)


def test_group_commit_with_threads(tmp_path):
    with twinsim.open_store(tmp_path / "g", durability="group") as store:
        store.create_models([SENSOR])

        def write(w):
            for k in range(25):
                store.upsert_digital_twin(f"w{w}-{k}", sensor(float(k)))

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = store.stats()
        assert stats["durable_batch"] == stats["written_batch"] == 101
    with twinsim.open_store(tmp_path / "g") as store:
        assert len(store.query_twins("SELECT T.$dtId FROM DIGITALTWINS T")) == 100


def test_second_open_is_refused_with_pid(tmp_path):
    path = tmp_path / "locked"
    store = twinsim.open_store(path)
    with pytest.raises(twinsim.StoreLockedError) as caught:
        twinsim.open_store(path)
    assert caught.value.holder_pid == os.getpid()
    assert str(path) in str(caught.value) and f"process {os.getpid()}" in str(caught.value)
    assert isinstance(caught.value, twinsim.StoreError) and isinstance(caught.value, twinsim.TwinsimError)
    # Another process is refused too.
    other = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import twinsim
            try:
                twinsim.open_store({str(path)!r})
            except twinsim.StoreLockedError as e:
                print(e.holder_pid)
            """)],
        capture_output=True, text=True, timeout=60, env={**os.environ})
    assert other.stdout.strip() == str(os.getpid()), other.stderr
    store.close()
    with pytest.raises(twinsim.StoreWriteError, match="closed"):
        store.create_models([SENSOR])
    twinsim.open_store(path).close()


def test_bad_arguments_and_damaged_journal(tmp_path):
    with pytest.raises(ValueError, match="durability"):
        twinsim.open_store(tmp_path / "x", durability="sometimes")
    with pytest.raises(twinsim.StoreError, match="does not exist"):
        twinsim.open_store(tmp_path / "missing", create=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "journal.db").write_bytes(b"not a database at all" * 500)
    with pytest.raises(twinsim.StoreCorruptError) as caught:
        twinsim.open_store(bad)
    assert "journal.db" in str(caught.value) and caught.value.path == str(bad)


@pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")
def test_cli_import_and_query_a_store(tmp_path):
    store_dir = tmp_path / "building.store"

    def twinsim_cli(*args):
        return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)

    run = twinsim_cli("import", "--store", store_dir, "--models", MODELS, "--json", BUILDING)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["twins"] == 278
    assert (store_dir / "journal.db").exists()

    run = twinsim_cli("query", "--store", store_dir, "SELECT COUNT() FROM DIGITALTWINS")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["value"] == [{"COUNT": 278}]

    # The same file again: every twin exists, nothing is imported (all or nothing), exit 1.
    again = twinsim_cli("import", "--store", store_dir, BUILDING)
    assert again.returncode == 1
    run = twinsim_cli("query", "--store", store_dir, "SELECT COUNT() FROM DIGITALTWINS")
    assert json.loads(run.stdout)["value"] == [{"COUNT": 278}]

    # Python sees what the CLI stored, and while it holds the store the CLI is refused (exit 2).
    with twinsim.open_store(store_dir) as store:
        assert len(store.query_twins("SELECT T.$dtId FROM DIGITALTWINS T")) == 278
        locked = twinsim_cli("query", "--store", store_dir, "SELECT COUNT() FROM DIGITALTWINS")
        assert locked.returncode == 2
        assert "already open in process" in locked.stderr and str(store_dir) in locked.stderr

    missing = twinsim_cli("query", "--store", tmp_path / "nothing", "SELECT COUNT() FROM DIGITALTWINS")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    both = twinsim_cli("query", "--store", store_dir, BUILDING, "SELECT COUNT() FROM DIGITALTWINS")
    assert both.returncode == 2 and "only the query" in both.stderr


def test_event_routes_set_on_a_store_stay_until_it_closes(tmp_path):
    # Each attribute access reaches the graph through a new wrapper; routes and
    # endpoints belong to the store's graph all the same, and closing the store
    # delivers what is queued.
    got = []
    with twinsim.open_store(tmp_path / "site") as store:
        store.create_models([SENSOR])
        store.add_endpoint("memory", got.append)
        store.upsert_event_route("creates", {"endpointName": "memory",
                                             "filter": "type = 'Microsoft.DigitalTwins.Twin.Create'"})
        import gc
        gc.collect()
        store.upsert_digital_twin("s1", sensor(1.0))
        store.graph.upsert_digital_twin("s2", sensor(2.0))
    assert [e["subject"] for e in got] == ["s1", "s2"]
