#pragma once
// Choosing among a job's scenarios (docs/selection.md): the best one by a KPI
// with Kim and Nelson's fully sequential procedure, and the cheapest one whose
// KPI meets a threshold with a stated confidence. Both draw per-run KPI values
// (kpi_values: replication r of scenario i is the run the runner would run, its
// random stream (seed, r), so scenarios share random numbers) on worker threads
// and decide from them in replication order only, so their answers do not
// depend on the thread count.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "twinsim/scenario/prepared_scenario.hpp"

namespace twinsim::scenario {

/// The value of KPI `kpi` (its row for `selection`; "" = its only or first
/// row) in each run of `scenario` at replications first..last-1, in order.
/// Runs on `threads` threads (0 = every core), no file. Throws Error naming the
/// scenario and replication when a run fails or has no such KPI row.
[[nodiscard]] std::vector<double> kpi_values(const std::shared_ptr<const PreparedScenario>& scenario,
                                             const std::string& kpi, const std::string& selection, std::uint32_t first,
                                             std::uint32_t last, unsigned threads = 0);

struct SelectOptions {
    std::string kpi;
    std::string selection;   ///< "" = the KPI's only (or first) row
    bool maximize = true;    ///< false: the lowest mean is best
    double delta = 0.0;      ///< indifference zone δ > 0, in the KPI's unit
    double alpha = 0.05;     ///< 1 - α: the probability of correct selection, 0 < α < 1
    std::uint32_t first_stage = 10;        ///< n0 >= 2 replications of every scenario
    std::uint32_t max_replications = 1000; ///< per scenario
    std::uint32_t lookahead = 10;  ///< replications run ahead per stage (speed only: decisions use r at a time)
    unsigned threads = 0;
};

struct SelectedBest {
    std::size_t best = 0;  ///< index of the selected scenario
    bool decided = true;   ///< false: max_replications reached with several left (best = the best mean among them)
    double eta = 0.0;      ///< Kim and Nelson's η, and h² = 2η(n0 - 1)
    double h2 = 0.0;
    struct System {
        std::string name;
        std::uint32_t replications = 0;  ///< used for the decision (at elimination, or at the end)
        double mean = 0.0;               ///< over those replications
        std::optional<std::uint32_t> eliminated_at;  ///< the stage r at which it was screened out
    };
    std::vector<System> systems;
};

/// Kim and Nelson's (2001) fully sequential procedure ("KN"): with normal
/// outputs, P(select the best) >= 1 - α whenever the best mean exceeds every
/// other by at least δ (common random numbers allowed). Throws ScenarioError
/// (field "select") for fewer than one scenario or options out of range.
[[nodiscard]] SelectedBest select_best(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                                       const SelectOptions& options);

struct FeasibleOptions {
    std::string kpi;
    std::string selection;
    double threshold = 0.0;
    bool at_least = true;   ///< feasible means mean >= threshold (false: <= threshold)
    double alpha = 0.05;    ///< 1 - α: the confidence of every decision made, jointly
    std::uint32_t first_stage = 10;
    std::uint32_t max_replications = 1000;
    unsigned threads = 0;
};

struct CheapestFeasible {
    std::optional<std::size_t> chosen;  ///< the first scenario (in the order given) decided feasible
    double alpha_per_test = 0.0;        ///< α / (scenarios × looks)
    enum class Status { feasible, infeasible, undecided, not_tested };
    struct System {
        std::string name;
        Status status = Status::not_tested;
        std::uint32_t replications = 0;
        double mean = 0.0;
        double low = 0.0;   ///< the one-sided (1 - alpha_per_test) bounds at the decision
        double high = 0.0;
    };
    std::vector<System> systems;
};

/// The cheapest feasible scenario: `scenarios` are given cheapest first (the
/// caller's cost order, e.g. a sweep over agents); each is tested in turn with
/// looks at n0, 2 n0, 4 n0, ... and max_replications, each look a one-sided t
/// test at level α / (scenarios × looks) (Bonferroni over every test that may
/// be made): feasible when the lower bound is >= threshold (at_least), infeasible
/// when the upper bound is < threshold, undecided at the maximum (counted as not
/// feasible, reported). The first feasible one is chosen and the rest are not
/// tested. With probability >= 1 - α every decision made is right, so the
/// chosen scenario meets the threshold and every cheaper one decided infeasible
/// does not. Throws ScenarioError (field "feasible") for options out of range.
[[nodiscard]] CheapestFeasible cheapest_feasible(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                                                 const FeasibleOptions& options);

[[nodiscard]] const char* to_string(CheapestFeasible::Status status) noexcept;

}  // namespace twinsim::scenario
