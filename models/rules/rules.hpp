#pragma once
// rules: declarative business rules as a behaviour model (models/rules/rules.md).
//
//   - condition rules: `when <expression> [for <duration>] then <actions>`,
//     fired on each twin of the binding when the expression becomes true (or
//     has held for the duration); actions set properties, fail or restore the
//     twin (events "fail" / "repair" for the `availability` model) or raise an
//     alarm;
//   - propagation rules: a target property kept equal to an aggregate (mean,
//     min, max, sum, count, all, any) over the twins related to the target.
//
// Both are evaluated incrementally: a rule is re-evaluated for a twin only
// when a property it reads was written (Run::on_write).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class RulesModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "rules"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

/// Counters of a behaviour made by RulesModel (for tests and diagnostics).
struct RulesStatistics {
    std::uint64_t firings = 0;          ///< condition rules fired
    std::uint64_t evaluations = 0;      ///< (rule, twin) condition evaluations
    std::uint64_t recomputations = 0;   ///< (rule, target) aggregates recomputed
    std::uint64_t propagated = 0;       ///< target values written (changed)
};

/// nullopt when `behaviour` was not made by RulesModel.
[[nodiscard]] std::optional<RulesStatistics> rules_statistics(const scenario::Behaviour& behaviour);

}  // namespace twinsim::models
