#!/usr/bin/env python3
"""Writes scenarios/equipment/maintenance_fleet.ndjson: a fleet of pumps under maintenance.

Four stations, each fed by 25 pumps (dtmi:twinsim:equipment:MaintainedUnit;1, models in
models/equipment). Each pump has a load (fraction of rating), an operating temperature and an
age at the start, drawn from a fixed seed, so the file is the same on every run of this script.
The maintenance scenarios give the pumps a Weibull accelerated-failure-time life in load and
temperature (models/equipment/maintenance.md). The output is NDJSON in the ADT import-job
format (Header, Twins, Relationships).

    python3 scenarios/equipment/generate_maintenance_fleet.py [--stations 4] [--pumps 25] [-o FILE]
"""

import argparse
import json
import pathlib
import random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--pumps", type=int, default=25, help="pumps per station")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("-o", "--output", type=pathlib.Path,
                        default=pathlib.Path(__file__).with_name("maintenance_fleet.ndjson"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    twins, relationships = [], []
    for s in range(1, args.stations + 1):
        station = f"station-{s}"
        twins.append({"$dtId": station, "$metadata": {"$model": "dtmi:twinsim:equipment:Station;1"},
                      "name": f"Pumping station {s}", "capacity": float(args.pumps),
                      "demand": float(args.pumps - 2)})
        for p in range(1, args.pumps + 1):
            pump = f"pump-{s}-{p:02d}"
            twins.append({"$dtId": pump, "$metadata": {"$model": "dtmi:twinsim:equipment:MaintainedUnit;1"},
                          "capacity": 1.0,
                          "load": round(rng.uniform(0.4, 1.1), 3),
                          "temperature": round(rng.uniform(20.0, 45.0), 1),
                          "ageHours": round(rng.uniform(0.0, 4000.0), 1)})
            relationships.append({"$dtId": pump, "$relationshipId": f"feeds-{pump}", "$targetId": station,
                                  "$relationshipName": "feeds"})
    with args.output.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"Section": "Header"}) + "\n")
        out.write(json.dumps({"fileVersion": "1.0.0", "author": "twinsim scenarios/equipment/generate_maintenance_fleet.py",
                              "organization": "twinsim"}) + "\n")
        out.write(json.dumps({"Section": "Twins"}) + "\n")
        for t in twins:
            out.write(json.dumps(t) + "\n")
        out.write(json.dumps({"Section": "Relationships"}) + "\n")
        for r in relationships:
            out.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
