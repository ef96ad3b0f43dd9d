#include "twinsim/scenario/results_view.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "twinsim/common/error.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/compare.hpp"

namespace twinsim::scenario {

namespace {

nlohmann::ordered_json number(double v) {
    if (!std::isfinite(v)) return nullptr;
    return v;
}

}  // namespace

nlohmann::ordered_json describe_results(const io::ResultsReader& reader) {
    const Comparison comparison = compare(reader);
    nlohmann::ordered_json out;
    out["file"] = reader.path().filename().string();
    nlohmann::ordered_json& scenarios = out["scenarios"] = nlohmann::ordered_json::array();
    for (const ScenarioKpis& s : comparison.scenarios) {
        nlohmann::ordered_json scenario;
        scenario["name"] = s.name;
        scenario["replications"] = reader.scenario(s.name).replications;
        nlohmann::ordered_json& series = scenario["series"] = nlohmann::ordered_json::array();
        for (const std::string& name : reader.series_names(s.name)) {
            const io::SeriesData info = reader.series_info(s.name, name);
            series.push_back({{"name", name}, {"unit", info.unit}, {"property", info.property}, {"twins", info.twin_ids}});
        }
        // One entry per KPI name, its selections (twins for `over: each`) beneath.
        nlohmann::ordered_json& kpis = scenario["kpis"] = nlohmann::ordered_json::array();
        std::map<std::string, std::size_t> slot;
        for (const ComparedKpi& k : s.kpis) {
            auto [it, inserted] = slot.try_emplace(k.name, kpis.size());
            if (inserted)
                kpis.push_back({{"name", k.name}, {"statistic", k.statistic}, {"unit", k.unit},
                                {"selections", nlohmann::ordered_json::array()}});
            kpis[it->second]["selections"].push_back({{"selection", k.selection}, {"n", k.n}, {"mean", number(k.mean)},
                                                      {"ci95_low", number(k.ci95_low)}, {"ci95_high", number(k.ci95_high)}});
        }
        scenarios.push_back(std::move(scenario));
    }
    return out;
}

Sparkline sparkline(const io::ResultsReader& reader, std::string_view scenario, std::string_view series,
                    std::string_view twin, std::size_t points) {
    if (points < 1 || points > max_sparkline_points)
        throw Error("a sparkline has 1 to " + std::to_string(max_sparkline_points) + " points, asked for " +
                    std::to_string(points));
    const io::SeriesData info = reader.series_info(scenario, series);
    const auto at = std::find(info.twin_ids.begin(), info.twin_ids.end(), twin);
    if (at == info.twin_ids.end()) {
        std::string list;
        for (std::size_t i = 0; i < info.twin_ids.size() && i < 20; ++i) list += (i == 0 ? "" : ", ") + info.twin_ids[i];
        if (info.twin_ids.size() > 20) list += ", ...";
        throw Error("series '" + std::string(series) + "' of scenario '" + std::string(scenario) +
                    "' does not record twin '" + std::string(twin) + "' (it records " + list + ")");
    }
    const std::size_t column = static_cast<std::size_t>(at - info.twin_ids.begin());
    const std::size_t steps = info.times.size();
    const std::size_t twins = info.twin_ids.size();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    // Per recorded time: the sum and count over replications, the lowest and highest.
    std::vector<double> sum(steps, 0.0), low(steps, nan), high(steps, nan);
    std::vector<std::size_t> count(steps, 0);
    for (std::uint32_t r = 0; r < info.replications; ++r) {
        const std::vector<double> values = reader.read_series_replications(scenario, series, r, 1);
        for (std::size_t t = 0; t < steps; ++t) {
            const double v = values[t * twins + column];
            if (std::isnan(v)) continue;
            sum[t] += v;
            ++count[t];
            low[t] = std::isnan(low[t]) ? v : std::min(low[t], v);
            high[t] = std::isnan(high[t]) ? v : std::max(high[t], v);
        }
    }
    Sparkline out;
    out.scenario = std::string(scenario);
    out.series = std::string(series);
    out.twin = std::string(twin);
    out.unit = info.unit;
    out.replications = info.replications;
    out.steps = steps;
    const std::size_t n = std::min(points, steps);
    for (std::size_t b = 0; b < n; ++b) {
        const std::size_t first = b * steps / n, last = (b + 1) * steps / n;
        double total = 0.0, lo = nan, hi = nan;
        std::size_t k = 0;
        for (std::size_t t = first; t < last; ++t) {
            if (count[t] == 0) continue;
            total += sum[t] / static_cast<double>(count[t]);
            ++k;
            lo = std::isnan(lo) ? low[t] : std::min(lo, low[t]);
            hi = std::isnan(hi) ? high[t] : std::max(hi, high[t]);
        }
        out.time.push_back(info.times[first]);
        out.mean.push_back(k == 0 ? nan : total / static_cast<double>(k));
        out.low.push_back(lo);
        out.high.push_back(hi);
    }
    return out;
}

nlohmann::ordered_json to_json(const Sparkline& s) {
    auto list = [](const std::vector<double>& v) {
        nlohmann::ordered_json a = nlohmann::ordered_json::array();
        for (const double x : v) a.push_back(number(x));
        return a;
    };
    nlohmann::ordered_json out;
    out["scenario"] = s.scenario;
    out["series"] = s.series;
    out["twin"] = s.twin;
    out["unit"] = s.unit;
    out["replications"] = s.replications;
    out["steps"] = s.steps;
    out["time"] = list(s.time);
    out["mean"] = list(s.mean);
    out["low"] = list(s.low);
    out["high"] = list(s.high);
    return out;
}

}  // namespace twinsim::scenario
