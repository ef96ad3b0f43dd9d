#!/usr/bin/env python3
"""Writes the sample plant (plant.ndjson), next quarter's demand (demand-2026q4.csv) and
the shift calendar of its scenarios (shifts.yaml, pasted into the scenario files).

    python3 scenarios/production/generate.py     # from the repository root; deterministic

Three lines (machining, assembly, gears) of 30 stations, four products, shared
operator pools (machinists, assemblers, inspectors) and a tool pool (welding
fixtures), two shifts a working day. The numbers are made up but plausible: the
assembly line's paint booth and the gear line's heat treatment are the bottlenecks
at the default staffing, so the capacity sweep has something to find.
"""
import csv
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
P = "dtmi:twinsim:production:"

PRODUCTS = ["bracket", "housing", "shaft", "gear"]
POOLS = {  # id: (size per shift, kind)
    "machinists": (9, "operators"),
    "assemblers": (7, "operators"),
    "inspectors": (3, "operators"),
    "fixtures": (2, "tools"),
}
# Each line: a source, its products with shares, and its stations in order:
# (id, machines, buffer, {product: (distribution, mean s, cv, setup s)} or default, pool, batch)
LINES = {
    "a": {"name": "machining", "products": {"bracket": 3, "housing": 1}, "stations": [
        ("a-saw", 1, 10, ("lognormal", 150, 0.3), "machinists", 1),
        ("a-mill-1", 2, 6, {"bracket": ("lognormal", 420, 0.25, 600), "housing": ("lognormal", 600, 0.25, 900)}, "machinists", 1),
        ("a-mill-2", 2, 6, {"bracket": ("lognormal", 360, 0.25, 600), "housing": ("lognormal", 540, 0.25, 900)}, "machinists", 1),
        ("a-drill", 1, 6, ("gamma", 200, 0.4), "machinists", 1),
        ("a-tap", 1, 6, ("gamma", 180, 0.4), None, 1),
        ("a-deburr", 1, 6, ("uniform", 160, 0.3), None, 1),
        ("a-wash", 1, 12, ("deterministic", 1200, 0.0), None, 8),
        ("a-inspect", 1, 8, ("exponential", 180, 1.0), "inspectors", 1),
        ("a-rework", 1, -1, ("exponential", 900, 1.0), "machinists", 1),
        ("a-pack", 1, 10, ("deterministic", 90, 0.0), None, 1),
    ]},
    "b": {"name": "assembly", "products": {"housing": 2, "bracket": 1}, "stations": [
        ("b-kit", 1, 10, ("lognormal", 180, 0.3), "assemblers", 1),
        ("b-press", 1, 6, ("lognormal", 240, 0.2), None, 1),
        ("b-weld-1", 1, 4, ("lognormal", 480, 0.3), "fixtures", 1),
        ("b-weld-2", 1, 4, ("lognormal", 480, 0.3), "fixtures", 1),
        ("b-grind", 1, 6, ("gamma", 300, 0.5), "assemblers", 1),
        ("b-paint", 1, 8, {"housing": ("lognormal", 420, 0.2, 1200), "bracket": ("lognormal", 300, 0.2, 1200)}, None, 1),
        ("b-cure", 1, 12, ("deterministic", 2400, 0.0), None, 6),
        ("b-assemble", 2, 6, ("lognormal", 600, 0.3), "assemblers", 1),
        ("b-test", 1, 6, ("exponential", 240, 1.0), "inspectors", 1),
        ("b-pack", 1, 10, ("deterministic", 120, 0.0), None, 1),
    ]},
    "c": {"name": "gears", "products": {"gear": 3, "shaft": 2}, "stations": [
        ("c-cut", 1, 10, ("lognormal", 120, 0.3), None, 1),
        ("c-turn-1", 1, 6, {"gear": ("lognormal", 360, 0.2, 1800), "shaft": ("lognormal", 300, 0.2, 1800)}, "machinists", 1),
        ("c-turn-2", 1, 6, {"gear": ("lognormal", 360, 0.2, 1800), "shaft": ("lognormal", 300, 0.2, 1800)}, "machinists", 1),
        ("c-hob", 1, 6, ("lognormal", 540, 0.25), "machinists", 1),
        ("c-mill", 1, 6, ("lognormal", 420, 0.25), "machinists", 1),
        ("c-heat", 1, 20, ("deterministic", 7200, 0.0), None, 10),
        ("c-grind", 2, 6, ("gamma", 600, 0.4), "machinists", 1),
        ("c-inspect", 1, 8, ("exponential", 200, 1.0), "inspectors", 1),
        ("c-rework", 1, -1, ("exponential", 1200, 1.0), "machinists", 1),
        ("c-pack", 1, 10, ("deterministic", 90, 0.0), None, 1),
    ]},
}


def twin(out, dt_id, interface, **props):
    out.append({"$dtId": dt_id, "$metadata": {"$model": P + interface + ";1"}, **props})


def plant():
    twins, rels = [], []
    n = 0

    def rel(src, name, dst, **props):
        nonlocal n
        n += 1
        rels.append({"$dtId": src, "$relationshipId": f"{name}-{n}", "$targetId": dst, "$relationshipName": name, **props})

    twin(twins, "plant", "Plant", name="Sample plant")
    for p in PRODUCTS:
        twin(twins, p, "Product", name=p)
        rel(p, "isPartOf", "plant")
    for pool, (size, kind) in POOLS.items():
        twin(twins, pool, "ResourcePool", size=size, onShift=1.0, kind=kind)
        rel(pool, "isPartOf", "plant")
    for key, line in LINES.items():
        src = f"orders-{key}"
        twin(twins, src, "OrderSource", name=f"{line['name']} orders", arrivalDistribution="none")
        rel(src, "isPartOf", "plant")
        for product, share in line["products"].items():
            rel(src, "releases", product, share=float(share))
        sink = f"{key}-shipping"
        twin(twins, sink, "Sink", name=f"{line['name']} shipping")
        rel(sink, "isPartOf", "plant")
        stations = line["stations"]
        main = [s for s in stations if not s[0].endswith("-rework")]
        for sid, machines, buffer, times, pool, batch in stations:
            props = {"machines": machines, "bufferCapacity": buffer, "batchSize": batch, "available": 1.0}
            if isinstance(times, tuple):
                dist, mean, cv = times
                props.update(processDistribution=dist, meanProcessTime=float(mean), processCv=float(cv))
            twin(twins, sid, "Station", **props)
            rel(sid, "isPartOf", "plant")
            if isinstance(times, dict):
                for product, (dist, mean, cv, setup) in times.items():
                    rel(sid, "processes", product, distribution=dist, meanTime=float(mean), cv=float(cv),
                        setupTime=float(setup))
            if pool:
                rel(sid, "uses", pool)
        # Routing: the source feeds the first station; parallel pairs (-1/-2) split 1:1;
        # inspection sends 6 % to rework, which returns to inspection.
        groups = []
        for s in main:
            base = s[0].rsplit("-", 1)[0] if s[0][-2:] in ("-1", "-2") else s[0]
            if groups and groups[-1][0] == base:
                groups[-1][1].append(s[0])
            else:
                groups.append((base, [s[0]]))
        for target in groups[0][1]:
            rel(src, "feeds", target, probability=1.0)
        for (_, here), (_, there) in zip(groups, groups[1:]):
            for a in here:
                for b in there:
                    if a.endswith("-inspect") or a.endswith("-test"):
                        rel(a, "feeds", b, probability=0.94)
                    else:
                        rel(a, "feeds", b, probability=1.0)
        for a in groups[-1][1]:
            rel(a, "feeds", sink)
        rework = [s[0] for s in stations if s[0].endswith("-rework")]
        inspect = [s[0] for s in main if s[0].endswith("-inspect") or s[0].endswith("-test")]
        for r in rework:
            rel(inspect[0], "feeds", r, probability=0.06)
            rel(r, "feeds", inspect[0])
    return twins, rels


def write_plant():
    models = json.loads((HERE.parent.parent / "models" / "production" / "production.json").read_text())
    twins, rels = plant()
    with open(HERE / "plant.ndjson", "w") as f:
        f.write(json.dumps({"Section": "Header"}) + "\n")
        f.write(json.dumps({"fileVersion": "1.0.0", "author": "twinsim", "organization": "twinsim"}) + "\n")
        f.write(json.dumps({"Section": "Models"}) + "\n")
        for m in models:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
        f.write(json.dumps({"Section": "Twins"}) + "\n")
        for t in twins:
            f.write(json.dumps(t) + "\n")
        f.write(json.dumps({"Section": "Relationships"}) + "\n")
        for r in rels:
            f.write(json.dumps(r) + "\n")
    return len([t for t in twins if t["$metadata"]["$model"] == P + "Station;1"])


START = datetime(2026, 10, 1, tzinfo=timezone.utc)
DAYS = 92  # 1 October to 31 December


def write_demand():
    """Orders for each working day (Monday to Friday), released at 06:00 UTC, due five
    working days later at 22:00; a few rush orders due in two days."""
    rng = random.Random(2026)
    daily = {"a": {"bracket": (9, 12), "housing": (3, 10)},  # orders per day, parts per order
             "b": {"housing": (6, 8), "bracket": (3, 8)},
             "c": {"gear": (4, 20), "shaft": (3, 16)}}
    rows = []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for key, products in daily.items():
            for product, (orders, size) in products.items():
                for _ in range(orders):
                    release = day + timedelta(hours=6, minutes=rng.randrange(0, 8 * 60, 5))
                    rush = rng.random() < 0.1
                    due_days, k = (2 if rush else 5), 0
                    due = day
                    while k < due_days:
                        due += timedelta(days=1)
                        if due.weekday() < 5:
                            k += 1
                    due = due + timedelta(hours=22)
                    qty = max(1, round(rng.gauss(size, size * 0.3)))
                    rows.append((release, f"orders-{key}", product, qty, due))
    rows.sort(key=lambda r: r[0])
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    with open(HERE / "demand-2026q4.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["release", "source", "product", "quantity", "due"])
        for release, src, product, qty, due in rows:
            w.writerow([release.strftime(fmt), src, product, qty, due.strftime(fmt)])
    return len(rows), sum(r[3] for r in rows)


def shift_values():
    """onShift of every pool: the early shift 06:00-14:00 at full strength, the late
    shift 14:00-22:00 at 70 %, nobody at night and at weekends."""
    values = [[0, 0.0]]
    for d in range(DAYS):
        day = d * 86400
        if (START + timedelta(days=d)).weekday() < 5:
            values += [[day + 6 * 3600, 1.0], [day + 14 * 3600, 0.7], [day + 22 * 3600, 0.0]]
    return values


SCENARIO_HEAD = """\
# {title}
# Written by generate.py (the shift calendar is generated); edit generate.py, not this file.
name: {name}
description: >
{description}
base: plant.ndjson
start: "2026-10-01T00:00:00Z"
horizon: P92D
replications: {replications}
seed: 2026
"""

BEHAVIOURS = """\
behaviours:
  # The line: orders from next quarter's demand file, KPIs written daily.
  - model: production_line
    parameters: {{demand: demand-2026q4.csv, report_interval: P1D}}
  # Each station fails about every 60 hours (exponential) and takes an hour on average to repair.
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:production:Station;1')"
    parameters: {{capacity_property: available, mtbf: PT60H, repair_time: PT1H, repair_distribution: exponential}}
  # Two shifts on working days: 06:00-14:00 at full strength, 14:00-22:00 at 70 %.
  - model: schedule
    where: "IS_OF_MODEL('dtmi:twinsim:production:ResourcePool;1')"
    parameters:
      property: onShift
      values: {shifts}
"""

KPIS = """\
recording:
  series:
    - where: "$dtId = 'plant'"
      properties: [throughput, wip, serviceLevel]
      interval: P1D
  events: true
kpis:
  - {{name: throughput, statistic: final, where: "$dtId = 'plant'", property: throughput}}
  - {{name: service level, statistic: final, where: "$dtId = 'plant'", property: serviceLevel}}
  - {{name: orders late, statistic: final, where: "$dtId = 'plant'", property: ordersLate}}
  - {{name: cycle time, statistic: final, where: "$dtId = 'plant'", property: meanCycleTimeHours}}
  - {{name: work in process, statistic: final, where: "$dtId = 'plant'", property: meanWip}}
  - {{name: utilisation, statistic: final, where: "IS_OF_MODEL('dtmi:twinsim:production:Station;1')", property: utilisation, over: each}}
  - {{name: blocked, statistic: final, where: "IS_OF_MODEL('dtmi:twinsim:production:Station;1')", property: blockedFraction, over: each}}
  - {{name: starved, statistic: final, where: "IS_OF_MODEL('dtmi:twinsim:production:Station;1')", property: starvedFraction, over: each}}
  - {{name: operator utilisation, statistic: final, where: "IS_OF_MODEL('dtmi:twinsim:production:ResourcePool;1')", property: utilisation, over: each}}
  - {{name: failures, statistic: event_count, event: failure}}
"""

SWEEP = """\
parameters:
  machinists: 9
  assemblers: 7
  heat_ovens: 1
  buffer: 6
sweep:
  grid:
    machinists: [7, 9, 11]
    assemblers: [5, 7]
    heat_ovens: [1, 2]
    buffer: [3, 6]
overrides:
  - set: {size: "${machinists}"}
    where: "$dtId = 'machinists'"
  - set: {size: "${assemblers}"}
    where: "$dtId = 'assemblers'"
  - set: {machines: "${heat_ovens}"}
    where: "$dtId = 'c-heat'"
  - set: {bufferCapacity: "${buffer}"}
    where: "IS_OF_MODEL('dtmi:twinsim:production:Station;1') AND batchSize = 1 AND bufferCapacity >= 0"
"""


def write_scenarios():
    shifts = json.dumps(shift_values(), separators=(", ", ": "))
    (HERE / "plant-q4.yaml").write_text(
        SCENARIO_HEAD.format(title="Next quarter at the sample plant, as staffed and equipped today.", name="plant-q4",
                             description="  The sample plant's three lines work through the fourth quarter's orders\n"
                                         "  (demand-2026q4.csv) with random failures and two shifts; throughput,\n"
                                         "  service level, cycle time and where the line blocks or starves.",
                             replications=10)
        + BEHAVIOURS.format(shifts=shifts) + KPIS.format())
    (HERE / "capacity-sweep.yaml").write_text(
        SCENARIO_HEAD.format(title="How many machinists, assemblers, heat-treatment ovens and buffer places does next quarter need?",
                             name="capacity", description="  A grid over staffing, the gear line's heat treatment and the buffer\n"
                                                          "  sizes; 24 configurations, 5 replications each, common random numbers.",
                             replications=5)
        + SWEEP + BEHAVIOURS.format(shifts=shifts) + KPIS.format())


if __name__ == "__main__":
    stations = write_plant()
    orders, parts = write_demand()
    write_scenarios()

    print(f"plant.ndjson: {stations} stations; demand-2026q4.csv: {orders} orders, {parts} parts; plant-q4.yaml, capacity-sweep.yaml")
