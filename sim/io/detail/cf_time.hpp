#pragma once
// Private: CF-convention time units for a scenario's start instant.

#include <string>

#include "twinsim/common/time.hpp"

namespace twinsim::io::detail {

/// "seconds since 2024-07-01T00:00:00" (UTC, fraction only when non-zero), the
/// units attribute xarray/cftime decode into datetimes.
std::string cf_time_units(Timestamp start);

}  // namespace twinsim::io::detail
