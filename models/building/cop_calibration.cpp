#include "models/building/cop_calibration.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/building/calibration.hpp"
#include "models/builtin.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

namespace {

constexpr const char* chillers_where = "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')";

bool chosen(const std::string& id, const std::string& pattern) {
    if (pattern == "*") return true;
    if (!pattern.empty() && pattern.back() == '*') return id.starts_with(pattern.substr(0, pattern.size() - 1));
    return id == pattern;
}

/// Every chiller's power (kW) at each sample of the run, with all COPs set to `cop`.
struct PowerRun {
    std::vector<std::string> chillers;
    std::vector<double> times;
    std::vector<double> power;  ///< [k * chillers + c]
    Timestamp start;
};

PowerRun run_with_cop(scenario::ScenarioSpec spec, const graph::Snapshot& base, std::size_t binding, double cop) {
    spec.overrides.push_back({nlohmann::json{{"coefficientOfPerformance", cop}}, chillers_where});
    spec.models[binding].parameters["default_cop"] = cop;
    spec.models[binding].parameters.erase("chiller_cop");
    const auto prepared = scenario::prepare(spec, base, builtin_registry());
    scenario::Run run(prepared, 0);
    run.run_to_end();
    scenario::RunRecord record = run.finish();
    PowerRun out;
    const scenario::SeriesPlan& plan = prepared->series.front();
    out.chillers = plan.twin_ids;
    out.times = plan.times;
    out.power = std::move(record.samples.front());
    out.start = prepared->spec.start;
    return out;
}

}  // namespace

CopResult calibrate_cop(const scenario::ScenarioSpec& given, const graph::Snapshot& base,
                        const scenario::RecordedHistory& recorded, const CopOptions& o) {
    if (given.sweep) throw CalibrationError("the COP is fitted on a scenario without a sweep");
    scenario::ScenarioSpec spec = given;
    std::size_t binding = spec.models.size();
    for (std::size_t i = 0, seen = 0; i < spec.models.size(); ++i)
        if (spec.models[i].model == "thermal_zones" && seen++ == o.binding) binding = i;
    if (binding == spec.models.size())
        throw CalibrationError("scenario \"" + spec.name + "\" has no thermal_zones binding number " +
                               std::to_string(o.binding) + " (counting from 0)");
    nlohmann::json& parameters = spec.models[binding].parameters;
    std::string property = o.power_property;
    if (property.empty() && parameters.is_object() && parameters.contains("chiller_power_property") &&
        parameters["chiller_power_property"].is_string())
        property = parameters["chiller_power_property"].get<std::string>();
    if (property.empty() || property == "none")
        throw CalibrationError("the COP is fitted to recorded chiller power: map it with thermal_zones' "
                               "chiller_power_property (e.g. electricPower, kW) or name the recorded property");
    if (!parameters.is_object()) parameters = nlohmann::json::object();
    parameters["chiller_power_property"] = property;
    const double end = o.window_end > 0.0 ? o.window_end : spec.horizon;
    if (!(o.window_start >= 0.0) || !(end > o.window_start))
        throw CalibrationError("the window [" + std::to_string(o.window_start) + " s, " + std::to_string(end) +
                               " s] is empty");

    // Only the chillers' power, sampled at every step; nothing else recorded.
    spec.recording.series = {scenario::RecordSeries{chillers_where, {property}, spec.step, false}};
    spec.recording.events = false;
    spec.kpis.clear();
    spec.replications = 1;
    if (spec.replay) spec.replay->compare = false;
    const PowerRun one = run_with_cop(spec, base, binding, 1.0);
    const PowerRun two = run_with_cop(spec, base, binding, 2.0);

    // What the scenario itself gives each chiller (for the report).
    const auto as_given = scenario::prepare(given, base, builtin_registry());
    double default_cop = 3.5;
    if (given.models[binding].parameters.is_object() && given.models[binding].parameters.contains("default_cop") &&
        given.models[binding].parameters["default_cop"].is_number())
        default_cop = given.models[binding].parameters["default_cop"].get<double>();

    CopResult result;
    result.power_property = property;
    const std::size_t nc = one.chillers.size();
    for (std::size_t c = 0; c < nc; ++c) {
        const std::string& id = one.chillers[c];
        if (!chosen(id, o.chillers)) continue;
        std::vector<double> times;
        std::vector<std::size_t> ks;
        for (std::size_t k = 1; k < one.times.size(); ++k)
            if (one.times[k] > o.window_start && one.times[k] <= end + 1e-9) {
                times.push_back(one.times[k]);
                ks.push_back(k);
            }
        std::vector<double> r;
        try {
            r = scenario::resample(recorded, id, property, one.start, times, scenario::Interpolation::linear,
                                   scenario::GapPolicy{o.max_gap, scenario::GapAction::model});
        } catch (const scenario::RecordedInputError& e) {
            throw CalibrationError(std::string("the COP of ") + id + ": " + e.what());
        }
        double sll = 0.0, slr = 0.0;
        std::vector<double> load, aux, rec;
        for (std::size_t j = 0; j < ks.size(); ++j) {
            const double p1 = one.power[ks[j] * nc + c], p2 = two.power[ks[j] * nc + c];
            const double l = 2.0 * (p1 - p2), a = 2.0 * p2 - p1;
            if (!std::isfinite(r[j]) || !std::isfinite(l) || !(l >= o.min_load)) continue;
            load.push_back(l);
            aux.push_back(a);
            rec.push_back(r[j]);
            sll += l * l;
            slr += l * (r[j] - a);
        }
        if (load.size() < 2 || !(slr > 0.0))
            throw CalibrationError("the COP of " + id + ": " + std::to_string(load.size()) +
                                   " steps in the window carry a load of at least " + std::to_string(o.min_load) +
                                   " kW with a recorded " + property + ": nothing to fit");
        const double u = slr / sll;
        double ss = 0.0;
        for (std::size_t j = 0; j < load.size(); ++j) {
            const double e = rec[j] - aux[j] - load[j] * u;
            ss += e * e;
        }
        const auto n = static_cast<double>(load.size());
        const double se_u = std::sqrt(ss / (n - 1.0) / sll);
        FittedCop f;
        f.chiller = id;
        f.value = 1.0 / u;
        f.standard_error = se_u / (u * u);
        const std::optional<nlohmann::json> own = as_given->graph.get_property(id, "coefficientOfPerformance");
        f.initial = own && own->is_number() && own->get<double>() > 0.0 ? own->get<double>() : default_cop;
        const nlohmann::json& given_parameters = given.models[binding].parameters;
        if (given_parameters.is_object() && given_parameters.contains("chiller_cop") &&
            given_parameters["chiller_cop"].is_object() && given_parameters["chiller_cop"].contains(id) &&
            given_parameters["chiller_cop"][id].is_number())
            f.initial = given_parameters["chiller_cop"][id].get<double>();
        f.samples = load.size();
        f.rmse_kw = std::sqrt(ss / n);
        result.chillers.push_back(std::move(f));
    }
    if (result.chillers.empty())
        throw CalibrationError("no chiller of scenario \"" + spec.name + "\" matches \"" + o.chillers + "\"");
    return result;
}

nlohmann::json CopResult::report() const {
    nlohmann::json list = nlohmann::json::array();
    for (const FittedCop& c : chillers)
        list.push_back({{"chiller", c.chiller},
                        {"initial", c.initial},
                        {"value", c.value},
                        {"standard_error", c.standard_error},
                        {"samples", c.samples},
                        {"rmse_kw", c.rmse_kw},
                        {"power_property", power_property}});
    return list;
}

std::vector<std::string> take_cop_choices(std::vector<std::string>& fit) {
    std::vector<std::string> patterns, rest;
    for (std::string& text : fit) {
        if (text == "cop")
            patterns.emplace_back("*");
        else if (text.starts_with("cop@") && text.size() > 4)
            patterns.push_back(text.substr(4));
        else
            rest.push_back(std::move(text));
    }
    fit = std::move(rest);
    return patterns;
}

void merge_cop(nlohmann::json& file, const CopResult& result) {
    if (file.is_null())
        file = {{"format", "twinsim-calibration"},
                {"version", 1},
                {"behaviours", nlohmann::json::array({{{"model", "thermal_zones"}, {"parameters", nlohmann::json::object()}}})},
                {"fit", nlohmann::json::object()}};
    nlohmann::json* parameters = nullptr;
    for (nlohmann::json& b : file["behaviours"])
        if (b.value("model", "") == "thermal_zones") parameters = &b["parameters"];
    if (parameters == nullptr) {
        file["behaviours"].push_back({{"model", "thermal_zones"}, {"parameters", nlohmann::json::object()}});
        parameters = &file["behaviours"].back()["parameters"];
    }
    for (const FittedCop& c : result.chillers) (*parameters)["chiller_cop"][c.chiller] = c.value;
    nlohmann::json& report = file["fit"]["cop"];
    if (!report.is_array()) report = nlohmann::json::array();
    for (const nlohmann::json& entry : result.report()) report.push_back(entry);
}

void save_calibration_json(const nlohmann::json& file, const std::string& path) {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw IoError("cannot write " + temporary);
        out << file.dump(1) << '\n';
        if (!out) throw IoError("cannot write " + temporary);
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) throw IoError("cannot rename " + temporary + " to " + path + ": " + ec.message());
}

}  // namespace twinsim::models
