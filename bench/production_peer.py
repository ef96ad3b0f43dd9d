"""What the Python peers of `twinsim-bench production` share: reading the LineSpec JSON
that the bench writes (samplers, routing tables, the stations' settings) and the command
line with its JSON report. The simulation itself stays in each peer
(bench/production_simpy.py, bench/production_salabim.py), in that library's fastest style.
"""
import argparse
import json
import math
import time

UNLIMITED = 1 << 40


def make_sampler(t, rng):
    """A no-argument function drawing one duration (seconds) of the spec's distribution."""
    kind, mean, cv = t["kind"], t["mean"], t["cv"]
    if kind == "exponential":
        rate = 1.0 / mean
        return lambda: rng.expovariate(rate)
    if kind == "lognormal":
        sigma = math.sqrt(math.log1p(cv * cv))
        mu = math.log(mean) - 0.5 * sigma * sigma
        return lambda: rng.lognormvariate(mu, sigma)
    if kind == "gamma":
        shape, scale = 1.0 / (cv * cv), mean * cv * cv
        return lambda: rng.gammavariate(shape, scale)
    if kind == "uniform":
        half = mean * cv * math.sqrt(3.0)
        lo, hi = mean - half, mean + half
        return lambda: rng.uniform(lo, hi)
    return lambda: mean


def route_tables(routes, n_products):
    """Per product: (the nodes it may go to, their cumulative probabilities)."""
    tables = []
    for p in range(n_products):
        chosen = [r for r in routes if r["product"] == p] or [r for r in routes if r["product"] < 0]
        total = sum(r["weight"] for r in chosen)
        cumulative, acc = [], 0.0
        for r in chosen:
            acc += r["weight"]
            cumulative.append(acc / total)
        if cumulative:
            cumulative[-1] = 1.0
        tables.append(([r["node"] for r in chosen], cumulative))
    return tables


class StationSettings:
    """A station's settings from the spec; `resource(capacity)` makes the peer's resource."""

    def __init__(self, spec, pools, rng, n_products, resource):
        self.batch = spec["batch"]
        m = spec["machines"]
        self.machines = resource(m)
        self.free = list(range(m))           # machine ids, for the setups
        self.last = [-1] * m
        buffer = spec["buffer"]
        self.buffer = UNLIMITED if buffer < 0 else buffer   # a batch starts when the buffer is full
        self.space = resource(UNLIMITED if buffer < 0 else buffer + m * self.batch)
        self.pools = [pools[p] for p in spec["pools"]]
        self.process = [make_sampler(t, rng) if t["kind"] != "none" else None for t in spec["process"]]
        self.setup = spec["setup"]
        self.routes = route_tables(spec["routes"], n_products)
        self.waiting = []                    # batch stations: the parts waiting for their batch


class LineSettings:
    """What every peer's line holds: its stations, the sources' routing, the counters."""

    def __init__(self, spec, rng, resource, script):
        self.rng = rng
        n_products = len(spec["products"])
        pools = [resource(max(1, p["size"])) for p in spec["pools"]]
        self.stations = [StationSettings(s, pools, rng, n_products, resource) for s in spec["stations"]]
        self.n_stations = len(self.stations)
        self.source_routes = [route_tables(s["routes"], n_products) for s in spec["sources"]]
        self.parts_out = 0
        self.cycle_sum = 0.0
        for st in self.stations:
            if st.batch > 1 and len(st.free) != 1:
                raise SystemExit(f"{script}: a batch station must have one machine")

    def draw(self, table):
        nodes, cumulative = table
        if len(nodes) == 1:
            return nodes[0]
        u = self.rng.random()
        k = 0
        while u >= cumulative[k]:
            k += 1
        return nodes[k]


def run_peer(doc, peer, version, replicate):
    """The peer's command line: reads SPEC.json, runs `replicate(spec, seed, horizon)` per
    replication (it returns the finished line and how many events it ran, or None when the
    library does not count them) and prints one JSON object."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("--replications", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=float, default=None, help="seconds (default: the last release + 30 days)")
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    horizon = args.horizon or (spec["demand"][-1][0] + 30 * 86400.0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    parts, cycle, events = 0, 0.0, 0
    for r in range(args.replications):
        line, n = replicate(spec, args.seed * 1000003 + r, horizon)
        parts += line.parts_out
        cycle += line.cycle_sum
        events = None if n is None else events + n
    report = {"peer": peer, "version": version, "seconds": time.perf_counter() - wall0,
              "cpu_seconds": time.process_time() - cpu0, "replications": args.replications,
              "parts_out": parts, "mean_cycle_hours": cycle / max(parts, 1) / 3600.0}
    if events is not None:
        report["events"] = events
    print(json.dumps(report))
