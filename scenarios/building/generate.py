#!/usr/bin/env python3
"""Generate an office building (or a campus of them) as an Azure Digital Twins import file.

The output is NDJSON in the ADT import-job format (Header, optional Models, Twins,
Relationships), using the DTDL v3 interfaces in models/building (dtmi:twinsim:building:*).
The same seed and options always give the same bytes, so the bundled sample
scenarios/building/building.ndjson is this script's default output:

    scenarios/building/generate.py -o scenarios/building/building.ndjson

Structure of one building (RealEstateCore-shaped):
    Building <-isPartOf- Level <-isPartOf- Zone (HVAC) <-isPartOf- Room
    every Room has a TemperatureSensor, a Co2Sensor and an OccupancySensor
        (Room -hasPoint-> sensor, sensor -isPointOf-> Room);
    every Level has an AirHandlingUnit (with a "filter" component) in a plant room of
        the ground level, with supply and return air TemperatureSensors; the AHU feeds
        the Zone (medium air), and the Zone and its Rooms are servedBy the AHU;
    the plant room isLocationOf the Chillers and Pumps (two pumps, duty and standby,
        per chiller); each Pump feeds its Chiller and each Chiller feeds a share of
        the AHUs (medium chilledWater).
Per building: 1 + levels * (4 + 4 * rooms_per_level) + 1 + 3 * chillers twins and about
twice as many relationships; about 7 numeric properties per twin (sensors carry a
sourceTime on their measurement).

Options (all optional):
    --floors N            levels per building (default 6)
    --rooms-per-floor N   rooms per level (default 10)
    --buildings N         buildings on the campus (default 1); ids are prefixed "b0001-"...
                          when N > 1
    --twins N             size for benchmarks: about N twins (and about 2N relationships)
                          as a campus of 20-level buildings with 50 rooms per level;
                          overrides --floors, --rooms-per-floor and --buildings
    --seed N              random seed for property values (default 1)
    --embed-models DIR    also write a Models section holding every interface of the
                          DTDL files in DIR (e.g. models/building), one per line, so the
                          file loads without --models
    -o, --output FILE     write there instead of standard output

For example, the 1,000,000-twin benchmark graph with its models inside:
    scenarios/building/generate.py --twins 1000000 --embed-models models/building -o big.ndjson
    twinsim import big.ndjson
and the sample as the README loads it:
    twinsim import --models models/building scenarios/building/building.ndjson

Python standard library only.
"""

import argparse
import json
import pathlib
import random
import sys

NS = "dtmi:twinsim:building:"
BIG_FLOORS = 20
BIG_ROOMS = 50
ROOM_USAGES = ["office"] * 6 + ["meeting"] * 2 + ["kitchen", "storage"]
MANUFACTURERS = ["Carrier", "Trane", "Daikin", "Grundfos", "Siemens", "Honeywell"]


def model(name):
    return f"{NS}{name};1"


class Writer:
    def __init__(self, out, seed):
        self.out = out
        self.random = random.Random(seed)
        # Two passes over the same seed write the Twins and then the Relationships
        # section, so nothing but one building's counters is held in memory.
        self.writing_twins = True
        self.relationship_counter = {}

    def line(self, value):
        self.out.write(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        self.out.write("\n")

    def value(self, low, high, digits=2):
        return round(self.random.uniform(low, high), digits)

    def date(self, first_year=2012, last_year=2024):
        return f"{self.random.randint(first_year, last_year)}-{self.random.randint(1, 12):02d}-{self.random.randint(1, 28):02d}"

    def source_time(self):
        # A recent reading: 2026-07-01 between 08:00 and 08:59 UTC.
        return f"2026-07-01T08:{self.random.randint(0, 59):02d}:{self.random.randint(0, 59):02d}Z"

    def twin(self, twin_id, interface, properties, metadata=None):
        twin = {"$dtId": twin_id, "$metadata": {"$model": model(interface), **(metadata or {})}}
        twin.update(properties)
        if self.writing_twins:
            self.line(twin)

    def relate(self, source, name, target, **properties):
        n = self.relationship_counter.get((source, name), 0) + 1
        self.relationship_counter[(source, name)] = n
        relationship = {"$dtId": source, "$relationshipId": f"{name}-{n}", "$targetId": target, "$relationshipName": name}
        relationship.update(properties)
        if not self.writing_twins:
            self.line(relationship)

    def equipment(self, serial):
        return {
            "manufacturer": self.random.choice(MANUFACTURERS),
            "serialNumber": serial,
            "installedOn": self.date(),
            "operatingState": "running",
            "runHours": self.value(1000, 60000, 1),
        }

    def sensor(self, twin_id, interface, name, measurement, reading, host, low, high, accuracy):
        properties = {
            "name": name,
            "serialNumber": f"S{self.random.randint(100000, 999999)}",
            "installedOn": self.date(2018),
            "status": "ok",
            "accuracy": accuracy,
            "minValue": low,
            "maxValue": high,
            "samplingInterval": self.random.choice([30.0, 60.0, 300.0]),
            "batteryLevel": self.value(20, 100, 1),
            measurement: reading,
        }
        self.twin(twin_id, interface, properties, {measurement: {"sourceTime": self.source_time()}})
        self.relate(host, "hasPoint", twin_id)
        self.relate(twin_id, "isPointOf", host)


def building(w, prefix, number, floors, rooms_per_floor):
    b = f"{prefix}building"
    w.twin(b, "Building", {
        "name": f"Office building {number}",
        "area": float(floors * rooms_per_floor * 30 + floors * 120),
        "address": {"street": f"{number} Harbour Street", "city": "Rotterdam", "postcode": "3011 AA", "country": "NL"},
        "yearOfConstruction": 1990 + number % 30,
    })
    levels = [f"{prefix}level-{f:02d}" for f in range(floors)]
    for f, level in enumerate(levels):
        w.twin(level, "Level", {"name": f"Level {f}", "area": float(rooms_per_floor * 30 + 120),
                                "levelNumber": f, "ceilingHeight": 3.2 if f == 0 else 2.8})
        w.relate(level, "isPartOf", b)

    plant = f"{prefix}room-plant"
    w.twin(plant, "Room", {"name": "Plant room", "area": 120.0, "usage": "plant", "capacity": 0, "airVolume": 384.0,
                           "temperature": w.value(24, 28), "temperatureSetpoint": 26.0, "occupancy": 0,
                           "lightingPower": 240.0, "equipmentHeatGain": 4000.0})
    w.relate(plant, "isPartOf", levels[0])

    chillers = [f"{prefix}chiller-{c + 1}" for c in range(max(2, (floors + 9) // 10))]
    for c, chiller in enumerate(chillers):
        w.twin(chiller, "Chiller", {
            **w.equipment(f"CH-{number}-{c + 1}"),
            "ratedPower": 90.0, "coolingCapacity": 400.0, "coefficientOfPerformance": w.value(4.5, 5.8),
            "chilledWaterSupplyTemperature": w.value(6, 7.5), "chilledWaterSetpoint": 6.5,
        })
        w.relate(plant, "isLocationOf", chiller)
        for role, priority in (("duty", 1), ("standby", 2)):
            pump = f"{prefix}pump-{c + 1}-{role}"
            w.twin(pump, "Pump", {
                **w.equipment(f"PU-{number}-{c + 1}{role[0]}"),
                "operatingState": "running" if priority == 1 else "standby",
                # A standby pump delivers no flow until it is started (its
                # value is still drawn, so the other values do not move).
                "ratedPower": 7.5, "flowRate": w.value(15, 20) if priority == 1 else (w.value(15, 20), 0.0)[1],
                "head": w.value(18, 25),
                "speed": 1450.0 if priority == 1 else 0.0, "efficiency": w.value(0.6, 0.8),
            })
            w.relate(plant, "isLocationOf", pump)
            w.relate(pump, "feeds", chiller, medium="chilledWater", priority=priority)

    for f, level in enumerate(levels):
        ahu = f"{prefix}ahu-{f:02d}"
        w.twin(ahu, "AirHandlingUnit", {
            **w.equipment(f"AHU-{number}-{f:02d}"),
            "ratedPower": 15.0, "supplyAirflow": w.value(2, 4), "supplyAirTemperatureSetpoint": 16.0,
            "fanSpeed": w.value(900, 1400, 0),
            "filter": {"$metadata": {}, "pressureDrop": w.value(80, 250, 1), "replacedOn": w.date(2024, 2025)},
        })
        w.relate(plant, "isLocationOf", ahu)
        w.relate(chillers[f % len(chillers)], "feeds", ahu, medium="chilledWater", priority=1)
        for side, value in (("supply", w.value(15, 17)), ("return", w.value(22, 25))):
            w.sensor(f"{ahu}-{side}-air-temperature", "TemperatureSensor", f"{side} air temperature", "temperature",
                     value, ahu, -20.0, 60.0, 0.2)

        zone = f"{prefix}zone-{f:02d}"
        w.twin(zone, "Zone", {"name": f"HVAC zone, level {f}", "area": float(rooms_per_floor * 30), "zoneType": "hvac"})
        w.relate(zone, "isPartOf", level)
        w.relate(ahu, "feeds", zone, medium="air", priority=1)
        w.relate(zone, "servedBy", ahu)

        for r in range(1, rooms_per_floor + 1):
            room = f"{prefix}room-{f:02d}-{r:02d}"
            usage = ROOM_USAGES[(r - 1) % len(ROOM_USAGES)]
            area = w.value(12, 48, 1)
            capacity = 0 if usage == "storage" else max(1, int(area // 8))
            occupancy = w.random.randint(0, capacity)
            w.twin(room, "Room", {
                "name": f"Room {f}.{r:02d}", "area": area, "usage": usage, "capacity": capacity,
                "airVolume": round(area * 2.8, 1), "temperature": w.value(20, 25), "temperatureSetpoint": 22.0,
                "occupancy": occupancy, "lightingPower": round(area * 8, 1),
                "equipmentHeatGain": round(area * (40 if usage == "kitchen" else 12), 1),
            })
            w.relate(room, "isPartOf", zone)
            w.relate(room, "servedBy", ahu)
            w.sensor(f"{room}-temperature", "TemperatureSensor", "room temperature", "temperature",
                     w.value(20, 25), room, -10.0, 50.0, 0.3)
            w.sensor(f"{room}-co2", "Co2Sensor", "room CO2", "co2Concentration",
                     w.value(420, 1100, 0), room, 0.0, 5000.0, 30.0)
            w.sensor(f"{room}-occupancy", "OccupancySensor", "room occupancy", "peopleCount",
                     occupancy, room, 0.0, 50.0, 1.0)


def interfaces_of(folder):
    """Every interface of the DTDL files under `folder`, in sorted file order."""
    result = []
    for path in sorted(pathlib.Path(folder).rglob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        result.extend(document if isinstance(document, list) else [document])
    return result


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--floors", type=int, default=6)
    parser.add_argument("--rooms-per-floor", type=int, default=10)
    parser.add_argument("--buildings", type=int, default=1)
    parser.add_argument("--twins", type=int, help="about this many twins (benchmark campus)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--embed-models", metavar="DIR")
    parser.add_argument("-o", "--output", metavar="FILE")
    args = parser.parse_args(argv)
    if args.twins is not None:
        if args.twins < 1:
            parser.error("--twins must be positive")
        per_building = twins_per_building(BIG_FLOORS, BIG_ROOMS)
        args.floors, args.rooms_per_floor = BIG_FLOORS, BIG_ROOMS
        args.buildings = max(1, round(args.twins / per_building))
    for name in ("floors", "rooms_per_floor", "buildings"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def twins_per_building(floors, rooms_per_floor):
    chillers = max(2, (floors + 9) // 10)
    return 1 + floors * (5 + 4 * rooms_per_floor) + 1 + 3 * chillers


def generate(out, args):
    w = Writer(out, args.seed)
    w.line({"Section": "Header"})
    w.line({"fileVersion": "1.0.0", "author": "twinsim scenarios/building/generate.py", "organization": "twinsim"})
    if args.embed_models:
        w.line({"Section": "Models"})
        for interface in interfaces_of(args.embed_models):
            w.line(interface)
    for section, writing_twins in (("Twins", True), ("Relationships", False)):
        w.line({"Section": section})
        w.random.seed(args.seed)
        w.writing_twins = writing_twins
        for number in range(1, args.buildings + 1):
            w.relationship_counter.clear()
            prefix = f"b{number:04d}-" if args.buildings > 1 else ""
            building(w, prefix, number, args.floors, args.rooms_per_floor)


def main(argv=None):
    args = parse_arguments(argv)
    if args.output:
        path = pathlib.Path(args.output)
        temporary = path.with_name(path.name + ".partial")
        with open(temporary, "w", encoding="utf-8", newline="\n") as out:
            generate(out, args)
        temporary.replace(path)
    else:
        generate(sys.stdout, args)


if __name__ == "__main__":
    main()
