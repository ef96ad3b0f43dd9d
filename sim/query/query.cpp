#include "twinsim/query/query.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/query/detail/program.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/query/lexer.hpp"

namespace twinsim::query {

using graph::no_index;
using graph::RelationshipIndex;
using graph::TwinIndex;
using nlohmann::json;

namespace {

// --- continuation tokens: base64url of {"q": text, "o": offset, "v": version} --------------

constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
        acc = (acc << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += b64[(acc >> bits) & 63U];
        }
    }
    if (bits > 0) out += b64[(acc << (6 - bits)) & 63U];
    return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const char* p = std::find(b64, b64 + 64, c);
        if (p == b64 + 64) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFFU);
        }
    }
    return out;
}

// --- ordering of values: by type (null < bool < number < string < object/array), then value;
// undefined always last ------------------------------------------------------------------

int type_rank(const Value& v) {
    switch (v.kind) {
    case Value::Kind::null: return 0;
    case Value::Kind::boolean: return 1;
    case Value::Kind::integer:
    case Value::Kind::number: return 2;
    case Value::Kind::string: return 3;
    case Value::Kind::json: return 4;
    case Value::Kind::undefined: return 5;
    }
    return 5;
}

/// <0, 0, >0 ignoring direction; undefined handled by the caller.
int order_values(const Value& a, const Value& b) {
    const int ra = type_rank(a), rb = type_rank(b);
    if (ra != rb) return ra < rb ? -1 : 1;
    if (compare(a, BinaryOp::lt, b) == Truth::true_) return -1;
    if (compare(a, BinaryOp::gt, b) == Truth::true_) return 1;
    if (a.kind == Value::Kind::json && b.kind == Value::Kind::json) {
        const std::string x = a.j->dump(), y = b.j->dump();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    return 0;
}

/// A grouping key for a value (distinguishes types; integers and equal doubles group together).
void append_key(std::string& key, const Value& v) {
    switch (v.kind) {
    case Value::Kind::undefined: key += 'u'; break;
    case Value::Kind::null: key += 'n'; break;
    case Value::Kind::boolean: key += v.b ? "bt" : "bf"; break;
    case Value::Kind::integer:
    case Value::Kind::number: {
        const double d = v.as_double();
        key += 'd';
        key.append(reinterpret_cast<const char*>(&d), sizeof d);
        break;
    }
    case Value::Kind::string:
        key += 's';
        key += std::to_string(v.s.size());
        key += ':';
        key += v.s;
        break;
    case Value::Kind::json: key += 'j'; key += v.j->dump(); key += '\0'; break;
    }
    key += '|';
}

bool is_count_star(const Expr& e) { return e.kind == ExprKind::aggregate && e.aggregate == Aggregate::count && e.args.empty(); }

const char* aggregate_name(Aggregate a) {
    switch (a) {
    case Aggregate::count: return "COUNT";
    case Aggregate::sum: return "SUM";
    case Aggregate::avg: return "AVG";
    case Aggregate::min: return "MIN";
    case Aggregate::max: return "MAX";
    }
    return "COUNT";
}

bool same_expr(const Expr& a, const Expr& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case ExprKind::path: return a.path == b.path;
    case ExprKind::aggregate:
        if (a.aggregate != b.aggregate || a.args.size() != b.args.size()) return false;
        for (std::size_t k = 0; k < a.args.size(); ++k)
            if (!a.args[k] || !b.args[k] || !same_expr(*a.args[k], *b.args[k])) return false;
        return true;
    case ExprKind::literal: return a.literal == b.literal;
    default: return false;
    }
}

std::string where(SourcePos pos) {
    std::string out = "line ";
    out += std::to_string(pos.line);
    out += ", column ";
    out += std::to_string(pos.column);
    return out;
}

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

/// One WHERE conjunct, applied as soon as every alias it reads is bound.
struct Conjunct {
    CompiledExpression expr;
    std::unique_ptr<Evaluator> eval;
    const Expr* source = nullptr;
    bool applied = false;
};

void split_and(const Expr& e, std::vector<const Expr*>& out) {
    if (e.kind == ExprKind::binary && e.op == BinaryOp::and_ && e.args.size() == 2 && e.args[0] && e.args[1]) {
        split_and(*e.args[0], out);
        split_and(*e.args[1], out);
    } else {
        out.push_back(&e);
    }
}

class Executor {
public:
    Executor(const Query& q, const graph::Snapshot& snap, const QueryOptions& opt)
        : q_(q), snap_(snap), s_(snap.state()), opt_(opt) {}

    QueryResult run(std::size_t offset) {
        build_scope();
        compile_where();
        count_only_ = q_.select.size() == 1 && q_.select[0].expr && is_count_star(*q_.select[0].expr) &&
                      q_.group_by.empty();
        generate();
        for (auto& c : conj_)
            if (!c->applied) filter(*c);  // (all are applied once every alias is bound)
        QueryResult result;
        result.warnings = warnings_;
        result.stats.rows_examined = examined_;
        if (count_only_) {
            const std::string key = q_.select[0].as.empty() ? "COUNT" : q_.select[0].as;
            const std::size_t n = counted_ + rows_.size() / std::max<std::size_t>(width_, 1);
            result.rows.push_back(json{{key, n}});
            result.columns = {key};
            return result;
        }
        bool grouping = !q_.group_by.empty();
        for (const auto& item : q_.select)
            if (item.expr && item.expr->kind == ExprKind::aggregate) grouping = true;
        std::vector<json> out = grouping ? grouped(offset, result) : plain(offset, result);
        result.rows = std::move(out);
        return result;
    }

private:
    // --- scope ----------------------------------------------------------------------------
    std::uint32_t add_alias(const std::string& name, AliasKind kind, SourcePos pos) {
        if (!name.empty() && scope_.find(name))
            throw QueryError(std::string("alias '") + name + "' is declared twice", pos, name, "a new alias");
        scope_.aliases.push_back({name, kind});
        return static_cast<std::uint32_t>(scope_.aliases.size() - 1);
    }

    void build_scope() {
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
        scope_.default_alias = Scope::no_default;
        // Paths may omit the alias only when FROM declares none (`WHERE temperature > 20`).
        if (!q_.match && q_.from_alias.empty()) scope_.default_alias = 0;
        width_ = scope_.aliases.size();
    }

    void compile_where() {
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

    // --- row generation -------------------------------------------------------------------
    void check_cap(std::size_t rows, const char* what) const {
        if (rows > opt_.max_rows)
            throw QueryError(std::string("the query exceeds max_rows (") + std::to_string(opt_.max_rows) + "): more than " +
                             std::to_string(opt_.max_rows) + " " + what + "; narrow it (WHERE, TOP) or raise the cap");
    }

    bool ready(const Conjunct& c, std::span<const std::uint32_t> row) const {
        for (std::uint32_t slot : c.expr.slots_used())
            if (row[slot] == no_index) return false;
        return true;
    }

    /// Applies every conjunct not yet applied whose aliases are all bound in the rows.
    void filter_ready() {
        if (rows_.empty()) {
            // nothing to filter; mark those that would be ready so they are not re-run
            return;
        }
        const std::span<const std::uint32_t> first(rows_.data(), width_);
        for (auto& c : conj_)
            if (!c->applied && ready(*c, first)) filter(*c);
    }

    void filter(Conjunct& c) {
        c.applied = true;
        std::size_t out = 0;
        const std::size_t n = rows_.size() / std::max<std::size_t>(width_, 1);
        for (std::size_t k = 0; k < n; ++k) {
            const std::span<const std::uint32_t> row(rows_.data() + k * width_, width_);
            if (c.eval->test(row) != Truth::true_) continue;
            if (out != k) std::copy(row.begin(), row.end(), rows_.begin() + static_cast<std::ptrdiff_t>(out * width_));
            ++out;
        }
        rows_.resize(out * width_);
    }

    /// `<slot>.$dtId = 'x'` or `<slot>.$dtId IN [...]` among the conjuncts: the twins it allows.
    std::optional<std::vector<TwinIndex>> anchor(std::uint32_t slot) const {
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

    std::vector<Conjunct*> conjuncts_on(std::uint32_t slot) {
        std::vector<Conjunct*> out;
        for (auto& c : conj_) {
            const auto& used = c->expr.slots_used();
            if (used.size() == 1 && used[0] == slot) out.push_back(c.get());
            if (used.empty()) out.push_back(c.get());
        }
        return out;
    }

    /// Rows binding only `slot` (the first alias): by id when WHERE names the
    /// $dtId, else a scan of the model tables that the WHERE does not exclude.
    /// Conjuncts on that alias alone are applied during the scan.
    void seed_twins(std::uint32_t slot, bool count_only) {
        std::vector<Conjunct*> cs = conjuncts_on(slot);
        for (Conjunct* c : cs) c->applied = true;
        std::vector<std::uint32_t> row(width_, no_index);
        const auto accept = [&](TwinIndex t, const std::vector<Conjunct*>& checks) {
            row[slot] = t;
            for (Conjunct* c : checks)
                if (c->eval->test(row) != Truth::true_) return;
            if (count_only) {
                ++counted_;
                return;
            }
            rows_.insert(rows_.end(), row.begin(), row.end());
            if (rows_.size() / width_ > opt_.max_rows) check_cap(rows_.size() / width_, "rows");
        };
        if (auto ids = anchor(slot)) {
            for (TwinIndex t : *ids) accept(t, cs);
            return;
        }
        for (std::uint32_t ti = 0; ti < s_.tables.size(); ++ti) {
            const graph::detail::PropertyTable& table = s_.tables[ti];
            if (table.interface == no_index || table.live == 0) continue;
            std::vector<Conjunct*> checks;
            bool skip = false;
            for (Conjunct* c : cs) {
                const auto f = c->eval->fold_for_model(slot, table.interface);
                if (f && !*f) skip = true;
                if (!f) checks.push_back(c);
            }
            if (skip) continue;
            if (checks.empty() && count_only) {
                counted_ += table.live;
                continue;
            }
            // Fast path: `<slot>.<numeric property> <op> <number>` conjuncts read the column directly.
            std::vector<NumericCheck> fast;
            std::vector<Conjunct*> slow;
            for (Conjunct* c : checks) {
                if (undeclared_here(*c, slot, table)) skip = true;
                if (auto nc = numeric_check(*c, slot, table)) fast.push_back(*nc);
                else slow.push_back(c);
            }
            if (skip) continue;
            examined_ += table.rows;
            for (std::uint32_t r = 0; r < table.rows; ++r) {
                const TwinIndex t = table.row_twin[r];
                if (t == no_index) continue;
                bool ok = true;
                for (const NumericCheck& nc : fast)
                    if (!nc.test(r)) {
                        ok = false;
                        break;
                    }
                if (ok) accept(t, slow);
            }
        }
    }

    struct NumericCheck {
        const graph::detail::Column* column = nullptr;
        BinaryOp op = BinaryOp::eq;
        double value = 0;
        [[nodiscard]] bool test(std::uint32_t row) const {
            if (!column->has(row)) return false;
            const double v = column->type == dtdl::ColumnType::float64 ? column->f64[row]
                                                                      : static_cast<double>(column->i64[row]);
            switch (op) {
            case BinaryOp::eq: return v == value;
            case BinaryOp::ne: return v != value;
            case BinaryOp::lt: return v < value;
            case BinaryOp::gt: return v > value;
            case BinaryOp::le: return v <= value;
            case BinaryOp::ge: return v >= value;
            default: return false;
            }
        }
    };

    /// A conjunct `<slot>.<p> <op> <number literal>` (either side) whose property is a
    /// double column in `table`, or an integer column compared with an integral
    /// literal small enough for an exact double comparison.
    /// A comparison conjunct reading a property the table's model does not
    /// declare: undefined on every row of the table.
    bool undeclared_here(const Conjunct& c, std::uint32_t slot, const graph::detail::PropertyTable& table) const {
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

    std::optional<NumericCheck> numeric_check(const Conjunct& c, std::uint32_t slot,
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

    void seed_relationships(bool count_only) {
        std::vector<Conjunct*> cs = conjuncts_on(0);
        for (Conjunct* c : cs) c->applied = true;
        std::vector<std::uint32_t> row(width_, no_index);
        const auto n = static_cast<RelationshipIndex>(s_.rels.size());
        examined_ += n;
        for (RelationshipIndex r = 0; r < n; ++r) {
            if (!s_.rel_alive(r)) continue;
            row[0] = r;
            bool ok = true;
            for (Conjunct* c : cs)
                if (c->eval->test(row) != Truth::true_) {
                    ok = false;
                    break;
                }
            if (!ok) continue;
            if (count_only) {
                ++counted_;
                continue;
            }
            rows_.insert(rows_.end(), row.begin(), row.end());
            check_cap(rows_.size() / width_, "rows");
        }
    }

    std::optional<std::uint32_t> name_id(const std::string& name) const {
        auto it = s_.name_index->find(name);
        if (it == s_.name_index->end()) return std::nullopt;
        return it->second;
    }

    void generate() {
        const bool single = q_.joins.empty() && !q_.match;
        if (q_.from == FromKind::relationships) {
            seed_relationships(count_only_);
            return;
        }
        if (q_.match) {
            run_match();
            return;
        }
        seed_twins(0, count_only_ && single && all_on_slot0());
        filter_ready();
        for (const JoinStep& j : joins_) {
            const auto nid = name_id(*j.name);
            std::vector<std::uint32_t> next;
            const std::size_t n = rows_.size() / width_;
            for (std::size_t k = 0; k < n && nid; ++k) {
                const std::uint32_t* row = rows_.data() + k * width_;
                for (RelationshipIndex r : snap_.out_relationships(row[j.source])) {
                    const auto& rec = s_.rels[r];
                    if (rec.name != *nid) continue;
                    const std::size_t at = next.size();
                    next.insert(next.end(), row, row + width_);
                    next[at + j.target] = rec.target;
                    if (j.rel != no_index) next[at + j.rel] = r;
                    check_cap(next.size() / width_, "intermediate rows (JOIN)");
                }
            }
            rows_ = std::move(next);
            filter_ready();
        }
    }

    bool all_on_slot0() const {
        for (const auto& c : conj_)
            for (std::uint32_t s : c->expr.slots_used())
                if (s != 0) return false;
        return true;
    }

    // --- MATCH ------------------------------------------------------------------------------
    void expand(const MatchEdge& e, bool reversed, std::uint32_t from_slot, std::uint32_t to_slot, std::uint32_t rel_slot) {
        EdgeDirection dir = e.direction;
        if (reversed && dir != EdgeDirection::undirected)
            dir = dir == EdgeDirection::forward ? EdgeDirection::backward : EdgeDirection::forward;
        std::vector<std::uint32_t> names;
        for (const std::string& nm : e.names)
            if (auto id = name_id(nm)) names.push_back(*id);
        if (!e.names.empty() && names.empty()) {
            rows_.clear();
            return;
        }
        const std::uint32_t lo = e.min_hops, hi = std::max(e.min_hops, e.max_hops);
        std::vector<std::uint32_t> next;
        std::vector<RelationshipIndex> path;
        const std::size_t n = rows_.size() / width_;
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint32_t* row = rows_.data() + k * width_;
            const auto used_in_row = [&](RelationshipIndex r) {
                for (std::uint32_t es : edge_slots_)
                    if (es != no_index && row[es] == r) return true;
                return false;
            };
            const auto emit = [&](TwinIndex v, RelationshipIndex r) {
                if (row[to_slot] != no_index && row[to_slot] != v) return;
                const std::size_t at = next.size();
                next.insert(next.end(), row, row + width_);
                next[at + to_slot] = v;
                if (rel_slot != no_index) next[at + rel_slot] = r;
                check_cap(next.size() / width_, "intermediate rows (MATCH)");
            };
            // depth-first over paths of lo..hi hops, each relationship at most once per path
            const auto dfs = [&](auto&& self, TwinIndex u, std::uint32_t depth) -> void {
                if (depth >= lo && depth > 0) emit(u, path.empty() ? no_index : path.back());
                if (depth == hi) return;
                const auto step = [&](RelationshipIndex r, TwinIndex v) {
                    if (!names.empty() && std::find(names.begin(), names.end(), s_.rels[r].name) == names.end()) return;
                    if (std::find(path.begin(), path.end(), r) != path.end() || used_in_row(r)) return;
                    path.push_back(r);
                    self(self, v, depth + 1);
                    path.pop_back();
                };
                if (dir != EdgeDirection::backward)
                    for (RelationshipIndex r : snap_.out_relationships(u)) step(r, s_.rels[r].target);
                if (dir != EdgeDirection::forward)
                    for (RelationshipIndex r : snap_.in_relationships(u)) step(r, s_.rels[r].source);
            };
            if (lo == 0) emit(row[from_slot], no_index);
            dfs(dfs, row[from_slot], 0);
        }
        rows_ = std::move(next);
    }

    void run_match() {
        const MatchPattern& m = *q_.match;
        std::size_t start = 0;
        bool anchored = false;
        for (std::size_t k = 0; k < node_slots_.size() && !anchored; ++k)
            if (anchor(node_slots_[k])) {
                start = k;
                anchored = true;
            }
        seed_twins(node_slots_[start], false);
        filter_ready();
        for (std::size_t k = start; k < m.edges.size(); ++k) {
            expand(m.edges[k], false, node_slots_[k], node_slots_[k + 1], edge_slots_[k]);
            filter_ready();
        }
        for (std::size_t k = start; k-- > 0;) {
            expand(m.edges[k], true, node_slots_[k + 1], node_slots_[k], edge_slots_[k]);
            filter_ready();
        }
    }

    // --- output -----------------------------------------------------------------------------
    json entity(std::uint32_t slot, std::uint32_t index) const {
        return scope_.aliases[slot].kind == AliasKind::twin ? snap_.get_twin(index) : snap_.get_relationship(index);
    }

    static std::string last_segment(const Expr& e) { return e.path.empty() ? std::string() : e.path.back(); }

    /// A projection: a bare alias (the entity), a path (its value, left out when missing) or any expression.
    struct Item {
        const SelectItem* item = nullptr;
        std::optional<std::uint32_t> alias;  ///< a bare alias
        CompiledExpression expr;
        std::unique_ptr<Evaluator> eval;
        std::string key;
    };

    std::vector<Item> items() {
        std::vector<Item> out;
        std::size_t unnamed = 0;
        for (const SelectItem& si : q_.select) {
            if (!si.expr) continue;
            Item it;
            it.item = &si;
            const Expr& e = *si.expr;
            if (e.kind == ExprKind::path && e.path.size() == 1 && scope_.find(e.path[0])) {
                it.alias = scope_.find(e.path[0]);
                it.key = si.as.empty() ? e.path[0] : si.as;
            } else {
                it.expr = compile(e, scope_);
                it.eval = std::make_unique<Evaluator>(it.expr, snap_);
                if (!si.as.empty()) {
                    it.key = si.as;
                } else if (e.kind == ExprKind::path) {
                    it.key = last_segment(e);
                } else {
                    it.key = std::to_string(++unnamed);
                    it.key.insert(it.key.begin(), '$');
                }
            }
            out.push_back(std::move(it));
        }
        return out;
    }

    bool select_star() const {
        return q_.select.size() == 1 && q_.select[0].expr && q_.select[0].expr->kind == ExprKind::star;
    }

    json project(std::span<const std::uint32_t> row, std::vector<Item>& its) const {
        if (select_star()) {
            if (width_ == 1) return entity(0, row[0]);
            json out = json::object();
            for (std::uint32_t k = 0; k < width_; ++k)
                if (!scope_.aliases[k].name.empty() && row[k] != no_index) out[scope_.aliases[k].name] = entity(k, row[k]);
            return out;
        }
        json out = json::object();
        for (Item& it : its) {
            if (it.alias) {
                if (row[*it.alias] != no_index) out[it.key] = entity(*it.alias, row[*it.alias]);
                continue;
            }
            const Value v = it.eval->value(row);
            if (v.defined()) out[it.key] = v.to_json();
        }
        return out;
    }

    const Expr* resolve_order_key(const Expr& e) const {
        if (e.kind == ExprKind::path && e.path.size() == 1 && !scope_.find(e.path[0]))
            for (const SelectItem& si : q_.select)
                if (si.as == e.path[0] && si.expr) return si.expr.get();
        return &e;
    }

    std::vector<json> plain(std::size_t offset, QueryResult& result) {
        std::vector<Item> its = select_star() ? std::vector<Item>{} : items();
        if (select_star()) {
            if (width_ > 1)
                for (const auto& alias : scope_.aliases)
                    if (!alias.name.empty()) result.columns.push_back(alias.name);
        } else {
            for (const Item& it : its) result.columns.push_back(it.key);
        }
        const std::size_t n = rows_.size() / std::max<std::size_t>(width_, 1);
        check_cap(n, "result rows");
        std::vector<std::uint32_t> order(n);
        for (std::size_t k = 0; k < n; ++k) order[k] = static_cast<std::uint32_t>(k);
        if (!q_.order_by.empty()) {
            struct Key {
                CompiledExpression expr;
                std::unique_ptr<Evaluator> eval;
                bool desc;
            };
            std::vector<Key> keys;
            for (const OrderKey& ok : q_.order_by) {
                if (!ok.expr) continue;
                Key k;
                k.expr = compile(*resolve_order_key(*ok.expr), scope_);
                k.eval = std::make_unique<Evaluator>(k.expr, snap_);
                k.desc = ok.descending;
                keys.push_back(std::move(k));
            }
            std::vector<Value> vals(n * keys.size());
            for (std::size_t r = 0; r < n; ++r)
                for (std::size_t k = 0; k < keys.size(); ++k)
                    vals[r * keys.size() + k] = keys[k].eval->value(std::span<const std::uint32_t>(rows_.data() + r * width_, width_));
            const std::size_t nk = keys.size();
            std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
                for (std::size_t k = 0; k < nk; ++k) {
                    const Value& x = vals[a * nk + k];
                    const Value& y = vals[b * nk + k];
                    if (!x.defined() || !y.defined()) {
                        if (x.defined() != y.defined()) return x.defined();
                        continue;
                    }
                    const int c = order_values(x, y);
                    if (c != 0) return keys[k].desc ? c > 0 : c < 0;
                }
                return false;
            });
        }
        std::size_t total = n;
        if (q_.top) total = std::min<std::size_t>(total, static_cast<std::size_t>(*q_.top));
        const auto [begin, end] = page(offset, total, result);
        std::vector<json> out;
        out.reserve(end - begin);
        for (std::size_t k = begin; k < end; ++k)
            out.push_back(project(std::span<const std::uint32_t>(rows_.data() + order[k] * width_, width_), its));
        return out;
    }

    std::pair<std::size_t, std::size_t> page(std::size_t offset, std::size_t total, QueryResult& result) const {
        const std::size_t begin = std::min(offset, total);
        std::size_t end = total;
        if (opt_.page_size > 0 && total - begin > opt_.page_size) {
            end = begin + opt_.page_size;
            json t = {{"q", q_.text}, {"o", end}, {"v", snap_.version()}};
            result.continuation_token = base64url(t.dump());
        }
        return {begin, end};
    }

    // GROUP BY and aggregates: one output row per group (one group when no GROUP BY).
    std::vector<json> grouped(std::size_t offset, QueryResult& result) {
        struct Key {
            CompiledExpression expr;
            std::unique_ptr<Evaluator> eval;
        };
        std::vector<Key> keys;
        for (const ExprPtr& g : q_.group_by) {
            if (!g) continue;
            Key k;
            k.expr = compile(*g, scope_);
            k.eval = std::make_unique<Evaluator>(k.expr, snap_);
            keys.push_back(std::move(k));
        }
        struct Agg {
            Aggregate fn = Aggregate::count;
            CompiledExpression expr;
            std::unique_ptr<Evaluator> eval;  ///< null for COUNT()
        };
        struct Acc {
            std::size_t count = 0;   ///< values seen (rows for COUNT())
            double sum = 0;
            std::int64_t isum = 0;
            bool all_int = true;
            Value min, max;
        };
        std::vector<Agg> aggs;
        std::vector<std::optional<std::size_t>> item_agg(q_.select.size());
        std::vector<std::optional<std::size_t>> item_key(q_.select.size());
        for (std::size_t i = 0; i < q_.select.size(); ++i) {
            const SelectItem& si = q_.select[i];
            if (!si.expr) continue;
            const Expr& e = *si.expr;
            if (e.kind == ExprKind::star) throw QueryError("SELECT * cannot be combined with aggregates or GROUP BY", si.pos);
            if (e.kind == ExprKind::aggregate) {
                Agg a;
                a.fn = e.aggregate;
                if (!e.args.empty() && e.args[0]) {
                    if (e.args[0]->kind == ExprKind::star) {
                        if (a.fn != Aggregate::count) throw QueryError(std::string(aggregate_name(a.fn)) + "(*) is not allowed", e.pos);
                    } else {
                        a.expr = compile(*e.args[0], scope_);
                        a.eval = std::make_unique<Evaluator>(a.expr, snap_);
                    }
                }
                item_agg[i] = aggs.size();
                aggs.push_back(std::move(a));
                continue;
            }
            for (std::size_t g = 0; g < q_.group_by.size(); ++g)
                if (q_.group_by[g] && same_expr(e, *q_.group_by[g])) item_key[i] = g;
            if (!item_key[i])
                throw QueryError("SELECT with GROUP BY or aggregates may name only grouped expressions and aggregates", si.pos);
        }
        struct Group {
            std::vector<Value> key;
            std::vector<Acc> acc;
        };
        std::vector<Group> groups;
        std::unordered_map<std::string, std::size_t> index;
        const std::size_t n = rows_.size() / std::max<std::size_t>(width_, 1);
        std::string kbuf;
        if (keys.empty()) {
            groups.push_back({{}, std::vector<Acc>(aggs.size())});
        }
        for (std::size_t r = 0; r < n; ++r) {
            const std::span<const std::uint32_t> row(rows_.data() + r * width_, width_);
            // Without GROUP BY keys there is the one group made above; with keys, the row's group is looked up below.
            Group* g = keys.empty() ? &groups.front() : nullptr;
            if (!keys.empty()) {
                kbuf.clear();
                std::vector<Value> kv;
                kv.reserve(keys.size());
                for (Key& k : keys) {
                    kv.push_back(k.eval->value(row));
                    append_key(kbuf, kv.back());
                }
                auto [it, fresh] = index.try_emplace(kbuf, groups.size());
                if (fresh) {
                    groups.push_back({std::move(kv), std::vector<Acc>(aggs.size())});
                    check_cap(groups.size(), "groups");
                }
                g = &groups[it->second];
            }
            for (std::size_t a = 0; a < aggs.size(); ++a) {
                Acc& acc = g->acc[a];
                if (!aggs[a].eval) {
                    ++acc.count;
                    continue;
                }
                const Value v = aggs[a].eval->value(row);
                if (aggs[a].fn == Aggregate::count) {
                    if (v.defined()) ++acc.count;
                    continue;
                }
                if (aggs[a].fn == Aggregate::min || aggs[a].fn == Aggregate::max) {
                    if (!v.defined() || v.kind == Value::Kind::json || v.kind == Value::Kind::null) continue;
                    if (!acc.min.defined() || order_values(v, acc.min) < 0) acc.min = v;
                    if (!acc.max.defined() || order_values(v, acc.max) > 0) acc.max = v;
                    ++acc.count;
                    continue;
                }
                if (!v.is_number()) continue;
                ++acc.count;
                acc.sum += v.as_double();
                if (v.kind == Value::Kind::integer && acc.all_int) {
                    if (__builtin_add_overflow(acc.isum, v.i, &acc.isum)) acc.all_int = false;
                } else {
                    acc.all_int = false;
                }
            }
        }
        for (std::size_t i = 0; i < q_.select.size(); ++i) {
            const SelectItem& si = q_.select[i];
            if (!si.expr) continue;
            if (!si.as.empty()) result.columns.push_back(si.as);
            else if (item_agg[i]) result.columns.emplace_back(aggregate_name(aggs[*item_agg[i]].fn));
            else result.columns.push_back(last_segment(*si.expr));
        }
        std::vector<json> out;
        out.reserve(groups.size());
        for (const Group& g : groups) {
            json row = json::object();
            for (std::size_t i = 0; i < q_.select.size(); ++i) {
                const SelectItem& si = q_.select[i];
                if (!si.expr) continue;
                std::string key = si.as;
                if (item_agg[i]) {
                    const Agg& a = aggs[*item_agg[i]];
                    const Acc& acc = g.acc[*item_agg[i]];
                    if (key.empty()) key = aggregate_name(a.fn);
                    switch (a.fn) {
                    case Aggregate::count: row[key] = acc.count; break;
                    case Aggregate::sum:
                        if (acc.count == 0) break;
                        if (acc.all_int) row[key] = acc.isum;
                        else row[key] = acc.sum;
                        break;
                    case Aggregate::avg:
                        if (acc.count > 0) row[key] = acc.sum / static_cast<double>(acc.count);
                        break;
                    case Aggregate::min:
                        if (acc.min.defined()) row[key] = acc.min.to_json();
                        break;
                    case Aggregate::max:
                        if (acc.max.defined()) row[key] = acc.max.to_json();
                        break;
                    }
                } else if (item_key[i]) {
                    if (key.empty()) key = last_segment(*si.expr);
                    const Value& v = g.key[*item_key[i]];
                    if (v.defined()) row[key] = v.to_json();
                }
            }
            out.push_back(std::move(row));
        }
        if (!q_.order_by.empty()) {
            // Keys name output columns: a selected expression, an aggregate or an AS name.
            std::vector<std::pair<std::string, bool>> cols;
            for (const OrderKey& ok : q_.order_by) {
                if (!ok.expr) continue;
                std::optional<std::string> col;
                for (std::size_t i = 0; i < q_.select.size() && !col; ++i) {
                    const SelectItem& si = q_.select[i];
                    if (!si.expr) continue;
                    const bool by_as = ok.expr->kind == ExprKind::path && ok.expr->path.size() == 1 && ok.expr->path[0] == si.as;
                    if (by_as || same_expr(*ok.expr, *si.expr))
                        col = !si.as.empty() ? si.as
                              : item_agg[i] ? std::string(aggregate_name(si.expr->aggregate))
                                            : last_segment(*si.expr);
                }
                if (!col)
                    throw QueryError("ORDER BY with GROUP BY or aggregates must name a selected column", ok.expr->pos);
                cols.emplace_back(*col, ok.descending);
            }
            std::stable_sort(out.begin(), out.end(), [&](const json& a, const json& b) {
                for (const auto& [col, desc] : cols) {
                    auto ia = a.find(col), ib = b.find(col);
                    const bool da = ia != a.end(), db = ib != b.end();
                    if (!da || !db) {
                        if (da != db) return da;
                        continue;
                    }
                    const int c = order_values(Value::of(*ia), Value::of(*ib));
                    if (c != 0) return desc ? c > 0 : c < 0;
                }
                return false;
            });
        }
        check_cap(out.size(), "result rows");
        std::size_t total = out.size();
        if (q_.top) total = std::min<std::size_t>(total, static_cast<std::size_t>(*q_.top));
        const auto [begin, end] = page(offset, total, result);
        return {std::make_move_iterator(out.begin() + static_cast<std::ptrdiff_t>(begin)),
                std::make_move_iterator(out.begin() + static_cast<std::ptrdiff_t>(end))};
    }

    struct JoinStep {
        std::uint32_t source = 0, target = 0, rel = no_index;
        const std::string* name = nullptr;
    };

    const Query& q_;
    const graph::Snapshot& snap_;
    const graph::detail::GraphState& s_;
    QueryOptions opt_;
    Scope scope_;
    std::size_t width_ = 1;
    std::vector<std::unique_ptr<Conjunct>> conj_;
    std::vector<JoinStep> joins_;
    std::vector<std::uint32_t> node_slots_, edge_slots_;
    std::vector<std::uint32_t> rows_;  ///< flat, width_ per row
    std::size_t counted_ = 0;          ///< rows counted without being stored (COUNT())
    std::size_t examined_ = 0;         ///< QueryResult::Stats::rows_examined
    bool count_only_ = false;
    std::vector<std::string> warnings_;
};

QueryResult execute(const Query& q, const graph::Snapshot& snapshot, const QueryOptions& options, std::size_t offset) {
    Executor ex(q, snapshot, options);
    return ex.run(offset);
}

}  // namespace

json QueryResult::to_json() const {
    json out = json::object();
    out["value"] = json::array();
    for (const json& r : rows) out["value"].push_back(r);
    out["continuationToken"] = continuation_token.empty() ? json() : json(continuation_token);
    return out;
}

PreparedQuery::PreparedQuery(std::string_view text) : query_(std::make_unique<Query>(parse_query(text))) {
    if (query_->text.empty()) query_->text = std::string(text);
    check_result_names(*query_);
}
PreparedQuery::PreparedQuery(PreparedQuery&&) noexcept = default;
PreparedQuery& PreparedQuery::operator=(PreparedQuery&&) noexcept = default;
PreparedQuery::~PreparedQuery() = default;

const Query& PreparedQuery::ast() const noexcept { return *query_; }

QueryResult PreparedQuery::run(const graph::Snapshot& snapshot, const QueryOptions& options) const {
    return execute(*query_, snapshot, options, 0);
}

QueryResult query_twins(const graph::Snapshot& snapshot, std::string_view text, const QueryOptions& options) {
    return PreparedQuery(text).run(snapshot, options);
}

QueryResult continue_query(const graph::Snapshot& snapshot, std::string_view continuation_token, const QueryOptions& options) {
    const auto bad = [] { return QueryError("invalid continuation token"); };
    const auto raw = unbase64url(continuation_token);
    if (!raw) throw bad();
    json t = json::parse(*raw, nullptr, false);
    if (!t.is_object() || !t.contains("q") || !t["q"].is_string() || !t.contains("o") ||
        !t["o"].is_number_unsigned() || !t.contains("v") || !t["v"].is_number_unsigned())
        throw bad();
    if (t["v"].get<std::uint64_t>() != snapshot.version())
        throw QueryError(std::string("the continuation token belongs to another version of the graph (version ") +
                         std::to_string(t["v"].get<std::uint64_t>()) + ", this snapshot is version " +
                         std::to_string(snapshot.version()) + "): run the query again");
    Query q = parse_query(t["q"].get<std::string>());
    if (q.text.empty()) q.text = t["q"].get<std::string>();
    check_result_names(q);
    return execute(q, snapshot, options, t["o"].get<std::size_t>());
}

}  // namespace twinsim::query
