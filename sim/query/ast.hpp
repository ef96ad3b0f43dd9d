#pragma once
// The syntax tree of a query and of a standalone expression. Produced by the
// parser (parser.hpp), consumed by the evaluator and the executor. Plain data:
// every node keeps its position in the text for error messages.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace twinsim::query {

/// A position in the query text (1-based line and column, 0-based byte offset).
struct SourcePos {
    std::uint32_t line = 1;
    std::uint32_t column = 1;
    std::uint32_t offset = 0;
};

enum class ExprKind : std::uint8_t {
    literal,   ///< string, number, boolean, null, or an array literal (for IN / NIN)
    path,      ///< alias.property.sub, $dtId, $metadata.$model, [[escaped]] segments
    not_,      ///< NOT <operand>
    binary,    ///< comparison or AND/OR
    in_list,   ///< <operand> IN [..] / NIN [..]
    call,      ///< a function: IS_OF_MODEL, IS_DEFINED, STARTSWITH, ... (name upper-cased)
    aggregate, ///< COUNT/SUM/AVG/MIN/MAX in SELECT (and ORDER BY after GROUP BY)
    star,      ///< `*` (only in SELECT *, COUNT(*) is written COUNT())
};

enum class BinaryOp : std::uint8_t { eq, ne, lt, gt, le, ge, and_, or_ };
enum class Aggregate : std::uint8_t { count, sum, avg, min, max };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    ExprKind kind = ExprKind::literal;
    SourcePos pos;
    nlohmann::json literal;              ///< literal (incl. array for IN lists)
    std::vector<std::string> path;       ///< path segments as written (escapes removed); whether
                                         ///< the first is an alias is decided when binding
    BinaryOp op = BinaryOp::eq;          ///< binary
    bool negated = false;                ///< in_list: NIN
    std::string function;                ///< call: upper-cased name
    bool exact = false;                  ///< call IS_OF_MODEL: the trailing `exact` keyword was given
    Aggregate aggregate = Aggregate::count;  ///< aggregate
    std::vector<ExprPtr> args;           ///< operands / arguments (not_: 1; binary: 2; in_list: 1 + literal; call: n)
};

/// One item of the SELECT list.
struct SelectItem {
    ExprPtr expr;            ///< path, aggregate, star (`SELECT *`), or any expression
    std::string as;          ///< AS alias; empty when none
    SourcePos pos;
};

/// JOIN <alias> RELATED <source>.<relationshipName> [<relationshipAlias>]
struct JoinClause {
    std::string alias;
    std::string source_alias;
    std::string relationship_name;
    std::string relationship_alias;  ///< empty when none
    SourcePos pos;
};

enum class EdgeDirection : std::uint8_t { forward /* -[]-> */, backward /* <-[]- */, undirected /* -[]- */ };

/// One relationship step of a MATCH pattern: -[variable:name1|name2*min..max]->
struct MatchEdge {
    EdgeDirection direction = EdgeDirection::forward;
    std::string variable;               ///< relationship variable; empty when none (only for single hops)
    std::vector<std::string> names;     ///< alternatives; empty = any relationship name
    /// Inclusive bounds on the number of hops, already translated from ADT's
    /// notation by the parser: none or `*n` -> [n, n]; `*..m` -> [1, m];
    /// `*n..m` -> [n + 1, m] (ADT documents the lower bound of a range as
    /// exclusive). Always 1 <= min_hops <= max_hops.
    std::uint32_t min_hops = 1;
    std::uint32_t max_hops = 1;
    SourcePos pos;
};

/// MATCH (n0)-[e0]->(n1)-[e1]->(n2)...: nodes.size() == edges.size() + 1.
struct MatchPattern {
    std::vector<std::string> nodes;     ///< twin aliases (may be empty for an anonymous node)
    std::vector<MatchEdge> edges;
    SourcePos pos;
};

enum class FromKind : std::uint8_t { digital_twins, relationships };

struct OrderKey {
    ExprPtr expr;
    bool descending = false;
};

/// A whole query.
struct Query {
    std::optional<std::uint64_t> top;         ///< SELECT TOP(n)
    std::vector<SelectItem> select;           ///< SELECT COUNT() is one item of kind aggregate/count with no args
    FromKind from = FromKind::digital_twins;
    std::string from_alias;                   ///< empty when none
    std::vector<JoinClause> joins;
    std::optional<MatchPattern> match;        ///< FROM DIGITALTWINS MATCH ...
    ExprPtr where;                            ///< null when none
    std::vector<ExprPtr> group_by;
    std::vector<OrderKey> order_by;
    std::string text;                         ///< the query as given
};

}  // namespace twinsim::query
