// Executing a planned query: rows of alias bindings (seeded by scans or anchors,
// joined, matched), filtered by the conjuncts, projected, ordered and paged.
#include "twinsim/query/detail/executor.hpp"

#include <algorithm>
#include <bit>
#include <set>

namespace twinsim::query::detail {

void Executor::prepare() {
    build_scope();
    compile_where();
    count_only_ = q_.select.size() == 1 && q_.select[0].expr && is_count_star(*q_.select[0].expr) &&
                  q_.group_by.empty();
    generate();
    for (auto& c : conj_)
        if (!c->applied) filter(*c);  // (all are applied once every alias is bound)
    if (count_only_) {
        const std::string key = q_.select[0].as.empty() ? "COUNT" : q_.select[0].as;
        const std::size_t n = counted_ + rows_.size() / std::max<std::size_t>(width_, 1);
        out_.push_back(json{{key, n}});
        columns_ = {key};
        rows_.clear();
        rows_.shrink_to_fit();
        rendered_ = true;
        total_ = 1;
        return;
    }
    bool grouping = !q_.group_by.empty();
    for (const auto& item : q_.select)
        if (item.expr && item.expr->kind == ExprKind::aggregate) grouping = true;
    if (grouping) {
        out_ = grouped();
        rendered_ = true;
        total_ = out_.size();
        rows_.clear();
        rows_.shrink_to_fit();
    } else {
        plain();
    }
}

std::vector<json> Executor::rows(std::size_t begin, std::size_t end) {
    std::vector<json> out;
    if (begin >= end) return out;
    out.reserve(end - begin);
    if (rendered_) {
        out.assign(out_.begin() + static_cast<std::ptrdiff_t>(begin), out_.begin() + static_cast<std::ptrdiff_t>(end));
        return out;
    }
    for (std::size_t k = begin; k < end; ++k)
        out.push_back(project(std::span<const std::uint32_t>(rows_.data() + std::size_t{order_[k]} * width_, width_), items_));
    return out;
}

// --- row generation -------------------------------------------------------------------
void Executor::check_cap(std::size_t rows, const char* what) const {
    if (rows > opt_.max_rows)
        throw QueryError(std::string("the query exceeds max_rows (") + std::to_string(opt_.max_rows) + "): more than " +
                         std::to_string(opt_.max_rows) + " " + what + "; narrow it (WHERE, TOP) or raise the cap");
}

/// Applies every conjunct not yet applied whose aliases are all bound in the rows.
void Executor::filter_ready() {
    if (rows_.empty()) {
        // nothing to filter; mark those that would be ready so they are not re-run
        return;
    }
    const std::span<const std::uint32_t> first(rows_.data(), width_);
    for (auto& c : conj_)
        if (!c->applied && ready(*c, first)) filter(*c);
}

void Executor::filter(Conjunct& c) {
    c.applied = true;
    std::size_t out = 0;
    const std::size_t n = rows_.size() / std::max<std::size_t>(width_, 1);
    for (std::size_t k = 0; k < n; ++k) {
        const std::span<const std::uint32_t> row(rows_.data() + k * width_, width_);
        if (c.eval->test(row) != Truth::true_) continue;
        if (out != k) {
            std::copy(row.begin(), row.end(), rows_.begin() + static_cast<std::ptrdiff_t>(out * width_));
            if (!scan_pos_.empty()) scan_pos_[out] = scan_pos_[k];
        }
        ++out;
    }
    rows_.resize(out * width_);
    if (!scan_pos_.empty()) scan_pos_.resize(out);
}

/// Rows binding only `slot` (the first alias): by id when WHERE names the
/// $dtId, else a scan of the model tables that the WHERE does not exclude.
/// Conjuncts on that alias alone are applied during the scan.
void Executor::seed_twins(std::uint32_t slot, bool count_only) {
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
    // Only a scan seeding the rows of a one-alias query records where it found them.
    const bool record = width_ == 1 && !count_only && rows_.empty();
    scan_pos_.clear();
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
        // Blocks of 64 rows (one chunk of each column, one word of its presence
        // bitmap): the checks make a bit mask per block without a copy-on-write
        // lookup per row; a COUNT with nothing else to check adds its popcount.
        using Cow = graph::detail::CowVector<TwinIndex>;
        static_assert(Cow::chunk_size == 64 && graph::detail::CowVector<double>::chunk_size == 64 &&
                      graph::detail::CowVector<std::int64_t>::chunk_size == 64);
        const std::size_t blocks = (std::size_t{table.rows} + 63) / 64;
        // Every row holds a twin (none was freed): a COUNT need not read which twin.
        const bool full = table.live == table.rows;
        const bool popcount_only = count_only && slow.empty();
        const bool read_twins = !(popcount_only && full);
        // A one-alias scan with nothing but fast checks appends the twin without the general accept().
        const bool direct = width_ == 1 && slow.empty() && !count_only;
        if (direct) {
            const std::size_t bound = std::min<std::size_t>(table.live, opt_.max_rows + 1);
            rows_.reserve(rows_.size() + bound);
            if (record) scan_pos_.reserve(scan_pos_.size() + bound);
        }
        // The chunks are separate allocations, so the hardware prefetcher does not
        // follow the scan from one to the next: fetch those `ahead` blocks on early.
        constexpr std::size_t ahead = 8;
        const auto prefetch = [&](std::size_t b) {
            if (b >= blocks) return;
            if (read_twins) {
                const char* p = reinterpret_cast<const char*>(table.row_twin.chunk(b));
                for (std::size_t line = 0; line < 64 * sizeof(TwinIndex); line += 64) __builtin_prefetch(p + line);
            }
            for (const NumericCheck& nc : fast) nc.prefetch_block(b);
        };
        for (std::size_t b = 0; b < ahead; ++b) prefetch(b);
        for (std::size_t blk = 0; blk < blocks; ++blk) {
            prefetch(blk + ahead);
            const std::size_t in_block = std::min<std::size_t>(64, table.rows - blk * 64);
            std::uint64_t mask = in_block == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << in_block) - 1;
            for (const NumericCheck& nc : fast) mask &= nc.test_block(blk);
            if (mask == 0) continue;
            if (popcount_only && full) {
                counted_ += static_cast<std::size_t>(std::popcount(mask));
                continue;
            }
            const TwinIndex* twins = table.row_twin.chunk(blk);
            if (popcount_only) {
                for (std::size_t i = 0; i < in_block; ++i)
                    if (((mask >> i) & 1U) != 0 && twins[i] == no_index) mask &= ~(std::uint64_t{1} << i);
                counted_ += static_cast<std::size_t>(std::popcount(mask));
                continue;
            }
            if (direct) {
                for (; mask != 0; mask &= mask - 1) {
                    const int i = std::countr_zero(mask);
                    const TwinIndex t = twins[i];
                    if (t == no_index) continue;
                    rows_.push_back(t);
                    if (record) scan_pos_.emplace_back(ti, static_cast<std::uint32_t>(blk * 64 + static_cast<std::size_t>(i)));
                }
                if (rows_.size() > opt_.max_rows) check_cap(rows_.size(), "rows");
                continue;
            }
            for (; mask != 0; mask &= mask - 1) {
                const int i = std::countr_zero(mask);
                const TwinIndex t = twins[i];
                if (t == no_index) continue;
                const std::size_t before = rows_.size();
                accept(t, slow);
                if (record && rows_.size() != before)
                    scan_pos_.emplace_back(ti, static_cast<std::uint32_t>(blk * 64 + static_cast<std::size_t>(i)));
            }
        }
    }
}

void Executor::seed_relationships(bool count_only) {
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

void Executor::generate() {
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
        scan_pos_.clear();
        filter_ready();
    }
}

// --- MATCH ------------------------------------------------------------------------------
void Executor::expand(const MatchEdge& e, bool reversed, std::uint32_t from_slot, std::uint32_t to_slot, std::uint32_t rel_slot) {
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
    scan_pos_.clear();
}

void Executor::run_match() {
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
json Executor::entity(std::uint32_t slot, std::uint32_t index) const {
    return scope_.aliases[slot].kind == AliasKind::twin ? snap_.get_twin(index) : snap_.get_relationship(index);
}

std::vector<Executor::Item> Executor::items() {
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

bool Executor::select_star() const {
    return q_.select.size() == 1 && q_.select[0].expr && q_.select[0].expr->kind == ExprKind::star;
}

json Executor::project(std::span<const std::uint32_t> row, std::vector<Item>& its) const {
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

const Expr* Executor::resolve_order_key(const Expr& e) const {
    if (e.kind == ExprKind::path && e.path.size() == 1 && !scope_.find(e.path[0]))
        for (const SelectItem& si : q_.select)
            if (si.as == e.path[0] && si.expr) return si.expr.get();
    return &e;
}

void Executor::plain() {
    if (!select_star()) items_ = items();
    if (select_star()) {
        if (width_ > 1)
            for (const auto& alias : scope_.aliases)
                if (!alias.name.empty()) columns_.push_back(alias.name);
    } else {
        for (const Item& it : items_) columns_.push_back(it.key);
    }
    const std::size_t n = rows_.size() / std::max<std::size_t>(width_, 1);
    check_cap(n, "result rows");
    std::vector<std::uint32_t>& order = order_;
    order.resize(n);
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
    total_ = n;
    if (q_.top) total_ = std::min<std::size_t>(total_, static_cast<std::size_t>(*q_.top));
    order.resize(total_);
}

}  // namespace twinsim::query::detail
