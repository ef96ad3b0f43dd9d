#pragma once
// Sweep designs over named scenario parameters and their expansion into one
// concrete scenario per design point.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace twinsim::scenario {

struct ScenarioSpec;

/// Parameter name -> value, in the order the design names the parameters.
using ParameterPoint = std::vector<std::pair<std::string, nlohmann::json>>;

/// A design. Exactly one of the three shapes, chosen by `kind`:
///   grid: the cartesian product of each parameter's values (the last
///         parameter varies fastest);
///   list: the explicit points;
///   latin_hypercube: `samples` points over the [low, high] range of each
///         parameter; each parameter's values fall one in each of the
///         `samples` equal strata, paired at random. Deterministic from
///         `seed` (the scenario's seed when not given) through the kernel's
///         Philox streams.
struct SweepSpec {
    enum class Kind { grid, list, latin_hypercube };
    struct Range {
        std::string name;
        double low = 0.0;
        double high = 0.0;
        friend bool operator==(const Range&, const Range&) = default;
    };
    Kind kind = Kind::grid;
    std::vector<std::pair<std::string, std::vector<nlohmann::json>>> grid;
    std::vector<ParameterPoint> list;
    std::uint32_t samples = 0;
    std::vector<Range> ranges;
    std::optional<std::uint64_t> seed;

    /// The design points, in a fixed order. `scenario_seed` is used by a Latin
    /// hypercube without a seed of its own.
    [[nodiscard]] std::vector<ParameterPoint> points(std::uint64_t scenario_seed) const;

    friend bool operator==(const SweepSpec&, const SweepSpec&) = default;
};

/// One concrete scenario per design point of base.sweep: the sweep removed,
/// the point's values set as fixed parameters, every "${name}" reference to
/// them replaced by the value, and the name "base[p=v,q=w]". A spec without a
/// sweep expands to itself. Precondition: base was validated (read by the
/// scenario readers, or validate(base) passed).
[[nodiscard]] std::vector<ScenarioSpec> expand(const ScenarioSpec& base);

/// "name[p=v,q=w]": numbers as their shortest round-trip text, strings bare.
[[nodiscard]] std::string point_name(const std::string& base, const ParameterPoint& point);

}  // namespace twinsim::scenario
