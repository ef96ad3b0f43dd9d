#!/usr/bin/env python3
"""The peer of `twinsim-bench production` in salabim: the same production line as
bench/production_simpy.py (see there for the semantics), written as salabim
components in its generator (yield) style, one component per part, without
animation, tracing or monitors the line does not need.

    python3 bench/production_salabim.py SPEC.json --replications 4 --seed 1

prints one JSON object: seconds, cpu_seconds, parts_out, mean_cycle_hours.
"""
import argparse
import json
import math
import random
import time

import salabim as sim

UNLIMITED = 1 << 40


def make_sampler(t, rng):
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


class Station:
    def __init__(self, env, spec, pools, rng, n_products):
        self.batch = spec["batch"]
        m = spec["machines"]
        self.machines = sim.Resource(capacity=m, env=env, monitor=False)
        self.free = list(range(m))
        self.last = [-1] * m
        buffer = spec["buffer"]
        self.buffer = UNLIMITED if buffer < 0 else buffer   # a batch starts when the buffer is full
        self.space = sim.Resource(capacity=UNLIMITED if buffer < 0 else buffer + m * self.batch, env=env, monitor=False)
        self.pools = [pools[p] for p in spec["pools"]]
        self.process = [make_sampler(t, rng) if t["kind"] != "none" else None for t in spec["process"]]
        self.setup = spec["setup"]
        self.routes = route_tables(spec["routes"], n_products)
        self.waiting = []      # batch stations: parts waiting for their batch
        self.batcher = None


class Line:
    def __init__(self, spec, seed):
        self.env = env = sim.Environment(trace=False, yieldless=False, random_seed="*")
        self.rng = rng = random.Random(seed)
        n_products = len(spec["products"])
        pools = [sim.Resource(capacity=max(1, p["size"]), env=env, monitor=False) for p in spec["pools"]]
        self.stations = [Station(env, s, pools, rng, n_products) for s in spec["stations"]]
        self.n_stations = len(self.stations)
        self.source_routes = [route_tables(s["routes"], n_products) for s in spec["sources"]]
        self.parts_out = 0
        self.cycle_sum = 0.0
        for st in self.stations:
            if st.batch > 1:
                if len(st.free) != 1:
                    raise SystemExit("production_salabim.py: a batch station must have one machine")
                st.batcher = Batcher(line=self, station=st, env=env)
        Releases(line=self, demand=spec["demand"], env=env)

    def draw(self, table):
        nodes, cumulative = table
        if len(nodes) == 1:
            return nodes[0]
        u = self.rng.random()
        k = 0
        while u >= cumulative[k]:
            k += 1
        return nodes[k]


class Releases(sim.Component):
    def setup(self, line, demand):
        self.line = line
        self.demand = demand

    def process(self):
        line, env = self.line, self.env
        for t, source, product, quantity, _due in self.demand:
            if t > env.now():
                yield self.hold(t - env.now())
            for _ in range(quantity):
                Part(line=line, product=product, node=line.draw(line.source_routes[source][product]), env=env)


class Part(sim.Component):
    def setup(self, line, product, node):
        self.line = line
        self.product = product
        self.node = node
        self.next_node = None

    def process(self):
        line, env, product = self.line, self.env, self.product
        release = env.now()
        stations = line.stations
        node = self.node
        if node < line.n_stations:
            yield self.request(stations[node].space)
        while node < line.n_stations:
            st = stations[node]
            if st.batch > 1:
                st.waiting.append(self)
                if st.batcher.idle:
                    st.batcher.idle = False
                    st.batcher.activate()
                yield self.passivate()                 # until the batch is done
                nxt = self.next_node
                if nxt < line.n_stations:
                    yield self.request(stations[nxt].space)
                self.release(st.space)
                st.batcher.activate()                  # the batcher passes on the next part
                node = nxt
                continue
            yield self.request(st.machines)
            m = st.free.pop()
            for p in st.pools:
                yield self.request(p)
            duration = st.process[product]()
            if st.last[m] not in (-1, product):
                duration += st.setup[product]
            st.last[m] = product
            yield self.hold(duration)
            for p in st.pools:
                self.release(p)
            nxt = line.draw(st.routes[product])
            if nxt < line.n_stations:
                yield self.request(stations[nxt].space)  # blocked after service, holding the machine
            st.free.append(m)
            self.release(st.machines)
            self.release(st.space)
            node = nxt
        line.parts_out += 1
        line.cycle_sum += env.now() - release


class Batcher(sim.Component):
    def setup(self, line, station):
        self.line = line
        self.station = station
        self.idle = False   # passive until enough parts arrive (not waiting for a part to move on)

    def process(self):
        line, st = self.line, self.station
        while True:
            while not st.waiting or (sum(1 for q in st.waiting if q.product == st.waiting[0].product) < st.batch
                                     and len(st.waiting) < st.buffer):
                self.idle = True
                yield self.passivate()
            product = st.waiting[0].product
            taken = [q for q in st.waiting if q.product == product][: st.batch]
            for q in taken:
                st.waiting.remove(q)
            yield self.request(st.machines)
            m = st.free.pop()
            for p in st.pools:
                yield self.request(p)
            duration = st.process[product]()
            if st.last[m] not in (-1, product):
                duration += st.setup[product]
            st.last[m] = product
            yield self.hold(duration)
            for p in st.pools:
                self.release(p)
            for q in taken:
                q.next_node = line.draw(st.routes[product])
            for q in taken:
                q.activate()
                yield self.passivate()   # until q holds its place at the next station
            st.free.append(m)
            self.release(st.machines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("--replications", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=float, default=None, help="seconds (default: the last release + 30 days)")
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    horizon = args.horizon or (spec["demand"][-1][0] + 30 * 86400.0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    parts, cycle = 0, 0.0
    for r in range(args.replications):
        line = Line(spec, args.seed * 1000003 + r)
        line.env.run(till=horizon)
        parts += line.parts_out
        cycle += line.cycle_sum
    print(json.dumps({"peer": "salabim", "version": sim.__version__, "seconds": time.perf_counter() - wall0,
                      "cpu_seconds": time.process_time() - cpu0, "replications": args.replications,
                      "parts_out": parts, "mean_cycle_hours": cycle / max(parts, 1) / 3600.0}))


if __name__ == "__main__":
    main()
