#include "twinsim/scenario/precision.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "twinsim/common/statistics.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/limits.hpp"

namespace twinsim::scenario {

namespace {

std::string number(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", x);
    return text;
}

}  // namespace

double half_width(const KpiSummary& kpi) noexcept {
    if (kpi.n < 2 || !std::isfinite(kpi.std)) return std::numeric_limits<double>::infinity();
    return t975(kpi.n - 1) * kpi.std / std::sqrt(static_cast<double>(kpi.n));
}

PrecisionResult run_until_precise(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                                  const std::filesystem::path& out, const RunnerOptions& options,
                                  const PrecisionOptions& precision) {
    if (precision.targets.empty()) throw ScenarioError("", 0, "precision", "no KPI target given");
    if (precision.max_replications < 2 || precision.max_replications > limits::max_replications)
        throw ScenarioError("", 0, "precision",
                            "the maximum number of replications must be from 2 to " +
                                std::to_string(limits::max_replications) + ", not " +
                                std::to_string(precision.max_replications));
    for (const PrecisionTarget& t : precision.targets) {
        if (!(t.half_width > 0) || !std::isfinite(t.half_width))
            throw ScenarioError("", 0, "precision", "the target half-width of KPI '" + t.kpi + "' must be > 0");
        const bool known = std::any_of(scenarios.begin(), scenarios.end(), [&](const auto& s) {
            return std::any_of(s->spec.kpis.begin(), s->spec.kpis.end(), [&](const KpiSpec& k) { return k.name == t.kpi; });
        });
        if (!known) throw ScenarioError("", 0, "precision", "no scenario of the job has a KPI named '" + t.kpi + "'");
    }

    PrecisionResult result;
    result.replications.resize(scenarios.size());
    for (std::size_t i = 0; i < scenarios.size(); ++i)
        result.replications[i] = std::clamp<std::uint32_t>(scenarios[i]->spec.replications, 2, precision.max_replications);

    for (;;) {
        ++result.rounds;
        std::vector<std::shared_ptr<const PreparedScenario>> round;
        for (std::size_t i = 0; i < scenarios.size(); ++i) {
            auto copy = std::make_shared<PreparedScenario>(*scenarios[i]);
            copy->spec.replications = result.replications[i];
            round.push_back(std::move(copy));
        }
        result.job = run_job(round, out, options);

        std::map<std::string, std::size_t> index;
        for (std::size_t i = 0; i < scenarios.size(); ++i) index[scenarios[i]->spec.name] = i;
        std::vector<double> worst(scenarios.size(), 0.0);  // max over targets of (h / target)
        std::vector<std::string> unmet;
        for (const KpiSummary& k : result.job.kpis) {
            for (const PrecisionTarget& t : precision.targets) {
                if (k.name != t.kpi || (!t.selection.empty() && k.selection != t.selection)) continue;
                const double target = t.relative ? t.half_width * std::abs(k.mean) : t.half_width;
                const double h = half_width(k);
                const std::size_t i = index.at(k.scenario);
                const double ratio = target > 0 ? h / target : (h > 0 ? std::numeric_limits<double>::infinity() : 0.0);
                if (ratio > 1.0) {
                    worst[i] = std::max(worst[i], ratio);
                    unmet.push_back(k.scenario + ": " + k.name + " " + k.selection + " half-width " + number(h) +
                                    " > target " + number(target) + " at n = " + std::to_string(result.replications[i]));
                }
            }
        }
        bool grew = false;
        for (std::size_t i = 0; i < scenarios.size(); ++i) {
            const std::uint32_t n = result.replications[i];
            if (worst[i] <= 1.0 || n >= precision.max_replications) continue;
            const double wanted = std::ceil(static_cast<double>(n) * worst[i] * worst[i]);
            const double next = std::min<double>(precision.max_replications, std::max<double>(n + 1, wanted));
            result.replications[i] = static_cast<std::uint32_t>(next);
            grew = true;
        }
        if (!grew) {
            result.unmet = std::move(unmet);
            return result;
        }
    }
}

}  // namespace twinsim::scenario
