"""Running a job on a Dask cluster: ``twinsim.run(..., client=dask_client)`` and
``twinsim run --dask tcp://HOST:8786`` (docs/distributed.md).

The client plans the job (the same plan every process computes: scenario::plan_job),
cuts its task list into batches (scenario::batch_task_indices: consecutive tasks), and
sends each batch to the cluster as one Dask task. The base graphs travel once per
worker, as the bytes of their NDJSON export broadcast with ``client.scatter``; a worker
parses them and prepares the job's concrete scenarios once (cached per process, by job
id), runs its batch as a results shard (scenario::run_job with the batch's task
indices) into a temporary file and returns the file's bytes. The client writes each
shard under a temporary folder beside the output and merges them (io::merge_results,
as its own files: structure checked in process, each shard's rows read once)
into the file a single process writes, identical in every dataset and attribute but
``created``. A worker that dies loses only its running batches: the scheduler runs
them again elsewhere (Dask's ``allowed-failures``), and a batch that raises is retried
``retries`` times. The C++ core never needs Dask; this module imports it only when used.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
from typing import Any, Callable

from . import _core

__all__ = ["run_on_cluster", "auto_batch_size", "measure_task_seconds", "BATCH_JOB_CONFIG"]

# Per worker process: job id -> the prepared scenarios (the parsed base graphs stay alive
# inside them). A few jobs at most, the oldest dropped first.
_PREPARED: dict[str, list] = {}
_PREPARED_LOCK = threading.Lock()
_PREPARED_KEEP = 4


# Dask settings for a cluster that runs batch jobs (docs/distributed.md): the workers'
# statistical profiler (a stack sample of every thread each 10 ms) off, the event-loop
# health tick each second instead of 20 ms and the system monitor each 5 s instead of
# 0.5 s. Idle, they took 3 % of a core per worker and 4 % in the process running the
# scheduler (a LocalCluster's), a tenth of a 2-core machine for nothing; with these,
# about a third of that. Runs are unaffected. Set them where the cluster starts:
# ``dask.config.set(BATCH_JOB_CONFIG)`` before LocalCluster(...), or the environment
# variables of docs/distributed.md for ``dask scheduler`` and ``dask worker``.
BATCH_JOB_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}

# The work a batch should hold at least (CPU-seconds): a Dask task costs the scheduler,
# the worker and the client a few milliseconds, so about a second of runs keeps that
# under one per cent (issue 17).
BATCH_SECONDS = 1.0
# The pilot run that measures a task: at most this much CPU time, then extrapolated.
_PILOT_SECONDS = 0.05


def auto_batch_size(tasks: int, worker_threads: int, seconds_per_task: float | None = None) -> int:
    """The batch size of a job of ``tasks`` runs on ``worker_threads`` worker threads.

    With ``seconds_per_task`` (a run's measured CPU time): whole rounds of equal
    batches, one per worker thread each, every batch at least BATCH_SECONDS of work:
    ceil(tasks / (threads * k)) with k = max(1, floor(tasks * seconds / (threads *
    BATCH_SECONDS))). A job shorter than one BATCH_SECONDS per thread is one batch per
    thread. Without it: about four batches per worker thread, ceil(tasks / (4 *
    threads)). At least 1."""
    threads = max(1, int(worker_threads))
    if tasks <= 0:
        return 1
    if seconds_per_task is None or not seconds_per_task > 0 or not math.isfinite(seconds_per_task):
        return max(1, math.ceil(tasks / (4 * threads)))
    rounds = max(1, math.floor(tasks * seconds_per_task / (threads * BATCH_SECONDS)))
    return max(1, math.ceil(tasks / (threads * rounds)))


def measure_task_seconds(prepared: list) -> float | None:
    """The CPU-seconds of one run of the job, measured on this process: replication 0
    of the first scenario advanced in slices until about 50 ms of CPU time have gone
    (or its horizon is reached), extrapolated to the horizon, and scaled to the job's
    mean horizon. None when it cannot be measured (no scenario, a zero horizon, a run
    that fails: the caller falls back to a batch count)."""
    if not prepared:
        return None
    import time

    try:
        run = _core._Run(prepared[0], 0)
        horizon = float(run.horizon)
        if not horizon > 0:
            return None
        step = horizon / 64
        started = time.thread_time()
        reached = 0.0
        while reached < horizon:
            reached = run.advance_to(min(horizon, reached + step))
            if time.thread_time() - started >= _PILOT_SECONDS:
                break
        spent = time.thread_time() - started
    except Exception:  # the job's own run reports a failing behaviour; the pilot only sizes batches
        return None
    if not reached > 0:
        return None
    runs = sum(int(p.replications) for p in prepared)
    mean_horizon = sum(float(p.spec.horizon) * int(p.replications) for p in prepared) / max(1, runs)
    return spent / reached * mean_horizon


def _prepared_on_worker(job: str, payload: tuple) -> list:
    with _PREPARED_LOCK:
        prepared = _PREPARED.get(job)
        if prepared is not None:
            return prepared
        from ._core import TwinGraph

        bases, specs, base_of = payload
        snapshots = []
        with tempfile.TemporaryDirectory(prefix="twinsim-base-") as folder:
            for i, data in enumerate(bases):
                path = os.path.join(folder, f"base-{i}.ndjson")
                with open(path, "wb") as f:
                    f.write(data)
                snapshots.append(TwinGraph.from_ndjson(path).snapshot())
        prepared = _core._prepare_concrete(specs, [snapshots[k] for k in base_of])
        while len(_PREPARED) >= _PREPARED_KEEP:
            _PREPARED.pop(next(iter(_PREPARED)))
        _PREPARED[job] = prepared
        return prepared


def _run_batch(job: str, payload: tuple, tasks: list[int], shard: tuple[int, int], base_source: str,
               base_version: str, threads: int) -> bytes:
    """On a worker: run one batch of the job as a results shard; its file's bytes."""
    prepared = _prepared_on_worker(job, payload)
    with tempfile.TemporaryDirectory(prefix="twinsim-batch-") as folder:
        out = os.path.join(folder, f"batch-{shard[0] + 1}-of-{shard[1]}.h5")
        # A scratch file read back at once: no fsync (the merged file gets one).
        _core._run_job(prepared, out, threads, None, base_source, 0.0, tasks, shard, base_version, sync=False)
        with open(out, "rb") as f:
            return f.read()


def _base_bytes(snapshot) -> bytes:
    with tempfile.TemporaryDirectory(prefix="twinsim-base-") as folder:
        path = os.path.join(folder, "base.ndjson")
        snapshot.to_ndjson(path)
        with open(path, "rb") as f:
            return f.read()


def run_on_cluster(client: Any, prepared: list, bases: list, out: str | os.PathLike, base_source: str,
                   batch_size: int | None = None, threads_per_batch: int = 1, retries: int = 2,
                   progress: Callable[[dict], Any] | None = None) -> dict:
    """Runs the prepared job on the Dask cluster behind ``client`` and writes ``out``.

    prepared: the job's prepared scenarios (sweeps expanded); bases: the base snapshot of
    each of them (the same object for scenarios that share it: it travels once).
    Returns the dict ``_core._run_job`` returns. Raises what the merge raises
    (TwinsimIoError) and the first batch's exception after its retries."""
    import time

    from distributed import as_completed

    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + (now - clock)
        clock = now

    if out is None:
        raise ValueError("a distributed run writes a results file: give out=...")
    out = os.fspath(out)
    plan = _core._plan_job(prepared)
    n = plan["tasks"]
    worker_threads = sum(client.nthreads().values())
    if batch_size and int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size!r}")
    # The pilot run (on its own thread: it releases the GIL) while the base goes out.
    measured: dict[str, float | None] = {}
    pilot = None
    if not batch_size:
        pilot = threading.Thread(target=lambda: measured.update(seconds=measure_task_seconds(prepared)),
                                 name="twinsim-pilot", daemon=True)
        pilot.start()

    # Each distinct base once, as bytes, broadcast to every worker.
    distinct: list = []
    base_of: list[int] = []
    for snapshot in bases:
        for k, seen in enumerate(distinct):
            if seen is snapshot:
                base_of.append(k)
                break
        else:
            distinct.append(snapshot)
            base_of.append(len(distinct) - 1)
    payload = ((*(_base_bytes(s) for s in distinct),), [_core._spec_json(p) for p in prepared], base_of)
    phase("payload")
    try:
        [payload_future] = client.scatter([payload], broadcast=True, hash=False)
        phase("scatter")
    finally:
        if pilot is not None:
            pilot.join()
            phase("pilot_wait")
    seconds_per_task = measured.get("seconds")
    size = int(batch_size) if batch_size else auto_batch_size(n, worker_threads, seconds_per_task)
    count = math.ceil(n / size)

    futures = {}
    for b in range(count):
        tasks = list(range(b * size, min(n, (b + 1) * size)))
        future = client.submit(_run_batch, plan["job"], payload_future, tasks, (b, count), base_source,
                               plan["base_version"], int(threads_per_batch), retries=retries, pure=False,
                               key=f"twinsim-batch-{plan['job'][:12]}-{b + 1}-of-{count}")
        futures[future] = (b, len(tasks))
    phase("submit")

    # The merge runs as the shards come back (io::ShardMerger): a scenario is combined and
    # written as soon as the shards so far hold all its replications, so only the last
    # batches' scenarios are left when the last shard arrives. Shards of our own workers,
    # checked there as they were written and carried intact by Dask: merged without the
    # forked whole-file read an outside file gets.
    folder = tempfile.mkdtemp(prefix=os.path.basename(out) + ".shards-", dir=os.path.dirname(os.path.abspath(out)))
    try:
        merger = _core._ShardMerger(out, own_files=True)
        done = batches = 0
        for future in as_completed(list(futures)):
            b, runs = futures[future]
            data = future.result()
            phase("batches")
            path = os.path.join(folder, f"batch-{b + 1}-of-{count}.h5")
            with open(path, "wb") as f:
                f.write(data)
            del data
            merger.add(path)  # holds the shard open until its scenarios are written
            phase("merge")
            done += runs
            batches += 1
            if progress is not None:
                progress({"runs_done": done, "runs_total": n, "fraction": done / n, "batches_done": batches,
                          "batches_total": count})
        raw = merger.finish()
        raw["path"] = out
        phase("merge")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        client.cancel([payload_future])
    raw["progress"].update({"runs_total": n, "runs_done": n, "runs_failed": len(raw["failures"]),
                            "batches": count, "batch_size": size, "seconds_per_task": seconds_per_task,
                            "phases_s": phases})
    return raw


def main(argv: list[str] | None = None) -> int:
    """``twinsim run --dask ADDRESS ...`` execs ``python -m twinsim.distributed ...``:
    the scenario files' job on the cluster at ADDRESS, the KPI table on stdout.
    Exit status as ``twinsim run``: 0, 1 (a run failed), 2 (bad input or results file)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="twinsim run --dask",
                                     description="Run a job's scenario files on a Dask cluster")
    parser.add_argument("--dask", required=True, help="the scheduler's address, e.g. tcp://HOST:8786")
    parser.add_argument("-o", "--output", default=None)
    parser.add_argument("--replications", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--allow-outside-paths", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("scenarios", nargs="+")
    args = parser.parse_args(argv)

    from distributed import Client

    from . import TwinsimError
    from .scenario import Scenario, run

    out = args.output or os.path.splitext(os.path.basename(args.scenarios[0]))[0] + ".h5"
    try:
        scenarios = [Scenario.from_file(path) for path in args.scenarios]
        with Client(args.dask, timeout="30s") as client:
            result = run(scenarios, out=out, replications=args.replications, seed=args.seed,
                         allow_outside_paths=args.allow_outside_paths, client=client, batch_size=args.batch_size,
                         progress=False)
    except (TwinsimError, ValueError, OSError) as e:
        print(f"twinsim: error: {e}\ntwinsim: no results written", file=sys.stderr)
        return 2
    if not args.quiet:
        p = result.progress
        print(f"ran {p['runs_total']} runs in {p['batches']} batches of {p['batch_size']} on {args.dask}",
              file=sys.stderr)
    for f in result.failures:
        print(f"twinsim: run failed: scenario {f.scenario}, replication {f.replication}: {f.message}", file=sys.stderr)
    table = result.kpis[["scenario", "name", "selection", "statistic", "mean", "ci95_low", "ci95_high", "n", "unit"]]
    print(table.to_string(index=False) if len(table) else "no KPIs (the scenario defines none)")
    print(f"results: {result.path}")
    return 1 if result.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
