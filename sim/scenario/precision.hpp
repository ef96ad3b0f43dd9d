#pragma once
// Sequential replications (docs/runner.md, "Sequential replications"): run a
// job's scenarios with more and more replications until every chosen KPI's
// 95 % confidence interval half-width is below its target, absolute or
// relative to the mean, or a scenario reaches the maximum count.
//
// Rounds: every scenario starts with max(2, spec.replications) replications;
// after a round, a scenario some target of which is not met gets
//   n' = min(max, max(n + 1, ceil(n * (h / target)^2)))
// (h: the half-width t(0.975, n-1) s / sqrt(n); the classical two-stage
// estimate of the count that reaches the target), the others keep n, and the
// whole job runs again (run_job, writing `out`), until no scenario grows. The
// last round's file is the result. Replication r of a scenario is the same run
// in every round (its random stream is (seed, r)), so the counts and the file
// depend only on the job, never on the thread count.
//
// The cost: rounds rerun the replications of earlier rounds (at most about
// twice the final count in total when each round at least doubles, more when
// it grows by small steps).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "twinsim/scenario/runner.hpp"

namespace twinsim::scenario {

struct PrecisionTarget {
    std::string kpi;        ///< a KPI name of the scenarios (each scenario that has it)
    std::string selection;  ///< "" = every selection (twin) of that KPI
    double half_width = 0;  ///< > 0: in the KPI's unit, or a fraction of |mean| when relative
    bool relative = false;
};

struct PrecisionOptions {
    std::vector<PrecisionTarget> targets;  ///< at least one
    std::uint32_t max_replications = 1000;  ///< >= 2, <= limits::max_replications
};

struct PrecisionResult {
    JobResult job;  ///< the last round's
    std::vector<std::uint32_t> replications;  ///< per scenario, the count run in the last round
    std::size_t rounds = 0;
    /// "scenario: KPI selection half-width h > target t at n = max" for every
    /// target not met at the maximum count; empty when all are met.
    std::vector<std::string> unmet;
};

/// Runs rounds as described above. Throws ScenarioError (field "precision")
/// when there is no target, a target is not > 0, names a KPI no scenario has,
/// or max_replications is out of range; what run_job throws otherwise.
[[nodiscard]] PrecisionResult run_until_precise(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                                                const std::filesystem::path& out, const RunnerOptions& options,
                                                const PrecisionOptions& precision);

/// The half-width of the 95 % interval of a KPI's mean: t(0.975, n-1) std / sqrt(n); +inf when n < 2.
[[nodiscard]] double half_width(const KpiSummary& kpi) noexcept;

}  // namespace twinsim::scenario
