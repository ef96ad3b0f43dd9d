#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora under tests/fuzz/corpus/<target>/.

The seeds are committed; run this again after the sources below change:

    python3 tests/fuzz/make_seeds.py [--conformance /work/shared/conformance/dtdl]

Sources: the DTDL conformance suite (the documents of a sample of its cases),
the query strings of the C++ query tests, the sample scenarios under
scenarios/, the sample NDJSON, JSON Patch documents on the fuzz graph's twins,
edits of the serialised sample snapshot,
a small results file (when --results names one, e.g. the output of
tests/tools/write_results_sample.cpp), and structure-aware inputs: the same
constructs nested to several depths (arrays, objects, parentheses, NOT, DTDL
Array schemas, YAML flow and block collections), so the fuzzer starts next to
the depth limits instead of having to find them byte by byte.
"""

import argparse
import hashlib
import json
import random
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
DEPTHS = (8, 64, 300)  # under, around and past any sane depth limit, still small files


def write(target: str, data: bytes | str) -> None:
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    # libFuzzer's own naming: the SHA-1 of the content.
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def dtdl_seeds(conformance: Path) -> None:
    rng = random.Random(12)
    files = sorted(p for p in conformance.rglob("*.json"))
    # One case from each of 60 kinds of test (the name up to its class), at most 2 KB.
    by_kind: dict[str, list[Path]] = {}
    for path in files:
        kind = re.sub(r"Property.*|V\d\.json$", "", path.name)
        by_kind.setdefault(kind, []).append(path)
    for kind in rng.sample(sorted(by_kind), 60):
        path = rng.choice(by_kind[kind])
        cases = json.loads(path.read_text(encoding="utf-8-sig"))
        case = rng.choice(cases)
        text = json.dumps(case["input"], indent=1)
        if len(text) <= 2048:
            write("dtdl", text)
    # Deep nesting: Array schemas inside Array schemas. 300 deep overflows the
    # stack today (tests/fuzz/crashes/README.md): kept out until the depth limit lands.
    for depth in DEPTHS[:2]:
        schema: object = "double"
        for _ in range(depth):
            schema = {"@type": "Array", "elementSchema": schema}
        write("dtdl", json.dumps({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:fuzz:Deep;1", "@type": "Interface",
                                  "contents": [{"@type": "Property", "name": "p", "schema": schema}]}))


def query_seeds() -> None:
    found: set[str] = set()
    for path in sorted((ROOT / "tests" / "cpp" / "query").glob("*.cpp")):
        text = path.read_text()
        for raw in re.findall(r'R"\((SELECT.*?)\)"', text, flags=re.S):
            found.add(raw)
        for plain in re.findall(r'"(SELECT(?:[^"\\]|\\.)*)"', text):
            found.add(plain.replace('\\"', '"').replace("\\\\", "\\"))
    rng = random.Random(12)
    for query in rng.sample(sorted(found), min(80, len(found))):
        write("query", query)
    # Queries over the fuzz graph's models (tests/fuzz/fuzz_support.hpp).
    for query in [
        "SELECT * FROM DIGITALTWINS",
        "SELECT T.temperature FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:fuzz:Room;1') AND T.temperature > 25",
        "SELECT R, C FROM DIGITALTWINS R JOIN C RELATED R.servedBy WHERE R.$dtId = 'room-1'",
        "SELECT F, R FROM DIGITALTWINS MATCH (F)-[:contains*1..3]->(R) WHERE F.$dtId = 'building'",
        "SELECT COUNT() FROM RELATIONSHIPS E WHERE E.share >= 0.5",
        "SELECT T.name, AVG(T.temperature) AS t FROM DIGITALTWINS T GROUP BY T.name ORDER BY t DESC",
        "SELECT TOP(2) T.$dtId FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'room') AND T.capacity IN [4, 12]",
        "SELECT T FROM DIGITALTWINS T WHERE IS_DEFINED(T.sensor.reading) AND NOT IS_BOOL(T.occupied)",
        "SELECT T.limits.high FROM DIGITALTWINS T WHERE ARRAY_CONTAINS(T.tags, 'north') OR T.attributes.wing = 'A'",
    ]:
        write("query", query)
    for depth in DEPTHS:
        write("query", "SELECT * FROM DIGITALTWINS T WHERE " + "(" * depth + "T.capacity > 1" + ")" * depth)
        write("query", "SELECT * FROM DIGITALTWINS T WHERE " + "NOT " * depth + "T.occupied = true")
        write("query", "SELECT * FROM DIGITALTWINS T WHERE T.capacity = " + "-" * depth + "1")


def nested_value(depth: int, kind: str) -> object:
    value: object = 1
    for i in range(depth):
        value = [value] if kind == "array" else {f"k{i % 3}": value}
    return value


def ndjson_seeds() -> None:
    header = '{"Section":"Header"}\n{"fileVersion":"1.0.0","author":"fuzz","organization":"twinsim"}\n'
    sample = (ROOT / "tests" / "fuzz" / "fuzz_support.hpp").read_text()
    body = sample.split('R"(', 1)[1].split(')";', 1)[0]
    write("ndjson", body)
    lines = (ROOT / "scenarios" / "building" / "building.ndjson").read_text().splitlines()
    write("ndjson", "\n".join(lines[:12] + [l for l in lines if l.startswith('{"Section":"Relationships"')] +
                               lines[-3:]) + "\n")
    models = [l for l in body.splitlines() if l.startswith('{"@id"')]
    for depth in DEPTHS:
        for kind in ("array", "object"):
            twin = {"$dtId": "deep", "$metadata": {"$model": "dtmi:fuzz:Room;1"}, "tags": nested_value(depth, kind)}
            write("ndjson", header + '{"Section":"Models"}\n' + "\n".join(models) + '\n{"Section":"Twins"}\n' +
                  json.dumps(twin, separators=(",", ":")) + "\n")


def patch_seeds() -> None:
    patches = [
        ("room-1", [{"op": "replace", "path": "/temperature", "value": 22.5}]),
        ("room-1", [{"op": "add", "path": "/tags/-", "value": "south"}, {"op": "remove", "path": "/occupied"}]),
        ("room-1", [{"op": "replace", "path": "/limits/high", "value": 28}]),
        ("room-1", [{"op": "add", "path": "/attributes/floor", "value": "1"}]),
        ("room-2", [{"op": "add", "path": "/sensor/reading", "value": 1.25}]),
        ("chiller-1", [{"op": "replace", "path": "/state", "value": "off"}]),
        ("room-1", [{"op": "remove", "path": "/sensor/reading"}, {"op": "add", "path": "/name", "value": "R~1/x"}]),
        ("room-1", [{"op": "move", "from": "/name", "path": "/x"}]),
    ]
    for twin, patch in patches:
        write("json_patch", twin + "\n" + json.dumps(patch))
    for depth in DEPTHS:
        for kind in ("array", "object"):
            write("json_patch", "room-1\n" + json.dumps([{"op": "replace", "path": "/tags", "value": nested_value(depth, kind)}]))
        write("json_patch", "room-1\n" + json.dumps([{"op": "add", "path": "/attributes" + "/a" * depth, "value": 1}]))


def scenario_seeds() -> None:
    # First byte: even = YAML, odd = JSON (tests/fuzz/fuzz_scenario.cpp).
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        write("scenario", b"\x00" + path.read_bytes())
    for path in sorted((ROOT / "scenarios").rglob("*.json")):
        write("scenario", b"\x01" + path.read_bytes())
    minimal = {"name": "s", "base": "b.ndjson", "start": "2026-07-01T00:00:00Z", "horizon": "PT1H", "step": "PT1M",
               "replications": 2, "seed": 1, "parameters": {"x": 1.5},
               "overrides": [{"set": {"temperature": "${x}"}, "where": "IS_OF_MODEL('dtmi:fuzz:Room;1')"}]}
    write("scenario", b"\x01" + json.dumps(minimal).encode())
    # A replay section (docs/scenario-format.md "Replay"): every key of it once.
    replay = dict(minimal, replay={
        "source": "history.h5", "interpolation": "linear", "max_gap": "PT1H", "on_gap": "model", "compare": True,
        "inputs": [{"where": "IS_OF_MODEL('dtmi:fuzz:Room;1')", "property": "temperature", "interpolation": "step",
                    "max_gap": 600, "on_gap": "refuse"},
                   {"twin": "w", "property": "t", "to": {"behaviour": "thermal_zones", "parameter": "outdoor_series"}},
                   {"twin": "s", "property": "reading", "to": {"twin": "r", "property": "temperature"}}]})
    write("scenario", b"\x01" + json.dumps(replay).encode())
    for depth in DEPTHS:
        write("scenario", b"\x00name: deep\nparameters:\n  x: " + b"[" * depth + b"1" + b"]" * depth + b"\n")
        write("scenario", b"\x00name: deep\nparameters:\n  x: " + b"{a: " * depth + b"1" + b"}" * depth + b"\n")
        levels = min(depth, 100)  # block indentation grows quadratically with the depth
        block = "".join("  " * (i + 1) + f"k{i}:\n" for i in range(levels)) + "  " * (levels + 1) + "1\n"
        write("scenario", b"\x00name: deep\nparameters:\n" + block.encode())
        write("scenario", b"\x01" + json.dumps({"name": "deep", "parameters": {"x": nested_value(depth, "array")}}).encode())
    # Aliases: a small fan-out, as an alias bomb starts.
    bomb = "name: aliases\nparameters:\n  a: &a [1, 1, 1]\n  b: &b [*a, *a, *a]\n  c: &c [*b, *b, *b]\n  d: [*c, *c, *c]\n"
    write("scenario", b"\x00" + bomb.encode())


def snapshot_seeds() -> None:
    # fuzz_snapshot edits the serialised sample graph (tests/fuzz/fuzz_snapshot.cpp):
    # no edit, a few single-byte edits spread over the parts, and cuts.
    write("snapshot", b"\x00")
    rng = random.Random(7)
    for _ in range(16):
        edits = b"".join(rng.randrange(1 << 32).to_bytes(4, "little") + bytes([rng.randrange(256)])
                         for _ in range(rng.randrange(1, 4)))
        write("snapshot", b"\x00" + edits)
    for length in (12, 28, 100, 400, 1000):
        write("snapshot", b"\x01" + length.to_bytes(4, "little"))


def results_seeds(results: Path | None) -> None:
    if results is not None:
        write("results", results.read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conformance", type=Path, default=Path("/work/shared/conformance/dtdl"),
                        help="the DTDL conformance suite (its v2/ and v3/ folders)")
    parser.add_argument("--results", type=Path, help="a small results file to seed the results target with")
    args = parser.parse_args()
    for target in ("dtdl", "query", "ndjson", "json_patch", "scenario", "snapshot"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    if args.results is not None:
        shutil.rmtree(CORPUS / "results", ignore_errors=True)
    dtdl_seeds(args.conformance)
    shutil.copy(args.conformance / "LICENSE", CORPUS / "LICENSE-dtdl-conformance")
    query_seeds()
    ndjson_seeds()
    patch_seeds()
    scenario_seeds()
    snapshot_seeds()
    results_seeds(args.results)


if __name__ == "__main__":
    main()
