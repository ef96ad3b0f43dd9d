// The event kernel: ordering, handles, stops, periodic steps and threshold crossings.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <set>
#include <stdexcept>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "twinsim/kernel/simulator.hpp"

using namespace twinsim::kernel;

namespace {
struct Tag {
    int id;
};
}  // namespace

TEST_CASE("simultaneous events run by time, then priority, then scheduling order", "[kernel]") {
    Simulator sim;
    std::vector<int> order;
    const auto type = sim.on<Tag>([&](Simulator&, const Tag& t) { order.push_back(t.id); });
    sim.schedule(type, 2.0, Tag{0});
    sim.schedule(type, 1.0, Tag{1}, 5);
    sim.schedule(type, 1.0, Tag{2}, -3);
    sim.schedule(type, 1.0, Tag{3}, 5);
    sim.schedule(type, 1.0, Tag{4});
    sim.schedule(type, 0.5, Tag{5}, max_priority);
    sim.schedule(type, 1.0, Tag{6}, -3);
    CHECK(sim.run() == StopReason::empty);
    CHECK(order == std::vector<int>{5, 2, 6, 4, 1, 3, 0});
    CHECK(sim.now() == 2.0);
    CHECK(sim.events_processed() == 7);
}

TEST_CASE("events scheduled during dispatch at the current time keep their order", "[kernel]") {
    Simulator sim;
    std::vector<int> order;
    EventType<Tag> type;
    type = sim.on<Tag>([&](Simulator& s, const Tag& t) {
        order.push_back(t.id);
        if (t.id < 3) {
            s.schedule(type, 0.0, Tag{t.id + 10});
            s.schedule(type, 0.0, Tag{t.id + 1});
        }
    });
    sim.schedule(type, 1.0, Tag{0});
    sim.run();
    CHECK(order == std::vector<int>{0, 10, 1, 11, 2, 12, 3});
}

TEST_CASE("a large random workload pops in nondecreasing (time, priority, sequence) order", "[kernel]") {
    Simulator sim;
    struct Item {
        double time;
        std::int32_t priority;
        std::uint32_t seq;
    };
    std::vector<Item> seen;
    const auto type = sim.on<Item>([&](Simulator& s, const Item& it) {
        CHECK(s.now() == it.time);
        seen.push_back(it);
    });
    std::uint64_t x = 12345;
    auto next = [&] {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        return x >> 33;
    };
    std::vector<EventHandle> handles;
    for (std::uint32_t i = 0; i < 20000; ++i) {
        const double t = static_cast<double>(next() % 500);
        const int p = static_cast<int>(next() % 5) - 2;
        handles.push_back(sim.schedule_at(type, t, Item{t, p, i}, p));
    }
    // Cancel every third event: lazy cancellation must skip them all.
    std::size_t cancelled = 0;
    for (std::size_t i = 0; i < handles.size(); i += 3) cancelled += sim.cancel(handles[i]) ? 1U : 0U;
    CHECK(sim.pending_count() == 20000 - cancelled);
    sim.run();
    REQUIRE(seen.size() == 20000 - cancelled);
    for (std::size_t i = 1; i < seen.size(); ++i) {
        const Item& a = seen[i - 1];
        const Item& b = seen[i];
        const bool ordered = a.time < b.time || (a.time == b.time && (a.priority < b.priority ||
                                                                     (a.priority == b.priority && a.seq < b.seq)));
        REQUIRE(ordered);
        REQUIRE(b.seq % 3 != 0);
    }
}

TEST_CASE("a repair cancels the pending failure; reschedule moves an event", "[kernel]") {
    Simulator sim;
    std::vector<std::pair<double, int>> log;
    struct Machine {
        std::uint32_t index;
    };
    EventHandle failure;
    const auto fail = sim.on<Machine>([&](Simulator& s, const Machine& m) {
        log.emplace_back(s.now(), static_cast<int>(m.index));
    });
    const auto repair = sim.on<Machine>([&](Simulator& s, const Machine&) {
        CHECK(s.pending(failure));
        CHECK(s.cancel(failure));
        CHECK_FALSE(s.cancel(failure));
        CHECK_FALSE(s.pending(failure));
    });
    failure = sim.schedule(fail, 100.0, Machine{1});
    const EventHandle other = sim.schedule(fail, 50.0, Machine{2});
    sim.schedule(repair, 10.0, Machine{1});
    CHECK(sim.time_of(other) == 50.0);
    const EventHandle moved = sim.reschedule(other, 70.0);
    CHECK_FALSE(sim.pending(other));
    CHECK(sim.pending(moved));
    CHECK(sim.time_of(moved) == 70.0);
    CHECK_THROWS_AS(sim.reschedule(other, 80.0), KernelError);
    CHECK_THROWS_AS(sim.time_of(other), KernelError);
    sim.run();
    CHECK(log == std::vector<std::pair<double, int>>{{70.0, 2}});
    CHECK_FALSE(sim.pending(moved));
    CHECK_FALSE(sim.cancel(moved));
}

TEST_CASE("handles of reused slots do not alias", "[kernel]") {
    Simulator sim;
    int ran = 0;
    const auto type = sim.on<int>([&](Simulator&, const int&) { ++ran; });
    const EventHandle a = sim.schedule(type, 1.0, 1);
    CHECK(sim.cancel(a));
    const EventHandle b = sim.schedule(type, 2.0, 2);  // likely the same slot
    CHECK_FALSE(sim.pending(a));
    CHECK_FALSE(sim.cancel(a));
    CHECK(sim.pending(b));
    sim.run();
    CHECK(ran == 1);
}

TEST_CASE("scheduling rejects the past, non-finite times and bad priorities", "[kernel]") {
    Simulator sim;
    const auto type = sim.on<int>([](Simulator&, const int&) {});
    CHECK_THROWS_AS(sim.schedule(type, -1.0, 0), KernelError);
    CHECK_THROWS_AS(sim.schedule(type, std::nan(""), 0), KernelError);
    CHECK_THROWS_AS(sim.schedule(type, INFINITY, 0), KernelError);
    CHECK_THROWS_AS(sim.schedule(type, 1.0, 0, max_priority + 1), KernelError);
    sim.schedule(type, 5.0, 0);
    sim.run();
    CHECK_THROWS_AS(sim.schedule_at(type, 4.0, 0), KernelError);
    CHECK_THROWS_AS(sim.run_until(1.0), KernelError);
}

TEST_CASE("run_until stops at the horizon and can continue", "[kernel]") {
    Simulator sim;
    std::vector<double> times;
    EventType<int> tick;
    tick = sim.on<int>([&](Simulator& s, const int&) {
        times.push_back(s.now());
        s.schedule(tick, 1.0, 0);
    });
    sim.schedule(tick, 0.0, 0);
    CHECK(sim.run_until(3.0) == StopReason::horizon);
    CHECK(sim.now() == 3.0);
    CHECK(times == std::vector<double>{0.0, 1.0, 2.0, 3.0});  // the horizon is inclusive
    CHECK(sim.run_until(5.5) == StopReason::horizon);
    CHECK(sim.now() == 5.5);
    CHECK(times.size() == 6);
}

TEST_CASE("run stops on a condition and on a request from another thread", "[kernel]") {
    Simulator sim;
    int count = 0;
    EventType<int> tick;
    tick = sim.on<int>([&](Simulator& s, const int&) {
        ++count;
        s.schedule(tick, 1.0, 0);
    });
    sim.schedule(tick, 0.0, 0);
    sim.set_stop_condition([&](const Simulator&) { return count == 10; });
    CHECK(sim.run() == StopReason::condition);
    CHECK(count == 10);
    CHECK(sim.now() == 9.0);
    sim.set_stop_condition({});

    std::atomic<bool> started{false};
    const auto watch = sim.on<int>([&](Simulator&, const int&) { started = true; });
    sim.schedule(watch, 0.0, 0);
    std::thread stopper([&] {
        while (!started) std::this_thread::yield();
        sim.request_stop();
    });
    CHECK(sim.run() == StopReason::request);
    stopper.join();
    CHECK(started);
    // The request was consumed: the next run proceeds.
    sim.set_stop_condition([&](const Simulator&) { return count >= 1000000; });
    CHECK(sim.run() == StopReason::condition);
}

TEST_CASE("a handler's exception propagates and the simulator stays usable", "[kernel]") {
    Simulator sim;
    int ran = 0;
    const auto boom = sim.on<int>([&](Simulator& s, const int& v) {
        ++ran;
        if (v == 1) {
            s.schedule(s.on<int>([&](Simulator&, const int&) { ++ran; }), 1.0, 0);
            throw std::runtime_error("boom");
        }
    });
    sim.schedule(boom, 1.0, 1);
    sim.schedule(boom, 3.0, 2);
    CHECK_THROWS_AS(sim.run(), std::runtime_error);
    CHECK(sim.pending_count() == 2);
    sim.run();
    CHECK(ran == 3);
}

TEST_CASE("the start instant maps simulated seconds to UTC", "[kernel]") {
    Simulator sim;
    sim.set_start_instant(Instant(std::chrono::seconds(1700000000)));
    CHECK(sim.instant_at(90.5) == Instant(std::chrono::seconds(1700000090) + std::chrono::milliseconds(500)));
}

TEST_CASE("periodic steps run at first + k*dt and a threshold crossing is located in the step", "[kernel]") {
    // Exponential relaxation x' = (x_inf - x) / tau, stepped exactly; the
    // crossing of x = threshold happens analytically at t* = -tau ln((thr - x_inf)/(x0 - x_inf)).
    const double tau = 600.0, x0 = 20.0, x_inf = 30.0, threshold = 27.0, dt = 60.0;
    const double t_star = -tau * std::log((threshold - x_inf) / (x0 - x_inf));
    Simulator sim;
    double x = x0;
    std::vector<double> steps;
    const PeriodicId p = sim.add_periodic(dt, [&](Simulator&, double t, double h) {
        steps.push_back(t);
        x = x_inf + (x - x_inf) * std::exp(-h / tau);
    });
    std::vector<double> crossings;
    std::vector<bool> rising;
    sim.add_threshold(
        p, [&](const Simulator&) { return x; }, threshold, Crossing::either,
        [&](Simulator& s, bool up) {
            crossings.push_back(s.now());
            rising.push_back(up);
        });
    sim.run_until(3600.0);
    REQUIRE(crossings.size() == 1);
    CHECK(rising[0]);
    // Linear interpolation error bound: dt^2 max|x''| / (8 |x'|) = dt^2 / (8 tau) at the crossing.
    const double bound = dt * dt / (8.0 * tau);
    CHECK(std::abs(crossings[0] - t_star) <= bound);
    CHECK(std::abs(crossings[0] - t_star) > 0.0);  // interpolated, not snapped to a step
    REQUIRE(steps.size() == 61);
    for (std::size_t k = 0; k < steps.size(); ++k) CHECK(steps[k] == static_cast<double>(k) * dt);

    // With half the step the error stays within its (four times smaller) bound.
    Simulator fine;
    double y = x0;
    const PeriodicId q = fine.add_periodic(dt / 2.0, [&](Simulator&, double, double h) {
        y = x_inf + (y - x_inf) * std::exp(-h / tau);
    });
    double fine_crossing = -1.0;
    fine.add_threshold(
        q, [&](const Simulator&) { return y; }, threshold, Crossing::rising,
        [&](Simulator& s, bool) { fine_crossing = s.now(); });
    fine.run_until(3600.0);
    CHECK(std::abs(fine_crossing - t_star) <= bound / 4.0);
}

TEST_CASE("threshold directions and removing a periodic step", "[kernel]") {
    Simulator sim;
    double v = 0.0;
    const PeriodicId p = sim.add_periodic(1.0, [&](Simulator&, double t, double h) { v = std::sin(t + h); }, 0.0);
    int up = 0, down = 0;
    sim.add_threshold(p, [&](const Simulator&) { return v; }, 0.5, Crossing::rising, [&](Simulator&, bool r) {
        CHECK(r);
        ++up;
    });
    sim.add_threshold(p, [&](const Simulator&) { return v; }, 0.5, Crossing::falling, [&](Simulator&, bool r) {
        CHECK_FALSE(r);
        ++down;
    });
    sim.run_until(4.0 * std::numbers::pi);
    CHECK(up == 2);
    CHECK(down == 2);
    sim.remove_periodic(p);
    CHECK(sim.pending_count() == 0);
    CHECK_THROWS_AS(sim.add_periodic(0.0, [](Simulator&, double, double) {}), KernelError);
    CHECK_THROWS_AS(sim.remove_periodic(PeriodicId{99}), KernelError);
}

// The future-event list (a bottom heap, buckets and a far tier, with a heap
// mode for small queues) against a reference ordering: every dispatch must be
// the (time, priority, sequence) minimum of the events a plain ordered set
// says are pending, through schedules from handlers, ties, zero delays, far
// outliers, cancels and reschedules, while the queue grows past and shrinks
// below the heap-mode thresholds several times.
TEST_CASE("the event queue dispatches exactly the reference order under a random mixed workload", "[kernel]") {
    // A third of the events are posted (post(): no handle, the 4-byte payload
    // in the queue's key), the rest scheduled with handles and sometimes
    // cancelled or moved; both kinds share one order.
    struct Ref {
        double time;
        int priority;
        std::uint64_t seq;
        std::uint32_t id;
        bool operator<(const Ref& o) const {
            if (time != o.time) return time < o.time;
            if (priority != o.priority) return priority < o.priority;
            return seq < o.seq;
        }
    };
    struct Ev {
        std::uint32_t id;
    };
    for (const std::uint64_t seed : {1ULL, 2ULL, 3ULL, 4ULL}) {
        Simulator sim;
        std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL;
        auto next = [&] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            return x;
        };
        auto unit = [&] { return static_cast<double>(next() >> 11) * 0x1.0p-53; };
        std::set<Ref> pending;
        std::vector<Ref> by_id;                 // id -> its reference entry
        std::vector<EventHandle> handles;       // id -> its handle
        std::uint64_t seq = 0;
        std::uint64_t dispatched = 0;
        std::size_t target = 3000;              // the population drifts toward this
        EventType<Ev> type;
        auto delay = [&]() -> double {
            const auto kind = next() % 16;
            if (kind == 0) return 0.0;                                              // now
            if (kind == 1) return static_cast<double>(next() % 4);                  // ties on integers
            if (kind == 2) return 1e6 * unit();                                     // far outliers
            if (kind == 3) return std::ldexp(unit(), -40);                          // tiny steps
            return 0.1 - 0.9 * std::log(1.0 - unit());                              // PHOLD-like
        };
        auto add = [&](Simulator& s) {
            const double d = delay();
            const int p = static_cast<int>(next() % 5) - 2;
            const auto id = static_cast<std::uint32_t>(by_id.size());
            const bool posted = next() % 3 == 0;
            EventHandle h;
            if (posted)
                s.post(type, d, Ev{id}, p);
            else
                h = s.schedule(type, d, Ev{id}, p);
            const Ref r{s.now() + d, p, seq++, id};
            by_id.push_back(r);
            handles.push_back(h);
            pending.insert(r);
            if (!posted) REQUIRE(s.time_of(h) == r.time);
        };
        auto cancel_or_move = [&](Simulator& s) {
            if (by_id.empty()) return;
            const auto id = static_cast<std::uint32_t>(next() % by_id.size());
            if (!handles[id].valid()) {  // posted: there is nothing to cancel it by
                REQUIRE_FALSE(s.pending(handles[id]));
                REQUIRE_FALSE(s.cancel(handles[id]));
                return;
            }
            const bool is_pending = pending.count(by_id[id]) == 1;
            REQUIRE(s.pending(handles[id]) == is_pending);
            if (!is_pending) {
                REQUIRE_FALSE(s.cancel(handles[id]));
                return;
            }
            pending.erase(by_id[id]);
            if (next() % 2 == 0) {
                REQUIRE(s.cancel(handles[id]));
            } else {
                const double t = s.now() + delay();
                handles[id] = s.reschedule(handles[id], t);
                by_id[id] = Ref{t, by_id[id].priority, seq++, id};
                pending.insert(by_id[id]);
            }
        };
        type = sim.on<Ev>([&](Simulator& s, const Ev& e) {
            REQUIRE_FALSE(pending.empty());
            const Ref expected = *pending.begin();
            REQUIRE(e.id == expected.id);
            REQUIRE(s.now() == expected.time);
            pending.erase(pending.begin());
            ++dispatched;
            // Schedule 0, 1 or 2 more (2 more often while below the target).
            const std::size_t more = pending.size() < target ? 1 + next() % 2 : next() % 2;
            for (std::size_t i = 0; i < more; ++i) add(s);
            if (next() % 8 == 0) cancel_or_move(s);
        });
        for (int i = 0; i < 2000; ++i) add(sim);
        for (int phase = 0; phase < 6; ++phase) {
            target = phase % 2 == 0 ? 10 : 4000;
            for (int i = 0; i < 12000 && sim.step(); ++i) {
                if (next() % 16 == 0) cancel_or_move(sim);
                REQUIRE(sim.pending_count() == pending.size());
            }
        }
        target = 0;  // handlers now add 0.5 events on average: the run drains
        sim.run();
        CHECK(pending.empty());
        CHECK(sim.pending_count() == 0);
        CHECK(dispatched > 50000);
    }
}

TEST_CASE("a burst of equal times, then spread-out times, keeps scheduling order within each time", "[kernel]") {
    Simulator sim;
    std::vector<std::pair<double, int>> seen;
    const auto type = sim.on<int>([&](Simulator& s, const int& id) { seen.emplace_back(s.now(), id); });
    int id = 0;
    for (int i = 0; i < 5000; ++i) sim.schedule_at(type, 7.0, id++);        // one time, many events
    for (int i = 0; i < 5000; ++i) sim.schedule_at(type, 7.0 + (i % 97) * 0.25, id++);
    sim.schedule_at(type, 1e12, id++);                                        // a far outlier
    sim.run();
    REQUIRE(seen.size() == 10001);
    for (std::size_t i = 1; i < seen.size(); ++i) {
        REQUIRE(seen[i - 1].first <= seen[i].first);
        if (seen[i - 1].first == seen[i].first) REQUIRE(seen[i - 1].second < seen[i].second);
    }
    CHECK(sim.now() == 1e12);
}

TEST_CASE("an event tied with the latest pending time still runs by priority", "[kernel]") {
    // 300 events spread over [0, 10], the last exactly at 10; the first one
    // schedules another at 10 with a lower priority value, which must run
    // before the earlier-scheduled event at 10 whatever tier each sits in.
    Simulator sim;
    std::vector<int> order;
    EventType<int> type;
    type = sim.on<int>([&](Simulator& s, const int& id) {
        order.push_back(id);
        if (id == 0) s.schedule_at(type, 10.0, 1000, -1);
    });
    for (int i = 0; i < 300; ++i) sim.schedule_at(type, i == 299 ? 10.0 : i * (10.0 / 299.0), i);
    sim.run();
    REQUIRE(order.size() == 301);
    CHECK(order[299] == 1000);
    CHECK(order[300] == 299);
}

TEST_CASE("a prefetch hint names events about to run and changes nothing", "[kernel]") {
    // A PHOLD-like workload (each event schedules one more at now + 0.1 +
    // Exp(0.9), with one event in 64 cancelled and replaced) run twice: with
    // a plain handler and with a prefetch hint. The hint must not change what
    // runs; each hinted event must be pending when hinted, and should
    // mostly be the event that runs second after the hint.
    struct Ev {
        std::uint32_t id;
    };
    auto run = [](bool with_hint, std::vector<std::uint32_t>& order, std::vector<std::uint32_t>& hints,
                  std::size_t& hinted_pending, std::size_t& hinted_second) {
        Simulator sim;
        std::uint64_t x = 0x2545F4914F6CDD1DULL;
        auto unit = [&] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            return static_cast<double>(x >> 11) * 0x1.0p-53;
        };
        std::vector<EventHandle> handles;
        std::uint32_t next_id = 0;
        std::vector<std::size_t> hinted_at;  // hints[k] was given after order.size() == hinted_at[k]
        EventType<Ev> type;
        auto add = [&](Simulator& s) {
            const EventHandle h = s.schedule(type, 0.1 - 0.9 * std::log(1.0 - unit()), Ev{next_id++});
            handles.push_back(h);
        };
        auto handler = [&](Simulator& s, const Ev& e) {
            order.push_back(e.id);
            add(s);
            if (order.size() % 64 == 0) {
                const std::uint32_t victim = static_cast<std::uint32_t>(unit() * static_cast<double>(handles.size()));
                if (s.cancel(handles[victim])) add(s);
            }
            if (order.size() == 60000) s.request_stop();
        };
        if (with_hint) {
            type = sim.on<Ev>(handler, [&](const Ev& e) noexcept {
                hints.push_back(e.id);
                hinted_at.push_back(order.size());
                if (e.id < handles.size() && sim.pending(handles[e.id])) ++hinted_pending;
            });
        } else {
            type = sim.on<Ev>(handler);
        }
        for (int i = 0; i < 4000; ++i) add(sim);
        sim.run();
        for (std::size_t k = 0; k < hints.size(); ++k)
            if (hinted_at[k] + 1 < order.size() && order[hinted_at[k] + 1] == hints[k]) ++hinted_second;
    };
    std::vector<std::uint32_t> plain, hinted, hints, unused;
    std::size_t pending = 0, second = 0, ignore = 0;
    run(false, plain, unused, ignore, ignore);
    run(true, hinted, hints, pending, second);
    REQUIRE(plain.size() == 60000);
    CHECK(hinted == plain);
    REQUIRE(hints.size() > 30000);
    CHECK(static_cast<double>(pending) >= 0.99 * static_cast<double>(hints.size()));
    CHECK(static_cast<double>(second) / static_cast<double>(hints.size()) > 0.9);
}

TEST_CASE("long chains of near-future events among spread-out ones keep the reference order", "[kernel]") {
    // 2,000 events spread over [0, 100] put the queue in bucket mode; some
    // of them start a chain of 0-delay or tiny-delay events (each pushed into
    // the bottom tier's current run, hundreds deep), so the run grows past its
    // limit and turns into a heap, and keys taken from its front are dropped
    // while it keeps being pushed into. The order must stay (time, scheduling
    // order) throughout (one priority: a lower one scheduled for now would
    // rightly run after the event scheduling it).
    struct Ev {
        std::uint32_t chain;
        std::uint32_t left;
    };
    Simulator sim;
    std::vector<std::pair<double, std::uint64_t>> seen;  // (time, scheduling number)
    std::vector<std::uint64_t> number_of;                        // by event id
    std::uint64_t scheduled = 0;
    EventType<Ev> type;
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    type = sim.on<Ev>([&](Simulator& s, const Ev& e) {
        seen.emplace_back(s.now(), number_of[e.chain]);
        if (e.left == 0) return;
        // Up to three followers: at now, at now + 2^-30 or at now + 2^-20.
        const auto followers = std::min<std::uint32_t>(1 + static_cast<std::uint32_t>(next() % 3), e.left);
        for (std::uint32_t f = 0; f < followers; ++f) {
            const auto k = next() % 3;
            const double dt = k == 0 ? 0.0 : (k == 1 ? std::ldexp(1.0, -30) : std::ldexp(1.0, -20));
            const auto id = static_cast<std::uint32_t>(number_of.size());
            number_of.push_back(scheduled++);
            s.schedule(type, dt, Ev{id, (e.left - followers) / followers});
        }
    });
    for (std::uint32_t i = 0; i < 2000; ++i) {
        const auto id = static_cast<std::uint32_t>(number_of.size());
        number_of.push_back(scheduled++);
        const double t = static_cast<double>(next() % 100000) * 1e-3;
        sim.schedule_at(type, t, Ev{id, i % 50 == 0 ? 3000u : 0u});
    }
    sim.run();
    INFO("events: " << seen.size());
    REQUIRE(seen.size() > 2000 + 40 * 500);
    CHECK(sim.pending_count() == 0);
    for (std::size_t i = 1; i < seen.size(); ++i) REQUIRE(seen[i - 1] < seen[i]);
}

TEST_CASE("posted events: ordered with scheduled ones, any payload size, checked like schedule", "[kernel]") {
    Simulator sim;
    struct Wide {
        std::uint32_t id;
        double extra;  // 16 bytes: travels in a slot, not in the key
    };
    std::vector<int> order;
    const auto small = sim.on<Tag>([&](Simulator&, const Tag& t) { order.push_back(t.id); });
    const auto wide = sim.on<Wide>([&](Simulator&, const Wide& w) {
        order.push_back(static_cast<int>(w.id));
        CHECK(w.extra == 0.5 * w.id);
    });
    sim.post(small, 2.0, Tag{1});
    const EventHandle h = sim.schedule(small, 1.0, Tag{2}, 1);
    sim.post(wide, 1.0, Wide{3, 1.5});
    sim.post(small, 1.0, Tag{4}, -1);
    sim.post(wide, 1.0, Wide{5, 2.5}, 1);
    sim.schedule(small, 0.0, Tag{6});
    sim.post(small, 0.0, Tag{7});
    CHECK(sim.pending_count() == 7);
    CHECK(sim.pending(h));
    // Time, then priority, then scheduling order across post() and schedule().
    sim.run();
    CHECK(order == std::vector<int>{6, 7, 4, 3, 2, 5, 1});
    CHECK(sim.pending_count() == 0);
    CHECK(sim.events_processed() == 7);

    CHECK_THROWS_AS(sim.post(small, -1.0, Tag{0}), KernelError);
    CHECK_THROWS_AS(sim.post(small, std::nan(""), Tag{0}), KernelError);
    CHECK_THROWS_AS(sim.post(small, std::numeric_limits<double>::infinity(), Tag{0}), KernelError);
    CHECK_THROWS_AS(sim.post(small, 1.0, Tag{0}, 40000), KernelError);
    CHECK(sim.pending_count() == 0);

    // A posted event never disturbs handles: slots freed and reused around posts stay distinct.
    const EventHandle a = sim.schedule(small, 1.0, Tag{8});
    sim.post(small, 0.5, Tag{9});
    CHECK(sim.cancel(a));
    const EventHandle b = sim.schedule(small, 1.0, Tag{10});
    CHECK_FALSE(sim.pending(a));
    CHECK(sim.pending(b));
    order.clear();
    sim.run();
    CHECK(order == std::vector<int>{9, 10});
}

TEST_CASE("a prefetch hint names posted events, with their payloads, before they run", "[kernel]") {
    Simulator sim;
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    auto unit = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<double>(x >> 11) * 0x1.0p-53;
    };
    std::uint32_t next_id = 0;
    std::vector<char> ran;
    std::size_t hints = 0, hinted_not_yet_run = 0;
    EventType<std::uint32_t> type;
    type = sim.on<std::uint32_t>(
        [&](Simulator& s, const std::uint32_t& id) {
            REQUIRE(id < ran.size());
            REQUIRE_FALSE(ran[id]);
            ran[id] = 1;
            ran.push_back(0);
            s.post(type, 0.1 - 0.9 * std::log(1.0 - unit()), next_id++);
            if (next_id == 50000) s.request_stop();
        },
        [&](const std::uint32_t& id) noexcept {
            ++hints;
            if (id < ran.size() && !ran[id]) ++hinted_not_yet_run;
        });
    for (int i = 0; i < 3000; ++i) {
        ran.push_back(0);
        sim.post(type, 0.1 - 0.9 * std::log(1.0 - unit()), next_id++);
    }
    sim.run();
    CHECK(sim.events_processed() == 50000 - 3000);
    CHECK(hints > sim.events_processed() / 2);
    CHECK(hinted_not_yet_run == hints);  // every hint names a pending posted event
}
