#pragma once
// Scenario documents as JSON with the source line of every value: YAML is
// converted to JSON (plain scalars typed as YAML 1.2's core schema does), and
// a JSON text's lines are found by a light scan after nlohmann has parsed it.

#include <cstddef>
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

/// The most values a YAML document may expand to, aliases counted once per
/// use (1,000,000): a small file of nested aliases cannot grow without bound.
/// Documented in docs/scenario-format.md.
inline constexpr std::size_t max_yaml_nodes = 1'000'000;

/// Throw ScenarioError (naming `source` and the line) on a syntax error, on a
/// document nested deeper than max_json_depth (common/json_depth.hpp), and on
/// a YAML document expanding to more than max_yaml_nodes values.
[[nodiscard]] Document parse_yaml_document(std::string_view text, const std::string& source);
[[nodiscard]] Document parse_json_document(std::string_view text, const std::string& source);

}  // namespace twinsim::scenario::detail
