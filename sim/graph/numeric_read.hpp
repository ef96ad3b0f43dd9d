#pragma once
// Reading numeric properties of many twins at once from a Snapshot: the
// column reads behaviour models make every step (scenario::Run::read), without
// a call and a table lookup per cell. Kept out of snapshot.hpp (and so out of
// twin_graph.hpp, which most of the tree includes).

#include <cstdint>
#include <limits>
#include <span>

#include "twinsim/graph/snapshot.hpp"

namespace twinsim::graph {

/// One property read for every twin of a list: out[i] = the numeric value of
/// twin i's slot columns[i], `missing` when unset.
struct NumericRead {
    std::span<const std::uint32_t> columns;  ///< one slot per twin (PropertySlot::column of its model)
    std::span<double> out;                   ///< one value per twin
    double missing = std::numeric_limits<double>::quiet_NaN();
};

/// For every read r and twin i: r.out[i] = g.numeric_value(twins[i],
/// r.columns[i]).value_or(r.missing), all reads in one pass over the twins
/// (each twin's row found once). Preconditions: every r.columns and r.out has
/// twins.size() entries, and numeric_value()'s for every pair (each twin
/// alive, each column a slot of its twin's model); a violation aborts
/// (TWINSIM_ASSERT) instead of reading out of bounds.
void read_numeric(const Snapshot& g, std::span<const TwinIndex> twins, std::span<const NumericRead> reads) noexcept;

/// One column: out[i] = g.numeric_value(twins[i], columns[i]).value_or(missing).
/// Same preconditions.
void read_numeric(const Snapshot& g, std::span<const TwinIndex> twins, std::span<const std::uint32_t> columns,
                  std::span<double> out, double missing = std::numeric_limits<double>::quiet_NaN()) noexcept;

}  // namespace twinsim::graph
