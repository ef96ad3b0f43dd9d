#!/usr/bin/env python3
"""The peer of `twinsim-bench building`: the same zones as a plain vectorised NumPy
explicit RC-network loop (its fastest idiomatic form: whole arrays of rooms, no Python
loop over rooms, neighbours as slices of a level-ordered array, in-place ufuncs).

The zones are the bench's: the bundled building (scenarios/building/building.ndjson,
61 rooms) copied until there are N rooms, rooms beyond N left out (bench/
scaled_building.hpp's rule). Per room the network of models/building/thermal.md at
thermal_zones' defaults: an air node (1206 J/(m3.K) x airVolume) and a mass node
(100 kJ/(m2.K) x area), 1.5 W/(m2.K) x area to outdoors, 22.75 W/(m2.K) x area air to
mass, 20 W/K between consecutive rooms of a level (ordered by $dtId); gains
75 W x occupancy + lightingPower + equipmentHeatGain + 20 W/m2 x area x the half-sine
sun (06:00-20:00), half to the mass node; outdoor 26 + 6 cos(2 pi (h - 15) / 24) degC;
the bench's day (2026-07-01, UTC) at a 300 s step, inputs held at each step's midpoint.
A room served by an air-handling unit (as thermal_zones finds them) with a setpoint has
a proportional thermostat: cooling = clamp(100 W/m2 x area / 1 K x (T - (setpoint -
0.5 K)), 0, 100 W/m2 x area), evaluated on the current temperature (explicit). The plant
(chiller and pump capacity, the AHUs' air side) is not modelled: the much simpler loop.

Explicit (forward) Euler is stable only for sub-steps below 2 / (the largest rate of the
network, thermostat gain included: Gershgorin's bound); at 300 s the air nodes (time
constant about 130 s) and the thermostats' gain make it diverge or chatter, so the loop
takes the fewest equal sub-steps that are stable ("stable"). For reference it also times
one update per 300 s step ("one_update_per_step"): the same arithmetic, unstable on these
zones (its temperatures are meaningless; only its time is reported).

Prints one JSON object: for each variant the seconds and CPU seconds of the day (the
reading of the file and the set-up excluded), the sub-steps, and the peak room
temperature (max over rooms and steps).

    building_numpy.py [--zones 10000] [--ndjson scenarios/building/building.ndjson]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

ROOM = "dtmi:twinsim:building:Room;1"
LEVEL = "dtmi:twinsim:building:Level;1"
AHU = "dtmi:twinsim:building:AirHandlingUnit;1"

# thermal_zones' defaults and the bench's scenario (bench/building_benchmark.cpp).
AIR_HEAT_CAPACITY, MASS_CAPACITY = 1206.0, 100000.0
UA_PER_AREA, AIR_MASS_CONDUCTANCE, ADJACENT_CONDUCTANCE = 1.5, 22.75, 20.0
GAIN_PER_PERSON, RADIANT_FRACTION, SOLAR_PEAK = 75.0, 0.5, 20.0
SUNRISE, SUNSET = 6.0, 20.0
OUTDOOR_MEAN, OUTDOOR_AMPLITUDE, OUTDOOR_PEAK_HOUR = 26.0, 6.0, 15.0
DEADBAND, ZONE_COOLING_CAPACITY = 1.0, 100.0
STEP, HORIZON = 300.0, 86400.0


def read_building(path: Path):
    twins, relationships, section = [], [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            j = json.loads(line)
            if "Section" in j:
                section = j["Section"]
            elif section == "Twins":
                twins.append(j)
            elif section == "Relationships":
                relationships.append(j)
    return twins, relationships


def building_rooms(twins, relationships):
    """The rooms of one copy in file order, each with its level and whether an AHU serves it."""
    model = {t["$dtId"]: t["$metadata"]["$model"] for t in twins}
    parent, served = {}, set()
    for r in relationships:
        name, s, t = r["$relationshipName"], r["$dtId"], r["$targetId"]
        if name == "isPartOf":
            parent.setdefault(s, t)
        elif name == "servedBy" and model.get(t) == AHU:
            served.add(s)
        elif name == "feeds" and model.get(s) == AHU:
            served.add(t)
    rooms = []
    for t in twins:
        if model[t["$dtId"]] != ROOM:
            continue
        chain, seen, level = [t["$dtId"]], {t["$dtId"]}, None
        while chain[-1] in parent and parent[chain[-1]] not in seen:
            p = parent[chain[-1]]
            seen.add(p)
            chain.append(p)
            if level is None and model.get(p) == LEVEL:
                level = p
        rooms.append((t, level if level is not None else chain[-1], any(c in served for c in chain)))
    return rooms


def zones(path: Path, n: int):
    """Arrays of the N zones, ordered by (copy, level, $dtId) so that neighbours are adjacent."""
    twins, relationships = read_building(path)
    one = building_rooms(twins, relationships)
    rows = []
    copy = 0
    while len(rows) < n:
        for t, level, served in one:
            if len(rows) == n:
                break
            rows.append((copy, level, t["$dtId"], t, served))
        copy += 1
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    area = np.array([r[3]["area"] for r in rows], dtype=np.float64)
    volume = np.array([r[3].get("airVolume", 2.8 * r[3]["area"]) for r in rows], dtype=np.float64)
    t0 = np.array([r[3].get("temperature", math.nan) for r in rows], dtype=np.float64)
    setpoint = np.array([r[3].get("temperatureSetpoint", math.nan) for r in rows], dtype=np.float64)
    gain = np.array([GAIN_PER_PERSON * r[3].get("occupancy", 0) + r[3].get("lightingPower", 0.0)
                     + r[3].get("equipmentHeatGain", 0.0) for r in rows], dtype=np.float64)
    controlled = np.array([r[4] for r in rows]) & np.isfinite(setpoint)
    # Conductance between zone i and i + 1: a level's rooms in a row, none across levels.
    same_level = np.array([rows[i][0] == rows[i + 1][0] and rows[i][1] == rows[i + 1][1]
                           for i in range(len(rows) - 1)], dtype=bool)
    between = np.where(same_level, ADJACENT_CONDUCTANCE, 0.0)
    return area, volume, t0, setpoint, gain, controlled, between


def outdoor(t: float) -> float:
    h = math.fmod(t / 3600.0, 24.0)
    return OUTDOOR_MEAN + OUTDOOR_AMPLITUDE * math.cos(2.0 * math.pi * (h - OUTDOOR_PEAK_HOUR) / 24.0)


def solar(t: float) -> float:
    h = math.fmod(t / 3600.0, 24.0)
    if h <= SUNRISE or h >= SUNSET:
        return 0.0
    return SOLAR_PEAK * math.sin(math.pi * (h - SUNRISE) / (SUNSET - SUNRISE))


def stable_substeps(c_air, c_mass, h_out, h_am, between, gain_k) -> int:
    """The fewest equal sub-steps of STEP whose forward Euler is stable (Gershgorin bound, margin 0.9)."""
    adjacent = np.zeros_like(c_air)
    adjacent[:-1] += between
    adjacent[1:] += between
    rate_air = 2.0 * (h_out + h_am + adjacent + gain_k) / c_air
    rate_mass = 2.0 * h_am / c_mass
    largest = max(float(rate_air.max()), float(rate_mass.max()))
    return max(1, math.ceil(STEP * largest / (2.0 * 0.9)))


def simulate(area, volume, t0, setpoint, gain, controlled, between, substeps: int):
    n = area.size
    c_air = AIR_HEAT_CAPACITY * volume
    c_mass = MASS_CAPACITY * area
    h_out = UA_PER_AREA * area
    h_am = AIR_MASS_CONDUCTANCE * area
    q_max = np.where(controlled, ZONE_COOLING_CAPACITY * area, 0.0)
    k = q_max / DEADBAND
    low = np.where(controlled, setpoint - 0.5 * DEADBAND, 0.0)
    dt = STEP / substeps
    a_air = dt / c_air
    a_mass = dt / c_mass
    air = np.where(np.isfinite(t0), t0, outdoor(0.0))
    mass = air.copy()
    flux = np.empty(n)
    cooling = np.empty(n)
    mass_flux = np.empty(n)
    diff = np.empty(n - 1)
    peak = -math.inf
    steps = int(round(HORIZON / STEP))
    for s in range(steps):
        mid = (s + 0.5) * STEP
        t_out = outdoor(mid)
        g = gain + solar(mid) * area  # W per zone, held over the step
        air_in = (1.0 - RADIANT_FRACTION) * g + h_out * t_out
        mass_in = RADIANT_FRACTION * g
        for _ in range(substeps):
            # cooling: proportional thermostat on the current air temperature
            np.subtract(air, low, out=cooling)
            cooling *= k
            np.clip(cooling, 0.0, q_max, out=cooling)
            # air node: outdoors + gains - cooling + mass + neighbours
            np.subtract(mass, air, out=mass_flux)
            mass_flux *= h_am
            np.multiply(h_out, air, out=flux)
            np.subtract(air_in, flux, out=flux)
            flux -= cooling
            flux += mass_flux
            np.subtract(air[1:], air[:-1], out=diff)
            diff *= between
            flux[:-1] += diff
            flux[1:] -= diff
            # mass node: from the air, plus its gains (before the air moves)
            np.subtract(mass_in, mass_flux, out=mass_flux)
            mass_flux *= a_mass
            flux *= a_air
            air += flux
            mass += mass_flux
        peak = max(peak, float(air.max()))
    return peak


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--zones", type=int, default=10000)
    p.add_argument("--ndjson", type=Path, default=root / "scenarios" / "building" / "building.ndjson")
    a = p.parse_args()
    if a.zones < 2:
        p.error("--zones must be at least 2")
    area, volume, t0, setpoint, gain, controlled, between = zones(a.ndjson, a.zones)
    gain_k = np.where(controlled, ZONE_COOLING_CAPACITY * area / DEADBAND, 0.0)
    stable = stable_substeps(AIR_HEAT_CAPACITY * volume, MASS_CAPACITY * area, UA_PER_AREA * area,
                             AIR_MASS_CONDUCTANCE * area, between, gain_k)
    out = {"peer": "NumPy %s, vectorised explicit (forward Euler) RC network: air + mass node per room, "
                   "row neighbours per level, proportional thermostats, no plant limits" % np.__version__,
           "zones": int(area.size), "controlled_zones": int(controlled.sum()), "step_seconds": STEP,
           "steps": int(round(HORIZON / STEP))}
    with np.errstate(over="ignore", invalid="ignore"):
        for name, substeps in (("stable", stable), ("one_update_per_step", 1)):
            c0, w0 = time.process_time(), time.perf_counter()
            peak = simulate(area, volume, t0, setpoint, gain, controlled, between, substeps)
            seconds, cpu = time.perf_counter() - w0, time.process_time() - c0
            out[name] = {"seconds": seconds, "cpu_seconds": cpu, "substeps_per_step": substeps,
                         "peak_room_temperature": peak if math.isfinite(peak) else None}
    out["seconds"] = out["stable"]["seconds"]
    out["cpu_seconds"] = out["stable"]["cpu_seconds"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
