// `twinsim-bench replay` (docs/replay.md, "Speed"): replaying a month of
// recorded history for the 10,000-zone building against simulating the same
// month without replay.
//
// The building: the bundled sample building copied to N rooms (as
// `twinsim-bench building`). The month "simulated": thermal_zones on every
// room at a 5-minute step, its inputs computed by models: occupancy by
// `queue` (Poisson arrivals, exponential stays, every room with a capacity)
// and the chillers' capacity by `availability` (random failures, MTBF 10
// days, 6-hour repairs). The history: that simulation run once, its
// occupancy and chiller capacities recorded as a BMS logs them on change of
// value (one row per change, at the 5-minute resolution of the run), written
// to an HDF5 history file (docs/history-format.md) in a temporary folder.
// The month "replayed": thermal_zones alone, the same inputs driven by the
// history through the scenario's `replay:` section (step interpolation).
//
// Both scenarios compute the same KPI (every room's peak temperature, mean
// over rooms) and record no series; both run through scenario::run_job on
// one thread without a results file. Rounds interleave: simulate, then
// replay. Per side the medians of the run's wall and CPU seconds and of the
// setup (prepare; for the replay this includes reading the history file and
// resampling every input) are printed, with the ratio replay / simulate.
// The replay reproduces the simulation: the two KPIs are printed with their
// difference (a check that the same month was computed).
#include "replay_benchmark.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "models/builtin.hpp"
#include "scaled_building.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/io/history_file.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::bench {

namespace {

constexpr const char* rooms_where = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')";
constexpr const char* chillers_where = "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')";

std::string window(const std::string& name, double days) {
    return "name: " + name + "\nbase: live\nstart: \"2026-07-01T00:00:00Z\"\nhorizon: PT" +
           std::to_string(static_cast<long long>(std::llround(days * 24.0))) + "H\nstep: PT5M\nseed: 1\n";
}

std::string thermal_binding() {
    return std::string("  - model: thermal_zones\n    where: \"") + rooms_where +
           "\"\n    parameters: {outdoor_mean: 27, outdoor_amplitude: 7, outdoor_peak_hour: 15}\n";
}

std::string kpi() {
    return std::string("kpis:\n  - {name: peak room temperature, statistic: max, where: \"") + rooms_where +
           "\", property: temperature, over: mean}\n";
}

/// The month with its inputs computed by models; `record`: with the
/// on-change series the history is made of (the generating run only).
std::string simulate_yaml(double days, bool record) {
    std::string y = window("simulated", days) + "behaviours:\n" + "  - model: queue\n    where: \"" + rooms_where +
                    " AND capacity > 0\"\n    parameters: {property: occupancy, arrival_rate: 0.1, mean_service: "
                    "PT3H, servers: capacity, max_in_system: capacity}\n" +
                    "  - model: availability\n    where: \"" + chillers_where +
                    "\"\n    parameters: {capacity_property: coolingCapacity, state_property: operatingState, "
                    "mtbf: 864000, repair_time: 21600}\n" +
                    thermal_binding();
    if (record)
        y += std::string("recording:\n  events: false\n  series:\n    - where: \"") + rooms_where +
             "\"\n      properties: [occupancy]\n      on_change: true\n    - where: \"" + chillers_where +
             "\"\n      properties: [coolingCapacity]\n      on_change: true\n";
    return y + kpi();
}

/// The month with the same inputs driven by the recorded history.
std::string replay_yaml(double days, const std::filesystem::path& history) {
    return window("replayed", days) + "behaviours:\n" + thermal_binding() + kpi() + "replay:\n  source: " +
           nlohmann::json(history.string()).dump() + "\n  interpolation: step\n  compare: false\n  inputs:\n" +
           "    - {where: \"" + rooms_where + "\", property: occupancy}\n" + "    - {where: \"" + chillers_where +
           "\", property: coolingCapacity}\n";
}

/// The on-change series of a run as history rows (property updates), as a
/// store's recorder would hold them.
io::HistoryTables history_of(const scenario::PreparedScenario& p, const scenario::RunRecord& r) {
    io::HistoryTables t;
    t.source = "twinsim-bench replay";
    auto& u = t.property_updates;
    for (std::size_t s = 0; s < p.series.size(); ++s) {
        const scenario::SeriesPlan& plan = p.series[s];
        for (const auto& c : r.changes[s]) {
            if (std::isnan(c.value)) continue;
            u.time_ns.push_back(p.spec.start.ns + std::llround(c.time * 1e9));
            u.source_time_ns.push_back(io::no_time);
            u.id.push_back(plan.twin_ids[c.twin]);
            u.model_id.push_back(plan.model);
            u.key.push_back(plan.property);
            u.value.push_back(nlohmann::json(c.value).dump());
            u.unit.emplace_back();
            u.relationship_id.emplace_back();
            u.relationship_target.emplace_back();
            u.action.emplace_back("Update");
            u.sequence.push_back(u.sequence.size() + 1);
        }
    }
    return t;
}

struct Timed {
    double setup_seconds = 0.0, setup_cpu_seconds = 0.0;
    double run_seconds = 0.0, run_cpu_seconds = 0.0;
    std::uint64_t events = 0;
    std::size_t failures = 0;
    std::string first_failure;
    double kpi = std::nan("");
    std::size_t replay_targets = 0;
};

Timed measure(const std::string& yaml, const graph::Snapshot& base) {
    Timed m;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_used();
    const auto spec = scenario::scenario_from_yaml(yaml, "replay-bench.yaml");
    const auto scenarios = scenario::prepare_all({spec}, base, models::builtin_registry());
    m.setup_seconds = seconds_since(t0);
    m.setup_cpu_seconds = process_cpu_used() - c0;
    if (scenarios.front()->replay) m.replay_targets = scenarios.front()->replay->targets.size();

    scenario::RunnerOptions o;
    o.threads = 1;
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = process_cpu_used();
    const scenario::JobResult result = scenario::run_job(scenarios, {}, o);
    m.run_seconds = seconds_since(t1);
    m.run_cpu_seconds = process_cpu_used() - c1;
    m.events = result.progress.events;
    m.failures = result.failures.size();
    if (!result.failures.empty()) m.first_failure = result.failures.front().message;
    if (!result.kpis.empty()) m.kpi = result.kpis.front().mean;
    return m;
}


nlohmann::json side(const std::vector<Timed>& rounds) {
    std::vector<double> run, run_cpu, setup, setup_cpu;
    for (const Timed& t : rounds) {
        run.push_back(t.run_seconds);
        run_cpu.push_back(t.run_cpu_seconds);
        setup.push_back(t.setup_seconds);
        setup_cpu.push_back(t.setup_cpu_seconds);
    }
    return {{"run_seconds_median", median(run)},
            {"run_cpu_seconds_median", median(run_cpu)},
            {"setup_seconds_median", median(setup)},
            {"setup_cpu_seconds_median", median(setup_cpu)},
            {"run_seconds", run},
            {"events", rounds.back().events},
            {"peak_room_temperature_mean", rounds.back().kpi}};
}

}  // namespace

int run_replay(const ReplayBenchOptions& options) {
    const std::filesystem::path root = TWINSIM_SOURCE_DIR;
    const std::string load_before = load_averages();
    if (!options.keep.empty()) std::filesystem::create_directories(options.keep);
    ScratchFile scratch("replay", options.keep.empty() ? std::string() : options.keep + "/building.ndjson");
    const std::filesystem::path history_file = scratch.path().parent_path() / "history.h5";
    (void)write_scaled_building(root / "scenarios" / "building" / "building.ndjson", scratch.path(), options.zones);

    graph::TwinGraph g;
    const std::filesystem::path models[] = {root / "models" / "building"};
    g.add_models(dtdl::read_documents(models));
    (void)graph::import_ndjson(g, scratch.path());
    const graph::Snapshot base = g.snapshot();
    std::size_t rooms = 0;
    if (const auto room = base.models()->find("dtmi:twinsim:building:Room;1"))
        for (const graph::TwinIndex t : base.twins())
            if (base.models()->is_a(base.twin_model(t), *room)) ++rooms;

    // The history: the simulated month run once, its inputs recorded.
    const auto t0 = std::chrono::steady_clock::now();
    io::HistoryFileCounts rows;
    {
        const auto recorder = scenario::prepare(scenario::scenario_from_yaml(simulate_yaml(options.days, true)), base,
                                                models::builtin_registry());
        scenario::Run run(recorder, 0);
        run.run_to_end();
        const scenario::RunRecord record = run.finish();
        rows = io::write_history_file(history_file, history_of(*recorder, record));
    }
    const double generate_seconds = seconds_since(t0);
    const std::uint64_t history_bytes = std::filesystem::file_size(history_file);

    std::vector<Timed> simulated, replayed;
    for (int r = 0; r < options.rounds; ++r) {
        simulated.push_back(measure(simulate_yaml(options.days, false), base));
        replayed.push_back(measure(replay_yaml(options.days, history_file), base));
    }

    std::size_t failures = 0;
    std::string first_failure;
    for (const auto* v : {&simulated, &replayed})
        for (const Timed& t : *v) {
            failures += t.failures;
            if (first_failure.empty()) first_failure = t.first_failure;
        }
    const nlohmann::json sim = side(simulated);
    const nlohmann::json rep = side(replayed);
    const double ratio = rep["run_seconds_median"].get<double>() / sim["run_seconds_median"].get<double>();
    const double cpu_ratio = rep["run_cpu_seconds_median"].get<double>() / sim["run_cpu_seconds_median"].get<double>();
    const double total_ratio =
        (rep["run_seconds_median"].get<double>() + rep["setup_seconds_median"].get<double>()) /
        (sim["run_seconds_median"].get<double>() + sim["setup_seconds_median"].get<double>());
    const MachineNote machine = machine_note();
    nlohmann::json j{
        {"benchmark", "replay"},
        {"zones", rooms},
        {"days", options.days},
        {"step_seconds", 300},
        {"threads", 1},
        {"rounds", options.rounds},
        {"history", {{"rows", rows.property_updates},
                     {"file_bytes", history_bytes},
                     {"generate_seconds", generate_seconds},
                     {"what", "occupancy of every room and capacity of every chiller, on change of value"}}},
        {"replay_targets", replayed.back().replay_targets},
        {"simulate", sim},
        {"replay", rep},
        {"ratio_replay_over_simulate_run", ratio},
        {"ratio_replay_over_simulate_run_cpu", cpu_ratio},
        {"ratio_replay_over_simulate_with_setup", total_ratio},
        {"kpi_difference", std::abs(rep["peak_room_temperature_mean"].get<double>() -
                                    sim["peak_room_temperature_mean"].get<double>())},
        {"target", {{"what", "replay at least as fast as simulating the same month (run, wall, median)"},
                    {"met", ratio <= 1.0}}},
        {"machine", {{"cpu", machine.cpu}, {"cores", machine.cores}, {"loadavg_before", load_before},
                     {"loadavg_after", load_averages()}}},
        {"peak_rss_mb", static_cast<double>(proc_status_bytes("VmHWM")) / (1024.0 * 1024.0)},
        {"failures", failures}};
    if (!first_failure.empty()) j["first_failure"] = first_failure;
    std::cout << j.dump() << std::endl;
    return failures == 0 ? exit_ok : exit_failed;
}

ReplayBenchCommand::ReplayBenchCommand(CLI::App& app) {
    command_ = app.add_subcommand(
        "replay", "A month of recorded history (occupancy, chiller capacity) replayed through thermal_zones on the "
                  "building copied to N zones, beside the same month simulated with the models computing those "
                  "inputs; interleaved rounds, one thread (target: replay at least as fast)");
    command_->add_option("--zones", options_.zones, "Rooms N of the scaled building")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    command_->add_option("--days", options_.days, "Days of the window")
        ->capture_default_str()
        ->check(CLI::Range(1.0 / 24.0, 366.0));
    command_->add_option("--rounds", options_.rounds, "Interleaved rounds (medians reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    command_->add_option("--keep", options_.keep, "Keep the generated building and history in this folder");
    command_->add_flag("--smoke", smoke_, "The bundled building's 61 rooms, one day, one round (for CI)");
}

std::optional<int> ReplayBenchCommand::run() {
    if (!command_->parsed()) return std::nullopt;
    if (smoke_) {
        options_.zones = 61;
        options_.days = 1.0;
        options_.rounds = 1;
    }
    return run_replay(options_);
}

}  // namespace twinsim::bench
