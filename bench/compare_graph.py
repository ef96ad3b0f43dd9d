#!/usr/bin/env python3
"""twinsim beside networkx on the same building-like graph, in one go.

Runs `twinsim-bench graph --keep FILE` (which generates FILE and measures
twinsim), then bench/networkx_baseline.py on FILE in a separate process (so
each process's resident memory is its own), and prints one JSON object with
both results and the ratios, each expressed as "times better for twinsim"
(networkx / twinsim for times and memory, twinsim / networkx for rates).

Usage: compare_graph.py [--twins N] [--smoke] [--bench PATH] [--keep FILE]
Exit status: 0 when both ran, 1 when either failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def find_bench(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("TWINSIM_BENCH"):
        return os.environ["TWINSIM_BENCH"]
    return shutil.which("twinsim-bench")


def run_json(command: list[str]) -> dict:
    """Runs a benchmark and returns the JSON object on its last line of output."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise RuntimeError(f"{' '.join(command)} exited with status {result.returncode}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(command)} printed nothing")
    return json.loads(lines[-1])


def ratio(numerator, denominator):
    if not numerator or not denominator:
        return None
    return numerator / denominator


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twins", type=int, default=1_000_000, help="number of twins N (relationships: 2N)")
    parser.add_argument("--smoke", action="store_true", help="N = 10,000 (for CI)")
    parser.add_argument("--bench", help="the twinsim-bench program (default: $TWINSIM_BENCH, then PATH)")
    parser.add_argument("--keep", help="keep the generated NDJSON file here")
    args = parser.parse_args(argv)

    bench = find_bench(args.bench)
    if not bench:
        parser.error("twinsim-bench not found: pass --bench PATH or set TWINSIM_BENCH")
    twins = 10_000 if args.smoke else args.twins

    with tempfile.TemporaryDirectory(prefix="twinsim-compare-graph-") as temp:
        path = args.keep or os.path.join(temp, "building.ndjson")
        try:
            ours = run_json([bench, "graph", "--twins", str(twins), "--keep", path])
            theirs = run_json([sys.executable, os.path.join(HERE, "networkx_baseline.py"), path])
        except (RuntimeError, OSError, json.JSONDecodeError) as e:
            print(f"compare_graph: {e}", file=sys.stderr)
            return 1

    if theirs["twins"] != ours["twins"] or theirs["relationships"] != ours["relationships"]:
        print("compare_graph: the two loaded different graphs", file=sys.stderr)
        return 1

    snapshot_nx = (theirs.get("snapshot") or {}).get("seconds")
    out = {
        "benchmark": "compare-graph",
        "twins": ours["twins"],
        "relationships": ours["relationships"],
        "file_bytes": ours["file"]["bytes"],
        "twinsim": ours,
        "networkx": theirs,
        "ratios": {
            "meaning": "times better for twinsim (networkx/twinsim for seconds and bytes, twinsim/networkx for rates)",
            "import_seconds": ratio(theirs["import"]["seconds"], ours["import"]["seconds"]),
            "memory_bytes": ratio(theirs["memory"]["graph_bytes"], ours["memory"]["graph_bytes"]),
            "snapshot_seconds": ratio(snapshot_nx, ours["snapshot"]["median_seconds"]),
            "batched_updates_per_second": ratio(
                ours["batched_updates"]["per_second"], theirs["batched_updates"]["per_second"]
            ),
            "find_seconds": ratio(theirs["find"]["median_seconds"], ours["find"]["median_seconds"]),
        },
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
