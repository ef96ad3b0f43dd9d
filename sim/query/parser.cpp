// A recursive-descent parser over the token vector of lexer.hpp.
//
// Grammar (keywords case-insensitive; names case-sensitive):
//   query   := SELECT [TOP '(' int ')'] [select] FROM source join* [WHERE expr]
//              [GROUP BY expr, ...] [ORDER BY expr [ASC|DESC], ...]
//   select  := '*' | item (',' item)*        item := expr [AS name]
//              (SELECT TOP(n) FROM ... without a list means SELECT TOP(n) *)
//   source  := DIGITALTWINS [[AS] alias] | DIGITALTWINS MATCH pattern | RELATIONSHIPS [[AS] alias]
//   join    := JOIN alias RELATED alias '.' name [alias]
//   pattern := node (edge node)*              node := '(' [alias] ')'
//   edge    := '-' [cond] '->' | '<-' [cond] '-' | '-' [cond] '-'
//   cond    := '[' [var] [':' name ('|' name)*] ['*' (n | n '..' m | '..' m)] ']'
//   expr    := and (OR and)*                  and := not (AND not)*
//   not     := NOT not | cmp
//   cmp     := operand [op operand | IN list | NIN list | NOT IN list]
//   operand := literal | '-' number | path | function '(' args ')' | aggregate | '(' expr ')'
//   path    := segment ('.' segment)*         segment := name | $name | [[escaped]]
// NOT applies to a whole comparison (`NOT a = b` is `NOT (a = b)`), as in SQL.
#include "twinsim/query/parser.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "twinsim/query/lexer.hpp"

namespace twinsim::query {

namespace {

char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = to_upper(c);
    return out;
}

bool equals_upper(std::string_view text, std::string_view upper_word) {
    if (text.size() != upper_word.size()) return false;
    for (std::size_t k = 0; k < text.size(); ++k) {
        if (to_upper(text[k]) != upper_word[k]) return false;
    }
    return true;
}

// ADT's reserved keywords (plus the names of our own clauses and aggregates).
// A reserved word cannot be an alias or the first segment of a path unless
// escaped as [[word]]; after a '.' any name is a property name.
constexpr std::array<std::string_view, 63> reserved_words = {
    "ALL",     "AND",     "AS",       "ASC",       "AVG",          "BETWEEN", "BY",     "COUNT",
    "DESC",    "DEVICES", "DEVICES_JOBS", "DEVICES_MODULES", "DIGITALTWINS", "DISTINCT", "ELSE", "ENDS_WITH",
    "ESCAPE",  "EXISTS",  "FALSE",    "FETCH",     "FIRST",        "FROM",    "GROUP",  "HAVING",
    "IN",      "INNER",   "INSERT",   "INTO",      "IS",           "JOIN",    "LEFT",   "LIKE",
    "LIMIT",   "MATCH",   "MAX",      "MIN",       "NIN",          "NOT",     "NULL",   "OFFSET",
    "ON",      "OR",      "ORDER",    "OUTER",     "RELATED",      "RELATIONSHIPS", "RIGHT", "SELECT",
    "SET",     "SOME",    "STARTS_WITH", "SUM",    "THEN",         "TOP",     "TRUE",   "UDF",
    "UNDEFINED", "UNION", "UPDATE",   "VALUE",     "WHEN",         "WHERE",   "WITH",
};

bool is_reserved(std::string_view word) {
    if (word.size() > 16) return false;
    std::array<char, 16> buf{};
    for (std::size_t k = 0; k < word.size(); ++k) buf[k] = to_upper(word[k]);
    const std::string_view up(buf.data(), word.size());
    return std::find(reserved_words.begin(), reserved_words.end(), up) != reserved_words.end();
}

struct FunctionSpec {
    std::string_view name;
    std::size_t args;
};

// IS_OF_MODEL is handled on its own (optional alias, optional `exact`).
constexpr std::array<FunctionSpec, 12> functions = {{
    {"IS_DEFINED", 1},
    {"IS_NULL", 1},
    {"IS_BOOL", 1},
    {"IS_NUMBER", 1},
    {"IS_STRING", 1},
    {"IS_OBJECT", 1},
    {"IS_PRIMITIVE", 1},
    {"STARTSWITH", 2},
    {"ENDSWITH", 2},
    {"CONTAINS", 2},
    {"ARRAY_CONTAINS", 2},
    {"IS_OF_MODEL", 0},
}};

const FunctionSpec* find_function(std::string_view upper_name) {
    for (const auto& f : functions) {
        if (f.name == upper_name) return &f;
    }
    return nullptr;
}

std::optional<Aggregate> find_aggregate(std::string_view upper_name) {
    if (upper_name == "COUNT") return Aggregate::count;
    if (upper_name == "SUM") return Aggregate::sum;
    if (upper_name == "AVG") return Aggregate::avg;
    if (upper_name == "MIN") return Aggregate::min;
    if (upper_name == "MAX") return Aggregate::max;
    return std::nullopt;
}

ExprPtr make(ExprKind kind, SourcePos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
}

// Concatenation without `"literal" + std::string` (GCC 12 -O3 warns falsely on it).
template <typename... Parts>
std::string cat(const Parts&... parts) {
    std::string out;
    (out.append(std::string_view(parts)), ...);
    return out;
}

std::string in_quotes(std::string_view s) {
    std::string out = "'";
    out += s;
    out += '\'';
    return out;
}

enum class Context : std::uint8_t { where, select, group_by, order_by };

// The height of a syntax tree (a leaf is 1). The parser keeps every tree within
// max_expression_depth, so this recursion is bounded.
std::uint32_t height(const Expr& e) {
    std::uint32_t below = 0;
    for (const ExprPtr& a : e.args) below = std::max(below, height(*a));
    return below + 1;
}

[[noreturn]] void fail_too_deep(SourcePos pos) {
    std::string message = "expression nests deeper than the limit of ";
    message += std::to_string(max_expression_depth);
    message += " levels (parentheses, NOT, function arguments and chained AND/OR each add one)";
    throw_syntax_error(pos, message, {}, "a shallower expression");
}

class Parser {
public:
    explicit Parser(std::string_view text, Dialect dialect = Dialect::query) : tokens_(tokenize(text)), dialect_(dialect) {}

    Query query(std::string_view text) {
        Query q;
        q.text = std::string(text);
        expect_keyword("SELECT");
        parse_select(q);
        expect_keyword("FROM");
        parse_from(q);
        while (at_keyword("JOIN")) parse_join(q);
        if (accept_keyword("WHERE")) q.where = expression(Context::where);
        if (at_keyword("GROUP")) {
            take();
            expect_keyword("BY");
            do {
                q.group_by.push_back(expression(Context::group_by));
            } while (accept(TokenKind::comma));
        }
        if (at_keyword("ORDER")) {
            take();
            expect_keyword("BY");
            do {
                OrderKey key;
                key.expr = expression(Context::order_by);
                if (accept_keyword("DESC")) {
                    key.descending = true;
                } else {
                    (void)accept_keyword("ASC");
                }
                q.order_by.push_back(std::move(key));
            } while (accept(TokenKind::comma));
        }
        if (peek().kind != TokenKind::end) fail_expected(trailing_expectation(q));
        check_structure(q);
        return q;
    }

    ExprPtr standalone() {
        ExprPtr e = expression(Context::where);
        if (peek().kind != TokenKind::end) fail_expected("AND, OR or end of expression");
        return e;
    }

private:
    // ---- token access -------------------------------------------------------
    [[nodiscard]] const Token& peek(std::size_t k = 0) const {
        return tokens_[std::min(i_ + k, tokens_.size() - 1)];
    }
    const Token& take() {
        const Token& t = tokens_[i_];
        if (i_ + 1 < tokens_.size()) ++i_;
        return t;
    }
    [[nodiscard]] bool at_keyword(std::string_view kw, std::size_t k = 0) const {
        const Token& t = peek(k);
        return t.kind == TokenKind::identifier && equals_upper(t.text, kw);
    }
    bool accept_keyword(std::string_view kw) {
        if (!at_keyword(kw)) return false;
        take();
        return true;
    }
    void expect_keyword(std::string_view kw) {
        if (!accept_keyword(kw)) fail_expected(std::string(kw));
    }
    bool accept(TokenKind kind) {
        if (peek().kind != kind) return false;
        take();
        return true;
    }
    const Token& expect(TokenKind kind, std::string_view what) {
        if (peek().kind != kind) fail_expected(what);
        return take();
    }

    [[noreturn]] void fail_expected(std::string_view what) const { fail_expected(what, peek()); }
    [[noreturn]] static void fail_expected(std::string_view what, const Token& found) {
        std::string message = "expected ";
        message += what;
        message += " but found ";
        message += describe(found);
        throw_syntax_error(found.pos, message, found.kind == TokenKind::end ? std::string() : std::string(found.text),
                           std::string(what));
    }
    [[noreturn]] static void fail_at(const Token& at, std::string_view message, std::string_view expected = {}) {
        throw_syntax_error(at.pos, message, at.kind == TokenKind::end ? std::string() : std::string(at.text),
                           std::string(expected));
    }

    // ---- names --------------------------------------------------------------
    [[nodiscard]] bool at_alias() const {
        const Token& t = peek();
        return t.kind == TokenKind::escaped_name || (t.kind == TokenKind::identifier && !is_reserved(t.text));
    }
    std::string alias(std::string_view what) {
        const Token& t = peek();
        if (t.kind == TokenKind::identifier && is_reserved(t.text)) {
            std::string message = in_quotes(t.text);
            message += " is a reserved word; write [[";
            message += t.text;
            message += "]] to use it as ";
            message += what;
            fail_at(t, message, what);
        }
        if (!at_alias()) fail_expected(what);
        take();
        return t.kind == TokenKind::escaped_name ? t.value : std::string(t.text);
    }
    // A name after '.', ':' or '|': any identifier, keywords included.
    std::string member_name(std::string_view what) {
        const Token& t = peek();
        if (t.kind == TokenKind::identifier) return std::string(take().text);
        if (t.kind == TokenKind::escaped_name) return take().value;
        fail_expected(what);
    }

    // ---- SELECT -------------------------------------------------------------
    void parse_select(Query& q) {
        if (at_keyword("TOP")) {
            take();
            expect(TokenKind::lparen, "'(' after TOP");
            const Token& n = peek();
            if (n.kind != TokenKind::number) fail_expected("a positive integer in TOP(n)");
            std::uint64_t value = 0;
            const auto* first = n.text.data();
            const auto* last = first + n.text.size();
            const auto [end, ec] = std::from_chars(first, last, value);
            if (ec != std::errc() || end != last || value == 0) fail_expected("a positive integer in TOP(n)");
            take();
            q.top = value;
            expect(TokenKind::rparen, "')' after TOP(n");
            if (at_keyword("FROM")) {  // ADT: SELECT TOP(5) FROM DIGITALTWINS
                q.select.push_back(star_item(peek()));
                return;
            }
        }
        if (peek().kind == TokenKind::star) {
            q.select.push_back(star_item(take()));
            if (!at_keyword("FROM")) fail_expected("FROM");
            return;
        }
        do {
            SelectItem item;
            item.pos = peek().pos;
            item.expr = expression(Context::select);
            if (accept_keyword("AS")) item.as = member_name("a name after AS");
            q.select.push_back(std::move(item));
        } while (accept(TokenKind::comma));
        if (!at_keyword("FROM")) {
            // A clause keyword here means FROM was forgotten; say just that.
            const Token& t = peek();
            if (t.kind == TokenKind::identifier && is_reserved(t.text)) fail_expected("FROM");
            fail_expected(q.select.back().as.empty() ? "AS, ',' or FROM" : "',' or FROM");
        }
    }

    static SelectItem star_item(const Token& at) {
        SelectItem item;
        item.pos = at.pos;
        item.expr = make(ExprKind::star, at.pos);
        return item;
    }

    // ---- FROM / MATCH / JOIN ------------------------------------------------
    void parse_from(Query& q) {
        if (accept_keyword("DIGITALTWINS")) {
            q.from = FromKind::digital_twins;
            if (at_keyword("MATCH")) {
                take();
                q.match = pattern();
                return;
            }
        } else if (accept_keyword("RELATIONSHIPS")) {
            q.from = FromKind::relationships;
        } else {
            fail_expected("DIGITALTWINS or RELATIONSHIPS");
        }
        if (accept_keyword("AS")) {
            q.from_alias = alias("an alias after AS");
        } else if (at_alias()) {
            q.from_alias = alias("an alias");
        }
    }

    void parse_join(Query& q) {
        JoinClause j;
        j.pos = take().pos;  // JOIN
        j.alias = alias("an alias after JOIN");
        expect_keyword("RELATED");
        j.source_alias = alias("<alias>.<relationship name> after RELATED");
        expect(TokenKind::dot, "'.' and a relationship name after the alias");
        j.relationship_name = member_name("a relationship name");
        if (at_alias()) j.relationship_alias = alias("a relationship alias");
        q.joins.push_back(std::move(j));
    }

    MatchPattern pattern() {
        MatchPattern p;
        p.pos = peek().pos;
        p.nodes.push_back(node());
        for (;;) {
            const Token& t = peek();
            if (t.kind == TokenKind::lt) {
                take();
                expect(TokenKind::minus, "'-' after '<' (a relationship <-[...]-)");
                MatchEdge e = edge_condition(t.pos);
                e.direction = EdgeDirection::backward;
                expect(TokenKind::minus, "'-' to close <-[...]-");
                p.edges.push_back(std::move(e));
            } else if (t.kind == TokenKind::minus) {
                take();
                MatchEdge e = edge_condition(t.pos);
                expect(TokenKind::minus, "'-' after ']' (-[...]-> or -[...]-)");
                e.direction = accept(TokenKind::gt) ? EdgeDirection::forward : EdgeDirection::undirected;
                p.edges.push_back(std::move(e));
            } else {
                break;
            }
            p.nodes.push_back(node());
        }
        return p;
    }

    std::string node() {
        expect(TokenKind::lparen, p_nodes_expectation());
        std::string name;
        if (at_alias() || (peek().kind == TokenKind::identifier && is_reserved(peek().text))) name = alias("a twin alias");
        expect(TokenKind::rparen, "')' to close the twin");
        return name;
    }
    static constexpr std::string_view p_nodes_expectation() { return "'(' and a twin alias"; }

    // The bracketed condition of an edge; absent brackets mean one hop of any name.
    MatchEdge edge_condition(SourcePos pos) {
        MatchEdge e;
        e.pos = pos;
        if (!accept(TokenKind::lbracket)) return e;
        if (at_alias()) e.variable = alias("a relationship variable");
        if (accept(TokenKind::colon)) {
            do {
                e.names.push_back(member_name("a relationship name"));
            } while (accept(TokenKind::pipe));
        }
        if (peek().kind == TokenKind::star) hops(take(), e);
        if (peek().kind != TokenKind::rbracket) {
            std::string what;
            if (e.variable.empty() && e.names.empty()) what = "a relationship variable, ':', '*' or ']'";
            else if (e.names.empty() && e.min_hops == 1 && e.max_hops == 1) what = "':', '*' or ']'";
            else if (e.min_hops == 1 && e.max_hops == 1) what = "'|', '*' or ']'";
            else what = "']'";
            fail_expected(what);
        }
        take();
        if (!e.variable.empty() && e.max_hops != 1) {
            std::string message = "relationship variable ";
            message += in_quotes(e.variable);
            message += " needs a single hop; drop the variable or the hop count";
            throw_syntax_error(pos, message, e.variable, "a single hop");
        }
        return e;
    }

    std::uint32_t hop_count() {
        const Token& t = peek();
        if (t.kind != TokenKind::number) fail_expected("a hop count");
        std::uint32_t n = 0;
        const auto* first = t.text.data();
        const auto* last = first + t.text.size();
        const auto [end, ec] = std::from_chars(first, last, n);
        if (ec != std::errc() || end != last) fail_expected("a whole hop count");
        take();
        return n;
    }

    // `*n` exactly n hops; `*..m` 1 to m hops; `*n..m` more than n and at most m
    // hops (ADT documents the lower bound of a range as exclusive).
    void hops(const Token& star, MatchEdge& e) {
        if (peek().kind == TokenKind::dotdot) {
            take();
            e.min_hops = 1;
            e.max_hops = hop_count();
        } else if (peek().kind == TokenKind::number) {
            const std::uint32_t n = hop_count();
            if (accept(TokenKind::dotdot)) {
                const Token& m_tok = peek();
                const std::uint32_t m = hop_count();
                if (n >= m) {
                    std::string text = "*";
                    text += std::to_string(n);
                    text += "..";
                    text += std::to_string(m);
                    std::string message = "hop range ";
                    message += text;
                    message += " is empty: the lower bound is exclusive, so it must be below the upper bound";
                    throw_syntax_error(m_tok.pos, message, text, "an upper bound above the lower bound");
                }
                e.min_hops = n + 1;
                e.max_hops = m;
            } else {
                e.min_hops = e.max_hops = n;
            }
        } else {
            fail_expected("a hop count after '*' (*n, *n..m or *..m)");
        }
        if (e.max_hops == 0) fail_at(star, "a hop count must be at least 1", "a positive hop count");
    }

    // ---- expressions ----------------------------------------------------------
    // Counts the recursive descents (parentheses, NOT, arguments) in progress, so
    // that `((((...` or `NOT NOT NOT ...` cannot exhaust the stack.
    class Descent {
    public:
        Descent(Parser& p, SourcePos pos) : p_(p) {
            if (++p_.depth_ > max_expression_depth) fail_too_deep(pos);
        }
        ~Descent() { --p_.depth_; }
        Descent(const Descent&) = delete;
        Descent& operator=(const Descent&) = delete;
        Descent(Descent&&) = delete;
        Descent& operator=(Descent&&) = delete;

    private:
        Parser& p_;
    };

    ExprPtr expression(Context ctx) {
        const Descent guard(*this, peek().pos);
        ExprPtr left = and_expr(ctx);
        while (at_keyword("OR")) {
            const SourcePos pos = take().pos;
            left = binary(BinaryOp::or_, std::move(left), and_expr(ctx), pos);
        }
        return left;
    }

    ExprPtr and_expr(Context ctx) {
        ExprPtr left = not_expr(ctx);
        while (at_keyword("AND")) {
            const SourcePos pos = take().pos;
            left = binary(BinaryOp::and_, std::move(left), not_expr(ctx), pos);
        }
        return left;
    }

    ExprPtr not_expr(Context ctx) {
        if (at_keyword("NOT")) {
            const SourcePos pos = take().pos;
            const Descent guard(*this, pos);
            ExprPtr e = make(ExprKind::not_, pos);
            e->args.push_back(not_expr(ctx));
            if (height(*e) > max_expression_depth) fail_too_deep(pos);
            return e;
        }
        return comparison(ctx);
    }

    // A left-deep chain `a AND b AND c ...` grows the tree one level per operator
    // without any recursion in the parser, so the height is checked here (the
    // children are already within the limit, so height() stays bounded).
    static ExprPtr binary(BinaryOp op, ExprPtr l, ExprPtr r, SourcePos pos) {
        if (std::max(height(*l), height(*r)) + 1 > max_expression_depth) fail_too_deep(pos);
        ExprPtr e = make(ExprKind::binary, pos);
        e->op = op;
        e->args.push_back(std::move(l));
        e->args.push_back(std::move(r));
        return e;
    }

    ExprPtr comparison(Context ctx) {
        ExprPtr left = operand(ctx);
        const Token& t = peek();
        std::optional<BinaryOp> op;
        switch (t.kind) {
        case TokenKind::eq: op = BinaryOp::eq; break;
        case TokenKind::ne: op = BinaryOp::ne; break;
        case TokenKind::lt: op = BinaryOp::lt; break;
        case TokenKind::gt: op = BinaryOp::gt; break;
        case TokenKind::le: op = BinaryOp::le; break;
        case TokenKind::ge: op = BinaryOp::ge; break;
        default: break;
        }
        if (op) {
            take();
            return binary(*op, std::move(left), operand(ctx), t.pos);
        }
        bool negated = false;
        if (at_keyword("IN")) {
        } else if (at_keyword("NIN")) {
            negated = true;
        } else if (at_keyword("NOT") && at_keyword("IN", 1)) {
            negated = true;
            take();
        } else {
            return left;
        }
        const SourcePos pos = take().pos;
        ExprPtr e = make(ExprKind::in_list, pos);
        e->negated = negated;
        e->args.push_back(std::move(left));
        e->literal = literal_list();
        return e;
    }

    nlohmann::json literal_list() {
        expect(TokenKind::lbracket, "'[' to start the list");
        nlohmann::json list = nlohmann::json::array();
        if (accept(TokenKind::rbracket)) return list;
        do {
            std::optional<nlohmann::json> v = literal_value();
            if (!v) fail_expected("a string, number, true, false or null in the list");
            list.push_back(std::move(*v));
        } while (accept(TokenKind::comma));
        expect(TokenKind::rbracket, "',' or ']'");
        return list;
    }

    // A literal at the current token (consumed), or nullopt (nothing consumed).
    std::optional<nlohmann::json> literal_value() {
        const Token& t = peek();
        switch (t.kind) {
        case TokenKind::string: take(); return nlohmann::json(t.value);
        case TokenKind::number: take(); return number(t, false);
        case TokenKind::minus: {
            take();
            const Token& n = peek();
            if (n.kind != TokenKind::number) fail_expected("a number after '-'");
            take();
            return number(n, true);
        }
        case TokenKind::identifier:
            if (equals_upper(t.text, "TRUE")) return take(), nlohmann::json(true);
            if (equals_upper(t.text, "FALSE")) return take(), nlohmann::json(false);
            if (equals_upper(t.text, "NULL")) return take(), nlohmann::json(nullptr);
            return std::nullopt;
        default: return std::nullopt;
        }
    }

    // Integers stay integers (int64, or uint64 above its range); anything with a
    // fraction or exponent, or beyond 64 bits, is a double.
    static nlohmann::json number(const Token& t, bool negative) {
        const auto* first = t.text.data();
        const auto* last = first + t.text.size();
        const bool integral = t.text.find_first_of(".eE") == std::string_view::npos;
        if (integral) {
            std::uint64_t u = 0;
            const auto [end, ec] = std::from_chars(first, last, u);
            if (ec == std::errc() && end == last) {
                constexpr auto max_pos = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
                if (!negative && u <= max_pos) return nlohmann::json(static_cast<std::int64_t>(u));
                if (!negative) return nlohmann::json(u);
                if (u <= max_pos + 1) {
                    return nlohmann::json(u == max_pos + 1 ? std::numeric_limits<std::int64_t>::min()
                                                           : -static_cast<std::int64_t>(u));
                }
            }
        }
        double d = 0;
        const auto [end, ec] = std::from_chars(first, last, d);
        if (end != last || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
            fail_at(t, cat("malformed number ", in_quotes(t.text)), "a number");
        }
        return nlohmann::json(negative ? -d : d);
    }

    ExprPtr operand(Context ctx) {
        const Token& t = peek();
        if (t.kind == TokenKind::lparen) {
            take();
            ExprPtr e = expression(ctx);
            expect(TokenKind::rparen, "')'");
            return e;
        }
        if (t.kind == TokenKind::escaped_name) return path();
        if (t.kind == TokenKind::identifier && peek(1).kind == TokenKind::lparen) return call(ctx);
        if (auto v = literal_value()) {
            ExprPtr e = make(ExprKind::literal, t.pos);
            e->literal = std::move(*v);
            return e;
        }
        if (t.kind == TokenKind::identifier && !is_reserved(t.text)) return path();
        if (t.kind == TokenKind::lbracket) {
            fail_at(t, "a list is only allowed after IN or NIN", "a value, a property path or a function call");
        }
        fail_expected("a value, a property path or a function call");
    }

    ExprPtr path() {
        ExprPtr e = make(ExprKind::path, peek().pos);
        const Token& first = take();
        e->path.push_back(first.kind == TokenKind::escaped_name ? first.value : std::string(first.text));
        while (accept(TokenKind::dot)) e->path.push_back(member_name("a property name after '.'"));
        return e;
    }

    ExprPtr call(Context ctx) {
        const Token& name_tok = take();
        const std::string name = upper(name_tok.text);
        take();  // '('
        if (dialect_ == Dialect::route_filter) return route_filter_call(name_tok, name, ctx);
        if (const auto agg = find_aggregate(name)) return aggregate(ctx, name_tok, name, *agg);
        const FunctionSpec* spec = find_function(name);
        if (spec == nullptr) {
            std::string message = "unknown function ";
            message += in_quotes(name_tok.text);
            message += " (functions: IS_OF_MODEL, IS_DEFINED, IS_NULL, IS_BOOL, IS_NUMBER, IS_STRING, IS_OBJECT, "
                       "IS_PRIMITIVE, STARTSWITH, ENDSWITH, CONTAINS, ARRAY_CONTAINS; aggregates: COUNT, SUM, AVG, "
                       "MIN, MAX)";
            fail_at(name_tok, message, "a function name");
        }
        ExprPtr e = make(ExprKind::call, name_tok.pos);
        e->function = name;
        const Context arg_ctx = ctx == Context::select || ctx == Context::order_by ? Context::group_by : ctx;
        if (peek().kind != TokenKind::rparen) {
            do {
                if (name == "IS_OF_MODEL" && at_keyword("EXACT") && peek(1).kind == TokenKind::rparen) {
                    take();
                    e->exact = true;
                    break;
                }
                e->args.push_back(expression(arg_ctx));
            } while (accept(TokenKind::comma));
        }
        if (peek().kind != TokenKind::rparen) fail_expected("',' or ')'");
        const Token& close = take();
        if (height(*e) > max_expression_depth) fail_too_deep(name_tok.pos);
        if (name == "IS_OF_MODEL") {
            check_is_of_model(*e, name_tok, close);
        } else if (e->args.size() != spec->args) {
            std::string message = name;
            message += " takes ";
            message += std::to_string(spec->args);
            message += spec->args == 1 ? " argument" : " arguments";
            message += " but was given ";
            message += std::to_string(e->args.size());
            fail_at(name_tok, message, std::to_string(spec->args) + " arguments");
        }
        return e;
    }

    // ADT's route-filter functions, each read as the evaluator's function of
    // the same meaning (STARTS_WITH is STARTSWITH).
    ExprPtr route_filter_call(const Token& name_tok, const std::string& name, Context ctx) {
        struct RouteFunction {
            std::string_view name;
            std::string_view evaluator;
            std::size_t args;
        };
        static constexpr std::array<RouteFunction, 4> route_functions = {{
            {"STARTS_WITH", "STARTSWITH", 2},
            {"ENDS_WITH", "ENDSWITH", 2},
            {"CONTAINS", "CONTAINS", 2},
            {"IS_DEFINED", "IS_DEFINED", 1},
        }};
        const RouteFunction* spec = nullptr;
        for (const auto& f : route_functions)
            if (f.name == name) spec = &f;
        if (spec == nullptr) {
            std::string message;
            if (name == "STARTSWITH" || name == "ENDSWITH") {
                message = name;
                message += " is the query language's spelling: route filters write ";
                message += name == "STARTSWITH" ? "STARTS_WITH" : "ENDS_WITH";
            } else {
                message = "unknown function ";
                message += in_quotes(name_tok.text);
                message += " (route filters know STARTS_WITH, ENDS_WITH, CONTAINS, IS_DEFINED)";
            }
            fail_at(name_tok, message, "a route-filter function");
        }
        ExprPtr e = make(ExprKind::call, name_tok.pos);
        e->function = std::string(spec->evaluator);
        if (peek().kind != TokenKind::rparen) {
            do {
                e->args.push_back(expression(ctx));
            } while (accept(TokenKind::comma));
        }
        if (peek().kind != TokenKind::rparen) fail_expected("',' or ')'");
        take();
        if (height(*e) > max_expression_depth) fail_too_deep(name_tok.pos);
        if (e->args.size() != spec->args) {
            std::string message(spec->name);
            message += " takes ";
            message += std::to_string(spec->args);
            message += spec->args == 1 ? " argument" : " arguments";
            message += " but was given ";
            message += std::to_string(e->args.size());
            fail_at(name_tok, message, std::to_string(spec->args) + " arguments");
        }
        return e;
    }

    static void check_is_of_model(const Expr& e, const Token& name_tok, const Token& close) {
        const auto& a = e.args;
        const bool ok = (a.size() == 1 && a[0]->kind == ExprKind::literal && a[0]->literal.is_string()) ||
                        (a.size() == 2 && a[0]->kind == ExprKind::path && a[1]->kind == ExprKind::literal &&
                         a[1]->literal.is_string());
        if (!ok) {
            fail_at(a.empty() ? close : name_tok,
                    "IS_OF_MODEL takes an optional alias, a model id string and optionally exact: "
                    "IS_OF_MODEL([alias,] 'dtmi:...;1'[, exact])",
                    "IS_OF_MODEL([alias,] 'dtmi', [exact])");
        }
    }

    ExprPtr aggregate(Context ctx, const Token& name_tok, const std::string& name, Aggregate agg) {
        if (ctx != Context::select && ctx != Context::order_by) {
            std::string message = "aggregate ";
            message += name;
            message += ctx == Context::group_by ? " cannot be nested or used in GROUP BY"
                                                : " is only allowed in SELECT and ORDER BY";
            fail_at(name_tok, message, "a value, a property path or a function call");
        }
        ExprPtr e = make(ExprKind::aggregate, name_tok.pos);
        e->aggregate = agg;
        if (agg == Aggregate::count) {
            (void)accept(TokenKind::star);  // COUNT(*) is COUNT()
            expect(TokenKind::rparen, "')' (COUNT() counts rows and takes no argument)");
            return e;
        }
        e->args.push_back(expression(Context::group_by));
        expect(TokenKind::rparen, "')'");
        return e;
    }

    // ---- whole-query rules ----------------------------------------------------
    [[nodiscard]] static std::string trailing_expectation(const Query& q) {
        if (!q.order_by.empty()) return "',' or end of query";
        if (!q.group_by.empty()) return "',', ORDER BY or end of query";
        if (q.where) return "AND, OR, GROUP BY, ORDER BY or end of query";
        if (q.match) return "a relationship, WHERE, GROUP BY, ORDER BY or end of query";
        return "JOIN, WHERE, GROUP BY, ORDER BY or end of query";
    }

    void check_structure(const Query& q) const {
        const bool star = q.select.size() == 1 && q.select[0].expr->kind == ExprKind::star;
        if (!q.joins.empty()) {
            const JoinClause& first = q.joins.front();
            const Token at{TokenKind::identifier, "JOIN", {}, first.pos};
            if (q.from == FromKind::relationships) fail_at(at, "JOIN cannot follow FROM RELATIONSHIPS", "WHERE");
            if (q.match) fail_at(at, "JOIN cannot be combined with MATCH; add steps to the MATCH pattern", "WHERE");
            if (star) {
                const Token star_tok{TokenKind::star, "*", {}, q.select[0].pos};
                fail_at(star_tok, "SELECT * cannot be combined with JOIN; select the aliases to return instead",
                        "the aliases to return");
            }
            if (q.from_alias.empty()) {
                fail_at(at, "JOIN needs an alias on FROM DIGITALTWINS (FROM DIGITALTWINS T JOIN ...)",
                        "an alias after DIGITALTWINS");
            }
            std::vector<std::string_view> known = {q.from_alias};
            for (const JoinClause& j : q.joins) {
                const Token jt{TokenKind::identifier, "JOIN", {}, j.pos};
                if (std::find(known.begin(), known.end(), j.source_alias) == known.end()) {
                    std::string message = "JOIN ";
                    message += j.alias;
                    message += " RELATED ";
                    message += j.source_alias;
                    message += ".";
                    message += j.relationship_name;
                    message += ": unknown alias ";
                    message += in_quotes(j.source_alias);
                    fail_at(jt, message, "an alias defined earlier");
                }
                for (const std::string* name : {&j.alias, &j.relationship_alias}) {
                    if (name->empty()) continue;
                    if (std::find(known.begin(), known.end(), *name) != known.end()) {
                        fail_at(jt, cat("alias ", in_quotes(*name), " is defined twice"), "a new alias");
                    }
                    known.emplace_back(*name);
                }
            }
        }
        if (q.match) {
            std::vector<std::string_view> known;
            auto add = [&](const std::string& name, SourcePos pos) {
                if (name.empty()) return;
                if (std::find(known.begin(), known.end(), name) != known.end()) {
                    const Token at{TokenKind::identifier, name, {}, pos};
                    fail_at(at, cat("alias ", in_quotes(name), " is used twice in the MATCH pattern"), "a new alias");
                }
                known.emplace_back(name);
            };
            add(q.match->nodes[0], q.match->pos);
            for (std::size_t k = 0; k < q.match->edges.size(); ++k) {
                add(q.match->edges[k].variable, q.match->edges[k].pos);
                add(q.match->nodes[k + 1], q.match->edges[k].pos);
            }
        }
    }

    std::vector<Token> tokens_;
    Dialect dialect_ = Dialect::query;
    std::size_t i_ = 0;
    std::uint32_t depth_ = 0;
};

}  // namespace

Query parse_query(std::string_view text) { return Parser(text).query(text); }

ExprPtr parse_expression(std::string_view text, Dialect dialect) { return Parser(text, dialect).standalone(); }

}  // namespace twinsim::query
