#include "twinsim/scenario/select.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <thread>

#include "twinsim/common/error.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/execute.hpp"
#include "twinsim/scenario/limits.hpp"
#include "twinsim/scenario/reduce.hpp"

namespace twinsim::scenario {

namespace {

class NoSeries final : public ResultsSink {
public:
    void series_block(const PreparedScenario&, std::size_t, std::uint32_t, std::uint64_t, std::vector<double>) override {}
};

double mean_of(const std::vector<double>& x, std::size_t n) {
    double sum = 0;
    for (std::size_t j = 0; j < n; ++j) sum += x[j];
    return sum / static_cast<double>(n);
}

double variance_of(const std::vector<double>& x, std::size_t n) {
    const double m = mean_of(x, n);
    double ss = 0;
    for (std::size_t j = 0; j < n; ++j) ss += (x[j] - m) * (x[j] - m);
    return ss / static_cast<double>(n - 1);
}

/// t quantile: P(T_df <= t) = p.
double t_quantile(double p, std::size_t df) {
    return boost::math::quantile(boost::math::students_t_distribution<double>(static_cast<double>(df)), p);
}

void require_kpi(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios, const std::string& kpi,
                 const char* field) {
    if (scenarios.empty()) throw ScenarioError("", 0, field, "no scenarios to choose from");
    for (const auto& s : scenarios)
        if (std::none_of(s->spec.kpis.begin(), s->spec.kpis.end(), [&](const KpiSpec& k) { return k.name == kpi; }))
            throw ScenarioError("", 0, field, "scenario '" + s->spec.name + "' has no KPI named '" + kpi + "'");
}

void require_stages(std::uint32_t first, std::uint32_t max, double alpha, const char* field) {
    if (!(alpha > 0 && alpha < 1)) throw ScenarioError("", 0, field, "alpha must be in (0, 1)");
    if (first < 2) throw ScenarioError("", 0, field, "the first stage needs at least 2 replications");
    if (max < first || max > limits::max_replications)
        throw ScenarioError("", 0, field,
                            "max_replications must be from the first stage (" + std::to_string(first) + ") to " +
                                std::to_string(limits::max_replications));
}

}  // namespace

std::vector<double> kpi_values(const std::shared_ptr<const PreparedScenario>& scenario, const std::string& kpi,
                               const std::string& selection, std::uint32_t first, std::uint32_t last, unsigned threads) {
    if (last <= first) return {};
    auto prepared = std::make_shared<PreparedScenario>(*scenario);
    prepared->spec.replications = std::max(prepared->spec.replications, last);
    const std::shared_ptr<const PreparedScenario> s = prepared;
    std::vector<double> out(last - first, std::nan(""));
    std::vector<std::string> errors(last - first);
    NoSeries sink;
    const unsigned n = threads != 0 ? threads : std::clamp(std::thread::hardware_concurrency(), 1u, limits::max_threads);
    tbb::task_arena arena(static_cast<int>(n));
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::uint32_t>(first, last, 1), [&](const tbb::blocked_range<std::uint32_t>& range) {
            for (std::uint32_t r = range.begin(); r != range.end(); ++r) {
                RunTask task;
                task.scenario_index = s->index;
                task.scenario = s->spec.name;
                task.replication = r;
                task.seed = s->spec.seed;
                TaskOutcome outcome = execute(s, task, sink, {});
                const std::size_t k = r - first;
                if (outcome.failure) {
                    errors[k] = "run failed: " + *outcome.failure;
                    continue;
                }
                const io::RunResults run = run_results(*s, std::move(outcome));
                bool found = false;
                for (const io::KpiRow& row : run.kpis) {
                    if (row.name == kpi && (selection.empty() || row.selection == selection)) {
                        out[k] = row.value;
                        found = true;
                        break;
                    }
                }
                if (!found) errors[k] = "the run has no value of KPI '" + kpi + "'" + (selection.empty() ? "" : " for " + selection);
            }
        });
    });
    for (std::size_t k = 0; k < errors.size(); ++k)
        if (!errors[k].empty())
            throw Error("scenario '" + s->spec.name + "', replication " + std::to_string(first + k) + ": " + errors[k]);
    return out;
}

SelectedBest select_best(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                         const SelectOptions& o) {
    require_kpi(scenarios, o.kpi, "select");
    require_stages(o.first_stage, o.max_replications, o.alpha, "select");
    if (!(o.delta > 0) || !std::isfinite(o.delta)) throw ScenarioError("", 0, "select", "delta must be > 0");
    const std::size_t k = scenarios.size();
    SelectedBest result;
    result.systems.resize(k);
    for (std::size_t i = 0; i < k; ++i) result.systems[i].name = scenarios[i]->spec.name;
    const double n0 = o.first_stage;
    // η = ½[(2α/(k-1))^(-2/(n0-1)) - 1], h² = 2η(n0 - 1)   (Kim and Nelson 2001)
    result.eta = k > 1 ? 0.5 * (std::pow(2.0 * o.alpha / static_cast<double>(k - 1), -2.0 / (n0 - 1.0)) - 1.0) : 0.0;
    result.h2 = 2.0 * result.eta * (n0 - 1.0);
    const double sign = o.maximize ? 1.0 : -1.0;

    std::vector<std::vector<double>> x(k);  // sign * values, replication order
    auto ensure = [&](std::size_t i, std::uint32_t r) {
        if (x[i].size() >= r) return;
        const auto have = static_cast<std::uint32_t>(x[i].size());
        const std::uint32_t upto = std::min(o.max_replications, std::max(r, have + o.lookahead));
        for (double v : kpi_values(scenarios[i], o.kpi, o.selection, have, upto, o.threads)) x[i].push_back(sign * v);
    };
    std::vector<std::size_t> alive(k);
    for (std::size_t i = 0; i < k; ++i) alive[i] = i;
    for (std::size_t i = 0; i < k; ++i) ensure(i, o.first_stage);
    // S²_il: the variance of the first-stage differences.
    std::vector<std::vector<double>> s2(k, std::vector<double>(k, 0.0));
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t l = i + 1; l < k; ++l) {
            std::vector<double> d(o.first_stage);
            for (std::size_t j = 0; j < o.first_stage; ++j) d[j] = x[i][j] - x[l][j];
            s2[i][l] = s2[l][i] = variance_of(d, o.first_stage);
        }
    std::uint32_t r = o.first_stage;
    for (;;) {
        if (alive.size() > 1) {
            std::vector<double> means(k, 0.0);
            for (const std::size_t i : alive) means[i] = mean_of(x[i], r);
            std::vector<std::size_t> kept;
            for (const std::size_t i : alive) {
                bool out = false;
                for (const std::size_t l : alive) {
                    if (l == i) continue;
                    const double w = std::max(0.0, o.delta / (2.0 * r) * (result.h2 * s2[i][l] / (o.delta * o.delta) - r));
                    if (means[i] < means[l] - w) {
                        out = true;
                        break;
                    }
                }
                if (out) {
                    result.systems[i].eliminated_at = r;
                    result.systems[i].replications = r;
                    result.systems[i].mean = sign * means[i];
                } else {
                    kept.push_back(i);
                }
            }
            alive = std::move(kept);
        }
        if (alive.size() <= 1 || r >= o.max_replications) break;
        ++r;
        for (const std::size_t i : alive) ensure(i, r);
    }
    result.decided = alive.size() == 1;
    std::size_t best = alive.front();
    for (const std::size_t i : alive) {
        result.systems[i].replications = r;
        result.systems[i].mean = sign * mean_of(x[i], r);
        if (mean_of(x[i], r) > mean_of(x[best], r)) best = i;
    }
    result.best = best;
    return result;
}

CheapestFeasible cheapest_feasible(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                                   const FeasibleOptions& o) {
    require_kpi(scenarios, o.kpi, "feasible");
    require_stages(o.first_stage, o.max_replications, o.alpha, "feasible");
    if (!std::isfinite(o.threshold)) throw ScenarioError("", 0, "feasible", "the threshold must be finite");
    std::vector<std::uint32_t> looks;
    for (std::uint64_t n = o.first_stage; n < o.max_replications; n *= 2) looks.push_back(static_cast<std::uint32_t>(n));
    looks.push_back(o.max_replications);
    CheapestFeasible result;
    result.alpha_per_test = o.alpha / static_cast<double>(scenarios.size() * looks.size());
    result.systems.resize(scenarios.size());
    for (std::size_t i = 0; i < scenarios.size(); ++i) result.systems[i].name = scenarios[i]->spec.name;
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
        CheapestFeasible::System& sys = result.systems[i];
        std::vector<double> x;
        for (const std::uint32_t n : looks) {
            const auto more = kpi_values(scenarios[i], o.kpi, o.selection, static_cast<std::uint32_t>(x.size()), n, o.threads);
            x.insert(x.end(), more.begin(), more.end());
            const double m = mean_of(x, n);
            const double half = t_quantile(1.0 - result.alpha_per_test, n - 1) * std::sqrt(variance_of(x, n) / n);
            sys.replications = n;
            sys.mean = m;
            sys.low = m - half;
            sys.high = m + half;
            const bool meets = o.at_least ? sys.low >= o.threshold : sys.high <= o.threshold;
            const bool fails = o.at_least ? sys.high < o.threshold : sys.low > o.threshold;
            if (meets) {
                sys.status = CheapestFeasible::Status::feasible;
                break;
            }
            if (fails) {
                sys.status = CheapestFeasible::Status::infeasible;
                break;
            }
            sys.status = CheapestFeasible::Status::undecided;
        }
        if (sys.status == CheapestFeasible::Status::feasible) {
            result.chosen = i;
            break;
        }
    }
    return result;
}

const char* to_string(CheapestFeasible::Status status) noexcept {
    switch (status) {
        case CheapestFeasible::Status::feasible: return "feasible";
        case CheapestFeasible::Status::infeasible: return "infeasible";
        case CheapestFeasible::Status::undecided: return "undecided";
        case CheapestFeasible::Status::not_tested: return "not tested";
    }
    return "?";
}

}  // namespace twinsim::scenario
