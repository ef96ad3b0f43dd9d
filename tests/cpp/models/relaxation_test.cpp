// relaxation: exact first-order relaxation toward a target (models/generic/relaxation.md).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models_fixtures.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const scenario::BehaviourModel& relaxation() { return *models::builtin_registry().find("relaxation"); }

}  // namespace

TEST_CASE("relaxation follows x(t) = target + (x0 - target) exp(-t/tau) at every step point", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    REQUIRE(rooms.size() == 61);
    const std::vector<double> x0 = [&] {
        std::vector<double> v;
        for (const graph::TwinIndex t : rooms) v.push_back(*g.get_property(g.twin_id(t), "temperature")->get_ptr<const double*>());
        return v;
    }();

    SECTION("a number as target, tau as an ISO duration, the default 60 s step of a bare run") {
        const scenario::Binding b =
            test::bind(g, "relaxation", {{"property", "temperature"}, {"target", 30.0}, {"time_constant", "PT2H"}}, rooms);
        relaxation().check(b);
        scenario::Run run(g, test::run_options());
        auto behaviour = relaxation().instantiate(b, run);
        run.start_behaviour(*behaviour);
        double worst = 0.0;
        for (int k = 0; k <= 720; ++k) {  // 12 h
            const double t = 60.0 * k;
            run.advance_to(t);
            const std::vector<double> x = test::temperatures(run, g, rooms);
            for (std::size_t i = 0; i < rooms.size(); ++i) {
                const double exact = 30.0 + (x0[i] - 30.0) * std::exp(-t / 7200.0);
                worst = std::max(worst, std::abs(x[i] - exact) / std::abs(exact));
            }
        }
        INFO("worst relative error " << worst);
        CHECK(worst < 1e-12);
        // One kernel event per step for all 61 rooms.
        CHECK(run.simulator().events_processed() == 720);
    }

    SECTION("another property as target, an explicit step") {
        const scenario::Binding b = test::bind(
            g, "relaxation",
            {{"property", "temperature"}, {"target", "temperatureSetpoint"}, {"time_constant", 1800}, {"step", 300}},
            rooms);
        relaxation().check(b);
        scenario::Run run(g, test::run_options());
        auto behaviour = relaxation().instantiate(b, run);
        run.start_behaviour(*behaviour);
        double worst = 0.0;
        for (int k = 0; k <= 48; ++k) {  // 4 h
            const double t = 300.0 * k;
            run.advance_to(t);
            const std::vector<double> x = test::temperatures(run, g, rooms);
            for (std::size_t i = 0; i < rooms.size(); ++i) {
                const double target = g.get_property(g.twin_id(rooms[i]), "temperatureSetpoint")->get<double>();
                const double exact = target + (x0[i] - target) * std::exp(-t / 1800.0);
                worst = std::max(worst, std::abs(x[i] - exact) / std::abs(exact));
            }
        }
        INFO("worst relative error " << worst);
        CHECK(worst < 1e-12);
    }
}

TEST_CASE("relaxation without noise is deterministic and ignores the seed", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const scenario::Binding b =
        test::bind(g, "relaxation", {{"property", "temperature"}, {"target", 18.0}, {"time_constant", 900}}, rooms);
    auto run_once = [&](std::uint64_t seed) {
        scenario::Run run(g, test::run_options(seed));
        auto behaviour = relaxation().instantiate(b, run);
        run.start_behaviour(*behaviour);
        run.advance_to(3 * 3600.0);
        return test::temperatures(run, g, rooms);
    };
    const std::vector<double> a = run_once(1);
    CHECK(a == run_once(1));
    CHECK(a == run_once(99));
}

TEST_CASE("relaxation noise: same seed same values, per-twin streams, stationary variance noise^2 / (1 - a^2)", "[models]") {
    const int n = 2000;
    const graph::Snapshot g = test::fleet(test::room_model, "room", n, {{"temperature", 20.0}});
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const double tau = 600.0;
    const double sigma = 0.2;
    const scenario::Binding b = test::bind(
        g, "relaxation", {{"property", "temperature"}, {"target", 20.0}, {"time_constant", tau}, {"noise", sigma}}, rooms, 3);
    auto run_once = [&](std::uint64_t seed, std::uint64_t replication) {
        scenario::Run run(g, test::run_options(seed, replication));
        auto behaviour = relaxation().instantiate(b, run);
        run.start_behaviour(*behaviour);
        run.advance_to(20 * tau);  // long enough to forget x0 = target
        return test::temperatures(run, g, rooms);
    };
    const std::vector<double> a = run_once(7, 0);
    CHECK(a == run_once(7, 0));   // bit-identical
    CHECK(a != run_once(7, 1));   // another replication
    CHECK(a != run_once(8, 0));   // another seed

    // All twins start equal and see the same dynamics: only their own streams set them apart.
    std::vector<double> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());

    // x_{k+1} - T = a (x_k - T) + e_k, e_k ~ N(0, sigma^2): stationary variance sigma^2 / (1 - a^2).
    // Pooled over replications 0..4 (n twins each): 5 n independent values.
    const double decay = std::exp(-60.0 / tau);
    const double expected = sigma * sigma / (1.0 - decay * decay);
    std::vector<double> all = a;
    for (std::uint64_t r = 1; r < 5; ++r) {
        const std::vector<double> more = run_once(7, r);
        all.insert(all.end(), more.begin(), more.end());
    }
    const auto m = static_cast<double>(all.size());
    double mean = 0.0;
    for (const double x : all) mean += x;
    mean /= m;
    double variance = 0.0;
    for (const double x : all) variance += (x - mean) * (x - mean);
    variance /= m - 1.0;
    INFO("mean " << mean << ", variance " << variance << " (theory " << expected << ") over " << all.size() << " values");
    CHECK(std::abs(mean - 20.0) < 4.0 * std::sqrt(expected / m));
    CHECK(variance == Approx(expected).epsilon(0.06));  // sd of the estimate sqrt(2 / m) = 1.4 %
}

TEST_CASE("relaxation refuses bad parameters, naming the parameter", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const json good = {{"property", "temperature"}, {"target", 21.0}, {"time_constant", 600}};
    auto error = [&](const json& parameters, const std::vector<graph::TwinIndex>& twins) {
        return test::parameter_error([&] { relaxation().check(test::bind(g, "relaxation", parameters, twins)); });
    };
    auto with = [&](const std::string& key, const json& value) {
        json p = good;
        p[key] = value;
        return p;
    };
    auto without = [&](const std::string& key) {
        json p = good;
        p.erase(key);
        return p;
    };

    CHECK(error(good, rooms).empty());
    CHECK(error(with("time_constant", "PT10M"), rooms).empty());
    CHECK(error(with("time_constant", "${tau}"), rooms).empty());  // drawn per replication: checked later
    CHECK(error(without("property"), rooms) == "property");
    CHECK(error(without("time_constant"), rooms) == "time_constant");
    CHECK(error(without("target"), rooms) == "target");
    CHECK(error(with("time_constant", -5), rooms) == "time_constant");
    CHECK(error(with("time_constant", 0), rooms) == "time_constant");
    CHECK(error(with("time_constant", "soon"), rooms) == "time_constant");
    CHECK(error(with("noise", -0.1), rooms) == "noise");
    CHECK(error(with("step", 0), rooms) == "step");
    CHECK(error(with("tau", 600), rooms) == "tau");  // unknown parameter
    CHECK(error(with("property", "name"), rooms) == "property");       // a string
    CHECK(error(with("property", "occupancy"), rooms) == "property");  // an integer cannot relax
    CHECK(error(with("property", "nonexistent"), rooms) == "property");
    CHECK(error(with("target", "usage"), rooms) == "target");  // an enum

    // A selection where one twin (a chiller) lacks the property.
    std::vector<graph::TwinIndex> mixed = rooms;
    mixed.push_back(*g.find("chiller-1"));
    std::sort(mixed.begin(), mixed.end());
    CHECK(error(good, mixed) == "property");

    // instantiate() needs every reference resolved.
    scenario::Run run(g, test::run_options());
    CHECK(test::parameter_error([&] {
              (void)relaxation().instantiate(test::bind(g, "relaxation", with("time_constant", "${tau}"), rooms), run);
          }) == "time_constant");
}
