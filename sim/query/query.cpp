// The public face of queries (query.hpp): prepared queries, one-shot
// query_twins() and cursors. The work is in detail/executor.hpp and the files
// it names; continuation tokens and the cursors they name are in continuation.cpp.
#include "twinsim/query/query.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>

#include "twinsim/query/cursor.hpp"
#include "twinsim/query/detail/executor.hpp"
#include "twinsim/query/parser.hpp"

namespace twinsim::query {

using nlohmann::json;

json QueryResult::to_json() const {
    json out = json::object();
    out["value"] = json::array();
    for (const json& r : rows) out["value"].push_back(r);
    out["continuationToken"] = continuation_token.empty() ? json() : json(continuation_token);
    return out;
}

// --- Cursor ------------------------------------------------------------------------------

struct Cursor::State {
    // Declared in this order: the executor refers to the query and the snapshot.
    std::unique_ptr<PreparedQuery> query;
    graph::Snapshot snapshot;
    QueryOptions options;
    std::unique_ptr<detail::Executor> executor;
    bool documents = false;
    mutable std::mutex mutex;  // the executor's evaluators are not thread-safe
};

Cursor::Cursor(std::unique_ptr<State> state) : state_(std::move(state)) {}
Cursor::~Cursor() = default;

std::shared_ptr<Cursor> Cursor::open(const graph::Snapshot& snapshot, const PreparedQuery& query, const QueryOptions& options) {
    return open(snapshot, PreparedQuery(query.ast().text), options);
}

std::shared_ptr<Cursor> Cursor::open(const graph::Snapshot& snapshot, PreparedQuery&& query, const QueryOptions& options) {
    auto state = std::make_unique<State>();
    state->query = std::make_unique<PreparedQuery>(std::move(query));
    state->snapshot = snapshot;
    state->options = options;
    const Query& q = state->query->ast();
    state->executor = std::make_unique<detail::Executor>(q, state->snapshot, state->options);
    state->executor->prepare();
    // SELECT * names no columns exactly when its rows are whole twins or relationships.
    state->documents = q.select.size() == 1 && q.select.front().expr && q.select.front().expr->kind == ExprKind::star &&
                       state->executor->columns().empty();
    return std::shared_ptr<Cursor>(new Cursor(std::move(state)));
}

std::size_t Cursor::size() const noexcept { return state_->executor->size(); }

namespace {
std::pair<std::size_t, std::size_t> range(std::size_t offset, std::size_t count, std::size_t size) {
    const std::size_t begin = std::min(offset, size);
    const std::size_t end = count == 0 || count > size - begin ? size : begin + count;
    return {begin, end};
}
}  // namespace

QueryResult Cursor::page(std::size_t offset, std::size_t count) const {
    const std::lock_guard lock(state_->mutex);
    detail::Executor& ex = *state_->executor;
    const auto [begin, end] = range(offset, count, ex.size());
    QueryResult out;
    out.rows = ex.rows(begin, end);
    out.columns = ex.columns();
    out.warnings = ex.warnings();
    return out;
}

std::vector<TypedColumn> Cursor::typed_columns(std::size_t offset, std::size_t count) const {
    if (state_->documents)
        throw QueryError("SELECT * rows are whole twins or relationships, which have no fixed columns: take the rows");
    const std::lock_guard lock(state_->mutex);
    detail::Executor& ex = *state_->executor;
    const auto [begin, end] = range(offset, count, ex.size());
    return ex.typed_columns(begin, end);
}

const std::vector<std::string>& Cursor::columns() const noexcept { return state_->executor->columns(); }
std::size_t Cursor::rows_examined() const noexcept { return state_->executor->examined(); }
const std::vector<std::string>& Cursor::warnings() const noexcept { return state_->executor->warnings(); }
bool Cursor::selects_documents() const noexcept { return state_->documents; }
const graph::Snapshot& Cursor::snapshot() const noexcept { return state_->snapshot; }
const std::string& Cursor::text() const noexcept { return state_->query->ast().text; }

// --- PreparedQuery ---------------------------------------------------------------------------

PreparedQuery::PreparedQuery(std::string_view text) : query_(std::make_unique<Query>(parse_query(text))) {
    if (query_->text.empty()) query_->text = std::string(text);
    detail::check_result_names(*query_);
}
PreparedQuery::PreparedQuery(PreparedQuery&&) noexcept = default;
PreparedQuery& PreparedQuery::operator=(PreparedQuery&&) noexcept = default;
PreparedQuery::~PreparedQuery() = default;

const Query& PreparedQuery::ast() const noexcept { return *query_; }

namespace {
/// The first page of a freshly opened cursor, with the token of the next when rows remain.
QueryResult first_page(const std::shared_ptr<Cursor>& cursor, const QueryOptions& options) {
    QueryResult out = cursor->page(0, options.page_size);
    out.stats.rows_examined = cursor->rows_examined();
    if (out.rows.size() < cursor->size()) out.continuation_token = cursor->page_token(out.rows.size());
    return out;
}
}  // namespace

QueryResult PreparedQuery::run(const graph::Snapshot& snapshot, const QueryOptions& options) const {
    return first_page(Cursor::open(snapshot, *this, options), options);
}

QueryResult query_twins(const graph::Snapshot& snapshot, std::string_view text, const QueryOptions& options) {
    return first_page(Cursor::open(snapshot, PreparedQuery(text), options), options);  // (parsed once)
}

}  // namespace twinsim::query
