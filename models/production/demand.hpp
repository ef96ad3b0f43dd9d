#pragma once
// Recorded or planned demand for the `production_line` behaviour: a CSV file
// of orders (models/production/production_line.md, "Demand files").
//
//   release,source,product,quantity,due
//   2026-10-01T06:00:00Z,orders-a,widget,20,2026-10-03T06:00:00Z
//   PT2H,orders-b,gadget,5,P2D
//
// `release` and `due` are RFC 3339 instants, or durations after the
// scenario's start (seconds or ISO 8601); `due` may be empty (no due date).
// Rows may come in any order; they are released in time order (ties in file
// order). Limits: 64 MiB of text, 4 KiB per line, 2,000,000 orders.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::models::production {

inline constexpr std::size_t demand_max_bytes = 64u << 20;
inline constexpr std::size_t demand_max_line = 4096;
inline constexpr std::size_t demand_max_rows = 2000000;

/// A demand file that cannot be used: the message names the file, the line and why.
class DemandError : public Error {
public:
    using Error::Error;
};

/// A time of the file: an absolute instant, or seconds after the start.
struct DemandTime {
    std::optional<Timestamp> instant;
    double offset = 0.0;
    /// Seconds after `start`.
    [[nodiscard]] double seconds_after(Timestamp start) const {
        return instant ? static_cast<double>(instant->ns - start.ns) * 1e-9 : offset;
    }
};

struct DemandRow {
    DemandTime release;
    std::string source;
    std::string product;
    std::uint32_t quantity = 1;
    std::optional<DemandTime> due;
    std::size_t line = 0;
};

/// Parses a demand file's text; `name` is used in messages. Throws DemandError.
[[nodiscard]] std::vector<DemandRow> parse_demand(std::string_view text, const std::string& name);
/// Reads and parses a file. Throws DemandError (a file over the limit, not readable, bad rows).
[[nodiscard]] std::vector<DemandRow> read_demand(const std::filesystem::path& path);

}  // namespace twinsim::models::production
