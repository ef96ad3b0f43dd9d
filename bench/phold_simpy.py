#!/usr/bin/env python3
"""PHOLD (ROSS semantics) in SimPy 4: the baseline for `twinsim-bench phold`.

One initial event per logical process (LP); each event schedules one more at
now + 0.1 + Exp(mean 0.9), to a uniformly random LP with probability 0.25,
else to itself. Two formulations:
  process  (default) the idiomatic SimPy 4 one: since every event schedules
           exactly one more, the events in flight are a fixed population of
           messages; each is a process looping `yield env.timeout(dt)` and
           moving to its next LP, as SimPy users write models;
  callback timeouts whose callback schedules the next one (no generators),
           the fastest plain-SimPy formulation.
Prints one JSON object per LP count, like the C++ benchmark.

Usage: phold_simpy.py [--lps N ...] [--events N] [--seed S] [--style process|callback]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import simpy


def run_once_process(lps: int, events: int, seed: int):
    env = simpy.Environment()
    rng = random.Random(seed)
    expo = rng.expovariate
    rand = rng.random
    randrange = rng.randrange
    rate = 1.0 / 0.9
    state = {"remaining": events}
    done = env.event()

    def message(env, lp):
        # One PHOLD event per timeout: handling it at `lp` sends the message on.
        while True:
            yield env.timeout(0.1 + expo(rate))
            state["remaining"] -= 1
            if state["remaining"] == 0:
                done.succeed()
                return
            if rand() < 0.25:
                lp = randrange(lps)

    for lp in range(lps):
        env.process(message(env, lp))
    start, cpu_start = time.perf_counter(), time.process_time()
    env.run(until=done)
    return env, time.perf_counter() - start, time.process_time() - cpu_start


def run_once(lps: int, events: int, seed: int, style: str = "process") -> dict:
    if style == "process":
        env, seconds, cpu_seconds = run_once_process(lps, events, seed)
    else:
        env, seconds, cpu_seconds = run_once_callback(lps, events, seed)
    return {
        "benchmark": "phold_simpy",
        "style": style,
        "lps": lps,
        "events": events,
        "seconds": seconds,
        "events_per_second": events / seconds,
        "cpu_seconds": cpu_seconds,
        "events_per_cpu_second": events / cpu_seconds,
        "simulated_time": env.now,
        "simpy_version": simpy.__version__,
        "python": sys.version.split()[0],
    }


def run_once_callback(lps: int, events: int, seed: int):
    env = simpy.Environment()
    rng = random.Random(seed)
    expo = rng.expovariate
    rand = rng.random
    randrange = rng.randrange
    state = {"remaining": events}
    done = env.event()

    def make_callback(lp):
        def fire(_event):
            state["remaining"] -= 1
            if state["remaining"] == 0:
                done.succeed()
                return
            dest = randrange(lps) if rand() < 0.25 else lp
            env.timeout(0.1 + expo(1.0 / 0.9)).callbacks.append(callbacks[dest])
        return fire

    callbacks = [make_callback(lp) for lp in range(lps)]
    for lp in range(lps):
        env.timeout(0.1 + expo(1.0 / 0.9)).callbacks.append(callbacks[lp])
    start, cpu_start = time.perf_counter(), time.process_time()
    env.run(until=done)
    return env, time.perf_counter() - start, time.process_time() - cpu_start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lps", type=int, action="append", help="LP count (repeatable; default 16 1024 65536)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events per measurement")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--style", choices=["process", "callback"], default="process",
                        help="process: messages as processes looping on env.timeout (idiomatic, default); "
                        "callback: timeout callbacks (fastest plain SimPy)")
    args = parser.parse_args(argv)
    for lps in args.lps or [16, 1024, 65536]:
        print(json.dumps(run_once(lps, args.events, args.seed, args.style)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
