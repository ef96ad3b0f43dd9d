// Coroutine processes, signals and resources.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "twinsim/kernel/distributions.hpp"
#include "twinsim/kernel/process.hpp"
#include "twinsim/kernel/resource.hpp"
#include "twinsim/kernel/rng.hpp"
#include "twinsim/kernel/simulator.hpp"

using namespace twinsim::kernel;

namespace {

Process rounds(Simulator& sim, std::vector<double>& log, int n, double gap) {
    for (int i = 0; i < n; ++i) {
        log.push_back(sim.now());
        co_await sim.delay(gap);
    }
    log.push_back(-sim.now());
}

Process use(Simulator& sim, Resource& crew, std::vector<std::string>& log, std::string name, double work) {
    co_await crew.acquire();
    log.push_back(name + "+" + std::to_string(static_cast<int>(sim.now())));
    co_await sim.delay(work);
    crew.release();
}

Process waiter(Signal& s, Simulator& sim, std::vector<double>& woke) {
    co_await s.wait();
    woke.push_back(sim.now());
}

Process thrower(Simulator& sim) {
    co_await sim.delay(1.0);
    throw std::runtime_error("process failed");
}

}  // namespace

TEST_CASE("a process advances simulated time with co_await delay", "[process]") {
    Simulator sim;
    std::vector<double> log;
    start(sim, rounds(sim, log, 3, 60.0));
    start(sim, rounds(sim, log, 1, 10.0), 5.0);
    CHECK(sim.live_processes() == 2);
    sim.run();
    CHECK(log == std::vector<double>{0.0, 5.0, -15.0, 60.0, 120.0, -180.0});
    CHECK(sim.live_processes() == 0);
}

TEST_CASE("a resource serves waiters first come, first served, and keeps statistics", "[process]") {
    Simulator sim;
    Resource crews(sim, 2);
    std::vector<std::string> log;
    start(sim, use(sim, crews, log, "a", 10.0));
    start(sim, use(sim, crews, log, "b", 20.0));
    start(sim, use(sim, crews, log, "c", 5.0), 1.0);
    start(sim, use(sim, crews, log, "d", 5.0), 2.0);
    sim.run();
    CHECK(log == std::vector<std::string>{"a+0", "b+0", "c+10", "d+15"});
    const ResourceStatistics s = crews.statistics();
    CHECK(s.grants == 4);
    CHECK(s.waited == 2);
    CHECK(s.mean_wait == Approx((9.0 + 13.0) / 4.0));
    CHECK(s.max_wait == 13.0);
    CHECK(s.elapsed == 20.0);
    CHECK(s.utilisation == Approx((10.0 + 20.0 + 5.0 + 5.0) / (2.0 * 20.0)));
    CHECK(s.mean_queue_length == Approx((9.0 + 13.0) / 20.0));
    CHECK(crews.in_use() == 0);
    CHECK_THROWS_AS(crews.release(), KernelError);
    CHECK_THROWS_AS(Resource(sim, 0), KernelError);
}

TEST_CASE("a signal wakes its waiters in waiting order at the current time", "[process]") {
    Simulator sim;
    Signal s(sim);
    std::vector<double> woke;
    start(sim, waiter(s, sim, woke));
    start(sim, waiter(s, sim, woke), 1.0);
    start(sim, waiter(s, sim, woke), 2.0);
    const auto notify = sim.on<int>([&](Simulator&, const int& all) {
        if (all) CHECK(s.notify_all() == 2);
        else CHECK(s.notify_one());
    });
    sim.schedule(notify, 5.0, 0);
    sim.schedule(notify, 7.0, 1);
    sim.run();
    CHECK(woke == std::vector<double>{5.0, 7.0, 7.0});
    CHECK_FALSE(s.notify_one());
}

TEST_CASE("an exception escaping a process is rethrown by run", "[process]") {
    Simulator sim;
    start(sim, thrower(sim));
    CHECK_THROWS_WITH(sim.run(), "process failed");
    CHECK(sim.live_processes() == 0);
}

TEST_CASE("unfinished processes are destroyed with the simulator", "[process]") {
    std::vector<double> log;
    {
        Simulator sim;
        Resource r(sim, 1);
        std::vector<std::string> names;
        start(sim, rounds(sim, log, 1000, 1.0));
        start(sim, use(sim, r, names, "x", 100.0));
        start(sim, use(sim, r, names, "y", 100.0));  // waits in the queue
        sim.run_until(10.0);
        CHECK(sim.live_processes() == 3);
        CHECK(r.queue_length() == 1);
    }  // ASan would report a leaked frame here
    CHECK(log.size() == 11);
    Simulator other;
    Process never = rounds(other, log, 5, 1.0);
    (void)never;  // a never-started process frees its frame itself (ASan checks)
}

namespace {

struct Mm1 {
    Simulator sim;
    Resource server{sim, 1};
    RandomStream arrivals{StreamId{11, 0, 0}, 0};
    RandomStream services{StreamId{11, 0, 0}, 1};
    Exponential interarrival;
    Exponential service;
    std::uint64_t remaining;
    Mm1(double lambda, double mu, std::uint64_t customers)
        : interarrival(Exponential::with_rate(lambda)), service(Exponential::with_rate(mu)), remaining(customers) {}
};

Process customer(Mm1& m) {
    co_await m.server.acquire();
    co_await m.sim.delay(m.service.sample(m.services));
    m.server.release();
}

Process source(Mm1& m) {
    while (m.remaining-- > 0) {
        start(m.sim, customer(m));
        co_await m.sim.delay(m.interarrival.sample(m.arrivals));
    }
}

}  // namespace

TEST_CASE("an M/M/1 queue's mean wait matches the analytic value", "[process]") {
    // lambda = 1, mu = 2: rho = 0.5, Wq = rho / (mu - lambda) = 0.5, Lq = lambda Wq = 0.5.
    Mm1 m(1.0, 2.0, 200000);
    start(m.sim, source(m));
    m.sim.run();
    const ResourceStatistics s = m.server.statistics();
    CHECK(s.grants == 200000);
    CHECK(s.mean_wait == Approx(0.5).epsilon(0.03));
    CHECK(s.utilisation == Approx(0.5).epsilon(0.02));
    CHECK(s.mean_queue_length == Approx(0.5).epsilon(0.03));
    CHECK(m.sim.live_processes() == 0);
}
