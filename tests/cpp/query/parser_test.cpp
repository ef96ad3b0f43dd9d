// The query-language lexer and parser: every clause and function, ADT's
// documented example queries, precedence, MATCH forms and syntax errors with
// their exact positions.
#include <catch2/catch.hpp>

#include <string>

#include "twinsim/query/lexer.hpp"
#include "twinsim/query/parser.hpp"

using namespace twinsim::query;

namespace {

// A compact S-expression of an expression tree, so tests state the whole shape.
std::string show(const Expr& e) {
    auto list = [&](std::string head) {
        std::string out = "(";
        out += head;
        for (const auto& a : e.args) {
            out += ' ';
            out += show(*a);
        }
        if (e.kind == ExprKind::in_list) {
            out += ' ';
            out += e.literal.dump();
        }
        if (e.exact) out += " exact";
        out += ')';
        return out;
    };
    switch (e.kind) {
    case ExprKind::literal: return e.literal.dump();
    case ExprKind::path: {
        std::string out;
        for (const auto& s : e.path) {
            if (!out.empty()) out += '.';
            out += s;
        }
        return out;
    }
    case ExprKind::not_: return list("NOT");
    case ExprKind::binary: {
        constexpr const char* ops[] = {"=", "!=", "<", ">", "<=", ">=", "AND", "OR"};
        return list(ops[static_cast<int>(e.op)]);
    }
    case ExprKind::in_list: return list(e.negated ? "NIN" : "IN");
    case ExprKind::call: return list(e.function);
    case ExprKind::aggregate: {
        constexpr const char* names[] = {"COUNT", "SUM", "AVG", "MIN", "MAX"};
        return list(names[static_cast<int>(e.aggregate)]);
    }
    case ExprKind::star: return "*";
    }
    return "?";
}

std::string where(const Query& q) { return q.where ? show(*q.where) : std::string("<none>"); }
std::string expr(std::string_view text) { return show(*parse_expression(text)); }

std::string select_list(const Query& q) {
    std::string out;
    for (const auto& item : q.select) {
        if (!out.empty()) out += ", ";
        out += show(*item.expr);
        if (!item.as.empty()) {
            out += " AS ";
            out += item.as;
        }
    }
    return out;
}

// The whole QueryError of a query that must fail.
struct Failure {
    std::string message;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    std::string token;
    std::string expected;
};

Failure failure_of(std::string_view text) {
    try {
        (void)parse_query(text);
    } catch (const QueryError& e) {
        return {e.what(), e.position().line, e.position().column, e.token(), e.expected()};
    }
    FAIL("no QueryError for: " << text);
    return {};
}

}  // namespace

TEST_CASE("SELECT * FROM DIGITALTWINS and FROM RELATIONSHIPS with and without aliases", "[query_parser]") {
    Query q = parse_query("SELECT * FROM DIGITALTWINS");
    CHECK(select_list(q) == "*");
    CHECK(q.from == FromKind::digital_twins);
    CHECK(q.from_alias.empty());
    CHECK_FALSE(q.top);
    CHECK(q.where == nullptr);
    CHECK(q.text == "SELECT * FROM DIGITALTWINS");

    CHECK(parse_query("SELECT * FROM DIGITALTWINS T").from_alias == "T");
    CHECK(parse_query("SELECT * FROM DIGITALTWINS AS T").from_alias == "T");
    CHECK(parse_query("SELECT * FROM DIGITALTWINS [[select]]").from_alias == "select");

    q = parse_query("SELECT * FROM RELATIONSHIPS R WHERE R.$sourceId = 'room1'");
    CHECK(q.from == FromKind::relationships);
    CHECK(q.from_alias == "R");
    CHECK(where(q) == R"((= R.$sourceId "room1"))");
}

TEST_CASE("keywords are case-insensitive, names and values are not", "[query_parser]") {
    Query q = parse_query("select top(2) t.Name as n from digitalTwins t where t.Name = 'Ab' and NOT is_defined(t.x) "
                          "Order By t.Name desc");
    CHECK(q.top == 2);
    CHECK(select_list(q) == "t.Name AS n");
    CHECK(q.from_alias == "t");
    CHECK(where(q) == R"((AND (= t.Name "Ab") (NOT (IS_DEFINED t.x))))");
    REQUIRE(q.order_by.size() == 1);
    CHECK(q.order_by[0].descending);
    CHECK(expr("x = TRUE or y = False or z = nUlL") == "(OR (OR (= x true) (= y false)) (= z null))");
}

TEST_CASE("SELECT TOP, COUNT, projections, aggregates and AS", "[query_parser]") {
    Query q = parse_query("SELECT TOP (5) FROM DIGITALTWINS");
    CHECK(q.top == 5);
    CHECK(select_list(q) == "*");

    CHECK(parse_query("SELECT TOP(3) * FROM DIGITALTWINS").top == 3);
    CHECK(select_list(parse_query("SELECT TOP(3) T FROM DIGITALTWINS T")) == "T");

    q = parse_query("SELECT COUNT() FROM DIGITALTWINS");
    REQUIRE(q.select.size() == 1);
    CHECK(q.select[0].expr->kind == ExprKind::aggregate);
    CHECK(q.select[0].expr->aggregate == Aggregate::count);
    CHECK(q.select[0].expr->args.empty());
    CHECK(select_list(parse_query("SELECT COUNT(*) AS n FROM DIGITALTWINS")) == "(COUNT) AS n");

    q = parse_query("SELECT T.$dtId, T.$metadata.$model AS model, T.a.b.c, $dtId FROM DIGITALTWINS T");
    CHECK(select_list(q) == "T.$dtId, T.$metadata.$model AS model, T.a.b.c, $dtId");
    CHECK(q.select[0].pos.column == 8);
    CHECK(q.select[1].pos.column == 17);

    q = parse_query("SELECT T.site, COUNT() AS n, SUM(T.power) AS total, AVG(T.temp), MIN(T.temp), MAX(T.temp) "
                    "FROM DIGITALTWINS T GROUP BY T.site ORDER BY AVG(T.temp) DESC, T.site");
    CHECK(select_list(q) ==
          "T.site, (COUNT) AS n, (SUM T.power) AS total, (AVG T.temp), (MIN T.temp), (MAX T.temp)");
    REQUIRE(q.group_by.size() == 1);
    CHECK(show(*q.group_by[0]) == "T.site");
    REQUIRE(q.order_by.size() == 2);
    CHECK(show(*q.order_by[0].expr) == "(AVG T.temp)");
    CHECK(q.order_by[0].descending);
    CHECK(show(*q.order_by[1].expr) == "T.site");
    CHECK_FALSE(q.order_by[1].descending);

    q = parse_query("SELECT T FROM DIGITALTWINS T ORDER BY T.a ASC, T.b DESC, T.c");
    CHECK_FALSE(q.order_by[0].descending);
    CHECK(q.order_by[1].descending);
    CHECK_FALSE(q.order_by[2].descending);

    // An expression as an item, and AS accepts a keyword as the output name.
    CHECK(select_list(parse_query("SELECT T.a > 5 AS hot, COUNT() AS count FROM DIGITALTWINS T GROUP BY T.a > 5")) ==
          "(> T.a 5) AS hot, (COUNT) AS count");
}

TEST_CASE("JOIN ... RELATED in chains, with relationship aliases", "[query_parser]") {
    Query q = parse_query("SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE T.$dtId = 'ABC'");
    REQUIRE(q.joins.size() == 1);
    CHECK(q.joins[0].alias == "CT");
    CHECK(q.joins[0].source_alias == "T");
    CHECK(q.joins[0].relationship_name == "contains");
    CHECK(q.joins[0].relationship_alias.empty());
    CHECK(q.joins[0].pos.column == 34);

    q = parse_query("SELECT LightBulb FROM DIGITALTWINS Room JOIN LightPanel RELATED Room.contains "
                    "JOIN LightBulb RELATED LightPanel.contains R2 WHERE Room.$dtId IN ['room1', 'room2']");
    REQUIRE(q.joins.size() == 2);
    CHECK(q.joins[1].alias == "LightBulb");
    CHECK(q.joins[1].source_alias == "LightPanel");
    CHECK(q.joins[1].relationship_alias == "R2");
    CHECK(where(q) == R"((IN Room.$dtId ["room1","room2"]))");
}

TEST_CASE("MATCH patterns: directions, names, alternatives, hops, variables, chains", "[query_parser]") {
    auto match = [](std::string_view text) {
        Query q = parse_query(text);
        REQUIRE(q.match);
        return *q.match;
    };
    MatchPattern p = match("SELECT a, b FROM DIGITALTWINS MATCH (a)-[:contains]->(b) WHERE a.$dtId = 'x'");
    REQUIRE(p.nodes == std::vector<std::string>{"a", "b"});
    REQUIRE(p.edges.size() == 1);
    CHECK(p.edges[0].direction == EdgeDirection::forward);
    CHECK(p.edges[0].names == std::vector<std::string>{"contains"});
    CHECK(p.edges[0].variable.empty());
    CHECK(p.edges[0].min_hops == 1);
    CHECK(p.edges[0].max_hops == 1);
    CHECK(p.edges[0].pos.column == 40);

    p = match("SELECT a FROM DIGITALTWINS MATCH (a)<-[r:feeds|serves]-(b)");
    CHECK(p.edges[0].direction == EdgeDirection::backward);
    CHECK(p.edges[0].variable == "r");
    CHECK(p.edges[0].names == std::vector<std::string>{"feeds", "serves"});

    p = match("SELECT a FROM DIGITALTWINS MATCH (a)-[r]-(b)");
    CHECK(p.edges[0].direction == EdgeDirection::undirected);
    CHECK(p.edges[0].variable == "r");
    CHECK(p.edges[0].names.empty());

    // Hop counts: *n exact; *..m from 1; *n..m with ADT's exclusive lower bound.
    p = match("SELECT a FROM DIGITALTWINS MATCH (a)-[*3]->(b)");
    CHECK((p.edges[0].min_hops == 3 && p.edges[0].max_hops == 3));
    p = match("SELECT a FROM DIGITALTWINS MATCH (a)-[:contains*..4]->(b)");
    CHECK((p.edges[0].min_hops == 1 && p.edges[0].max_hops == 4));
    p = match("SELECT a FROM DIGITALTWINS MATCH (a)-[*1..3]->(b)");
    CHECK((p.edges[0].min_hops == 2 && p.edges[0].max_hops == 3));
    p = match("SELECT a FROM DIGITALTWINS MATCH (a)-[*0..2]-(b)");
    CHECK((p.edges[0].min_hops == 1 && p.edges[0].max_hops == 2));

    // Empty brackets, no brackets, anonymous nodes, chains of several steps.
    p = match("SELECT a, c FROM DIGITALTWINS MATCH (a)-[]->()<-[:x]-(c)--(d)-->(e)<--(f)");
    REQUIRE(p.nodes == std::vector<std::string>{"a", "", "c", "d", "e", "f"});
    REQUIRE(p.edges.size() == 5);
    CHECK(p.edges[0].direction == EdgeDirection::forward);
    CHECK(p.edges[1].direction == EdgeDirection::backward);
    CHECK(p.edges[2].direction == EdgeDirection::undirected);
    CHECK(p.edges[3].direction == EdgeDirection::forward);
    CHECK(p.edges[4].direction == EdgeDirection::backward);

    // A single node, and whitespace anywhere.
    p = match("SELECT a FROM DIGITALTWINS MATCH (a) WHERE a.$dtId = 'x'");
    CHECK(p.nodes == std::vector<std::string>{"a"});
    CHECK(p.edges.empty());
    p = match("SELECT a FROM DIGITALTWINS MATCH ( a ) - [ r : x | y ] - > ( b )");
    CHECK(p.edges[0].names == std::vector<std::string>{"x", "y"});
    CHECK(p.edges[0].direction == EdgeDirection::forward);

    // Escaped names in patterns.
    p = match("SELECT a FROM DIGITALTWINS MATCH (a)-[[[r]]:[[from]]|x]->([[b]])");
    CHECK(p.edges[0].variable == "r");
    CHECK(p.edges[0].names == std::vector<std::string>{"from", "x"});
    CHECK(p.nodes[1] == "b");
}

TEST_CASE("WHERE operators and precedence: NOT > comparison/IN > AND > OR", "[query_parser]") {
    CHECK(expr("a = 1") == "(= a 1)");
    CHECK(expr("a != 1") == "(!= a 1)");
    CHECK(expr("a <> 1") == "(!= a 1)");
    CHECK(expr("a < 1") == "(< a 1)");
    CHECK(expr("a > 1") == "(> a 1)");
    CHECK(expr("a <= 1") == "(<= a 1)");
    CHECK(expr("a >= 1") == "(>= a 1)");
    CHECK(expr("a<-1") == "(< a -1)");
    CHECK(expr("a = 1 OR b = 2 AND c = 3") == "(OR (= a 1) (AND (= b 2) (= c 3)))");
    CHECK(expr("(a = 1 OR b = 2) AND c = 3") == "(AND (OR (= a 1) (= b 2)) (= c 3))");
    CHECK(expr("NOT a = 1 AND b = 2") == "(AND (NOT (= a 1)) (= b 2))");
    CHECK(expr("NOT NOT a") == "(NOT (NOT a))");
    CHECK(expr("NOT a IN [1] OR b NIN ['x']") == R"((OR (NOT (IN a [1])) (NIN b ["x"])))");
    CHECK(expr("a NOT IN [1, 2]") == "(NIN a [1,2])");
    CHECK(expr("a IN []") == "(IN a [])");
    CHECK(expr("a IN ['s', \"t\", -1, 2.5, true, false, null]") == R"((IN a ["s","t",-1,2.5,true,false,null]))");
    CHECK(expr("a = 1 AND b = 2 AND c = 3") == "(AND (AND (= a 1) (= b 2)) (= c 3))");
    CHECK(expr("((a))") == "a");
    CHECK(expr("true") == "true");
    CHECK(expr("T.x = T.y") == "(= T.x T.y)");
}

TEST_CASE("literals: strings with escapes, numbers, booleans, null", "[query_parser]") {
    CHECK(expr(R"(a = 'O\'Brien')") == R"((= a "O'Brien"))");
    CHECK(expr(R"(a = "say \"hi\"")") == R"((= a "say \"hi\""))");
    CHECK(expr(R"(a = 'back\\slash')") == R"((= a "back\\slash"))");
    CHECK(expr(R"(a = "it's")") == R"((= a "it's"))");
    CHECK(expr(R"(a = '\n\t\/\u00e9\ud83d\ude00')") == "(= a \"\\n\\t/\u00e9\U0001F600\")");
    CHECK(expr("a = 'naïve'") == "(= a \"naïve\")");
    CHECK(expr("a = ''") == R"((= a ""))");

    const auto lit = [](std::string_view text) { return parse_expression(text)->literal; };
    CHECK(lit("42").is_number_integer());
    CHECK(lit("42") == 42);
    CHECK(lit("-7") == -7);
    CHECK(lit("1.5").is_number_float());
    CHECK(lit("1.5") == 1.5);
    CHECK(lit("-2.5e3") == -2500.0);
    CHECK(lit("2E-2") == 0.02);
    CHECK(lit("1e+2") == 100.0);
    CHECK(lit("9223372036854775807") == INT64_MAX);
    CHECK(lit("-9223372036854775808") == INT64_MIN);
    CHECK(lit("18446744073709551615") == UINT64_MAX);
    CHECK(lit("100000000000000000000").is_number_float());
    CHECK(lit("0") == 0);
}

TEST_CASE("paths: $-segments, nested properties, [[reserved]] escapes", "[query_parser]") {
    const auto path = [](std::string_view text) { return parse_expression(text)->path; };
    using V = std::vector<std::string>;
    CHECK(path("$dtId") == V{"$dtId"});
    CHECK(path("T.$metadata.$model") == V{"T", "$metadata", "$model"});
    CHECK(path("R.$relationshipId") == V{"R", "$relationshipId"});
    CHECK(path("R.$targetId") == V{"R", "$targetId"});
    CHECK(path("R.$relationshipName") == V{"R", "$relationshipName"});
    CHECK(path("T.thermostat.settings.target") == V{"T", "thermostat", "settings", "target"});
    CHECK(path("[[select]]") == V{"select"});
    CHECK(path("T.[[from]].x") == V{"T", "from", "x"});
    CHECK(path("T.select") == V{"T", "select"});  // after '.', any name is a property
    CHECK(parse_expression("T.x")->pos.column == 1);
}

TEST_CASE("functions: every documented one, IS_OF_MODEL forms, names upper-cased", "[query_parser]") {
    CHECK(expr("IS_OF_MODEL('dtmi:example:Room;1')") == R"((IS_OF_MODEL "dtmi:example:Room;1"))");
    CHECK(expr("IS_OF_MODEL(T, 'dtmi:example:Room;1')") == R"((IS_OF_MODEL T "dtmi:example:Room;1"))");
    CHECK(expr("IS_OF_MODEL('dtmi:example:Room;1', exact)") == R"((IS_OF_MODEL "dtmi:example:Room;1" exact))");
    CHECK(expr("is_of_model(T, 'dtmi:example:Room;1', EXACT)") == R"((IS_OF_MODEL T "dtmi:example:Room;1" exact))");
    CHECK_FALSE(parse_expression("IS_OF_MODEL(T, 'm')")->exact);
    CHECK(expr("IS_DEFINED(T.x)") == "(IS_DEFINED T.x)");
    CHECK(expr("IS_NULL(T.x)") == "(IS_NULL T.x)");
    CHECK(expr("IS_BOOL(T.x)") == "(IS_BOOL T.x)");
    CHECK(expr("IS_NUMBER(T.x)") == "(IS_NUMBER T.x)");
    CHECK(expr("IS_STRING(T.x)") == "(IS_STRING T.x)");
    CHECK(expr("IS_OBJECT(T.x)") == "(IS_OBJECT T.x)");
    CHECK(expr("IS_PRIMITIVE(T.x)") == "(IS_PRIMITIVE T.x)");
    CHECK(expr("STARTSWITH(T.$dtId, 'room')") == R"((STARTSWITH T.$dtId "room"))");
    CHECK(expr("endswith(T.$dtId, 'x')") == R"((ENDSWITH T.$dtId "x"))");
    CHECK(expr("Contains(T.name, 'x')") == R"((CONTAINS T.name "x"))");
    CHECK(expr("ARRAY_CONTAINS(T.tags, 'hvac')") == R"((ARRAY_CONTAINS T.tags "hvac"))");
    CHECK(expr("NOT IS_DEFINED(T.x) AND IS_NUMBER(T.y)") == "(AND (NOT (IS_DEFINED T.x)) (IS_NUMBER T.y))");
    // A property named exact is still a property elsewhere.
    CHECK(expr("exact = 1") == "(= exact 1)");
}

TEST_CASE("ADT's documented example queries parse to the expected trees", "[query_parser]") {
    struct Case {
        const char* query;
        const char* select;
        const char* where;
    };
    const Case cases[] = {
        {"SELECT * FROM DIGITALTWINS", "*", "<none>"},
        {"SELECT * FROM DIGITALTWINS T WHERE T.firmwareVersion = '1.1' AND T.$dtId in ['123', '456'] "
         "AND T.Temperature = 70",
         "*", R"((AND (AND (= T.firmwareVersion "1.1") (IN T.$dtId ["123","456"])) (= T.Temperature 70)))"},
        {"SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(Location)", "*", "(IS_DEFINED Location)"},
        {"SELECT * FROM DIGITALTWINS T WHERE IS_NUMBER(T.Temperature)", "*", "(IS_NUMBER T.Temperature)"},
        {"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:example:thermostat;1')", "*",
         R"((IS_OF_MODEL "dtmi:example:thermostat;1"))"},
        {"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:example:thermostat;1', exact)", "*",
         R"((IS_OF_MODEL "dtmi:example:thermostat;1" exact))"},
        {"SELECT * FROM DIGITALTWINS c WHERE IS_OF_MODEL(c, 'dtmi:example:thermostat;1') AND c.Temperature > 80",
         "*", R"((AND (IS_OF_MODEL c "dtmi:example:thermostat;1") (> c.Temperature 80)))"},
        {"SELECT COUNT() FROM DIGITALTWINS", "(COUNT)", "<none>"},
        {"SELECT COUNT() FROM DIGITALTWINS c WHERE IS_OF_MODEL('dtmi:sample:Room;1') AND c.Capacity > 20",
         "(COUNT)", R"((AND (IS_OF_MODEL "dtmi:sample:Room;1") (> c.Capacity 20)))"},
        {"SELECT TOP (3) FROM DIGITALTWINS WHERE Temperature > 50", "*", "(> Temperature 50)"},
        {"SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE T.$dtId = 'ABC'", "T, CT",
         R"((= T.$dtId "ABC"))"},
        {"SELECT T, SBT, R FROM DIGITALTWINS T JOIN SBT RELATED T.servicedBy R WHERE T.$dtId = 'ABC' "
         "AND R.reportedCondition = 'clean'",
         "T, SBT, R", R"((AND (= T.$dtId "ABC") (= R.reportedCondition "clean")))"},
        {"SELECT LightBulb FROM DIGITALTWINS Room JOIN LightPanel RELATED Room.contains JOIN LightBulb RELATED "
         "LightPanel.contains WHERE IS_OF_MODEL(LightPanel, 'dtmi:contoso:com:lightpanel;1') AND "
         "IS_OF_MODEL(LightBulb, 'dtmi:contoso:com:lightbulb;1') AND Room.$dtId IN ['room1', 'room2']",
         "LightBulb",
         R"((AND (AND (IS_OF_MODEL LightPanel "dtmi:contoso:com:lightpanel;1") (IS_OF_MODEL LightBulb "dtmi:contoso:com:lightbulb;1")) (IN Room.$dtId ["room1","room2"])))"},
        {"SELECT Consumer.name AS consumerName, Factory.name FROM DIGITALTWINS Factory JOIN Consumer RELATED "
         "Factory.customer Edge WHERE Factory.$dtId = 'ABC'",
         "Consumer.name AS consumerName, Factory.name", R"((= Factory.$dtId "ABC"))"},
        {"SELECT * FROM DIGITALTWINS T WHERE T.$metadata.$model = 'dtmi:example:Room;1'", "*",
         R"((= T.$metadata.$model "dtmi:example:Room;1"))"},
        {"SELECT * FROM RELATIONSHIPS r WHERE r.$relationshipName = 'contains' AND r.reportedCondition != 'clean'",
         "*", R"((AND (= r.$relationshipName "contains") (!= r.reportedCondition "clean")))"},
        {"SELECT building, sensor FROM DIGITALTWINS MATCH (building)-[*..3]->(sensor) "
         "WHERE building.$dtId = 'Building21' AND sensor.Temperature > 50",
         "building, sensor", R"((AND (= building.$dtId "Building21") (> sensor.Temperature 50)))"},
        {"SELECT floor, room FROM DIGITALTWINS MATCH (floor)-[r:contains]->(room) WHERE floor.$dtId = 'floor1' "
         "AND r.reportedCondition = 'clean'",
         "floor, room", R"((AND (= floor.$dtId "floor1") (= r.reportedCondition "clean")))"},
        {"SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'room') AND T.Temperature NIN [70, 75]", "*",
         R"((AND (STARTSWITH T.$dtId "room") (NIN T.Temperature [70,75])))"},
    };
    for (const Case& c : cases) {
        INFO(c.query);
        const Query q = parse_query(c.query);
        CHECK(select_list(q) == c.select);
        CHECK(where(q) == c.where);
    }
}

TEST_CASE("multi-line queries report positions by line and column", "[query_parser]") {
    const Query q = parse_query("SELECT T\nFROM DIGITALTWINS T\n  WHERE T.x = 1");
    REQUIRE(q.where);
    CHECK(q.where->pos.line == 3);
    CHECK(q.where->pos.column == 13);
    CHECK(q.where->args[0]->pos.line == 3);
    CHECK(q.where->args[0]->pos.column == 9);
}

TEST_CASE("syntax errors name the line, column, offending token and what was expected", "[query_parser]") {
    Failure f = failure_of("SELECT T.name, T.temperature WHERE T.x = 1");
    CHECK(f.message == "line 1, column 30: expected FROM but found 'WHERE'");
    CHECK(f.line == 1);
    CHECK(f.column == 30);
    CHECK(f.token == "WHERE");
    CHECK(f.expected == "FROM");

    CHECK(failure_of("SELECT * WHERE").message == "line 1, column 10: expected FROM but found 'WHERE'");
    CHECK(failure_of("SELECT T.x T.y FROM DIGITALTWINS T").message ==
          "line 1, column 12: expected AS, ',' or FROM but found 'T'");
    f = failure_of("SELECT * FROM");
    CHECK(f.message == "line 1, column 14: expected DIGITALTWINS or RELATIONSHIPS but found end of query");
    CHECK(f.token.empty());
    CHECK(failure_of("").message == "line 1, column 1: expected SELECT but found end of query");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x = 1 )").message ==
          "line 1, column 44: expected AND, OR, GROUP BY, ORDER BY or end of query but found ')'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHER T.x = 1").message ==
          "line 1, column 30: expected JOIN, WHERE, GROUP BY, ORDER BY or end of query but found 'WHER'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE").message ==
          "line 1, column 35: expected a value, a property path or a function call but found end of query");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE (T.x = 1").message ==
          "line 1, column 44: expected ')' but found end of query");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x IN [1, T.y]").message ==
          "line 1, column 47: expected a string, number, true, false or null in the list but found 'T'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x = [1]").message ==
          "line 1, column 42: a list is only allowed after IN or NIN");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T. = 1").message ==
          "line 1, column 39: expected a property name after '.' but found '='");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x = -T.y").message ==
          "line 1, column 43: expected a number after '-' but found 'T'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T ORDER T.x").message ==
          "line 1, column 36: expected BY but found 'T'");
    f = failure_of("SELECT *\nFROM DIGITALTWINS T\nWHERE T.x == 1");
    CHECK(f.message == "line 3, column 12: expected a value, a property path or a function call but found '='");
}

TEST_CASE("lexical errors: strings, escapes, numbers, characters", "[query_parser]") {
    Failure f = failure_of("SELECT * FROM DIGITALTWINS T WHERE T.name = 'abc");
    CHECK(f.message == "line 1, column 45: unterminated string");
    CHECK(f.token == "'abc");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.name = \"a'").message ==
          "line 1, column 45: unterminated string");
    f = failure_of("SELECT * FROM DIGITALTWINS T WHERE T.name = 'a\\qb'");
    CHECK(f.message == "line 1, column 47: an unknown escape '\\q' in a string");
    CHECK(f.token == "\\q");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.n = '\\u12'").message ==
          "line 1, column 43: a \\u escape without 4 hex digits '\\u12'' in a string");
    f = failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x = 1e");
    CHECK(f.message == "line 1, column 42: malformed number '1e'");
    CHECK(f.token == "1e");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x = 12abc").message ==
          "line 1, column 42: malformed number '12abc'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x = 1.").message ==
          "line 1, column 42: malformed number '1.'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x = 1.2.3").message ==
          "line 1, column 42: malformed number '1.2.3'");
    f = failure_of("SELECT * FROM DIGITALTWINS T WHERE T.x # 1");
    CHECK(f.message == "line 1, column 40: unexpected character '#'");
    CHECK(f.token == "#");
    // Columns count characters, not bytes.
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.n = 'é' ! 1").message ==
          "line 1, column 46: unexpected character '!'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE T.é = 1").message ==
          "line 1, column 38: unexpected character 'é'");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE [[x = 1").message ==
          "line 1, column 36: unterminated [[name]]");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE [[]] = 1").message ==
          "line 1, column 36: empty [[ ]] name");
}

TEST_CASE("clause rules: TOP, hop counts, JOIN, aliases, functions, aggregates", "[query_parser]") {
    CHECK(failure_of("SELECT TOP(0) * FROM DIGITALTWINS").message ==
          "line 1, column 12: expected a positive integer in TOP(n) but found '0'");
    CHECK(failure_of("SELECT TOP(-1) * FROM DIGITALTWINS").message ==
          "line 1, column 12: expected a positive integer in TOP(n) but found '-'");
    CHECK(failure_of("SELECT TOP(1.5) * FROM DIGITALTWINS").message ==
          "line 1, column 12: expected a positive integer in TOP(n) but found '1.5'");
    CHECK(failure_of("SELECT TOP 5 * FROM DIGITALTWINS").message ==
          "line 1, column 12: expected '(' after TOP but found '5'");

    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[*3..2]->(b)").message ==
          "line 1, column 43: hop range *3..2 is empty: the lower bound is exclusive, so it must be below the "
          "upper bound");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[*2..2]->(b)").message ==
          "line 1, column 43: hop range *2..2 is empty: the lower bound is exclusive, so it must be below the "
          "upper bound");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[*0]->(b)").message ==
          "line 1, column 39: a hop count must be at least 1");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[*]->(b)").message ==
          "line 1, column 40: expected a hop count after '*' (*n, *n..m or *..m) but found ']'");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[r*2]->(b)").message ==
          "line 1, column 37: relationship variable 'r' needs a single hop; drop the variable or the hop count");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[:x]>(b)").message ==
          "line 1, column 42: expected '-' after ']' (-[...]-> or -[...]-) but found '>'");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[:x y]->(b)").message ==
          "line 1, column 42: expected '|', '*' or ']' but found 'y'");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[:x]->(a)").message ==
          "line 1, column 37: alias 'a' is used twice in the MATCH pattern");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH a-[:x]->(b)").message ==
          "line 1, column 34: expected '(' and a twin alias but found 'a'");

    Failure f = failure_of("SELECT * FROM DIGITALTWINS T JOIN CT RELATED T.contains");
    CHECK(f.message == "line 1, column 8: SELECT * cannot be combined with JOIN; select the aliases to return instead");
    CHECK(f.token == "*");
    CHECK(failure_of("SELECT R FROM RELATIONSHIPS R JOIN T RELATED R.x").message ==
          "line 1, column 31: JOIN cannot follow FROM RELATIONSHIPS");
    CHECK(failure_of("SELECT CT FROM DIGITALTWINS JOIN CT RELATED T.contains").message ==
          "line 1, column 29: JOIN needs an alias on FROM DIGITALTWINS (FROM DIGITALTWINS T JOIN ...)");
    CHECK(failure_of("SELECT CT FROM DIGITALTWINS T JOIN CT RELATED X.contains").message ==
          "line 1, column 31: JOIN CT RELATED X.contains: unknown alias 'X'");
    CHECK(failure_of("SELECT T FROM DIGITALTWINS T JOIN T RELATED T.contains").message ==
          "line 1, column 30: alias 'T' is defined twice");
    CHECK(failure_of("SELECT a FROM DIGITALTWINS MATCH (a)-[]->(b) JOIN c RELATED a.x").message ==
          "line 1, column 46: JOIN cannot be combined with MATCH; add steps to the MATCH pattern");
    CHECK(failure_of("SELECT CT FROM DIGITALTWINS T JOIN CT T.contains").message ==
          "line 1, column 39: expected RELATED but found 'T'");

    CHECK(failure_of("SELECT * FROM DIGITALTWINS Where").message ==
          "line 1, column 33: expected a value, a property path or a function call but found end of query");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS AS from").message ==
          "line 1, column 31: 'from' is a reserved word; write [[from]] to use it as an alias after AS");

    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE FOO(T.x)").message ==
          "line 1, column 36: unknown function 'FOO' (functions: IS_OF_MODEL, IS_DEFINED, IS_NULL, IS_BOOL, "
          "IS_NUMBER, IS_STRING, IS_OBJECT, IS_PRIMITIVE, STARTSWITH, ENDSWITH, CONTAINS, ARRAY_CONTAINS; "
          "aggregates: COUNT, SUM, AVG, MIN, MAX)");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.x)").message ==
          "line 1, column 36: STARTSWITH takes 2 arguments but was given 1");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE IS_NULL(T.x, 1)").message ==
          "line 1, column 36: IS_NULL takes 1 argument but was given 2");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T)").message ==
          "line 1, column 36: IS_OF_MODEL takes an optional alias, a model id string and optionally exact: "
          "IS_OF_MODEL([alias,] 'dtmi:...;1'[, exact])");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL()").message ==
          "line 1, column 48: IS_OF_MODEL takes an optional alias, a model id string and optionally exact: "
          "IS_OF_MODEL([alias,] 'dtmi:...;1'[, exact])");
    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE IS_DEFINED(T.x").message ==
          "line 1, column 50: expected ',' or ')' but found end of query");

    CHECK(failure_of("SELECT * FROM DIGITALTWINS T WHERE COUNT() > 1").message ==
          "line 1, column 36: aggregate COUNT is only allowed in SELECT and ORDER BY");
    CHECK(failure_of("SELECT T.a FROM DIGITALTWINS T GROUP BY SUM(T.a)").message ==
          "line 1, column 41: aggregate SUM cannot be nested or used in GROUP BY");
    CHECK(failure_of("SELECT SUM(MAX(T.a)) FROM DIGITALTWINS T").message ==
          "line 1, column 12: aggregate MAX cannot be nested or used in GROUP BY");
    CHECK(failure_of("SELECT COUNT(T.a) FROM DIGITALTWINS T").message ==
          "line 1, column 14: expected ')' (COUNT() counts rows and takes no argument) but found 'T'");
}

TEST_CASE("parse_expression: the standalone WHERE language", "[query_parser]") {
    CHECK(expr("$body.temperature > 30 AND type = 'Microsoft.DigitalTwins.Twin.Update'") ==
          R"((AND (> $body.temperature 30) (= type "Microsoft.DigitalTwins.Twin.Update")))");
    try {
        (void)parse_expression("a = 1 b");
        FAIL("no error");
    } catch (const QueryError& e) {
        CHECK(std::string(e.what()) == "line 1, column 7: expected AND, OR or end of expression but found 'b'");
    }
    CHECK_THROWS_AS(parse_expression(""), QueryError);
    CHECK_THROWS_AS(parse_expression("SUM(a) > 1"), QueryError);
}

TEST_CASE("tokenize gives kinds, raw text and positions", "[query_parser]") {
    const auto toks = tokenize("a.b <= 'x'\n  [[c]]..");
    REQUIRE(toks.size() == 8);
    CHECK(toks[0].kind == TokenKind::identifier);
    CHECK(toks[1].kind == TokenKind::dot);
    CHECK(toks[3].kind == TokenKind::le);
    CHECK(toks[4].kind == TokenKind::string);
    CHECK(toks[4].value == "x");
    CHECK(toks[4].text == "'x'");
    CHECK(toks[5].kind == TokenKind::escaped_name);
    CHECK(toks[5].value == "c");
    CHECK(toks[5].pos.line == 2);
    CHECK(toks[5].pos.column == 3);
    CHECK(toks[5].pos.offset == 13);
    CHECK(toks[6].kind == TokenKind::dotdot);
    CHECK(toks[7].kind == TokenKind::end);
}

TEST_CASE("nesting beyond the expression depth limit is a QueryError naming the limit and the position",
          "[query_parser]") {
    const std::string limit = "the limit of " + std::to_string(max_expression_depth) + " levels";
    const std::string prefix = "SELECT * FROM DIGITALTWINS T WHERE ";

    std::string parens = prefix;
    for (int k = 0; k < 10000; ++k) parens += '(';
    parens += "T.x = 1";
    for (int k = 0; k < 10000; ++k) parens += ')';
    Failure f = failure_of(parens);
    CHECK(f.message.find(limit) != std::string::npos);
    CHECK(f.line == 1);
    CHECK(f.column == prefix.size() + max_expression_depth + 1);  // the first '(' beyond the limit

    std::string nots = prefix;
    for (int k = 0; k < 20000; ++k) nots += "NOT ";
    nots += "T.x = 1";
    f = failure_of(nots);
    CHECK(f.message.find(limit) != std::string::npos);
    CHECK(f.column > prefix.size());

    // A long AND chain grows the tree without recursion in the parser; it is refused too.
    std::string chain = prefix + "T.x = 1";
    for (int k = 0; k < 100000; ++k) chain += " AND T.x = 1";
    CHECK(failure_of(chain).message.find(limit) != std::string::npos);

    // Nested function arguments and standalone expressions obey the same limit.
    std::string calls;
    for (int k = 0; k < 5000; ++k) calls += "IS_BOOL(";
    calls += "x";
    for (int k = 0; k < 5000; ++k) calls += ')';
    CHECK_THROWS_WITH(parse_expression(calls), Catch::Contains(limit));

    // Exactly at the limit is accepted.
    std::string ok;
    for (std::uint32_t k = 0; k + 1 < max_expression_depth; ++k) ok += '(';
    ok += "x";
    for (std::uint32_t k = 0; k + 1 < max_expression_depth; ++k) ok += ')';
    CHECK(expr(ok) == "x");
}

TEST_CASE("Unicode whitespace between tokens is whitespace", "[query_parser]") {
    // U+202F (narrow no-break space) as in ADT's MATCH samples, U+00A0, U+2003, U+3000.
    const Query q = parse_query(
        "SELECT\u202Fa FROM DIGITALTWINS\u00A0MATCH (a)-[:feeds]->(b)\u2003WHERE\u3000a.$dtId = 'x'");
    CHECK(q.match.has_value());
    CHECK(where(q) == "(= a.$dtId \"x\")");
    // Columns count the space as one character.
    const std::vector<Token> t = tokenize("a\u202Fb");
    REQUIRE(t.size() == 3);
    CHECK(t[1].pos.column == 3);
    // Inside a string it is kept as it is.
    CHECK(expr("x = 'a\u202Fb'") == "(= x \"a\u202Fb\")");
    // Other non-ASCII characters are still refused.
    CHECK(failure_of("SELECT * FROM DIGITALTWINS \u00E9").message.find("unexpected character") != std::string::npos);
}
