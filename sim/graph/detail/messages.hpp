#pragma once
// Small helpers shared by the graph layer's error messages.

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "twinsim/common/excerpt.hpp"

namespace twinsim::graph::detail {

/// `s` between double quotes, as error messages name twins, relationships and
/// properties. Control characters (U+0000 to U+001F, U+007F) and bytes that
/// are not valid UTF-8 are written as \xNN, so a message never holds a NUL
/// (which would cut it short wherever it is read as a C string) nor a
/// terminal control sequence.
inline std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    auto hex = [&](unsigned char c) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
        out += buf;
    };
    while (!s.empty()) {
        const std::size_t bad = invalid_utf8_at(s);
        const std::string_view valid = s.substr(0, bad == std::string_view::npos ? s.size() : bad);
        for (const char c : valid) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u == 0x7F) hex(u);
            else out += c;
        }
        if (bad == std::string_view::npos) break;
        hex(static_cast<unsigned char>(s[bad]));
        s.remove_prefix(bad + 1);
    }
    out += '"';
    return out;
}

/// Why `id` cannot name a twin or relationship, or nothing when it can: it
/// must not be empty, must be valid UTF-8 and must hold no control character
/// (U+0000 to U+001F, U+007F). `what`: "twin id", "relationship id".
inline std::optional<std::string> id_problem(std::string_view what, std::string_view id) {
    if (id.empty()) return std::string("a ") + std::string(what) + " must not be empty";
    // The message is built only for a bad id (bulk loads check millions of good ones).
    auto quoted = [&] { return std::string(what) + " " + in_quotes(id); };
    if (const std::size_t bad = invalid_utf8_at(id); bad != std::string_view::npos)
        return quoted() + " is not valid UTF-8 (byte " + std::to_string(bad + 1) + ")";
    for (std::size_t i = 0; i < id.size(); ++i) {
        const auto u = static_cast<unsigned char>(id[i]);
        if (u < 0x20 || u == 0x7F) {
            char code[8];
            std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(u));
            return quoted() + " holds the control character " + code + " (byte " + std::to_string(i + 1) +
                   "); ids may not hold control characters";
        }
    }
    return std::nullopt;
}

}  // namespace twinsim::graph::detail
