// `twinsim-bench calibrate` (models/building/calibration.md, "Speed"): the
// calibration of 50 parameters over a two-week window against its peer.
//
// The problem (as bench/compare_calibrate.py, which times the same from
// Python): the bundled sample building (61 rooms); a hidden building whose 50
// rooms of levels 0-4 each have their own ua_per_area, drawn uniformly from
// [0.8, 2.6] (SplitMix64, seed 7), run by twinsim itself (thermal_zones,
// 5-minute steps, diurnal weather 27 +- 7 degC, solar 25 W/m2) for the
// window; every room's temperature (plus 0.1 K Gaussian noise, seed 42) and
// delivered cooling every 5 minutes are the recorded history (in memory).
// Both sides fit the 50 values from 1.5 within [0.15, 15] on the whole window:
//
// * twinsim: models::calibrate_thermal, the call `twinsim calibrate` and
//   twinsim.calibrate make (bounded Levenberg-Marquardt, the Jacobian one
//   connected group of rooms at a time, on every core);
// * the peer: bench/calibrate_scipy.py in a child process
//   (scipy.optimize.least_squares, trf with jac_sparsity, on the same network
//   in NumPy: the setup thermal_setup gives, written as JSON), one BLAS thread.
//
// Rounds interleave (twinsim, then the peer). Printed: medians of wall and CPU
// seconds of each fit, each side's largest relative error against the hidden
// values and their largest relative difference, machine and load.
#include "calibrate_benchmark.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "peer_process.hpp"
#include "models/builtin.hpp"
#include "models/building/calibration.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/io/history_file.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::bench {

namespace {

constexpr const char* rooms_where = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')";
constexpr double lower_bound = 0.15, upper_bound = 15.0, initial = 1.5;

std::string scenario_yaml(double days, const nlohmann::json& zone_parameters, bool record) {
    nlohmann::json p{{"step", 300},           {"outdoor_mean", 27},
                     {"outdoor_amplitude", 7}, {"solar_peak", 25},
                     {"zone_cooling_property", "coolingPower"}};
    if (!zone_parameters.empty()) p["zone_parameters"] = zone_parameters;
    std::string y = "name: calibration-bench\nbase: live\nstart: \"2026-07-01T00:00:00Z\"\nhorizon: PT" +
                    std::to_string(static_cast<long long>(std::llround(days * 24.0))) +
                    "H\nstep: PT5M\nbehaviours:\n  - model: thermal_zones\n    where: \"" + rooms_where +
                    "\"\n    parameters: " + p.dump() + "\n";
    if (record)
        y += std::string("recording:\n  events: false\n  series:\n    - where: \"") + rooms_where +
             "\"\n      properties: [temperature, coolingPower]\n      interval: PT5M\n";
    return y;
}

/// A standard normal from two uniforms (Box-Muller): the same sequence on every platform.
double normal(Random& random) {
    const double u1 = random.uniform(0.0, 1.0);
    const double u2 = random.uniform(0.0, 1.0);
    return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * M_PI * u2);
}

struct Problem {
    scenario::RecordedHistory history;
    models::ThermalSetup setup;  ///< the bundled twin's network (thermal_zones' defaults)
    std::vector<std::string> fitted_rooms;
    std::map<std::string, double> hidden;
    std::size_t steps = 0;
    // The peer's view of the same records: [zone][k].
    std::vector<std::vector<double>> recorded, cooling;
};

Problem make_problem(const graph::Snapshot& base, double days) {
    Problem pr;
    Random draw(7);
    nlohmann::json zone_parameters = nlohmann::json::object();
    for (int level = 0; level < 5; ++level)
        for (int k = 1; k <= 10; ++k) {
            std::array<char, 32> id{};
            (void)std::snprintf(id.data(), id.size(), "room-0%d-%02d", level, k);
            const double ua = draw.uniform(0.8, 2.6);
            pr.fitted_rooms.emplace_back(id.data());
            pr.hidden[id.data()] = ua;
            zone_parameters[id.data()] = {{"ua_per_area", ua}};
        }
    const auto hidden = scenario::prepare(scenario::scenario_from_yaml(scenario_yaml(days, zone_parameters, true)),
                                          base, models::builtin_registry());
    scenario::Run run(hidden, 0);
    run.run_to_end();
    const scenario::RunRecord record = run.finish();

    io::HistoryTables t;
    t.source = "twinsim-bench calibrate (hidden building)";
    auto& u = t.property_updates;
    Random noise(42);
    const auto& fit_setup_zones = hidden->series.front().twin_ids;
    const std::size_t zones = fit_setup_zones.size();
    const std::vector<double>& times = hidden->series.front().times;
    pr.steps = times.size() - 1;
    std::map<std::string, std::size_t> zone_of;
    for (std::size_t n = 0; n < zones; ++n) zone_of[fit_setup_zones[n]] = n;
    std::vector<std::vector<double>> rec(zones, std::vector<double>(pr.steps + 1, std::nan(""))),
        cool(zones, std::vector<double>(pr.steps, std::nan("")));
    for (std::size_t s = 0; s < hidden->series.size(); ++s) {
        const scenario::SeriesPlan& plan = hidden->series[s];
        const bool is_temperature = plan.property == "temperature";
        for (std::size_t k = 0; k < plan.times.size(); ++k) {
            if (!is_temperature && k == 0) continue;  // cooling delivered over the step ending at k
            for (std::size_t n = 0; n < plan.twins.size(); ++n) {
                double v = record.samples[s][k * plan.twins.size() + n];
                if (is_temperature) v += 0.1 * normal(noise);
                u.time_ns.push_back(hidden->spec.start.ns + std::llround(plan.times[k] * 1e9));
                u.source_time_ns.push_back(io::no_time);
                u.id.push_back(plan.twin_ids[n]);
                u.model_id.push_back(plan.model);
                u.key.push_back(plan.property);
                u.value.push_back(nlohmann::json(v).dump());
                u.unit.emplace_back();
                u.relationship_id.emplace_back();
                u.relationship_target.emplace_back();
                u.action.emplace_back("Update");
                u.sequence.push_back(u.sequence.size() + 1);
                const std::size_t z = zone_of.at(plan.twin_ids[n]);
                if (is_temperature)
                    rec[z][k] = v;
                else
                    cool[z][k - 1] = v;
            }
        }
    }
    pr.history = scenario::RecordedHistory(t);

    const auto bundled = scenario::prepare(scenario::scenario_from_yaml(scenario_yaml(days, {}, false)), base,
                                           models::builtin_registry());
    pr.setup = models::thermal_setup(*bundled);
    // The peer's arrays in the setup's zone order.
    pr.recorded.resize(pr.setup.zones.size());
    pr.cooling.resize(pr.setup.zones.size());
    for (std::size_t z = 0; z < pr.setup.zones.size(); ++z) {
        pr.recorded[z] = rec[zone_of.at(pr.setup.zones[z])];
        pr.cooling[z] = cool[zone_of.at(pr.setup.zones[z])];
    }
    return pr;
}

/// The peer's input (bench/calibrate_scipy.py): the network of `setup`, its
/// inputs per step (outdoor at the step's middle, gains, recorded cooling),
/// the records, the fitted rooms and the connected groups of rooms.
nlohmann::json peer_problem(const Problem& pr) {
    const models::ThermalSetup& s = pr.setup;
    const std::size_t zones = s.zones.size();
    std::vector<double> outdoor(pr.steps);
    std::vector<std::vector<double>> gains(zones, std::vector<double>(pr.steps));
    for (std::size_t k = 0; k < pr.steps; ++k) {
        const double t = (static_cast<double>(k) + 0.5) * s.step;
        outdoor[k] = s.outdoor(t);
        const double solar = s.solar_peak * s.solar_shape(t);
        for (std::size_t z = 0; z < zones; ++z)
            gains[z][k] = s.occupancy[z] * s.gain_per_person + s.lighting[z] + s.equipment[z] + solar * s.area[z];
    }
    // Connected groups (union-find over the adjacent pairs).
    std::vector<std::size_t> parent(zones);
    std::iota(parent.begin(), parent.end(), std::size_t{0});
    auto root = [&](std::size_t a) {
        while (parent[a] != a) a = parent[a] = parent[parent[a]];
        return a;
    };
    nlohmann::json adjacent = nlohmann::json::array();
    for (const auto& [a, b] : s.adjacent) {
        adjacent.push_back({a, b});
        parent[root(a)] = root(b);
    }
    std::map<std::size_t, std::vector<std::size_t>> groups;
    for (std::size_t z = 0; z < zones; ++z) groups[root(z)].push_back(z);
    nlohmann::json group_list = nlohmann::json::array();
    for (const auto& [r, members] : groups) group_list.push_back(members);
    std::vector<std::size_t> fitted;
    for (const std::string& room : pr.fitted_rooms)
        for (std::size_t z = 0; z < zones; ++z)
            if (s.zones[z] == room) fitted.push_back(z);
    const std::size_t p = fitted.size();
    return {{"step", s.step},
            {"area", s.area},
            {"volume", s.volume},
            {"air_heat_capacity", s.air_heat_capacity},
            {"mass_capacity", s.mass_capacity},
            {"air_mass_conductance", s.air_mass_conductance},
            {"ua_per_area", s.ua_per_area},
            {"adjacent", adjacent},
            {"adjacent_conductance", s.adjacent_conductance},
            {"radiant_fraction", s.radiant_fraction},
            {"outdoor", outdoor},
            {"gains", gains},
            {"cooling", pr.cooling},
            {"recorded", pr.recorded},
            {"fitted", fitted},
            {"initial", std::vector<double>(p, initial)},
            {"lower", std::vector<double>(p, lower_bound)},
            {"upper", std::vector<double>(p, upper_bound)},
            {"groups", group_list}};
}

nlohmann::json run_peer(const CalibrateBenchOptions& o, const std::filesystem::path& problem, std::string& error) {
    // One BLAS thread: the peer's products are 122 x 122, where threads only add synchronisation.
    return run_peer_json({o.python, o.peer_script, problem.string()}, error,
                         "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1");
}

}  // namespace

int run_calibrate(const CalibrateBenchOptions& o) {
    const std::filesystem::path root = TWINSIM_SOURCE_DIR;
    const std::string load_before = load_averages();
    graph::TwinGraph g;
    const std::filesystem::path models[] = {root / "models" / "building"};
    g.add_models(dtdl::read_documents(models));
    (void)graph::import_ndjson(g, root / "scenarios" / "building" / "building.ndjson");
    const graph::Snapshot base = g.snapshot();

    const auto t0 = std::chrono::steady_clock::now();
    const Problem pr = make_problem(base, o.days);
    const double generate_seconds = seconds_since(t0);
    ScratchFile scratch("calibrate", {}, "problem.json");
    {
        std::ofstream out(scratch.path());
        out << peer_problem(pr).dump();
        if (!out) throw IoError("cannot write " + scratch.path().string());
    }

    std::vector<models::ParameterChoice> fit;
    for (int level = 0; level < 5; ++level)
        fit.push_back(models::parse_parameter_choice("ua_per_area@room-0" + std::to_string(level) + "-*=0.15:15"));
    models::CalibrationOptions options;
    options.window_end = o.days * 86400.0;

    std::vector<double> ours_s, ours_cpu, peer_s, peer_cpu;
    models::CalibrationResult last;
    nlohmann::json peer_last;
    std::string peer_error;
    for (int r = 0; r < o.rounds; ++r) {
        const double c0 = process_cpu_used();
        last = models::calibrate_thermal(pr.setup, pr.history, fit, options);
        ours_cpu.push_back(process_cpu_used() - c0);
        ours_s.push_back(last.seconds);
        if (!o.python.empty()) {
            nlohmann::json peer = run_peer(o, scratch.path(), peer_error);
            if (!peer.is_object()) break;
            peer_s.push_back(peer["seconds"].get<double>());
            peer_cpu.push_back(peer["cpu_seconds"].get<double>());
            peer_last = std::move(peer);
        }
    }

    std::map<std::string, double> ours_values, peer_values;
    for (const models::FittedParameter& p : last.parameters) ours_values[p.zone] = p.value;
    if (peer_last.is_object())
        for (std::size_t j = 0; j < pr.fitted_rooms.size(); ++j)
            peer_values[pr.fitted_rooms[j]] = peer_last["values"][j].get<double>();
    auto worst = [&](const std::map<std::string, double>& values) {
        double w = 0.0;
        for (const auto& [room, truth] : pr.hidden)
            if (const auto it = values.find(room); it != values.end()) w = std::max(w, std::abs(it->second - truth) / truth);
        return w;
    };
    double difference = 0.0;
    for (const auto& [room, v] : peer_values) difference = std::max(difference, std::abs(ours_values[room] - v) / v);

    const double median_fit = stats(ours_s).median;
    nlohmann::ordered_json j;
    j["benchmark"] = "calibrate";
    j["parameters"] = fit.size() * 10;
    j["fitted_values"] = last.parameters.size();
    j["days"] = o.days;
    j["residuals"] = last.residuals;
    j["rounds"] = o.rounds;
    j["generate_seconds"] = generate_seconds;
    j["machine"] = {{"cpu", machine_note().cpu},
                    {"cores", machine_note().cores},
                    {"loadavg_before", load_before},
                    {"loadavg_after", load_averages()}};
    j["twinsim"] = {{"what", "models::calibrate_thermal (bounded Levenberg-Marquardt, Jacobian per group of rooms)"},
                    {"seconds_median", median_fit},
                    {"cpu_seconds_median", stats(ours_cpu).median},
                    {"seconds", ours_s},
                    {"iterations", last.iterations},
                    {"converged", last.converged},
                    {"max_relative_error_vs_hidden", worst(ours_values)}};
    if (peer_last.is_object()) {
        j["scipy"] = {{"what", peer_last["peer"]},
                      {"seconds_median", stats(peer_s).median},
                      {"cpu_seconds_median", stats(peer_cpu).median},
                      {"seconds", peer_s},
                      {"function_evaluations", peer_last["function_evaluations"]},
                      {"max_relative_error_vs_hidden", worst(peer_values)}};
        j["max_relative_difference"] = difference;
        j["speedup_wall"] = stats(peer_s).median / median_fit;
    } else {
        j["scipy"] = nullptr;
        if (!peer_error.empty()) j["peer_error"] = peer_error;
    }
    j["target"] = {{"what", "50 parameters, two weeks of 5-minute data, under 60 s on two cores"},
                   {"met", o.days >= 14.0 ? nlohmann::json(median_fit < 60.0) : nlohmann::json()}};
    std::cout << j.dump() << std::endl;
    return peer_error.empty() ? exit_ok : exit_failed;
}

CalibrateBenchCommand::CalibrateBenchCommand(CLI::App& app) {
    command_ = app.add_subcommand(
        "calibrate", "Calibration of 50 per-room conductances of the sample building on a recorded window of 5-minute "
                     "data (target: two weeks under 60 s on two cores), beside scipy.optimize.least_squares on the "
                     "same network and data (bench/calibrate_scipy.py), interleaved rounds");
    command_->add_option("--days", options_.days, "Days of the window")
        ->capture_default_str()
        ->check(CLI::Range(0.25, 366.0));
    command_->add_option("--rounds", options_.rounds, "Interleaved rounds (medians reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
#ifdef TWINSIM_BENCH_PYTHON
    options_.python = TWINSIM_BENCH_PYTHON;
#endif
    command_->add_option("--python", options_.python, "Python with NumPy and SciPy for the peer (\"\" = no peer)")
        ->capture_default_str();
    options_.peer_script = std::string(TWINSIM_SOURCE_DIR) + "/bench/calibrate_scipy.py";
    command_->add_option("--peer", options_.peer_script, "The peer script")->capture_default_str();
    command_->add_flag("--smoke", smoke_, "One day, one round (for CI)");
}

std::optional<int> CalibrateBenchCommand::run() {
    if (!command_->parsed()) return std::nullopt;
    if (smoke_) {
        options_.days = 1.0;
        options_.rounds = 1;
    }
    return run_calibrate(options_);
}

}  // namespace twinsim::bench
