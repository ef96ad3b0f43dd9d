#include "twinsim/graph/detail/undo_log.hpp"

#include <utility>

namespace twinsim::graph::detail {

void UndoLog::cell(std::uint32_t table, std::uint32_t column, std::uint32_t row, const Column& c) {
    CellImage& img = cells_.emplace_back();
    img.table = table;
    img.column = column;
    img.row = row;
    img.present = c.has(row);
    img.last_update = c.last_update[row];
    img.source_time = c.source_time[row];
    switch (c.type) {
    case dtdl::ColumnType::float64: img.f64 = c.f64[row]; break;
    case dtdl::ColumnType::int64: img.i64 = c.i64[row]; break;
    case dtdl::ColumnType::boolean: img.b = c.b[row]; break;
    case dtdl::ColumnType::string: img.str = c.str[row]; break;
    case dtdl::ColumnType::json: img.js = c.js[row]; break;
    }
}

void UndoLog::roll_back(GraphState& s, CopyCounter& copies) {
    if (checkpoint_) {
        s = std::move(*checkpoint_);
        checkpoint_.reset();
    }
    // Newest first, so a value changed twice ends as it was before the first change.
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) {
        CellImage& img = *it;
        Column& c = s.tables[img.table].columns[img.column];
        switch (c.type) {
        case dtdl::ColumnType::float64: c.f64.set(img.row, img.f64, copies); break;
        case dtdl::ColumnType::int64: c.i64.set(img.row, img.i64, copies); break;
        case dtdl::ColumnType::boolean: c.b.set(img.row, img.b, copies); break;
        case dtdl::ColumnType::string: c.str.set(img.row, std::move(img.str), copies); break;
        case dtdl::ColumnType::json: c.js.set(img.row, std::move(img.js), copies); break;
        }
        if (c.has(img.row) != img.present) c.present.mut(img.row >> 6, copies) ^= std::uint64_t{1} << (img.row & 63);
        c.last_update.set(img.row, img.last_update, copies);
        if (c.source_time[img.row] != img.source_time) c.source_time.set(img.row, img.source_time, copies);
    }
    for (auto it = components_.rbegin(); it != components_.rend(); ++it)
        s.components.set(it->twin, std::move(it->components), copies);
    for (auto it = metas_.rbegin(); it != metas_.rend(); ++it) s.twin_meta.set(it->twin, it->meta, copies);
    s.etag_counter = etag_counter_;
    cells_.clear();
    components_.clear();
    metas_.clear();
}

}  // namespace twinsim::graph::detail
