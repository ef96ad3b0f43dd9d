"""twinsim.run(..., client=dask_client): a job on a Dask LocalCluster of two worker
processes writes the file the single-machine run writes, and survives a worker killed
mid-job (docs/distributed.md)."""

import datetime
import os
import signal

import pytest

import twinsim

distributed = pytest.importorskip("distributed")

from test_cli_run import h5_content  # noqa: E402  (every dataset bit for bit, attributes but `created`)

ROOMS = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"


def job(source_dir, replications=12, horizon="PT12H"):
    """A sweep of two points of rooms relaxing with noise: 2 × replications runs."""
    return twinsim.Scenario(
        "job", base=str(source_dir / "scenarios" / "building" / "building.ndjson"),
        base_models=[str(source_dir / "models" / "building")],
        start="2026-07-01T00:00:00Z", horizon=horizon, step=datetime.timedelta(minutes=1),
        replications=replications, seed=3,
        parameters={"target": 24},
        sweep={"list": [{"target": 22}, {"target": 26}]},
        models=[{"model": "relaxation", "where": ROOMS,
                 "parameters": {"property": "temperature", "target": "${target}", "time_constant": "PT1H",
                                "noise": 0.05}}],
        recording={"series": [{"where": ROOMS, "properties": ["temperature"], "interval": "PT15M"}],
                   "events": True},
        kpis=[{"name": "mean room temperature", "statistic": "mean", "where": ROOMS, "property": "temperature",
               "over": "mean"},
              {"name": "hours above 24.05", "statistic": "time_above", "where": ROOMS, "property": "temperature",
               "threshold": 24.05, "over": "max"}])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def assert_same_file(expected_path, actual_path):
    expected, actual = h5_content(expected_path), h5_content(actual_path)
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], name


def test_a_job_on_two_worker_processes_writes_the_single_machine_file(client, source_dir, tmp_path):
    scenario = job(source_dir)
    whole = twinsim.run(scenario, out=tmp_path / "whole.h5", threads=2, progress=False)
    seen = []
    spread = twinsim.run(scenario, out=tmp_path / "dask.h5", client=client, batch_size=5, progress=seen.append)
    assert spread.path == str(tmp_path / "dask.h5")
    assert spread.scenarios == whole.scenarios
    assert spread.kpis.equals(whole.kpis)  # the same summaries, bit for bit
    assert spread.failures == whole.failures == []
    assert spread.progress["batches"] == 5 and spread.progress["runs_total"] == 24
    assert seen[-1]["runs_done"] == 24 and seen[-1]["batches_done"] == 5
    assert_same_file(tmp_path / "whole.h5", tmp_path / "dask.h5")
    # both workers took part, and each parsed the base graph once for the job
    assert len(client.nthreads()) == 2
    counts = client.run(lambda: len(__import__("twinsim.distributed").distributed._PREPARED))
    assert all(n >= 1 for n in counts.values()), counts
    assert not list(tmp_path.glob("dask.h5.shards-*"))  # the shards are merged and removed


def test_a_worker_killed_mid_job_loses_only_its_batches(client, source_dir, tmp_path):
    scenario = job(source_dir, replications=16, horizon="P1D")
    twinsim.run(scenario, out=tmp_path / "whole.h5", threads=2, progress=False)
    pids = client.run(os.getpid)  # worker address -> its process
    killed = []

    def kill_one(counters):
        # after the first batch is back, kill the worker process that is busiest now
        if killed or counters["batches_done"] != 1:
            return
        processing = client.processing()
        address = max(pids, key=lambda a: len(processing.get(a, ())))
        os.kill(pids[address], signal.SIGKILL)
        killed.append((address, len(processing.get(address, ()))))

    spread = twinsim.run(scenario, out=tmp_path / "dask.h5", client=client, batch_size=4, progress=kill_one)
    assert killed and killed[0][1] >= 1, killed  # it had batches running or queued
    assert spread.progress["batches"] == 8
    assert_same_file(tmp_path / "whole.h5", tmp_path / "dask.h5")
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_a_distributed_run_needs_an_output_file_and_refuses_resume(client, source_dir, tmp_path):
    with pytest.raises(ValueError, match="results file"):
        twinsim.run(job(source_dir, replications=2), client=client)
    with pytest.raises(ValueError, match="resume"):
        twinsim.run(job(source_dir, replications=2), out=tmp_path / "x.h5", client=client, resume=True)


def test_twinsim_run_dask_runs_the_job_on_the_scheduler_it_names(client, source_dir, tmp_path):
    import subprocess
    import sys

    import shutil

    cli = os.environ.get("TWINSIM_CLI")
    if not cli:
        pytest.skip("TWINSIM_CLI is not set")
    shutil.copy(source_dir / "scenarios" / "building" / "building.ndjson", tmp_path / "building.ndjson")
    path = tmp_path / "job.yaml"
    path.write_text(f"""\
name: job
base: building.ndjson
base_models: [{source_dir / "models" / "building"}]
start: "2026-07-01T00:00:00Z"
horizon: PT6H
replications: 6
seed: 2
behaviours:
  - model: relaxation
    where: "{ROOMS}"
    parameters: {{property: temperature, target: 23, time_constant: PT1H, noise: 0.05}}
recording:
  series:
    - where: "{ROOMS}"
      properties: [temperature]
      interval: PT15M
kpis:
  - {{name: mean room temperature, statistic: mean, where: "{ROOMS}", property: temperature, over: mean}}
""")
    env = dict(os.environ, TWINSIM_PYTHON=sys.executable)
    local = subprocess.run([cli, "run", "-q", "-o", tmp_path / "local.h5", path], capture_output=True, text=True,
                           env=env, timeout=120)
    assert local.returncode == 0, local.stderr
    spread = subprocess.run([cli, "run", "--dask", client.scheduler.address, "--batch-size", "2", "-o",
                             tmp_path / "dask.h5", path], capture_output=True, text=True, env=env, timeout=300)
    assert spread.returncode == 0, spread.stderr
    assert "ran 6 runs in 3 batches of 2" in spread.stderr
    assert spread.stdout.splitlines()[-1] == f"results: {tmp_path / 'dask.h5'}"
    assert "mean room temperature" in spread.stdout
    assert_same_file(tmp_path / "local.h5", tmp_path / "dask.h5")
    both = subprocess.run([cli, "run", "--dask", client.scheduler.address, "--resume", path], capture_output=True,
                          text=True, env=env, timeout=60)
    assert both.returncode == 2 and "--dask" in both.stderr


def test_batches_are_sized_from_a_measured_run_to_about_a_second_of_work(source_dir):
    from twinsim import _core
    from twinsim.distributed import BATCH_SECONDS, auto_batch_size, measure_task_seconds
    from twinsim.scenario import _bases

    # Whole rounds of one batch per worker thread, each at least BATCH_SECONDS of work.
    assert auto_batch_size(400, 2, 0.007) == 200           # 2.8 s of work on 2 threads: one round
    assert auto_batch_size(400, 2, 0.01) == 100            # 4 s: two rounds of 1 s batches
    assert auto_batch_size(400, 2, 0.05) == 20             # 20 s: ten rounds of 1 s batches
    assert auto_batch_size(400, 2, 10.0) == 1              # long runs: one per batch
    assert auto_batch_size(3, 8, 0.01) == 1                # fewer runs than threads
    assert auto_batch_size(400, 2, None) == 50             # not measured: four batches per thread
    assert auto_batch_size(400, 2, float("nan")) == 50
    for tasks, threads, seconds in ((400, 2, 0.007), (1000, 16, 0.3), (37, 3, 0.2)):
        size = auto_batch_size(tasks, threads, seconds)
        batches = -(-tasks // size)
        assert size * seconds >= min(BATCH_SECONDS, tasks * seconds / threads) * 0.99
        assert batches >= min(tasks, threads)

    scenario = job(source_dir, replications=3)
    specs = [scenario._with_files(scenario._spec, False)]
    snapshots, _ = _bases([scenario], None, False)
    prepared = _core._prepare_job(specs, snapshots)
    seconds = measure_task_seconds(prepared)
    assert seconds is not None and 0 < seconds < 5    # a 12-hour run of 61 rooms: milliseconds
    assert measure_task_seconds([]) is None
