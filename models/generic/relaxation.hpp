#pragma once
// relaxation: first-order relaxation of a numeric property toward a target,
// integrated exactly on a periodic step (models/generic/relaxation.md).

#include <memory>
#include <span>
#include <string_view>

#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class RelaxationModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "relaxation"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override;
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

}  // namespace twinsim::models
