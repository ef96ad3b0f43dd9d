#!/usr/bin/env python3
"""Writes fuzz_store's seeds (tests/fuzz/corpus/store/) from a real store.

    PYTHONPATH=build/python .venv/bin/python tests/fuzz/make_store_seeds.py

fuzz_store (tests/fuzz/fuzz_store.cpp) replays a journal payload onto the fuzz
sample graph (tests/fuzz/fuzz_support.hpp), so the store here starts from the
same NDJSON: the payload of the batch after the import then follows on from
the sample graph and replays; later payloads exercise the decoder and the
refusal of a batch that does not follow on. Each seed is one byte choosing
the file kind (0 payload, 1 checkpoint, 2 routes.json) and the file.
"""

import hashlib
import sqlite3
import tempfile
from pathlib import Path

import twinsim

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "store"


def write(kind: int, data: bytes) -> None:
    data = bytes([kind]) + data
    CORPUS.mkdir(parents=True, exist_ok=True)
    (CORPUS / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> None:
    sample = (ROOT / "tests" / "fuzz" / "fuzz_support.hpp").read_text()
    body = sample.split('R"(', 1)[1].split(')";', 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "sample.ndjson").write_text(body)
        store_dir = tmp / "s"
        with twinsim.open_store(store_dir, checkpoint_every=0) as store:
            store.import_ndjson(tmp / "sample.ndjson")
            store.checkpoint()  # the checkpoint of batch 1
            store.update_digital_twin("room-1", [{"op": "replace", "path": "/temperature", "value": 23.5},
                                                 {"op": "add", "path": "/tags", "value": ["a", "b"]}])
            store.upsert_relationship("room-2", "r2-c", {"$targetId": "chiller-1", "$relationshipName": "servedBy",
                                                          "share": 0.5})
            store.update_relationship("room-2", "r2-c", [{"op": "replace", "path": "/share", "value": 0.7}])
            store.upsert_digital_twin("room-3", {"$metadata": {"$model": "dtmi:fuzz:Room;1"}, "sensor": {"$metadata": {}}})
            store.delete_relationship("room-2", "r2-c")
            store.upsert_relationship("room-3", "r3-c", {"$targetId": "chiller-1", "$relationshipName": "servedBy"})
            store.delete_digital_twin("room-3", cascade=True)
            store.decommission_model("dtmi:fuzz:Chiller;1")
            store.add_endpoint("log", tmp / "events.ndjson")
            store.add_event_route("updates", "log", "type = 'Microsoft.DigitalTwins.Twin.Update' OR STARTS_WITH(subject, 'room')")
        with sqlite3.connect(store_dir / "journal.db") as db:
            for (payload,) in db.execute("SELECT payload FROM batches WHERE id > 1 ORDER BY id"):
                write(0, payload)
        for checkpoint in (store_dir / "checkpoints").glob("*.ckpt"):
            write(1, checkpoint.read_bytes())
        write(2, (store_dir / "routes.json").read_bytes())

        # Numeric writes, journaled as columns (payload format version 3):
        # one batch per column type; the first follows on from the sample.
        numeric_dir = tmp / "n"
        with twinsim.open_store(numeric_dir, checkpoint_every=0) as store:
            store.import_ndjson(tmp / "sample.ndjson")
            store.graph.write_properties("dtmi:fuzz:Room;1", "temperature", ["room-1", "room-2", "room-1"], [22.5, 19.25, 23.0])
            store.graph.write_properties("dtmi:fuzz:Room;1", "capacity", ["room-2"], [7])
            store.graph.write_properties("dtmi:fuzz:Room;1", "occupied", ["room-1", "room-2"], [0, 1])
        with sqlite3.connect(numeric_dir / "journal.db") as db:
            for (payload,) in db.execute("SELECT payload FROM batches WHERE id > 1 ORDER BY id"):
                assert payload[:3] == b"\x03TJ", "a numeric batch is journaled in format version 3"
                write(0, payload)


if __name__ == "__main__":
    main()
