#pragma once
// The query executor (internal), one class whose work is split over files
// named for its steps: plan.cpp (scope, WHERE conjuncts, anchors, fast numeric
// checks), execute.cpp (row generation, MATCH, projection, ORDER BY, pages),
// aggregate.cpp (GROUP BY and aggregates, value ordering and grouping keys),
// continuation.cpp (continuation tokens). query.cpp holds the public API.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/query/cursor.hpp"
#include "twinsim/query/detail/program.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::query::detail {

using graph::no_index;
using graph::RelationshipIndex;
using graph::TwinIndex;
using nlohmann::json;

// --- plan.cpp ------------------------------------------------------------------------------

/// Two SELECT items producing the same result member: a QueryError naming both (see plan.cpp).
void check_result_names(const Query& q);

/// One WHERE conjunct, applied as soon as every alias it reads is bound.
struct Conjunct {
    CompiledExpression expr;
    std::unique_ptr<Evaluator> eval;
    const Expr* source = nullptr;
    bool applied = false;
};

/// The conjuncts of an AND chain, left to right.
void split_and(const Expr& e, std::vector<const Expr*>& out);

// --- aggregate.cpp -------------------------------------------------------------------------

/// Order of values, by type (null < bool < number < string < object/array),
/// then value: <0, 0, >0 ignoring direction; undefined handled by the caller.
int order_values(const Value& a, const Value& b);
/// Appends a grouping key for a value (distinguishes types; integers and equal doubles group together).
void append_key(std::string& key, const Value& v);
bool is_count_star(const Expr& e);
const char* aggregate_name(Aggregate a);
/// Whether two expressions are the same path, aggregate or literal (GROUP BY / ORDER BY matching).
bool same_expr(const Expr& a, const Expr& b);

// --- the executor --------------------------------------------------------------------------

/// Runs one query on one snapshot in two steps: prepare() finds every result
/// row (scans, joins, MATCH, WHERE, ORDER BY, GROUP BY, TOP) and keeps them as
/// flat arrays of twin/relationship indices (grouped results as JSON rows);
/// rows() and typed_columns() then render any range of them. A Cursor
/// (cursor.cpp) keeps an Executor between pages. Both referenced objects must
/// outlive it. Not thread-safe.
class Executor {
public:
    Executor(const Query& q, const graph::Snapshot& snap, const QueryOptions& opt)
        : q_(q), snap_(snap), s_(snap.state()), opt_(opt) {}
    /// Throws QueryError (a cap exceeded, an invalid GROUP BY).
    void prepare();
    /// Result rows after TOP. Precondition: prepare() returned.
    [[nodiscard]] std::size_t size() const noexcept { return total_; }
    [[nodiscard]] const std::vector<std::string>& columns() const noexcept { return columns_; }
    [[nodiscard]] const std::vector<std::string>& warnings() const noexcept { return warnings_; }
    [[nodiscard]] std::size_t examined() const noexcept { return examined_; }
    /// Result rows [begin, end) as JSON. Precondition: begin <= end <= size().
    [[nodiscard]] std::vector<json> rows(std::size_t begin, std::size_t end);
    /// Result rows [begin, end) as one TypedColumn per result column (see query.hpp).
    [[nodiscard]] std::vector<TypedColumn> typed_columns(std::size_t begin, std::size_t end);

private:
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
        /// Asks the processor to fetch block blk's values and presence word (see test_block).
        void prefetch_block(std::size_t blk) const {
            const char* p = column->type == dtdl::ColumnType::float64
                                ? reinterpret_cast<const char*>(column->f64.chunk(blk))
                                : reinterpret_cast<const char*>(column->i64.chunk(blk));
            for (std::size_t line = 0; line < 64 * sizeof(double); line += 64) __builtin_prefetch(p + line);
            __builtin_prefetch(&column->present[blk]);
        }
        /// test() of rows blk * 64 ... blk * 64 + 63 as a bit mask (bit i: row blk * 64 + i), reading
        /// whole chunks. Precondition: blk < (rows + 63) / 64; bits past the table's rows are unspecified.
        [[nodiscard]] std::uint64_t test_block(std::size_t blk) const {
            const std::uint64_t present = column->present[blk];
            if (present == 0) return 0;
            std::uint64_t bits = 0;
            if (column->type == dtdl::ColumnType::float64) {
                const double* v = column->f64.chunk(blk);
                switch (op) {
                case BinaryOp::eq: for (unsigned i = 0; i < 64; ++i) bits |= std::uint64_t{v[i] == value} << i; break;
                case BinaryOp::ne: for (unsigned i = 0; i < 64; ++i) bits |= std::uint64_t{v[i] != value} << i; break;
                case BinaryOp::lt: for (unsigned i = 0; i < 64; ++i) bits |= std::uint64_t{v[i] < value} << i; break;
                case BinaryOp::gt: for (unsigned i = 0; i < 64; ++i) bits |= std::uint64_t{v[i] > value} << i; break;
                case BinaryOp::le: for (unsigned i = 0; i < 64; ++i) bits |= std::uint64_t{v[i] <= value} << i; break;
                case BinaryOp::ge: for (unsigned i = 0; i < 64; ++i) bits |= std::uint64_t{v[i] >= value} << i; break;
                default: return 0;
                }
            } else {
                const std::uint32_t first = static_cast<std::uint32_t>(blk * 64);
                for (unsigned i = 0; i < 64; ++i)
                    if (((present >> i) & 1U) != 0 && test(first + i)) bits |= std::uint64_t{1} << i;
            }
            return bits & present;
        }
    };

    /// A projection: a bare alias (the entity), a path (its value, left out when missing) or any expression.
    struct Item {
        const SelectItem* item = nullptr;
        std::optional<std::uint32_t> alias;  ///< a bare alias
        CompiledExpression expr;
        std::unique_ptr<Evaluator> eval;
        std::string key;
    };

    struct JoinStep {
        std::uint32_t source = 0, target = 0, rel = no_index;
        const std::string* name = nullptr;
    };

    // --- scope ----------------------------------------------------------------------------
    std::uint32_t add_alias(const std::string& name, AliasKind kind, SourcePos pos);
    void build_scope();
    void compile_where();
    // --- row generation -------------------------------------------------------------------
    void check_cap(std::size_t rows, const char* what) const;
    bool ready(const Conjunct& c, std::span<const std::uint32_t> row) const;
    /// Applies every conjunct not yet applied whose aliases are all bound in the rows.
    void filter_ready();
    void filter(Conjunct& c);
    /// `<slot>.$dtId = 'x'` or `<slot>.$dtId IN [...]` among the conjuncts: the twins it allows.
    std::optional<std::vector<TwinIndex>> anchor(std::uint32_t slot) const;
    std::vector<Conjunct*> conjuncts_on(std::uint32_t slot);
    /// Rows binding only `slot` (the first alias): by id when WHERE names the
    /// $dtId, else a scan of the model tables that the WHERE does not exclude.
    /// Conjuncts on that alias alone are applied during the scan.
    void seed_twins(std::uint32_t slot, bool count_only);
    /// A comparison conjunct reading a property the table's model does not
    /// declare: undefined on every row of the table.
    bool undeclared_here(const Conjunct& c, std::uint32_t slot, const graph::detail::PropertyTable& table) const;
    /// A conjunct `<slot>.<p> <op> <number literal>` (either side) whose property is a
    /// double column in `table`, or an integer column compared with an integral
    /// literal small enough for an exact double comparison.
    std::optional<NumericCheck> numeric_check(const Conjunct& c, std::uint32_t slot,
                                              const graph::detail::PropertyTable& table) const;
    void seed_relationships(bool count_only);
    std::optional<std::uint32_t> name_id(const std::string& name) const;
    void generate();
    bool all_on_slot0() const;
    // --- MATCH ------------------------------------------------------------------------------
    void expand(const MatchEdge& e, bool reversed, std::uint32_t from_slot, std::uint32_t to_slot, std::uint32_t rel_slot);
    void run_match();
    // --- output -----------------------------------------------------------------------------
    json entity(std::uint32_t slot, std::uint32_t index) const;
    static std::string last_segment(const Expr& e) { return e.path.empty() ? std::string() : e.path.back(); }
    std::vector<Item> items();
    bool select_star() const;
    json project(std::span<const std::uint32_t> row, std::vector<Item>& its) const;
    const Expr* resolve_order_key(const Expr& e) const;
    /// typed_columns() of a projection `<alias>.$dtId`, `<alias>.$metadata.$model` or
    /// `<alias>.<property>` on a twin alias, read straight from the graph's columns (no Value
    /// per row); nullopt when some row needs the evaluator (a JSON or component property,
    /// values of mixed types): the caller takes the general path then (columns.cpp).
    std::optional<TypedColumn> direct_column(const Item& it, std::size_t begin, std::size_t n) const;
    /// direct_column() of a property in one pass, when every table the rows come from keeps
    /// it in a column of one type or lacks it; nullopt otherwise.
    std::optional<TypedColumn> uniform_column(const Item& it, std::size_t begin, std::size_t n) const;
    /// The column of property `name` in table `table_index`: its index, 0xfffffffe when the
    /// model lacks it, nullopt when it needs the evaluator (a JSON column or a component).
    std::optional<std::uint32_t> property_column(std::uint32_t table_index, const std::string& name) const;
    /// Orders the rows (ORDER BY) into order_, applies TOP.
    void plain();
    // GROUP BY and aggregates: one output row per group (one group when no GROUP BY), ordered, TOP applied.
    std::vector<json> grouped();

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
    /// Where a table scan found each row of rows_ (table, row), while rows_ holds one alias
    /// only and came from a scan (else empty): typed columns then read a property without
    /// looking each twin up again (direct_column).
    std::vector<std::pair<std::uint32_t, std::uint32_t>> scan_pos_;
    std::size_t counted_ = 0;          ///< rows counted without being stored (COUNT())
    std::size_t examined_ = 0;         ///< QueryResult::Stats::rows_examined
    bool count_only_ = false;
    std::vector<std::string> warnings_;
    // --- the prepared result -----------------------------------------------------------------
    std::vector<std::string> columns_;
    std::size_t total_ = 0;
    std::vector<std::uint32_t> order_;  ///< plain results: result row k is rows_[order_[k] * width_ ...]
    std::vector<Item> items_;           ///< plain results: the projections
    std::vector<json> out_;             ///< COUNT() and grouped results: the rows themselves
    bool rendered_ = false;             ///< COUNT() / grouped: out_ holds the rows
};

}  // namespace twinsim::query::detail
