// Result rows as typed columns (Cursor::typed_columns): the values the JSON
// rows would hold, read through the same evaluators, written into arrays of
// doubles, integers, booleans, string bytes or dictionary codes. Only values
// that are objects, arrays or of mixed types become JSON.
#include <optional>
#include <string_view>
#include <unordered_map>

#include "twinsim/query/detail/executor.hpp"

namespace twinsim::query::detail {
namespace {

using Kind = Value::Kind;

/// Which kinds of defined values a column holds.
struct Kinds {
    bool null = false, boolean = false, integer = false, number = false, string = false, json = false;
    void add(const Value& v) {
        switch (v.kind) {
        case Kind::undefined: break;
        case Kind::null: null = true; break;
        case Kind::boolean: boolean = true; break;
        case Kind::integer: integer = true; break;
        case Kind::number: number = true; break;
        case Kind::string: string = true; break;
        case Kind::json: json = true; break;
        }
    }
    [[nodiscard]] TypedColumn::Type type(bool interned) const {
        using T = TypedColumn::Type;
        const bool numeric = integer || number;
        if (!(null || boolean || numeric || string || json)) return T::empty;
        if (json) return T::json;
        if (numeric && !boolean && !string) return number || null ? T::float64 : T::int64;
        if (boolean && !null && !numeric && !string) return T::boolean;
        if (string && !boolean && !numeric) return interned ? T::dictionary : T::string;
        return T::json;  // booleans with nulls or other kinds, nulls alone, strings with numbers, ...
    }
};

/// A column of `values` (one per row; undefined = the row lacks the member).
/// The strings of `values` must stay valid during the call.
TypedColumn build(const std::string& name, const std::vector<Value>& values, bool interned) {
    using T = TypedColumn::Type;
    TypedColumn c;
    c.name = name;
    c.size = values.size();
    Kinds kinds;
    for (const Value& v : values) kinds.add(v);
    c.type = kinds.type(interned);
    const std::size_t n = values.size();
    c.valid.assign(n, 0);
    switch (c.type) {
    case T::empty: break;
    case T::int64:
        c.i64.assign(n, 0);
        for (std::size_t k = 0; k < n; ++k)
            if (values[k].kind == Kind::integer) {
                c.i64[k] = values[k].i;
                c.valid[k] = 1;
            }
        break;
    case T::float64:
        c.f64.assign(n, 0.0);
        for (std::size_t k = 0; k < n; ++k)
            if (values[k].is_number()) {
                c.f64[k] = values[k].as_double();
                c.valid[k] = 1;
            }
        break;
    case T::boolean:
        c.b.assign(n, 0);
        for (std::size_t k = 0; k < n; ++k)
            if (values[k].kind == Kind::boolean) {
                c.b[k] = values[k].b ? 1 : 0;
                c.valid[k] = 1;
            }
        break;
    case T::string: {
        std::size_t bytes = 0;
        for (const Value& v : values)
            if (v.kind == Kind::string) bytes += v.s.size();
        c.chars.reserve(bytes);
        c.offsets.resize(n + 1);
        c.offsets[0] = 0;
        for (std::size_t k = 0; k < n; ++k) {
            if (values[k].kind == Kind::string) {
                c.chars.append(values[k].s);
                c.valid[k] = 1;
            }
            c.offsets[k + 1] = static_cast<std::int64_t>(c.chars.size());
        }
        break;
    }
    case T::dictionary: {
        std::unordered_map<std::string_view, std::int32_t> codes;
        c.codes.assign(n, -1);
        for (std::size_t k = 0; k < n; ++k) {
            if (values[k].kind != Kind::string) continue;
            const auto [it, fresh] = codes.try_emplace(values[k].s, static_cast<std::int32_t>(c.dictionary.size()));
            if (fresh) c.dictionary.emplace_back(values[k].s);
            c.codes[k] = it->second;
            c.valid[k] = 1;
        }
        break;
    }
    case T::json:
        c.values.resize(n);
        for (std::size_t k = 0; k < n; ++k)
            if (values[k].defined()) {
                c.values[k] = values[k].to_json();
                c.valid[k] = 1;
            }
        break;
    }
    return c;
}

/// A column of JSON values (entities), `present[k]` false where the row lacks it.
TypedColumn json_column(const std::string& name, std::vector<json> values, const std::vector<std::uint8_t>& present) {
    TypedColumn c;
    c.name = name;
    c.size = values.size();
    c.valid = present;
    bool any = false;
    for (const std::uint8_t p : present) any = any || p != 0;
    c.type = any ? TypedColumn::Type::json : TypedColumn::Type::empty;
    if (any) c.values = std::move(values);
    return c;
}

}  // namespace

std::optional<std::uint32_t> Executor::property_column(std::uint32_t table_index, const std::string& name) const {
    constexpr std::uint32_t absent = 0xfffffffeU;
    const graph::detail::PropertyTable& table = s_.tables[table_index];
    if (table.interface == no_index) return absent;
    const dtdl::CompiledInterface& ci = s_.models->at(table.interface);
    if (const dtdl::PropertySlot* slot = ci.layout.find(name)) {
        if (table.columns[slot->column].type == dtdl::ColumnType::json) return std::nullopt;
        return slot->column;
    }
    if (const dtdl::Content* content = ci.find(name); content && content->kind == dtdl::ContentKind::component)
        return std::nullopt;
    return absent;
}

std::optional<TypedColumn> Executor::uniform_column(const Item& it, std::size_t begin, std::size_t n) const {
    // One pass when every table the rows come from keeps the property in a column of
    // one type (or lacks it): values go straight into the output arrays, each
    // column's chunks fetched ahead. Else nullopt (direct_column's two passes).
    using T = TypedColumn::Type;
    const Program& p = it.expr.program();
    const Node& root = p.nodes[p.root];
    constexpr std::uint32_t unresolved = 0xffffffffU, absent = 0xfffffffeU;
    std::vector<std::uint32_t> column_of_table(s_.tables.size(), unresolved);
    const bool scanned = width_ == 1 && !scan_pos_.empty() && scan_pos_.size() == rows_.size();
    const auto position = [&](std::size_t k) -> std::pair<std::uint32_t, std::uint32_t> {
        if (scanned) return scan_pos_[order_[begin + k]];
        const graph::detail::TwinMeta& m = s_.twin_meta[rows_[std::size_t{order_[begin + k]} * width_ + root.slot]];
        return {m.table, m.row};
    };
    std::optional<dtdl::ColumnType> type;
    const auto resolve = [&](std::uint32_t table_index) -> bool {
        std::uint32_t& column = column_of_table[table_index];
        if (column != unresolved) return true;
        const std::optional<std::uint32_t> found = property_column(table_index, root.path[0]);
        if (!found) return false;
        column = *found;
        if (column == absent) return true;
        const dtdl::ColumnType t = s_.tables[table_index].columns[column].type;
        if (type && *type != t) return false;
        type = t;
        return true;
    };
    // The tables first (a one-alias scan records them: a cheap pass), then the values.
    if (scanned) {
        std::uint32_t last = unresolved;
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint32_t t = position(k).first;
            if (t == last) continue;
            last = t;
            if (!resolve(t)) return std::nullopt;
        }
    } else {
        for (std::size_t k = 0; k < n; ++k)
            if (!resolve(position(k).first)) return std::nullopt;
    }
    TypedColumn c;
    c.name = it.key;
    c.size = n;
    c.valid.assign(n, 0);
    if (!type) {
        c.type = T::empty;
        return c;
    }
    constexpr std::size_t ahead = 32;  // rows: their chunks are separate allocations
    const auto cell = [&](std::size_t k) -> std::pair<const graph::detail::Column*, std::uint32_t> {
        const auto [table_index, row] = position(k);
        const std::uint32_t column = column_of_table[table_index];
        if (column == absent) return {nullptr, 0};
        return {&s_.tables[table_index].columns[column], row};
    };
    const auto fetch = [&](std::size_t k, const auto& element) {
        if (k >= n) return;
        const auto [col, row] = cell(k);
        if (col == nullptr) return;
        __builtin_prefetch(&col->present[row >> 6]);
        __builtin_prefetch(&element(*col, row));
    };
    std::size_t defined = 0;
    const auto fill = [&](auto& out, const auto& element) {
        out.assign(n, {});
        for (std::size_t k = 0; k < n; ++k) {
            fetch(k + ahead, element);
            const auto [col, row] = cell(k);
            if (col == nullptr || !col->has(row)) continue;
            out[k] = element(*col, row);
            c.valid[k] = 1;
            ++defined;
        }
    };
    switch (*type) {
    case dtdl::ColumnType::float64:
        c.type = T::float64;
        fill(c.f64, [](const graph::detail::Column& col, std::uint32_t row) -> const double& { return col.f64[row]; });
        break;
    case dtdl::ColumnType::int64:
        c.type = T::int64;
        fill(c.i64, [](const graph::detail::Column& col, std::uint32_t row) -> const std::int64_t& { return col.i64[row]; });
        break;
    case dtdl::ColumnType::boolean: {
        c.type = T::boolean;
        fill(c.b, [](const graph::detail::Column& col, std::uint32_t row) -> const std::uint8_t& { return col.b[row]; });
        for (std::uint8_t& v : c.b) v = v != 0 ? 1 : 0;
        break;
    }
    case dtdl::ColumnType::string: {
        c.type = T::string;
        c.offsets.resize(n + 1);
        c.offsets[0] = 0;
        const auto element = [](const graph::detail::Column& col, std::uint32_t row) -> const std::string& { return col.str[row]; };
        for (std::size_t k = 0; k < n; ++k) {
            fetch(k + ahead, element);
            const auto [col, row] = cell(k);
            if (col != nullptr && col->has(row)) {
                c.chars.append(col->str[row]);
                c.valid[k] = 1;
                ++defined;
            }
            c.offsets[k + 1] = static_cast<std::int64_t>(c.chars.size());
        }
        break;
    }
    case dtdl::ColumnType::json: return std::nullopt;
    }
    if (defined == 0) {  // as the two passes type it: no row has a value
        TypedColumn e;
        e.name = it.key;
        e.size = n;
        e.valid.assign(n, 0);
        return e;
    }
    return c;
}

std::optional<TypedColumn> Executor::direct_column(const Item& it, std::size_t begin, std::size_t n) const {
    using T = TypedColumn::Type;
    const Program& p = it.expr.program();
    const Node& root = p.nodes[p.root];
    if (root.op != Op::twin_path || root.slot >= width_) return std::nullopt;
    const bool property = root.special == Special::none;
    if (!(property && root.path.size() == 1) && root.special != Special::dt_id && root.special != Special::model)
        return std::nullopt;
    const auto twin_of = [&](std::size_t k) { return rows_[std::size_t{order_[begin + k]} * width_ + root.slot]; };
    TypedColumn c;
    c.name = it.key;
    c.size = n;
    c.valid.assign(n, 1);
    if (root.special == Special::dt_id) {
        c.type = n == 0 ? T::empty : T::string;
        if (n == 0) return c;
        c.offsets.resize(n + 1);
        c.offsets[0] = 0;
        c.chars.reserve(n * 16);
        constexpr std::size_t ahead = 32;  // the ids are scattered over the graph: fetch them early
        for (std::size_t k = 0; k < n; ++k) {
            if (k + ahead < n) __builtin_prefetch(&s_.twin_ids[twin_of(k + ahead)]);
            c.chars.append(s_.twin_ids[twin_of(k)]);
            c.offsets[k + 1] = static_cast<std::int64_t>(c.chars.size());
        }
        return c;
    }
    if (root.special == Special::model) {  // one code per table, in order of first appearance
        c.type = n == 0 ? T::empty : T::dictionary;
        if (n == 0) return c;
        std::vector<std::int32_t> code_of_table(s_.tables.size(), -1);
        c.codes.resize(n);
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint32_t table = s_.twin_meta[twin_of(k)].table;
            std::int32_t& code = code_of_table[table];
            if (code < 0) {
                code = static_cast<std::int32_t>(c.dictionary.size());
                c.dictionary.push_back(s_.tables[table].model_id);
            }
            c.codes[k] = code;
        }
        return c;
    }
    // A property: the column of each table that holds it, found once per table.
    constexpr std::uint32_t unresolved = 0xffffffffU, absent = 0xfffffffeU;
    std::vector<std::uint32_t> column_of_table(s_.tables.size(), unresolved);
    std::vector<const graph::detail::Column*> cells(n, nullptr);
    std::vector<std::uint32_t> cell_rows(n, 0);
    Kinds kinds;
    // (table, row) of each result row: from the scan when it recorded them, else the twin's entry.
    const bool scanned = width_ == 1 && !scan_pos_.empty() && scan_pos_.size() == rows_.size();
    const auto position = [&](std::size_t k) -> std::pair<std::uint32_t, std::uint32_t> {
        if (scanned) return scan_pos_[order_[begin + k]];
        const graph::detail::TwinMeta& m = s_.twin_meta[twin_of(k)];
        return {m.table, m.row};
    };
    if (std::optional<TypedColumn> one = uniform_column(it, begin, n)) return one;
    for (std::size_t k = 0; k < n; ++k) {
        const auto [table_index, row] = position(k);
        std::uint32_t& column = column_of_table[table_index];
        if (column == unresolved) {
            column = absent;
            const graph::detail::PropertyTable& table = s_.tables[table_index];
            if (table.interface != no_index) {
                const dtdl::CompiledInterface& ci = s_.models->at(table.interface);
                if (const dtdl::PropertySlot* slot = ci.layout.find(root.path[0])) {
                    if (table.columns[slot->column].type == dtdl::ColumnType::json) return std::nullopt;
                    column = slot->column;
                } else if (const dtdl::Content* content = ci.find(root.path[0]);
                           content && content->kind == dtdl::ContentKind::component) {
                    return std::nullopt;
                }
            }
        }
        if (column == absent) continue;
        const graph::detail::Column& col = s_.tables[table_index].columns[column];
        if (!col.has(row)) continue;
        cells[k] = &col;
        cell_rows[k] = row;
        switch (col.type) {
        case dtdl::ColumnType::float64: kinds.number = true; break;
        case dtdl::ColumnType::int64: kinds.integer = true; break;
        case dtdl::ColumnType::boolean: kinds.boolean = true; break;
        case dtdl::ColumnType::string: kinds.string = true; break;
        case dtdl::ColumnType::json: return std::nullopt;
        }
    }
    c.type = kinds.type(false);
    for (std::size_t k = 0; k < n; ++k) c.valid[k] = cells[k] != nullptr ? 1 : 0;
    switch (c.type) {
    case T::empty: break;
    case T::int64:
        c.i64.assign(n, 0);
        for (std::size_t k = 0; k < n; ++k)
            if (cells[k] != nullptr) c.i64[k] = cells[k]->i64[cell_rows[k]];
        break;
    case T::float64:
        c.f64.assign(n, 0.0);
        for (std::size_t k = 0; k < n; ++k) {
            const graph::detail::Column* col = cells[k];
            if (col == nullptr) continue;
            c.f64[k] = col->type == dtdl::ColumnType::float64 ? col->f64[cell_rows[k]]
                                                              : static_cast<double>(col->i64[cell_rows[k]]);
        }
        break;
    case T::boolean:
        c.b.assign(n, 0);
        for (std::size_t k = 0; k < n; ++k)
            if (cells[k] != nullptr) c.b[k] = cells[k]->b[cell_rows[k]] != 0 ? 1 : 0;
        break;
    case T::string:
        c.offsets.resize(n + 1);
        c.offsets[0] = 0;
        for (std::size_t k = 0; k < n; ++k) {
            if (cells[k] != nullptr) c.chars.append(cells[k]->str[cell_rows[k]]);
            c.offsets[k + 1] = static_cast<std::int64_t>(c.chars.size());
        }
        break;
    case T::dictionary:
    case T::json: return std::nullopt;  // mixed types: the evaluator's general path
    }
    return c;
}

std::vector<TypedColumn> Executor::typed_columns(std::size_t begin, std::size_t end) {
    std::vector<TypedColumn> out;
    const std::size_t n = end > begin ? end - begin : 0;
    std::vector<Value> values;  // (48 bytes a row: only for the columns that need the evaluator)
    if (rendered_) {  // COUNT() and grouped results are JSON rows already
        values.resize(n);
        for (const std::string& name : columns_) {
            for (std::size_t k = 0; k < n; ++k) {
                const json& row = out_[begin + k];
                const auto it = row.find(name);
                values[k] = it == row.end() ? Value{} : Value::of(*it);
            }
            out.push_back(build(name, values, false));
        }
        return out;
    }
    const auto row_of = [&](std::size_t k) {
        return std::span<const std::uint32_t>(rows_.data() + std::size_t{order_[begin + k]} * width_, width_);
    };
    const auto entities = [&](const std::string& name, std::uint32_t slot) {
        std::vector<json> v(n);
        std::vector<std::uint8_t> present(n, 0);
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint32_t index = row_of(k)[slot];
            if (index == no_index) continue;
            v[k] = entity(slot, index);
            present[k] = 1;
        }
        return json_column(name, std::move(v), present);
    };
    if (select_star()) {  // SELECT * with MATCH: one column per named alias
        for (std::uint32_t slot = 0; slot < scope_.aliases.size(); ++slot)
            if (!scope_.aliases[slot].name.empty()) out.push_back(entities(scope_.aliases[slot].name, slot));
        return out;
    }
    for (Item& it : items_) {
        if (it.alias) {
            out.push_back(entities(it.key, *it.alias));
            continue;
        }
        if (std::optional<TypedColumn> direct = direct_column(it, begin, n)) {
            out.push_back(std::move(*direct));
            continue;
        }
        values.resize(n);
        for (std::size_t k = 0; k < n; ++k) values[k] = it.eval->value(row_of(k));
        // Model ids and relationship names are interned by the engine: a few distinct strings.
        const Program& p = it.expr.program();
        const Node& root = p.nodes[p.root];
        const bool interned = (root.op == Op::twin_path && root.special == Special::model) ||
                              (root.op == Op::rel_path && root.special == Special::rel_name);
        out.push_back(build(it.key, values, interned));
    }
    return out;
}

}  // namespace twinsim::query::detail
