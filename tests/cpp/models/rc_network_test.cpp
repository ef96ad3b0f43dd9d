// The thermal_zones numerics alone (models/building/rc_network.hpp): no graph,
// no scenario, only the network, checked against closed-form solutions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "models/building/rc_network.hpp"

using twinsim::models::phi12;
using twinsim::models::RcNetwork;

namespace {

// One zone, air node only: C dT/dt = h (T_out - T) - q.
constexpr double capacity = 2.0e5;  // J/K
constexpr double conductance = 80.0;  // W/K to outdoors
constexpr double outdoor = 10.0;    // degC
constexpr double start = 30.0;      // degC
constexpr double dt = 600.0;        // s

RcNetwork one_zone(RcNetwork::Integrator integrator) {
    RcNetwork::Zones zones;
    zones.air_capacity = {capacity};
    zones.to_outdoor = {conductance};
    RcNetwork net(zones, dt, integrator);
    const std::vector<double> t0{start};
    net.set_temperatures(t0);
    return net;
}

}  // namespace

TEST_CASE("rc network, exact: one zone decays exponentially toward outdoors", "[models]") {
    RcNetwork net = one_zone(RcNetwork::Integrator::exact);
    REQUIRE(net.exact());
    CHECK(net.states() == 1);
    CHECK_FALSE(net.has_mass());
    CHECK(std::isnan(net.mass_temperature(0)));
    const std::vector<double> drive{conductance * outdoor}, none{0.0};
    const double tau = capacity / conductance;  // 2500 s
    for (int k = 1; k <= 24; ++k) {
        const double before = net.air_temperature(0);
        net.hold_inputs(drive, none);
        const RcNetwork::StepResult r = net.advance(none, conductance * outdoor);
        const double expected = outdoor + (start - outdoor) * std::exp(-k * dt / tau);
        INFO("step " << k);
        CHECK(net.air_temperature(0) == Approx(expected).epsilon(1e-12));
        // No gains and no sinks: what the room loses to outdoors is what it stored less.
        CHECK(r.stored == Approx(capacity * (net.air_temperature(0) - before)).epsilon(1e-12));
        CHECK(r.outdoor_loss == Approx(-r.stored).epsilon(1e-9));
    }
}

TEST_CASE("rc network, exact: a sink held over the step lowers the end by its response", "[models]") {
    RcNetwork net = one_zone(RcNetwork::Integrator::exact);
    const std::vector<double> drive{conductance * outdoor}, none{0.0};
    net.hold_inputs(drive, none);
    const double free_end = net.free_air_temperature(0);
    CHECK(free_end == Approx(outdoor + (start - outdoor) * std::exp(-dt * conductance / capacity)).epsilon(1e-12));
    // K per W held over dt: (1 - e^{-h dt / C}) / h.
    const double gamma = (1.0 - std::exp(-dt * conductance / capacity)) / conductance;
    CHECK(net.self_response(0) == Approx(gamma).epsilon(1e-12));
    CHECK(net.response(0, 0) == Approx(gamma).epsilon(1e-12));
    const std::vector<double> sink{1500.0};
    net.advance(sink, conductance * outdoor);
    CHECK(net.air_temperature(0) == Approx(free_end - gamma * 1500.0).epsilon(1e-12));
}

TEST_CASE("rc network, implicit: one zone follows backward Euler toward outdoors", "[models]") {
    RcNetwork net = one_zone(RcNetwork::Integrator::implicit);
    REQUIRE_FALSE(net.exact());
    const std::vector<double> drive{conductance * outdoor}, none{0.0};
    double euler = start;
    for (int k = 1; k <= 24; ++k) {
        net.hold_inputs(drive, none);
        net.advance(none, conductance * outdoor);
        euler = (capacity * euler + dt * conductance * outdoor) / (capacity + dt * conductance);
        INFO("step " << k);
        CHECK(net.air_temperature(0) == Approx(euler).epsilon(1e-12));
        // First order in dt: within a few percent of the exact decay at dt = tau / 4.
        const double exact = outdoor + (start - outdoor) * std::exp(-k * dt * conductance / capacity);
        CHECK(std::abs(net.air_temperature(0) - exact) < 0.05 * (start - outdoor));
    }
    CHECK(net.self_response(0) == Approx(dt / (capacity + dt * conductance)).epsilon(1e-12));
    std::vector<double> drop;
    const std::vector<double> sink{1000.0};
    net.sink_response(sink, drop);
    CHECK(drop.at(0) == Approx(1000.0 * dt / (capacity + dt * conductance)).epsilon(1e-12));
}

TEST_CASE("rc network: adjacency decides the groups, and mass nodes start at the air temperature", "[models]") {
    RcNetwork::Zones zones;
    zones.air_capacity = {1e5, 1e5, 1e5};
    zones.to_outdoor = {50.0, 50.0, 50.0};
    zones.mass_capacity = {1e6, 1e6, 1e6};
    zones.air_to_mass = {200.0, 200.0, 200.0};
    zones.adjacent = {{0, 2}};
    zones.adjacent_conductance = 30.0;
    RcNetwork net(zones, 300.0, RcNetwork::Integrator::automatic, 400.0);
    CHECK(net.exact());
    CHECK(net.has_mass());
    CHECK(net.states() == 6);
    std::vector<std::vector<std::uint32_t>> groups = net.groups();
    std::sort(groups.begin(), groups.end());
    CHECK(groups == std::vector<std::vector<std::uint32_t>>{{0, 2}, {1}});
    CHECK(net.response(1, 0) == 0.0);
    CHECK(net.response(2, 0) > 0.0);
    CHECK(net.response(2, 0) == Approx(net.response(0, 2)).epsilon(1e-12));  // symmetric
    const std::vector<double> t0{20.0, 22.0, 24.0};
    net.set_temperatures(t0);
    CHECK(net.mass_temperature(1) == 22.0);
    // A group larger than max_exact_states nodes takes the implicit integrator.
    CHECK_FALSE(RcNetwork(zones, 300.0, RcNetwork::Integrator::automatic, 0.5).exact());
}

TEST_CASE("rc network: each group's dense air response is the network's response to a sink", "[models]") {
    // Two groups (zones 0-1-2 in a row, zone 3 alone), mass nodes: the thermostats'
    // matrices (group_response) against sink_response (implicit: one sparse solve per
    // unit sink) and response() (exact: Gamma's entries).
    RcNetwork::Zones zones;
    zones.air_capacity = {1e5, 2e5, 1.5e5, 1e5};
    zones.to_outdoor = {50.0, 40.0, 60.0, 30.0};
    zones.mass_capacity = {1e6, 2e6, 1e6, 3e6};
    zones.air_to_mass = {200.0, 300.0, 250.0, 100.0};
    zones.adjacent = {{0, 1}, {1, 2}};
    zones.adjacent_conductance = 30.0;
    for (const auto integrator : {RcNetwork::Integrator::exact, RcNetwork::Integrator::implicit}) {
        RcNetwork net(zones, 300.0, integrator);
        REQUIRE(net.has_group_responses());
        REQUIRE(net.groups().size() == 2);
        for (std::size_t k = 0; k < net.groups().size(); ++k) {
            const std::vector<std::uint32_t>& group = net.groups()[k];
            const auto g = net.group_response(k);
            REQUIRE(g.size() == group.size() * group.size());
            for (std::size_t b = 0; b < group.size(); ++b) {
                std::vector<double> expected(group.size());
                if (net.exact()) {
                    for (std::size_t a = 0; a < group.size(); ++a) expected[a] = net.response(group[a], group[b]);
                } else {
                    std::vector<double> sink(zones.air_capacity.size(), 0.0), drop;
                    sink[group[b]] = 1.0;
                    net.sink_response(sink, drop);
                    for (std::size_t a = 0; a < group.size(); ++a) expected[a] = drop[group[a]];
                }
                for (std::size_t a = 0; a < group.size(); ++a) {
                    INFO("exact " << net.exact() << ", group " << k << ", (" << a << ", " << b << ")");
                    CHECK(g[a * group.size() + b] == Approx(expected[a]).epsilon(1e-12));
                    CHECK(g[a * group.size() + b] == Approx(g[b * group.size() + a]).epsilon(1e-12));  // symmetric
                    CHECK(g[a * group.size() + b] > 0.0);
                }
            }
        }
    }
    // A group of more than max_group_response_zones rooms: the implicit controller iterates instead.
    RcNetwork::Zones row;
    const std::size_t n = RcNetwork::max_group_response_zones + 1;
    row.air_capacity.assign(n, 1e5);
    row.to_outdoor.assign(n, 50.0);
    for (std::uint32_t i = 1; i < n; ++i) row.adjacent.emplace_back(i - 1, i);
    row.adjacent_conductance = 30.0;
    CHECK_FALSE(RcNetwork(row, 300.0, RcNetwork::Integrator::implicit).has_group_responses());
    CHECK(RcNetwork(row, 300.0, RcNetwork::Integrator::exact).has_group_responses());
}

TEST_CASE("phi12 matches its closed form and its series", "[models]") {
    for (const double z : {-0.05, -0.2, -3.0, -40.0}) {
        INFO(z);
        const auto [p1, p2] = phi12(z);
        CHECK(p1 == Approx(std::expm1(z) / z).epsilon(1e-12));
        CHECK(p2 == Approx((std::expm1(z) - z) / (z * z)).epsilon(1e-9));
    }
    // Near 0 the closed form cancels; the series' first terms hold.
    const auto [q1, q2] = phi12(-1e-6);
    CHECK(q1 == Approx(1.0 - 1e-6 / 2 + 1e-12 / 6).epsilon(1e-14));
    CHECK(q2 == Approx(0.5 - 1e-6 / 6 + 1e-12 / 24).epsilon(1e-14));
    const auto [p1, p2] = phi12(0.0);
    CHECK(p1 == 1.0);
    CHECK(p2 == 0.5);
}

TEST_CASE("rc network, implicit: groups of every shape, numbered out of order, solve as one dense backward-Euler system",
          "[models]") {
    // 13 groups of one shape (a row of 3 rooms: more than one batch of interleaved groups,
    // the last one partly filled), a ring of 5 and a level of 6 (every pair adjacent)
    // whose rooms are numbered out of order, and a room alone; every room different.
    RcNetwork::Zones zones;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
    std::uint32_t next = 0;
    for (int g = 0; g < 13; ++g, next += 3) {
        pairs.emplace_back(next + 2, next);  // the row 1 - 0 - 2 (0 in the middle)
        pairs.emplace_back(next, next + 1);
    }
    const std::uint32_t ring[5] = {next + 3, next, next + 4, next + 1, next + 2};
    for (int k = 0; k < 5; ++k) pairs.emplace_back(ring[k], ring[(k + 1) % 5]);
    next += 5;
    for (std::uint32_t a = 0; a < 6; ++a)
        for (std::uint32_t b = a + 1; b < 6; ++b) pairs.emplace_back(next + (a * 5) % 6, next + (b * 5) % 6);
    next += 6;
    const std::uint32_t nz = next + 1;  // and one room alone
    for (std::uint32_t i = 0; i < nz; ++i) {
        const double f = 1.0 + 0.37 * std::sin(1.3 * i);
        zones.air_capacity.push_back(6.0e4 * f);
        zones.to_outdoor.push_back(30.0 / f);
        zones.mass_capacity.push_back(2.0e6 * (2.0 - f));
        zones.air_to_mass.push_back(400.0 * f);
    }
    zones.adjacent = pairs;
    zones.adjacent_conductance = 25.0;
    RcNetwork net(zones, 300.0, RcNetwork::Integrator::implicit);
    REQUIRE_FALSE(net.exact());
    CHECK(net.groups().size() == 13 + 1 + 1 + 1);

    // The reference: M x1 = C x0 + dt (u - q), M = C + dt L, dense, air node 2i, mass node 2i + 1.
    const std::size_t n = 2 * nz;
    std::vector<double> m(n * n, 0.0), c(n, 0.0);
    auto couple = [&](std::size_t a, std::size_t b, double h) {
        m[a * n + a] += 300.0 * h;
        m[b * n + b] += 300.0 * h;
        m[a * n + b] -= 300.0 * h;
        m[b * n + a] -= 300.0 * h;
    };
    for (std::uint32_t i = 0; i < nz; ++i) {
        c[2 * i] = zones.air_capacity[i];
        c[2 * i + 1] = zones.mass_capacity[i];
        m[2 * i * n + 2 * i] += 300.0 * zones.to_outdoor[i];
        couple(2 * i, 2 * i + 1, zones.air_to_mass[i]);
    }
    for (const auto& [a, b] : pairs) couple(2 * a, 2 * b, 25.0);
    for (std::size_t k = 0; k < n; ++k) m[k * n + k] += c[k];
    auto solve = [&](std::vector<double> r) {  // Gaussian elimination (M is SPD: no pivoting needed)
        std::vector<double> a = m;
        for (std::size_t k = 0; k < n; ++k)
            for (std::size_t i = k + 1; i < n; ++i) {
                const double f = a[i * n + k] / a[k * n + k];
                if (f == 0.0) continue;
                for (std::size_t j = k; j < n; ++j) a[i * n + j] -= f * a[k * n + j];
                r[i] -= f * r[k];
            }
        for (std::size_t k = n; k-- > 0;) {
            for (std::size_t j = k + 1; j < n; ++j) r[k] -= a[k * n + j] * r[j];
            r[k] /= a[k * n + k];
        }
        return r;
    };

    std::vector<double> x(n), air0(nz);
    for (std::uint32_t i = 0; i < nz; ++i) air0[i] = x[2 * i] = x[2 * i + 1] = 20.0 + 0.5 * i;
    net.set_temperatures(air0);
    for (std::uint32_t step = 0; step < 4; ++step) {
        std::vector<double> air_in(nz), mass_in(nz), sink(nz, 0.0);
        for (std::uint32_t i = 0; i < nz; ++i) {
            air_in[i] = zones.to_outdoor[i] * 31.0 + 200.0 + 10.0 * i;
            mass_in[i] = 150.0 + 5.0 * ((i * 7) % 11);
            if ((i + step) % 3 == 0 && i < 39) sink[i] = 800.0 + 20.0 * i;  // some groups with sinks, some without
        }
        net.hold_inputs(air_in, mass_in);
        std::vector<double> free(n);
        for (std::size_t k = 0; k < n; ++k) free[k] = c[k] * x[k] + 300.0 * (k % 2 == 0 ? air_in[k / 2] : mass_in[k / 2]);
        free = solve(free);
        for (std::uint32_t i = 0; i < nz; ++i) CHECK(net.free_air_temperature(i) == Approx(free[2 * i]).epsilon(1e-12));
        std::vector<double> drop;
        net.sink_response(sink, drop);
        std::vector<double> q(n, 0.0);
        for (std::uint32_t i = 0; i < nz; ++i) q[2 * i] = 300.0 * sink[i];
        const std::vector<double> response = solve(q);
        for (std::uint32_t i = 0; i < nz; ++i) CHECK(drop[i] == Approx(response[2 * i]).margin(1e-12));
        (void)net.advance(sink, 0.0);
        for (std::size_t k = 0; k < n; ++k) x[k] = free[k] - response[k];
        INFO("step " << step);
        for (std::uint32_t i = 0; i < nz; ++i) {
            CHECK(net.air_temperature(i) == Approx(x[2 * i]).epsilon(1e-12));
            CHECK(net.mass_temperature(i) == Approx(x[2 * i + 1]).epsilon(1e-12));
        }
    }
}
