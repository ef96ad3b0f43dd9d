#pragma once
// The one nesting limit of JSON (and YAML) values read from untrusted input:
// twin and relationship lines, JSON Patch values, DTDL documents, scenario
// files, continuation tokens and values converted from Python. Values deeper
// than this are refused before anything recurses over them, so no input can
// exhaust the stack (nlohmann's dump, copy and comparison recurse; so do
// DTDL value validation and the Python conversion).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim {

/// Arrays and objects may nest at most this many levels (`[[1]]` is 2, a
/// scalar 0). Documented in docs/common.md.
inline constexpr std::size_t max_json_depth = 128;

/// "nests arrays and objects deeper than the limit of 128 levels": the reason
/// every reader gives, after naming where (file, line, path or position).
[[nodiscard]] std::string json_depth_reason();

/// Scans JSON text without parsing it (strings skipped, escapes honoured) and
/// returns the byte offset of the '[' or '{' that opens level
/// max_json_depth + 1, or nullopt when the text stays within the limit.
/// Linear time, constant memory; malformed text is left to the parser.
[[nodiscard]] std::optional<std::size_t> find_json_depth_excess(std::string_view text) noexcept;

/// True when a value built in memory (nlohmann::json or ordered_json) nests
/// arrays and objects deeper than `limit`. Iterative: safe on any depth.
template <typename Json>
[[nodiscard]] bool json_deeper_than(const Json& value, std::size_t limit = max_json_depth) {
    if (!value.is_structured()) return false;
    struct Frame {
        const Json* value;
        std::size_t depth;
    };
    std::vector<Frame> stack{{&value, 1}};
    while (!stack.empty()) {
        const Frame f = stack.back();
        stack.pop_back();
        if (f.depth > limit) return true;
        for (const auto& child : *f.value) {
            if (child.is_structured()) stack.push_back({&child, f.depth + 1});
        }
    }
    return false;
}

}  // namespace twinsim
