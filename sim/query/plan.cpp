// Planning a query: the scope of aliases, WHERE split into conjuncts applied as
// soon as their aliases are bound, $dtId anchors and fast numeric checks.
#include "twinsim/query/detail/executor.hpp"

#include <map>
#include <set>

#include "twinsim/query/lexer.hpp"

namespace twinsim::query::detail {

namespace {

std::string where(SourcePos pos) {
    std::string out = "line ";
    out += std::to_string(pos.line);
    out += ", column ";
    out += std::to_string(pos.column);
    return out;
}

}  // namespace

/// Two SELECT items producing the same result member would silently leave one
/// of them out of every row (a JSON object has each key once): a QueryError
/// naming both items, at the second. The names are the executor's: the AS
/// name, else a path's last segment (a bare alias is its own name), else the
/// aggregate's name, else $1, $2, ...
void check_result_names(const Query& q) {
    std::map<std::string, std::size_t> seen;  // name -> index in q.select
    std::size_t unnamed = 0;
    for (std::size_t i = 0; i < q.select.size(); ++i) {
        const SelectItem& si = q.select[i];
        if (!si.expr || si.expr->kind == ExprKind::star) continue;
        std::string name;
        if (!si.as.empty()) {
            name = si.as;
        } else if (si.expr->kind == ExprKind::path && !si.expr->path.empty()) {
            name = si.expr->path.back();
        } else if (si.expr->kind == ExprKind::aggregate) {
            name = aggregate_name(si.expr->aggregate);
        } else {
            name = std::to_string(++unnamed);
            name.insert(name.begin(), '$');  // (not "$" + ...: GCC 12 -O3 reports a false -Wrestrict)
        }
        const auto [it, fresh] = seen.try_emplace(name, i);
        if (fresh) continue;
        const SelectItem& first = q.select[it->second];
        std::string message = "SELECT items ";
        message += std::to_string(it->second + 1);
        message += " (";
        message += where(first.pos);
        message += ") and ";
        message += std::to_string(i + 1);
        message += " (";
        message += where(si.pos);
        message += ") both produce the result member '";
        message += name;
        message += "', so each row would keep only one of them; give them different names with AS";
        throw_syntax_error(si.pos, message, name, "a result name not used by an earlier SELECT item (AS <name>)");
    }
}

void split_and(const Expr& e, std::vector<const Expr*>& out) {
    if (e.kind == ExprKind::binary && e.op == BinaryOp::and_ && e.args.size() == 2 && e.args[0] && e.args[1]) {
        split_and(*e.args[0], out);
        split_and(*e.args[1], out);
    } else {
        out.push_back(&e);
    }
}

// --- scope ----------------------------------------------------------------------------
std::uint32_t Executor::add_alias(const std::string& name, AliasKind kind, SourcePos pos) {
    if (!name.empty() && scope_.find(name))
        throw QueryError(std::string("alias '") + name + "' is declared twice", pos, name, "a new alias");
    scope_.aliases.push_back({name, kind});
    return static_cast<std::uint32_t>(scope_.aliases.size() - 1);
}

void Executor::build_scope() {
    if (q_.from == FromKind::relationships) {
        if (!q_.joins.empty() || q_.match)
            throw QueryError("JOIN and MATCH are not allowed with FROM RELATIONSHIPS", q_.joins.empty() ? q_.match->pos : q_.joins[0].pos);
        add_alias(q_.from_alias, AliasKind::relationship, {});
    } else if (q_.match) {
        const MatchPattern& m = *q_.match;
        if (m.nodes.size() != m.edges.size() + 1) throw QueryError("malformed MATCH pattern", m.pos);
        for (std::size_t k = 0; k < m.nodes.size(); ++k) {
            const std::string& name = m.nodes[k];
            std::optional<std::uint32_t> existing = name.empty() ? std::nullopt : scope_.find(name);
            if (existing) {
                node_slots_.push_back(*existing);  // the same twin again: (a)-->(b)-->(a)
            } else {
                node_slots_.push_back(add_alias(name, AliasKind::twin, m.pos));
            }
        }
        for (const MatchEdge& e : m.edges) {
            if (!e.variable.empty() && (e.min_hops != 1 || e.max_hops != 1))
                throw QueryError("a relationship variable is allowed only on a single hop", e.pos, e.variable,
                                 "a single-hop relationship condition");
            edge_slots_.push_back(e.variable.empty() ? no_index : add_alias(e.variable, AliasKind::relationship, e.pos));
        }
    } else {
        add_alias(q_.from_alias, AliasKind::twin, {});
        for (const JoinClause& j : q_.joins) {
            auto src = scope_.find(j.source_alias);
            if (!src || scope_.aliases[*src].kind != AliasKind::twin)
                throw QueryError(std::string("JOIN: unknown twin alias '") + j.source_alias + "'", j.pos, j.source_alias,
                                 "an alias declared earlier");
            if (j.alias.empty()) throw QueryError("JOIN needs an alias", j.pos);
            JoinStep step;
            step.source = *src;
            step.target = add_alias(j.alias, AliasKind::twin, j.pos);
            step.rel = j.relationship_alias.empty() ? no_index
                                                    : add_alias(j.relationship_alias, AliasKind::relationship, j.pos);
            step.name = &j.relationship_name;
            joins_.push_back(step);
        }
    }
    // Paths and IS_OF_MODEL may omit the alias when the query has only one to
    // mean: FROM without an alias (`WHERE temperature > 20`), or a single named
    // alias (`FROM DIGITALTWINS T WHERE IS_BOOL(HasTemperature)`, as ADT allows).
    scope_.default_alias = Scope::no_default;
    if (!q_.match && q_.from_alias.empty()) {
        scope_.default_alias = 0;
    } else {
        std::uint32_t named = 0;
        for (std::uint32_t k = 0; k < scope_.aliases.size(); ++k) {
            if (scope_.aliases[k].name.empty()) continue;
            scope_.default_alias = named == 0 ? k : Scope::no_default;
            ++named;
        }
    }
    width_ = scope_.aliases.size();
}

void Executor::compile_where() {
    if (!q_.where) return;
    std::vector<const Expr*> parts;
    split_and(*q_.where, parts);
    std::set<std::string> seen;
    for (const Expr* e : parts) {
        auto c = std::make_unique<Conjunct>();
        c->expr = compile(*e, scope_);
        c->source = e;
        c->eval = std::make_unique<Evaluator>(c->expr, snap_);
        for (std::string& w : c->expr.unknown_names(*s_.models))
            if (seen.insert(w).second) warnings_.push_back(std::move(w));
        conj_.push_back(std::move(c));
    }
}

bool Executor::ready(const Conjunct& c, std::span<const std::uint32_t> row) const {
    for (std::uint32_t slot : c.expr.slots_used())
        if (row[slot] == no_index) return false;
    return true;
}

/// `<slot>.$dtId = 'x'` or `<slot>.$dtId IN [...]` among the conjuncts: the twins it allows.
std::optional<std::vector<TwinIndex>> Executor::anchor(std::uint32_t slot) const {
    for (const auto& c : conj_) {
        const detail::Program& p = c->expr.program();
        const detail::Node& n = p.nodes[p.root];
        const auto is_id = [&](std::uint32_t k) {
            const detail::Node& x = p.nodes[k];
            return x.op == detail::Op::twin_path && x.special == detail::Special::dt_id && x.slot == slot;
        };
        std::vector<TwinIndex> out;
        const auto add = [&](const Value& v) {
            if (v.kind != Value::Kind::string) return;
            if (auto t = snap_.find(v.s)) out.push_back(*t);
        };
        if (n.op == detail::Op::cmp && n.cmp == BinaryOp::eq) {
            if (is_id(n.args[0]) && p.nodes[n.args[1]].op == detail::Op::literal) add(p.nodes[n.args[1]].lit);
            else if (is_id(n.args[1]) && p.nodes[n.args[0]].op == detail::Op::literal) add(p.nodes[n.args[0]].lit);
            else continue;
            return out;
        }
        if (n.op == detail::Op::in_list && !n.negated && is_id(n.args[0])) {
            for (const Value& v : n.items) add(v);
            std::sort(out.begin(), out.end());
            out.erase(std::unique(out.begin(), out.end()), out.end());
            return out;
        }
    }
    return std::nullopt;
}

std::vector<Conjunct*> Executor::conjuncts_on(std::uint32_t slot) {
    std::vector<Conjunct*> out;
    for (auto& c : conj_) {
        const auto& used = c->expr.slots_used();
        if (used.size() == 1 && used[0] == slot) out.push_back(c.get());
        if (used.empty()) out.push_back(c.get());
    }
    return out;
}

/// A conjunct `<slot>.<p> <op> <number literal>` (either side) whose property is a
/// double column in `table`, or an integer column compared with an integral
/// literal small enough for an exact double comparison.
/// A comparison conjunct reading a property the table's model does not
/// declare: undefined on every row of the table.
bool Executor::undeclared_here(const Conjunct& c, std::uint32_t slot, const graph::detail::PropertyTable& table) const {
    const detail::Program& p = c.expr.program();
    const detail::Node& n = p.nodes[p.root];
    if (n.op != detail::Op::cmp) return false;
    const dtdl::CompiledInterface& ci = s_.models->at(table.interface);
    for (std::uint32_t a : n.args) {
        const detail::Node& x = p.nodes[a];
        if (x.op != detail::Op::twin_path || x.special != detail::Special::none || x.slot != slot) continue;
        if (!ci.layout.find(x.path[0]) && !ci.find(x.path[0])) return true;
    }
    return false;
}

std::optional<Executor::NumericCheck> Executor::numeric_check(const Conjunct& c, std::uint32_t slot,
                                                              const graph::detail::PropertyTable& table) const {
    const detail::Program& p = c.expr.program();
    const detail::Node& n = p.nodes[p.root];
    if (n.op != detail::Op::cmp || n.cmp == BinaryOp::and_ || n.cmp == BinaryOp::or_) return std::nullopt;
    const detail::Node* path = &p.nodes[n.args[0]];
    const detail::Node* lit = &p.nodes[n.args[1]];
    BinaryOp op = n.cmp;
    if (path->op == detail::Op::literal) {
        std::swap(path, lit);
        switch (op) {  // 3 < x  is  x > 3
        case BinaryOp::lt: op = BinaryOp::gt; break;
        case BinaryOp::gt: op = BinaryOp::lt; break;
        case BinaryOp::le: op = BinaryOp::ge; break;
        case BinaryOp::ge: op = BinaryOp::le; break;
        default: break;
        }
    }
    if (path->op != detail::Op::twin_path || path->special != detail::Special::none || path->slot != slot ||
        path->path.size() != 1 || lit->op != detail::Op::literal || !lit->lit.is_number())
        return std::nullopt;
    const dtdl::PropertySlot* ps = s_.models->at(table.interface).layout.find(path->path[0]);
    if (!ps) return std::nullopt;
    const graph::detail::Column& col = table.columns[ps->column];
    if (col.type == dtdl::ColumnType::int64) {
        // exact only when the literal is an integer that a double holds exactly
        if (lit->lit.kind != Value::Kind::integer || lit->lit.i > (std::int64_t{1} << 53) ||
            lit->lit.i < -(std::int64_t{1} << 53))
            return std::nullopt;
    } else if (col.type != dtdl::ColumnType::float64) {
        return std::nullopt;
    }
    NumericCheck out;
    out.column = &col;
    out.op = op;
    out.value = lit->lit.as_double();
    return out;
}

std::optional<std::uint32_t> Executor::name_id(const std::string& name) const {
    auto it = s_.name_index->find(name);
    if (it == s_.name_index->end()) return std::nullopt;
    return it->second;
}

bool Executor::all_on_slot0() const {
    for (const auto& c : conj_)
        for (std::uint32_t s : c->expr.slots_used())
            if (s != 0) return false;
    return true;
}

}  // namespace twinsim::query::detail
