#pragma once
// predicted_failures: in a scenario run, each degrading unit fails at a time
// drawn from its current remaining-useful-life distribution (the
// rulQuantiles property that live prognostics keeps), and the failure is
// delivered as a `fail` event to the twin — so the `availability` behaviour
// bound to it fails it exactly as an injected failure would, and the failure
// propagates through the graph (models/equipment/prognostics.md, "In a
// scenario").
//
// Sampling: inverse transform of the twin's own sub-stream through the
// piecewise-linear quantile function of its rulQuantiles (q01 ... q99, held
// monotone, extended linearly to p = 0 and p = 1, never below 0 cycles);
// failure time = RUL x `cycle` seconds. A twin without rulQuantiles gets no
// predicted failure (logged once at time 0 as `prediction_missing`).

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class PredictedFailuresModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "predicted_failures"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    [[nodiscard]] std::string_view interface() const override { return "dtmi:twinsim:equipment:DegradingEquipment;1"; }
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

/// The probabilities of the rulQuantiles fields q01, q05, ..., q99.
inline constexpr double rul_quantile_levels[9] = {0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99};
inline constexpr std::string_view rul_quantile_names[9] = {"q01", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "q99"};

/// The RUL (cycles) at probability u in [0, 1] of the piecewise-linear
/// quantile function through `values` (at rul_quantile_levels; made
/// monotone), extended linearly to 0 and 1 and floored at 0.
/// Precondition: values.size() == 9, finite.
[[nodiscard]] double rul_from_quantiles(std::span<const double> values, double u);

}  // namespace twinsim::models
