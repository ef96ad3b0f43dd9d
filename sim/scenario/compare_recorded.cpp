#include "twinsim/scenario/compare_recorded.hpp"

#include <algorithm>
#include <cmath>

#include "twinsim/io/results_reader.hpp"

namespace twinsim::scenario {
namespace {

nlohmann::ordered_json number(double x) { return std::isfinite(x) ? nlohmann::ordered_json(x) : nullptr; }

nlohmann::ordered_json statistics(const Guideline14& g) {
    nlohmann::ordered_json j;
    j["hours"] = g.hours;
    j["nmbe"] = number(g.nmbe);
    j["cv_rmse"] = number(g.cv_rmse);
    j["nmbe_ok"] = g.nmbe_ok;
    j["cv_rmse_ok"] = g.cv_rmse_ok;
    j["meets"] = g.meets();
    return j;
}

}  // namespace

std::vector<RecordedComparison> compare_recorded(const io::ResultsReader& reader, const Guideline14Options& options) {
    std::vector<RecordedComparison> out;
    for (const std::string& scenario : reader.scenarios()) {
        const std::vector<std::string> names = reader.series_names(scenario);
        for (const std::string& name : names) {
            const std::string recorded = name + ".recorded";
            if (std::find(names.begin(), names.end(), recorded) == names.end()) continue;
            const io::SeriesData m = reader.read_series(scenario, name);
            const io::SeriesData r = reader.read_series(scenario, recorded);
            if (m.times != r.times || m.twin_ids != r.twin_ids) continue;  // not a pair the runner wrote
            const auto start = parse_timestamp(reader.scenario(scenario).start);
            const std::size_t nt = m.times.size(), nn = m.twin_ids.size();
            std::vector<double> modelled(nt * nn, std::nan("")), measured(nt * nn, std::nan(""));
            for (std::size_t t = 0; t < nt; ++t)
                for (std::size_t n = 0; n < nn; ++n) {
                    double sum = 0.0;
                    std::size_t count = 0;
                    for (std::size_t k = 0; k < m.replications; ++k)
                        if (const double v = m.at(k, t, n); !std::isnan(v)) sum += v, ++count;
                    if (count > 0) modelled[t * nn + n] = sum / static_cast<double>(count);
                    for (std::size_t k = 0; k < r.replications && std::isnan(measured[t * nn + n]); ++k)
                        measured[t * nn + n] = r.at(k, t, n);
                }
            RecordedComparison c;
            c.scenario = scenario;
            c.series = name;
            c.unit = m.unit;
            c.replications = m.replications;
            c.report = guideline14_report(start.value_or(Timestamp{}), m.times, m.twin_ids, measured, modelled, options);
            out.push_back(std::move(c));
        }
    }
    return out;
}

nlohmann::ordered_json to_json(const std::vector<RecordedComparison>& comparisons, const Guideline14Options& options) {
    auto list = nlohmann::ordered_json::array();
    for (const RecordedComparison& c : comparisons) {
        nlohmann::ordered_json j;
        j["scenario"] = c.scenario;
        j["series"] = c.series;
        j["unit"] = c.unit;
        j["replications"] = c.replications;
        j["limits"] = {{"nmbe", options.nmbe_limit}, {"cv_rmse", options.cv_rmse_limit}};
        j["overall"] = statistics(c.report.overall);
        auto twins = nlohmann::ordered_json::array();
        for (std::size_t n = 0; n < c.report.twins.size(); ++n) {
            nlohmann::ordered_json t;
            t["twin"] = c.report.twins[n];
            t.update(statistics(c.report.per_twin[n]));
            twins.push_back(std::move(t));
        }
        j["twins"] = std::move(twins);
        list.push_back(std::move(j));
    }
    return list;
}

}  // namespace twinsim::scenario
