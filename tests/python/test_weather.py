"""TMY3 weather from Python (twinsim.read_tmy3) and thermal_zones' weather_file in a
scenario: resolved against the scenario's folder, confined to it, the same through the
CLI and Python (models/building/weather.md)."""

import math
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest

import twinsim

CLI = os.environ.get("TWINSIM_CLI")


def test_read_tmy3_values_read_by_hand(source_dir):
    w = twinsim.read_tmy3(source_dir / "scenarios/building/weather/723170TYA.CSV")
    assert w["station"]["name"] == "GREENSBORO PIEDMONT TRIAD INT"
    assert w["station"]["utc_offset"] == -5.0
    assert len(w["dry_bulb"]) == 8760 and w["dry_bulb"].dtype == np.float64
    # Line 4552: 07/09/1981,14:00: GHI 845 W/m2, dry-bulb 35.6 degC, the year's hottest hour.
    k = int(np.argmax(w["dry_bulb"]))
    assert (w["month"][k], w["day"][k], w["hour"][k], w["year"][k]) == (7, 9, 14, 1981)
    assert w["dry_bulb"][k] == 35.6 and w["ghi"][k] == 845.0
    assert w["dry_bulb"].min() == -16.7


def test_read_tmy3_refusal_names_line_and_field(tmp_path, source_dir):
    lines = (source_dir / "scenarios/building/weather/723170TYA.CSV").read_text().splitlines()
    fields = lines[9].split(",")
    fields[31] = "warm"
    lines[9] = ",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(twinsim.WeatherInputError, match=r"bad.csv:10: Dry-bulb \(C\): \"warm\" is not a number"):
        twinsim.read_tmy3(bad)
    with pytest.raises(twinsim.TwinsimIoError):
        twinsim.read_tmy3(tmp_path / "missing.csv")


def _scenario_copy(tmp_path, source_dir, weather_path):
    """The bundled july-week-weather scenario in a folder of its own, for one day,
    naming weather_path."""
    folder = tmp_path / "job"
    folder.mkdir()
    shutil.copy(source_dir / "scenarios/building/building.ndjson", folder)
    (folder / "weather").mkdir()
    shutil.copy(source_dir / "scenarios/building/weather/723170TYA.CSV", folder / "weather")
    text = (source_dir / "scenarios/building/july-week-weather.yaml").read_text()
    text = text.replace("base_models: [../../models/building]", f"base_models: [{source_dir / 'models/building'}]")
    text = text.replace("horizon: P6D", "horizon: P1D").replace("weather/723170TYA.CSV", weather_path)
    (folder / "s.yaml").write_text(text)
    return folder / "s.yaml"


def test_weather_file_resolves_against_the_scenario_and_drives_the_rooms(tmp_path, source_dir, monkeypatch):
    scenario_file = _scenario_copy(tmp_path, source_dir, "weather/723170TYA.CSV")
    monkeypatch.chdir(tmp_path)  # the path is the scenario's, not the current folder's
    scenario = twinsim.Scenario.from_file(scenario_file)
    result = twinsim.run(scenario, out=tmp_path / "py.h5", progress=False)
    assert not result.failures
    with h5py.File(tmp_path / "py.h5") as f:
        weather_temps = f["july-week-weather/series/temperature/temperature"][...]
    assert np.all(np.isfinite(weather_temps))
    if CLI:
        out = subprocess.run([CLI, "run", scenario_file, "-o", tmp_path / "cli.h5"],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        with h5py.File(tmp_path / "cli.h5") as f:
            np.testing.assert_array_equal(f["july-week-weather/series/temperature/temperature"][...], weather_temps)


def test_weather_file_outside_the_scenario_folder_is_refused(tmp_path, source_dir):
    scenario_file = _scenario_copy(tmp_path, source_dir, "../outside.csv")
    shutil.copy(source_dir / "scenarios/building/weather/723170TYA.CSV", tmp_path / "outside.csv")
    scenario = twinsim.Scenario.from_file(scenario_file)
    with pytest.raises(twinsim.ScenarioError, match=r"behaviours\[0\]\.parameters\.weather_file.*outside the scenario's folder"):
        twinsim.run(scenario, progress=False, allow_outside_paths=False)
    if CLI:
        out = subprocess.run([CLI, "run", scenario_file, "-o", tmp_path / "x.h5"], capture_output=True, text=True)
        assert out.returncode != 0
        assert "weather_file" in out.stderr and "outside the scenario's folder" in out.stderr
