"""The bundled recorded history of the sample building (scenarios/building/history/, written by
scenarios/building/generate_history.py): the committed files are the generator's output, and
they go into a store through the live layer's ingestion path (`twinsim import` + `twinsim
ingest --store`) with the rows expected."""

import csv
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

CLI = os.environ.get("TWINSIM_CLI")
SOURCE = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
HISTORY = SOURCE / "scenarios/building/history"


def cli(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, encoding="utf-8")


def column(name):
    """Every file's values of one column, in time order: (source time, cell)."""
    out = []
    for week in ("bms-week1.csv", "bms-week2.csv"):
        with open(HISTORY / week, encoding="utf-8") as f:
            rows = csv.reader(f)
            header = next(rows)
            k = header.index(name)
            out += [(r[0], r[k]) for r in rows]
    return out


def test_the_committed_history_is_the_generators_output(tmp_path):
    env = dict(os.environ)
    subprocess.run([sys.executable, SOURCE / "scenarios/building/generate_history.py", "--out", tmp_path],
                   check=True, env=env, capture_output=True)
    for name in ("bms-week1.csv", "bms-week2.csv", "hidden-truth.json", "mapping.yaml", "outdoor-sensor.ndjson"):
        assert (tmp_path / name).read_bytes() == (HISTORY / name).read_bytes(), name


def test_hidden_building_differs_from_the_twin():
    truth = json.loads((HISTORY / "hidden-truth.json").read_text())
    for name, twin in truth["twin"].items():
        off = abs(truth["true"][name] / twin - 1.0)
        assert 0.03 <= off <= 0.2, name
    ua = np.array(list(truth["true_zone_ua_per_area"].values()))
    assert len(ua) == 61 and np.all(ua >= truth["true"]["ua_per_area"]) and np.all(ua <= 1.2 * truth["true"]["ua_per_area"])


def test_export_has_noise_gaps_and_the_failure():
    temps = column("room-03-04.temperature")
    assert len(temps) == 14 * 96 + 1
    assert temps[0][0] == "2026-07-06T05:00:00Z" and temps[-1][0] == "2026-07-20T05:00:00Z"
    offline = [t for t, v in temps if v == ""]
    assert "2026-07-09T15:00:00Z" in offline and "2026-07-09T16:45:00Z" in offline and len(offline) >= 8
    state = column("chiller-1.operatingState")
    failed = [t for t, v in state if v == "failed"]
    assert failed[0] == "2026-07-15T19:00:00Z" and failed[-1] == "2026-07-15T22:45:00Z" and len(failed) == 16
    power = dict(column("CH-1 power [kW]"))
    assert float(power["2026-07-15T20:00:00Z"]) == 0.0 and float(power["2026-07-15T18:00:00Z"]) > 10.0
    capacity = dict(column("CH-1 available capacity [kW]"))
    assert capacity["2026-07-15T18:45:00Z"] == "400" and capacity["2026-07-15T19:00:00Z"] == "0"
    assert capacity["2026-07-15T23:00:00Z"] == "400"


@pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")
def test_ingest_into_a_store_gives_the_expected_history(tmp_path):
    store = tmp_path / "july.store"
    assert cli("import", "--store", store, "--models", SOURCE / "models/building",
               SOURCE / "scenarios/building/building.ndjson").returncode == 0
    assert cli("import", "--store", store, HISTORY / "outdoor-sensor.ndjson").returncode == 0
    ingest = cli("ingest", "--store", store, "--mapping", HISTORY / "mapping.yaml", "--json",
                 HISTORY / "bms-week1.csv", HISTORY / "bms-week2.csv")
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout)
    assert report["rows"] == 14 * 96 + 1 and report["bad_rows"] == [] and report["twins"] == 64  # 61 rooms, 2 chillers, 1 sensor

    def history(twin, prop):
        out = cli("history", "--store", store, "--twin", twin, "--property", prop, "--format", "ndjson")
        assert out.returncode == 0, out.stderr
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        return [r for r in rows if r.get("SourceTimeStamp")]  # the ingested readings, not the import

    # Every non-blank cell of a column is one row, at its source time, with its value.
    for twin, prop, col in [("room-03-04", "temperature", "room-03-04.temperature"),
                            ("room-01-02", "coolingPower", "room-01-02.coolingPower"),
                            ("outdoor-air-temperature", "temperature", "Roof OAT [degC]"),
                            ("chiller-1", "electricPower", "CH-1 power [kW]"),
                            ("chiller-1", "coolingCapacity", "CH-1 available capacity [kW]")]:
        expected = [(t, float(v)) for t, v in column(col) if v != ""]
        rows = history(twin, prop)
        assert len(rows) == len(expected), (twin, prop)
        assert rows[0]["SourceTimeStamp"].startswith(expected[0][0][:-1])
        assert [float(r["Value"]) for r in rows] == pytest.approx([v for _, v in expected])
    failed = [r for r in history("chiller-1", "operatingState") if r["Value"] == "failed"]
    assert len(failed) == 16 and failed[0]["SourceTimeStamp"].startswith("2026-07-15T19:00:00")


def test_the_readme_tour_replays_week1_and_calibrates_on_it(tmp_path):
    """The README's CLI tour of the journey: the record exported from the ingest onward, week 1
    replayed as it was (scenarios/building/july-week1-replay.yaml) with Guideline 14 in
    `twinsim compare`, then `twinsim calibrate` on the same replay scenario (its replay.source
    resolved against the scenario file, as `twinsim run` does) recovering the hidden envelope."""
    import datetime as dt
    # The repository's layout in tmp_path, so ../../results/ of the scenario lands here.
    building = tmp_path / "scenarios" / "building"
    building.mkdir(parents=True)
    (tmp_path / "models").symlink_to(SOURCE / "models")
    for name in ("building.ndjson", "weather", "july-week1-replay.yaml"):
        (building / name).symlink_to(SOURCE / "scenarios" / "building" / name)
    results = tmp_path / "results"
    results.mkdir()
    store = results / "july.store"
    assert cli("import", "--store", store, "--models", SOURCE / "models/building", building / "building.ndjson").returncode == 0
    assert cli("import", "--store", store, HISTORY / "outdoor-sensor.ndjson").returncode == 0
    since = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    ingest = cli("ingest", "--store", store, "--mapping", HISTORY / "mapping.yaml", HISTORY / "bms-week1.csv", HISTORY / "bms-week2.csv")
    assert ingest.returncode == 0, ingest.stderr
    export = cli("history", "--store", store, "--start", since, "--hdf5", results / "july-record.h5")
    assert export.returncode == 0, export.stderr
    assert "255102 property updates" in export.stdout

    scenario = building / "july-week1-replay.yaml"
    run = cli("run", "--allow-outside-paths", "-o", results / "week1.h5", scenario)
    assert run.returncode == 0, run.stderr
    compare = cli("compare", "--json", results / "week1.h5")
    assert compare.returncode == 0, compare.stderr
    assert json.loads(compare.stdout)["guideline14"], compare.stdout
    text = cli("compare", results / "week1.h5").stdout
    overall_line = next(line for line in text.splitlines() if line.strip().startswith("overall"))
    nmbe, cv = (float(x.rstrip("%")) for x in overall_line.split()[2:5:2])
    assert abs(nmbe) <= 10 and cv <= 30 and overall_line.split()[-1] == "yes", overall_line

    fitted = results / "fitted.json"
    calibrate = cli("calibrate", "--scenario", scenario, "--allow-outside-paths", "--history", results / "july-record.h5",
                    "--from", "2026-07-06T05:15:00Z", "--warmup", "P1D", "--max-gap", "10800",
                    "--fit", "ua_per_area", "--fit", "mass_capacity", "--fit", "gain_per_person", "--fit", "solar_peak",
                    "-o", fitted)
    assert calibrate.returncode == 0, calibrate.stderr
    truth = json.loads((HISTORY / "hidden-truth.json").read_text())
    hidden_ua = float(np.mean(list(truth["true_zone_ua_per_area"].values())))
    values = {p["name"]: p["value"] for p in json.loads(fitted.read_text())["fit"]["parameters"]}
    assert values["ua_per_area"] == pytest.approx(hidden_ua, rel=0.05)
    for name in ("mass_capacity", "gain_per_person", "solar_peak"):
        assert values[name] == pytest.approx(truth["true"][name], rel=0.05), name
