#include "twinsim/live/route_filter.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "twinsim/query/expression.hpp"
#include "twinsim/query/lexer.hpp"
#include "twinsim/query/parser.hpp"

namespace twinsim::live {

namespace {

// The CloudEvents attributes of twinsim's notifications a filter may read.
constexpr std::array<std::string_view, 12> attributes = {
    "id",      "source",   "specversion", "type",       "datacontenttype",     "dataschema",
    "subject", "time",     "traceparent", "sequence",   "telemetrysourcetime", "twinsimcause",
};

std::string attribute_list() {
    std::string out;
    for (std::string_view a : attributes) {
        out += a;
        out += ", ";
    }
    out += "$body.<path>";
    return out;
}

[[noreturn]] void fail(const query::SourcePos& pos, const std::string& why) {
    throw RouteFilterError("route filter, line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) +
                               ": " + why,
                           pos.line, pos.column);
}

// Checks the names against the event's attributes and rewrites `$body` into
// the event's `data` (the parser's route-filter dialect has already checked
// the functions and named them as the evaluator does).
void check(query::Expr& e, std::uint32_t depth) {
    if (depth > max_route_filter_depth)
        fail(e.pos, "nested deeper than " + std::to_string(max_route_filter_depth) +
                        " levels (parentheses, NOT, function arguments and chained AND/OR each add one)");
    switch (e.kind) {
    case query::ExprKind::path: {
        if (e.path.empty()) fail(e.pos, "empty name");
        const std::string& first = e.path.front();
        if (first == "$body") {
            e.path.front() = "data";
        } else if (std::find(attributes.begin(), attributes.end(), first) == attributes.end()) {
            fail(e.pos, "unknown event attribute '" + first + "' (a filter reads " + attribute_list() + ")");
        } else if (e.path.size() > 1) {
            fail(e.pos, "'" + first + "' is a plain attribute: only $body has members ($body." + e.path[1] + ")");
        }
        return;
    }
    case query::ExprKind::aggregate:
    case query::ExprKind::star: fail(e.pos, "aggregates and '*' have no meaning in a route filter");
    default: break;
    }
    for (auto& a : e.args)
        if (a) check(*a, depth + 1);
}

}  // namespace

RouteFilter RouteFilter::parse(std::string_view text) {
    if (text.size() > max_route_filter_length)
        throw RouteFilterError("route filter: " + std::to_string(text.size()) + " bytes, longer than the limit of " +
                                   std::to_string(max_route_filter_length),
                               1, 1);
    if (std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }))
        throw RouteFilterError("route filter: empty (write `true` to route every event, `false` to route none)", 1, 1);
    query::ExprPtr expr;
    try {
        // Parentheses leave no node of their own: count them on the tokens.
        std::uint32_t open = 0;
        for (const query::Token& t : query::tokenize(text)) {
            if (t.kind == query::TokenKind::lparen && ++open > max_route_filter_depth)
                fail(t.pos, "nested deeper than " + std::to_string(max_route_filter_depth) +
                                " levels (parentheses, NOT, function arguments and chained AND/OR each add one)");
            if (t.kind == query::TokenKind::rparen && open > 0) --open;
        }
        expr = query::parse_expression(text, query::Dialect::route_filter);
    } catch (const query::QueryError& e) {
        std::string why = e.what();
        // The parser's message starts with its own "line L, column C: ".
        if (why.starts_with("line ")) {
            if (auto colon = why.find(": "); colon != std::string::npos) why.erase(0, colon + 2);
        }
        fail(e.position(), why);
    }
    if (!expr) throw RouteFilterError("route filter: empty", 1, 1);
    check(*expr, 1);
    RouteFilter out;
    out.text_ = std::string(text);
    try {
        out.expr_ = std::make_shared<const query::CompiledExpression>(query::compile(*expr, query::Scope::single_document()));
    } catch (const query::QueryError& e) {
        std::string why = e.what();
        fail(e.position(), why);
    }
    return out;
}

bool RouteFilter::matches(const nlohmann::json& event) const {
    if (!expr_) return false;
    return query::test_document(*expr_, event) == query::Truth::true_;
}

}  // namespace twinsim::live
