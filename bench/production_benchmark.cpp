// `twinsim-bench production`: the sample plant (scenarios/production/) on one
// core — its line (production::Line on the kernel) and the whole plant-q4
// scenario run (failures, shifts, KPI writes) — beside the same line written in
// SimPy 4 (bench/production_simpy.py) and salabim (bench/production_salabim.py),
// in interleaved rounds; medians of wall and CPU seconds, load and CPU model.

#include "production_benchmark.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench_support.hpp"
#include "peer_process.hpp"
#include "models/builtin.hpp"
#include "models/production/line.hpp"
#include "models/production/production_line.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/kernel/simulator.hpp"
#include "twinsim/scenario/input_paths.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::bench {

namespace {

constexpr double target_events_per_second = 10e6;
constexpr double target_speedup = 30.0;

namespace production = models::production;

struct EngineResult {
    double seconds = 0.0;
    double cpu_seconds = 0.0;
    std::uint64_t events = 0;
    std::uint64_t parts_out = 0;
    double cycle_sum = 0.0;
};

/// `replications` runs of the line alone on the kernel, to `horizon`.
EngineResult run_engine(const production::LineSpec& spec, int replications, double horizon, std::uint64_t seed) {
    EngineResult out;
    const auto start = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_used();
    for (int r = 0; r < replications; ++r) {
        kernel::Simulator sim;
        const kernel::StreamId id{seed, 0, static_cast<std::uint64_t>(r)};
        std::vector<kernel::RandomStream> sources, stations;
        for (std::size_t i = 0; i < spec.sources.size(); ++i) sources.emplace_back(id, 1 + i);
        for (std::size_t i = 0; i < spec.stations.size(); ++i) stations.emplace_back(id, 1 + spec.sources.size() + i);
        production::Line line(spec, sim, std::move(sources), std::move(stations));
        line.start();
        sim.run_until(horizon);
        out.events += sim.events_processed();
        const production::PlantStatistics p = line.plant();
        out.parts_out += p.parts_out;
        out.cycle_sum += p.mean_cycle * static_cast<double>(p.parts_out);
    }
    out.cpu_seconds = thread_cpu_used() - cpu0;
    out.seconds = seconds_since(start);
    return out;
}

/// Replication r of the prepared plant scenario (failures, shifts, KPI writes, recording).
EngineResult run_scenario(const std::shared_ptr<const scenario::PreparedScenario>& prepared, int replications) {
    EngineResult out;
    const auto start = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_used();
    for (int r = 0; r < replications; ++r) {
        scenario::Run run(prepared, static_cast<std::uint32_t>(r));
        run.run_to_end();
        const scenario::RunRecord record = run.finish();
        out.events += record.events_processed;
    }
    out.cpu_seconds = thread_cpu_used() - cpu0;
    out.seconds = seconds_since(start);
    return out;
}

nlohmann::json run_peer(const std::string& python, const std::string& script, const std::filesystem::path& spec,
                        int replications, double horizon, std::uint64_t seed, std::string& error) {
    return run_peer_json({python, script, spec.string(), "--replications", std::to_string(replications), "--seed",
                          std::to_string(seed), "--horizon", nlohmann::json(horizon).dump()},
                         error);
}


/// x / y, or null when y is not > 0 (a CPU time below the clock's resolution in a smoke run).
nlohmann::json ratio(double x, double y) { return y > 0.0 ? nlohmann::json(x / y) : nlohmann::json(nullptr); }

}  // namespace

int run_production(const ProductionBenchOptions& o) {
    const std::filesystem::path folder = std::filesystem::path(TWINSIM_SOURCE_DIR) / "scenarios" / "production";
    const std::filesystem::path scenario_file = o.scenario.empty() ? folder / "plant-q4.yaml" : std::filesystem::path(o.scenario);
    const MachineNote machine = machine_note();
    const std::string load_before = load_averages();

    // The plant, its scenario (parameters resolved as the CLI does) and the line it describes.
    scenario::ScenarioSpec spec = scenario::read_scenario_file(scenario_file);
    scenario::resolve_parameter_paths(spec, scenario_file.parent_path(), models::builtin_registry());
    graph::TwinGraph g;
    graph::import_ndjson(g, scenario_file.parent_path() / spec.base);
    const graph::Snapshot base = g.snapshot();
    spec.replications = static_cast<std::uint32_t>(std::max(1, o.scenario_replications));
    if (o.days > 0.0) spec.horizon = o.days * 86400.0;
    const std::shared_ptr<const scenario::PreparedScenario> prepared =
        scenario::prepare(spec, base, models::builtin_registry());
    nlohmann::json parameters;
    for (const scenario::ModelBindingSpec& b : spec.models)
        if (b.model == "production_line") parameters = b.parameters;
    std::vector<graph::TwinIndex> twins;
    const auto element = base.models()->find("dtmi:twinsim:production:Element;1");
    for (const graph::TwinIndex t : base.twins())
        if (element && base.models()->is_a(base.twin_model(t), *element)) twins.push_back(t);
    const production::LineSpec line = models::production_line_spec(base, twins, parameters, spec.start);
    double horizon = line.demand.empty() ? 92 * 86400.0 : line.demand.back().time + 30 * 86400.0;
    if (o.days > 0.0) horizon = o.days * 86400.0;

    // The peers read the line from a JSON file.
    const std::filesystem::path spec_file =
        std::filesystem::temp_directory_path() /
        std::filesystem::path(std::string("twinsim-bench-production-").append(std::to_string(::getpid())).append(".json"));
    std::ofstream(spec_file) << line.to_json().dump();
    struct Remove {
        std::filesystem::path path;
        ~Remove() { std::filesystem::remove(path); }
    } remove{spec_file};

    std::vector<double> eng_s, eng_cpu, run_s, run_cpu, simpy_s, simpy_cpu, salabim_s, salabim_cpu;
    EngineResult engine, whole;
    nlohmann::json simpy_last, salabim_last;
    std::string simpy_error = o.python.empty() ? "no --python given" : "";
    std::string salabim_error = simpy_error;
    for (int round = 0; round < o.rounds; ++round) {
        engine = run_engine(line, o.replications, horizon, o.seed);
        eng_s.push_back(engine.seconds / o.replications);
        eng_cpu.push_back(engine.cpu_seconds / o.replications);
        whole = run_scenario(prepared, o.scenario_replications);
        run_s.push_back(whole.seconds / o.scenario_replications);
        run_cpu.push_back(whole.cpu_seconds / o.scenario_replications);
        if (simpy_error.empty()) {
            nlohmann::json p = run_peer(o.python, o.simpy_script, spec_file, o.peer_replications, horizon, o.seed, simpy_error);
            if (p.is_object()) {
                simpy_s.push_back(p["seconds"].get<double>() / o.peer_replications);
                simpy_cpu.push_back(p["cpu_seconds"].get<double>() / o.peer_replications);
                simpy_last = std::move(p);
            }
        }
        if (salabim_error.empty()) {
            nlohmann::json p =
                run_peer(o.python, o.salabim_script, spec_file, o.peer_replications, horizon, o.seed, salabim_error);
            if (p.is_object()) {
                salabim_s.push_back(p["seconds"].get<double>() / o.peer_replications);
                salabim_cpu.push_back(p["cpu_seconds"].get<double>() / o.peer_replications);
                salabim_last = std::move(p);
            }
        }
    }

    const double events_per_rep = static_cast<double>(engine.events) / o.replications;
    const double eng_cpu_med = median(eng_cpu), eng_s_med = median(eng_s);
    nlohmann::ordered_json out;
    out["benchmark"] = "production";
    out["command"] = "twinsim-bench production";
    out["machine"] = {{"cpu", machine.cpu}, {"cores", machine.cores}, {"load_before", load_before},
                      {"load_after", load_averages()}};
    out["rounds"] = o.rounds;
    out["plant"] = {{"scenario", scenario_file.string()},
                    {"stations", line.stations.size()},
                    {"products", line.products.size()},
                    {"pools", line.pools.size()},
                    {"orders", line.demand.size()},
                    {"horizon_days", horizon / 86400.0}};
    out["twinsim_line"] = {
        {"what", "the plant's line on the kernel (production::Line), one core, no failures or shifts: the peers' line"},
        {"replications_per_round", o.replications},
        {"events_per_replication", events_per_rep},
        {"replication_seconds_median", eng_s_med},
        {"replication_cpu_seconds_median", eng_cpu_med},
        {"events_per_second", events_per_rep / eng_s_med},
        {"events_per_cpu_second", ratio(events_per_rep, eng_cpu_med)},
        {"target_events_per_second", target_events_per_second},
        {"meets_target", eng_cpu_med > 0.0 && events_per_rep / eng_cpu_med >= target_events_per_second},
        {"parts_out_per_replication", static_cast<double>(engine.parts_out) / o.replications},
        {"mean_cycle_hours", engine.parts_out > 0 ? engine.cycle_sum / static_cast<double>(engine.parts_out) / 3600.0 : 0.0}};
    const double run_events = static_cast<double>(whole.events) / o.scenario_replications;
    out["twinsim_scenario"] = {
        {"what", "the whole plant-q4 scenario run: the line with random failures (availability), the shift calendar "
                 "(schedule), daily KPI writes and recording"},
        {"replications_per_round", o.scenario_replications},
        {"events_per_replication", run_events},
        {"replication_seconds_median", median(run_s)},
        {"replication_cpu_seconds_median", median(run_cpu)},
        {"events_per_cpu_second", ratio(run_events, median(run_cpu))}};
    auto peer = [&](const std::vector<double>& s, const std::vector<double>& cpu, const nlohmann::json& last,
                    const std::string& error) {
        nlohmann::ordered_json p;
        if (cpu.empty()) {
            p["error"] = error;
            return p;
        }
        p["version"] = last.value("version", "");
        p["replications_per_round"] = o.peer_replications;
        p["replication_seconds_median"] = median(s);
        p["replication_cpu_seconds_median"] = median(cpu);
        p["parts_out_per_replication"] = last["parts_out"].get<double>() / o.peer_replications;
        p["mean_cycle_hours"] = last["mean_cycle_hours"];
        if (last.contains("events")) p["own_events_per_replication"] = last["events"].get<double>() / o.peer_replications;
        // The same line over the same simulated span: twinsim's events in the peer's CPU time.
        p["twinsim_events_per_peer_cpu_second"] = ratio(events_per_rep, median(cpu));
        p["twinsim_speedup_cpu"] = ratio(median(cpu), eng_cpu_med);
        p["twinsim_speedup_wall"] = ratio(median(s), eng_s_med);
        p["target_speedup"] = target_speedup;
        p["meets_target"] = eng_cpu_med > 0.0 && median(cpu) / eng_cpu_med >= target_speedup;
        return p;
    };
    out["simpy"] = peer(simpy_s, simpy_cpu, simpy_last, simpy_error);
    out["salabim"] = peer(salabim_s, salabim_cpu, salabim_last, salabim_error);
    std::cout << out.dump(2) << std::endl;
    return 0;
}

ProductionBenchCommand::ProductionBenchCommand(CLI::App& app) {
    command_ = app.add_subcommand(
        "production",
        "The sample plant (scenarios/production/plant-q4.yaml) on one core: events/s of its line (target 10 M/s) and "
        "of the whole scenario run, beside the same line in SimPy 4 and salabim (target 30x each), interleaved rounds");
    command_->add_option("--rounds", options_.rounds, "Interleaved rounds (medians reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    command_->add_option("--replications", options_.replications, "twinsim line replications per round")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    command_->add_option("--scenario-replications", options_.scenario_replications,
                         "replications of the whole scenario per round")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    command_->add_option("--peer-replications", options_.peer_replications, "SimPy and salabim replications per round")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    command_->add_option("--days", options_.days, "Simulated days (default: the demand's last release + 30)")
        ->check(CLI::Range(0.001, 1e6));
    command_->add_option("--scenario", options_.scenario, "The scenario (default scenarios/production/plant-q4.yaml)");
    command_->add_option("--seed", options_.seed, "Seed")->capture_default_str();
#ifdef TWINSIM_BENCH_PYTHON
    options_.python = TWINSIM_BENCH_PYTHON;
#endif
    command_->add_option("--python", options_.python, "Python with simpy and salabim for the peers (\"\" = none)")
        ->capture_default_str();
    options_.simpy_script = std::string(TWINSIM_SOURCE_DIR) + "/bench/production_simpy.py";
    options_.salabim_script = std::string(TWINSIM_SOURCE_DIR) + "/bench/production_salabim.py";
    command_->add_flag("--smoke", smoke_, "Five simulated days, one round, one replication each (for CI)");
}

std::optional<int> ProductionBenchCommand::run() {
    if (!command_->parsed()) return std::nullopt;
    if (smoke_) {
        options_.rounds = 1;
        options_.replications = 1;
        options_.scenario_replications = 1;
        options_.peer_replications = 1;
        options_.days = 5.0;
    }
    return run_production(options_);
}

}  // namespace twinsim::bench
