#pragma once
// production_line: a production line described by the twin graph — order
// sources, stations, resource pools, sinks and products related by `feeds`,
// `processes`, `uses` and `releases` — simulated by production::Line
// (models/production/production_line.md). Its KPIs are written to the twins'
// properties, so a scenario's `kpis:` summarise them across replications.

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "models/production/line.hpp"
#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class ProductionLineModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "production_line"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    [[nodiscard]] std::string_view interface() const override { return "dtmi:twinsim:production:Element;1"; }
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override;
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

/// The line of a behaviour made by ProductionLineModel (after its start()),
/// else null: for tests and benchmarks that read statistics directly.
[[nodiscard]] const production::Line* production_line(const scenario::Behaviour& behaviour);

/// The LineSpec the model builds from `graph` for `twins` (the binding's,
/// ascending) with `parameters` (a binding's): what a run of it simulates
/// (the demand file's instants are taken relative to `start`).
/// Throws ModelParameterError as check() does.
[[nodiscard]] production::LineSpec production_line_spec(const graph::Snapshot& graph,
                                                        std::span<const graph::TwinIndex> twins,
                                                        const nlohmann::json& parameters, Timestamp start);

}  // namespace twinsim::models
