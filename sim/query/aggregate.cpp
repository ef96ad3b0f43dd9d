// GROUP BY and aggregates (COUNT, SUM, AVG, MIN, MAX), and the order and
// grouping keys of values they and ORDER BY use.
#include "twinsim/query/detail/executor.hpp"

#include <algorithm>
#include <unordered_map>

namespace twinsim::query::detail {

// --- ordering of values: by type (null < bool < number < string < object/array), then value;
// undefined always last ------------------------------------------------------------------

namespace {

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

}  // namespace

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

// GROUP BY and aggregates: one output row per group (one group when no GROUP BY).
std::vector<json> Executor::grouped() {
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
        if (!si.as.empty()) columns_.push_back(si.as);
        else if (item_agg[i]) columns_.emplace_back(aggregate_name(aggs[*item_agg[i]].fn));
        else columns_.push_back(last_segment(*si.expr));
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
    if (q_.top && out.size() > static_cast<std::size_t>(*q_.top)) out.resize(static_cast<std::size_t>(*q_.top));
    return out;
}

}  // namespace twinsim::query::detail
