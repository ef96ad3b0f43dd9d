// The public face of queries (query.hpp): prepared queries and one-shot
// query_twins(). The work is in detail/executor.hpp and the files it names.
#include "twinsim/query/query.hpp"

#include <memory>

#include "twinsim/query/detail/executor.hpp"
#include "twinsim/query/parser.hpp"

namespace twinsim::query {

namespace detail {

QueryResult execute(const Query& q, const graph::Snapshot& snapshot, const QueryOptions& options, std::size_t offset) {
    Executor ex(q, snapshot, options);
    return ex.run(offset);
}

}  // namespace detail

using nlohmann::json;

json QueryResult::to_json() const {
    json out = json::object();
    out["value"] = json::array();
    for (const json& r : rows) out["value"].push_back(r);
    out["continuationToken"] = continuation_token.empty() ? json() : json(continuation_token);
    return out;
}

PreparedQuery::PreparedQuery(std::string_view text) : query_(std::make_unique<Query>(parse_query(text))) {
    if (query_->text.empty()) query_->text = std::string(text);
    detail::check_result_names(*query_);
}
PreparedQuery::PreparedQuery(PreparedQuery&&) noexcept = default;
PreparedQuery& PreparedQuery::operator=(PreparedQuery&&) noexcept = default;
PreparedQuery::~PreparedQuery() = default;

const Query& PreparedQuery::ast() const noexcept { return *query_; }

QueryResult PreparedQuery::run(const graph::Snapshot& snapshot, const QueryOptions& options) const {
    return detail::execute(*query_, snapshot, options, 0);
}

QueryResult query_twins(const graph::Snapshot& snapshot, std::string_view text, const QueryOptions& options) {
    return PreparedQuery(text).run(snapshot, options);
}

}  // namespace twinsim::query
