#!/usr/bin/env python3
"""twinsim's kernel beside SimPy 4 on PHOLD, in one go.

Runs `twinsim-bench phold` and bench/phold_simpy.py (separate processes) for
the same LP counts and the same number of events (unless --simpy-events says
otherwise) and prints one JSON object per LP count with both rates and
the ratio twinsim / SimPy (target: at least 25), in wall time and in CPU time.

Usage: compare_phold.py [--lps N ...] [--events N] [--simpy-events N] [--simpy-style S] [--smoke] [--bench PATH]
Exit status: 0 when both ran, 1 when either failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_RATIO = 25.0


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lps", type=int, action="append", help="LP count (repeatable; default 16 1024 65536)")
    parser.add_argument("--events", type=int, default=2_000_000, help="events per measurement (both)")
    parser.add_argument("--simpy-events", type=int, help="events per SimPy measurement (default: --events)")
    parser.add_argument("--simpy-style", choices=["process", "callback"], default="process",
                        help="SimPy formulation (see phold_simpy.py; default: process, the idiomatic one)")
    parser.add_argument("--smoke", action="store_true", help="100,000 events at 1,024 LPs (for CI)")
    parser.add_argument("--bench", help="the twinsim-bench program (default: $TWINSIM_BENCH, then PATH)")
    args = parser.parse_args(argv)
    bench = find_bench(args.bench)
    if not bench:
        print("compare_phold.py: twinsim-bench not found (use --bench)", file=sys.stderr)
        return 2
    lps = args.lps or ([1024] if args.smoke else [16, 1024, 65536])
    events = 100_000 if args.smoke else args.events
    simpy_events = args.simpy_events or events
    lp_args = [a for n in lps for a in ("--lps", str(n))]
    try:
        ours = run_lines([bench, "phold", "--events", str(events)] + (["--repeat", "1"] if args.smoke else []) + lp_args)
        theirs = run_lines([sys.executable, os.path.join(HERE, "phold_simpy.py"), "--events", str(simpy_events),
                            "--style", args.simpy_style] + lp_args)
    except (RuntimeError, OSError, json.JSONDecodeError) as e:
        print(f"compare_phold.py: {e}", file=sys.stderr)
        return 1
    for t, s in zip(ours, theirs):
        ratio = t["events_per_second"] / s["events_per_second"]
        print(json.dumps({
            "benchmark": "compare_phold",
            "lps": t["lps"],
            "twinsim_events_per_second": t["events_per_second"],
            "simpy_events_per_second": s["events_per_second"],
            "twinsim_events": t["events"],
            "simpy_events": s["events"],
            "ratio": ratio,
            # The same ratio in CPU time (thread CPU for twinsim, process CPU
            # for Python): steadier than wall time on a shared machine.
            "cpu_ratio": t["events_per_cpu_second"] / s["events_per_cpu_second"],
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio >= TARGET_RATIO,
            "simpy_style": s["style"],
            "simpy_version": s["simpy_version"],
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
