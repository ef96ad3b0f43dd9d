#!/usr/bin/env python3
"""The networkx baseline of `twinsim-bench graph`.

Loads an ADT import file (NDJSON) as a Python user without twinsim would: the
json module reads each line, twins become nodes of a networkx MultiDiGraph
with their properties as the node's attribute dict, relationships become
edges keyed by $relationshipId with theirs. Nothing is validated against the
models (networkx has no notion of them). Then it measures what twinsim-bench
measures on the same file and prints one JSON object:

- import: load time, lines/s, MB/s;
- memory: VmRSS after - before loading (each after malloc_trim, as twinsim-bench);
- snapshot: G.copy(), the way to get an independent view of the properties
  that later writes do not change (attribute values are immutable numbers, so
  the copy's fresh attribute dicts suffice);
- batched_updates: G.nodes[id][name] = value for 2N writes to random twins and
  numeric properties (chosen before timing);
- find: G.nodes[id], mean per lookup over a round of 1,000 random ids, median
  of 201 rounds, each with ids of its own.

Usage: networkx_baseline.py FILE [--seed S] [--no-copy]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import statistics
import sys
import time


def proc_status_bytes(field: str) -> int:
    """A field of /proc/self/status (VmRSS, VmHWM) in bytes, 0 when unreadable."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def resident_bytes_trimmed() -> int:
    """VmRSS after handing freed heap memory back, as twinsim-bench does."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return proc_status_bytes("VmRSS")


def load(path: str):
    """The ADT import file as a MultiDiGraph, and (lines, bytes, models)."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    models = []
    section = None
    lines = 0
    with open(path, "rb") as f:
        for raw in f:
            lines += 1
            value = json.loads(raw)
            if "Section" in value and len(value) == 1:
                section = value["Section"]
                continue
            if section == "Twins":
                graph.add_node(value.pop("$dtId"), **value)
            elif section == "Relationships":
                source = value.pop("$dtId")
                target = value.pop("$targetId")
                key = value.pop("$relationshipId")
                graph.add_edge(source, target, key=key, **value)
            elif section == "Models":
                models.append(value)
    return graph, lines, os.path.getsize(path), models


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="ADT import NDJSON file (e.g. from twinsim-bench graph --keep FILE)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--no-copy", action="store_true", help="skip the G.copy() snapshot measurement")
    args = parser.parse_args(argv)
    import networkx as nx

    rss_before = resident_bytes_trimmed()
    start = time.perf_counter()
    graph, lines, size, models = load(args.file)
    load_seconds = time.perf_counter() - start
    rss_after_untrimmed = proc_status_bytes("VmRSS")
    rss_after = resident_bytes_trimmed()
    graph_bytes = max(0, rss_after - rss_before)
    twins = graph.number_of_nodes()
    relationships = graph.number_of_edges()

    rng = random.Random(args.seed)
    ids = list(graph.nodes)

    snapshot = None
    if not args.no_copy:
        start = time.perf_counter()
        copy = graph.copy()
        copy_seconds = time.perf_counter() - start
        snapshot = {"what": "G.copy()", "seconds": copy_seconds}
        del copy

    # Numeric properties of each twin's attribute dict, chosen before timing.
    writes = []
    for _ in range(2 * twins):
        twin = ids[rng.randrange(twins)]
        names = [k for k, v in graph.nodes[twin].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if names:
            name = names[rng.randrange(len(names))]
            writes.append((twin, name, float(rng.randrange(1000))))
    nodes = graph.nodes
    start = time.perf_counter()
    for twin, name, value in writes:
        nodes[twin][name] = value
    update_seconds = time.perf_counter() - start

    # As twinsim-bench: 201 rounds of 1,000 random ids, each round with ids of its own.
    lookup_ids = [ids[rng.randrange(twins)] for _ in range(201 * 1000)]
    find_times = []
    for round_ in range(201):
        batch = lookup_ids[round_ * 1000 : (round_ + 1) * 1000]
        start = time.perf_counter()
        for twin in batch:
            nodes[twin]
        find_times.append((time.perf_counter() - start) / len(batch))
    find_median = statistics.median(find_times)

    out = {
        "benchmark": "networkx-baseline",
        "networkx": nx.__version__,
        "python": sys.version.split()[0],
        "file": {"path": args.file, "bytes": size, "lines": lines},
        "twins": twins,
        "relationships": relationships,
        "models": len(models),
        "import": {
            "seconds": load_seconds,
            "lines_per_second": lines / load_seconds,
            "mb_per_second": size / 1e6 / load_seconds,
        },
        "memory": {
            "rss_before_bytes": rss_before,
            "rss_after_import_bytes": rss_after_untrimmed,
            "rss_after_trim_bytes": rss_after,
            "graph_bytes": graph_bytes,
            "bytes_per_twin": graph_bytes / twins if twins else 0.0,
            "peak_rss_bytes": proc_status_bytes("VmHWM"),
        },
        "snapshot": snapshot,
        "batched_updates": {
            "writes": len(writes),
            "seconds": update_seconds,
            "per_second": len(writes) / update_seconds if update_seconds > 0 else 0.0,
        },
        "find": {"median_seconds": find_median, "what": "G.nodes[id]"},
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
