// DTMI syntax (reference/dtdl/DTMI_README.md) checked by hand, no regex.

#include "twinsim/dtdl/dtmi.hpp"

#include <cstddef>

#include "twinsim/dtdl/detail/syntax.hpp"

namespace twinsim::dtdl {
namespace detail {
namespace {

bool is_alpha(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }

// [1-9][0-9]{0,max_len-1}
bool is_number(std::string_view s, std::size_t max_len) noexcept {
    if (s.empty() || s.size() > max_len || s[0] == '0') return false;
    for (char c : s)
        if (!is_digit(c)) return false;
    return true;
}

}  // namespace

bool is_segment(std::string_view s) noexcept {
    if (s.empty() || !is_alpha(s.front()) || !is_alnum(s.back())) return false;
    for (char c : s)
        if (!is_alnum(c) && c != '_') return false;
    return true;
}

DtmiShape dtmi_shape(std::string_view text) noexcept {
    DtmiShape shape;
    constexpr std::string_view scheme = "dtmi:";
    if (text.substr(0, scheme.size()) != scheme) return shape;
    std::string_view rest = text.substr(scheme.size());
    std::string_view fragment;
    if (auto hash = rest.find('#'); hash != std::string_view::npos) {
        fragment = rest.substr(hash + 1);
        rest = rest.substr(0, hash);
        if (!is_segment(fragment)) return shape;
        shape.has_fragment = true;
    }
    std::string_view version;
    if (auto semi = rest.find(';'); semi != std::string_view::npos) {
        version = rest.substr(semi + 1);
        rest = rest.substr(0, semi);
        auto dot = version.find('.');
        if (dot == std::string_view::npos) {
            if (!is_number(version, 9)) return shape;
        } else {
            if (!is_number(version.substr(0, dot), 9) || !is_number(version.substr(dot + 1), 6)) return shape;
            shape.has_minor = true;
        }
        shape.has_version = true;
    }
    // path: segment(:segment)*
    std::size_t start = 0;
    while (true) {
        auto colon = rest.find(':', start);
        auto seg = rest.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
        if (!is_segment(seg)) return shape;
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    shape.valid = true;
    return shape;
}

bool is_language_tag(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size() && s[i] >= 'a' && s[i] <= 'z') ++i;
    if (i < 2 || i > 4) return false;
    auto rest = s.substr(i);
    // optional script: -Xxxx
    if (rest.size() >= 5 && rest[0] == '-' && rest[1] >= 'A' && rest[1] <= 'Z' && rest[2] >= 'a' && rest[2] <= 'z' &&
        rest[3] >= 'a' && rest[3] <= 'z' && rest[4] >= 'a' && rest[4] <= 'z')
        rest = rest.substr(5);
    if (rest.empty()) return true;
    if (rest.size() == 3 && rest[0] == '-' && rest[1] >= 'A' && rest[1] <= 'Z' && rest[2] >= 'A' && rest[2] <= 'Z')
        return true;
    return rest.size() == 4 && rest[0] == '-' && is_digit(rest[1]) && is_digit(rest[2]) && is_digit(rest[3]);
}

std::size_t utf8_length(std::string_view text) noexcept {
    std::size_t n = 0;
    for (char c : text)
        if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++n;
    return n;
}

}  // namespace detail

std::optional<Dtmi> Dtmi::parse(std::string_view text) {
    const auto shape = detail::dtmi_shape(text);
    if (!shape.valid) return std::nullopt;
    Dtmi d;
    std::string_view rest = text.substr(5);
    if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    auto semi = rest.find(';');
    d.path = std::string(rest.substr(0, semi));
    if (semi != std::string_view::npos) {
        auto version = rest.substr(semi + 1);
        auto to_u32 = [](std::string_view digits) {
            std::uint32_t v = 0;
            for (char c : digits) v = v * 10U + static_cast<std::uint32_t>(c - '0');
            return v;
        };
        auto dot = version.find('.');
        d.major = to_u32(version.substr(0, dot));
        if (dot != std::string_view::npos) d.minor = to_u32(version.substr(dot + 1));
    }
    return d;
}

bool is_dtmi(std::string_view text) { return detail::dtmi_shape(text).valid; }

}  // namespace twinsim::dtdl
