#pragma once
// Cursors: a query's result rows found once on one snapshot, then handed out
// page by page or as typed columns without running the query again; the
// cursors continuation tokens name (continue_query, query.hpp) and their
// limits. See docs/query.md, "Cursors and paging".
//
// continue_query (declared in query.hpp) resumes the cursor its token names:
// The next page of an earlier query (options.page_size rows; 0 = the rest).
// The token names a cursor held since the first page (see CursorLimits):
// the page comes from it, from the snapshot of the first page, without
// running the query again, whatever `snapshot` is. When that cursor has
// been dropped, the query runs again on `snapshot` if its version() is the
// version of the first page's snapshot; otherwise QueryError says the token
// expired. A malformed, forged or truncated token is a QueryError
// ("invalid continuation token"), never undefined behaviour. Tokens are
// opaque: base64url text of at most a few hundred bytes plus the query.
//
// QueryResult::Stats::rows_examined is 0 on a page resumed from its cursor
// (it scans nothing).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/query/parser.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::query {

/// One result column in typed form, for columnar front ends (Python's
/// QueryResult.to_dataframe() / to_arrow()): the values QueryResult's rows
/// would hold under this member, without building any JSON for plain types.
struct TypedColumn {
    enum class Type : std::uint8_t {
        empty,       ///< no row has a value
        int64,       ///< integers only (i64)
        float64,     ///< numbers, at least one not an integer, or integers with JSON nulls (f64; a null is not valid)
        boolean,     ///< booleans only (b)
        string,      ///< strings only, a JSON null not valid (offsets, chars)
        dictionary,  ///< strings the engine interns ($metadata.$model, $relationshipName): codes into dictionary
        json,        ///< anything else (objects, arrays, mixed types, booleans or nulls alone): values
    };
    std::string name;
    Type type = Type::empty;
    std::size_t size = 0;               ///< rows
    /// 1 where the row has a value: not missing and, except for json, not a JSON null. Every type.
    std::vector<std::uint8_t> valid;
    std::vector<std::int64_t> i64;      ///< int64 (0 where not valid)
    std::vector<double> f64;            ///< float64 (0 where not valid)
    std::vector<std::uint8_t> b;        ///< boolean (0 where not valid)
    std::vector<std::int64_t> offsets;  ///< string: size + 1 offsets into chars (row k: [offsets[k], offsets[k+1]))
    std::string chars;                  ///< string: the UTF-8 bytes of every valid row, one after the other
    std::vector<std::int32_t> codes;    ///< dictionary: index into `dictionary`, -1 where not valid
    std::vector<std::string> dictionary;///< dictionary: the distinct strings, in order of first appearance
    std::vector<nlohmann::json> values; ///< json: the row's value (null where missing: see valid)
};

/// An open query: its result rows found once on one snapshot (scan, JOIN,
/// MATCH, WHERE, ORDER BY, GROUP BY and TOP all done by open()), then handed
/// out as pages or typed columns without running the query again. A cursor
/// keeps a copy of the snapshot (copy-on-write: O(tables), whatever the graph
/// size), so later writes to the graph never show in its pages, and the
/// result as flat arrays of twin/relationship indices (4 bytes per alias per
/// row, plus 8 for the table position of a one-alias scan's rows; GROUP BY
/// results as their JSON rows). Thread-safe (one page at a time).
class Cursor : public std::enable_shared_from_this<Cursor> {
public:
    /// Runs `query` on `snapshot` (the cursor keeps its own parse of the
    /// query's text). Throws QueryError when a cap of `options` (max_rows) is
    /// exceeded or GROUP BY is invalid.
    [[nodiscard]] static std::shared_ptr<Cursor> open(const graph::Snapshot& snapshot, const PreparedQuery& query,
                                                      const QueryOptions& options = {});
    /// As open() above, keeping `query` itself rather than parsing its text again.
    [[nodiscard]] static std::shared_ptr<Cursor> open(const graph::Snapshot& snapshot, PreparedQuery&& query,
                                                      const QueryOptions& options = {});
    ~Cursor();
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    /// Result rows (after TOP).
    [[nodiscard]] std::size_t size() const noexcept;
    /// Rows [offset, offset + count) (clamped to size(); count 0 = to the end),
    /// with columns and warnings; stats.rows_examined 0 (the scan ran in
    /// open(): rows_examined()); no continuation token (see page_token()).
    [[nodiscard]] QueryResult page(std::size_t offset, std::size_t count) const;
    /// Rows [offset, offset + count) (clamped as page()) as one TypedColumn per
    /// member of columns(), in that order. Precondition: !selects_documents()
    /// (rows that are whole twins or relationships have no fixed columns):
    /// otherwise throws QueryError.
    [[nodiscard]] std::vector<TypedColumn> typed_columns(std::size_t offset, std::size_t count) const;
    /// QueryResult::columns.
    [[nodiscard]] const std::vector<std::string>& columns() const noexcept;
    /// QueryResult::Stats::rows_examined of the run in open().
    [[nodiscard]] std::size_t rows_examined() const noexcept;
    [[nodiscard]] const std::vector<std::string>& warnings() const noexcept;
    /// SELECT * without JOIN/MATCH: rows are whole twins or relationships.
    [[nodiscard]] bool selects_documents() const noexcept;
    [[nodiscard]] const graph::Snapshot& snapshot() const noexcept;
    [[nodiscard]] const std::string& text() const noexcept;
    /// A continuation token resuming this cursor at `offset` through
    /// continue_query: registers the cursor (see CursorLimits).
    [[nodiscard]] std::string page_token(std::size_t offset) const;

private:
    struct State;
    explicit Cursor(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

/// The cursors continue_query resumes are held by the library between pages,
/// within these bounds (process-wide). A cursor is dropped when its last page
/// is served, when it has not been used for `idle_lifetime`, or, least
/// recently used first, when more than `max_cursors` are held or they hold
/// more than `max_held_rows` result rows together. A token whose cursor was
/// dropped still works while the snapshot passed to continue_query has the
/// version it was issued on: the query then runs again once on it.
struct CursorLimits {
    std::size_t max_cursors = 64;
    std::chrono::steady_clock::duration idle_lifetime = std::chrono::minutes(5);
    std::size_t max_held_rows = 20'000'000;
};
/// The limits in force; set_cursor_limits applies new ones at once (dropping cursors beyond them).
[[nodiscard]] CursorLimits cursor_limits();
void set_cursor_limits(const CursorLimits& limits);
/// Cursors held for continuation tokens now (for tests and monitoring).
[[nodiscard]] std::size_t held_cursors();

}  // namespace twinsim::query
