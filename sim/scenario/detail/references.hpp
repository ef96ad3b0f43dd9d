#pragma once
// "${name}" parameter references in scenario values (internal to sim/scenario).

#include <nlohmann/json.hpp>

#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario::detail {

/// A copy of `value` in which every string "${name}" whose name is a key of
/// `values` (a JSON object) is replaced by that value, at any depth; other
/// strings, and references to names `values` lacks, stay as they are.
[[nodiscard]] inline nlohmann::json substitute_references(const nlohmann::json& value, const nlohmann::json& values) {
    if (is_parameter_reference(value)) {
        const auto& s = value.get_ref<const std::string&>();
        if (auto it = values.find(s.substr(2, s.size() - 3)); it != values.end()) return *it;
        return value;
    }
    if (value.is_array()) {
        auto out = nlohmann::json::array();
        for (const auto& x : value) out.push_back(substitute_references(x, values));
        return out;
    }
    if (value.is_object()) {
        auto out = nlohmann::json::object();
        for (const auto& [k, v] : value.items()) out[k] = substitute_references(v, values);
        return out;
    }
    return value;
}

}  // namespace twinsim::scenario::detail
