// `twinsim-bench fleet`: 10,000 units x 1,000 replications of a one-year horizon
// under condition-based maintenance (models/equipment/maintenance.md), through
// the fleet fast path models::simulate_unit — the maintenance behaviour's model
// and draws, proven equal to it unit by unit in tests/cpp/models/maintenance_test.cpp —
// on one thread and on `threads`, beside a vectorised NumPy simulation of the
// same fleet and policy (bench/fleet_numpy.py) in interleaved rounds.
// Target: the full run under 10 s on two cores.

#include "fleet_benchmark.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "peer_process.hpp"
#include "models/equipment/maintenance.hpp"
#include "twinsim/common/statistics.hpp"
#include "twinsim/kernel/rng.hpp"

namespace twinsim::bench {
namespace {

using models::MaintenancePlan;
using models::UnitLives;
using models::UnitOutcome;

// The fleet and policy, the same numbers as bench/fleet_numpy.py.
constexpr double beta = 2.5;
constexpr double b0 = 10.0, b_load = -0.9, b_temperature = -0.02;
constexpr double golden = 0.6180339887498949, sqrt2 = 0.4142135623730951, sqrt3 = 0.7320508075688772;

MaintenancePlan plan() {
    MaintenancePlan p;
    p.policy = models::MaintenancePolicy::condition;
    p.risk_horizon = 168.0;
    p.risk_threshold = 0.02;
    p.lead_time = 72.0;
    p.repair_time = 12.0;
    p.replacement_time = 4.0;
    p.failure_cost = 12000.0;
    p.planned_cost = 2500.0;
    p.unplanned_downtime_cost = 400.0;
    p.planned_downtime_cost = 50.0;
    return p;
}

std::vector<UnitLives> fleet(std::size_t units, const MaintenancePlan& p) {
    std::vector<UnitLives> lives;
    lives.reserve(units);
    for (std::size_t i = 0; i < units; ++i) {
        const double x = static_cast<double>(i);
        const double load = 0.4 + 0.7 * std::fmod(x * golden, 1.0);
        const double temperature = 20.0 + 25.0 * std::fmod(x * sqrt2, 1.0);
        const double age = 4000.0 * std::fmod(x * sqrt3, 1.0);
        const models::WeibullLife life(beta, std::exp(b0 + b_load * load + b_temperature * temperature));
        lives.push_back(models::unit_lives(p, life, age, life));
    }
    return lives;
}

/// Fleet totals of one replication.
struct Totals {
    double failures = 0, planned = 0, unplanned_h = 0, planned_h = 0, cost = 0;
    friend bool operator==(const Totals&, const Totals&) = default;
};

struct Measured {
    double seconds = 0.0;
    double cpu_seconds = 0.0;
    std::vector<Totals> totals;  ///< per replication
};

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// The whole job: lives resolved per unit, then every (replication, unit) on
/// `threads` threads, each replication summed in unit order (so the totals do
/// not depend on the thread count). Unit i of replication r draws from the
/// stream a scenario run gives twin i of the first binding: Run::twin_stream.
Measured simulate(const FleetBenchOptions& o, unsigned threads) {
    Measured m;
    const double cpu0 = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    const MaintenancePlan p = plan();
    const std::vector<UnitLives> lives = fleet(o.units, p);
    m.totals.resize(o.replications);
    const auto work = [&](std::size_t first, std::size_t last) {
        for (std::size_t r = first; r < last; ++r) {
            const kernel::PhiloxKey key = kernel::run_key({o.seed, 0, r});
            Totals t;
            for (std::size_t i = 0; i < lives.size(); ++i) {
                const UnitOutcome u =
                    models::simulate_unit(p, lives[i], o.horizon_hours, key, (std::uint64_t{1} << 32) | i);
                t.failures += u.failures;
                t.planned += u.planned;
                t.unplanned_h += u.unplanned_downtime;
                t.planned_h += u.planned_downtime;
                t.cost += u.cost;
            }
            m.totals[r] = t;
        }
    };
    std::vector<std::thread> pool;
    const std::size_t per = (o.replications + threads - 1) / threads;
    for (unsigned k = 1; k < threads; ++k)
        pool.emplace_back(work, std::min(o.replications, k * per), std::min(o.replications, (k + 1) * per));
    work(0, std::min(o.replications, per));
    for (std::thread& t : pool) t.join();
    m.seconds = seconds_since(start);
    m.cpu_seconds = cpu_seconds() - cpu0;
    return m;
}

nlohmann::ordered_json summary(const std::vector<Totals>& totals, double Totals::*field) {
    std::vector<double> values;
    values.reserve(totals.size());
    for (const Totals& t : totals) values.push_back(t.*field);
    const SampleSummary s = summarize_sample(values);
    return {{"mean", s.mean}, {"ci95_low", s.ci95_low}, {"ci95_high", s.ci95_high}};
}

/// The peer's JSON line, or an error text.
nlohmann::json run_peer(const FleetBenchOptions& o, std::string& error) {
    return run_peer_json({o.python, o.peer_script, "--units", std::to_string(o.units), "--replications",
                          std::to_string(o.replications), "--seed", std::to_string(o.seed)},
                         error);
}

nlohmann::ordered_json timing(const std::vector<double>& seconds, const std::vector<double>& cpu, double unit_reps) {
    const Stats s = stats(seconds);
    const Stats c = stats(cpu);
    return {{"seconds_median", s.median},
            {"seconds_min", s.min},
            {"cpu_seconds_median", c.median},
            {"units_per_second", unit_reps / s.median},
            {"units_per_cpu_second", unit_reps / c.median}};
}

int run_fleet(const FleetBenchOptions& o) {
    const std::string load_before = load_averages();
    const double unit_reps = static_cast<double>(o.units) * static_cast<double>(o.replications);
    std::vector<double> one_s, one_cpu, many_s, many_cpu, peer_s, peer_cpu;
    Measured last_one, last_many;
    nlohmann::json peer_last;
    std::string peer_error = o.python.empty() ? "no --python given" : "";
    for (int round = 0; round < o.rounds; ++round) {
        last_one = simulate(o, 1);
        one_s.push_back(last_one.seconds);
        one_cpu.push_back(last_one.cpu_seconds);
        last_many = simulate(o, o.threads);
        many_s.push_back(last_many.seconds);
        many_cpu.push_back(last_many.cpu_seconds);
        if (peer_error.empty()) {
            nlohmann::json peer = run_peer(o, peer_error);
            if (peer.is_object()) {
                peer_s.push_back(peer["seconds"].get<double>());
                peer_cpu.push_back(peer["cpu_seconds"].get<double>());
                peer_last = std::move(peer);
            }
        }
    }
    const bool identical = last_one.totals == last_many.totals;

    nlohmann::ordered_json out;
    out["benchmark"] = "fleet";
    out["what"] = "condition-based maintenance (replace once P(fail within 168 h | age) >= 0.02) of a fleet of Weibull "
                  "AFT units, one-year horizon, lead time 72 h, repair 12 h, replacement 4 h, unlimited crews; "
                  "models::simulate_unit (the maintenance behaviour's model and draws)";
    out["units"] = o.units;
    out["replications"] = o.replications;
    out["horizon_hours"] = o.horizon_hours;
    out["rounds"] = o.rounds;
    out["machine"] = {{"cpu", machine_note().cpu},
                      {"cores", std::thread::hardware_concurrency()},
                      {"loadavg_before", load_before},
                      {"loadavg_after", load_averages()}};
    out["twinsim_1_thread"] = timing(one_s, one_cpu, unit_reps);
    out["twinsim_" + std::to_string(o.threads) + "_threads"] = timing(many_s, many_cpu, unit_reps);
    out["identical_across_threads"] = identical;
    out["fleet_per_year"] = {{"failures", summary(last_one.totals, &Totals::failures)},
                             {"planned", summary(last_one.totals, &Totals::planned)},
                             {"unplanned_h", summary(last_one.totals, &Totals::unplanned_h)},
                             {"planned_h", summary(last_one.totals, &Totals::planned_h)},
                             {"cost", summary(last_one.totals, &Totals::cost)}};
    if (!peer_s.empty()) {
        nlohmann::ordered_json peer = timing(peer_s, peer_cpu, unit_reps);
        peer["what"] = peer_last["peer"];
        peer["fleet_per_year"] = peer_last["fleet_per_year"];
        out["numpy_1_core"] = std::move(peer);
        out["speedup_1_thread_vs_numpy"] = stats(peer_s).median / stats(one_s).median;
        out["cpu_ratio_numpy_vs_twinsim"] = stats(peer_cpu).median / stats(one_cpu).median;
    } else {
        out["numpy_1_core"] = nullptr;
        out["peer_error"] = peer_error;
    }
    const double full = stats(many_s).median;
    out["target"] = {{"what", "the full run (10,000 units x 1,000 replications) under 10 s on two cores"},
                     {"seconds", full},
                     {"met", o.units * o.replications >= 10000000 ? nlohmann::ordered_json(full < 10.0)
                                                                  : nlohmann::ordered_json(nullptr)}};
    std::cout << out.dump(2) << '\n';
    return identical ? exit_ok : exit_failed;
}

}  // namespace

FleetBenchCommand::FleetBenchCommand(CLI::App& app) {
    command_ = app.add_subcommand(
        "fleet", "Condition-based maintenance of N units x R replications of a year (target: 10,000 x 1,000 under "
                 "10 s on two cores) on 1 and on T threads, beside a vectorised NumPy peer, interleaved rounds");
    command_->add_option("--units", options_.units, "Units in the fleet")->capture_default_str()->check(
        CLI::Range(std::size_t{1}, std::size_t{100000000}));
    command_->add_option("--replications", options_.replications, "Replications")->capture_default_str()->check(
        CLI::Range(std::size_t{1}, std::size_t{100000000}));
    command_->add_option("--threads", options_.threads, "Threads of the parallel measurement")
        ->capture_default_str()
        ->check(CLI::Range(1U, 1024U));
    command_->add_option("--rounds", options_.rounds, "Interleaved rounds (medians reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    command_->add_option("--seed", options_.seed, "Seed")->capture_default_str();
#ifdef TWINSIM_BENCH_PYTHON
    options_.python = TWINSIM_BENCH_PYTHON;
#endif
    command_->add_option("--python", options_.python, "Python with NumPy for the peer (\"\" = no peer)")
        ->capture_default_str();
    options_.peer_script = std::string(TWINSIM_SOURCE_DIR) + "/bench/fleet_numpy.py";
    command_->add_option("--peer", options_.peer_script, "The peer script")->capture_default_str();
    command_->add_flag("--smoke", smoke_, "200 units x 20 replications, one round (for CI)");
}

std::optional<int> FleetBenchCommand::run() {
    if (!command_->parsed()) return std::nullopt;
    if (smoke_) {
        options_.units = 200;
        options_.replications = 20;
        options_.rounds = 1;
    }
    return run_fleet(options_);
}

}  // namespace twinsim::bench
