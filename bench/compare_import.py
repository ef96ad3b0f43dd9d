#!/usr/bin/env python3
"""`twinsim import` of the realistic campus beside json+pandas and networkx, in one go.

The file is the campus scenarios/building/generate.py makes (--twins N, models embedded:
15 DTDL interfaces with inheritance, string, enum and date properties, sensor metadata
with sourceTimes, about 2N relationships), written to a temporary directory unless
--file names one. Each round runs, one after the other, `twinsim import --json FILE` as
a whole process (start-up, parsing, validating every twin against its models, exit),
then bench/import_baseline.py for pandas and for networkx (one process each); each
side reports the median of its rounds: wall seconds, CPU seconds (user + system, from
the kernel's accounting of the child) and peak resident memory, with MB/s of file. The
ratios are "times faster for twinsim". Also printed: the CPU model, the core count and
the load averages before and after (the machine may be shared).

Usage: compare_import.py [--twins N] [--rounds N] [--file FILE] [--no-networkx] [--smoke] [--twinsim PATH]
Exit status: 0 when every side ran and they loaded the same numbers of twins and
relationships, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare_phold import cpu_model  # noqa: E402

TARGET_SECONDS = 4.0      # for the full 1,000,000-twin campus (about 590 MB)
TARGET_PANDAS_RATIO = 5.0


def timed_process(command: list[str]) -> tuple[dict, str]:
    """Runs `command`; its wall seconds, CPU seconds and peak RSS (from wait4), and its stdout."""
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        # communicate() would reap the child itself; read, then wait4 for its rusage.
        stdout = process.stdout.read()
        stderr = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.stderr.write(stderr)
        raise RuntimeError(f"{' '.join(command)} exited with status {process.returncode}")
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss_bytes": usage.ru_maxrss * 1024}, stdout


def median_side(rounds: list[dict], size: int) -> dict:
    seconds = statistics.median(r["seconds"] for r in rounds)
    return {
        "median_seconds": seconds,
        "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in rounds),
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rounds),
        "mb_per_second": size / 1e6 / seconds,
        "round_seconds": [r["seconds"] for r in rounds],
        "round_cpu_seconds": [r["cpu_seconds"] for r in rounds],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twins", type=int, default=1_000_000, help="campus size (generate.py --twins; default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each side reports its median (default 3)")
    parser.add_argument("--file", help="use this campus file instead of generating one (kept)")
    parser.add_argument("--no-networkx", action="store_true", help="leave networkx out (it needs several GB at 1M twins)")
    parser.add_argument("--smoke", action="store_true", help="2,000 twins, one round (for CI)")
    parser.add_argument("--twinsim", help="the twinsim program (default: $TWINSIM_CLI, then PATH)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    cli = args.twinsim or os.environ.get("TWINSIM_CLI") or shutil.which("twinsim")
    if not cli:
        parser.error("twinsim not found: pass --twinsim PATH or set TWINSIM_CLI")
    twins = 2_000 if args.smoke else args.twins
    rounds = 1 if args.smoke else args.rounds
    flavours = ["pandas"] + ([] if args.no_networkx else ["networkx"])

    with tempfile.TemporaryDirectory(prefix="twinsim-compare-import-") as temp:
        path = args.file
        generate_seconds = None
        if not path:
            path = os.path.join(temp, "campus.ndjson")
            start = time.perf_counter()
            subprocess.run([sys.executable, os.path.join(ROOT, "scenarios", "building", "generate.py"),
                            "--twins", str(twins), "--embed-models", os.path.join(ROOT, "models", "building"),
                            "-o", path], check=True)
            generate_seconds = time.perf_counter() - start
        size = os.path.getsize(path)
        load_before = os.getloadavg()
        ours: list[dict] = []
        theirs: dict[str, list[dict]] = {f: [] for f in flavours}
        loaded: dict[str, tuple] = {}
        try:
            for _ in range(rounds):
                figure, stdout = timed_process([cli, "import", "--json", path])
                report = json.loads(stdout)
                loaded["twinsim"] = (report["twins"], report["relationships"])
                ours.append(figure)
                for flavour in flavours:
                    figure, stdout = timed_process([sys.executable, os.path.join(HERE, "import_baseline.py"), path,
                                                    "--flavour", flavour])
                    report = json.loads(stdout)
                    loaded[flavour] = (report["twins"], report["relationships"])
                    figure["in_process_seconds"] = report["seconds"]
                    theirs[flavour].append(figure)
        except (RuntimeError, OSError, json.JSONDecodeError, KeyError) as e:
            print(f"compare_import: {e}", file=sys.stderr)
            return 1
        load_after = os.getloadavg()

    out = {
        "benchmark": "compare_import",
        "file": {"twins_requested": twins, "bytes": size, "generated_seconds": generate_seconds,
                 "path": args.file},
        "twins": loaded["twinsim"][0],
        "relationships": loaded["twinsim"][1],
        "statistic": f"median of {rounds} interleaved rounds (twinsim, then each baseline, each round); "
                     "whole processes; CPU = user + system of the child",
        "twinsim": median_side(ours, size),
    }
    for flavour in flavours:
        side = median_side(theirs[flavour], size)
        side["median_in_process_seconds"] = statistics.median(r["in_process_seconds"] for r in theirs[flavour])
        out[flavour] = side
        out[f"ratio_{flavour}"] = side["median_seconds"] / out["twinsim"]["median_seconds"]
        out[f"cpu_ratio_{flavour}"] = side["median_cpu_seconds"] / out["twinsim"]["median_cpu_seconds"]
    out["target"] = {"seconds": TARGET_SECONDS, "mb_per_second": 150, "peak_rss_bytes": 800 * 1000 * 1000,
                     "pandas_ratio": TARGET_PANDAS_RATIO, "applies_to": "the 1,000,000-twin campus"}
    out["cpu"] = cpu_model()
    out["cores"] = os.cpu_count()
    out["load_before"] = list(load_before)
    out["load_after"] = list(load_after)
    print(json.dumps(out), flush=True)
    same = all(v == loaded["twinsim"] for v in loaded.values())
    if not same:
        print(f"compare_import: the sides loaded different graphs: {loaded}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
