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

/// Parses a whole query. Keywords are case-insensitive; names and string
/// values are case-sensitive. Throws QueryError on a syntax error.
[[nodiscard]] Query parse_query(std::string_view text);

/// Parses a standalone expression (the language of WHERE). Throws QueryError.
[[nodiscard]] ExprPtr parse_expression(std::string_view text);

}  // namespace twinsim::query
