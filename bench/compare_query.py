#!/usr/bin/env python3
"""twinsim's query language beside networkx and pandas on the same graph.

Runs `twinsim-bench query --keep FILE` (which generates FILE and times
twinsim's queries in C++), then bench/query_baseline.py on FILE in a separate
process with the same building, sensor and queries: there twinsim is timed
from Python as a user gets the answer (query_twins(...).to_dataframe()),
interleaved with networkx, pandas done well (categorical model column, indexed
joins) and naive pandas. Prints one JSON object: every result, whether the row
counts agree, and per question the ratios baseline / twinsim of the median
times ("times faster in twinsim"), against twinsim from Python ("ratios") and
against the C++ figure ("ratios_cpp"), with the CPU model and load. It starts
with "targets": issue 16's Python-side targets with the figures each is judged
on (to_dataframe / to_arrow of the room filter and COUNT beside pandas, wall and
CPU ms, and the paging ratios).

Usage: compare_query.py [--twins N] [--smoke] [--runs N] [--bench PATH] [--keep FILE] [--no-python]
Exit status: 0 when both ran and agree on every row count, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare_graph import find_bench, ratio, run_json  # noqa: E402
from compare_phold import cpu_model  # noqa: E402


def targets(paths, paging_cpp) -> dict:
    """Issue 16's Python-side targets, each with the figures it is judged on
    (medians of interleaved rounds, wall and process-CPU ms): the 100,000-row
    filter as a DataFrame and as an Arrow table in at most 20 ms and faster
    than pandas' own answer; COUNT() ahead of pandas' count; every page size
    at most 1.2x one page, from Python and in C++."""
    if not paths:
        return {}
    ms = lambda s: None if s is None else round(s * 1e3, 3)  # noqa: E731
    out = {}
    room = paths.get("room_filter_100k", {})
    pandas = room.get("pandas")
    for name in ("to_dataframe", "to_arrow"):
        f = room.get(name)
        if not f or not pandas:
            continue
        out[name] = {"rows": f["rows"], "wall_ms": ms(f["median_seconds"]), "cpu_ms": ms(f["median_cpu_seconds"]),
                     "pandas_wall_ms": ms(pandas["median_seconds"]), "pandas_cpu_ms": ms(pandas["median_cpu_seconds"]),
                     "pandas_over_twinsim_wall": f.get("pandas_over_twinsim"),
                     "pandas_over_twinsim_cpu": f.get("pandas_over_twinsim_cpu"),
                     "at_most_20_ms": f["median_seconds"] <= 20e-3,
                     "faster_than_pandas": f["median_seconds"] < pandas["median_seconds"]}
    count = paths.get("count_filter")
    if count:
        out["count"] = {"wall_ms": ms(count["twinsim"]["median_seconds"]), "cpu_ms": ms(count["twinsim"]["median_cpu_seconds"]),
                        "pandas_wall_ms": ms(count["pandas"]["median_seconds"]),
                        "pandas_cpu_ms": ms(count["pandas"]["median_cpu_seconds"]),
                        "pandas_over_twinsim_wall": count.get("pandas_over_twinsim"),
                        "pandas_over_twinsim_cpu": count.get("pandas_over_twinsim_cpu"),
                        "ahead_of_pandas": count["twinsim"]["median_seconds"] < count["pandas"]["median_seconds"]}
    paging = {}
    for key in ("room_filter_100k", "join_floor_rooms"):
        f = paths.get(key)
        if f:
            paging[key] = {name: f[name].get("ratio_to_one_page") for name in ("rows_page_size_1000", "rows_page_size_100")}
    out["paging_python_ratio_to_one_page"] = paging
    out["paging_python_at_most_1_2"] = all(r is not None and r <= 1.2 for p in paging.values() for r in p.values())
    if paging_cpp:
        out["paging_cpp"] = paging_cpp
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twins", type=int, default=1_000_000, help="number of twins N")
    parser.add_argument("--smoke", action="store_true", help="N = 10,000 and 3 runs (for CI)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each scan (point questions: 10x + 1)")
    parser.add_argument("--bench", help="the twinsim-bench program (default: $TWINSIM_BENCH, then PATH)")
    parser.add_argument("--keep", help="keep the generated NDJSON file here")
    parser.add_argument("--no-python", action="store_true",
                        help="do not time twinsim from Python (when its package is not built)")
    args = parser.parse_args(argv)

    bench = find_bench(args.bench)
    if not bench:
        parser.error("twinsim-bench not found: pass --bench PATH or set TWINSIM_BENCH")
    twins = 10_000 if args.smoke else args.twins
    runs = 3 if args.smoke else args.runs

    with tempfile.TemporaryDirectory(prefix="twinsim-compare-query-") as temp:
        path = args.keep or os.path.join(temp, "building.ndjson")
        try:
            ours = run_json([bench, "query", "--twins", str(twins), "--runs", str(runs), "--keep", path])
            parameters = ours["parameters"]
            queries = {key: figure["query"] for key, figure in ours["queries"].items()}
            load_before = os.getloadavg()
            theirs = run_json([sys.executable, os.path.join(HERE, "query_baseline.py"), path,
                               "--building", parameters["building"], "--sensor", parameters["sensor"],
                               "--runs", str(runs)] + ([] if args.no_python else ["--twinsim", json.dumps(queries)]))
        except (RuntimeError, OSError, json.JSONDecodeError, KeyError) as e:
            print(f"compare_query: {e}", file=sys.stderr)
            return 1

    flavours = ("networkx", "pandas", "pandas_naive")
    ratios = {"meaning": "baseline median / median of twinsim from Python (to_dataframe): times faster in twinsim"}
    ratios_cpp = {"meaning": "baseline median / median of twinsim in C++ (twinsim-bench query): times faster in twinsim"}
    agree = {}
    for key, figure in ours["queries"].items():
        base = theirs["queries"].get(key, {})
        python_side = base.get("twinsim")
        ratios[key] = {f: ratio(base[f]["median_seconds"], python_side["median_seconds"])
                       for f in flavours if base.get(f) and python_side}
        ratios_cpp[key] = {f: ratio(base[f]["median_seconds"], figure["median_seconds"]) for f in flavours if base.get(f)}
        rows = [base[f]["rows"] for f in flavours + ("twinsim",) if base.get(f)]
        agree[key] = all(r == figure["rows"] for r in rows)
    out = {
        "benchmark": "compare-query",
        "targets": targets(theirs.get("python_paths"), ours.get("paging")),
        "twins": ours["twins"],
        "relationships": ours["relationships"],
        "twinsim": ours,
        "baseline": theirs,
        "row_counts_agree": agree,
        "ratios": ratios,
        "ratios_cpp": ratios_cpp,
        "paging_cpp": ours.get("paging"),
        "python_paths": theirs.get("python_paths"),
        "cpu": cpu_model(),
        "load_before_baseline": list(load_before),
        "load_after": list(os.getloadavg()),
    }
    print(json.dumps(out))
    if not all(agree.values()):
        print("compare_query: twinsim and the baseline disagree on a row count: " +
              ", ".join(k for k, v in agree.items() if not v), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
