#include "twinsim/common/excerpt.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace twinsim {

namespace {

// Length of the valid UTF-8 sequence starting at `i`, 0 when it is invalid.
std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1, cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2, cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3, cp = c & 0x07u;
    } else {
        return 0;
    }
    if (i + n >= s.size()) return 0;  // truncated
    for (std::size_t k = 1; k <= n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (d & 0x3Fu);
    }
    if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return n + 1;
}

}  // namespace

std::size_t invalid_utf8_at(std::string_view text) noexcept {
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t n = sequence_length(text, i);
        if (n == 0) return i;
        i += n;
    }
    return std::string_view::npos;
}

std::string excerpt(std::string_view text, std::size_t at) {
    at = std::min(at, text.size());  // a position past the end means the end
    std::size_t from = 0;
    if (text.size() > max_excerpt_chars) {
        from = at > max_excerpt_chars / 2 ? at - max_excerpt_chars / 2 : 0;
        if (from + max_excerpt_chars > text.size()) from = text.size() - max_excerpt_chars;
        // Start on a character boundary.
        while (from > 0 && (static_cast<unsigned char>(text[from]) & 0xC0u) == 0x80u) --from;
    }
    const std::size_t to = std::min(text.size(), from + max_excerpt_chars);
    std::string out;
    if (from > 0) out += "...";
    std::size_t i = from;
    while (i < to) {
        const auto c = static_cast<unsigned char>(text[i]);
        const std::size_t n = sequence_length(text, i);
        if (n > 1 && i + n <= to) {
            out.append(text.substr(i, n));
            i += n;
            continue;
        }
        switch (c) {
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            default:
                if (c < 0x20 || c >= 0x7F) {
                    char hex[8];
                    std::snprintf(hex, sizeof hex, "\\x%02X", c);
                    out += hex;
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    if (to < text.size()) out += "...";
    return out;
}

}  // namespace twinsim
