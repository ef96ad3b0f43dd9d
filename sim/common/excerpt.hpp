#pragma once
// Short, escaped excerpts of input for error messages. An error may be read
// by someone other than the author of the input (a service's log, a shared
// terminal), and input may be a file a scenario was not meant to read: an
// error never quotes more than a few dozen characters of it, and never a
// control character or an invalid UTF-8 byte.

#include <cstddef>
#include <string>
#include <string_view>

namespace twinsim {

/// Characters of input an excerpt shows at most (before escaping).
inline constexpr std::size_t max_excerpt_chars = 40;

/// `text` (one line, or a value) as at most max_excerpt_chars bytes around
/// byte `at` ("..." marks what is left out at either end), with control
/// characters, quotes, backslashes and bytes of invalid UTF-8 escaped
/// (\n, \t, \", \\, \xNN). Never throws except std::bad_alloc.
[[nodiscard]] std::string excerpt(std::string_view text, std::size_t at = 0);

/// The byte offset of the first byte of `text` that is not valid UTF-8
/// (overlong forms, surrogates and code points beyond U+10FFFF count as
/// invalid), or std::string_view::npos when all of it is valid.
[[nodiscard]] std::size_t invalid_utf8_at(std::string_view text) noexcept;

}  // namespace twinsim
