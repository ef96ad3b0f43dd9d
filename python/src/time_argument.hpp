#pragma once
// Instants from Python, one way for every binding that takes one (history
// ranges, time travel, telemetry source times): an RFC 3339 str, a
// timezone-aware datetime (a pandas Timestamp is one), or an int of
// nanoseconds since 1970-01-01 UTC.

#include <pybind11/pybind11.h>

#include <optional>

#include "twinsim/common/time.hpp"

namespace twinsim::python {

/// Raises ValueError ("<name>: '<text>' is not an RFC 3339 date-time: <why>",
/// or a naive datetime) and TypeError (another type), naming the argument.
[[nodiscard]] Timestamp instant_argument(const pybind11::handle& value, const char* name);
/// The same, with None giving nullopt.
[[nodiscard]] std::optional<Timestamp> optional_instant_argument(const pybind11::handle& value, const char* name);

}  // namespace twinsim::python
