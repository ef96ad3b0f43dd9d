#!/usr/bin/env python3
"""The Python baseline of `twinsim-bench query`: the same questions answered
the way a Python user without twinsim would, on the same generated file.

The file is read as bench/networkx_baseline.py reads it (the json module,
twins as nodes of a networkx MultiDiGraph with their properties as node
attributes, relationships as keyed edges), and also into pandas frames (one
frame of every twin: $dtId, model and one column per property; one frame of
relationships: source, target, name, properties; both also indexed, by $dtId
and by source, for the point questions). Model inheritance, which
neither knows about, is worked out from the Models section's "extends" first,
as IS_OF_MODEL needs it.

Questions (the twinsim-bench query keys):
- is_of_model_filter: Space twins (and derived models) with temperature > 25.5;
- room_filter_100k: Room twins with temperature > 22.8 (about 10 % of the
  twins, two columns);
- count_filter: how many twins have co2 > 1000;
- join_site_floors: the hasPart targets of one building with temperature > 22;
- join_floor_rooms: every floor's hasPart targets (its rooms) warmer than 22.8,
  about 10 % of the twins: a one-hop JOIN returning many rows;
- match_3_hops: every twin within 3 hops of one sensor, either direction; one
  row per path that uses each relationship at most once, as MATCH
  (S)-[*..3]-(X) counts them (networkx only: pandas has no traversal; the
  distinct twins within 3 hops, as nx.single_source_shortest_path_length
  gives them, are reported beside it);
- group_by_avg: average Room temperature per occupancy.

pandas comes in two forms: "pandas", done well (the model and relationship-name
columns categorical, relationships indexed by source and twins by $dtId, so a
join is index lookups), and "pandas_naive" (object columns, joins by merging
frames), as a first attempt would be written.

With --twinsim QUERIES (a JSON object: question key -> query text, as
`twinsim-bench query` prints them), the file is also loaded with twinsim's
Python package (TwinGraph.from_ndjson) and each question is timed from Python
as a user gets its answer: `graph.query_twins(q).to_dataframe()` (COUNT: the
number from the first row), so the Python binding and the DataFrame are in
the figure.

Every flavour of a question is timed once per round, the rounds interleaved
(`--runs` rounds after one warm-up round), and each reports its median and
its row count. Prints one JSON object.

Usage: query_baseline.py FILE --building ID --sensor ID [--runs N] [--twinsim QUERIES]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from networkx_baseline import load  # noqa: E402  (same loading as the graph baseline)

SPACE = "dtmi:twinsim:bench:Space;1"
FLOOR = "dtmi:twinsim:bench:Floor;1"
ROOM = "dtmi:twinsim:bench:Room;1"


def derived_models(models: list, base: str) -> set:
    """`base` and every model that extends it, directly or not."""
    parents = {}
    for model in models:
        extends = model.get("extends", [])
        parents[model["@id"]] = [extends] if isinstance(extends, str) else list(extends)

    def is_a(model_id):
        return model_id == base or any(is_a(p) for p in parents.get(model_id, []))

    return {model_id for model_id in parents if is_a(model_id)}


def timed(flavours: dict, runs: int) -> dict:
    """{flavour: {median_seconds, min_seconds, rows}}: one warm-up round, then
    `runs` rounds, each calling every flavour once (interleaved). Each answer
    is dropped after its clock stops: when `result = function()` rebound the
    name, the previous flavour's answer (100,000 dicts for the row flavours)
    was freed inside the next flavour's timing."""
    rows = {name: len(function()) for name, function in flavours.items()}
    times = {name: [] for name in flavours}
    for _ in range(runs):
        for name, function in flavours.items():
            start = time.perf_counter()
            result = function()
            times[name].append(time.perf_counter() - start)
            if len(result) != rows[name]:
                raise RuntimeError(f"{name}: the row count changed between runs")
            result = None  # freed here, untimed: not charged to the next flavour
    return {name: {"median_seconds": statistics.median(t), "min_seconds": min(t), "rows": rows[name], "runs": runs}
            for name, t in times.items()}


def timed_cpu(flavours: dict, runs: int) -> dict:
    """As timed(), with the CPU time of the process (time.process_time) beside the wall time."""
    rows = {name: len(function()) for name, function in flavours.items()}
    wall = {name: [] for name in flavours}
    cpu = {name: [] for name in flavours}
    for _ in range(runs):
        for name, function in flavours.items():
            cpu_start, start = time.process_time(), time.perf_counter()
            result = function()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu_start)
            if len(result) != rows[name]:
                raise RuntimeError(f"{name}: the row count changed between runs")
            result = None  # freed here, untimed: not charged to the next flavour
    return {name: {"median_seconds": statistics.median(wall[name]), "median_cpu_seconds": statistics.median(cpu[name]),
                   "min_seconds": min(wall[name]), "rows": rows[name], "runs": runs}
            for name in flavours}


def _ratio(a, b):
    return a / b if b else None


def frames(graph):
    import pandas as pd

    records = []
    for node, attributes in graph.nodes(data=True):
        record = {"$dtId": node, "model": attributes["$metadata"]["$model"]}
        record.update((k, v) for k, v in attributes.items() if k != "$metadata")
        records.append(record)
    twins = pd.DataFrame.from_records(records)
    edges = pd.DataFrame.from_records(
        [{"source": s, "target": t, "name": d["$relationshipName"], **{k: v for k, v in d.items() if k != "$relationshipName"}}
         for s, t, d in graph.edges(data=True)]
    )
    return twins, edges


def paths_within(graph, start, hops: int):
    """Every path of 1..hops relationships from `start`, in either direction,
    each relationship used at most once per path: the far end of each."""
    out = []

    def walk(node, depth, used):
        if depth == hops:
            return
        for _, target, key in graph.out_edges(node, keys=True):
            edge = (node, target, key)
            if edge not in used:
                out.append(target)
                walk(target, depth + 1, used | {edge})
        for source, _, key in graph.in_edges(node, keys=True):
            edge = (source, node, key)
            if edge not in used:
                out.append(source)
                walk(source, depth + 1, used | {edge})

    walk(start, 0, frozenset())
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="the import file (twinsim-bench query --keep FILE)")
    parser.add_argument("--building", required=True, help="the building of the JOIN question")
    parser.add_argument("--sensor", required=True, help="the sensor of the MATCH question")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each scan (point questions: 10x + 1)")
    parser.add_argument("--twinsim", metavar="QUERIES",
                        help="also time twinsim from Python: a JSON object of question key -> query text")
    args = parser.parse_args(argv)
    import networkx as nx
    import pandas as pd

    start = time.perf_counter()
    graph, lines, size, models = load(args.file)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    twins, edges = frames(graph)
    frames_seconds = time.perf_counter() - start
    spaces = derived_models(models, SPACE)
    # pandas done well: categorical model and relationship-name columns.
    start = time.perf_counter()
    naive_twins, naive_edges = twins, edges
    twins = twins.assign(model=twins["model"].astype("category"))
    edges = edges.assign(name=edges["name"].astype("category"))
    categorical_seconds = time.perf_counter() - start
    nodes = graph.nodes
    scan_runs, point_runs = args.runs, args.runs * 10 + 1
    minus_inf = -math.inf

    def nx_is_of_model_filter():
        return [(n, a["temperature"]) for n, a in graph.nodes(data=True)
                if a["$metadata"]["$model"] in spaces and a.get("temperature", minus_inf) > 25.5]

    def pd_is_of_model_filter():
        return twins.loc[twins["model"].isin(spaces) & (twins["temperature"] > 25.5), ["$dtId", "temperature"]]

    def naive_is_of_model_filter():
        return naive_twins.loc[naive_twins["model"].isin(spaces) & (naive_twins["temperature"] > 25.5),
                               ["$dtId", "temperature"]]

    rooms = derived_models(models, ROOM)

    def nx_room_filter():
        return [(n, a["temperature"]) for n, a in graph.nodes(data=True)
                if a["$metadata"]["$model"] in rooms and a.get("temperature", minus_inf) > 22.8]

    def pd_room_filter():
        return twins.loc[twins["model"].isin(rooms) & (twins["temperature"] > 22.8), ["$dtId", "temperature"]]

    def naive_room_filter():
        return naive_twins.loc[naive_twins["model"].isin(rooms) & (naive_twins["temperature"] > 22.8),
                               ["$dtId", "temperature"]]

    def nx_count_filter():
        return [sum(1 for _, a in graph.nodes(data=True) if a.get("co2", minus_inf) > 1000)]

    def pd_count_filter():
        return [int((twins["co2"] > 1000).sum())]

    def nx_join():
        return [(t, nodes[t]["temperature"]) for _, t, d in graph.out_edges(args.building, data=True)
                if d["$relationshipName"] == "hasPart" and nodes[t].get("temperature", minus_inf) > 22]

    # Indexed by id and by source (built once, as twinsim's indices are), so the
    # point question is lookups rather than scans of the frames.
    start = time.perf_counter()
    twins_by_id = twins.set_index("$dtId")
    edges_by_source = edges.set_index("source").sort_index()
    index_seconds = time.perf_counter() - start

    def pd_join():
        out_edges = edges_by_source.loc[args.building:args.building]
        targets = out_edges.loc[out_edges["name"] == "hasPart", "target"]
        # Column first, then reindex: .loc[targets] (of the frame or of the
        # column) costs ~20 ms at 1M twins in pandas 3, reindex ~0.1 ms.
        temperatures = twins_by_id["temperature"].reindex(targets.to_numpy())
        return temperatures[temperatures > 22]

    def naive_join():
        out_edges = naive_edges[(naive_edges["source"] == args.building) & (naive_edges["name"] == "hasPart")]
        joined = out_edges[["target"]].merge(naive_twins[["$dtId", "temperature"]], left_on="target", right_on="$dtId")
        return joined.loc[joined["temperature"] > 22, ["$dtId", "temperature"]]

    def nx_join_floor_rooms():
        return [(f, t) for f, a in graph.nodes(data=True) if a["$metadata"]["$model"] == FLOOR
                for _, t, d in graph.out_edges(f, data=True)
                if d["$relationshipName"] == "hasPart" and nodes[t].get("temperature", minus_inf) > 22.8]

    floor_ids = twins.loc[twins["model"] == FLOOR, "$dtId"]

    def pd_join_floor_rooms():
        # Edges from floors (the floor ids looked up in the by-source index), then the targets' temperatures.
        out_edges = edges_by_source.loc[edges_by_source.index.isin(floor_ids.to_numpy())]
        out_edges = out_edges[out_edges["name"] == "hasPart"]
        temperatures = twins_by_id["temperature"].reindex(out_edges["target"].to_numpy()).to_numpy()
        keep = temperatures > 22.8
        return pd.DataFrame({"floor": out_edges.index.to_numpy()[keep], "room": out_edges["target"].to_numpy()[keep]})

    def naive_join_floor_rooms():
        floors = naive_twins.loc[naive_twins["model"] == FLOOR, ["$dtId"]]
        joined = floors.merge(naive_edges[naive_edges["name"] == "hasPart"], left_on="$dtId", right_on="source")
        joined = joined.merge(naive_twins[["$dtId", "temperature"]], left_on="target", right_on="$dtId",
                              suffixes=("", "_room"))
        joined = joined[joined["temperature"] > 22.8]
        return pd.DataFrame({"floor": joined["source"], "room": joined["target"]})

    def nx_match():
        return paths_within(graph, args.sensor, 3)

    undirected = graph.to_undirected(as_view=True)

    def nx_within_distinct():
        return [n for n, d in nx.single_source_shortest_path_length(undirected, args.sensor, cutoff=3).items() if d > 0]

    def nx_group_by():
        sums = {}
        for _, a in graph.nodes(data=True):
            if a["$metadata"]["$model"] == ROOM and "temperature" in a and "occupancy" in a:
                s = sums.setdefault(a["occupancy"], [0.0, 0])
                s[0] += a["temperature"]
                s[1] += 1
        return {k: total / n for k, (total, n) in sums.items()}

    def pd_group_by():
        return twins.loc[twins["model"] == ROOM].groupby("occupancy")["temperature"].mean()

    def naive_group_by():
        return naive_twins.loc[naive_twins["model"] == ROOM].groupby("occupancy")["temperature"].mean()

    flavours = {
        "is_of_model_filter": {"networkx": nx_is_of_model_filter, "pandas": pd_is_of_model_filter,
                               "pandas_naive": naive_is_of_model_filter},
        "room_filter_100k": {"networkx": nx_room_filter, "pandas": pd_room_filter, "pandas_naive": naive_room_filter},
        "count_filter": {"networkx": nx_count_filter, "pandas": pd_count_filter},
        "join_site_floors": {"networkx": nx_join, "pandas": pd_join, "pandas_naive": naive_join},
        "join_floor_rooms": {"networkx": nx_join_floor_rooms, "pandas": pd_join_floor_rooms,
                             "pandas_naive": naive_join_floor_rooms},
        "match_3_hops": {"networkx": nx_match, "networkx_distinct_twins": nx_within_distinct},
        "group_by_avg": {"networkx": nx_group_by, "pandas": pd_group_by, "pandas_naive": naive_group_by},
    }
    twinsim_info = None
    if args.twinsim:
        import twinsim

        queries = json.loads(args.twinsim)
        start = time.perf_counter()
        ts_graph = twinsim.TwinGraph.from_ndjson(args.file)
        twinsim_info = {"version": getattr(twinsim, "__version__", None), "load_seconds": time.perf_counter() - start}

        def ts_answer(query):
            if "COUNT()" in query:
                return lambda: [next(iter(ts_graph.query_twins(query)))["COUNT"]]
            return lambda: ts_graph.query_twins(query).to_dataframe()

        for key, query in queries.items():
            if key in flavours:
                flavours[key]["twinsim"] = ts_answer(query)

        # How a Python user can take a many-row answer: every row as dicts
        # (one page, 1,000-row pages, 100-row pages: the pages resume the
        # query's cursor), a DataFrame, an Arrow table; beside pandas' own
        # answer to the same question.
        def rows_paged(query, page_size):
            return lambda: ts_graph.query_twins(query, page_size=page_size).to_list()

        def arrow(query):
            return lambda: ts_graph.query_twins(query).to_arrow()

        python_paths = {}
        if "count_filter" in queries:
            # COUNT from Python (the number, as a user reads it) beside pandas' count, wall and CPU.
            python_paths["count_filter"] = {"twinsim": flavours["count_filter"]["twinsim"],
                                            "pandas": flavours["count_filter"]["pandas"]}
        for key in ("room_filter_100k", "join_floor_rooms"):
            if key not in queries:
                continue
            query = queries[key]
            python_paths[key] = {
                "rows_one_page": rows_paged(query, 0),
                "rows_page_size_1000": rows_paged(query, 1000),
                "rows_page_size_100": rows_paged(query, 100),
                "to_dataframe": flavours[key]["twinsim"],
                "to_arrow": arrow(query),
                "pandas": flavours[key]["pandas"],
            }

    out = {
        "benchmark": "query-baseline",
        "python": sys.version.split()[0],
        "networkx": nx.__version__,
        "pandas": pd.__version__,
        "file": {"path": args.file, "bytes": size, "lines": lines},
        "twins": graph.number_of_nodes(),
        "relationships": graph.number_of_edges(),
        "load_seconds": load_seconds,
        "frames_seconds": frames_seconds,
        "index_seconds": index_seconds,
        "categorical_seconds": categorical_seconds,
        "twinsim_python": twinsim_info,
        "queries": {key: timed(fs, point_runs if key in ("join_site_floors", "match_3_hops") else scan_runs)
                    for key, fs in flavours.items()},
        "note": "median of interleaved rounds (every flavour once per round) after one warm-up round; "
                "count_filter rows is 1 (the count), as SELECT COUNT()",
    }
    # The count itself, to check against twinsim's.
    out["queries"]["count_filter"]["count"] = nx_count_filter()[0]
    if twinsim_info is not None:
        load_paths = os.getloadavg()
        paths = {key: timed_cpu(fs, scan_runs * (5 if key == "count_filter" else 1)) for key, fs in python_paths.items()}
        count = paths.get("count_filter")
        if count:
            count["pandas_over_twinsim"] = _ratio(count["pandas"]["median_seconds"], count["twinsim"]["median_seconds"])
            count["pandas_over_twinsim_cpu"] = _ratio(count["pandas"]["median_cpu_seconds"], count["twinsim"]["median_cpu_seconds"])
        for key, figures in paths.items():
            if key == "count_filter":
                continue
            one = figures["rows_one_page"]["median_seconds"]
            for name in ("rows_page_size_1000", "rows_page_size_100"):
                figures[name]["ratio_to_one_page"] = figures[name]["median_seconds"] / one if one else None
            for name in ("to_dataframe", "to_arrow"):
                figures[name]["pandas_over_twinsim"] = _ratio(figures["pandas"]["median_seconds"], figures[name]["median_seconds"])
                figures[name]["pandas_over_twinsim_cpu"] = _ratio(figures["pandas"]["median_cpu_seconds"],
                                                                  figures[name]["median_cpu_seconds"])
        out["python_paths"] = paths
        out["python_paths_load"] = {"before": list(load_paths), "after": list(os.getloadavg())}
        out["python_paths_note"] = ("twinsim from Python on the same questions: rows as dicts at page sizes 0 / 1000 / 100 "
                                    "(ratio_to_one_page: target at most 1.2), to_dataframe() and to_arrow() (target at "
                                    "most 20 ms for about 100,000 rows and faster than pandas' own answer, "
                                    "pandas_over_twinsim > 1), COUNT() as the number beside pandas' count (5x the "
                                    "rounds); medians of interleaved rounds, wall and process CPU")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
