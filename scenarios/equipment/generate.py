#!/usr/bin/env python3
"""Generate the equipment journey's data from C-MAPSS FD001 (data/, NASA; see data/SOURCE.md).

    scenarios/equipment/generate.py            # writes fd001-params.json and fleet.ndjson here
    scenarios/equipment/generate.py --readings readings.ndjson   # also the test engines' readings

- fd001-params.json: the prognostics model calibrated on the 100 training engines run to
  failure (data/train_FD001.txt.gz) alone — what `twinsim calibrate data/train_FD001.txt.gz
  -o fd001-params.json` writes (models/equipment/prognostics.md).
- fleet.ndjson: the 100 test engines (data/test_FD001.txt.gz, cut before failure) as a live
  fleet in the ADT import format: one dtmi:twinsim:equipment:TurbofanEngine;1 twin each
  (engine-001 ... engine-100 = test units 1 ... 100), carrying its last reading and the
  prognostic properties that live prognostics writes after its history (healthIndicator,
  rulMean, rulP05/P50/P95, rulQuantiles, failureProbability within 30 cycles), and 50
  AssetGroup twins (aircraft-01 ... aircraft-50), each fed by two engines.
- --readings FILE: every cycle of every test engine as one device message
  {"engine", "time", "cycle", "setting1".., "s1"..}, one hour per cycle, ending at
  2026-07-01T00:00:00Z; mapping.yaml maps them onto the engines' properties, so
  `twinsim ingest --store` records the fleet's history through the live layer and
  `twinsim prognostics` predicts from it (docs/prognostics.md).

Needs the twinsim Python package (PYTHONPATH=build/python). The same inputs give the same
bytes.
"""

import argparse
import datetime
import json
import os
import sys

import twinsim

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
ENGINE = "dtmi:twinsim:equipment:TurbofanEngine;1"
GROUP = "dtmi:twinsim:equipment:AssetGroup;1"
QUANTILES = [("q01", 0.01), ("q05", 0.05), ("q10", 0.10), ("q25", 0.25), ("q50", 0.50), ("q75", 0.75),
             ("q90", 0.90), ("q95", 0.95), ("q99", 0.99)]
END = datetime.datetime(2026, 7, 1, tzinfo=datetime.timezone.utc)


def engine_id(unit):
    return f"engine-{int(unit):03d}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=HERE, help="output folder (default: this one)")
    parser.add_argument("--readings", help="also write every test cycle as device messages (NDJSON)")
    parser.add_argument("--horizon", type=float, default=30.0, help="cycles of failureProbability")
    args = parser.parse_args()

    model = twinsim.calibrate(os.path.join(DATA, "train_FD001.txt.gz"), out=os.path.join(args.out, "fd001-params.json"))
    test = twinsim.HistorySet.read(os.path.join(DATA, "test_FD001.txt.gz"), failed=False)
    predictions = {d.unit: d for d in model.predict(test)}

    lines = [{"Section": "Header"},
             {"fileVersion": "1.0.0", "author": "twinsim scenarios/equipment/generate.py", "organization": "twinsim"},
             {"Section": "Twins"}]
    relationships = []
    for unit in test.units:
        rows = test.unit(unit)
        d = predictions[unit]
        twin = {"$dtId": engine_id(unit), "$metadata": {"$model": ENGINE}, "capacity": 1.0, "operatingState": "running"}
        for j, name in enumerate(test.setting_names):
            twin[name] = float(rows["settings"][-1, j])
        for j, name in enumerate(test.sensor_names):
            twin[name] = float(rows["sensors"][-1, j])
        twin.update({
            "cycle": d.cycle, "healthIndicator": round(d.health, 6), "rulMean": round(d.mean, 6),
            "rulP05": d.quantile(0.05), "rulP50": d.quantile(0.5), "rulP95": d.quantile(0.95),
            "rulQuantiles": {name: d.quantile(p) for name, p in QUANTILES},
            "failureHorizon": args.horizon, "failureProbability": round(d.probability_within(args.horizon), 6),
            "prognosticsReadings": len(rows["cycles"]),
        })
        lines.append(twin)
        aircraft = f"aircraft-{(int(unit) + 1) // 2:02d}"
        relationships.append({"$dtId": engine_id(unit), "$relationshipId": "feeds-1", "$targetId": aircraft,
                              "$relationshipName": "feeds"})
    for a in range(1, len(test.units) // 2 + 1):
        lines.append({"$dtId": f"aircraft-{a:02d}", "$metadata": {"$model": GROUP}, "capacity": 1.0, "available": True})
    lines.append({"Section": "Relationships"})
    lines.extend(relationships)
    with open(os.path.join(args.out, "fleet.ndjson"), "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")

    if args.readings:
        with open(args.readings, "w", encoding="utf-8") as f:
            for unit in test.units:
                rows = test.unit(unit)
                n = len(rows["cycles"])
                for k in range(n):
                    when = END - datetime.timedelta(hours=n - 1 - k)
                    message = {"engine": engine_id(unit), "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "cycle": float(rows["cycles"][k])}
                    for j, name in enumerate(test.setting_names):
                        message[name] = float(rows["settings"][k, j])
                    for j, name in enumerate(test.sensor_names):
                        message[name] = float(rows["sensors"][k, j])
                    f.write(json.dumps(message, separators=(",", ":")) + "\n")
    print(f"calibrated on {model.training['units']} engines in {model.training['seconds']:.2f} s; "
          f"wrote fd001-params.json and fleet.ndjson ({len(test.units)} engines)", file=sys.stderr)


if __name__ == "__main__":
    main()
