#pragma once
// Wall-clock instants as the graph records them ($lastUpdateTime, sourceTime).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twinsim::graph {

/// Nanoseconds since 1970-01-01T00:00:00Z (UTC).
struct Timestamp {
    std::int64_t ns = 0;
    friend constexpr auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

/// ADT's format: "2026-07-01T12:00:00.1234567Z" (7 fractional digits, UTC).
[[nodiscard]] std::string format_timestamp(Timestamp t);
/// Parses RFC 3339 date-time with any offset and fraction; nullopt if malformed.
[[nodiscard]] std::optional<Timestamp> parse_timestamp(std::string_view text);
/// The system clock now.
[[nodiscard]] Timestamp now();

}  // namespace twinsim::graph
