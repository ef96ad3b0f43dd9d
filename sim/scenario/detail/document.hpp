#pragma once
// Scenario documents as JSON with the source line of every value: YAML is
// converted to JSON (plain scalars typed as YAML 1.2's core schema does), and
// a JSON text's lines are found by a light scan after nlohmann has parsed it.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

namespace twinsim::scenario::detail {

/// JSON pointer ("/overrides/0/where") -> 1-based line where the value (for
/// an object member: its key) starts.
using LineMap = std::unordered_map<std::string, std::uint32_t>;

struct Document {
    nlohmann::ordered_json json;
    LineMap lines;
};

/// Throw ScenarioError (naming `source` and the line) on a syntax error.
[[nodiscard]] Document parse_yaml_document(std::string_view text, const std::string& source);
[[nodiscard]] Document parse_json_document(std::string_view text, const std::string& source);

}  // namespace twinsim::scenario::detail
