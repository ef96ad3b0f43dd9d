#include "twinsim/scenario/detail/overrides.hpp"

#include <string>

#include "twinsim/scenario/detail/references.hpp"
#include "twinsim/scenario/detail/selection.hpp"

namespace twinsim::scenario::detail {

namespace {

bool holds_reference(const nlohmann::json& v) {
    if (is_parameter_reference(v)) return true;
    if (v.is_structured())
        for (const auto& x : v)
            if (holds_reference(x)) return true;
    return false;
}

}  // namespace

void apply_overrides(graph::TwinGraph& graph, const ScenarioSpec& spec, const nlohmann::json& parameters, bool known_only) {
    for (std::size_t i = 0; i < spec.overrides.size(); ++i) {
        const PropertyOverride& o = spec.overrides[i];
        const nlohmann::json set = substitute_references(o.set, parameters);
        auto patch = nlohmann::json::array();
        for (const auto& [name, value] : set.items()) {
            if (known_only && holds_reference(value)) continue;
            patch.push_back({{"op", "add"}, {"path", "/" + name}, {"value", value}});
        }
        if (patch.empty()) continue;
        const graph::Snapshot now = graph.snapshot();
        const auto twins = select_twins(now, o.where);
        for (const graph::TwinIndex t : twins) {
            const std::string& id = now.twin_id(t);
            try {
                graph.update_twin(id, patch);
            } catch (const std::exception& x) {
                throw spec_error(spec, "/overrides/" + std::to_string(i), "overrides[" + std::to_string(i) + "]",
                                 "twin \"" + id + "\": " + x.what());
            }
        }
    }
}

}  // namespace twinsim::scenario::detail
