#!/usr/bin/env python3
"""The peer of `twinsim-bench fleet`: the same fleet and condition-based policy as a
vectorised NumPy simulation (its fastest idiomatic form: whole arrays of (replication,
unit) pairs advanced one renewal at a time, finished pairs dropped, no Python loop
over units or replications).

The model is models/equipment/maintenance.md's simulate_unit: per unit a Weibull AFT
life (beta 2.5, ln eta = 10 - 0.9 load - 0.02 temperature, hours), an age at the start,
replacement once P(fail within h | age) >= p, a failure costing lead time + repair
downtime, a planned replacement its replacement time, unlimited crews, a horizon of
one year. The fleet (load, temperature, age of unit i) is the same closed-form
sequence the C++ side uses, so both simulate the same units; the random numbers
differ (NumPy's PCG64 here, Philox there), so the KPIs agree within their intervals.

Prints one JSON object: seconds (the simulation, interpreter start and imports
excluded), cpu_seconds, units_per_second, and the KPI means with 95 % intervals.

    fleet_numpy.py [--units 10000] [--replications 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time

import numpy as np

# The bench's fleet and policy (bench/fleet_benchmark.cpp keeps the same numbers).
BETA = 2.5
B0, B_LOAD, B_TEMPERATURE = 10.0, -0.9, -0.02
RISK_HORIZON, RISK_THRESHOLD = 168.0, 0.02
LEAD_TIME, REPAIR_TIME, REPLACEMENT_TIME = 72.0, 12.0, 4.0
FAILURE_COST, PLANNED_COST = 12000.0, 2500.0
UNPLANNED_RATE, PLANNED_RATE = 400.0, 50.0
HORIZON = 8760.0
GOLDEN, SQRT2, SQRT3 = 0.6180339887498949, 0.4142135623730951, 0.7320508075688772


def fleet(units: int):
    i = np.arange(units, dtype=np.float64)
    load = 0.4 + 0.7 * np.fmod(i * GOLDEN, 1.0)
    temperature = 20.0 + 25.0 * np.fmod(i * SQRT2, 1.0)
    age = 4000.0 * np.fmod(i * SQRT3, 1.0)
    eta = np.exp(B0 + B_LOAD * load + B_TEMPERATURE * temperature)
    return eta, age


def replacement_age(eta: np.ndarray) -> np.ndarray:
    """The age where P(T <= a + h | T > a) reaches p, per unit (bisection, vectorised)."""
    def risk(a):
        with np.errstate(over="ignore", invalid="ignore"):  # a = 0 takes the other branch of the where
            grow = (a / eta) ** BETA * np.expm1(BETA * np.log1p(RISK_HORIZON / np.maximum(a, 1e-300)))
        grow = np.where(a > 0, grow, (RISK_HORIZON / eta) ** BETA)
        return -np.expm1(-grow)

    never = risk(np.zeros_like(eta)) >= RISK_THRESHOLD  # a new unit already at p: replacing cannot help
    low = np.zeros_like(eta)
    high = np.maximum(eta, RISK_HORIZON)
    while True:
        short = risk(high) < RISK_THRESHOLD
        if not short.any():
            break
        low = np.where(short, high, low)
        high = np.where(short, 2 * high, high)
    for _ in range(60):
        mid = 0.5 * (low + high)
        above = risk(mid) >= RISK_THRESHOLD
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    return np.where(never, np.inf, high)


def failure_probability(eta, age, replace_at):
    """P(a unit working at `age` fails before `replace_at`): 1 when never replaced, 0 when due now."""
    with np.errstate(invalid="ignore"):
        q = -np.expm1((age / eta) ** BETA - (replace_at / eta) ** BETA)
    q = np.where(np.isfinite(replace_at), q, 1.0)
    return np.where(replace_at <= age, 0.0, q)


def simulate(eta, age0, replace_at, replications, rng, chunk_elements=1_000_000):
    """As simulate_unit: a life fails before its replacement exactly when u < P(fail first), and
    only then is its residual life computed (the same shortcut as the C++ side)."""
    units = eta.size
    q_installed = failure_probability(eta, age0, replace_at)
    q_new = failure_probability(eta, np.zeros_like(eta), replace_at)
    totals = {k: np.zeros(replications) for k in ("failures", "planned", "unplanned_h", "planned_h", "cost")}
    chunk = max(1, chunk_elements // units)
    inv_beta = 1.0 / BETA
    for first in range(0, replications, chunk):
        reps = min(chunk, replications - first)
        n = reps * units
        failures = np.zeros(n)
        planned = np.zeros(n)
        unplanned_h = np.zeros(n)
        planned_h = np.zeros(n)
        cost = np.zeros(n)
        index = np.arange(n)
        e = np.tile(eta, reps)
        s = np.tile(replace_at, reps)
        q = np.tile(q_installed, reps)
        qn = np.tile(q_new, reps)
        age = np.tile(age0, reps)
        t = np.zeros(n)
        while index.size:
            u = rng.random(index.size)
            to_planned = np.maximum(s - age, 0.0)
            fails = u < q
            after = to_planned.copy()
            if fails.any():
                ef, af = e[fails], age[fails]
                residual = ef * ((af / ef) ** BETA - np.log1p(-u[fails])) ** inv_beta - af
                after[fails] = np.minimum(residual, to_planned[fails])
            event = t + after
            live = event < HORIZON
            index, e, s, qn, event, fails = index[live], e[live], s[live], qn[live], event[live], fails[live]
            up = event + np.where(fails, LEAD_TIME + REPAIR_TIME, REPLACEMENT_TIME)
            down = np.minimum(up, HORIZON) - event
            failures[index] += fails
            planned[index] += ~fails
            unplanned_h[index] += np.where(fails, down, 0.0)
            planned_h[index] += np.where(fails, 0.0, down)
            cost[index] += np.where(fails, FAILURE_COST + UNPLANNED_RATE * down, PLANNED_COST + PLANNED_RATE * down)
            again = up < HORIZON
            index, e, s, qn, t = index[again], e[again], s[again], qn[again], up[again]
            q = qn
            age = np.zeros(index.size)
        for name, values in (("failures", failures), ("planned", planned), ("unplanned_h", unplanned_h),
                             ("planned_h", planned_h), ("cost", cost)):
            totals[name][first:first + reps] = values.reshape(reps, units).sum(axis=1)
    return totals


def summary(values: np.ndarray) -> dict:
    n = values.size
    mean = float(values.mean())
    half = 1.959963984540054 * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return {"mean": mean, "ci95_low": mean - half, "ci95_high": mean + half}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--replications", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    eta, age0 = fleet(args.units)
    replace_at = replacement_age(eta)
    totals = simulate(eta, age0, replace_at, args.replications, np.random.default_rng(args.seed))
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    print(json.dumps({
        "peer": f"numpy {np.__version__}, vectorised over (replication, unit) pairs",
        "units": args.units, "replications": args.replications,
        "seconds": seconds, "cpu_seconds": cpu,
        "units_per_second": args.units * args.replications / seconds,
        "fleet_per_year": {k: summary(v) for k, v in totals.items()},
    }))


if __name__ == "__main__":
    main()
