#pragma once
// ScalarValue: one top-level property value of a bulk-loaded twin or
// relationship (NDJSON import's fast path), kept as the text it was parsed
// from points to, without nlohmann::json.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace twinsim::graph {

/// A top-level scalar property value of a bulk-loaded twin or relationship: a
/// JSON number, typed as nlohmann::json would type it, or a JSON string.
struct ScalarValue {
    enum class Kind : std::uint8_t { integer, unsigned_integer, floating, string };
    std::string_view name;
    Kind kind = Kind::floating;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double f = 0.0;
    std::string_view s;  ///< the (unescaped) text of a string
    [[nodiscard]] nlohmann::json to_json() const {
        switch (kind) {
        case Kind::integer: return i;
        case Kind::unsigned_integer: return u;
        case Kind::string: return std::string(s);
        case Kind::floating: break;
        }
        return f;
    }
};

}  // namespace twinsim::graph
