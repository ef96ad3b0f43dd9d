#pragma once
// Twin selection by a standalone query expression (internal to sim/scenario).

#include <string>
#include <vector>

#include "twinsim/graph/snapshot.hpp"

namespace twinsim::scenario::detail {

/// The twins of `snapshot` for which `where` is true, ascending; every twin
/// when `where` is empty. Throws query::QueryError for a bad expression.
[[nodiscard]] std::vector<graph::TwinIndex> select_twins(const graph::Snapshot& snapshot, const std::string& where);

}  // namespace twinsim::scenario::detail
