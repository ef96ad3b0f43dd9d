// Result rows as typed columns (Cursor::typed_columns): the values the JSON
// rows would hold, read through the same evaluators, written into arrays of
// doubles, integers, booleans, string bytes or dictionary codes. Only values
// that are objects, arrays or of mixed types become JSON.
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

std::vector<TypedColumn> Executor::typed_columns(std::size_t begin, std::size_t end) {
    std::vector<TypedColumn> out;
    const std::size_t n = end > begin ? end - begin : 0;
    std::vector<Value> values(n);
    if (rendered_) {  // COUNT() and grouped results are JSON rows already
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
