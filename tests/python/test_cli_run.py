"""`twinsim run`, `twinsim merge` and `twinsim compare`, run as a user runs them (path in $TWINSIM_CLI)."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

CLI = os.environ.get("TWINSIM_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

SOURCE = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILDING = SOURCE / "scenarios" / "building"
ROOMS = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"


def twinsim(*args, cwd=None, timeout=60):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, encoding="utf-8",
                          cwd=cwd, timeout=timeout)


def scenario_text(name="rooms", horizon="PT6H", step="PT1M", replications=2, extra="", interval="PT15M"):
    """A small scenario on the bundled building: rooms relax toward 24 °C with noise."""
    return f"""\
name: {name}
base: building.ndjson
base_models: [{SOURCE / "models" / "building"}]
start: "2026-07-01T00:00:00Z"
horizon: {horizon}
step: {step}
replications: {replications}
seed: 1
parameters:
  target: 24
models:
  - model: relaxation
    where: "{ROOMS}"
    parameters: {{property: temperature, target: "${{target}}", time_constant: PT1H, noise: 0.05}}
recording:
  series:
    - where: "{ROOMS}"
      properties: [temperature]
      interval: {interval}
kpis:
  - name: mean room temperature
    statistic: mean
    where: "{ROOMS}"
    property: temperature
    over: mean
  - name: hours above 24.05
    statistic: time_above
    where: "{ROOMS}"
    property: temperature
    threshold: 24.05
    over: max
{extra}"""


def with_building(folder):
    """A copy of the bundled building graph in `folder`, where scenario_text's `base:` finds it
    (a scenario's paths stay inside its folder; twinsim's own models/ is allowed too)."""
    shutil.copy(BUILDING / "building.ndjson", folder / "building.ndjson")
    return folder


@pytest.fixture(autouse=True)
def _building_beside_scenarios(tmp_path):
    with_building(tmp_path)


@pytest.fixture
def rooms(tmp_path):
    path = tmp_path / "rooms.yaml"
    path.write_text(scenario_text(), encoding="utf-8")
    return path


def kpi_table(stdout):
    """The KPI table: every line but the one saying where the results went."""
    return [line for line in stdout.splitlines() if not line.startswith("results: ")]


# --- run -------------------------------------------------------------------------------


def test_run_bundled_chiller_failure(tmp_path):
    h5py = pytest.importorskip("h5py")
    out = tmp_path / "chiller.h5"
    run = twinsim("run", "-o", out, "--replications", 3, "--threads", 2, BUILDING / "chiller-failure.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    for kpi in ("hours above 26 °C", "peak room temperature", "failures"):
        assert kpi in run.stdout
    assert f"results: {out}" in run.stdout
    with h5py.File(out, "r") as f:
        assert "chiller-failure" in f
        assert f["chiller-failure"].attrs["replications"] == 3


def test_run_writes_results_and_prints_kpis(rooms, tmp_path):
    h5py = pytest.importorskip("h5py")
    out = tmp_path / "out.h5"
    run = twinsim("run", "-o", out, "--replications", 3, "--threads", 2, rooms)
    assert run.returncode == 0, run.stdout + run.stderr
    assert out.is_file()
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "twinsim-results"
        assert list(f) == ["rooms"]
        assert f["rooms"].attrs["replications"] == 3
        assert f["rooms/series/temperature/temperature"].shape[:2] == (3, 25)  # 6 h every 15 min, both ends
    lines = run.stdout.splitlines()
    header = lines[0].split()
    assert header[:4] == ["scenario", "KPI", "selection", "statistic"] and "unit" in header
    assert set(lines[1]) <= {"-", " "}
    table = "\n".join(lines)
    assert "mean room temperature" in table and "hours above 24.05" in table
    row = next(line for line in lines if "mean room temperature" in line)
    assert re.search(r"\s\d+\.\d+\s+\[\d+\.\d+, \d+\.\d+\]\s+3\s+degC$", row), row
    assert lines[-1] == f"results: {out}"
    # Not a terminal: no progress bar, only the one-line summary.
    assert "\r" not in run.stderr
    assert re.fullmatch(r"ran 3 runs of 1 scenario in .*, 0 failed\n", run.stderr), run.stderr


def test_run_several_files_into_one_results_file(tmp_path):
    h5py = pytest.importorskip("h5py")
    first = tmp_path / "first.yaml"
    first.write_text(scenario_text(name="first"), encoding="utf-8")
    second = tmp_path / "second.yaml"
    second.write_text(scenario_text(name="second", replications=3), encoding="utf-8")
    swept = tmp_path / "swept.yaml"
    swept.write_text(scenario_text(name="swept", extra="sweep:\n  list:\n    - {target: 23}\n    - {target: 25}\n"),
                     encoding="utf-8")
    out = tmp_path / "job.h5"
    run = twinsim("run", "-o", out, "--threads", 2, first, second, swept)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.fullmatch(r"ran 9 runs of 4 scenarios in .*, 0 failed\n", run.stderr), run.stderr
    names = ["first", "second", "swept[target=23]", "swept[target=25]"]
    with h5py.File(out, "r") as f:
        # Scenario i of the job (files in order, sweep points in order) is index i: its position.
        assert {name: int(f[name].attrs["scenario_index"]) for name in names} == {n: i for i, n in enumerate(names)}
        assert f["second"].attrs["replications"] == 3
    table = kpi_table(run.stdout)
    assert [line.split()[0] for line in table[2:] if not line.startswith(" ")] == names
    # The same file alone is scenario 0, second in the job scenario 1: with common random numbers
    # the position does not matter, so its results are the same.
    alone = twinsim("run", "-o", tmp_path / "alone.h5", second)
    assert alone.returncode == 0, alone.stderr
    def mean_row(stdout):
        return next(line for line in stdout.splitlines() if "mean room temperature" in line).split("temperature", 1)[1]
    assert mean_row(alone.stdout) == mean_row(run.stdout.split("\nsecond", 1)[1])
    # Default output: the first file's stem.
    work = tmp_path / "work"
    work.mkdir()
    assert twinsim("run", "-q", first, second, cwd=work).returncode == 0
    assert (work / "first.h5").is_file()


def test_run_several_files_refuses_a_duplicate_name(tmp_path):
    one = tmp_path / "one.yaml"
    one.write_text(scenario_text(name="same"), encoding="utf-8")
    two = tmp_path / "two.yaml"
    two.write_text(scenario_text(name="same"), encoding="utf-8")
    out = tmp_path / "dup.h5"
    run = twinsim("run", "-o", out, one, two)
    assert run.returncode == 2
    assert re.search(r"two\.yaml:1: name: two scenarios of the job are named \"same\" \(the other in .*one\.yaml\)",
                     run.stderr), run.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def hot_day_job(tmp_path_factory):
    """The README's job (scripts/run-sample), with 2 replications: (the run, its results file)."""
    out = tmp_path_factory.mktemp("hot-day") / "hot-day.h5"
    files = [BUILDING / f"hot-day-{name}.yaml"
             for name in ("baseline", "chiller-fails", "chiller-fails-backup-pump", "precooling")]
    run = twinsim("run", "-o", out, "--replications", 2, "--threads", 2, *files, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run, out


def test_run_bundled_hot_day_job(hot_day_job):
    run, out = hot_day_job
    for kpi in ("hours above 26 °C, worst room", "hours above 26 °C, all rooms", "peak room temperature",
                "chiller energy"):
        assert kpi in run.stdout
    assert "kW h" in run.stdout
    compare = twinsim("compare", "--baseline", "hot-day-baseline", out)
    assert compare.returncode == 0, compare.stderr
    assert "hot-day-precooling" in compare.stdout

    # The story the job tells: the failure overheats the rooms; the backup pump
    # schedule (a rule starting a process that lets chiller-2 take over through
    # the cross-connection) cures most of it; pre-cooling alone does not.
    table = json.loads(twinsim("compare", "--json", "--baseline", "hot-day-baseline", out).stdout)
    hours = {s["name"]: next(k["mean"] for k in s["kpis"] if k["name"] == "hours above 26 °C, worst room")
             for s in table["scenarios"]}
    assert hours["hot-day-baseline"] == 0.0
    assert hours["hot-day-chiller-fails"] > 5.0
    assert hours["hot-day-chiller-fails-backup-pump"] < 0.25 * hours["hot-day-chiller-fails"]
    assert hours["hot-day-precooling"] > 0.5 * hours["hot-day-chiller-fails"]


def test_compare_table_of_the_readme_job_fits_100_columns(hot_day_job):
    _, out = hot_day_job
    compare = twinsim("compare", "--baseline", "hot-day-baseline", out)
    assert compare.returncode == 0, compare.stderr
    lines = compare.stdout.splitlines()
    too_wide = [line for line in lines[1:] if len(line) > 100]  # the first line names the file (a temporary path)
    assert not too_wide, "\n".join(too_wide)
    # Still every scenario, KPI, selection and comparison column.
    table = json.loads(twinsim("compare", "--json", "--baseline", "hot-day-baseline", out).stdout)
    for scenario in table["scenarios"]:
        assert any(line.startswith(f"  {scenario['name']} ") for line in lines), scenario["name"]
        for kpi in scenario["kpis"]:
            assert any(line.startswith(kpi["name"] + " (") for line in lines), kpi["name"]
            assert any(kpi["selection"] in line for line in lines if line.startswith("  selection: "))
    header = next(line for line in lines if line.lstrip().startswith("scenario "))
    assert header.split()[-6:] == ["difference", "paired", "95", "%", "CI", "overlap"]
    # --wide: the former single table, the selection as a column; --json is unchanged by either.
    wide = twinsim("compare", "--wide", "--baseline", "hot-day-baseline", out)
    assert wide.returncode == 0, wide.stderr
    assert wide.stdout.splitlines()[1].split()[:2] == ["KPI", "selection"]
    assert max(len(line) for line in wide.stdout.splitlines()[1:]) > 100


def test_compare_wraps_a_selection_longer_than_a_line(rooms, tmp_path):
    long_where = " AND ".join(["IS_OF_MODEL('dtmi:twinsim:building:Room;1')"] * 5)
    text = rooms.read_text(encoding="utf-8").replace("IS_OF_MODEL('dtmi:twinsim:building:Room;1')", long_where)
    path = rooms.parent / "long-where.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "long.h5"
    assert twinsim("run", "-q", "-o", out, path).returncode == 0
    compare = twinsim("compare", out)
    assert compare.returncode == 0, compare.stderr
    lines = compare.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines[1:]), compare.stdout
    # The wrapped selection, joined again, is the selection.
    first = next(i for i, line in enumerate(lines) if line.startswith("  selection: "))
    pieces = [lines[first][len("  selection: "):]]
    for line in lines[first + 1:]:
        if not line.startswith("    "):
            break
        pieces.append(line.strip())
    report = json.loads(twinsim("compare", "--json", out).stdout)
    assert " ".join(pieces) == report["scenarios"][0]["kpis"][0]["selection"]


def test_run_default_output_is_the_scenario_stem_in_the_current_folder(rooms, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    run = twinsim("run", "--quiet", rooms, cwd=work)
    assert run.returncode == 0, run.stderr
    assert (work / "rooms.h5").is_file()
    assert run.stderr == ""  # --quiet: no summary line either
    assert run.stdout.splitlines()[-1] == "results: rooms.h5"


def test_same_seed_same_kpis_at_any_thread_count(rooms, tmp_path):
    first = twinsim("run", "-o", tmp_path / "a.h5", "--seed", 11, "--threads", 1, rooms)
    second = twinsim("run", "-o", tmp_path / "b.h5", "--seed", 11, "--threads", 2, rooms)
    other = twinsim("run", "-o", tmp_path / "c.h5", "--seed", 12, "--threads", 2, rooms)
    for run in (first, second, other):
        assert run.returncode == 0, run.stderr
    assert kpi_table(first.stdout) == kpi_table(second.stdout)
    assert kpi_table(first.stdout) != kpi_table(other.stdout)  # the noise comes from the seed


def test_sweep_points_are_scenarios(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(scenario_text(name="sweep", extra="sweep:\n  list:\n    - {target: 22}\n    - {target: 26}\n"))
    run = twinsim("run", "-o", tmp_path / "sweep.h5", path)
    assert run.returncode == 0, run.stderr
    assert "sweep[target=22]" in run.stdout and "sweep[target=26]" in run.stdout
    assert "ran 4 runs of 2 scenarios" in run.stderr


def test_a_failed_run_exits_1_and_is_reported(tmp_path):
    # time_constant drawn per replication, always negative: every run fails when its behaviour starts.
    path = tmp_path / "failing.yaml"
    text = scenario_text(name="failing").replace("time_constant: PT1H", 'time_constant: "${tau}"')
    text = text.replace("  target: 24\n", "  target: 24\n  tau: {distribution: uniform, low: -2, high: -1}\n")
    path.write_text(text)
    out = tmp_path / "failing.h5"
    run = twinsim("run", "-o", out, path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"^twinsim: run failed: scenario failing, replication 0: .*time_constant", run.stderr, re.M)
    assert "replication 1:" in run.stderr
    assert out.is_file()  # the failures are recorded in the file


@pytest.mark.parametrize(
    "edit, line, field",
    [
        (lambda t: t.replace("horizon: PT6H", "horizonn: PT6H"), 5, "horizonn"),
        (lambda t: t.replace("model: relaxation", "model: no-such-model"), 12, "models[0].model"),
        (lambda t: t.replace("replications: 2", "replications: [2"), None, None),  # not YAML
    ],
    ids=["unknown-key", "unknown-model", "bad-yaml"],
)
def test_bad_scenario_exits_2_naming_file_line_and_field(tmp_path, edit, line, field):
    path = tmp_path / "bad.yaml"
    path.write_text(edit(scenario_text()))
    run = twinsim("run", "-o", tmp_path / "bad.h5", path)
    assert run.returncode == 2, run.stdout + run.stderr
    if line is None:
        # file:line:column, in twinsim's words (never yaml-cpp's), with an excerpt of the line
        assert re.search(rf"{re.escape(str(path))}:\d+:\d+: YAML syntax error: .* near \"", run.stderr), run.stderr
    else:
        assert f"{path}:{line}: {field}: " in run.stderr, run.stderr
    assert run.stdout == ""
    assert not (tmp_path / "bad.h5").exists()


def test_missing_files_exit_2(rooms, tmp_path):
    run = twinsim("run", tmp_path / "nowhere.yaml")
    assert run.returncode == 2 and "nowhere.yaml" in run.stderr

    path = tmp_path / "nobase.yaml"
    path.write_text(scenario_text().replace("base: building.ndjson", "base: missing.ndjson"))
    run = twinsim("run", "-o", tmp_path / "x.h5", path)
    assert run.returncode == 2
    assert f'{path}:2: base: "missing.ndjson": cannot be read: no such file or folder' in run.stderr, run.stderr

    run = twinsim("run", "--models", tmp_path / "no-models", rooms)
    assert run.returncode == 2 and "no-models" in run.stderr


def test_bad_usage_exits_2(rooms):
    assert twinsim("run").returncode == 2
    assert twinsim("run", "--replications", 0, rooms).returncode == 2
    assert twinsim("run", "--threads", -1, rooms).returncode == 2


def test_unwritable_output_exits_2_and_leaves_nothing(rooms, tmp_path):
    out = tmp_path / "no-such-folder" / "out.h5"
    run = twinsim("run", "-o", out, rooms)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "out.h5" in run.stderr and "no results written" in run.stderr
    assert not out.parent.exists()


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_cancel_and_leave_no_file(tmp_path, signum, status):
    # SIGTERM is what batch schedulers, `timeout` and containers send: handled as Ctrl-C.
    path = tmp_path / "long.yaml"
    path.write_text(scenario_text(name="long", horizon="P3650D", step="PT1S", replications=4, interval="P365D"))
    out = tmp_path / "long.h5"
    process = subprocess.Popen([CLI, "run", "-o", str(out), "--threads", "2", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        # The runner's temporary file shows that the runs have started.
        deadline = time.monotonic() + 8
        while not list(tmp_path.glob("long.h5.partial-*")) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        assert list(tmp_path.glob("long.h5.partial-*")), "the run did not start"
        time.sleep(0.3)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=8)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == status, stdout + stderr
    assert "cancelled; no results written" in stderr
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["building.ndjson", "long.yaml"]


def test_run_help_documents_exit_statuses():
    run = twinsim("run", "--help")
    assert run.returncode == 0
    for text in ("--replications", "--seed", "--threads", "--quiet", "--models", "130", "Exit status"):
        assert text in run.stdout


# --- shards and merge ------------------------------------------------------------------


def h5_content(path):
    """Every group, dataset (values, dtype, shape), attribute and dimension scale of a
    file, by path; the root attribute `created` left out (a merge keeps the earliest)."""
    h5py = pytest.importorskip("h5py")
    import numpy as np

    content = {}

    def attributes(obj):
        out = {}
        for key, value in obj.attrs.items():
            if key in ("DIMENSION_LIST", "REFERENCE_LIST") or (obj.name == "/" and key == "created"):
                continue  # object references: compared through the dimension scales below
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    def visit(name, obj):
        entry = {"attrs": attributes(obj)}
        if isinstance(obj, h5py.Dataset):
            data = obj[()]
            entry["dtype"] = str(obj.dtype)
            entry["shape"] = obj.shape
            if obj.dtype.kind == "f":
                entry["bits"] = np.ascontiguousarray(data).tobytes()  # NaN == NaN, bit for bit
            else:
                entry["values"] = data.tolist() if isinstance(data, np.ndarray) else data
            entry["scales"] = [[scale.name for scale in dim.values()] for dim in obj.dims]
            entry["is_scale"] = obj.is_scale
        content[name] = entry

    with h5py.File(path, "r") as f:
        content["/"] = {"attrs": attributes(f)}
        f.visititems(visit)
    return content


def test_shards_merge_into_the_file_of_one_run(tmp_path):
    path = tmp_path / "job.yaml"
    # A sweep of two points, three replications each: six tasks over two shards; events on.
    path.write_text(scenario_text(name="job", replications=3, extra="sweep:\n  list:\n    - {target: 22}\n    - {target: 26}\n"))
    whole = tmp_path / "whole.h5"
    run = twinsim("run", "-q", "-o", whole, path)
    assert run.returncode == 0, run.stderr
    shards = []
    for k in (2, 1):  # any order, separate processes, different thread counts
        shard = tmp_path / f"part{k}.h5"
        run = twinsim("run", "-q", "--threads", k, "--shard", f"{k}/2", "-o", shard, path)
        assert run.returncode == 0, run.stderr
        assert f"shard {k}/2: 3 runs" in run.stdout and "twinsim merge" in run.stdout
        shards.append(shard)
    merged = tmp_path / "merged.h5"
    run = twinsim("merge", *shards, "-o", merged)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["merged 2 shards", f"results: {merged}"]
    expected = h5_content(whole)
    actual = h5_content(merged)
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], name
    # and compare reads it as it reads the single file
    assert twinsim("compare", "--json", merged).stdout.replace(str(merged), "F") == \
        twinsim("compare", "--json", whole).stdout.replace(str(whole), "F")


def test_merge_refuses_what_is_not_one_whole_job(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(scenario_text(name="job", replications=3))
    for k in (1, 2):
        assert twinsim("run", "-q", "--shard", f"{k}/2", "-o", tmp_path / f"p{k}.h5", path).returncode == 0
    assert twinsim("run", "-q", "--seed", 5, "--shard", "2/2", "-o", tmp_path / "other.h5", path).returncode == 0
    assert twinsim("run", "-q", "-o", tmp_path / "whole.h5", path).returncode == 0
    out = tmp_path / "merged.h5"
    for shards, named, why in [
        (["p1.h5"], "merged.h5", "shard 2/2 of job"),
        (["p1.h5", "p2.h5", "p1.h5"], "p1.h5", "the shards overlap"),
        (["p1.h5", "other.h5"], "other.h5", "shards of different jobs cannot be merged"),
        (["p1.h5", "whole.h5"], "whole.h5", "not a results shard"),
        (["p1.h5", "missing.h5"], "missing.h5", "no such file"),
    ]:
        run = twinsim("merge", *[tmp_path / s for s in shards], "-o", out)
        assert run.returncode == 2, run.stdout + run.stderr
        assert re.search(rf"^twinsim: error: \S*{re.escape(named)}: .*{re.escape(why)}", run.stderr, re.M), run.stderr
        assert not out.exists()
    assert twinsim("merge", tmp_path / "p1.h5").returncode == 2  # -o is required
    for bad in ("0/2", "3/2", "2", "a/b"):
        run = twinsim("run", "-q", "--shard", bad, "-o", tmp_path / "x.h5", path)
        assert run.returncode == 2 and "--shard" in run.stderr, bad
    assert "twinsim merge" in twinsim("run", "--help").stdout
    assert "earliest" in twinsim("merge", "--help").stdout


# --- compare ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_results(tmp_path_factory):
    folder = with_building(tmp_path_factory.mktemp("compare"))
    path = folder / "sweep.yaml"
    # Two points a hair apart (with common random numbers their KPIs differ by the hair only) and one far warmer.
    path.write_text(scenario_text(name="sweep", replications=3,
                                  extra="sweep:\n  list:\n    - {target: 24}\n    - {target: 24.0001}\n    - {target: 30}\n"))
    out = folder / "sweep.h5"
    run = twinsim("run", "-o", out, path)
    assert run.returncode == 0, run.stderr
    return out


def test_compare_prints_kpis_and_differences(sweep_results):
    run = twinsim("compare", sweep_results)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"{sweep_results}: 3 scenarios; baseline: sweep[target=24]"
    # A section per KPI: heading, selection, table (header, rule, a row per scenario).
    sections = {}
    for block in run.stdout.split("\n\n")[1:]:
        block_lines = block.splitlines()
        sections[block_lines[0]] = block_lines[1:]
    assert list(sections) == ["mean room temperature (mean, degC, n = 3)", "hours above 24.05 (time_above, h, n = 3)"]
    mean = sections["mean room temperature (mean, degC, n = 3)"]
    assert mean[0] == f"  selection: mean over {ROOMS}"
    header = mean[1].split("  ")
    assert [h.strip() for h in header if h.strip()] == ["scenario", "mean", "95 % CI", "difference", "paired 95 % CI",
                                                        "overlap"]
    assert mean[3].startswith("  sweep[target=24] ") and mean[3].endswith("(baseline)")
    hot = next(line for line in mean if "sweep[target=30]" in line)
    # about 5 degrees warmer on average over 6 h at tau = 1 h, the paired interval around it
    assert re.search(r"\s\+[45]\.\d+\s+\[[45]\.\d+, [45]\.\d+\]\s+no$", hot), hot
    alike = next(line for line in mean if "sweep[target=24.0001]" in line)
    assert alike.endswith("yes"), alike


def test_compare_with_another_baseline_and_json(sweep_results):
    run = twinsim("compare", "--baseline", "sweep[target=30]", "--json", sweep_results)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["baseline"] == "sweep[target=30]"
    assert [s["name"] for s in report["scenarios"]] == ["sweep[target=24]", "sweep[target=24.0001]", "sweep[target=30]"]
    cool, _, hot = report["scenarios"]
    kpi = next(k for k in cool["kpis"] if k["name"] == "mean room temperature")
    assert kpi["n"] == 3 and kpi["unit"] == "degC" and kpi["statistic"] == "mean"
    assert kpi["ci95_low"] < kpi["mean"] < kpi["ci95_high"]
    base = next(k for k in hot["kpis"] if k["name"] == "mean room temperature")
    assert kpi["vs_baseline"]["baseline_mean"] == base["mean"]
    assert kpi["vs_baseline"]["difference"] == pytest.approx(kpi["mean"] - base["mean"])
    assert kpi["vs_baseline"]["ci_overlap"] is False
    paired = kpi["vs_baseline"]["paired"]
    assert paired["n"] == 3 and paired["mean"] == pytest.approx(kpi["vs_baseline"]["difference"])
    assert paired["ci95_low"] < paired["mean"] < paired["ci95_high"] < 0
    assert all(k["vs_baseline"] is None for k in hot["kpis"])

    # Common random numbers: the two points a hair apart drew the same noise, so their paired
    # difference is known far more precisely than either scenario's own mean.
    report = json.loads(twinsim("compare", "--json", sweep_results).stdout)
    alike = next(k for k in report["scenarios"][1]["kpis"] if k["name"] == "mean room temperature")
    paired = alike["vs_baseline"]["paired"]
    assert paired["n"] == 3
    assert paired["ci95_high"] - paired["ci95_low"] < 0.01 * (alike["ci95_high"] - alike["ci95_low"])
    assert 0 < paired["mean"] < 0.0001


def test_compare_one_scenario_has_no_differences(rooms, tmp_path):
    out = tmp_path / "rooms.h5"
    assert twinsim("run", "-q", "-o", out, rooms).returncode == 0
    run = twinsim("compare", out)
    assert run.returncode == 0, run.stderr
    assert "mean room temperature" in run.stdout and "difference" not in run.stdout


def test_compare_errors_exit_2(sweep_results, tmp_path):
    run = twinsim("compare", "--baseline", "nope", sweep_results)
    assert run.returncode == 2 and 'no scenario named "nope"' in run.stderr and "sweep[target=30]" in run.stderr

    text = tmp_path / "notes.h5"
    text.write_text("not HDF5 at all\n")
    run = twinsim("compare", text)
    assert run.returncode == 2 and "notes.h5" in run.stderr
    assert "HDF5-DIAG" not in run.stderr  # HDF5's own error printing stays off

    run = twinsim("compare", tmp_path / "missing.h5")
    assert run.returncode == 2 and "missing.h5" in run.stderr and "no such file" in run.stderr

    assert twinsim("compare").returncode == 2


# --- bounded runs, confined paths, truthful exit statuses ---------------------------------------


def test_threads_beyond_the_limit_exit_2_and_leave_no_file(rooms, tmp_path):
    out = tmp_path / "t.h5"
    run = twinsim("run", "-o", out, "--threads", 100000, rooms)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--threads" in run.stderr and "256" in run.stderr and "the limit on threads" in run.stderr
    assert not list(tmp_path.glob("t.h5*"))
    assert "256" in twinsim("run", "--help").stdout


@pytest.mark.parametrize("edit, line, field, why", [
    (lambda t: t + "sweep:\n  grid:\n    a: [" + ", ".join(map(str, range(1000))) + "]\n"
     "    b: [" + ", ".join(map(str, range(1000))) + "]\n", 35, "sweep.grid.b", "the limit on design points"),
    (lambda t: t.replace("replications: 2", "replications: 1000000000"), 7, "replications", "the limit on replications"),
    (lambda t: t.replace("step: PT1M", "step: 1e-300"), 6, "step", "the limit on steps per run"),
    (lambda t: t.replace("horizon: PT6H", "horizon: 1e300"), 6, "step", "the limit on steps per run"),
    (lambda t: t.replace("interval: PT15M", "interval: 1e-9"), 19, "recording.series[0].interval",
     "the limit on samples of a series"),
    (lambda t: t.replace("recording:", "  - model: queue\n    where: \"" + ROOMS + " AND capacity > 0\"\n"
                         "    parameters: {property: occupancy, arrival_rate: 9e18, mean_service: PT1H}\nrecording:"),
     17, "models[1].parameters.arrival_rate", "the limit on expected events per run"),
    (lambda t: t.replace("name: rooms", "name: \"rooms\xe9\""), 1, "name", "not valid UTF-8"),
    (lambda t: t.replace("target: 24", "target: .nan"), 10, "parameters.target", "not NaN"),
    (lambda t: t.replace("target: 24", 'target: "${target}"'), 10, "parameters.target", "refers to itself"),
], ids=["grid", "replications", "tiny-step", "huge-horizon", "tiny-interval", "huge-rate", "utf8", "nan", "self-ref"])
def test_unbounded_or_unwritable_scenarios_exit_2_naming_file_line_and_field(tmp_path, edit, line, field, why):
    path = tmp_path / "big.yaml"
    text = edit(scenario_text())
    path.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode("utf-8"))
    started = time.monotonic()
    run = twinsim("run", "-o", tmp_path / "big.h5", path, timeout=30)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"{path}:{line}: {field}: " in run.stderr, run.stderr
    assert why in run.stderr
    assert "internal error" not in run.stderr and "out of memory" not in run.stderr and "type_error" not in run.stderr
    assert time.monotonic() - started < 20
    assert not list(tmp_path.glob("big.h5*"))


SECRET = "TOKEN-hunter2-never-print-me"


@pytest.fixture
def secret(tmp_path_factory):
    path = tmp_path_factory.mktemp("elsewhere") / "secret.ndjson"
    path.write_text(f"{SECRET} {SECRET}\n{SECRET}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "models-absolute"])
def test_a_scenario_cannot_read_outside_its_folder(tmp_path, secret, how):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = scenario_text()
    if how == "absolute":
        text = text.replace("base: building.ndjson", f"base: {secret}")
    elif how == "dotdot":
        text = text.replace("base: building.ndjson", "base: " + os.path.relpath(secret, scenarios))
    elif how == "symlink":
        (scenarios / "innocent.ndjson").symlink_to(secret)
        text = text.replace("base: building.ndjson", "base: innocent.ndjson")
    else:
        text = text.replace(f"base_models: [{SOURCE / 'models' / 'building'}]", f"base_models: [{secret.parent}]")
    path = scenarios / "evil.yaml"
    path.write_text(text, encoding="utf-8")
    run = twinsim("run", "-o", tmp_path / "evil.h5", path)
    assert run.returncode == 2, run.stdout + run.stderr
    field = "base_models[0]" if how == "models-absolute" else "base"
    assert re.search(rf"evil\.yaml:\d+: {re.escape(field)}: .*(outside the scenario's folder).*--allow-outside-paths",
                     run.stderr), run.stderr
    assert "hunter2" not in run.stderr + run.stdout


def test_outside_paths_are_read_with_allow_outside_paths_and_errors_never_quote_the_file(tmp_path, secret):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    path = scenarios / "outside.yaml"
    path.write_text(scenario_text().replace("base: building.ndjson", f"base: {secret}"), encoding="utf-8")
    run = twinsim("run", "--allow-outside-paths", "-o", tmp_path / "o.h5", path)
    # Read now, and not a graph: refused, quoting at most a short escaped excerpt of its first line.
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"{SECRET} {SECRET}" not in run.stderr + run.stdout
    assert "parse_error" not in run.stderr
    good = scenarios / "good.yaml"
    shutil.copy(BUILDING / "building.ndjson", tmp_path / "elsewhere.ndjson")
    good.write_text(scenario_text().replace("base: building.ndjson", f"base: {tmp_path / 'elsewhere.ndjson'}"),
                    encoding="utf-8")
    assert twinsim("run", "-o", tmp_path / "g.h5", good).returncode == 2
    ok = twinsim("run", "--allow-outside-paths", "-q", "-o", tmp_path / "g.h5", good)
    assert ok.returncode == 0, ok.stderr


def test_a_device_is_never_read_as_a_base_graph(tmp_path):
    path = tmp_path / "zero.yaml"
    path.write_text(scenario_text().replace("base: building.ndjson", "base: /dev/zero"), encoding="utf-8")
    run = twinsim("run", "--allow-outside-paths", "-o", tmp_path / "z.h5", path, timeout=20)
    assert run.returncode == 2, run.stderr
    assert f"{path}:2: base: \"/dev/zero\": is not a regular file" in run.stderr, run.stderr


def test_bundled_scenarios_reach_twinsims_own_models_folder(tmp_path):
    # base_models: [../../models/building] leaves the scenario's folder into twinsim's own models/.
    run = twinsim("run", "-q", "-o", tmp_path / "c.h5", "--replications", 1, BUILDING / "chiller-failure.yaml")
    assert run.returncode == 0, run.stderr


def test_negative_and_malformed_numbers_on_the_command_line_say_so(rooms):
    seed = twinsim("run", "--seed", "-1", rooms)
    assert seed.returncode == 2 and "--seed" in seed.stderr and "negative seeds do not exist" in seed.stderr, seed.stderr
    reps = twinsim("run", "--replications", "-1", rooms)
    assert reps.returncode == 2, reps.stderr
    assert "must be a positive integer" in reps.stderr
    assert not re.search(r"\d{20,}", reps.stderr), reps.stderr
    assert "the limit on replications" in twinsim("run", "--replications", 2000000, rooms).stderr


def _dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_killed_runs_partial_file_is_removed_by_the_next_run_to_that_path(rooms, tmp_path):
    out = tmp_path / "r.h5"
    stale = tmp_path / f"r.h5.partial-{_dead_pid()}-0"
    stale.write_bytes(b"left by a process killed with SIGKILL")
    alive = tmp_path / f"r.h5.partial-{os.getpid()}-0"  # a live process's file stays
    alive.write_bytes(b"still being written")
    other = tmp_path / "other.h5.partial-1-0"  # another output's file is not ours to judge
    other.write_bytes(b"x")
    run = twinsim("run", "-q", "-o", out, rooms)
    assert run.returncode == 0, run.stderr
    assert not stale.exists()
    assert alive.exists() and other.exists()


# --- resumable jobs (--resume) ------------------------------------------------------------------

def _resume_job(tmp_path):
    """Two sweep points × 24 replications of a day: 48 runs in 12 batches of 4."""
    path = tmp_path / "job.yaml"
    path.write_text(scenario_text(name="job", horizon="P1D", replications=24,
                                  extra="sweep:\n  list:\n    - {target: 22}\n    - {target: 26}\n"))
    return path


def _start_resumable(path, out):
    return subprocess.Popen([CLI, "run", "-q", "--threads", "2", "--resume", "--batch-size", "4", "-o", str(out),
                             str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_resumable_job_killed_at_random_points_ends_with_the_file_of_an_uninterrupted_run(tmp_path):
    import random
    path = _resume_job(tmp_path)
    whole = tmp_path / "whole.h5"
    assert twinsim("run", "-q", "-o", whole, path).returncode == 0
    expected = h5_content(whole)
    total_kills = 0
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        out = tmp_path / f"resumed{seed}.h5"
        parts = pathlib.Path(str(out) + ".parts")
        kills = 0
        for attempt in range(2):  # killed twice (kill -9), each time after at least one batch is on disk
            run = _start_resumable(path, out)
            deadline = time.monotonic() + 120
            # wait for a batch written by this attempt, then a random extra moment
            before = set(parts.glob("batch-*.h5")) if parts.exists() else set()
            while run.poll() is None and time.monotonic() < deadline:
                if parts.exists() and set(parts.glob("batch-*.h5")) - before:
                    break
                time.sleep(0.02)
            # a batch of 4 one-day runs takes about 60 ms on an idle core: kill within the next few batches
            time.sleep(rng.uniform(0.0, 0.15))
            if run.poll() is None:
                run.kill()
                kills += 1
            run.communicate(timeout=60)
        total_kills += kills
        # the last attempt may have finished the job (an idle machine); only a killed one leaves batches to resume
        left_batches = parts.exists() and any(parts.glob("batch-*.h5"))
        rerun = twinsim("run", "--threads", "1", "--resume", "--batch-size", "4", "-o", out, path, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        if left_batches:
            assert re.search(r"resumed: [1-9]\d* of 12 batches were already written", rerun.stderr), rerun.stderr
        assert "not reused" not in rerun.stderr  # a killed run leaves complete batches or temporary files
        assert not parts.exists()  # merged, then removed
        assert not list(tmp_path.glob("resumed*.partial-*"))
        actual = h5_content(out)
        assert sorted(actual) == sorted(expected)
        for name in expected:
            assert actual[name] == expected[name], (seed, name)
    assert total_kills > 0, "no attempt was killed before the job finished: the test resumed nothing"


def test_a_damaged_or_foreign_batch_file_is_reported_and_run_again_never_reused(tmp_path):
    path = _resume_job(tmp_path)
    whole = tmp_path / "whole.h5"
    assert twinsim("run", "-q", "-o", whole, path).returncode == 0
    out = tmp_path / "r.h5"
    parts = pathlib.Path(str(out) + ".parts")
    # A checkpoint folder with at least three finished batches: a run killed once they are there.
    run = _start_resumable(path, out)
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline and len(list(parts.glob("batch-*.h5"))) < 3:
        time.sleep(0.02)
    run.kill()
    run.communicate(timeout=60)
    batches = sorted(parts.glob("batch-*.h5"))
    assert len(batches) >= 3, "the job finished before three batches were on disk"
    # batch A truncated (a disk that lost its end), batch B another job's shard under its name,
    # batch C a file that is not HDF5
    data = batches[0].read_bytes()
    batches[0].write_bytes(data[: len(data) // 2])
    other = tmp_path / "other.yaml"
    other.write_text(scenario_text(name="job", horizon="P1D", replications=24,
                                   extra="sweep:\n  list:\n    - {target: 21}\n    - {target: 26}\n"))
    assert twinsim("run", "-q", "--shard", "1/12", "-o", tmp_path / "foreign.h5", other).returncode == 0
    shutil.copy(tmp_path / "foreign.h5", batches[1])
    batches[2].write_bytes(b"not a results file")
    rerun = twinsim("run", "--resume", "--batch-size", "4", "-o", out, path, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    for batch, why in [(batches[0], "truncated"), (batches[1], "belongs to job"), (batches[2], "not a valid")]:
        assert re.search(re.escape(str(batch)) + r": not reused \(.*" + why, rerun.stderr), (why, rerun.stderr)
    assert "3 refused and run again" in rerun.stderr
    expected, actual = h5_content(whole), h5_content(out)
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], name


def test_resume_options_are_checked(rooms, tmp_path):
    both = twinsim("run", "--resume", "--shard", "1/2", "-o", tmp_path / "x.h5", rooms)
    assert both.returncode == 2 and "--resume" in both.stderr and "--shard" in both.stderr
    alone = twinsim("run", "--batch-size", "4", "-o", tmp_path / "x.h5", rooms)
    assert alone.returncode == 2 and "--resume" in alone.stderr
    assert "kill -9" in twinsim("run", "--help").stdout


# --- sequential replications (--precision) ---------------------------------------------------

def test_precision_adds_replications_until_the_half_width_is_met_the_same_at_any_thread_count(tmp_path):
    h5py = pytest.importorskip("h5py")
    import numpy as np
    from scipy import stats

    path = tmp_path / "rooms.yaml"
    path.write_text(scenario_text(replications=3))
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"p{threads}.h5"
        run = twinsim("run", "-q", "--threads", threads, "--precision", "mean room temperature=0.002",
                      "--max-replications", 400, "-o", out, path, timeout=300)
        assert run.returncode == 0, run.stderr
        match = re.search(r"precision: (\d+) rounds; replications: rooms (\d+)", run.stderr)
        assert match, run.stderr
        outs.append((out, match.groups()))
    assert outs[0][1] == outs[1][1]  # the same rounds and count at 1 and 2 threads
    rounds, n = map(int, outs[0][1])
    assert rounds >= 2 and n > 3
    with h5py.File(outs[0][0], "r") as f:
        k = f["rooms"]["kpis"]
        names, reps, values = k["name"].asstr()[()], k["replication"][()], k["value"][()]
        runs = values[(names == "mean room temperature") & (reps >= 0)]
        assert f["rooms"].attrs["replications"] == n == len(runs)
    half = stats.t.ppf(0.975, n - 1) * np.std(runs, ddof=1) / np.sqrt(n)
    assert half <= 0.002
    expected, actual = h5_content(outs[0][0]), h5_content(outs[1][0])
    assert expected == actual
    # a maximum that stops short is reported, and the file holds that many
    short = twinsim("run", "-q", "--precision", "mean room temperature=0.0001%", "--max-replications", 4,
                    "-o", tmp_path / "short.h5", path)
    assert short.returncode == 0, short.stderr
    assert "precision not reached (--max-replications 4): rooms: mean room temperature" in short.stderr
    assert "at n = 4" in short.stderr


def test_precision_options_are_checked(rooms, tmp_path):
    for bad in ("x", "=3", "k=0", "k=-1%", "k=abc"):
        run = twinsim("run", "--precision", bad, "-o", tmp_path / "x.h5", rooms)
        assert run.returncode == 2 and "expected KPI=H" in run.stderr, (bad, run.stderr)
    run = twinsim("run", "--precision", "nosuch=1", "-o", tmp_path / "x.h5", rooms)
    assert run.returncode == 2 and "no scenario of the job has a KPI named 'nosuch'" in run.stderr, run.stderr
    run = twinsim("run", "--max-replications", 5, "-o", tmp_path / "x.h5", rooms)
    assert run.returncode == 2 and "--precision" in run.stderr
    run = twinsim("run", "--precision", "mean room temperature=1", "--resume", "-o", tmp_path / "x.h5", rooms)
    assert run.returncode == 2 and "--resume" in run.stderr


# --- choosing: --feasible and --select (Erlang C staffing, docs/selection.md) ------------------

STAFFING = SOURCE / "scenarios" / "callcentre" / "staffing.yaml"


def test_the_cheapest_staffing_that_answers_80_percent_within_20_s_is_10_agents_as_erlang_c_says():
    runs = [twinsim("run", "--threads", threads, "--feasible", "service level>=0.8", STAFFING, timeout=300)
            for threads in (1, 2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "cheapest feasible: staffing[agents=10] (service level >= 0.8 with confidence 0.95" in run.stdout
        for agents in (7, 8, 9):
            assert re.search(rf"staffing\[agents={agents}\]\s+infeasible", run.stdout), run.stdout
        assert re.search(r"staffing\[agents=11\]\s+not tested", run.stdout)
    assert runs[0].stdout == runs[1].stdout  # the same decisions and numbers at any thread count
    # Kim and Nelson picks the most agents for the highest service level, the fewest calls waiting too
    best = twinsim("run", "--select", "service level", "--delta", "0.02", STAFFING, timeout=300)
    assert best.returncode == 0, best.stderr
    assert "best: staffing[agents=12]" in best.stdout


def test_choice_options_are_checked(rooms):
    run = twinsim("run", "--select", "mean room temperature", rooms)
    assert run.returncode == 2 and "--delta" in run.stderr
    run = twinsim("run", "--feasible", "mean room temperature=3", rooms)
    assert run.returncode == 2 and "expected KPI>=X" in run.stderr
    run = twinsim("run", "--feasible", "nosuch>=3", rooms)
    assert run.returncode == 2 and "has no KPI named 'nosuch'" in run.stderr
    run = twinsim("run", "--feasible", "mean room temperature>=3", "--alpha", "2", rooms)
    assert run.returncode == 2 and "alpha must be in (0, 1)" in run.stderr
    run = twinsim("run", "--feasible", "mean room temperature>=3", "--select", "x", "--delta", 1, rooms)
    assert run.returncode == 2 and "not both" in run.stderr
