#include "twinsim/dtdl/detail/json_text.hpp"

#include <cstddef>

namespace twinsim::dtdl::detail {
namespace {

// Line and column (1-based, column in bytes) of byte `offset`.
std::string position(std::string_view text, std::size_t offset) {
    std::size_t line = 1;
    std::size_t col = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
std::size_t first_invalid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        unsigned min = 0;
        if (c < 0x80U) { ++i; continue; }
        if (c >= 0xC2U && c <= 0xDFU) { n = 1; min = 0x80U; }
        else if (c >= 0xE0U && c <= 0xEFU) { n = 2; min = 0x800U; }
        else if (c >= 0xF0U && c <= 0xF4U) { n = 3; min = 0x10000U; }
        else return i;
        unsigned cp = c & (0x3FU >> n);
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return i;
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0U) != 0x80U) return i;
            cp = (cp << 6U) | (cc & 0x3FU);
        }
        if (cp < min || cp > 0x10FFFFU || (cp >= 0xD800U && cp <= 0xDFFFU)) return i;
        i += n + 1;
    }
    return std::string_view::npos;
}

}  // namespace

std::optional<nlohmann::json> parse_json_text(std::string_view text, std::string& error) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    if (auto bad = first_invalid_utf8(text); bad != std::string_view::npos) {
        error = "text is not valid UTF-8 (bad byte at " + position(text, bad) + ")";
        return std::nullopt;
    }
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        std::string what = e.what();
        // nlohmann's message carries its own position; keep only the reason.
        if (auto p = what.find("syntax error"); p != std::string::npos) what = what.substr(p);
        error = "malformed JSON at " + position(text, e.byte > 0 ? e.byte - 1 : 0) + ": " + what;
        return std::nullopt;
    } catch (const nlohmann::json::exception& e) {
        error = std::string("malformed JSON: ") + e.what();
        return std::nullopt;
    }
}

}  // namespace twinsim::dtdl::detail
