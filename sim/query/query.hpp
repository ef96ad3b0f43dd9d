#pragma once
// Running queries on a Snapshot: the Azure Digital Twins query language with
// its documented semantics, plus ORDER BY, GROUP BY and aggregates. A query
// sees the graph exactly as of its snapshot.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/query/parser.hpp"

namespace twinsim::query {

struct QueryOptions {
    /// Rows per page; 0 = all rows in one page. ADT's default is 1000... its
    /// SDK pages transparently; so do the Python and CLI front ends.
    std::size_t page_size = 0;
    /// Cap on result rows and on intermediate rows (joins, MATCH expansion,
    /// groups). Exceeding it throws QueryError naming the cap, never
    /// exhausting memory.
    std::size_t max_rows = 10'000'000;
};

/// One page of results, shaped like ADT's response.
struct QueryResult {
    std::vector<nlohmann::json> rows;   ///< SELECT * rows are twins (or relationships); projections are objects
    /// The members of the result rows in SELECT order (the rows are
    /// nlohmann::json objects, whose keys iterate alphabetically): one per
    /// projection, aggregate or AS name; the aliases for SELECT * with JOIN or
    /// MATCH; empty when the rows are whole twins or relationships (SELECT *
    /// without JOIN/MATCH). The same on every page of a query.
    std::vector<std::string> columns;
    std::string continuation_token;     ///< empty on the last page
    std::vector<std::string> warnings;  ///< e.g. unknown model ids or property names (which yield no rows)
    /// How much work the page took (for tests and tuning; not part of ADT's response).
    struct Stats {
        /// Rows of twin model tables and relationships visited one by one by
        /// scans (FROM, the first JOIN/MATCH node without a $dtId anchor).
        /// A continuation page resumed from its cursor scans nothing: 0.
        /// Tables skipped whole (IS_OF_MODEL excludes the model, or a
        /// comparison reads a property the model does not declare) and tables
        /// counted whole by COUNT() add nothing; $dtId lookups add nothing.
        std::size_t rows_examined = 0;
    } stats;
    /// {"value": [...], "continuationToken": <string or null>}
    [[nodiscard]] nlohmann::json to_json() const;
};

/// A parsed query, reusable on any snapshot.
class PreparedQuery {
public:
    /// Throws QueryError on a syntax error.
    explicit PreparedQuery(std::string_view text);
    PreparedQuery(PreparedQuery&&) noexcept;
    PreparedQuery& operator=(PreparedQuery&&) noexcept;
    ~PreparedQuery();

    [[nodiscard]] const Query& ast() const noexcept;
    /// Runs it; returns the first page. When rows remain, the page's
    /// continuation token names the query's cursor, held by the library
    /// (cursor.hpp) for continue_query. Throws QueryError when a cap is exceeded.
    [[nodiscard]] QueryResult run(const graph::Snapshot& snapshot, const QueryOptions& options = {}) const;

private:
    std::unique_ptr<Query> query_;
};

/// Parses and runs `text` on `snapshot`; the first page.
[[nodiscard]] QueryResult query_twins(const graph::Snapshot& snapshot, std::string_view text,
                                      const QueryOptions& options = {});

/// The next page of an earlier query (options.page_size rows; 0 = the rest),
/// rendered from the cursor its token names (cursor.hpp): from the snapshot
/// of the first page whatever `snapshot` is, without running the query
/// again (stats.rows_examined 0). When that cursor was dropped (CursorLimits),
/// the query runs again on `snapshot` if its version() is the first page's,
/// else QueryError says the token expired. A malformed, garbled or truncated
/// token is a QueryError ("invalid continuation token").
[[nodiscard]] QueryResult continue_query(const graph::Snapshot& snapshot, std::string_view continuation_token,
                                         const QueryOptions& options = {});

}  // namespace twinsim::query
