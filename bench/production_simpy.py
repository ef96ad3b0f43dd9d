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
import random

import simpy

from production_peer import LineSettings, run_peer


class Line(LineSettings):
    def __init__(self, spec, seed):
        self.env = env = simpy.Environment()
        super().__init__(spec, random.Random(seed), lambda capacity: simpy.Resource(env, capacity=capacity),
                         "production_simpy.py")
        for i, st in enumerate(self.stations):
            if st.batch > 1:
                st.arrived = env.event()     # signalled when a part arrives
                env.process(self.batcher(i))
        env.process(self.releases(spec["demand"]))

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


def replicate(spec, seed, horizon):
    line = Line(spec, seed)
    line.env.run(until=horizon)
    return line, next(line.env._eid)  # events scheduled (SimPy's own counter)


if __name__ == "__main__":
    run_peer(__doc__, "simpy", simpy.__version__, replicate)
