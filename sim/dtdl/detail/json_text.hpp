#pragma once
// Turning document text into JSON: UTF-8 BOM accepted, non-UTF-8 bytes and
// malformed JSON reported with line and column instead of thrown.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace twinsim::dtdl::detail {

/// Parses `text` (optionally starting with a UTF-8 BOM). On failure returns
/// nullopt and sets `error` to a message naming line and column. Never throws
/// except std::bad_alloc.
[[nodiscard]] std::optional<nlohmann::json> parse_json_text(std::string_view text, std::string& error);

}  // namespace twinsim::dtdl::detail
