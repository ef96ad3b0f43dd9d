#pragma once
// JSON Pointer (RFC 6901) reference tokens: the one place '~' and '/' are
// escaped and unescaped, for patch paths, error locations and document maps.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim {

/// One reference token escaped for a pointer: "~" -> "~0", then "/" -> "~1"
/// ("a/b~c" -> "a~1b~0c").
[[nodiscard]] std::string escape_pointer_token(std::string_view token);
/// Appends "/" and the escaped `token` to `pointer` (building a path without
/// a temporary).
void append_pointer_token(std::string& pointer, std::string_view token);
/// The token an escaped token stands for ("a~1b~0c" -> "a/b~c"; "~01" ->
/// "~1"); nullopt when a '~' is not followed by '0' or '1'.
[[nodiscard]] std::optional<std::string> unescape_pointer_token(std::string_view escaped);
/// Splits a pointer ("" or "/a/b~1c") into its unescaped tokens; nullopt when
/// it is neither empty nor starts with '/', or has a bad escape.
[[nodiscard]] std::optional<std::vector<std::string>> split_pointer(std::string_view pointer);

}  // namespace twinsim
