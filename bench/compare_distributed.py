#!/usr/bin/env python3
"""Jobs on a Dask LocalCluster of 2 worker processes (1 thread each) beside the
threaded runner on 2 threads, on the same machine: parallel efficiency
= threaded wall time / distributed wall time (target >= 0.9, issue 17).

The jobs (--jobs, measured in turn; the first is the headline figure):
- sweep (the default headline): the bundled production plant's capacity sweep
  (scenarios/production/capacity-sweep.yaml: 24 configurations over next quarter's
  92 days, events recorded), ceil(--replications / 24) replications of each point:
  400 -> 17 each, 408 runs, about 16 CPU-seconds. The capacity-planning job issue 17
  is about, and the size of job anyone sends to a cluster.
- plant: the plant as staffed today (plant-q4.yaml), --replications replications.
- building: the tiny job measured before: the bundled building's 61 rooms relaxing
  with noise over --horizon (a day) at a 1-minute step, --replications replications
  (400 one-day runs are about 2 CPU-seconds in all, so the cluster's fixed latencies
  weigh most). Kept in the default run so the efficiency-vs-size table shows it.

Each round runs both, interleaved (order alternating), and times the whole call of
twinsim.run: for the cluster that includes planning, sending the base graph to the
workers (their per-job cache is cleared first, so every round pays it), the batches,
returning the shards and the merge. The cluster is started once, before the rounds
(as a real cluster is up before a job). CPU-seconds: this process's and its finished
children's (getrusage) plus, for the cluster, the workers' (getrusage read on each
worker before and after), reported apart too (client_cpu_s, workers_cpu_s). Each
cluster round also reports phases_s: wall seconds of the client's payload export,
scatter, wait for the pilot run, wait for batches, and merge.

Prints one JSON object: per job the medians of the rounds, each round's figures,
whether the files were equal in every round (every dataset and attribute but
`created`); a `table` of efficiency against the job's size; the load
(os.getloadavg before and after) and the CPU model. PYTHONPATH must reach the
twinsim package (the build tree's python/ folder); needs dask[distributed].

The cluster starts with twinsim.distributed.BATCH_JOB_CONFIG (the workers' profiler off,
slower health ticks: docs/distributed.md) unless --dask-defaults.

    PYTHONPATH=build/python python bench/compare_distributed.py [--jobs sweep,building] [--replications 400]
        [--rounds 3] [--dask-defaults] [--smoke]
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


def building_job(twinsim, replications, horizon):
    """The tiny job: the bundled building's 61 rooms relaxing with noise (1-minute step,
    temperatures every 15 minutes); 400 one-day runs are about 2 CPU-seconds in all."""
    return twinsim.Scenario(
        "bench", base=str(SOURCE / "scenarios" / "building" / "building.ndjson"),
        base_models=[str(SOURCE / "models" / "building")],
        start="2026-07-01T00:00:00Z", horizon=horizon, step=60, replications=replications, seed=17,
        models=[{"model": "relaxation", "where": ROOMS,
                 "parameters": {"property": "temperature", "target": 24, "time_constant": "PT1H", "noise": 0.05}}],
        recording={"series": [{"where": ROOMS, "properties": ["temperature"], "interval": "PT15M"}]},
        kpis=[{"name": "mean room temperature", "statistic": "mean", "where": ROOMS, "property": "temperature",
               "over": "mean"}])


SWEEP_POINTS = 24  # scenarios/production/capacity-sweep.yaml: a 3 x 2 x 2 x 2 grid


def jobs_of(twinsim, names, replications, horizon):
    """name -> (scenario, replications override, description). `sweep`: the bundled
    production plant's capacity sweep (scenarios/production/capacity-sweep.yaml, its 92-day
    quarter, events recorded), ceil(replications / 24) replications of each of its 24
    points (400 -> 17 each, 408 runs); `plant`: the plant as staffed today
    (plant-q4.yaml) with `replications` replications; `building`: the tiny job."""
    out = {}
    for name in names:
        if name == "sweep":
            per_point = max(1, -(-replications // SWEEP_POINTS))
            out[name] = (twinsim.Scenario.from_file(str(SOURCE / "scenarios" / "production" / "capacity-sweep.yaml")),
                         per_point, {"scenario": "scenarios/production/capacity-sweep.yaml", "points": SWEEP_POINTS,
                                     "replications_per_point": per_point, "runs": per_point * SWEEP_POINTS,
                                     "horizon": "P92D"})
        elif name == "plant":
            out[name] = (twinsim.Scenario.from_file(str(SOURCE / "scenarios" / "production" / "plant-q4.yaml")),
                         replications, {"scenario": "scenarios/production/plant-q4.yaml", "runs": replications,
                                        "horizon": "P92D"})
        elif name == "building":
            out[name] = (building_job(twinsim, replications, horizon), None,
                         {"scenario": "the bundled building, 61 rooms relaxing, 1-minute step", "runs": replications,
                          "horizon": horizon})
        else:
            raise SystemExit(f"compare_distributed.py: unknown job {name!r} (sweep, plant, building)")
    return out


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


def measure(twinsim, client, scenario, replications, rounds, batch_size, folder):
    """Interleaved rounds of one job, threaded and on the cluster: (medians, rounds, identical)."""
    threaded_file = os.path.join(folder, "threaded.h5")
    dask_file = os.path.join(folder, "dask.h5")
    per_round = []
    identical = True
    for r in range(rounds):
        figures = {"load_1min": os.getloadavg()[0]}
        order = ("threaded", "dask") if r % 2 == 0 else ("dask", "threaded")
        for kind in order:
            if kind == "threaded":
                c0, t0 = self_cpu(), time.perf_counter()
                twinsim.run(scenario, out=threaded_file, threads=2, progress=False, replications=replications)
                figures["threaded_wall_s"] = time.perf_counter() - t0
                figures["threaded_cpu_s"] = self_cpu() - c0
            else:
                client.run(clear_worker_cache)
                w0 = client.run(worker_cpu)
                c0, t0 = self_cpu(), time.perf_counter()
                result = twinsim.run(scenario, out=dask_file, client=client, batch_size=batch_size,
                                     progress=False, replications=replications)
                figures["dask_wall_s"] = time.perf_counter() - t0
                w1 = client.run(worker_cpu)
                figures["dask_client_cpu_s"] = self_cpu() - c0
                figures["dask_workers_cpu_s"] = sum(w1[a] - w0.get(a, 0.0) for a in w1)
                figures["dask_cpu_s"] = figures["dask_client_cpu_s"] + figures["dask_workers_cpu_s"]
                figures["batches"] = result.progress["batches"]
                figures["batch_size"] = result.progress["batch_size"]
                figures["seconds_per_task"] = result.progress["seconds_per_task"]
                figures["phases_s"] = result.progress.get("phases_s")
        figures["efficiency"] = figures["threaded_wall_s"] / figures["dask_wall_s"]
        figures["efficiency_cpu"] = figures["threaded_cpu_s"] / figures["dask_cpu_s"]
        per_round.append(figures)
        # every round's files compared, not only the last
        identical = same_content(threaded_file, dask_file) and identical
    median = {k: statistics.median(f[k] for f in per_round)
              for k in ("threaded_wall_s", "dask_wall_s", "threaded_cpu_s", "dask_cpu_s", "dask_client_cpu_s",
                        "dask_workers_cpu_s")}
    return median, per_round, identical


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="sweep,building",
                        help="comma-separated jobs, each measured in turn (sweep, plant, building); the first one's "
                             "efficiency is the headline figure (default: sweep,building)")
    parser.add_argument("--replications", type=int, default=400,
                        help="runs of each job (the sweep: ceil(N / 24) replications of each of its 24 points)")
    parser.add_argument("--horizon", default="P1D", help="the building job's horizon (the plant's is its quarter)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the distributed runner's auto size")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="start the cluster with Dask's default settings, not twinsim.distributed.BATCH_JOB_CONFIG")
    parser.add_argument("--smoke", action="store_true", help="tiny jobs, one round (CI): checks it runs, not speed")
    args = parser.parse_args()
    names = [n.strip() for n in args.jobs.split(",") if n.strip()]
    if not names:
        parser.error("--jobs names no job")
    if args.smoke:
        args.replications, args.horizon, args.rounds = 8, "PT6H", 1

    import dask
    import twinsim
    from distributed import Client, LocalCluster
    from twinsim.distributed import BATCH_JOB_CONFIG

    jobs = jobs_of(twinsim, names, args.replications, args.horizon)
    if args.smoke and "sweep" in jobs:
        # the smoke run checks the sweep's path (24 scenarios, one base) with one replication each
        scenario, _, about = jobs["sweep"]
        jobs["sweep"] = (scenario, 1, {**about, "replications_per_point": 1, "runs": SWEEP_POINTS})
    load_before = os.getloadavg()
    if not args.dask_defaults:
        dask.config.set(BATCH_JOB_CONFIG)  # the scheduler, the nannies and (through them) the workers
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=40)
    client = Client(cluster)
    results = []
    with tempfile.TemporaryDirectory(prefix="twinsim-bench-distributed-") as folder:
        for name, (scenario, replications, about) in jobs.items():
            median, per_round, identical = measure(twinsim, client, scenario, replications, args.rounds,
                                                   args.batch_size, folder)
            efficiency = median["threaded_wall_s"] / median["dask_wall_s"]
            efficiency_cpu = median["threaded_cpu_s"] / median["dask_cpu_s"]
            results.append({
                "job": name, **about,
                "threaded": {"threads": 2, "wall_s": median["threaded_wall_s"], "cpu_s": median["threaded_cpu_s"]},
                "dask": {"workers": 2, "threads_per_worker": 1, "wall_s": median["dask_wall_s"],
                         "cpu_s": median["dask_cpu_s"], "client_cpu_s": median["dask_client_cpu_s"],
                         "workers_cpu_s": median["dask_workers_cpu_s"], "batches": per_round[-1]["batches"],
                         "batch_size": per_round[-1]["batch_size"],
                         "seconds_per_task": per_round[-1]["seconds_per_task"]},
                # Efficiency on the same 2 cores: the threaded run's median wall time over the
                # cluster's (1.0: the cluster costs nothing), and the same with CPU-seconds
                # (client + scheduler + workers against the threaded process), which the load
                # of other processes distorts less.
                "efficiency": efficiency, "efficiency_cpu": efficiency_cpu,
                "met_wall": efficiency >= 0.9, "met_cpu": efficiency_cpu >= 0.9,
                "identical_results": identical, "rounds": per_round})
    client.close()
    cluster.close()
    head = results[0]
    report = {
        "benchmark": "distributed",
        "headline_job": head["job"],
        "efficiency": head["efficiency"],
        "efficiency_cpu": head["efficiency_cpu"],
        "target_efficiency": 0.9,
        "met_wall": head["met_wall"],
        "met_cpu": head["met_cpu"],
        "identical_results": all(r["identical_results"] for r in results),
        # efficiency against the job's size: one row per job
        "table": [{"job": r["job"], "runs": r["runs"], "threaded_wall_s": r["threaded"]["wall_s"],
                   "threaded_cpu_s": r["threaded"]["cpu_s"], "dask_wall_s": r["dask"]["wall_s"],
                   "dask_cpu_s": r["dask"]["cpu_s"], "batches": r["dask"]["batches"],
                   "efficiency": r["efficiency"], "efficiency_cpu": r["efficiency_cpu"]} for r in results],
        "jobs": results,
        "config": "dask defaults" if args.dask_defaults else "twinsim.distributed.BATCH_JOB_CONFIG",
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "rounds": args.rounds,
        "smoke": args.smoke,
    }
    print(json.dumps(report, indent=2))
    if not report["identical_results"]:
        print("the distributed file differs from the threaded one", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
