// The expression evaluator on its own: values, three-valued logic, every
// function, paths into objects and components, relationships, folding.
#include <catch2/catch.hpp>

#include "query_fixtures.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/query/parser.hpp"

using namespace twinsim;
using namespace twinsim::query;
using nlohmann::json;

namespace {

struct Fixture {
    graph::TwinGraph graph{test::test_options()};
    graph::Snapshot snap;
    Fixture() {
        test::build_query_building(graph);
        snap = graph.snapshot();
    }
    Truth on(const char* twin, const char* text) const {
        const CompiledExpression e = compile_expression(text);
        Evaluator ev(e, snap);
        const std::uint32_t row[1] = {*snap.find(twin)};
        return ev.test(row);
    }
};

constexpr Truth T = Truth::true_;
constexpr Truth F = Truth::false_;
constexpr Truth U = Truth::undefined;

}  // namespace

TEST_CASE("comparisons: numbers across int and double, strings case-sensitive, type mismatch undefined", "[expression]") {
    Fixture f;
    CHECK(f.on("room-1", "temperature = 21.5") == T);
    CHECK(f.on("room-1", "humidity = 40") == T);
    CHECK(f.on("room-1", "humidity = 40.0") == T);
    CHECK(f.on("room-1", "humidity < 40.5") == T);
    CHECK(f.on("room-1", "humidity >= 41") == F);
    CHECK(f.on("room-1", "name = 'Lab'") == T);
    CHECK(f.on("room-1", "name = 'lab'") == F);
    CHECK(f.on("room-1", "name < 'M'") == T);
    CHECK(f.on("room-1", "name = 3") == U);
    CHECK(f.on("room-1", "name != 3") == U);
    CHECK(f.on("room-1", "occupied = true") == T);
    CHECK(f.on("room-1", "occupied != false") == T);
    CHECK(f.on("room-1", "occupied") == T);
    CHECK(f.on("room-1", "occupied = 1") == U);
    CHECK(f.on("sensor-1", "[[count]] = 7 AND [[value]] = 3") == T);
    CHECK(f.on("sensor-1", "[[on]] = true") == T);
}

TEST_CASE("missing properties are undefined; three-valued AND, OR, NOT", "[expression]") {
    Fixture f;
    CHECK(f.on("room-3", "temperature > 1") == U);
    CHECK(f.on("room-3", "temperature = null") == U);
    CHECK(f.on("room-3", "NOT (temperature > 1)") == U);
    CHECK(f.on("room-3", "temperature > 1 AND false") == F);
    CHECK(f.on("room-3", "temperature > 1 AND true") == U);
    CHECK(f.on("room-3", "temperature > 1 OR true") == T);
    CHECK(f.on("room-3", "temperature > 1 OR false") == U);
    CHECK(f.on("room-3", "nosuch = 1") == U);
    // a property of another model is simply undefined here
    CHECK(f.on("floor-1", "temperature < 100") == U);
    CHECK(f.on("floor-1", "NOT IS_DEFINED(temperature)") == T);
}

TEST_CASE("IN and NIN", "[expression]") {
    Fixture f;
    CHECK(f.on("room-1", "name IN ['Lab', 'x']") == T);
    CHECK(f.on("room-1", "name IN ['lab', 3]") == F);
    CHECK(f.on("room-1", "name NIN ['lab', 3]") == T);
    CHECK(f.on("room-1", "humidity IN [40.0, 'a']") == T);
    CHECK(f.on("room-3", "humidity IN [40]") == U);
    CHECK(f.on("room-3", "humidity NIN [40]") == U);
    CHECK(f.on("room-1", "$dtId IN ['room-1']") == T);
}

TEST_CASE("type functions", "[expression]") {
    Fixture f;
    CHECK(f.on("room-2", "IS_DEFINED(settings)") == T);
    CHECK(f.on("room-1", "IS_DEFINED(settings)") == F);
    CHECK(f.on("room-2", "IS_OBJECT(settings)") == T);
    CHECK(f.on("room-2", "IS_OBJECT(name)") == F);
    CHECK(f.on("room-2", "IS_PRIMITIVE(name)") == T);
    CHECK(f.on("room-2", "IS_PRIMITIVE(settings)") == F);
    CHECK(f.on("room-2", "IS_STRING(name) AND IS_NUMBER(humidity) AND IS_NUMBER(temperature)") == T);
    CHECK(f.on("room-1", "IS_BOOL(occupied)") == T);
    CHECK(f.on("room-2", "IS_BOOL(occupied)") == F);
    CHECK(f.on("room-2", "IS_NULL(occupied)") == F);
    CHECK(f.on("room-3", "IS_OBJECT(readings)") == F);
    CHECK(f.on("room-1", "IS_NULL(null)") == T);
}

TEST_CASE("string functions are case-sensitive and undefined on non-strings", "[expression]") {
    Fixture f;
    CHECK(f.on("room-2", "STARTSWITH(name, 'lob')") == T);
    CHECK(f.on("room-2", "STARTSWITH(name, 'Lob')") == F);
    CHECK(f.on("room-2", "ENDSWITH(name, 'bby')") == T);
    CHECK(f.on("room-2", "CONTAINS(name, 'obb')") == T);
    CHECK(f.on("room-2", "CONTAINS(name, 'x')") == F);
    CHECK(f.on("room-2", "CONTAINS(humidity, '5')") == U);
    CHECK(f.on("room-3", "STARTSWITH(name, 'a')") == U);
    CHECK(f.on("room-2", "STARTSWITH($dtId, 'room-')") == T);
}

TEST_CASE("ARRAY_CONTAINS, nested object paths, map entries and components", "[expression]") {
    Fixture f;
    CHECK(f.on("room-3", "ARRAY_CONTAINS(readings, 2.5)") == T);
    CHECK(f.on("room-3", "ARRAY_CONTAINS(readings, 1)") == T);
    CHECK(f.on("room-3", "ARRAY_CONTAINS(readings, 3)") == F);
    CHECK(f.on("room-1", "ARRAY_CONTAINS(readings, 3)") == U);
    CHECK(f.on("room-2", "ARRAY_CONTAINS(name, 3)") == U);
    CHECK(f.on("room-2", "settings.mode = 'eco' AND settings.level > 1") == T);
    CHECK(f.on("room-2", "settings.nosuch = 1") == U);
    CHECK(f.on("room-2", "tags.wing = 'east'") == T);
    CHECK(f.on("room-2", "name.sub = 'x'") == U);
    CHECK(f.on("room-1", "thermostat.setpoint = 20 AND thermostat.mode = 'auto'") == T);
    CHECK(f.on("room-2", "IS_DEFINED(thermostat.setpoint)") == F);
    CHECK(f.on("room-2", "IS_OBJECT(thermostat)") == T);
}

TEST_CASE("$dtId, $metadata.$model, $etag and IS_OF_MODEL", "[expression]") {
    Fixture f;
    CHECK(f.on("room-1", "$dtId = 'room-1'") == T);
    CHECK(f.on("room-1", "$metadata.$model = 'dtmi:test:Room;1'") == T);
    const std::string etag = f.snap.twin_etag("room-1");
    CHECK(f.on("room-1", ("$etag = '" + etag.substr(0, 2) + "\\\"" + etag.substr(3, 16) + "\\\"'").c_str()) == T);
    CHECK(f.on("room-1", "IS_OF_MODEL('dtmi:test:Room;1')") == T);
    CHECK(f.on("room-1", "IS_OF_MODEL('dtmi:test:Space;1')") == T);
    CHECK(f.on("room-1", "IS_OF_MODEL('dtmi:test:Space;1', exact)") == F);
    CHECK(f.on("room-1", "IS_OF_MODEL('dtmi:test:Room;1', exact)") == T);
    CHECK(f.on("room-1", "IS_OF_MODEL('dtmi:test:Office;1')") == F);
    CHECK(f.on("room-1", "IS_OF_MODEL('dtmi:test:Nope;1')") == F);
}

TEST_CASE("matches() on one twin, and compile() against a scope of aliases", "[expression]") {
    Fixture f;
    const auto e = compile_expression("temperature > 22 AND IS_OF_MODEL('dtmi:test:Space;1')");
    CHECK(matches(f.snap, *f.snap.find("room-2"), e));
    CHECK_FALSE(matches(f.snap, *f.snap.find("room-1"), e));
    CHECK_FALSE(matches(f.snap, *f.snap.find("room-3"), e));

    Scope scope;
    scope.aliases = {{"F", AliasKind::twin}, {"E", AliasKind::relationship}, {"R", AliasKind::twin}};
    scope.default_alias = Scope::no_default;
    const ExprPtr ast = parse_expression(
        "F.number = 1 AND E.$relationshipName = 'contains' AND E.since < '2021' AND R.$dtId = E.$targetId");
    const CompiledExpression c = compile(*ast, scope);
    CHECK(c.slots_used() == std::vector<std::uint32_t>{0, 1, 2});
    Evaluator ev(c, f.snap);
    const auto& s = f.snap.state();
    for (graph::RelationshipIndex r : f.snap.out_relationships(*f.snap.find("floor-1"))) {
        const std::uint32_t row[3] = {*f.snap.find("floor-1"), r, f.snap.target(r)};
        const bool expect = f.snap.relationship_id(r) == "c1";
        CHECK(ev.matches(row) == expect);
    }
    (void)s;
    CHECK_THROWS_AS(compile(*parse_expression("X.a = 1"), scope), QueryError);
    CHECK_THROWS_AS(compile(*parse_expression("a = 1"), scope), QueryError);
    CHECK_THROWS_AS(compile(*parse_expression("IS_OF_MODEL(E, 'dtmi:test:Room;1')"), scope), QueryError);
    CHECK_THROWS_AS(compile_expression("STARTSWITH(name)"), QueryError);
}

TEST_CASE("fold_for_model decides IS_OF_MODEL per model table", "[expression]") {
    Fixture f;
    const auto& models = *f.snap.models();
    const auto room = *models.find("dtmi:test:Room;1");
    const auto floor = *models.find("dtmi:test:Floor;1");
    const auto e = compile_expression("IS_OF_MODEL('dtmi:test:Space;1') AND temperature > 1");
    Evaluator ev(e, f.snap);
    CHECK(ev.fold_for_model(0, floor) == std::optional<bool>(false));
    CHECK(ev.fold_for_model(0, room) == std::nullopt);
    const auto o = compile_expression("NOT IS_OF_MODEL('dtmi:test:Space;1') OR temperature > 1");
    Evaluator ev2(o, f.snap);
    CHECK(ev2.fold_for_model(0, floor) == std::optional<bool>(true));
}

TEST_CASE("values and unknown-name warnings", "[expression]") {
    Fixture f;
    const auto e = compile_expression("settings.level");
    Evaluator ev(e, f.snap);
    const std::uint32_t row[1] = {*f.snap.find("room-2")};
    const Value v = ev.value(row);
    CHECK(v.kind == Value::Kind::integer);
    CHECK(v.to_json() == 2);
    const auto w = compile_expression("Temp > 1 AND IS_OF_MODEL('dtmi:x;1') AND temperature > 1").unknown_names(*f.snap.models());
    REQUIRE(w.size() == 2);
    CHECK(w[0].find("dtmi:x;1") != std::string::npos);
    CHECK(w[1].find("Temp") != std::string::npos);
}

TEST_CASE("a document scope evaluates the same language on a JSON document", "[expression]") {
    const json doc = json::parse(R"({"type":"a.b","n":3,"data":{"x":{"y":"deep"},"list":[1,2]},"flag":true})");
    const auto on = [&](const char* text) {
        const ExprPtr e = parse_expression(text);
        return test_document(compile(*e, Scope::single_document()), doc);
    };
    CHECK(on("type = 'a.b'") == T);
    CHECK(on("n > 2 AND n < 4") == T);
    CHECK(on("data.x.y = 'deep'") == T);
    CHECK(on("STARTSWITH(type, 'a.')") == T);
    CHECK(on("ARRAY_CONTAINS(data.list, 2)") == T);
    CHECK(on("flag") == T);
    // Missing members and type mismatches are undefined, as on twins.
    CHECK(on("missing = 1") == U);
    CHECK(on("data.x.y.z = 1") == U);
    CHECK(on("n = 'three'") == U);
    CHECK(on("missing = 1 OR n = 3") == T);
    CHECK(on("NOT missing = 1") == U);
    CHECK(on("IS_DEFINED(data.x)") == T);
    // `$`-names are plain member names in a document.
    const json meta = json::parse(R"({"$metadata":{"$model":"dtmi:x;1"}})");
    CHECK(test_document(compile(*parse_expression("$metadata.$model = 'dtmi:x;1'"), Scope::single_document()), meta) == T);
    // The route-filter dialect names ADT's functions as the evaluator's.
    const ExprPtr rf = parse_expression("STARTS_WITH(type, 'a') AND ENDS_WITH(type, 'b')", Dialect::route_filter);
    CHECK(test_document(compile(*rf, Scope::single_document()), doc) == T);
    CHECK_THROWS_WITH(parse_expression("STARTSWITH(type, 'a')", Dialect::route_filter),
                      Catch::Contains("route filters write STARTS_WITH"));
    CHECK_THROWS_AS(parse_expression("STARTS_WITH(type, 'a')"), QueryError);  // not in the query language
}
