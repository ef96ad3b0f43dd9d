#pragma once
// Turning document text into JSON: UTF-8 BOM accepted, non-UTF-8 bytes and
// malformed JSON reported with line and column instead of thrown.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim::dtdl::detail {

/// Parses `text` (optionally starting with a UTF-8 BOM). On failure returns
/// nullopt and sets `error` to a message naming line and column. Never throws
/// except std::bad_alloc.
[[nodiscard]] std::optional<nlohmann::json> parse_json_text(std::string_view text, std::string& error);

/// Where a document nests deeper than max_json_depth (common/json_depth.hpp).
struct DeepValue {
    std::string position;  ///< "line L, column C" of the '[' or '{' that opens the level beyond the limit
    std::string pointer;   ///< JSON Pointer of that value, e.g. "/contents/0/schema/elementSchema/..."
    std::string id;        ///< the "@id" of the innermost enclosing object that states one before it; empty if none
};

/// Scans `text` for nesting beyond max_json_depth without parsing or recursing
/// (linear time, memory bounded by the limit); nullopt when within it. Keys
/// with escapes are reported as written. Never throws except std::bad_alloc.
[[nodiscard]] std::optional<DeepValue> find_deep_value(std::string_view text);

/// Length in bytes, braces included, of the JSON object at each of `pointers`
/// (RFC 6901 JSON Pointers, "" for the root) in `text`; 0 for a pointer that
/// names no object. nlohmann::json keeps no offsets, so this is a second, light
/// scan of the text. Precondition: `text` is JSON that parse_json_text accepted
/// (a leading UTF-8 BOM is skipped). Never throws except std::bad_alloc.
[[nodiscard]] std::vector<std::size_t> object_lengths(std::string_view text, const std::vector<std::string>& pointers);

}  // namespace twinsim::dtdl::detail
