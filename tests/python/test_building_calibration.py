"""Calibration of the building model from Python and the CLI
(models/building/calibration.md): a history recorded from a hidden building by
twinsim itself, written as an HDF5 history file (docs/history-format.md), is
fitted back; the calibration file is loaded by a scenario."""

import json
import os
import pathlib
import shutil
import subprocess

import h5py
import numpy as np
import pytest

import twinsim

SOURCE_DIR = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CLI = os.environ.get("TWINSIM_CLI")
ROOMS = [f"room-01-{k:02d}" for k in range(1, 11)]
HIDDEN = {"room-01-03": 2.4, "room-01-07": 0.9}
WHERE = "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND STARTSWITH($dtId, 'room-01-')"
START = "2026-07-01T00:00:00Z"
START_NS = 1_782_864_000 * 10**9


def scenario_document(folder, source_dir, zone_parameters=None, calibration=None):
    parameters = {"step": 300, "outdoor_mean": 27, "outdoor_amplitude": 7, "solar_peak": 25,
                  "zone_cooling_property": "coolingPower"}
    if zone_parameters:
        parameters["zone_parameters"] = zone_parameters
    doc = {"name": "calibration", "base": "building.ndjson",
           "base_models": [os.fspath(source_dir / "models" / "building")],
           "start": START, "horizon": "P1D", "step": "PT5M",
           "behaviours": [{"model": "thermal_zones", "where": WHERE, "parameters": parameters}]}
    if calibration:
        doc["calibration"] = calibration
    return doc


def write_history(path, rows):
    """rows: (seconds, twin, key, value); an HDF5 history file as docs/history-format.md lays it out."""
    n = len(rows)
    text = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "twinsim-history"
        f.attrs["format_version"] = "1.0"
        f.attrs["twinsim_version"] = "0.1.0"
        f.attrs["created"] = "2026-12-07T00:00:00.0000000Z"
        f.attrs["source"] = "test_building_calibration"
        t_ns = np.array([START_NS + int(round(r[0] * 1e9)) for r in rows], dtype=np.int64)

        def table(name, size, columns):
            g = f.create_group(name)
            g.create_dataset("row", data=np.arange(size, dtype=np.int64))
            for key, (dtype, values) in columns.items():
                g.create_dataset(key, data=np.asarray(values, dtype=dtype) if dtype is not text
                                 else np.array(values, dtype=object), dtype=dtype)

        strings = lambda values: (text, list(values))  # noqa: E731
        table("property_updates", n, {
            "time": (np.float64, t_ns / 1e9), "time_ns": (np.int64, t_ns),
            "source_time": (np.float64, np.full(n, np.nan)),
            "source_time_ns": (np.int64, np.full(n, np.iinfo(np.int64).min)),
            "id": strings(r[1] for r in rows), "model_id": strings("dtmi:twinsim:building:Room;1" for _ in rows),
            "key": strings(r[2] for r in rows), "value": strings(json.dumps(r[3]) for r in rows),
            "value_number": (np.float64, [r[3] for r in rows]), "unit": strings("" for _ in rows),
            "relationship_id": strings("" for _ in rows), "relationship_target": strings("" for _ in rows),
            "action": strings("Update" for _ in rows), "sequence": (np.uint64, np.arange(n))})
        table("twin_lifecycle", 0, {"time": (np.float64, []), "time_ns": (np.int64, []), "twin_id": strings([]),
                                    "action": strings([]), "model_id": strings([]), "sequence": (np.uint64, [])})
        table("relationship_lifecycle", 0, {"time": (np.float64, []), "time_ns": (np.int64, []),
                                            "relationship_id": strings([]), "name": strings([]),
                                            "action": strings([]), "source": strings([]), "target": strings([]),
                                            "sequence": (np.uint64, [])})
        table("telemetry", 0, {"time": (np.float64, []), "time_ns": (np.int64, []),
                               "source_time": (np.float64, []), "source_time_ns": (np.int64, []),
                               "id": strings([]), "model_id": strings([]), "key": strings([]),
                               "value": strings([]), "value_number": (np.float64, []), "unit": strings([])})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    source_dir = SOURCE_DIR
    """A day of the hidden building (two rooms with their own ua_per_area), every 5 minutes."""
    folder = tmp_path_factory.mktemp("calibration")
    shutil.copy(source_dir / "scenarios" / "building" / "building.ndjson", folder / "building.ndjson")
    hidden = twinsim.Scenario.from_dict(
        scenario_document(folder, source_dir, {room: {"ua_per_area": ua} for room, ua in HIDDEN.items()}),
        directory=folder)
    run = twinsim.Run(hidden)
    rows = []
    for k in range(0, 289):
        if k:
            run.advance_to(300.0 * k)
        for room in ROOMS:
            twin = run.get_digital_twin(room)
            rows.append((300.0 * k, room, "temperature", twin["temperature"]))
            if k:
                rows.append((300.0 * k, room, "coolingPower", twin["coolingPower"]))
    write_history(folder / "history.h5", rows)
    with open(folder / "week.json", "w") as f:
        json.dump(scenario_document(folder, source_dir), f)
    return folder


def test_calibrate_recovers_hidden_values_and_a_scenario_loads_them(recorded):
    source_dir = SOURCE_DIR
    out = recorded / "fitted.json"
    fitted = twinsim.calibrate(recorded / "history.h5", scenario=recorded / "week.json",
                               fit=["ua_per_area@room-01-03", "ua_per_area@room-01-07"], out=out)
    values = {p["zone"]: p for p in fitted["fit"]["parameters"]}
    for room, ua in HIDDEN.items():
        assert values[room]["value"] == pytest.approx(ua, rel=0.01)
        assert values[room]["standard_error"] >= 0
    assert fitted["fit"]["guideline_14"]["meets_guideline_14"]
    assert json.loads(out.read_text()) == json.loads(json.dumps(fitted))

    doc = scenario_document(recorded, source_dir, calibration="fitted.json")
    with open(recorded / "calibrated.json", "w") as f:
        json.dump(doc, f)
    loaded = twinsim.Scenario.from_file(recorded / "calibrated.json")
    zones = loaded.to_dict()["behaviours"][0]["parameters"]["zone_parameters"]
    assert zones["room-01-03"]["ua_per_area"] == values["room-01-03"]["value"]


def test_calibrate_refuses_bad_input(recorded):
    with pytest.raises(twinsim.TwinsimError, match='unknown parameter "u_value"'):
        twinsim.calibrate(recorded / "history.h5", scenario=recorded / "week.json", fit=["u_value"])
    with pytest.raises(twinsim.TwinsimError, match="no room of the binding's 10"):
        twinsim.calibrate(recorded / "history.h5", scenario=recorded / "week.json", fit=["ua_per_area@room-09-01"])
    with pytest.raises(twinsim.TwinsimError, match="is empty"):
        twinsim.calibrate(recorded / "history.h5", scenario=recorded / "week.json", fit=["ua_per_area"],
                          start=0, end=0)


@pytest.mark.skipif(CLI is None, reason="TWINSIM_CLI not set")
def test_cli_calibrate_writes_what_python_fits(recorded):
    out = recorded / "cli.json"
    done = subprocess.run([CLI, "calibrate", "--scenario", str(recorded / "week.json"), "--history",
                           str(recorded / "history.h5"), "--fit", "ua_per_area@room-01-03", "-o", str(out), "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["parameters"][0]["value"] == pytest.approx(HIDDEN["room-01-03"], rel=0.01)
    assert json.loads(out.read_text())["behaviours"][0]["model"] == "thermal_zones"
    python = twinsim.calibrate(recorded / "history.h5", scenario=recorded / "week.json", fit=["ua_per_area@room-01-03"])
    assert python["fit"]["parameters"][0]["value"] == summary["parameters"][0]["value"]

    bad = subprocess.run([CLI, "calibrate", "--scenario", str(recorded / "week.json"), "--history",
                          str(recorded / "history.h5"), "--fit", "u_value", "-o", str(recorded / "x.json")],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1
    assert 'unknown parameter "u_value"' in bad.stderr
    missing = subprocess.run([CLI, "calibrate", "--scenario", str(recorded / "week.json"), "--fit", "ua_per_area",
                              "-o", str(recorded / "x.json")], capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2
    assert "--history" in missing.stderr
