#!/usr/bin/env python3
"""Generate the recorded history of the sample building: two summer weeks as its building
management system (BMS) would export them. This script is the generator of every file in
scenarios/building/history/ (the committed files are its output with the defaults):

    PYTHONPATH=build/python scenarios/building/generate_history.py

What it does:
  1. A hidden "true" building: the bundled graph (building.ndjson) whose thermal parameters
     differ from the bundled twin's (thermal_zones' defaults): envelope conductance, thermal
     mass, air-mass coupling, partitions, heat per person and solar gain a few to 20 % off,
     and each room's envelope conductance off by its own factor. The hidden values are written
     to history/hidden-truth.json (a calibration should find them; the twin does not know them).
  2. twinsim simulates that building from 2026-07-06 00:00 to 2026-07-20 00:00 local standard
     time (UTC-5), driven by the measured weather of weather/723170TYA.CSV (TMY3, Greensboro NC:
     dry-bulb and global horizontal irradiance), with random occupancy, and with a real chiller
     failure: chiller-1 trips on Wednesday 2026-07-15 at 14:00 local time and is repaired four
     hours later (nobody starts the backup pump).
  3. It exports what the BMS logs every 15 minutes, one wide CSV per week (the format
     `twinsim ingest` reads: a time column and one column per <twin>.<property>):
     room air temperatures, the cooling each room's terminal unit delivered, people counts,
     chiller electric power, status and available capacity (0 while tripped), the outdoor air temperature of the roof sensor, and the
     room setpoints (logged on change: the first row only, since nobody changed them).
     Readings carry sensor noise (0.1 K on temperatures, 2 % on cooling, 1 % on electric
     power) and the BMS's rounding; a few readings are missing (0.2 % of the cells blank, and
     room-03-04's sensor offline for two hours on July 9).
  4. history/outdoor-sensor.ndjson adds the roof's outdoor air temperature sensor to the graph
     (an ADT import file: the twin and its isPointOf relationship to the building), and
     history/mapping.yaml is the ingestion mapping (room points are <twin>.<property>; the BMS's
     names of the roof sensor and the chillers' power meters are mapped to their twins).

Ingest it into a store (the CLI version; notebooks/historical_replay.ipynb does the same):

    twinsim import --store july.store --models models/building scenarios/building/building.ndjson
    twinsim import --store july.store scenarios/building/history/outdoor-sensor.ndjson
    twinsim ingest --store july.store --mapping scenarios/building/history/mapping.yaml \\
        scenarios/building/history/bms-week1.csv scenarios/building/history/bms-week2.csv

Options: --seed N (default 2026), --out DIR (default history/ next to this script).
"""

import argparse
import datetime as dt
import json
import os
import pathlib
import sys
import tempfile

import h5py
import numpy as np

import twinsim

HERE = pathlib.Path(__file__).resolve().parent
START = dt.datetime(2026, 7, 6, 5, 0, tzinfo=dt.timezone.utc)   # 2026-07-06 00:00 local standard time (UTC-5)
DAYS = 14
SAMPLE = 900                                                     # s: the BMS's trend interval
FAILURE = dt.datetime(2026, 7, 15, 19, 0, tzinfo=dt.timezone.utc)  # Wed 14:00 local standard time
REPAIR_HOURS = 4.0
RATED_KW = 400.0                                                 # each chiller's coolingCapacity in building.ndjson

# The twin's values (thermal_zones' defaults, models/building/thermal.md) and the hidden truth.
TWIN = {"ua_per_area": 1.5, "mass_capacity": 100000.0, "air_mass_conductance": 22.75,
        "adjacent_conductance": 20.0, "gain_per_person": 75.0, "solar_peak": 20.0}
TRUE = {"ua_per_area": 1.68, "mass_capacity": 88000.0, "air_mass_conductance": 25.0,
        "adjacent_conductance": 17.0, "gain_per_person": 82.0, "solar_peak": 24.0}


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def true_scenario(room_ua: dict[str, float], seed: int) -> dict:
    fail_at = (FAILURE - START).total_seconds()
    return {
        "name": "true-building",
        "base": "building.ndjson",
        "base_models": ["../../models/building"],
        "start": iso(START),
        "horizon": f"P{DAYS}D",
        "step": "PT5M",
        "replications": 1,
        "seed": seed,
        "events": [{"at": fail_at, "event": "fail", "twin": "chiller-1", "data": {"repairHours": REPAIR_HOURS}}],
        "behaviours": [
            {"model": "availability", "where": "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')",
             "parameters": {"capacity_property": "coolingCapacity", "state_property": "operatingState",
                            "failed_state": "failed"}},
            {"model": "queue", "where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND capacity > 0",
             "parameters": {"property": "occupancy", "arrival_rate": 2.0, "mean_service": "PT2H",
                            "servers": "capacity", "max_in_system": "capacity"}},
            {"model": "thermal_zones", "where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1')",
             "parameters": {**{k: v for k, v in TRUE.items() if k != "ua_per_area"},
                            "ua_per_area": TRUE["ua_per_area"],
                            "zone_parameters": {room: {"ua_per_area": ua} for room, ua in room_ua.items()},
                            "weather_file": "weather/723170TYA.CSV",
                            "chiller_power_property": "electricPower",
                            "zone_cooling_property": "coolingPower"}},
        ],
        "recording": {"series": [
            {"where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1')",
             "properties": ["temperature", "coolingPower", "occupancy"], "interval": SAMPLE},
            {"where": "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')", "properties": ["electricPower"],
             "interval": SAMPLE},
        ], "events": True},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "history")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    rooms = [line.split('"$dtId":"')[1].split('"')[0] for line in (HERE / "building.ndjson").read_text().splitlines()
             if '"dtmi:twinsim:building:Room;1"' in line and '"$dtId":"' in line]
    # Each room's envelope 0 to 20 % leakier than the building's hidden value (doors, glazing, age).
    room_ua = {r: round(TRUE["ua_per_area"] * (1.0 + 0.2 * rng.random()), 3) for r in sorted(rooms)}

    with tempfile.TemporaryDirectory() as tmp:
        results = pathlib.Path(tmp) / "true.h5"
        scenario = twinsim.Scenario.from_dict(true_scenario(room_ua, args.seed), directory=HERE)
        job = twinsim.run(scenario, out=results, progress=False)
        if job.failures:
            raise SystemExit(f"the true building's run failed: {job.failures}")
        with h5py.File(results) as f:
            g = f["true-building/series"]
            times = g["temperature/time"][...]
            room_ids = [t.decode() for t in g["temperature/twin"][...]]
            temperature = g["temperature/temperature"][0]
            cooling = g["coolingPower/coolingPower"][0]
            occupancy = g["occupancy/occupancy"][0]
            chiller_ids = [t.decode() for t in g["electricPower/twin"][...]]
            power = g["electricPower/electricPower"][0]

    weather = twinsim.read_tmy3(HERE / "weather/723170TYA.CSV")
    # Outdoor air: the hour of the typical year of each sample (local standard time), dry-bulb
    # readings at their hours' ends, linear in between.
    h0 = (START + dt.timedelta(hours=weather["station"]["utc_offset"]) - dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    hours = h0.total_seconds() / 3600.0 + times / 3600.0
    outdoor = np.interp(hours, np.arange(1, 8761, dtype=float), weather["dry_bulb"])

    n = len(times)
    stamps = [START + dt.timedelta(seconds=float(t)) for t in times]
    repaired = FAILURE + dt.timedelta(hours=REPAIR_HOURS)
    columns: list[tuple[str, list[str]]] = []

    def noisy(values, sigma_abs=0.0, sigma_rel=0.0, digits=1):
        v = values + rng.normal(0.0, 1.0, values.shape) * (sigma_abs + sigma_rel * np.abs(values))
        # A reading the plant had not produced yet (t = 0) is a blank cell, as a BMS leaves it.
        return [f"{x:.{digits}f}" if np.isfinite(x) else "" for x in np.round(v, digits)]

    columns.append(("Roof OAT [degC]", noisy(outdoor, sigma_abs=0.2)))
    for j, r in enumerate(room_ids):
        columns.append((f"{r}.temperature", noisy(temperature[:, j], sigma_abs=0.1)))
        columns.append((f"{r}.coolingPower", noisy(np.maximum(cooling[:, j], 0.0), sigma_rel=0.02, digits=0)))
        columns.append((f"{r}.occupancy", [str(int(round(x))) for x in occupancy[:, j]]))
        setpoint = "26.0" if r == "room-plant" else "22.0"
        columns.append((f"{r}.temperatureSetpoint", [setpoint] + [""] * (n - 1)))
    for j, c in enumerate(chiller_ids):
        columns.append((f"CH-{c.split('-')[1]} power [kW]", noisy(power[:, j], sigma_rel=0.01, digits=1)))
        state = ["failed" if c == "chiller-1" and FAILURE <= s < repaired else "running" for s in stamps]
        columns.append((f"{c}.operatingState", state))
        # The chiller controller's available capacity: its rating while running, 0 while tripped.
        columns.append((f"CH-{c.split('-')[1]} available capacity [kW]",
                        ["0" if v == "failed" else f"{RATED_KW:.0f}" for v in state]))

    # Missing readings: 0.2 % of the measured cells blank, and one room sensor offline for two hours.
    measured = [k for k, (name, _) in enumerate(columns)
                if not name.endswith(("temperatureSetpoint", "operatingState", "available capacity [kW]"))]
    for _ in range(int(0.002 * n * len(measured))):
        k = measured[int(rng.integers(len(measured)))]
        columns[k][1][int(rng.integers(1, n))] = ""
    offline_from = dt.datetime(2026, 7, 9, 15, 0, tzinfo=dt.timezone.utc)
    for k, (name, values) in enumerate(columns):
        if name == "room-03-04.temperature":
            for i, s in enumerate(stamps):
                if offline_from <= s < offline_from + dt.timedelta(hours=2):
                    values[i] = ""

    week = 7 * 86400
    for w, (lo, hi) in enumerate([(0, week), (week, 2 * week + 1)], start=1):
        rows = [i for i in range(n) if lo <= times[i] < hi]
        with open(out / f"bms-week{w}.csv", "w", encoding="utf-8", newline="\n") as f:
            f.write("time," + ",".join(name for name, _ in columns) + "\n")
            for k, i in enumerate(rows):
                cells = []
                for name, values in columns:
                    v = values[i]
                    # Setpoints are logged on change: each file starts with the value in force.
                    if name.endswith("temperatureSetpoint") and k == 0:
                        v = columns[[c[0] for c in columns].index(name)][1][0]
                    cells.append(v)
                f.write(iso(stamps[i]) + "," + ",".join(cells) + "\n")

    (out / "hidden-truth.json").write_text(json.dumps({
        "what": "the hidden parameters of the 'true' building that generate_history.py simulated "
                "(thermal_zones parameters, models/building/thermal.md); the bundled twin uses 'twin'",
        "twin": TWIN,
        "true": TRUE,
        "true_zone_ua_per_area": room_ua,
        "weather": "weather/723170TYA.CSV from 07-06 00:00 local standard time (UTC-5)",
        "start": iso(START), "days": DAYS, "sample_seconds": SAMPLE,
        "chiller_failure": {"twin": "chiller-1", "at": iso(FAILURE), "repaired": iso(repaired)},
        "seed": args.seed,
    }, indent=1) + "\n", encoding="utf-8")
    (out / "outdoor-sensor.ndjson").write_text(
        '{"Section":"Header"}\n'
        '{"fileVersion":"1.0.0","author":"scenarios/building/generate_history.py","organization":"twinsim"}\n'
        '{"Section":"Twins"}\n'
        '{"$dtId":"outdoor-air-temperature","$metadata":{"$model":"dtmi:twinsim:building:TemperatureSensor;1"},'
        '"name":"outdoor air temperature (roof)","accuracy":0.2,"minValue":-40.0,"maxValue":60.0,'
        '"samplingInterval":900.0}\n'
        '{"Section":"Relationships"}\n'
        '{"$dtId":"outdoor-air-temperature","$relationshipId":"isPointOf-building","$targetId":"building",'
        '"$relationshipName":"isPointOf"}\n', encoding="utf-8")
    (out / "mapping.yaml").write_text(
        "# How the BMS export (bms-week*.csv, written by ../generate_history.py) maps onto the twins\n"
        "# (docs/ingest.md): the room points are exported as <twin>.<property> and need no entry; the\n"
        "# BMS's own point names of the plant and the roof sensor are mapped here. The time column\n"
        "# holds each reading's source time (UTC).\n"
        "columns:\n"
        "  \"Roof OAT [degC]\": {twin: outdoor-air-temperature, property: temperature, unit: degC}\n"
        "  \"CH-1 power [kW]\": {twin: chiller-1, property: electricPower, unit: kW}\n"
        "  \"CH-2 power [kW]\": {twin: chiller-2, property: electricPower, unit: kW}\n"
        "  \"CH-1 available capacity [kW]\": {twin: chiller-1, property: coolingCapacity, unit: kW}\n"
        "  \"CH-2 available capacity [kW]\": {twin: chiller-2, property: coolingCapacity, unit: kW}\n", encoding="utf-8")
    print(f"wrote {out}: {n} samples of {len(columns)} points, chiller-1 failed {iso(FAILURE)} to {iso(repaired)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
