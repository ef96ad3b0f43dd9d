#pragma once
// A probability distribution as a scenario names it: a kind and its
// parameters, plain data that validates and samples through sim/kernel.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/kernel/rng.hpp"

namespace twinsim::scenario {

/// One distribution and its parameters. `params` holds the kind's named
/// parameters in the order param_names(kind) lists them:
///   exponential {mean > 0}            normal     {mean, sd > 0}
///   lognormal   {mu, sigma > 0}       weibull    {shape > 0, scale > 0}
///   gamma       {shape > 0, scale > 0} uniform   {low < high}
///   triangular  {low <= mode <= high, low < high}
///   empirical   {} with `values` (one or more) and optional `weights`
///               (as many as values, >= 0, not all zero; empty = equal):
///               a draw picks one of the values.
struct DistributionSpec {
    enum class Kind { exponential, normal, lognormal, weibull, gamma, uniform, triangular, empirical };
    Kind kind = Kind::uniform;
    std::vector<double> params;
    std::vector<double> values;   ///< empirical only
    std::vector<double> weights;  ///< empirical only

    /// Why the parameters are invalid (naming the parameter), or nullopt.
    [[nodiscard]] std::optional<std::string> problem() const;
    /// One draw. Precondition: !problem(). Uses sim/kernel's distributions, so
    /// the numbers are the same on every platform.
    [[nodiscard]] double sample(kernel::RandomStream& r) const;

    friend bool operator==(const DistributionSpec&, const DistributionSpec&) = default;
};

/// "normal", ... ; nullopt for an unknown name.
[[nodiscard]] std::optional<DistributionSpec::Kind> distribution_kind(std::string_view name);
[[nodiscard]] std::string_view to_string(DistributionSpec::Kind kind);
/// The kind's named numeric parameters, in the order of DistributionSpec::params.
[[nodiscard]] const std::vector<std::string>& param_names(DistributionSpec::Kind kind);

}  // namespace twinsim::scenario
