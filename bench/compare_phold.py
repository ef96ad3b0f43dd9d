#!/usr/bin/env python3
"""twinsim's kernel beside SimPy 4 on PHOLD, in one go, with the same statistic on both sides.

For each LP count, runs N interleaved rounds: one `twinsim-bench phold --repeat 1`
measurement, then one SimPy measurement per style (bench/phold_simpy.py: "callback",
SimPy's fastest formulation, and "process", the idiomatic one), then the next round.
Every side reports the median of its N rounds (wall and CPU seconds), so a burst of
load on the shared machine hits each side alike, and nobody gets a best-of-N against
the other's single run. Prints one JSON object per LP count with both rates, every
round's figures, the ratios twinsim / SimPy per style (the target, 30, is against the
callback style), the ratios to the two C++ baselines that `twinsim-bench phold` runs
beside the kernel in each of its rounds (a naive std::priority_queue kernel and a
4-ary heap one, same model), the CPU model and the load averages before and after.

Usage: compare_phold.py [--lps N ...] [--events N] [--simpy-events N] [--rounds N]
                        [--simpy-style callback|process|both] [--smoke] [--bench PATH]
Exit status: 0 when both ran, 1 when either failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_RATIO = 30.0  # against SimPy's callback style, the fastest (issue 16)
BASELINES = ("naive_heap", "quad_heap")  # twinsim-bench phold's C++ baselines, run in the same rounds


def find_bench(explicit):
    if explicit:
        return explicit
    return os.environ.get("TWINSIM_BENCH") or shutil.which("twinsim-bench")


def run_lines(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise RuntimeError(f"{' '.join(command)} exited with status {result.returncode}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def summary(rounds: list[dict]) -> dict:
    """Median events/s (wall and CPU) of a side's rounds, and the rounds themselves."""
    events = rounds[0]["events"]
    seconds = statistics.median(r["seconds"] for r in rounds)
    cpu_seconds = statistics.median(r["cpu_seconds"] for r in rounds)
    return {
        "events": events,
        "median_seconds": seconds,
        "median_cpu_seconds": cpu_seconds,
        "events_per_second": events / seconds,
        "events_per_cpu_second": events / cpu_seconds,
        "round_events_per_second": [r["events"] / r["seconds"] for r in rounds],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lps", type=int, action="append", help="LP count (repeatable; default 16 1024 65536)")
    parser.add_argument("--events", type=int, default=2_000_000, help="events per measurement (both)")
    parser.add_argument("--simpy-events", type=int, help="events per SimPy measurement (default: --events)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; each side reports its median (default 5)")
    parser.add_argument("--simpy-style", choices=["callback", "process", "both"], default="both",
                        help="SimPy formulations to time (see phold_simpy.py; default both)")
    parser.add_argument("--smoke", action="store_true", help="one round of 100,000 events at 1,024 LPs (for CI)")
    parser.add_argument("--bench", help="the twinsim-bench program (default: $TWINSIM_BENCH, then PATH)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    bench = find_bench(args.bench)
    if not bench:
        print("compare_phold.py: twinsim-bench not found (use --bench)", file=sys.stderr)
        return 2
    lps_list = args.lps or ([1024] if args.smoke else [16, 1024, 65536])
    events = 100_000 if args.smoke else args.events
    simpy_events = 100_000 if args.smoke else (args.simpy_events or events)
    rounds = 1 if args.smoke else args.rounds
    styles = ["callback", "process"] if args.simpy_style == "both" else [args.simpy_style]
    cpu = cpu_model()
    for lps in lps_list:
        load_before = os.getloadavg()
        ours: list[dict] = []
        theirs: dict[str, list[dict]] = {s: [] for s in styles}
        try:
            for _ in range(rounds):
                ours += run_lines([bench, "phold", "--events", str(events), "--repeat", "1", "--lps", str(lps)])
                for style in styles:
                    theirs[style] += run_lines([sys.executable, os.path.join(HERE, "phold_simpy.py"), "--events",
                                                str(simpy_events), "--style", style, "--lps", str(lps)])
        except (RuntimeError, OSError, json.JSONDecodeError) as e:
            print(f"compare_phold.py: {e}", file=sys.stderr)
            return 1
        t = summary(ours)
        out = {
            "benchmark": "compare_phold",
            "lps": lps,
            "statistic": f"median of {rounds} interleaved rounds (twinsim, then SimPy per style, each round)",
            "rounds": rounds,
            "twinsim": t,
            "twinsim_events_per_second": t["events_per_second"],
        }
        for name in BASELINES:
            if all(name in r for r in ours):
                b = summary([{"events": r["events"], "seconds": r[name]["median_seconds"],
                              "cpu_seconds": r[name]["median_cpu_seconds"]} for r in ours])
                out[name] = b
                out[f"ratio_{name}"] = t["events_per_second"] / b["events_per_second"]
                out[f"cpu_ratio_{name}"] = t["events_per_cpu_second"] / b["events_per_cpu_second"]
        for style in styles:
            s = summary(theirs[style])
            out[f"simpy_{style}"] = s
            out[f"ratio_{style}"] = t["events_per_second"] / s["events_per_second"]
            # The same ratio in CPU time (thread CPU for twinsim, process CPU
            # for Python): steadier than wall time on a shared machine.
            out[f"cpu_ratio_{style}"] = t["events_per_cpu_second"] / s["events_per_cpu_second"]
        target_style = "callback" if "callback" in styles else styles[0]
        out["ratio"] = out[f"ratio_{target_style}"]
        out["target_ratio"] = TARGET_RATIO
        out["target_against"] = f"SimPy {target_style} style"
        out["meets_target"] = out["ratio"] >= TARGET_RATIO
        out["simpy_version"] = theirs[styles[0]][0]["simpy_version"]
        out["python"] = theirs[styles[0]][0]["python"]
        out["cpu"] = cpu
        out["load_before"] = list(load_before)
        out["load_after"] = list(os.getloadavg())
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
