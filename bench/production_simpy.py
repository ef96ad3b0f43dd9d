#!/usr/bin/env python3
"""The peer of `twinsim-bench production` in SimPy 4: the same production line (the
LineSpec JSON the bench writes from scenarios/production/plant.ndjson and its demand)
written as SimPy processes in their fastest idiomatic form, one process per part.

Same semantics as models/production/line.cpp, for the features the bench line uses:
orders from the demand list, FIFO stations of identical machines, finite buffers with
blocking after service (a part reserves a place at the next station while it still
holds its machine: a station's places are its buffer plus what its machines hold, a batch each), setups when a
machine changes product, batches of one product, one unit of each pool the station
uses held while processing, routing by product and probability. Failures and shifts
are not part of the bench line. Random numbers come from Python's `random`, so results
agree with twinsim's in distribution, not draw for draw.

    python3 bench/production_simpy.py SPEC.json --replications 4 --seed 1

prints one JSON object: seconds, cpu_seconds, parts_out, mean_cycle_hours, events.
"""
import argparse
import json
import math
import random
import time

import simpy

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
        self.machines = simpy.Resource(env, capacity=m)
        self.free = list(range(m))           # machine ids, for the setups
        self.last = [-1] * m
        buffer = spec["buffer"]
        self.buffer = UNLIMITED if buffer < 0 else buffer   # a batch starts when the buffer is full
        self.space = simpy.Resource(env, capacity=UNLIMITED if buffer < 0 else buffer + m * self.batch)
        self.pools = [pools[p] for p in spec["pools"]]
        self.process = [make_sampler(t, rng) if t["kind"] != "none" else None for t in spec["process"]]
        self.setup = spec["setup"]
        self.routes = route_tables(spec["routes"], n_products)
        self.waiting = []                    # batch stations: (product, wake-up event)
        self.arrived = None                  # batch stations: signalled when a part arrives


class Line:
    def __init__(self, spec, seed):
        self.env = env = simpy.Environment()
        self.rng = rng = random.Random(seed)
        n_products = len(spec["products"])
        pools = [simpy.Resource(env, capacity=max(1, p["size"])) for p in spec["pools"]]
        self.stations = [Station(env, s, pools, rng, n_products) for s in spec["stations"]]
        self.n_stations = len(self.stations)
        self.source_routes = [route_tables(s["routes"], n_products) for s in spec["sources"]]
        self.parts_out = 0
        self.cycle_sum = 0.0
        for i, st in enumerate(self.stations):
            if st.batch > 1:
                if len(st.free) != 1:
                    raise SystemExit("production_simpy.py: a batch station must have one machine")
                st.arrived = env.event()
                env.process(self.batcher(i))
        env.process(self.releases(spec["demand"]))

    def draw(self, table):
        nodes, cumulative = table
        if len(nodes) == 1:
            return nodes[0]
        u = self.rng.random()
        k = 0
        while u >= cumulative[k]:
            k += 1
        return nodes[k]

    def releases(self, demand):
        env = self.env
        for t, source, product, quantity, _due in demand:
            if t > env.now:
                yield env.timeout(t - env.now)
            for _ in range(quantity):
                env.process(self.part(product, self.draw(self.source_routes[source][product])))

    def part(self, product, node):
        env = self.env
        release = env.now
        stations = self.stations
        place = None
        if node < self.n_stations:
            place = stations[node].space.request()
            yield place
        while node < self.n_stations:
            st = stations[node]
            if st.batch > 1:
                wake = env.event()
                st.waiting.append((product, wake))
                if not st.arrived.triggered:
                    st.arrived.succeed()
                node, next_place = yield wake        # the batcher passes the part on
                st.space.release(place)
                place = next_place
                continue
            with st.machines.request() as machine:
                yield machine
                m = st.free.pop()
                held = [p.request() for p in st.pools]
                for r in held:
                    yield r
                duration = st.process[product]()
                if st.last[m] not in (-1, product):
                    duration += st.setup[product]
                st.last[m] = product
                yield env.timeout(duration)
                for p, r in zip(st.pools, held):
                    p.release(r)
                nxt = self.draw(st.routes[product])
                next_place = None
                if nxt < self.n_stations:
                    next_place = stations[nxt].space.request()
                    yield next_place                  # blocked after service, holding the machine
                st.free.append(m)
            st.space.release(place)
            place, node = next_place, nxt
        self.parts_out += 1
        self.cycle_sum += env.now - release

    def batcher(self, i):
        env = self.env
        st = self.stations[i]
        stations = self.stations
        while True:
            while not st.waiting or (sum(1 for p, _ in st.waiting if p == st.waiting[0][0]) < st.batch
                                     and len(st.waiting) < st.buffer):
                st.arrived = env.event()
                yield st.arrived
            product = st.waiting[0][0]
            taken = [w for w in st.waiting if w[0] == product][: st.batch]
            for w in taken:
                st.waiting.remove(w)
            with st.machines.request() as machine:
                yield machine
                m = st.free.pop()
                held = [p.request() for p in st.pools]
                for r in held:
                    yield r
                duration = st.process[product]()
                if st.last[m] not in (-1, product):
                    duration += st.setup[product]
                st.last[m] = product
                yield env.timeout(duration)
                for p, r in zip(st.pools, held):
                    p.release(r)
                nexts = [self.draw(st.routes[product]) for _ in taken]
                for (_, wake), nxt in zip(taken, nexts):
                    next_place = None
                    if nxt < self.n_stations:
                        next_place = stations[nxt].space.request()
                        yield next_place
                    wake.succeed((nxt, next_place))
                st.free.append(m)


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
    parts, cycle, events = 0, 0.0, 0
    for r in range(args.replications):
        line = Line(spec, args.seed * 1000003 + r)
        line.env.run(until=horizon)
        parts += line.parts_out
        cycle += line.cycle_sum
        events += next(line.env._eid)  # events scheduled (SimPy's own counter)
    print(json.dumps({"peer": "simpy", "version": simpy.__version__, "seconds": time.perf_counter() - wall0,
                      "cpu_seconds": time.process_time() - cpu0, "replications": args.replications,
                      "parts_out": parts, "mean_cycle_hours": cycle / max(parts, 1) / 3600.0, "events": events}))


if __name__ == "__main__":
    main()
