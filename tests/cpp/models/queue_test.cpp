// queue: M/M/c(/K) per twin checked against queueing theory (models/generic/queue.md).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models/generic/queue.hpp"
#include "models_fixtures.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const scenario::BehaviourModel& queue() { return *models::builtin_registry().find("queue"); }

/// Erlang's loss formula B(c, a) for c servers and offered load a (erlangs).
double erlang_b(int c, double a) {
    double b = 1.0;
    for (int k = 1; k <= c; ++k) b = a * b / (k + a * b);
    return b;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("queue M/M/1 (lambda 1/s, mu 1.1/s): time-average number in system lambda / (mu - lambda) = 10", "[models]") {
    const auto t0 = std::chrono::steady_clock::now();
    const graph::Snapshot g = test::fleet(test::room_model, "room", 1, {{"occupancy", 0}});
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const scenario::Binding b = test::bind(
        g, "queue", {{"property", "occupancy"}, {"arrival_rate", 3600.0}, {"mean_service", 1.0 / 1.1}}, rooms);
    queue().check(b);
    scenario::Run run(g, test::run_options(2026));
    auto behaviour = queue().instantiate(b, run);
    run.start_behaviour(*behaviour);
    const double horizon = 2e6;  // ~2M customers
    run.advance_to(horizon);
    const models::QueueStatistics s = *models::queue_statistics(*behaviour, 0, run.simulator().now());
    const double elapsed = seconds_since(t0);
    // Asymptotic sd of the time average for M/M/1: sqrt(2 rho (1 + rho) / (mu (1 - rho)^4 T)) ~ 0.15 here.
    INFO("time average " << s.time_average << ", arrivals " << s.arrivals << ", served " << s.served << ", "
                         << elapsed << " s");
    CHECK(s.time_average == Approx(10.0).epsilon(0.05));
    CHECK(static_cast<double>(s.arrivals) == Approx(horizon).epsilon(0.01));
    CHECK(s.lost == 0);
    CHECK(s.arrivals == s.served + static_cast<std::uint64_t>(s.in_system));
    // The property holds the number in system.
    CHECK(*run.value(rooms[0], test::column_of(g, rooms[0], "occupancy")) == static_cast<double>(s.in_system));
}

TEST_CASE("queue M/M/c/c (servers and room from the capacity property): blocking = Erlang B", "[models]") {
    const auto t0 = std::chrono::steady_clock::now();
    const int c = 5;
    const double a = 4.0;  // erlangs: lambda 1/s, mean service 4 s
    const graph::Snapshot g = test::fleet(test::room_model, "room", 10, {{"capacity", c}});
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const scenario::Binding b = test::bind(g, "queue",
                                           {{"property", "occupancy"},
                                            {"arrival_rate", 3600.0},
                                            {"mean_service", a},
                                            {"servers", "capacity"},
                                            {"max_in_system", "capacity"}},
                                           rooms);
    queue().check(b);
    scenario::Run run(g, test::run_options(11));
    auto behaviour = queue().instantiate(b, run);
    run.start_behaviour(*behaviour);
    run.advance_to(50'000.0);
    std::uint64_t arrivals = 0;
    std::uint64_t lost = 0;
    double carried = 0.0;
    for (std::size_t i = 0; i < rooms.size(); ++i) {
        const models::QueueStatistics s = *models::queue_statistics(*behaviour, i, run.simulator().now());
        CHECK(s.servers == c);
        CHECK(s.in_system <= c);
        arrivals += s.arrivals;
        lost += s.lost;
        carried += s.time_average / static_cast<double>(rooms.size());
    }
    const double blocking = static_cast<double>(lost) / static_cast<double>(arrivals);
    const double theory = erlang_b(c, a);  // 0.19910
    const double elapsed = seconds_since(t0);
    INFO("blocking " << blocking << " (Erlang B " << theory << "), carried load " << carried << " (theory "
                     << a * (1.0 - theory) << "), " << arrivals << " arrivals, " << elapsed << " s");
    CHECK(blocking == Approx(theory).epsilon(0.03));
    CHECK(carried == Approx(a * (1.0 - theory)).epsilon(0.02));
}

TEST_CASE("queue starts from the property's value, empties without arrivals, and is deterministic", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    SECTION("no arrivals: everyone present at time 0 leaves") {
        const scenario::Binding b = test::bind(
            g, "queue",
            {{"property", "occupancy"}, {"arrival_rate", 0}, {"mean_service", "PT30M"}, {"servers", 50}}, rooms);
        scenario::Run run(g, test::run_options());
        auto behaviour = queue().instantiate(b, run);
        run.start_behaviour(*behaviour);
        run.advance_to(48 * 3600.0);
        std::int64_t initial = 0;
        for (std::size_t i = 0; i < rooms.size(); ++i) {
            const models::QueueStatistics s = *models::queue_statistics(*behaviour, i, run.simulator().now());
            const auto n0 = g.get_property(g.twin_id(rooms[i]), "occupancy")->get<std::int64_t>();
            initial += n0;
            CHECK(s.in_system == 0);
            CHECK(s.arrivals == 0);
            CHECK(s.served == static_cast<std::uint64_t>(n0));
            CHECK(*run.value(rooms[i], test::column_of(g, rooms[i], "occupancy")) == 0.0);
        }
        CHECK(initial > 0);
    }
    SECTION("same seed, same history; another replication differs") {
        const scenario::Binding b =
            test::bind(g, "queue", {{"property", "occupancy"}, {"arrival_rate", 12}, {"mean_service", 600}}, rooms);
        auto run_once = [&](std::uint64_t replication) {
            scenario::Run run(g, test::run_options(5, replication));
            auto behaviour = queue().instantiate(b, run);
            run.start_behaviour(*behaviour);
            run.advance_to(24 * 3600.0);
            std::vector<double> out;
            for (std::size_t i = 0; i < rooms.size(); ++i) {
                const models::QueueStatistics s = *models::queue_statistics(*behaviour, i, run.simulator().now());
                out.push_back(static_cast<double>(s.arrivals));
                out.push_back(s.time_average);
            }
            return out;
        };
        const std::vector<double> a = run_once(0);
        CHECK(a == run_once(0));
        CHECK(a != run_once(1));
    }
}

TEST_CASE("queue refuses bad parameters, naming the parameter", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const json good = {{"property", "occupancy"}, {"arrival_rate", 10}, {"mean_service", "PT20M"}};
    auto error = [&](const json& parameters) {
        return test::parameter_error([&] { queue().check(test::bind(g, "queue", parameters, rooms)); });
    };
    auto with = [&](const std::string& key, const json& value) {
        json p = good;
        p[key] = value;
        return p;
    };
    CHECK(error(good).empty());
    CHECK(error(with("servers", "capacity")).empty());
    CHECK(error(with("max_in_system", 0)).empty());
    CHECK(error(with("arrival_rate", "${rate}")).empty());
    CHECK(error(json{{"arrival_rate", 10}, {"mean_service", 60}}) == "property");
    CHECK(error(with("property", "name")) == "property");
    CHECK(error(with("property", "usage")) == "property");
    CHECK(error(with("arrival_rate", -1)) == "arrival_rate");
    CHECK(error(with("mean_service", 0)) == "mean_service");
    CHECK(error(with("servers", 0)) == "servers");
    CHECK(error(with("servers", 1.5)) == "servers");
    CHECK(error(with("servers", "name")) == "servers");
    CHECK(error(with("servers", "nonexistent")) == "servers");
    CHECK(error(with("max_in_system", -1)) == "max_in_system");
    CHECK(error(with("rate", 3)) == "rate");

    // servers from a property that is unset/zero on some twin: refused when the run starts.
    const scenario::Binding b = test::bind(g, "queue", with("servers", "capacity"), rooms);  // room-plant: capacity 0
    scenario::Run run(g, test::run_options());
    auto behaviour = queue().instantiate(b, run);
    CHECK_THROWS_WITH(run.start_behaviour(*behaviour), Catch::Contains("room-plant") && Catch::Contains("servers"));
}

TEST_CASE("queue service level (wait_threshold): P(wait <= t) of M/M/c against Erlang C", "[models][select]") {
    // 100 calls/h, 240 s handling, 10 agents, t = 20 s: a = 6.667 erlangs,
    // C(c, a) = c B / (c - a (1 - B)) = 0.1746, P(W <= t) = 1 - C e^{-(c - a) t / AHT} = 0.8678.
    const int c = 10;
    const double a = 100.0 * 240.0 / 3600.0;
    const double b = erlang_b(c, a);
    const double erlang_c = c * b / (c - a * (1 - b));
    const double expected = 1.0 - erlang_c * std::exp(-(c - a) * 20.0 / 240.0);
    CHECK(expected == Approx(0.8678).margin(5e-5));
    const graph::Snapshot g = test::fleet(test::room_model, "desk", 1, {{"occupancy", 0}});
    const std::vector<graph::TwinIndex> desks = test::twins_of(g, test::room_model);
    // The service level goes to a double property of the twin (a room's temperature, in this test).
    const scenario::Binding bound = test::bind(g, "queue",
                                               {{"property", "occupancy"},
                                                {"arrival_rate", 100.0},
                                                {"mean_service", 240.0},
                                                {"servers", c},
                                                {"wait_threshold", 20.0},
                                                {"answered_property", "temperature"}},
                                               desks);
    queue().check(bound);
    scenario::Run run(g, test::run_options(17));
    auto behaviour = queue().instantiate(bound, run);
    run.start_behaviour(*behaviour);
    run.advance_to(2e6);  // ~55,000 calls
    const models::QueueStatistics s = *models::queue_statistics(*behaviour, 0, run.simulator().now());
    const double level = static_cast<double>(s.answered_in_time) / static_cast<double>(s.started);
    INFO("service level " << level << " over " << s.started << " calls");
    CHECK(level == Approx(expected).margin(0.01));
    CHECK(*run.value(desks[0], test::column_of(g, desks[0], "temperature")) == level);
    CHECK(s.started + static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.in_system - c)) == s.arrivals);

    SECTION("the two parameters go together") {
        const scenario::Binding half =
            test::bind(g, "queue", {{"property", "occupancy"}, {"arrival_rate", 1.0}, {"mean_service", 1.0},
                                    {"wait_threshold", 20.0}}, desks);
        CHECK_THROWS_WITH(queue().check(half), Catch::Contains("wait_threshold and answered_property go together"));
    }
}
