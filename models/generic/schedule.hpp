#pragma once
// schedule: sets a numeric property of its twins to given values at given
// times after the start (models/generic/schedule.md).

#include <memory>
#include <string>
#include <vector>
#include <span>
#include <string_view>

#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class ScheduleModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "schedule"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    /// The `process` parameter's name, when given.
    [[nodiscard]] std::vector<std::string> processes(const scenario::Binding& binding) const override;
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override;
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

}  // namespace twinsim::models
