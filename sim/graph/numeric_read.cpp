#include "twinsim/graph/numeric_read.hpp"

#include <array>

#include "twinsim/common/assert.hpp"
#include "twinsim/graph/detail/graph_state.hpp"

namespace twinsim::graph {

namespace {

/// The numeric value of `row` in column c, `missing` when unset (or not numeric, as numeric_value()).
inline double cell(const detail::Column& c, std::uint32_t row, double missing) noexcept {
    if (!c.has(row)) return missing;
    switch (c.type) {
        case dtdl::ColumnType::float64: return c.f64[row];
        case dtdl::ColumnType::int64: return static_cast<double>(c.i64[row]);
        case dtdl::ColumnType::boolean: return c.b[row] != 0 ? 1.0 : 0.0;
        default: return missing;
    }
}

/// The column of slot `column` in table `table`, checked.
inline const detail::Column& column_of(const detail::GraphState& s, std::uint32_t table, std::uint32_t column) noexcept {
    TWINSIM_ASSERT(table < s.tables.size() && column < s.tables[table].columns.size(),
                   "read_numeric: a live twin and a slot of its model");
    return s.tables[table].columns[column];
}

}  // namespace

void read_numeric(const Snapshot& g, std::span<const TwinIndex> twins, std::span<const NumericRead> reads) noexcept {
    for (const NumericRead& r : reads)
        TWINSIM_ASSERT(r.columns.size() == twins.size() && r.out.size() == twins.size(),
                       "read_numeric: one slot and one output per twin");
    const detail::GraphState& s = g.state();
    // The twins of a binding mostly share a table and their slots: remember the last
    // table and, per read, the last slot and its column (a few reads at a time).
    constexpr std::size_t batch = 8;
    for (std::size_t first = 0; first < reads.size(); first += batch) {
        const std::size_t n = std::min(batch, reads.size() - first);
        std::array<std::uint32_t, batch> last_slot{};
        std::array<const detail::Column*, batch> col{};
        last_slot.fill(no_index);
        std::uint32_t last_table = no_index;
        for (std::size_t i = 0; i < twins.size(); ++i) {
            TWINSIM_ASSERT(twins[i] < s.twin_meta.size(), "read_numeric: a live twin");
            const detail::TwinMeta& m = s.twin_meta[twins[i]];
            if (m.table != last_table) {
                last_table = m.table;
                last_slot.fill(no_index);
            }
            for (std::size_t k = 0; k < n; ++k) {
                const NumericRead& r = reads[first + k];
                const std::uint32_t slot = r.columns[i];
                if (slot != last_slot[k]) {
                    col[k] = &column_of(s, m.table, slot);
                    last_slot[k] = slot;
                }
                r.out[i] = cell(*col[k], m.row, r.missing);
            }
        }
    }
}

void read_numeric(const Snapshot& g, std::span<const TwinIndex> twins, std::span<const std::uint32_t> columns,
                  std::span<double> out, double missing) noexcept {
    const NumericRead r{columns, out, missing};
    read_numeric(g, twins, std::span<const NumericRead>(&r, 1));
}

}  // namespace twinsim::graph
