// `twinsim-bench building`: the thermal_zones model through the runner at
// scale. The bundled building (scenarios/building/building.ndjson: 61 rooms,
// its AHUs, chillers, pumps and sensors) is copied as many times as needed for
// N rooms (ids prefixed "b0000-", ...; rooms beyond N left out, with their
// relationships), then one simulated day at a 5-minute step is run through
// scenario::run_job on one thread without a results file, thermal_zones bound
// to every room. The bundled building itself is measured the same way in the
// same process, and a plain NumPy explicit RC-network loop of the same zones
// (bench/building_numpy.py, run as a child process), in interleaved rounds;
// medians are reported. Targets (wall clock): the bundled building's day
// < 0.2 s per replication; 10,000 zones at most 1 s, and at most 3x the NumPy
// loop (issue 16). The process CPU time is reported beside the wall time: on a
// loaded machine the two differ.
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "bench_support.hpp"
#include "peer_process.hpp"
#include "scaled_building.hpp"
#include "models/builtin.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::bench {

namespace {

constexpr double target_bundled_seconds = 0.2;
constexpr double target_10000_seconds = 1.0;  // issue 16 (was 2 s)
constexpr double target_numpy_ratio = 3.0;    // issue 16: at most 3x the NumPy explicit loop
constexpr const char* room_model = "dtmi:twinsim:building:Room;1";

std::string scenario_text(const std::string& name, std::uint32_t replications, const std::string& integrator) {
    return "name: " + name + R"Y(
base: live
start: "2026-07-01T00:00:00Z"
horizon: PT24H
step: PT5M
seed: 1
models:
  - model: thermal_zones
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {outdoor_mean: 26, outdoor_amplitude: 6, integrator: )Y" +
           integrator + R"Y(}
kpis:
  - {name: peak room temperature, statistic: max, where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", property: temperature, over: max}
)Y" + "replications: " + std::to_string(replications) + "\n";
}

}  // namespace

std::size_t write_scaled_building(const std::filesystem::path& bundled, const std::filesystem::path& out, std::size_t zones) {
    std::vector<nlohmann::json> twins;
    std::vector<nlohmann::json> relationships;
    {
        std::ifstream in(bundled);
        std::string line;
        std::string section;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            nlohmann::json j = nlohmann::json::parse(line);
            if (j.contains("Section")) {
                section = j["Section"].get<std::string>();
                continue;
            }
            if (section == "Twins") twins.push_back(std::move(j));
            if (section == "Relationships") relationships.push_back(std::move(j));
        }
    }
    std::size_t rooms_per_copy = 0;
    for (const auto& t : twins)
        if (t["$metadata"]["$model"] == room_model) ++rooms_per_copy;
    if (rooms_per_copy == 0) throw std::runtime_error("no rooms in " + bundled.string());

    std::ofstream o(out);
    o << R"({"Section":"Header"})" << '\n'
      << R"({"fileVersion":"1.0.0","author":"twinsim-bench building","organization":"twinsim"})" << '\n'
      << R"({"Section":"Twins"})" << '\n';
    const std::size_t copies = (zones + rooms_per_copy - 1) / rooms_per_copy;
    std::size_t rooms = 0;
    std::vector<std::unordered_set<std::string>> written(copies);
    auto prefix = [](std::size_t k) {
        std::array<char, 32> buffer{};
        (void)std::snprintf(buffer.data(), buffer.size(), "b%04zu-", k);
        return std::string(buffer.data());
    };
    for (std::size_t k = 0; k < copies; ++k) {
        const std::string p = prefix(k);
        for (nlohmann::json t : twins) {
            if (t["$metadata"]["$model"] == room_model) {
                if (rooms == zones) continue;
                ++rooms;
            }
            const std::string id = t["$dtId"].get<std::string>();
            written[k].insert(id);
            t["$dtId"] = p + id;
            o << t.dump() << '\n';
        }
    }
    o << R"({"Section":"Relationships"})" << '\n';
    for (std::size_t k = 0; k < copies; ++k) {
        const std::string p = prefix(k);
        for (nlohmann::json r : relationships) {
            const std::string source = r["$dtId"].get<std::string>();
            const std::string target = r["$targetId"].get<std::string>();
            if (!written[k].contains(source) || !written[k].contains(target)) continue;
            r["$dtId"] = p + source;
            r["$targetId"] = p + target;
            o << r.dump() << '\n';
        }
    }
    return rooms;
}

namespace {

double process_cpu_seconds() {
    timespec t{};
    (void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Measurement {
    double seconds = 0.0;
    double cpu_seconds = 0.0;    ///< process CPU time of the job (a loaded machine inflates `seconds`, not this)
    double setup_seconds = 0.0;  ///< import + prepare
    std::uint64_t events = 0;
    std::size_t failures = 0;
    std::string first_failure;
    double peak_temperature = std::nan("");
    std::size_t rooms = 0;
};

Measurement measure(const std::filesystem::path& ndjson, const std::string& name, std::uint32_t replications,
                    const std::string& integrator) {
    const std::filesystem::path root = TWINSIM_SOURCE_DIR;
    Measurement m;
    const auto t0 = std::chrono::steady_clock::now();
    graph::TwinGraph g;
    const std::filesystem::path models[] = {root / "models" / "building"};
    g.add_models(dtdl::read_documents(models));
    (void)graph::import_ndjson(g, ndjson);
    const graph::Snapshot snapshot = g.snapshot();
    if (const auto room = snapshot.models()->find(room_model))
        for (const graph::TwinIndex t : snapshot.twins())
            if (snapshot.models()->is_a(snapshot.twin_model(t), *room)) ++m.rooms;
    const auto spec = scenario::scenario_from_yaml(scenario_text(name, replications, integrator), name);
    const auto scenarios = scenario::prepare_all({spec}, snapshot, models::builtin_registry());
    m.setup_seconds = seconds_since(t0);

    scenario::RunnerOptions o;
    o.threads = 1;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_seconds();
    const scenario::JobResult result = scenario::run_job(scenarios, {}, o);
    m.seconds = seconds_since(start);
    m.cpu_seconds = process_cpu_seconds() - cpu_start;
    m.events = result.progress.events;
    m.failures = result.failures.size();
    if (!result.failures.empty()) m.first_failure = result.failures.front().message;
    if (!result.kpis.empty()) m.peak_temperature = result.kpis.front().mean;
    return m;
}

}  // namespace

int run_building(const BuildingBenchOptions& options) {
    const std::filesystem::path root = TWINSIM_SOURCE_DIR;
    const std::filesystem::path bundled = root / "scenarios" / "building" / "building.ndjson";
    const std::string load_before = load_averages();

    ScratchFile scratch("building");
    (void)write_scaled_building(bundled, scratch.path(), options.zones);

    // Interleaved rounds: the bundled building (also warms up code and allocator),
    // the scaled one, then the NumPy peer on the same zones; medians reported.
    std::vector<double> small_s, small_cpu, big_s, big_cpu, peer_s, peer_cpu, peer_one_s, peer_one_cpu;
    Measurement small, big;
    std::size_t failures = 0;
    std::string first_failure;
    nlohmann::json peer_last;
    std::string peer_error = options.python.empty() ? "no --python given" : "";
    for (std::uint32_t round = 0; round < options.rounds; ++round) {
        small = measure(bundled, "bundled", options.bundled_replications, options.integrator);
        big = measure(scratch.path(), "scaled", options.replications, options.integrator);
        small_s.push_back(small.seconds / options.bundled_replications);
        small_cpu.push_back(small.cpu_seconds / options.bundled_replications);
        big_s.push_back(big.seconds / options.replications);
        big_cpu.push_back(big.cpu_seconds / options.replications);
        failures += small.failures + big.failures;
        if (first_failure.empty()) first_failure = small.first_failure.empty() ? big.first_failure : small.first_failure;
        if (peer_error.empty()) {
            nlohmann::json peer = run_peer_json({options.python, options.peer_script, "--zones",
                                                 std::to_string(options.zones), "--ndjson", bundled.string()},
                                                peer_error);
            if (peer.is_object()) {
                peer_s.push_back(peer["stable"]["seconds"].get<double>());
                peer_cpu.push_back(peer["stable"]["cpu_seconds"].get<double>());
                peer_one_s.push_back(peer["one_update_per_step"]["seconds"].get<double>());
                peer_one_cpu.push_back(peer["one_update_per_step"]["cpu_seconds"].get<double>());
                peer_last = std::move(peer);
            }
        }
    }
    const std::size_t zones = big.rooms;
    const double per_replication = stats(big_s).median;
    const double bundled_per_replication = stats(small_s).median;
    const bool met_bundled = bundled_per_replication < target_bundled_seconds;
    const nlohmann::json met_10000 =
        zones == 10000 ? nlohmann::json(per_replication <= target_10000_seconds) : nlohmann::json();
    const std::uint64_t peak = proc_status_bytes("VmHWM");
    nlohmann::ordered_json j{{"benchmark", "building"},
                     {"zones", zones},
                     {"model", "thermal_zones"},
                     {"integrator", options.integrator},
                     {"simulated_days_per_replication", 1},
                     {"step_seconds", 300},
                     {"threads", 1},
                     {"rounds", options.rounds},
                     {"statistic", "median over interleaved rounds (bundled, scaled, NumPy peer in each round)"},
                     {"machine", {{"cpu", machine_note().cpu},
                                  {"cores", std::thread::hardware_concurrency()},
                                  {"loadavg_before", load_before},
                                  {"loadavg_after", load_averages()}}},
                     {"replications", options.replications},
                     {"setup_seconds", big.setup_seconds},
                     {"seconds_per_replication", per_replication},
                     {"seconds_per_replication_min", stats(big_s).min},
                     {"cpu_seconds_per_replication", stats(big_cpu).median},
                     {"simulated_days_per_second", 1.0 / per_replication},
                     {"events", big.events},
                     {"peak_room_temperature", big.peak_temperature},
                     {"peak_rss_bytes", peak},
                     {"peak_rss_mb", static_cast<double>(peak) / (1024.0 * 1024.0)},
                     {"bundled_zones", small.rooms},
                     {"bundled_replications", options.bundled_replications},
                     {"bundled_seconds_per_replication", bundled_per_replication},
                     {"bundled_cpu_seconds_per_replication", stats(small_cpu).median},
                     {"bundled_simulated_days_per_second", 1.0 / bundled_per_replication},
                     {"bundled_peak_room_temperature", small.peak_temperature}};
    if (!peer_s.empty()) {
        const double peer_median = stats(peer_s).median, one_median = stats(peer_one_s).median;
        j["numpy"] = {{"what", peer_last["peer"]},
                      {"zones", peer_last["zones"]},
                      {"controlled_zones", peer_last["controlled_zones"]},
                      {"substeps_per_step", peer_last["stable"]["substeps_per_step"]},
                      {"seconds_median", peer_median},
                      {"cpu_seconds_median", stats(peer_cpu).median},
                      {"peak_room_temperature", peer_last["stable"]["peak_room_temperature"]},
                      {"one_update_per_step_seconds_median", one_median},
                      {"one_update_per_step_cpu_seconds_median", stats(peer_one_cpu).median},
                      {"one_update_per_step_note", "forward Euler at 300 s is unstable on these zones (diverges): timed for reference only"}};
        j["ratio_twinsim_vs_numpy"] = per_replication / peer_median;
        j["cpu_ratio_twinsim_vs_numpy"] = stats(big_cpu).median / stats(peer_cpu).median;
        j["ratio_twinsim_vs_numpy_one_update_per_step"] = per_replication / one_median;
    } else {
        j["numpy"] = nullptr;
        j["peer_error"] = peer_error;
    }
    j["target_bundled_seconds_per_replication"] = target_bundled_seconds;
    j["target_10000_zones_seconds_per_replication"] = target_10000_seconds;
    j["target_ratio_vs_numpy"] = target_numpy_ratio;
    j["meets_target_bundled"] = met_bundled;
    j["meets_target_10000_zones"] = met_10000;
    j["meets_target_ratio_vs_numpy"] =
        peer_s.empty() || zones != 10000 ? nlohmann::json() : nlohmann::json(per_replication / stats(peer_s).median < target_numpy_ratio);
    // The same targets by CPU time (process CPU-seconds of the run against the peer's): what
    // a loaded shared machine can judge; the wall-clock verdicts above need a quiet one.
    j["meets_target_10000_zones_cpu"] =
        zones == 10000 ? nlohmann::json(stats(big_cpu).median <= target_10000_seconds) : nlohmann::json();
    j["meets_target_ratio_vs_numpy_cpu"] =
        peer_s.empty() || zones != 10000 ? nlohmann::json()
                                         : nlohmann::json(stats(big_cpu).median / stats(peer_cpu).median < target_numpy_ratio);
    j["failures"] = failures;
    if (!first_failure.empty()) j["first_failure"] = first_failure;
    std::cout << j.dump() << std::endl;
    // A peer that was asked for and failed fails the benchmark (CI's smoke run checks the script too).
    return failures == 0 && (options.python.empty() || !peer_s.empty()) ? exit_ok : exit_failed;
}

}  // namespace twinsim::bench
