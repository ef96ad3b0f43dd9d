// `twinsim-bench parallel`: the runner's scaling. One job of independent runs
// of the bundled building (61 rooms relaxing toward their setpoints with
// disturbances, occupancy queues, chillers failing at random) is run through
// scenario::run_job on 1 thread, then on N threads, without a results file
// (the HDF5 writer is one thread by design and is measured by `hdf5`). Both
// must give identical KPIs; the speed-up is the ratio of wall times.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench_support.hpp"
#include "models/builtin.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::bench {

namespace {

constexpr double target_speedup = 1.8;

std::string scenario_text(std::uint32_t runs, double hours) {
    std::string text = R"Y(
name: parallel
base: live
start: "2026-07-01T00:00:00Z"
step: 60
seed: 1
models:
  - model: relaxation
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {property: temperature, target: temperatureSetpoint, time_constant: PT2H, noise: 0.3}
  - model: queue
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND capacity > 0"
    parameters: {property: occupancy, arrival_rate: 1.5, mean_service: PT1H, servers: capacity}
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters: {capacity_property: coolingCapacity, mtbf: PT12H, repair_time: PT2H, repair_distribution: exponential}
recording:
  series:
    - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
      properties: [temperature]
      interval: PT5M
kpis:
  - {name: hot hours, statistic: time_above, where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", property: temperature, threshold: 26, over: max}
  - {name: occupancy, statistic: mean, where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND capacity > 0", property: occupancy, over: sum}
  - {name: capacity, statistic: integral, where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')", property: coolingCapacity, over: sum}
)Y";
    text += "horizon: " + std::to_string(hours * 3600.0) + "\nreplications: " + std::to_string(runs) + "\n";
    return text;
}

}  // namespace

int run_parallel(const ParallelOptions& options) {
    const std::filesystem::path root = TWINSIM_SOURCE_DIR;
    graph::TwinGraph g;
    {
        const std::filesystem::path models[] = {root / "models" / "building"};
        auto docs = dtdl::read_documents(models);
        g.add_models(docs);
        (void)graph::import_ndjson(g, root / "scenarios" / "building" / "building.ndjson");
    }
    const auto spec = scenario::scenario_from_yaml(scenario_text(options.runs, options.hours), "parallel");
    const auto scenarios = scenario::prepare_all({spec}, g.snapshot(), models::builtin_registry());

    auto time_job = [&](unsigned threads) {
        scenario::RunnerOptions o;
        o.threads = threads;
        const auto start = std::chrono::steady_clock::now();
        auto result = scenario::run_job(scenarios, {}, o);
        return std::make_pair(seconds_since(start), std::move(result));
    };
    (void)time_job(options.threads);  // warm-up: page in code and data
    const auto [one, r1] = time_job(1);
    const auto [many, rn] = time_job(options.threads);
    bool identical = r1.kpis.size() == rn.kpis.size() && r1.failures.empty() && rn.failures.empty();
    for (std::size_t i = 0; identical && i < r1.kpis.size(); ++i)
        identical = r1.kpis[i].mean == rn.kpis[i].mean && r1.kpis[i].std == rn.kpis[i].std;
    const double speedup = one / many;
    nlohmann::json j{{"benchmark", "parallel"},
                     {"runs", options.runs},
                     {"simulated_hours_per_run", options.hours},
                     {"twins", g.twin_count()},
                     {"events_per_run", static_cast<double>(r1.progress.events) / options.runs},
                     {"threads", options.threads},
                     {"hardware_threads", std::thread::hardware_concurrency()},
                     {"seconds_1_thread", one},
                     {"seconds_n_threads", many},
                     {"runs_per_second_1_thread", options.runs / one},
                     {"runs_per_second_n_threads", options.runs / many},
                     {"speedup", speedup},
                     {"target_speedup", target_speedup},
                     {"meets_target", options.threads == 2 ? nlohmann::json(speedup >= target_speedup) : nlohmann::json()},
                     {"identical_kpis", identical}};
    std::cout << j.dump() << std::endl;
    return identical ? exit_ok : exit_failed;
}

}  // namespace twinsim::bench
