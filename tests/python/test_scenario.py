"""The what-if engine from Python: twinsim.Scenario (built in code, read from
files, validated by the C++ readers), twinsim.run (parallel runs into one HDF5
file, same bits at any thread count, Ctrl-C leaves no file) and twinsim.Run
(one replication stepped from Python)."""

import datetime
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import twinsim

ROOM = "dtmi:twinsim:building:Room;1"
ROOMS = f"IS_OF_MODEL('{ROOM}')"


@pytest.fixture
def building(source_dir):
    return {"base": str(source_dir / "scenarios" / "building" / "building.ndjson"),
            "base_models": [str(source_dir / "models" / "building")]}


@pytest.fixture
def graph(building):
    return twinsim.TwinGraph.from_ndjson(building["base"], models=building["base_models"])


def relaxing_rooms(building, **changes):
    """Rooms relaxing toward 24 °C (with a little noise, so replications differ),
    temperature recorded every 10 minutes, two KPIs."""
    fields = dict(
        base=building["base"], base_models=building["base_models"],
        start="2026-07-01T00:00:00Z", horizon="PT6H", step=datetime.timedelta(minutes=1),
        replications=4, seed=11,
        models=[{"model": "relaxation", "where": ROOMS,
                 "parameters": {"property": "temperature", "target": 24, "time_constant": "PT1H", "noise": 0.05}}],
        recording={"series": [{"where": ROOMS, "properties": ["temperature"], "interval": "PT10M"}]},
        kpis=[{"name": "peak room temperature", "statistic": "max", "where": ROOMS, "property": "temperature",
               "over": "max"},
              {"name": "hours above 24.5", "statistic": "time_above", "where": ROOMS, "property": "temperature",
               "threshold": 24.5, "over": "sum"}],
    )
    fields.update(changes)
    return twinsim.Scenario("rooms", **fields)


def read_all(path):
    """Every dataset of an HDF5 file: name -> numpy array."""
    out = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            out[name] = item.asstr()[()] if item.dtype.kind == "O" else item[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


# --- Scenario ----------------------------------------------------------------------------------

def test_scenario_in_code_normalises_durations_and_instants(building):
    s = relaxing_rooms(building, start=datetime.datetime(2026, 7, 1, 6, 30), horizon=datetime.timedelta(hours=2),
                       events=[])
    d = s.to_dict()
    assert d["horizon"] == 7200 and d["step"] == 60
    assert d["recording"]["series"][0]["interval"] == 600
    assert s.start == datetime.datetime(2026, 7, 1, 6, 30, tzinfo=datetime.timezone.utc)
    assert (s.name, s.replications, s.seed, s.horizon) == ("rooms", 4, 11, 7200.0)
    assert twinsim.Scenario.from_dict(d) == s
    assert s.replace(replications=2).replications == 2 and s.replace(replications=2) != s
    assert twinsim.Scenario("x", start="2026-07-01T00:00:00Z", horizon=60).base == "live"


def test_scenario_file_round_trips(source_dir):
    path = source_dir / "scenarios" / "building" / "chiller-failure.yaml"
    s = twinsim.Scenario.from_file(path)
    assert s.name == "chiller-failure" and s.file == str(path) and s.directory == str(path.parent)
    d = s.to_dict()
    assert d["horizon"] == 48 * 3600 and d["replications"] == 20 and d["seed"] == 42
    assert list(d["parameters"]) == ["repair_hours", "backup_capacity"]  # key order kept
    again = twinsim.Scenario.from_dict(d)
    assert again == s and again.to_dict() == d
    # The sweep of a grid expands into named points.
    sweep = twinsim.Scenario.from_file(source_dir / "scenarios" / "building" / "capacity-sweep.yaml")
    names = [p.name for p in sweep.expand()]
    assert len(names) == 6 and names[0] == "capacity-sweep[capacity=200,supply_setpoint=14.0]"
    assert twinsim.Scenario.from_dict(sweep.to_dict()) == sweep


def test_bad_scenarios_raise_scenario_error_with_line_and_field(tmp_path, building):
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""\
        name: bad
        base: building.ndjson
        start: "2026-07-01T00:00:00Z"
        horizon: PT1H
        recording:
          series:
            - properties: [temperature]
              intervall: PT5M
        """), encoding="utf-8")
    with pytest.raises(twinsim.ScenarioError) as caught:
        twinsim.Scenario.from_file(bad)
    e = caught.value
    assert isinstance(e, ValueError) and isinstance(e, twinsim.TwinsimError)
    assert (e.file, e.line, e.field) == (str(bad), 8, "recording.series[0].intervall")
    assert str(e).startswith(f"{bad}:8: recording.series[0].intervall: ")

    # Built in code: the field, no file, no line.
    with pytest.raises(twinsim.ScenarioError) as caught:
        twinsim.Scenario("neg", start="2026-07-01T00:00:00Z", horizon=-5)
    assert (caught.value.field, caught.value.line, caught.value.file) == ("horizon", None, None)
    with pytest.raises(twinsim.ScenarioError, match="start"):
        twinsim.Scenario("no start", horizon=60)
    with pytest.raises(TypeError, match="horizonn"):
        twinsim.Scenario("typo", start="2026-07-01T00:00:00Z", horizonn=60)

    # Checks that need the graph (an unknown model) name the file's line too.
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(textwrap.dedent(f"""\
        name: unknown-model
        base: {building['base']}
        base_models: [{building['base_models'][0]}]
        start: "2026-07-01T00:00:00Z"
        horizon: PT1H
        models:
          - model: no-such-model
            where: "{ROOMS}"
        """), encoding="utf-8")
    s = twinsim.Scenario.from_file(unknown)
    with pytest.raises(twinsim.ScenarioError) as caught:
        twinsim.run(s, progress=False, allow_outside_paths=True)  # its base is outside tmp_path
    assert caught.value.line == 7 and caught.value.field.startswith("models[0]")


# --- run ---------------------------------------------------------------------------------------

def test_run_same_bits_at_any_thread_count_and_readable(tmp_path, building):
    s = relaxing_rooms(building)
    one = twinsim.run(s, out=tmp_path / "one.h5", threads=1, progress=False)
    two = twinsim.run(s, out=tmp_path / "two.h5", threads=2, progress=False)
    assert one.failures == [] and two.failures == []
    assert one.path == str(tmp_path / "one.h5") and one.scenarios == ["rooms"]

    a, b = read_all(one.path), read_all(two.path)
    assert a.keys() == b.keys() and "rooms/series/temperature/temperature" in a
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name
    values = a["rooms/series/temperature/temperature"]
    assert values.shape == (4, 37, 61) and not np.isnan(values).any()
    assert not np.array_equal(values[0], values[1])  # the noise differs between replications

    kpis = one.kpis
    assert list(kpis.columns) == ["scenario", "name", "selection", "statistic", "unit", "n", "mean", "std",
                                  "ci95_low", "ci95_high", "p50", "p90", "p95"]
    assert list(kpis["name"]) == ["peak room temperature", "hours above 24.5"]
    assert (kpis["n"] == 4).all() and (kpis["ci95_low"] <= kpis["mean"]).all()
    assert ((kpis["p50"] <= kpis["p90"]) & (kpis["p90"] <= kpis["p95"])).all()
    assert (kpis.loc[kpis["statistic"] == "time_above", "ci95_low"] >= 0).all()  # a duration is never negative
    pd.testing.assert_frame_equal(kpis, two.kpis)

    # xarray reads a series group with decoded datetimes; open_results agrees.
    with xr.open_dataset(one.path, group="rooms/series/temperature", engine="h5netcdf") as ds:
        assert np.issubdtype(ds["time"].dtype, np.datetime64)
        assert ds["time"].values[0] == np.datetime64("2026-07-01T00:00:00")
        assert ds["time"].values[1] == np.datetime64("2026-07-01T00:10:00")
        assert ds["temperature"].attrs["units"] == "degC"
        np.testing.assert_array_equal(ds["temperature"].values, values)
    with one.open() as results:
        assert results.scenarios == ["rooms"]
        summary = results.kpis("rooms")
        mean = summary[(summary["aggregate"] == "mean") & (summary["name"] == "peak room temperature")]["value"]
        assert mean.iloc[0] == kpis["mean"].iloc[0]


def test_run_overrides_and_no_file(building):
    s = relaxing_rooms(building)
    result = twinsim.run([s, s.replace(name="rooms-2")], out=None, progress=False, replications=2, seed=3)
    assert result.path is None and result.scenarios == ["rooms", "rooms-2"]
    assert list(result.kpis["n"]) == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="out="):
        result.open()
    with pytest.raises(twinsim.ScenarioError, match="named"):
        twinsim.run([s, s], progress=False)


def test_run_progress_line_and_callable(building, capfd):
    s = relaxing_rooms(building, replications=2)
    seen = []
    twinsim.run(s, threads=1, progress=seen.append)
    assert seen and seen[-1]["runs_done"] == seen[-1]["runs_total"] == 2 and seen[-1]["fraction"] == pytest.approx(1.0)
    twinsim.run(s, threads=1, progress=True)
    err = capfd.readouterr().err
    assert "100" in err and "2/2 runs" in err  # the stderr line, or tqdm's bar when installed


def test_progress_bar_uses_tqdm_auto_when_installed(building, monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, **options):
            self.options, self.n, self.postfix, self.closed = options, 0, "", False
            bars.append(self)

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def refresh(self):
            pass

        def close(self):
            self.closed = True

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeBar
    package = types.ModuleType("tqdm")
    package.auto = auto
    monkeypatch.setitem(sys.modules, "tqdm", package)
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    twinsim.run(relaxing_rooms(building, replications=2), threads=1, progress=True)
    assert len(bars) == 1 and bars[0].closed and bars[0].options["total"] == 100
    assert bars[0].n == 100 and "2/2 runs" in bars[0].postfix


def test_run_from_live_graph_sees_updates(tmp_path, building, graph):
    before = graph.get_digital_twin("room-00-01")["temperature"]
    graph.update_digital_twin("room-00-01", [{"op": "replace", "path": "/temperature", "value": 40.0}])
    s = relaxing_rooms(building, base="live", base_models=None, replications=1)
    result = twinsim.run(s, graph, out=tmp_path / "live.h5", progress=False)
    with result.open() as results:
        t = results.series("rooms", "temperature").sel(replication=0)
        assert results.attrs["base_graph_source"] == "live"
    assert t.sel(twin="room-00-01").values[0] == 40.0 != before
    assert 24 < t.sel(twin="room-00-01").values[6] < 40  # relaxed for an hour
    assert result.kpis.set_index("name").loc["peak room temperature", "mean"] == 40.0
    # A scenario with base 'live' needs the graph.
    with pytest.raises(ValueError, match="live"):
        twinsim.run(s, progress=False)


INTERRUPTED = r"""
import os, sys
import twinsim
base, models, out, mode = sys.argv[1:5]
rooms = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
s = twinsim.Scenario("long", base=base, base_models=[models], start="2026-07-01T00:00:00Z", horizon="P3650D",
                     step=60, replications=64,
                     models=[{"model": "relaxation", "where": rooms,
                              "parameters": {"property": "temperature", "target": 24, "time_constant": "PT1H"}}],
                     recording={"series": [{"where": rooms, "properties": ["temperature"], "interval": "P1D"}]})
announced = []
def progress(p):
    if not announced:
        announced.append(True)
        print("running", flush=True)
if mode == "quiet":
    print("running", flush=True)
try:
    twinsim.run(s, out=out, threads=1, progress=progress if mode == "callback" else mode == "bar")
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
print("finished", flush=True)
sys.exit(1)
"""


@pytest.mark.parametrize("mode", ["callback", "quiet"])
def test_ctrl_c_raises_keyboard_interrupt_and_leaves_no_file(tmp_path, building, mode):
    """SIGINT while the runner works (a progress callable, or progress=False: the
    signal is still checked) -> KeyboardInterrupt, and neither the results file nor
    its temporary remains."""
    out = tmp_path / "long.h5"
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED, building["base"], building["base_models"][0],
                              str(out), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=os.environ)
    try:
        assert child.stdout.readline().strip() == "running"
        if mode == "quiet":
            time.sleep(0.5)  # inside run() by now (preparing takes milliseconds)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=8)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, stderr
    assert stdout.strip() == "interrupted"
    assert os.listdir(tmp_path) == []


# --- Run ---------------------------------------------------------------------------------------

def test_run_stepped_from_python(building, graph):
    s = relaxing_rooms(building, base="live", base_models=None,
                       models=[{"model": "relaxation", "where": ROOMS,
                                "parameters": {"property": "temperature", "target": 24, "time_constant": "PT1H"}}],
                       recording={"series": [
                           {"where": ROOMS, "properties": ["temperature"], "interval": "PT10M"},
                           {"where": "$dtId = 'room-00-01'", "properties": ["temperature"], "on_change": True}]})
    run = twinsim.Run(s, graph)
    assert (run.now, run.horizon, run.replication) == (0.0, 6 * 3600.0, 0)
    assert run.advance_to(3600) == 3600.0
    assert run.time == datetime.datetime(2026, 7, 1, 1, 0, tzinfo=datetime.timezone.utc)
    query = (f"SELECT T.$dtId, T.temperature FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ROOM}') "
             "AND T.temperature > 24.2")
    warm = run.query_twins(query)
    assert isinstance(warm, twinsim.QueryResult)
    frame = warm.to_dataframe()
    assert list(frame.columns) == ["$dtId", "temperature"] and (frame["temperature"] > 24.2).all()
    assert "room-00-01" not in set(frame["$dtId"])

    run.update_digital_twin("room-00-01", [{"op": "replace", "path": "/temperature", "value": 35.0}])
    assert run.get_digital_twin("room-00-01")["temperature"] == 35.0
    assert graph.get_digital_twin("room-00-01")["temperature"] != 35.0  # the live graph is untouched
    assert "room-00-01" in {row["$dtId"] for row in run.query_twins(query)}

    run.advance_to(datetime.timedelta(hours=1, minutes=10))
    later = run.get_digital_twin("room-00-01")["temperature"]
    assert 24 + 11 * np.exp(-600 / 3600) == pytest.approx(later)
    with pytest.raises(ValueError, match="back in time"):
        run.advance_to(60)
    with pytest.raises(twinsim.ValidationError):
        run.update_digital_twin("room-00-01", [{"op": "replace", "path": "/temperature", "value": "hot"}])
    assert run.run_to_end() == 6 * 3600.0
    assert run.parameters == {}

    done = run.finish()
    t = done["series"]["temperature"]
    assert t.dims == ("time", "twin") and t.sizes["time"] == 37
    assert t["time"].values[7] == np.datetime64("2026-07-01T01:10:00")
    assert t.sel(twin="room-00-01").values[7] == pytest.approx(later)
    changes = done["changes"]["temperature.changes"]
    assert list(changes.columns) == ["time", "seconds", "twin", "value"]
    assert changes["value"].iloc[0] == 20.43  # the value at time 0, then every write
    assert 35.0 in set(changes[changes["seconds"] == 3600.0]["value"])
    kpis = done["kpis"].set_index("name")
    assert kpis.loc["peak room temperature", "value"] == 35.0
    assert list(done["events"].columns) == ["replication", "time", "seconds", "twin", "type", "detail"]
    with pytest.raises(twinsim.TwinsimError, match="finished"):
        run.advance_to(7 * 3600)


def test_run_replication_matches_the_runner(tmp_path, building):
    s = relaxing_rooms(building, replications=2)
    result = twinsim.run(s, out=tmp_path / "r.h5", threads=2, progress=False)
    run = twinsim.Run(s, replication=1)
    run.run_to_end()
    stepped = run.finish()["series"]["temperature"]
    with result.open() as results:
        recorded = results.series("rooms", "temperature").sel(replication=1)
    np.testing.assert_array_equal(stepped.values, recorded.values)
    with pytest.raises(ValueError, match="out of range"):
        twinsim.Run(s, replication=2)


def test_behaviour_errors_are_twinsim_exceptions_and_failures(tmp_path, building):
    chiller = "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1') AND $dtId = 'chiller-1'"
    s = relaxing_rooms(building, replications=2,
                       models=[{"model": "availability", "where": chiller,
                                "parameters": {"capacity_property": "coolingCapacity"}}],
                       events=[{"at": "PT1H", "event": "fail", "twin": "chiller-1",
                                "data": {"repairHours": "soon"}}])
    run = twinsim.Run(s)
    run.advance_to(1800)
    with pytest.raises(twinsim.TwinsimError, match="repairHours"):
        run.advance_to(7200)
    with pytest.raises(twinsim.TwinsimError, match="failed earlier"):
        run.run_to_end()

    result = twinsim.run(s, out=tmp_path / "failed.h5", progress=False)
    assert [(f.scenario, f.replication) for f in result.failures] == [("rooms", 0), ("rooms", 1)]
    assert all("repairHours" in f.message for f in result.failures)
    assert (result.kpis["n"] == 0).all()
    with result.open() as results:
        assert list(results.events("rooms")["type"]) == ["run_failed", "run_failed"]


def test_behaviours_lists_the_registry_scenarios_bind_by_name():
    models = {m["name"]: m for m in twinsim.behaviours()}
    assert {"availability", "queue", "relaxation", "rules", "schedule", "thermal_zones"} <= set(models)
    thermal = models["thermal_zones"]
    assert thermal["interface"] == "dtmi:twinsim:building:Room;1"
    assert models["rules"]["interface"] is None  # binds to any twin
    parameters = {p["name"]: p for p in thermal["parameters"]}
    assert parameters["default_cop"]["twin_property"] == "coefficientOfPerformance"
    assert parameters["default_cop"]["greater_than"] == 0.0
    assert parameters["air_heat_capacity"]["unit"] == "J/(m3.K)"
    assert parameters["integrator"]["scenario_parameter"] is False
    assert parameters["outdoor_mean"]["default"] == 24.0 and not parameters["outdoor_mean"]["required"]
    assert "fail" in models["availability"]["events"]
    assert "process" in {p["name"] for p in models["schedule"]["parameters"]}


def test_models_is_a_deprecated_alias_of_behaviours():
    with pytest.warns(DeprecationWarning, match=r"twinsim\.behaviours\(\)"):
        listed = twinsim.models()
    assert listed == twinsim.behaviours()


def test_scenario_takes_models_as_the_older_name_of_behaviours():
    binding = [{"model": "relaxation", "parameters": {"property": "temperature", "target": 20}}]
    common = dict(start="2026-07-01T00:00:00Z", horizon=60)
    current = twinsim.Scenario("s", behaviours=binding, **common)
    assert twinsim.Scenario("s", models=binding, **common) == current
    assert current.to_dict()["behaviours"][0]["model"] == "relaxation" and "models" not in current.to_dict()
    assert twinsim.Scenario("s", **common).replace(models=binding) == current
    with pytest.raises(twinsim.ScenarioError, match="older name of 'behaviours'") as caught:
        twinsim.Scenario("s", behaviours=binding, models=binding, **common)
    assert caught.value.field == "models"


def test_rules_from_python_fire_and_start_a_process(building):
    # Rooms relax toward 30 °C; a rule written in Python raises an alarm once a room has been
    # above 26 °C for 30 minutes and starts a setpoint schedule (a process) on that room.
    s = (relaxing_rooms(building, replications=1, recording={"events": True},
                        models=[{"model": "relaxation", "where": "$dtId = 'room-00-01'",
                                 "parameters": {"property": "temperature", "target": 30, "time_constant": "PT1H"}}])
         .with_rules("$dtId = 'room-00-01'",
                     {"name": "too hot", "when": "temperature > 26", "for": "PT30M",
                      "then": [{"alarm": "above 26 °C for 30 min"}, {"start": "setback"}]})
         .with_model("schedule", "$dtId = 'room-00-01'", property="temperatureSetpoint",
                     process="setback", values=[[0, "64.4 degF"]]))
    assert [m["model"] for m in s.to_dict()["behaviours"]] == ["relaxation", "rules", "schedule"]
    run = twinsim.Run(s)
    start = run.get_digital_twin("room-00-01")["temperature"]
    assert start < 26
    crossing = 3600 * np.log((30 - start) / (30 - 26))  # when x(t) = 30 - (30 - x0) e^{-t/1h} reaches 26
    run.run_to_end()
    assert run.get_digital_twin("room-00-01")["temperatureSetpoint"] == pytest.approx(18.0)
    events = run.finish()["events"]
    alarm = events[events["type"] == "alarm"].iloc[0]
    started = events[events["type"] == "process_start"].iloc[0]
    step = 60.0  # the relaxation writes every minute: the condition turns true at the first step past the crossing
    assert alarm["seconds"] == started["seconds"]
    assert 1800 + crossing <= alarm["seconds"] <= 1800 + crossing + step
    assert started["detail"] == {"process": "setback", "rule": "too hot", "twin": "room-00-01"}

    # A rule starting a process nobody provides is refused before any run, naming the action.
    bad = relaxing_rooms(building).with_rules(ROOMS, {"name": "x", "when": "temperature > 26", "then": [{"start": "nope"}]})
    with pytest.raises(twinsim.ScenarioError, match=r"behaviours\[1\]\.parameters\.rules\[0\]\.then\[0\]\.start"):
        twinsim.Run(bad)


def test_results_compare_gives_the_numbers_of_twinsim_compare_json(tmp_path, building):
    cool = relaxing_rooms(building, replications=3)
    warm = relaxing_rooms(building, replications=3, models=[
        {"model": "relaxation", "where": ROOMS,
         "parameters": {"property": "temperature", "target": 26, "time_constant": "PT1H", "noise": 0.05}}],
    ).replace(name="warm")
    out = tmp_path / "compare.h5"
    twinsim.run([cool, warm], out=out, progress=False)
    with twinsim.open_results(out) as results:
        frame = results.compare(baseline="rooms")
        assert frame.attrs["baseline"] == "rooms"
        assert list(frame["scenario"]) == ["rooms", "rooms", "warm", "warm"]
        assert list(frame.columns[:13]) == ["scenario", "name", "selection", "statistic", "unit", "n", "mean", "std",
                                            "ci95_low", "ci95_high", "p50", "p90", "p95"]
        # the baseline's rows compare with nothing; the warm room is about 2 degrees warmer, paired over 3 replications
        assert frame.loc[frame["scenario"] == "rooms", "difference"].isna().all()
        peak = frame[(frame["scenario"] == "warm") & (frame["name"] == "peak room temperature")].iloc[0]
        assert 1.5 < peak["difference"] < 2.5 and peak["paired_n"] == 3
        assert peak["paired_ci95_low"] < peak["paired_mean"] < peak["paired_ci95_high"]
        assert not peak["ci_overlap"]
        # the means are the file's own summary rows
        summary = results.kpis()
        means = summary[summary["aggregate"] == "mean"]
        assert list(frame["mean"]) == list(means["value"])
        with pytest.raises(twinsim.NotFoundError):
            results.compare(baseline="nope")
        assert results.compare().attrs["baseline"] == "rooms"  # the first scenario by default

    cli = os.environ.get("TWINSIM_CLI")
    assert cli, "TWINSIM_CLI (the twinsim program) is needed to compare with `twinsim compare --json`"
    report = json.loads(subprocess.run([cli, "compare", "--json", "--baseline", "rooms", str(out)], check=True,
                                       capture_output=True, text=True).stdout)
    rows = [(s["name"], k) for s in report["scenarios"] for k in s["kpis"]]
    assert len(rows) == len(frame)
    nan = float("nan")
    for (scenario, k), (_, row) in zip(rows, frame.iterrows()):
        versus = k["vs_baseline"] or {}
        paired = versus.get("paired") or {}
        expected = {"scenario": scenario, "name": k["name"], "selection": k["selection"], "n": k["n"],
                    "mean": k["mean"], "std": k["std"], "ci95_low": k["ci95_low"], "ci95_high": k["ci95_high"],
                    "p50": k["p50"], "p90": k["p90"], "p95": k["p95"],
                    "baseline_mean": versus.get("baseline_mean"), "difference": versus.get("difference"),
                    "paired_n": paired.get("n", 0), "paired_mean": paired.get("mean"),
                    "paired_ci95_low": paired.get("ci95_low"), "paired_ci95_high": paired.get("ci95_high")}
        for column, value in expected.items():
            value = nan if value is None else value
            if isinstance(value, float) and np.isnan(value):
                assert np.isnan(row[column]), (scenario, column)
            else:
                assert row[column] == value, (scenario, column)  # exactly: the same bits through JSON
        assert (None if pd.isna(row["ci_overlap"]) else bool(row["ci_overlap"])) == versus.get("ci_overlap")


def test_kpi_summaries_have_percentiles_and_a_duration_interval_that_stays_at_or_above_zero(tmp_path, building):
    # Hours above 24.5 °C: the rooms relax toward 24 °C, so most replications spend no time above it.
    out = tmp_path / "percentiles.h5"
    job = twinsim.run(relaxing_rooms(building, replications=6), out=out, progress=False)
    with twinsim.open_results(out) as results:
        rows = results.kpis()
        frame = results.compare()
    for name, statistic in (("hours above 24.5", "time_above"), ("peak room temperature", "max")):
        runs = rows[(rows["name"] == name) & (rows["replication"] >= 0)]["value"].to_numpy()
        summary = rows[(rows["name"] == name) & (rows["replication"] == -1)].set_index("aggregate")["value"]
        assert len(runs) == 6
        expected = np.percentile(runs, [50, 90, 95])  # numpy's default: linear interpolation
        assert summary[["p50", "p90", "p95"]].to_numpy() == pytest.approx(expected, rel=1e-12, abs=1e-12)
        row = frame[frame["name"] == name].iloc[0]
        assert [row["p50"], row["p90"], row["p95"]] == pytest.approx(list(expected), rel=1e-12, abs=1e-12)
        kpi = job.kpis[job.kpis["name"] == name].iloc[0]
        assert [kpi["p50"], kpi["p90"], kpi["p95"]] == pytest.approx(list(expected), rel=1e-12, abs=1e-12)
        if statistic == "time_above":
            assert row["ci95_low"] >= 0 and kpi["ci95_low"] >= 0
            # ... where the plain t interval would reach below zero when the runs are mostly 0
            t_low = runs.mean() - 2.570581836 * runs.std(ddof=1) / np.sqrt(6)
            assert row["ci95_low"] == pytest.approx(max(0.0, t_low), abs=1e-12)


# --- bounds and confinement -------------------------------------------------------------------


def test_a_thread_count_beyond_the_limit_raises_scenario_error_naming_it(building):
    with pytest.raises(twinsim.ScenarioError, match="the limit on threads") as caught:
        twinsim.run(relaxing_rooms(building, replications=1), threads=100000, progress=False)
    assert caught.value.field == "threads"


def test_replications_beyond_the_limit_say_so(building):
    with pytest.raises(twinsim.ScenarioError, match="must be a positive integer, at most 1000000"):
        twinsim.run(relaxing_rooms(building), replications=10**9, progress=False)
    with pytest.raises(twinsim.ScenarioError, match="the limit on replications") as caught:
        relaxing_rooms(building, replications=10**9)
    assert caught.value.field == "replications"


def test_a_scenario_file_reads_only_inside_its_folder_unless_allowed(tmp_path, building):
    secret = tmp_path / "secret.ndjson"
    secret.write_text("TOKEN-hunter2 " * 20 + "\n", encoding="utf-8")
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "link.ndjson").symlink_to(secret)
    for base in (str(secret), "../secret.ndjson", "link.ndjson"):
        path = folder / "s.yaml"
        path.write_text(f"name: s\nbase: {base}\nstart: 2026-07-01T00:00:00Z\nhorizon: 60\n", encoding="utf-8")
        s = twinsim.Scenario.from_file(path)
        with pytest.raises(twinsim.ScenarioError, match="outside the scenario's folder") as caught:
            twinsim.run(s, progress=False)
        assert caught.value.field == "base" and caught.value.line == 2
        assert "hunter2" not in str(caught.value)
        with pytest.raises(twinsim.ScenarioError, match="outside the scenario's folder"):
            twinsim.Run(s)
    # Allowed: read, and refused as a graph, quoting at most a short excerpt of a line.
    with pytest.raises(twinsim.TwinsimError) as caught:
        twinsim.run(s, progress=False, allow_outside_paths=True)
    assert str(caught.value).count("hunter2") <= 3
    # A scenario built in code names the caller's own paths: not confined.
    assert twinsim.run(relaxing_rooms(building, replications=1), progress=False).failures == []


def test_run_with_precision_reports_the_counts_and_refuses_bad_targets(building, tmp_path):
    s = relaxing_rooms(building, replications=3)
    a = twinsim.run(s, out=tmp_path / "a.h5", threads=1, progress=False, precision={"peak room temperature": "0.05%"})
    b = twinsim.run(s, out=tmp_path / "b.h5", threads=2, progress=False, precision={"peak room temperature": "0.05%"})
    assert a.precision == b.precision
    n = a.precision["replications"]["rooms"]
    assert n > 3 and a.precision["rounds"] >= 2 and a.precision["unmet"] == []
    row = a.kpis[a.kpis.name == "peak room temperature"].iloc[0]
    assert row.n == n
    assert a.kpis.equals(b.kpis)
    with pytest.raises(ValueError, match="must be > 0"):
        twinsim.run(s, progress=False, precision={"peak room temperature": 0})
    with pytest.raises(twinsim.ScenarioError, match="no scenario of the job has a KPI named"):
        twinsim.run(s, progress=False, precision={"nosuch": 1.0})
    assert twinsim.run(s, progress=False).precision is None


def test_select_best_and_cheapest_feasible_answer_the_erlang_c_staffing_question(source_dir):
    staffing = twinsim.Scenario.from_file(source_dir / "scenarios" / "callcentre" / "staffing.yaml")
    choice = twinsim.cheapest_feasible(staffing, "service level", 0.8)
    assert choice["chosen"] == "staffing[agents=10]"
    decisions = {s["scenario"]: s["decision"] for s in choice["systems"]}
    assert decisions["staffing[agents=9]"] == "infeasible" and decisions["staffing[agents=12]"] == "not tested"
    ten = next(s for s in choice["systems"] if s["scenario"] == "staffing[agents=10]")
    assert ten["low"] >= 0.8 and abs(ten["mean"] - 0.8678) < 0.05  # Erlang C: 0.8678
    assert twinsim.cheapest_feasible(staffing, "service level", 0.8, threads=1) == choice
    best = twinsim.select_best(staffing, "mean calls in system", 0.2, maximize=False)
    assert best["best"] == "staffing[agents=12]" and best["decided"]
    assert best["h2"] > 0 and len(best["systems"]) == 6
    with pytest.raises(twinsim.ScenarioError, match="delta must be > 0"):
        twinsim.select_best(staffing, "service level", 0)


def test_run_with_resume_stops_at_the_first_progress_report_that_cancels(building, tmp_path):
    # However fast the batches are, a cancel stops the job before its next
    # batch: no results file is written and some batches are left to resume.
    s = relaxing_rooms(building, replications=24, horizon="P3D")  # 6 batches of 4
    parts = tmp_path / "out.h5.parts"

    def cancel(counters):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        twinsim.run(s, out=tmp_path / "out.h5", threads=1, progress=cancel, resume=True, batch_size=4)
    assert not (tmp_path / "out.h5").exists()
    assert len(list(parts.glob("batch-*.h5"))) < 6


def test_run_with_resume_continues_after_an_interruption_and_writes_the_plain_runs_file(building, tmp_path):
    from test_cli_run import h5_content

    s = relaxing_rooms(building, replications=24, horizon="P3D")  # 6 batches of 4, long enough to stop in between
    plain = twinsim.run(s, out=tmp_path / "plain.h5", threads=2, progress=False)
    parts = tmp_path / "resumed.h5.parts"

    def stop_after_two_batches(counters):
        if len(list(parts.glob("batch-*.h5"))) >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        twinsim.run(s, out=tmp_path / "resumed.h5", threads=1, progress=stop_after_two_batches, resume=True,
                    batch_size=4)
    kept = sorted(parts.glob("batch-*.h5"))
    assert len(kept) >= 2 and not (tmp_path / "resumed.h5").exists()
    resumed = twinsim.run(s, out=tmp_path / "resumed.h5", threads=2, progress=False, resume=True, batch_size=4)
    assert resumed.kpis.equals(plain.kpis)
    assert not parts.exists()
    assert h5_content(tmp_path / "resumed.h5") == h5_content(tmp_path / "plain.h5")
    with pytest.raises(ValueError, match="resume=True needs an output file"):
        twinsim.run(s, progress=False, resume=True)
    with pytest.raises(ValueError, match="batch_size is for resume=True or a client"):
        twinsim.run(s, progress=False, batch_size=3)
