#!/usr/bin/env python3
"""The peer of `twinsim-bench production` in salabim: the same production line as
bench/production_simpy.py (see there for the semantics), written as salabim
components in its generator (yield) style, one component per part, without
animation, tracing or monitors the line does not need.

    python3 bench/production_salabim.py SPEC.json --replications 4 --seed 1

prints one JSON object: seconds, cpu_seconds, parts_out, mean_cycle_hours.
"""
import random

import salabim as sim

from production_peer import LineSettings, run_peer


class Line(LineSettings):
    def __init__(self, spec, seed):
        self.env = env = sim.Environment(trace=False, yieldless=False, random_seed="*")
        super().__init__(spec, random.Random(seed),
                         lambda capacity: sim.Resource(capacity=capacity, env=env, monitor=False),
                         "production_salabim.py")
        for st in self.stations:
            st.batcher = Batcher(line=self, station=st, env=env) if st.batch > 1 else None
        Releases(line=self, demand=spec["demand"], env=env)


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


def replicate(spec, seed, horizon):
    line = Line(spec, seed)
    line.env.run(till=horizon)
    return line, None


if __name__ == "__main__":
    run_peer(__doc__, "salabim", sim.__version__, replicate)
