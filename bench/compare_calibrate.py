"""Calibration speed, twinsim beside SciPy (models/building/calibration.md, "Speed").

    PYTHONPATH=build/python python bench/compare_calibrate.py [--days 14] [--rounds 3] [--smoke]

The problem: the bundled sample building (61 rooms, 6 levels); a hidden building whose 50 rooms
of levels 0-4 each have their own ua_per_area, drawn from [0.8, 2.6] (seed 7), is run by
twinsim itself (thermal_zones, 5-minute steps, diurnal weather 27 +- 7 degC, solar 25 W/m2) and
every room's temperature (plus 0.1 K Gaussian noise, seed 42) and delivered cooling are written
as an HDF5 history file (docs/history-format.md). Both sides then fit the 50 values from 1.5 on
the whole window:

* twinsim: twinsim.calibrate(history, scenario=..., fit=["ua_per_area@room-0L-*", ...]), the
  library call the CLI makes (bounded Levenberg-Marquardt, Jacobian one group of rooms at a time);
* the peer: bench/calibrate_scipy.py (scipy.optimize.least_squares with jac_sparsity on the same
  network in NumPy), in a child process, on the same recorded data.

Rounds are interleaved (twinsim, then the peer); the JSON printed holds medians of wall and CPU
seconds, each side's largest relative error against the hidden values, their largest relative
difference, the CPU model and the load averages before and after.
"""

import argparse
import json
import math
import os
import pathlib
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

import twinsim

SOURCE = pathlib.Path(__file__).resolve().parents[1]
START_NS = 1_782_864_000 * 10**9  # 2026-07-01T00:00:00Z
ROOM = "dtmi:twinsim:building:Room;1"


def scenario(days, zone_parameters=None):
    p = {"step": 300, "outdoor_mean": 27, "outdoor_amplitude": 7, "solar_peak": 25,
         "zone_cooling_property": "coolingPower"}
    if zone_parameters:
        p["zone_parameters"] = zone_parameters
    return {"name": "calibration-bench", "base": "building.ndjson", "base_models": [os.fspath(SOURCE / "models" / "building")],
            "start": "2026-07-01T00:00:00Z", "horizon": f"PT{int(days * 24)}H", "step": "PT5M",
            "behaviours": [{"model": "thermal_zones", "where": f"IS_OF_MODEL('{ROOM}')", "parameters": p}]}


def write_history(path, rows):
    """rows: (seconds, twin, key, value) -> a history file as docs/history-format.md lays it out."""
    n = len(rows)
    text = h5py.string_dtype("utf-8")
    t_ns = np.array([START_NS + int(round(r[0] * 1e9)) for r in rows], dtype=np.int64)
    with h5py.File(path, "w") as f:
        for k, v in {"format": "twinsim-history", "format_version": "1.0", "twinsim_version": "0.1.0",
                     "created": "2026-12-07T00:00:00.0000000Z", "source": "bench/compare_calibrate.py"}.items():
            f.attrs[k] = v

        def table(name, size, columns):
            g = f.create_group(name)
            g.create_dataset("row", data=np.arange(size, dtype=np.int64))
            for key, (dtype, values) in columns.items():
                g.create_dataset(key, data=np.array(list(values), dtype=object) if dtype is text
                                 else np.asarray(values, dtype=dtype), dtype=dtype)

        s = lambda values: (text, values)  # noqa: E731
        table("property_updates", n, {
            "time": (np.float64, t_ns / 1e9), "time_ns": (np.int64, t_ns),
            "source_time": (np.float64, np.full(n, np.nan)), "source_time_ns": (np.int64, np.full(n, np.iinfo(np.int64).min)),
            "id": s(r[1] for r in rows), "model_id": s(ROOM for _ in rows), "key": s(r[2] for r in rows),
            "value": s(json.dumps(r[3]) for r in rows), "value_number": (np.float64, [r[3] for r in rows]),
            "unit": s("" for _ in rows), "relationship_id": s("" for _ in rows),
            "relationship_target": s("" for _ in rows), "action": s("Update" for _ in rows),
            "sequence": (np.uint64, np.arange(n))})
        table("twin_lifecycle", 0, {"time": (np.float64, []), "time_ns": (np.int64, []), "twin_id": s([]),
                                    "action": s([]), "model_id": s([]), "sequence": (np.uint64, [])})
        table("relationship_lifecycle", 0, {"time": (np.float64, []), "time_ns": (np.int64, []), "relationship_id": s([]),
                                            "name": s([]), "action": s([]), "source": s([]), "target": s([]),
                                            "sequence": (np.uint64, [])})
        table("telemetry", 0, {"time": (np.float64, []), "time_ns": (np.int64, []), "source_time": (np.float64, []),
                               "source_time_ns": (np.int64, []), "id": s([]), "model_id": s([]), "key": s([]),
                               "value": s([]), "value_number": (np.float64, []), "unit": s([])})


def peer_problem(rooms_fit, recorded_rows, days):
    """The peer's input: the same network (thermal_zones' defaults on the sample building) and records."""
    twins, rels = {}, []
    for line in open(SOURCE / "scenarios" / "building" / "building.ndjson"):
        j = json.loads(line)
        if "$relationshipId" in j:
            rels.append(j)
        elif "$dtId" in j:
            twins[j["$dtId"]] = j
    rooms = sorted(t for t, j in twins.items() if j.get("$metadata", {}).get("$model") == ROOM)
    parent = {r["$dtId"]: r["$targetId"] for r in rels if r["$relationshipName"] == "isPartOf"}

    def level(t):
        while t in parent:
            t = parent[t]
            if twins[t]["$metadata"]["$model"] == "dtmi:twinsim:building:Level;1":
                return t
        return t

    idx = {r: i for i, r in enumerate(rooms)}
    by_level = {}
    for r in rooms:
        by_level.setdefault(level(r), []).append(r)
    pairs = [[idx[a], idx[b]] for ms in by_level.values() for a, b in zip(sorted(ms), sorted(ms)[1:])]
    steps, dt = int(round(days * 288)), 300.0
    hour = (np.arange(steps) + 0.5) * dt / 3600.0 % 24.0
    outdoor = 27 + 7 * np.cos(2 * math.pi * (hour - 15) / 24)
    solar = np.where((hour > 6) & (hour < 20), np.sin(math.pi * (hour - 6) / 14), 0.0) * 25
    gains = [(twins[r].get("occupancy", 0) * 75 + twins[r].get("lightingPower", 0) + twins[r].get("equipmentHeatGain", 0)
              + solar * twins[r]["area"]).tolist() for r in rooms]
    rec = np.full((len(rooms), steps + 1), np.nan)
    cool = np.full((len(rooms), steps), np.nan)
    for t, room, key, value in recorded_rows:
        k = int(round(t / dt))
        if key == "temperature":
            rec[idx[room], k] = value
        else:
            cool[idx[room], k - 1] = value
    return {"step": dt, "area": [twins[r]["area"] for r in rooms],
            "volume": [twins[r].get("airVolume", 2.8 * twins[r]["area"]) for r in rooms],
            "air_heat_capacity": [1206.0] * len(rooms), "mass_capacity": [100000.0] * len(rooms),
            "air_mass_conductance": [22.75] * len(rooms), "ua_per_area": [1.5] * len(rooms), "adjacent": pairs,
            "adjacent_conductance": 20.0, "radiant_fraction": 0.5, "outdoor": outdoor.tolist(), "gains": gains,
            "cooling": cool.tolist(), "recorded": rec.tolist(), "fitted": [idx[r] for r in rooms_fit],
            "initial": [1.5] * len(rooms_fit), "lower": [0.15] * len(rooms_fit), "upper": [15.0] * len(rooms_fit),
            "groups": [[idx[m] for m in ms] for ms in by_level.values()]}


def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="two days, one round")
    args = parser.parse_args()
    if args.smoke:
        args.days, args.rounds = 2.0, 1
    load_before = open("/proc/loadavg").read().strip()
    rng = random.Random(7)
    rooms_fit = [f"room-0{lv}-{k:02d}" for lv in range(5) for k in range(1, 11)]
    hidden = {r: rng.uniform(0.8, 2.6) for r in rooms_fit}
    folder = pathlib.Path(tempfile.mkdtemp(prefix="twinsim-compare-calibrate-"))
    try:
        shutil.copy(SOURCE / "scenarios" / "building" / "building.ndjson", folder / "building.ndjson")
        run = twinsim.Run(twinsim.Scenario.from_dict(
            scenario(args.days, {r: {"ua_per_area": u} for r, u in hidden.items()}), directory=folder))
        rooms = [t["$dtId"] for t in run.query_twins(f"SELECT * FROM digitaltwins T WHERE IS_OF_MODEL(T, '{ROOM}')")]
        noise = np.random.default_rng(42)
        rows = []
        for k in range(int(round(args.days * 288)) + 1):
            if k:
                run.advance_to(300.0 * k)
            for r in rooms:
                twin = run.get_digital_twin(r)
                rows.append((300.0 * k, r, "temperature", twin["temperature"] + float(noise.normal(0, 0.1))))
                if k:
                    rows.append((300.0 * k, r, "coolingPower", twin["coolingPower"]))
        write_history(folder / "history.h5", rows)
        (folder / "scenario.json").write_text(json.dumps(scenario(args.days)))
        (folder / "problem.json").write_text(json.dumps(peer_problem(rooms_fit, rows, args.days)))
        fit = [f"ua_per_area@room-0{lv}-*=0.15:15" for lv in range(5)]
        ours, theirs = [], []
        for _ in range(args.rounds):
            c0 = cpu()
            out = twinsim.calibrate(folder / "history.h5", scenario=folder / "scenario.json", fit=fit)
            ours.append({"fit_seconds": out["fit"]["seconds"], "cpu_seconds_with_reading": cpu() - c0,
                         "values": {p["zone"]: p["value"] for p in out["fit"]["parameters"]},
                         "iterations": out["fit"]["iterations"], "residuals": out["fit"]["residuals"]})
            # One BLAS thread: the peer's products are 122 x 122, where threads only add synchronisation
            # (measured faster on this machine); set TWINSIM_PEER_THREADS to change it.
            env = dict(os.environ)
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[name] = os.environ.get("TWINSIM_PEER_THREADS", "1")
            done = subprocess.run([sys.executable, os.fspath(SOURCE / "bench" / "calibrate_scipy.py"),
                                   os.fspath(folder / "problem.json")], capture_output=True, text=True, check=True,
                                  env=env)
            theirs.append(json.loads(done.stdout))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    tw = ours[-1]["values"]
    peer = dict(zip(rooms_fit, theirs[-1]["values"]))
    worst = lambda values: max(abs(values[r] - hidden[r]) / hidden[r] for r in rooms_fit)  # noqa: E731
    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(json.dumps({
        "benchmark": "compare_calibrate", "parameters": len(rooms_fit), "days": args.days,
        "residuals": ours[-1]["residuals"], "rounds": args.rounds,
        "machine": {"cpu": cpu_model, "cores": os.cpu_count(), "loadavg_before": load_before,
                    "loadavg_after": open("/proc/loadavg").read().strip()},
        "twinsim": {"fit_seconds_median": statistics.median(o["fit_seconds"] for o in ours),
                    "process_cpu_seconds_median_incl_reading": statistics.median(o["cpu_seconds_with_reading"] for o in ours),
                    "iterations": ours[-1]["iterations"], "max_relative_error_vs_hidden": worst(tw)},
        "scipy": {"what": theirs[-1]["peer"], "seconds_median": statistics.median(t["seconds"] for t in theirs),
                  "cpu_seconds_median": statistics.median(t["cpu_seconds"] for t in theirs),
                  "function_evaluations": theirs[-1]["function_evaluations"],
                  "max_relative_error_vs_hidden": worst(peer)},
        "max_relative_difference": max(abs(tw[r] - peer[r]) / peer[r] for r in rooms_fit),
        "target": {"what": "50 parameters, two weeks of 5-minute data, under 60 s on two cores",
                   "met": (statistics.median(o["fit_seconds"] for o in ours) < 60.0) if args.days >= 14 else None}},
        indent=1))


if __name__ == "__main__":
    main()
