#!/usr/bin/env python3
"""A job on a Dask LocalCluster of 2 worker processes (1 thread each) beside the
threaded runner on 2 threads, on the same machine: parallel efficiency
= threaded wall time / distributed wall time (target >= 0.9, issue 17).

The job: the bundled building's 61 rooms relaxing with noise over a day at a 1-minute
step, `--replications` replications (default 400) written to an HDF5 results file.
Each round runs both, interleaved (order alternating), and times the whole call of
twinsim.run: for the cluster that includes planning, sending the base graph to the
workers (their per-job cache is cleared first, so every round pays it), the batches,
returning the shards and the merge. The cluster is started once, before the rounds
(as a real cluster is up before a job). CPU-seconds: this process's and its finished children's (getrusage) plus,
for the cluster, the workers' (getrusage read on each worker before and after),
reported apart too (client_cpu_s, workers_cpu_s).

Prints one JSON object: medians of the rounds, each round's figures, the load
(os.getloadavg before and after), the CPU model, and whether both files are equal
(every dataset and attribute but `created`). PYTHONPATH must reach the twinsim
package (the build tree's python/ folder); needs dask[distributed].

The cluster starts with twinsim.distributed.BATCH_JOB_CONFIG (the workers' profiler off,
slower health ticks: docs/distributed.md) unless --dask-defaults.

    PYTHONPATH=build/python python bench/compare_distributed.py [--replications 400] [--rounds 3] [--dask-defaults] [--smoke]
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import sys
import tempfile
import time

SOURCE = pathlib.Path(__file__).resolve().parents[1]
ROOMS = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def self_cpu():
    # This process and its finished children (the merge's forked checks of a file); the
    # cluster's worker processes live across rounds, so they add nothing here.
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def worker_cpu():
    import resource as res
    r = res.getrusage(res.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def clear_worker_cache():
    from twinsim import distributed as d
    d._PREPARED.clear()
    return 0


def job(twinsim, replications, horizon):
    return twinsim.Scenario(
        "bench", base=str(SOURCE / "scenarios" / "building" / "building.ndjson"),
        base_models=[str(SOURCE / "models" / "building")],
        start="2026-07-01T00:00:00Z", horizon=horizon, step=60, replications=replications, seed=17,
        models=[{"model": "relaxation", "where": ROOMS,
                 "parameters": {"property": "temperature", "target": 24, "time_constant": "PT1H", "noise": 0.05}}],
        recording={"series": [{"where": ROOMS, "properties": ["temperature"], "interval": "PT15M"}]},
        kpis=[{"name": "mean room temperature", "statistic": "mean", "where": ROOMS, "property": "temperature",
               "over": "mean"}])


def same_content(a, b):
    import h5py
    import numpy as np

    def content(path):
        out = {}
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    data = obj[()]
                    out[name] = np.ascontiguousarray(data).tobytes() if obj.dtype.kind == "f" else repr(data)
                out[name + "@"] = repr({k: v for k, v in obj.attrs.items() if k not in ("DIMENSION_LIST", "REFERENCE_LIST")})
            f.visititems(visit)
            out["/@"] = repr({k: v for k, v in f.attrs.items() if k != "created"})
        return out

    return content(a) == content(b)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replications", type=int, default=400)
    parser.add_argument("--horizon", default="P1D")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the distributed runner's auto size")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="start the cluster with Dask's default settings, not twinsim.distributed.BATCH_JOB_CONFIG")
    parser.add_argument("--smoke", action="store_true", help="tiny job, one round (CI): checks it runs, not speed")
    args = parser.parse_args()
    if args.smoke:
        args.replications, args.horizon, args.rounds = 8, "PT6H", 1

    import dask
    import twinsim
    from distributed import Client, LocalCluster
    from twinsim.distributed import BATCH_JOB_CONFIG

    scenario = job(twinsim, args.replications, args.horizon)
    load_before = os.getloadavg()
    if not args.dask_defaults:
        dask.config.set(BATCH_JOB_CONFIG)  # the scheduler, the nannies and (through them) the workers
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=40)
    client = Client(cluster)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="twinsim-bench-distributed-") as folder:
        threaded_file = os.path.join(folder, "threaded.h5")
        dask_file = os.path.join(folder, "dask.h5")
        for r in range(args.rounds):
            figures = {"load_1min": os.getloadavg()[0]}
            order = ("threaded", "dask") if r % 2 == 0 else ("dask", "threaded")
            for kind in order:
                if kind == "threaded":
                    c0, t0 = self_cpu(), time.perf_counter()
                    twinsim.run(scenario, out=threaded_file, threads=2, progress=False)
                    figures["threaded_wall_s"] = time.perf_counter() - t0
                    figures["threaded_cpu_s"] = self_cpu() - c0
                else:
                    client.run(clear_worker_cache)
                    w0 = client.run(worker_cpu)
                    c0, t0 = self_cpu(), time.perf_counter()
                    result = twinsim.run(scenario, out=dask_file, client=client, batch_size=args.batch_size,
                                         progress=False)
                    figures["dask_wall_s"] = time.perf_counter() - t0
                    w1 = client.run(worker_cpu)
                    figures["dask_client_cpu_s"] = self_cpu() - c0
                    figures["dask_workers_cpu_s"] = sum(w1[a] - w0.get(a, 0.0) for a in w1)
                    figures["dask_cpu_s"] = figures["dask_client_cpu_s"] + figures["dask_workers_cpu_s"]
                    figures["batches"] = result.progress["batches"]
                    figures["batch_size"] = result.progress["batch_size"]
                    figures["seconds_per_task"] = result.progress["seconds_per_task"]
            figures["efficiency"] = figures["threaded_wall_s"] / figures["dask_wall_s"]
            figures["efficiency_cpu"] = figures["threaded_cpu_s"] / figures["dask_cpu_s"]
            rounds.append(figures)
        identical = same_content(threaded_file, dask_file)
    client.close()
    cluster.close()
    median = {k: statistics.median(f[k] for f in rounds)
              for k in ("threaded_wall_s", "dask_wall_s", "threaded_cpu_s", "dask_cpu_s", "dask_client_cpu_s",
                        "dask_workers_cpu_s")}
    report = {
        "benchmark": "distributed",
        "job": {"replications": args.replications, "horizon": args.horizon, "rooms": 61, "step_s": 60},
        "threaded": {"threads": 2, "wall_s": median["threaded_wall_s"], "cpu_s": median["threaded_cpu_s"]},
        "dask": {"workers": 2, "threads_per_worker": 1, "wall_s": median["dask_wall_s"], "cpu_s": median["dask_cpu_s"],
                 "client_cpu_s": median["dask_client_cpu_s"], "workers_cpu_s": median["dask_workers_cpu_s"],
                 "batches": rounds[-1]["batches"], "batch_size": rounds[-1]["batch_size"],
                 "seconds_per_task": rounds[-1]["seconds_per_task"],
                 "config": "dask defaults" if args.dask_defaults else "twinsim.distributed.BATCH_JOB_CONFIG"},
        # Efficiency on the same 2 cores: the threaded run's median wall time over the
        # cluster's (1.0: the cluster costs nothing), and the same with CPU-seconds
        # (client + scheduler + workers against the threaded process), which the load
        # of other processes distorts less.
        "efficiency": median["threaded_wall_s"] / median["dask_wall_s"],
        "efficiency_cpu": median["threaded_cpu_s"] / median["dask_cpu_s"],
        "target_efficiency": 0.9,
        "met_wall": median["threaded_wall_s"] / median["dask_wall_s"] >= 0.9,
        "met_cpu": median["threaded_cpu_s"] / median["dask_cpu_s"] >= 0.9,
        "identical_results": identical,
        "rounds": rounds,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "smoke": args.smoke,
    }
    print(json.dumps(report, indent=2))
    if not identical:
        print("the distributed file differs from the threaded one", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
