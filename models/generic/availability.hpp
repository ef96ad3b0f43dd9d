#pragma once
// availability: failure and repair of equipment — `fail` and `repair` events,
// optional random failures (MTBF) and repair times (models/generic/availability.md).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class AvailabilityModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "availability"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override;
    [[nodiscard]] std::vector<std::string> events() const override { return {"fail", "repair"}; }
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

/// What one twin has gone through since the start of the run.
struct AvailabilityStatistics {
    std::uint64_t failures = 0;
    std::uint64_t repairs = 0;
    bool failed = false;         ///< now
    double downtime = 0.0;       ///< seconds failed over [start, now]
    std::optional<double> repair_due;     ///< time of the pending repair, if one is scheduled
    std::optional<double> failure_due;    ///< time of the pending random failure, if one is scheduled
};

/// The statistics of the twin at `position` (in the binding's twins) of a
/// behaviour made by AvailabilityModel, as of `now`; nullopt when `behaviour`
/// is not one or `position` is out of range.
[[nodiscard]] std::optional<AvailabilityStatistics> availability_statistics(const scenario::Behaviour& behaviour,
                                                                            std::size_t position, double now);

}  // namespace twinsim::models
