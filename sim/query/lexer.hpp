#pragma once
// The tokens of the query language. A hand-written single pass over the text
// (no regex): the parser asks for the whole token vector once.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/query/ast.hpp"

namespace twinsim::query {

enum class TokenKind : std::uint8_t {
    end,           ///< end of the text (always the last token)
    identifier,    ///< a name or keyword: letters, digits, '_' and '$', not starting with a digit
    escaped_name,  ///< [[name]]; value holds the name
    string,        ///< '...' or "..."; value holds the decoded text
    number,        ///< 12, 1.5, 2e-3 (no sign: '-' is its own token)
    lparen,
    rparen,
    lbracket,
    rbracket,
    comma,
    dot,
    dotdot,  ///< `..` in hop ranges
    star,
    colon,
    pipe,
    minus,
    eq,
    ne,  ///< != or <>
    lt,
    gt,
    le,
    ge,
};

struct Token {
    TokenKind kind = TokenKind::end;
    std::string_view text;  ///< the token as written (a view into the query text)
    std::string value;      ///< decoded content of string and escaped_name tokens
    SourcePos pos;
};

/// Splits `text` into tokens; the last one has kind `end`. Throws QueryError
/// (parser.hpp) on an unterminated string or [[name]], an unknown escape, a
/// malformed number (`1e`, `12abc`) or a character outside the language.
/// Columns count Unicode code points, so they match what an editor shows.
[[nodiscard]] std::vector<Token> tokenize(std::string_view text);

/// Throws QueryError with message "line L, column C: <message>" and the given
/// offending token text and expectation.
[[noreturn]] void throw_syntax_error(SourcePos pos, std::string_view message, std::string token = {},
                                     std::string expected = {});

/// How a token is named in an error message: 'WHERE', or "end of query".
[[nodiscard]] std::string describe(const Token& token);

}  // namespace twinsim::query
