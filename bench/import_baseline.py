#!/usr/bin/env python3
"""Load an ADT import file the way a Python user without twinsim would: the peers of `twinsim import`.

Flavours (one per process, so each process's peak memory is its own):
  pandas    the json module line by line, rows kept as dicts per section, then one
            pandas DataFrame of twins ($dtId, model, one column per property, the
            model column categorical) and one of relationships (source, target,
            name categorical): the fastest plain json+pandas form we know;
  networkx  bench/networkx_baseline.py's load: a MultiDiGraph with the twins'
            properties as node attributes and relationships as keyed edges.
Neither validates anything against the models (twinsim validates every twin).

Prints one JSON object: seconds (wall, from the start of loading), cpu_seconds
(user + system of this process), peak_rss_bytes, twins, relationships.

Usage: import_baseline.py FILE --flavour pandas|networkx
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def load_pandas(path: str):
    import pandas as pd

    twins, relationships = [], []
    section = None
    loads = json.loads
    with open(path, "rb") as f:
        for raw in f:
            value = loads(raw)
            if len(value) == 1 and "Section" in value:
                section = value["Section"]
            elif section == "Twins":
                value["model"] = value.pop("$metadata")["$model"]
                twins.append(value)
            elif section == "Relationships":
                relationships.append(value)
    frame = pd.DataFrame.from_records(twins)
    frame["model"] = frame["model"].astype("category")
    edges = pd.DataFrame.from_records(relationships)
    edges = edges.rename(columns={"$dtId": "source", "$targetId": "target", "$relationshipName": "name"})
    edges["name"] = edges["name"].astype("category")
    return len(frame), len(edges)


def load_networkx(path: str):
    from networkx_baseline import load

    graph, _, _, _ = load(path)
    return graph.number_of_nodes(), graph.number_of_edges()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--flavour", choices=["pandas", "networkx"], required=True)
    args = parser.parse_args(argv)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    twins, relationships = (load_pandas if args.flavour == "pandas" else load_networkx)(args.file)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({
        "benchmark": "import_baseline",
        "flavour": args.flavour,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_bytes": after.ru_maxrss * 1024,
        "twins": twins,
        "relationships": relationships,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
