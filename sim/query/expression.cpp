#include "twinsim/query/expression.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/query/detail/program.hpp"
#include "twinsim/query/parser.hpp"

namespace twinsim::query {

using detail::Node;
using detail::Op;
using detail::Program;
using detail::Special;
using graph::no_index;
using nlohmann::json;

// --- Scope -------------------------------------------------------------------------------

Scope Scope::single_twin(std::string name) {
    Scope s;
    s.aliases.push_back({std::move(name), AliasKind::twin});
    s.default_alias = 0;
    return s;
}

Scope Scope::single_document() {
    Scope s;
    s.aliases.push_back({std::string(), AliasKind::document});
    s.default_alias = 0;
    return s;
}

std::optional<std::uint32_t> Scope::find(std::string_view name) const {
    if (name.empty()) return std::nullopt;
    for (std::size_t k = 0; k < aliases.size(); ++k)
        if (aliases[k].name == name) return static_cast<std::uint32_t>(k);
    return std::nullopt;
}

// --- Value -------------------------------------------------------------------------------

json Value::to_json() const {
    switch (kind) {
    case Kind::undefined:
    case Kind::null: return json();
    case Kind::boolean: return b;
    case Kind::integer: return i;
    case Kind::number: return d;
    case Kind::string: return std::string(s);
    case Kind::json: return j ? *j : json();
    }
    return json();
}

Value Value::of(const json& v) noexcept {
    Value out;
    switch (v.type()) {
    case json::value_t::null: out.kind = Kind::null; break;
    case json::value_t::boolean: out.kind = Kind::boolean; out.b = v.get<bool>(); break;
    case json::value_t::number_integer: out.kind = Kind::integer; out.i = v.get<std::int64_t>(); break;
    case json::value_t::number_unsigned: {
        const auto u = v.get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(INT64_MAX)) {
            out.kind = Kind::integer;
            out.i = static_cast<std::int64_t>(u);
        } else {
            out.kind = Kind::number;
            out.d = static_cast<double>(u);
        }
        break;
    }
    case json::value_t::number_float: out.kind = Kind::number; out.d = v.get<double>(); break;
    case json::value_t::string: out.kind = Kind::string; out.s = v.get_ref<const std::string&>(); break;
    case json::value_t::object:
    case json::value_t::array: out.kind = Kind::json; out.j = &v; break;
    default: break;  // binary, discarded: undefined
    }
    return out;
}

namespace {

template <class T>
Truth ordered(const T& a, BinaryOp op, const T& b) noexcept {
    bool r = false;
    switch (op) {
    case BinaryOp::eq: r = a == b; break;
    case BinaryOp::ne: r = a != b; break;
    case BinaryOp::lt: r = a < b; break;
    case BinaryOp::gt: r = a > b; break;
    case BinaryOp::le: r = a <= b; break;
    case BinaryOp::ge: r = a >= b; break;
    default: return Truth::undefined;
    }
    return r ? Truth::true_ : Truth::false_;
}

Truth of_bool(bool b) noexcept { return b ? Truth::true_ : Truth::false_; }

}  // namespace

Truth compare(const Value& a, BinaryOp op, const Value& b) noexcept {
    using K = Value::Kind;
    if (a.kind == K::undefined || b.kind == K::undefined) return Truth::undefined;
    if (a.is_number() && b.is_number()) {
        if (a.kind == K::integer && b.kind == K::integer) return ordered(a.i, op, b.i);
        return ordered(a.as_double(), op, b.as_double());
    }
    if (a.kind != b.kind) return Truth::undefined;
    switch (a.kind) {
    case K::string: return ordered(a.s, op, b.s);
    case K::boolean: return ordered(a.b, op, b.b);
    case K::null: return ordered(0, op, 0);
    case K::json:
        if (op == BinaryOp::eq) return of_bool(*a.j == *b.j);
        if (op == BinaryOp::ne) return of_bool(*a.j != *b.j);
        return Truth::undefined;
    default: return Truth::undefined;
    }
}

// --- compile -----------------------------------------------------------------------------

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
           });
}

std::string join_path(const std::vector<std::string>& p) {
    std::string out;
    for (const auto& s : p) {
        if (!out.empty()) out += '.';
        out += s;
    }
    return out;
}

class Compiler {
public:
    explicit Compiler(Program& p) : p_(p) {}

    std::uint32_t node(const Expr& e) {
        switch (e.kind) {
        case ExprKind::literal: {
            Node n = make(Op::literal, e);
            n.literal = e.literal;
            return add(std::move(n));
        }
        case ExprKind::path: return path(e);
        case ExprKind::not_: {
            need_args(e, 1, "NOT");
            Node n = make(Op::not_, e);
            n.args.push_back(node(*e.args[0]));
            return add(std::move(n));
        }
        case ExprKind::binary: {
            need_args(e, 2, "operator");
            Node n = make(e.op == BinaryOp::and_ ? Op::and_ : e.op == BinaryOp::or_ ? Op::or_ : Op::cmp, e);
            n.cmp = e.op;
            n.args.push_back(node(*e.args[0]));
            n.args.push_back(node(*e.args[1]));
            return add(std::move(n));
        }
        case ExprKind::in_list: {
            if (e.args.empty() || !e.args[0]) throw QueryError("IN needs an operand", e.pos);
            if (!e.literal.is_array())
                throw QueryError(std::string(e.negated ? "NIN" : "IN") + " needs a list of literals [...]", e.pos);
            Node n = make(Op::in_list, e);
            n.negated = e.negated;
            n.literal = e.literal;
            n.args.push_back(node(*e.args[0]));
            return add(std::move(n));
        }
        case ExprKind::call: return call(e);
        case ExprKind::aggregate:
            throw QueryError("aggregate functions are allowed only in SELECT and ORDER BY", e.pos, "", "an expression");
        case ExprKind::star: throw QueryError("'*' is allowed only in SELECT *", e.pos, "*", "an expression");
        }
        throw QueryError("unsupported expression", e.pos);
    }

private:
    static Node make(Op op, const Expr& e) {
        Node n;
        n.op = op;
        n.pos = e.pos;
        return n;
    }
    std::uint32_t add(Node n) {
        p_.nodes.push_back(std::move(n));
        return static_cast<std::uint32_t>(p_.nodes.size() - 1);
    }
    static void need_args(const Expr& e, std::size_t k, const char* what) {
        if (e.args.size() != k) throw QueryError(std::string(what) + ": expected " + std::to_string(k) + " operand(s)", e.pos);
        for (const auto& a : e.args)
            if (!a) throw QueryError(std::string(what) + ": missing operand", e.pos);
    }

    // "2 aliases (a, b)" or "no alias", for messages about a missing alias.
    static std::string alias_count(const Scope& scope) {
        std::string names;
        std::size_t n = 0;
        for (const Scope::Alias& a : scope.aliases) {
            if (a.name.empty()) continue;
            if (n++ > 0) names += ", ";
            names += a.name;
        }
        if (n == 0) return "no named alias";
        return std::to_string(n) + (n == 1 ? " alias (" : " aliases (") + names + ")";
    }

    // A path whose first segment names an alias of the scope refers to it;
    // otherwise it refers to the default alias.
    std::uint32_t path(const Expr& e) {
        const Scope& scope = p_.scope;
        if (e.path.empty()) throw QueryError("empty path", e.pos);
        std::uint32_t slot = 0;
        std::vector<std::string> rest;
        if (auto s = scope.find(e.path[0])) {
            slot = *s;
            rest.assign(e.path.begin() + 1, e.path.end());
        } else if (scope.default_alias != Scope::no_default && scope.default_alias < scope.aliases.size()) {
            slot = scope.default_alias;
            rest = e.path;
        } else {
            throw QueryError(std::string("unknown alias '") + e.path[0] + "' in '" + join_path(e.path) +
                                 "' (a path must start with an alias when the query has " + alias_count(scope) + ")",
                             e.pos, e.path[0], "an alias declared in FROM, JOIN or MATCH");
        }
        Node n = make(Op::twin_path, e);
        n.slot = slot;
        if (rest.empty()) {
            n.op = Op::alias_ref;
            return add(std::move(n));
        }
        if (scope.aliases[slot].kind == AliasKind::document) {
            n.op = Op::doc_path;
            n.path = std::move(rest);
            return add(std::move(n));
        }
        const bool twin = scope.aliases[slot].kind == AliasKind::twin;
        n.op = twin ? Op::twin_path : Op::rel_path;
        const std::string& first = rest[0];
        if (!first.empty() && first[0] == '$') {
            n.special = Special::never;
            if (rest.size() == 1) {
                if (first == "$etag") n.special = Special::etag;
                if (twin && first == "$dtId") n.special = Special::dt_id;
                if (!twin) {
                    if (first == "$relationshipId") n.special = Special::rel_id;
                    if (first == "$sourceId") n.special = Special::source_id;
                    if (first == "$targetId") n.special = Special::target_id;
                    if (first == "$relationshipName") n.special = Special::rel_name;
                }
            } else if (twin && rest.size() == 2 && first == "$metadata" && rest[1] == "$model") {
                n.special = Special::model;
            }
        }
        if (n.op == Op::twin_path && n.special == Special::none) n.path_id = p_.twin_paths++;
        n.path = std::move(rest);
        return add(std::move(n));
    }

    std::uint32_t call(const Expr& e) {
        const std::string& f = e.function;
        struct Fn {
            const char* name;
            Op op;
            std::size_t args;
        };
        static const Fn fns[] = {
            {"IS_DEFINED", Op::is_defined, 1}, {"IS_NULL", Op::is_null, 1},       {"IS_BOOL", Op::is_bool, 1},
            {"IS_NUMBER", Op::is_number, 1},   {"IS_STRING", Op::is_string, 1},   {"IS_OBJECT", Op::is_object, 1},
            {"IS_PRIMITIVE", Op::is_primitive, 1}, {"STARTSWITH", Op::startswith, 2}, {"ENDSWITH", Op::endswith, 2},
            {"CONTAINS", Op::contains, 2},     {"ARRAY_CONTAINS", Op::array_contains, 2},
        };
        if (iequals(f, "IS_OF_MODEL")) return is_of_model(e);
        for (const Fn& fn : fns) {
            if (!iequals(f, fn.name)) continue;
            if (e.args.size() != fn.args)
                throw QueryError(std::string(fn.name) + " takes " + std::to_string(fn.args) + " argument(s), got " +
                                     std::to_string(e.args.size()),
                                 e.pos, f, std::to_string(fn.args) + " argument(s)");
            Node n = make(fn.op, e);
            for (const auto& a : e.args) {
                if (!a) throw QueryError(std::string(fn.name) + ": missing argument", e.pos);
                n.args.push_back(node(*a));
            }
            return add(std::move(n));
        }
        throw QueryError(std::string("unknown function ") + f, e.pos, f,
                         "IS_OF_MODEL, IS_DEFINED, IS_NULL, IS_BOOL, IS_NUMBER, IS_STRING, IS_OBJECT, IS_PRIMITIVE, "
                         "STARTSWITH, ENDSWITH, CONTAINS or ARRAY_CONTAINS");
    }

    // IS_OF_MODEL([alias,] 'dtmi' [, exact])
    std::uint32_t is_of_model(const Expr& e) {
        const Scope& scope = p_.scope;
        Node n = make(Op::is_of_model, e);
        std::size_t k = 0;
        const auto bad = [&](const std::string& why) {
            return QueryError(std::string("IS_OF_MODEL: ") + why, e.pos, "IS_OF_MODEL", "IS_OF_MODEL([alias,] 'model id' [, exact])");
        };
        if (e.args.empty() || e.args.size() > 3) throw bad("expected 1 to 3 arguments");
        for (const auto& a : e.args)
            if (!a) throw bad("missing argument");
        if (e.args[0]->kind == ExprKind::path) {
            if (e.args[0]->path.size() != 1) throw bad("the first argument must be an alias");
            auto s = scope.find(e.args[0]->path[0]);
            if (!s) throw bad(std::string("unknown alias '") + e.args[0]->path[0] + "'");
            n.slot = *s;
            k = 1;
        } else {
            if (scope.default_alias == Scope::no_default || scope.default_alias >= scope.aliases.size())
                throw bad("name the alias when the query has " + alias_count(scope));
            n.slot = scope.default_alias;
        }
        if (scope.aliases[n.slot].kind != AliasKind::twin) throw bad(std::string("'") + scope.aliases[n.slot].name + "' is not a twin");
        if (k >= e.args.size() || e.args[k]->kind != ExprKind::literal || !e.args[k]->literal.is_string())
            throw bad("expected the model id as a string");
        n.literal = e.args[k]->literal;
        ++k;
        if (k < e.args.size()) {
            const Expr& x = *e.args[k];
            const bool is_exact = (x.kind == ExprKind::path && x.path.size() == 1 && iequals(x.path[0], "exact")) ||
                                  (x.kind == ExprKind::literal && x.literal.is_string() &&
                                   iequals(x.literal.get_ref<const std::string&>(), "exact")) ||
                                  (x.kind == ExprKind::literal && x.literal.is_boolean() && x.literal.get<bool>());
            const bool is_false = x.kind == ExprKind::literal && x.literal.is_boolean() && !x.literal.get<bool>();
            if (!is_exact && !is_false) throw bad("the third argument must be 'exact'");
            n.exact = is_exact;
            ++k;
        }
        if (e.exact) n.exact = true;
        if (k != e.args.size()) throw bad("too many arguments");
        return add(std::move(n));
    }

    Program& p_;
};

}  // namespace

CompiledExpression::CompiledExpression() : program_(std::make_shared<Program>()) {
    auto p = std::make_shared<Program>();
    Node n;
    n.op = Op::literal;
    n.literal = true;
    p->nodes.push_back(std::move(n));
    p->nodes[0].lit = Value::of(p->nodes[0].literal);
    program_ = std::move(p);
}

const Scope& CompiledExpression::scope() const noexcept { return program_->scope; }
const std::vector<std::uint32_t>& CompiledExpression::slots_used() const noexcept { return program_->slots; }

std::vector<std::string> CompiledExpression::model_ids() const {
    std::vector<std::string> out;
    for (const Node& n : program_->nodes)
        if (n.op == Op::is_of_model) out.push_back(n.literal.get<std::string>());
    return out;
}

std::vector<std::string> CompiledExpression::twin_property_names() const {
    std::vector<std::string> out;
    for (const Node& n : program_->nodes)
        if (n.op == Op::twin_path && n.special == Special::none && !n.path.empty()) out.push_back(n.path[0]);
    return out;
}

std::vector<std::string> CompiledExpression::unknown_names(const dtdl::ModelSet& models) const {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const std::string& id : model_ids())
        if (!models.find(id) && seen.insert(std::string("m:") + id).second)
            out.push_back(std::string("unknown model id '") + id + "' in IS_OF_MODEL: no twin matches it");
    for (const std::string& name : twin_property_names()) {
        bool declared = false;
        for (const dtdl::CompiledInterface& ci : models.interfaces()) {
            const dtdl::Content* c = ci.find(name);
            if (c && (c->kind == dtdl::ContentKind::property || c->kind == dtdl::ContentKind::component)) {
                declared = true;
                break;
            }
        }
        if (!declared && seen.insert(std::string("p:") + name).second)
            out.push_back(std::string("no model declares a property or component '") + name + "': it is undefined on every twin");
    }
    return out;
}

CompiledExpression compile(const Expr& expr, const Scope& scope) {
    auto p = std::make_shared<Program>();
    p->scope = scope;
    Compiler c(*p);
    p->root = c.node(expr);
    // Values point into the literals: fill them once the node array is final.
    std::set<std::uint32_t> slots;
    for (Node& n : p->nodes) {
        if (n.op == Op::literal) n.lit = Value::of(n.literal);
        if (n.op == Op::in_list)
            for (const json& item : n.literal) n.items.push_back(Value::of(item));
        if (n.op == Op::twin_path || n.op == Op::rel_path || n.op == Op::doc_path || n.op == Op::alias_ref ||
            n.op == Op::is_of_model)
            slots.insert(n.slot);
    }
    p->slots.assign(slots.begin(), slots.end());
    CompiledExpression out;
    out.program_ = std::move(p);
    return out;
}

CompiledExpression compile_expression(std::string_view text) {
    ExprPtr e = parse_expression(text);
    if (!e) throw QueryError("empty expression");
    return compile(*e, Scope::single_twin());
}

// --- Evaluator ---------------------------------------------------------------------------

namespace {

enum class BindKind : std::uint8_t { unresolved, none, column, component };
struct Bind {
    BindKind kind = BindKind::unresolved;
    std::uint32_t column = 0;
};

const json* descend(const json* j, const std::vector<std::string>& path, std::size_t from) noexcept {
    for (std::size_t k = from; k < path.size() && j; ++k) {
        if (!j->is_object()) return nullptr;
        auto it = j->find(path[k]);
        j = it == j->end() ? nullptr : &*it;
    }
    return j;
}

}  // namespace

struct Evaluator::Impl {
    const Program& p;
    const graph::Snapshot& snap;
    const graph::detail::GraphState& s;
    std::vector<std::vector<Bind>> binds;              // [path_id][table]
    std::vector<std::optional<dtdl::InterfaceIndex>> models;  // [node] for is_of_model
    std::vector<std::string> scratch;                  // [node] for $etag
    const json* document = nullptr;                    // the document of a document scope

    Impl(const Program& prog, const graph::Snapshot& sn)
        : p(prog), snap(sn), s(sn.state()), binds(prog.twin_paths), models(prog.nodes.size()), scratch(prog.nodes.size()) {
        for (std::size_t k = 0; k < p.nodes.size(); ++k)
            if (p.nodes[k].op == Op::is_of_model)
                models[k] = s.models->find(p.nodes[k].literal.get_ref<const std::string&>());
    }

    Bind resolve(const Node& n, std::uint32_t table) const {
        Bind b;
        b.kind = BindKind::none;
        const auto iface = s.tables[table].interface;
        if (iface == no_index) return b;
        const dtdl::CompiledInterface& ci = s.models->at(iface);
        if (const dtdl::PropertySlot* slot = ci.layout.find(n.path[0])) {
            b.kind = BindKind::column;
            b.column = slot->column;
        } else if (const dtdl::Content* c = ci.find(n.path[0]); c && c->kind == dtdl::ContentKind::component) {
            b.kind = BindKind::component;
        }
        return b;
    }

    Value twin_value(std::uint32_t idx, const Node& n, graph::TwinIndex t) {
        Value v;
        switch (n.special) {
        case Special::dt_id: v.kind = Value::Kind::string; v.s = s.twin_ids[t]; return v;
        case Special::model:
            v.kind = Value::Kind::string;
            v.s = s.tables[s.twin_meta[t].table].model_id;
            return v;
        case Special::etag:
            scratch[idx] = graph::detail::format_etag(s.twin_meta[t].etag);
            v.kind = Value::Kind::string;
            v.s = scratch[idx];
            return v;
        case Special::none: break;
        default: return v;
        }
        const graph::detail::TwinMeta& m = s.twin_meta[t];
        std::vector<Bind>& per_table = binds[n.path_id];
        if (per_table.size() <= m.table) per_table.resize(s.tables.size());
        Bind& b = per_table[m.table];
        if (b.kind == BindKind::unresolved) b = resolve(n, m.table);
        if (b.kind == BindKind::column) {
            const graph::detail::Column& c = s.tables[m.table].columns[b.column];
            if (!c.has(m.row)) return v;
            if (c.type == dtdl::ColumnType::json) {
                const graph::detail::JsonPtr& j = c.js[m.row];
                if (!j) return v;
                const json* x = descend(j.get(), n.path, 1);
                return x ? Value::of(*x) : v;
            }
            if (n.path.size() > 1) return v;
            switch (c.type) {
            case dtdl::ColumnType::float64: v.kind = Value::Kind::number; v.d = c.f64[m.row]; break;
            case dtdl::ColumnType::int64: v.kind = Value::Kind::integer; v.i = c.i64[m.row]; break;
            case dtdl::ColumnType::boolean: v.kind = Value::Kind::boolean; v.b = c.b[m.row] != 0; break;
            case dtdl::ColumnType::string: v.kind = Value::Kind::string; v.s = c.str[m.row]; break;
            default: break;
            }
            return v;
        }
        if (b.kind == BindKind::component) {
            const graph::detail::JsonPtr& comps = s.components[t];
            if (!comps) return v;
            const json* x = descend(comps.get(), n.path, 0);
            return x ? Value::of(*x) : v;
        }
        return v;
    }

    Value rel_value(std::uint32_t idx, const Node& n, graph::RelationshipIndex r) {
        Value v;
        const graph::detail::RelRecord& rec = s.rels[r];
        v.kind = Value::Kind::string;
        switch (n.special) {
        case Special::rel_id: v.s = s.rel_ids[r]; return v;
        case Special::source_id: v.s = s.twin_ids[rec.source]; return v;
        case Special::target_id: v.s = s.twin_ids[rec.target]; return v;
        case Special::rel_name: v.s = s.names.get()[rec.name]; return v;
        case Special::etag:
            scratch[idx] = graph::detail::format_etag(rec.etag);
            v.s = scratch[idx];
            return v;
        case Special::none: break;
        default: return Value{};
        }
        const graph::detail::JsonPtr& props = s.rel_props[r];
        if (!props) return Value{};
        const json* x = descend(props.get(), n.path, 0);
        return x ? Value::of(*x) : Value{};
    }

    Value value(std::uint32_t idx, std::span<const std::uint32_t> row) {
        const Node& n = p.nodes[idx];
        switch (n.op) {
        case Op::literal: return n.lit;
        case Op::twin_path: return twin_value(idx, n, row[n.slot]);
        case Op::rel_path: return rel_value(idx, n, row[n.slot]);
        case Op::doc_path: {
            const json* x = document ? descend(document, n.path, 0) : nullptr;
            return x ? Value::of(*x) : Value{};
        }
        case Op::alias_ref: return Value{};
        default: {
            const Truth t = truth(idx, row);
            Value v;
            if (t == Truth::undefined) return v;
            v.kind = Value::Kind::boolean;
            v.b = t == Truth::true_;
            return v;
        }
        }
    }

    static Truth from_value(const Value& v) {
        if (v.kind == Value::Kind::boolean) return of_bool(v.b);
        return Truth::undefined;
    }

    Truth strings(const Node& n, std::span<const std::uint32_t> row) {
        const Value a = value(n.args[0], row);
        const Value b = value(n.args[1], row);
        if (a.kind != Value::Kind::string || b.kind != Value::Kind::string) return Truth::undefined;
        switch (n.op) {
        case Op::startswith: return of_bool(a.s.starts_with(b.s));
        case Op::endswith: return of_bool(a.s.ends_with(b.s));
        default: return of_bool(a.s.find(b.s) != std::string_view::npos);
        }
    }

    Truth truth(std::uint32_t idx, std::span<const std::uint32_t> row) {
        const Node& n = p.nodes[idx];
        switch (n.op) {
        case Op::literal:
        case Op::twin_path:
        case Op::rel_path:
        case Op::doc_path: return from_value(value(idx, row));
        case Op::alias_ref: return Truth::undefined;
        case Op::not_: {
            const Truth t = truth(n.args[0], row);
            return t == Truth::undefined ? t : t == Truth::true_ ? Truth::false_ : Truth::true_;
        }
        case Op::and_: {
            const Truth l = truth(n.args[0], row);
            if (l == Truth::false_) return l;
            const Truth r = truth(n.args[1], row);
            if (r == Truth::false_) return r;
            return l == Truth::undefined || r == Truth::undefined ? Truth::undefined : Truth::true_;
        }
        case Op::or_: {
            const Truth l = truth(n.args[0], row);
            if (l == Truth::true_) return l;
            const Truth r = truth(n.args[1], row);
            if (r == Truth::true_) return r;
            return l == Truth::undefined || r == Truth::undefined ? Truth::undefined : Truth::false_;
        }
        case Op::cmp: return compare(value(n.args[0], row), n.cmp, value(n.args[1], row));
        case Op::in_list: {
            const Value v = value(n.args[0], row);
            if (!v.defined()) return Truth::undefined;
            bool found = false;
            for (const Value& item : n.items)
                if (compare(v, BinaryOp::eq, item) == Truth::true_) {
                    found = true;
                    break;
                }
            return of_bool(found != n.negated);
        }
        case Op::is_of_model: {
            const auto& target = models[idx];
            if (!target) return Truth::false_;
            const dtdl::InterfaceIndex m = snap.twin_model(row[n.slot]);
            if (m == no_index) return Truth::false_;
            return of_bool(n.exact ? m == *target : s.models->is_a(m, *target));
        }
        case Op::is_defined: {
            const Node& a = p.nodes[n.args[0]];
            if (a.op == Op::alias_ref) return Truth::true_;
            return of_bool(value(n.args[0], row).defined());
        }
        case Op::is_null: return of_bool(value(n.args[0], row).kind == Value::Kind::null);
        case Op::is_bool: return of_bool(value(n.args[0], row).kind == Value::Kind::boolean);
        case Op::is_number: return of_bool(value(n.args[0], row).is_number());
        case Op::is_string: return of_bool(value(n.args[0], row).kind == Value::Kind::string);
        case Op::is_object: {
            const Value v = value(n.args[0], row);
            return of_bool(v.kind == Value::Kind::json && v.j->is_object());
        }
        case Op::is_primitive: {
            const Value v = value(n.args[0], row);
            return of_bool(v.defined() && v.kind != Value::Kind::json);
        }
        case Op::startswith:
        case Op::endswith:
        case Op::contains: return strings(n, row);
        case Op::array_contains: {
            const Value a = value(n.args[0], row);
            const Value x = value(n.args[1], row);
            if (a.kind != Value::Kind::json || !a.j->is_array() || !x.defined()) return Truth::undefined;
            for (const json& item : *a.j)
                if (compare(Value::of(item), BinaryOp::eq, x) == Truth::true_) return Truth::true_;
            return Truth::false_;
        }
        }
        return Truth::undefined;
    }

    // 0 false, 1 true, 2 unknown
    int fold(std::uint32_t idx, std::uint32_t slot, dtdl::InterfaceIndex model) const {
        const Node& n = p.nodes[idx];
        switch (n.op) {
        case Op::is_of_model: {
            if (n.slot != slot) return 2;
            const auto& target = models[idx];
            if (!target || model == no_index) return 0;
            return (n.exact ? model == *target : s.models->is_a(model, *target)) ? 1 : 0;
        }
        case Op::literal:
            if (n.lit.kind == Value::Kind::boolean) return n.lit.b ? 1 : 0;
            return 2;
        case Op::not_: {
            const int f = fold(n.args[0], slot, model);
            return f == 2 ? 2 : 1 - f;
        }
        case Op::and_: {
            const int l = fold(n.args[0], slot, model);
            const int r = fold(n.args[1], slot, model);
            if (l == 0 || r == 0) return 0;
            return l == 1 && r == 1 ? 1 : 2;
        }
        case Op::or_: {
            const int l = fold(n.args[0], slot, model);
            const int r = fold(n.args[1], slot, model);
            if (l == 1 || r == 1) return 1;
            return l == 0 && r == 0 ? 0 : 2;
        }
        default: return 2;
        }
    }
};

Evaluator::Evaluator(const CompiledExpression& expr, const graph::Snapshot& snapshot)
    : impl_(std::make_unique<Impl>(expr.program(), snapshot)) {}
Evaluator::~Evaluator() = default;
Evaluator::Evaluator(Evaluator&&) noexcept = default;

Truth Evaluator::test(std::span<const std::uint32_t> row) { return impl_->truth(impl_->p.root, row); }
Value Evaluator::value(std::span<const std::uint32_t> row) { return impl_->value(impl_->p.root, row); }

std::optional<bool> Evaluator::fold_for_model(std::uint32_t slot, dtdl::InterfaceIndex model) const {
    const int f = impl_->fold(impl_->p.root, slot, model);
    if (f == 2) return std::nullopt;
    return f == 1;
}

Truth test_document(const CompiledExpression& expr, const json& document) {
    // A document scope reads no twin: the evaluator runs on an empty graph.
    static const graph::Snapshot no_graph;
    Evaluator::Impl impl(expr.program(), no_graph);
    impl.document = &document;
    const std::uint32_t row[1] = {0};
    return impl.truth(impl.p.root, row);
}

bool matches(const graph::Snapshot& snapshot, graph::TwinIndex twin, const CompiledExpression& expr) {
    Evaluator ev(expr, snapshot);
    const std::uint32_t slots = static_cast<std::uint32_t>(std::max<std::size_t>(1, expr.scope().aliases.size()));
    std::vector<std::uint32_t> row(slots, twin);
    return ev.matches(row);
}

}  // namespace twinsim::query
