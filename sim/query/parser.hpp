#pragma once
// Parsing the Azure Digital Twins query language (plus ORDER BY, GROUP BY,
// aggregates and AS) and standalone expressions (the WHERE language, reused by
// scenario overrides, business rules and event-route filters).

#include <cstdint>
#include <string>
#include <string_view>

#include "twinsim/common/error.hpp"
#include "twinsim/query/ast.hpp"

namespace twinsim::query {

/// A malformed query, or one that cannot run (a cap exceeded, a bad
/// continuation token). For syntax errors: position, offending token and what
/// was expected; message() = "line 1, column 42: expected ')' but found 'FROM'".
class QueryError : public Error {
public:
    QueryError(const std::string& message, SourcePos pos = {}, std::string token = {}, std::string expected = {})
        : Error(message), pos_(pos), token_(std::move(token)), expected_(std::move(expected)) {}
    [[nodiscard]] SourcePos position() const noexcept { return pos_; }
    [[nodiscard]] const std::string& token() const noexcept { return token_; }
    [[nodiscard]] const std::string& expected() const noexcept { return expected_; }

private:
    SourcePos pos_;
    std::string token_;
    std::string expected_;
};

/// How deeply an expression may nest: parentheses, NOTs, function arguments
/// and chained AND/OR operators each add a level to the syntax tree. Deeper
/// input is refused with a QueryError naming this limit and the position, so
/// that parsing, compiling, evaluating and destroying an expression never
/// recurse without bound (documented in docs/query.md, "Limits").
inline constexpr std::uint32_t max_expression_depth = 256;

/// Parses a whole query. Keywords are case-insensitive; names and string
/// values are case-sensitive. Throws QueryError on a syntax error, and on an
/// expression nested deeper than max_expression_depth.
[[nodiscard]] Query parse_query(std::string_view text);

/// The languages of standalone expressions. `route_filter` is Azure Digital
/// Twins' event-route filter syntax: the same expressions, but its functions
/// are STARTS_WITH, ENDS_WITH, CONTAINS and IS_DEFINED (the parser names them
/// STARTSWITH, ENDSWITH, CONTAINS, IS_DEFINED in the tree, the evaluator's
/// functions of the same meaning); any other function, the query language's
/// STARTSWITH included, is a syntax error (sim/live/route_filter.hpp).
enum class Dialect : std::uint8_t { query, route_filter };

/// Parses a standalone expression (the language of WHERE, or of route
/// filters). Throws QueryError, including for nesting deeper than
/// max_expression_depth.
[[nodiscard]] ExprPtr parse_expression(std::string_view text, Dialect dialect = Dialect::query);

}  // namespace twinsim::query
