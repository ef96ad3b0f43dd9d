"""Replay from Python and the CLI (docs/replay.md): a scenario's replay source resolved against
its folder, replay from a live store (twinsim.run(store=...), twinsim run --store) identical to
replay of the same rows from an HDF5 history file, a store filled after the fact refused with
the window named, and Results.guideline14() equal to `twinsim compare --json`."""

import datetime
import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import twinsim

CLI = os.environ.get("TWINSIM_CLI")
SOURCE = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
ROOMS = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"


def cli(*args, cwd=None):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, encoding="utf-8", cwd=cwd)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def scenario(start, source=None, name="window"):
    doc = {"name": name, "base": "building.ndjson", "base_models": [os.fspath(SOURCE / "models" / "building")],
           "start": start, "horizon": "PT1H", "step": "PT5M", "seed": 3,
           "behaviours": [{"model": "thermal_zones", "where": ROOMS,
                           "parameters": {"outdoor_mean": 27, "outdoor_amplitude": 7}}],
           "recording": {"series": [{"where": ROOMS, "properties": ["temperature"], "interval": "PT5M"}],
                         "events": False},
           "replay": {"interpolation": "step",
                      "inputs": [{"twin": "room-01-02", "property": "occupancy"},
                                 {"twin": "chiller-1", "property": "coolingCapacity"}]}}
    if source is not None:
        doc["replay"]["source"] = source
    return doc


@pytest.fixture(scope="module")
def window(tmp_path_factory):
    """A store holding the sample building and a recorded hour: room-01-02's occupancy every 5
    minutes and chiller-1 failing half-way, each reading with its SourceTimeStamp inside the
    window [start, start + 1 h); the rows are committed before the window opens, so the store's
    graph at the start is the imported building (the replayed properties aside)."""
    d = tmp_path_factory.mktemp("replay")
    shutil.copy(SOURCE / "scenarios" / "building" / "building.ndjson", d / "building.ndjson")
    done = cli("import", "--store", d / "st", "--models", SOURCE / "models" / "building", d / "building.ndjson")
    assert done.returncode == 0, done.stderr
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now + datetime.timedelta(minutes=2)).replace(second=0, microsecond=0)
    with twinsim.open_store(d / "st") as st:
        for k in range(13):
            at = rfc3339(start + datetime.timedelta(seconds=300 * k))
            st.update_digital_twin("room-01-02", [
                {"op": "add", "path": "/occupancy", "value": k % 4},
                {"op": "add", "path": "/$metadata/occupancy/sourceTime", "value": at}])
            if k in (0, 6):
                st.update_digital_twin("chiller-1", [
                    {"op": "add", "path": "/coolingCapacity", "value": 300.0 if k == 0 else 0.0},
                    {"op": "add", "path": "/$metadata/coolingCapacity/sourceTime", "value": at}])
        st.export_history(d / "record.h5")
    return {"dir": d, "start": rfc3339(start), "store": d / "st"}


def temperatures(path):
    with twinsim.open_results(path) as r:
        return r.series(r.scenarios[0], "temperature").values


def test_replay_from_a_store_equals_replay_of_the_same_rows_from_a_history_file(window):
    d = window["dir"]
    from_file = twinsim.Scenario.from_dict(scenario(window["start"], "record.h5"), directory=d)
    assert from_file.replay["source"] == "record.h5"
    assert from_file.replay_source() == os.fspath((d / "record.h5").resolve())
    twinsim.run(from_file, out=d / "file.h5", progress=False)
    # Python: store= (a path or a twinsim.Store) replaces source; the base is the store's graph at the start.
    from_store = twinsim.Scenario.from_dict(scenario(window["start"]), directory=d)
    twinsim.run(from_store, out=d / "store.h5", progress=False, store=window["store"])
    # The CLI: twinsim run --store.
    (d / "scenario.json").write_text(json.dumps(scenario(window["start"])))
    done = cli("run", d / "scenario.json", "--store", window["store"], "-o", d / "cli.h5", "-q")
    assert done.returncode == 0, done.stderr
    # A source that is a folder is opened as a store too.
    twinsim.run(twinsim.Scenario.from_dict(scenario(window["start"], "st"), directory=d), out=d / "folder.h5",
                progress=False)

    reference = temperatures(d / "file.h5")
    assert reference.shape[-1] == 61 and np.isfinite(reference).all()
    for other in ("store.h5", "cli.h5", "folder.h5"):
        assert np.array_equal(temperatures(d / other), reference), other


def test_run_steps_a_replay_from_a_store(window):
    d = window["dir"]
    with twinsim.open_store(window["store"]) as st:
        run = twinsim.Run(twinsim.Scenario.from_dict(scenario(window["start"]), directory=d), store=st)
        run.advance_to(1200)
        assert run.get_digital_twin("chiller-1")["coolingCapacity"] == 300.0
        run.advance_to(3000)  # chiller-1 recorded failed from 30 minutes on
        assert run.get_digital_twin("chiller-1")["coolingCapacity"] == 0.0


def test_replay_source_resolves_against_the_scenario_folder(window, tmp_path, monkeypatch):
    d = window["dir"]
    (d / "scenario.yaml").write_text(json.dumps(scenario(window["start"], "record.h5")))
    monkeypatch.chdir(tmp_path)  # not the scenario's folder
    s = twinsim.Scenario.from_file(d / "scenario.yaml")
    twinsim.run(s, out=tmp_path / "out.h5", progress=False)
    assert np.array_equal(temperatures(tmp_path / "out.h5"), temperatures(d / "file.h5"))
    # Confined to the folder's tree unless allow_outside_paths, as twinsim run.
    shutil.copy(d / "record.h5", tmp_path / "outside.h5")
    (d / "outside.yaml").write_text(json.dumps(scenario(window["start"], os.fspath(tmp_path / "outside.h5"))))
    outside = twinsim.Scenario.from_file(d / "outside.yaml")
    with pytest.raises(twinsim.ScenarioError, match="replay.source"):
        twinsim.run(outside, progress=False)
    with pytest.raises(twinsim.ScenarioError, match="replay.source"):
        outside.replay_source()
    twinsim.run(outside, progress=False, allow_outside_paths=True)


def test_a_store_filled_after_the_fact_is_refused_naming_the_window(window, tmp_path):
    # A window before the store existed: the store's graph there is empty.
    d = window["dir"]
    past = twinsim.Scenario.from_dict(scenario("2026-07-01T00:00:00Z"), directory=d)
    with pytest.raises(twinsim.HistoryError) as e:
        twinsim.run(past, progress=False, store=window["store"])
    message = str(e.value)
    assert "2026-07-01T00:00:00Z" in message and "holds no twin" in message
    assert "twins from" in message and "--hdf5" in message
    (d / "past.json").write_text(json.dumps(scenario("2026-07-01T00:00:00Z")))
    done = cli("run", d / "past.json", "--store", window["store"], "-o", tmp_path / "x.h5")
    assert done.returncode != 0
    assert "replay store" in done.stderr and "2026-07-01T00:00:00Z" in done.stderr and "holds no twin" in done.stderr
    assert not (tmp_path / "x.h5").exists()


def test_guideline14_from_results_is_what_twinsim_compare_prints(window, tmp_path):
    d = window["dir"]
    # The record with room temperatures too (the modelled run's own, shifted by 0.5 K for half the rooms).
    with twinsim.open_results(d / "file.h5") as r:
        modelled = r.series("window", "temperature")
    rooms = [str(t) for t in modelled["twin"].values]
    with twinsim.open_store(window["store"]) as st:
        for k in range(modelled.shape[-2]):
            at = datetime.datetime.strptime(window["start"], "%Y-%m-%dT%H:%M:%SZ") + datetime.timedelta(seconds=300 * k)
            for n, room in enumerate(rooms[:6]):
                value = float(modelled.values[0, k, n]) + (0.5 if n % 2 else 0.0)
                st.update_digital_twin(room, [
                    {"op": "add", "path": "/temperature", "value": value},
                    {"op": "add", "path": "/$metadata/temperature/sourceTime", "value": rfc3339(at)}])
        st.export_history(tmp_path / "with-temperatures.h5")
    twinsim.run(twinsim.Scenario.from_dict(scenario(window["start"], os.fspath(tmp_path / "with-temperatures.h5")),
                                           directory=d), allow_outside_paths=True,
                out=tmp_path / "g14.h5", progress=False)
    with twinsim.open_results(tmp_path / "g14.h5") as r:
        frame = r.guideline14()
        assert "temperature.recorded" in r.series_names("window")
    done = cli("compare", tmp_path / "g14.h5", "--json")
    assert done.returncode == 0, done.stderr
    (expected,) = json.loads(done.stdout)["guideline14"]
    assert frame.attrs["limits"] == {"nmbe": 10.0, "cv_rmse": 30.0}
    overall = frame[frame["twin"].isna()].iloc[0]
    assert overall["scenario"] == "window" and overall["series"] == "temperature" and overall["unit"] == "degC"
    assert overall["hours"] == expected["overall"]["hours"]
    assert overall["nmbe"] == pytest.approx(expected["overall"]["nmbe"], rel=1e-12)
    assert overall["cv_rmse"] == pytest.approx(expected["overall"]["cv_rmse"], rel=1e-12)
    assert bool(overall["meets"]) == expected["overall"]["meets"]
    twins = frame[frame["twin"].notna()].set_index("twin")
    assert sorted(twins.index) == sorted(t["twin"] for t in expected["twins"])
    for t in expected["twins"]:
        row = twins.loc[t["twin"]]
        assert row["hours"] == t["hours"]
        assert (np.isnan(row["nmbe"]) and t["nmbe"] is None) or row["nmbe"] == pytest.approx(t["nmbe"], rel=1e-12)
        assert bool(row["meets"]) == t["meets"]
    # The rooms recorded 0.5 K warmer than modelled: NMBE positive (residuals measured - modelled).
    warm = twins.loc[rooms[1]]
    exact = twins.loc[rooms[0]]
    assert warm["nmbe"] > 0 and abs(exact["nmbe"]) < 1e-9
    # p = 0 gives the plain means: n rather than n - 1 in the denominators, a smaller |NMBE|.
    with twinsim.open_results(tmp_path / "g14.h5") as r:
        plain = r.guideline14(parameters=0)
    assert abs(plain.iloc[0]["nmbe"]) < abs(overall["nmbe"])
    assert plain.iloc[0]["nmbe"] == pytest.approx(overall["nmbe"] * (overall["hours"] - 1) / overall["hours"])


def test_calibration_files_honour_allow_outside_paths(window, tmp_path):
    d = window["dir"]
    outside = tmp_path / "fitted.json"
    outside.write_text(json.dumps({"format": "twinsim-calibration", "version": 1,
                                   "behaviours": [{"model": "thermal_zones", "parameters": {"ua_per_area": 1.7}}]}))
    doc = scenario(window["start"], "record.h5")
    doc["calibration"] = os.fspath(outside)
    path = d / "calibrated.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(twinsim.ScenarioError, match="calibration.*outside the scenario's folder"):
        twinsim.Scenario.from_file(path)
    assert twinsim.Scenario.from_file(path, allow_outside_paths=True).to_dict()["behaviours"][0]["parameters"][
        "ua_per_area"] == 1.7
    refused = cli("run", "-q", "-o", tmp_path / "a.h5", path)
    assert refused.returncode == 2 and "calibration" in refused.stderr and "--allow-outside-paths" in refused.stderr
    accepted = cli("run", "--allow-outside-paths", "-q", "-o", tmp_path / "b.h5", path)
    assert accepted.returncode == 0, accepted.stderr


def test_cop_fitted_from_recorded_chiller_power_by_the_cli_and_python(tmp_path):
    """twinsim calibrate --fit cop / twinsim.calibrate(fit=["cop@..."]): the chillers' COP from their
    recorded power, written as thermal_zones' chiller_cop (models/building/calibration.md, "COP")."""
    shutil.copy(SOURCE / "scenarios" / "building" / "building.ndjson", tmp_path / "building.ndjson")
    start = "2026-07-15T14:00:00Z"

    def hot(**extra):
        doc = {"name": "hot", "base": "building.ndjson", "base_models": [os.fspath(SOURCE / "models" / "building")],
               "start": start, "horizon": "PT6H", "step": "PT5M",
               "behaviours": [{"model": "thermal_zones", "where": ROOMS,
                               "parameters": {"outdoor_mean": 31, "outdoor_amplitude": 5,
                                              "chiller_power_property": "electricPower"}}]}
        doc.update(extra)
        return doc

    # The hidden plant (COP 4.4 and 6.1) recorded every 5 minutes into a store, exported as a history file.
    hidden = twinsim.Scenario.from_dict(hot(overrides=[
        {"where": "$dtId = 'chiller-1'", "set": {"coefficientOfPerformance": 4.4}},
        {"where": "$dtId = 'chiller-2'", "set": {"coefficientOfPerformance": 6.1}}]), directory=tmp_path)
    done = cli("import", "--store", tmp_path / "st", "--models", SOURCE / "models" / "building",
               tmp_path / "building.ndjson")
    assert done.returncode == 0, done.stderr
    run = twinsim.Run(hidden)
    t0 = datetime.datetime(2026, 7, 15, 14, tzinfo=datetime.timezone.utc)
    with twinsim.open_store(tmp_path / "st") as st:
        for k in range(1, 73):
            run.advance_to(300 * k)
            for chiller in ("chiller-1", "chiller-2"):
                st.update_digital_twin(chiller, [
                    {"op": "add", "path": "/electricPower", "value": run.get_digital_twin(chiller)["electricPower"]},
                    {"op": "add", "path": "/$metadata/electricPower/sourceTime",
                     "value": rfc3339(t0 + datetime.timedelta(seconds=300 * k))}])
        st.export_history(tmp_path / "power.h5")
    (tmp_path / "hot.json").write_text(json.dumps(hot()))

    done = cli("calibrate", "--scenario", tmp_path / "hot.json", "--history", tmp_path / "power.h5", "--fit", "cop",
               "-o", tmp_path / "cop.json", "--json")
    assert done.returncode == 0, done.stderr
    report = {c["chiller"]: c for c in json.loads(done.stdout)["cop"]}
    assert report["chiller-1"]["value"] == pytest.approx(4.4, rel=0.01) and report["chiller-1"]["initial"] == 5.11
    assert report["chiller-2"]["value"] == pytest.approx(6.1, rel=0.01)
    written = json.loads((tmp_path / "cop.json").read_text())
    cops = written["behaviours"][0]["parameters"]["chiller_cop"]
    assert cops["chiller-1"] == pytest.approx(4.4, rel=0.01)
    # A scenario loading the file runs with those COPs.
    (tmp_path / "calibrated.json").write_text(json.dumps(hot(calibration="cop.json")))
    calibrated = twinsim.Scenario.from_file(tmp_path / "calibrated.json")
    assert calibrated.to_dict()["behaviours"][0]["parameters"]["chiller_cop"] == cops
    # Python, one chiller.
    fitted = twinsim.calibrate(tmp_path / "power.h5", scenario=tmp_path / "hot.json", fit=["cop@chiller-2"])
    assert list(fitted["behaviours"][0]["parameters"]["chiller_cop"]) == ["chiller-2"]
    assert fitted["fit"]["cop"][0]["value"] == pytest.approx(6.1, rel=0.01)
    # No chiller power mapped: a clear error.
    (tmp_path / "unmapped.json").write_text(json.dumps(hot()).replace('"chiller_power_property": "electricPower"',
                                                                       '"deadband": 1.0'))
    refused = cli("calibrate", "--scenario", tmp_path / "unmapped.json", "--history", tmp_path / "power.h5",
                  "--fit", "cop", "-o", tmp_path / "x.json")
    assert refused.returncode != 0 and "chiller_power_property" in refused.stderr
