// validate_value: table-driven valid and invalid values for every schema kind,
// with the JSON Pointer and message of each error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twinsim/dtdl/value_validation.hpp"

using namespace twinsim::dtdl;
using nlohmann::json;

namespace {

SchemaPtr prim(SchemaKind kind) {
    auto s = std::make_shared<Schema>();
    s->kind = kind;
    return s;
}

SchemaPtr array_of(SchemaPtr element) {
    auto s = std::make_shared<Schema>();
    s->kind = SchemaKind::array;
    s->element_schema = std::move(element);
    return s;
}

SchemaPtr map_of(SchemaPtr value) {
    auto s = std::make_shared<Schema>();
    s->kind = SchemaKind::map;
    s->map_key_name = "key";
    s->map_value_name = "value";
    s->map_value_schema = std::move(value);
    return s;
}

SchemaPtr object_of(std::vector<std::pair<std::string, SchemaPtr>> fields) {
    auto s = std::make_shared<Schema>();
    s->kind = SchemaKind::object;
    for (auto& [name, schema] : fields) s->fields.push_back(Field{name, schema, {}});
    return s;
}

SchemaPtr int_enum() {
    auto s = std::make_shared<Schema>();
    s->kind = SchemaKind::enum_;
    s->enum_value_schema = SchemaKind::integer;
    s->enum_values = {EnumValue{"off", 0, "", {}}, EnumValue{"low", 1, "", {}}, EnumValue{"high", 7, "", {}}};
    return s;
}

SchemaPtr string_enum() {
    auto s = std::make_shared<Schema>();
    s->kind = SchemaKind::enum_;
    s->enum_value_schema = SchemaKind::string;
    s->enum_values = {EnumValue{"north", 0, "N", {}}, EnumValue{"south", 0, "S", {}}};
    return s;
}

std::vector<ValueError> check(const SchemaPtr& schema, const std::string& text) {
    return validate_value(*schema, json::parse(text));
}

// The first error for a value that must be refused (fails the test, rather
// than indexing an empty vector, when none is reported).
ValueError first(const SchemaPtr& schema, const std::string& text) {
    const auto errors = check(schema, text);
    INFO("value " << text);
    REQUIRE_FALSE(errors.empty());
    return errors.front();
}

std::string show(const std::vector<ValueError>& errors) {
    std::string out;
    for (const auto& e : errors) out += "[" + e.path + "] " + e.message + "\n";
    return out;
}

// Runs a table of JSON texts that must all be accepted (ok) or all refused.
void expect_all(const SchemaPtr& schema, const std::vector<std::string>& texts, bool ok) {
    for (const auto& text : texts) {
        const auto errors = check(schema, text);
        INFO("schema " << to_string(schema->kind) << ", value " << text << "\n" << show(errors));
        if (ok) {
            CHECK(errors.empty());
        } else {
            REQUIRE(errors.size() == 1);
            CHECK(errors[0].path.empty());
            CHECK_THAT(errors[0].message, Catch::Contains("expected") && Catch::Contains("found"));
        }
    }
}

}  // namespace

TEST_CASE("boolean and string", "[value_validation]") {
    expect_all(prim(SchemaKind::boolean), {"true", "false"}, true);
    expect_all(prim(SchemaKind::boolean), {"1", "\"true\"", "null", "[]", "{}"}, false);
    expect_all(prim(SchemaKind::string), {"\"\"", "\"h\\u00e9llo\"", "\"2024-01-01\""}, true);
    expect_all(prim(SchemaKind::string), {"1", "true", "null", "[\"a\"]"}, false);
}

TEST_CASE("integer: 32-bit signed range, integral", "[value_validation]") {
    const auto s = prim(SchemaKind::integer);
    expect_all(s, {"0", "-1", "2147483647", "-2147483648", "5.0", "1e3"}, true);
    expect_all(s, {"2147483648", "-2147483649", "9223372036854775807", "18446744073709551615", "2.5", "1e10",
                   "\"1\"", "true", "null"},
               false);
    CHECK_THAT(first(s, "2147483648").message, Catch::Contains("32-bit") && Catch::Contains("2147483648"));
    CHECK_THAT(first(s, "2.5").message, Catch::Contains("not integral"));
}

TEST_CASE("long: 64-bit signed range, integral", "[value_validation]") {
    const auto s = prim(SchemaKind::long_);
    expect_all(s, {"0", "2147483648", "9223372036854775807", "-9223372036854775808", "-4.0e15"}, true);
    expect_all(s, {"9223372036854775808", "18446744073709551615", "-1e19", "1e19", "0.5",
                   "\"5\""},
               false);
}

TEST_CASE("double and float: finite numbers; float within its range", "[value_validation]") {
    expect_all(prim(SchemaKind::double_), {"0", "-1", "1.5", "1e308", "-1.7976931348623157e308", "18446744073709551615"},
               true);
    expect_all(prim(SchemaKind::double_), {"\"1.5\"", "null", "true"}, false);
    expect_all(prim(SchemaKind::float_), {"0", "3.4028235e38", "-3.4028235e38", "1e-45", "9223372036854775807"}, true);
    expect_all(prim(SchemaKind::float_), {"3.5e38", "-1e39", "1e308", "\"1\""}, false);
    // Non-finite numbers cannot come from JSON text but can be built in code.
    const auto nan_errors = validate_value(*prim(SchemaKind::double_), json(std::numeric_limits<double>::quiet_NaN()));
    CHECK(nan_errors.size() == 1);
    CHECK(validate_value(*prim(SchemaKind::float_), json(std::numeric_limits<double>::infinity())).size() == 1);
    CHECK(validate_value(*prim(SchemaKind::integer), json(std::numeric_limits<double>::infinity())).size() == 1);
}

TEST_CASE("date: RFC 3339 full-date with real calendar days", "[value_validation]") {
    const auto s = prim(SchemaKind::date);
    expect_all(s, {"\"2024-02-29\"", "\"2000-02-29\"", "\"2023-12-31\"", "\"0001-01-01\"", "\"2023-04-30\""}, true);
    expect_all(s, {"\"2023-02-29\"", "\"1900-02-29\"", "\"2023-04-31\"", "\"2023-13-01\"", "\"2023-00-10\"",
                   "\"2023-01-00\"", "\"2023-1-01\"", "\"23-01-01\"", "\"2023/01/01\"", "\"2023-01-01T00:00:00Z\"",
                   "\"2023-01-01 \"", "\"\"", "20230101"},
               false);
    CHECK_THAT(first(s, "\"2023-02-29\"").message, Catch::Contains("February 2023"));
}

TEST_CASE("time: RFC 3339 partial-time with optional fraction and offset", "[value_validation]") {
    const auto s = prim(SchemaKind::time);
    expect_all(s, {"\"00:00:00\"", "\"23:59:59\"", "\"23:59:60\"", "\"12:30:00.5\"", "\"12:30:00.123456789\"",
                   "\"12:30:00Z\"", "\"12:30:00z\"", "\"12:30:00+02:00\"", "\"12:30:00.25-11:30\""},
               true);
    expect_all(s, {"\"24:00:00\"", "\"12:60:00\"", "\"12:00:61\"", "\"12:00\"", "\"1:00:00\"", "\"12:00:00.\"",
                   "\"12:00:00+2:00\"", "\"12:00:00+02\"", "\"12:00:00+24:00\"", "\"12:00:00Z \"", "\"T12:00:00\"",
                   "43200"},
               false);
}

TEST_CASE("dateTime: RFC 3339 date-time, 'T' or 't', 'Z' or offset required", "[value_validation]") {
    const auto s = prim(SchemaKind::date_time);
    expect_all(s, {"\"2024-02-29T12:00:00Z\"", "\"2024-02-29t12:00:00z\"", "\"2026-07-01T12:00:00.1234567Z\"",
                   "\"1985-04-12T23:20:50.52+01:00\"", "\"1990-12-31T15:59:60-08:00\""},
               true);
    expect_all(s, {"\"2024-02-29T12:00:00\"", "\"2024-02-29 12:00:00Z\"", "\"2023-02-29T12:00:00Z\"",
                   "\"2024-02-29\"", "\"2024-02-29T25:00:00Z\"", "\"2024-02-29T12:00Z\"", "\"2024-02-29T12:00:00ZZ\"",
                   "1700000000"},
               false);
    CHECK_THAT(first(s, "\"2024-02-29T12:00:00\"").message, Catch::Contains("time zone"));
}

TEST_CASE("duration: ISO 8601 PnYnMnDTnHnMnS or PnW, fraction on the last component", "[value_validation]") {
    const auto s = prim(SchemaKind::duration);
    expect_all(s, {"\"P1Y\"", "\"P1Y2M3DT4H5M6S\"", "\"PT0S\"", "\"PT1.5S\"", "\"PT0,5H\"", "\"P2W\"", "\"P1M\"",
                   "\"PT1M\"", "\"P0.5Y\"", "\"P1DT12H\"", "\"PT36H\"", "\"P10000D\""},
               true);
    expect_all(s, {"\"P\"", "\"PT\"", "\"P1\"", "\"1Y\"", "\"P1DT\"", "\"P1S\"", "\"PT1D\"", "\"P1M1Y\"",
                   "\"PT1H1H\"", "\"P1.5DT1H\"", "\"PT1.5H2M\"", "\"P1W2D\"", "\"P1WT1H\"", "\"P-1D\"", "\"-P1D\"",
                   "\"P.5D\"", "\"P1.D\"", "\"p1d\"", "\"P1Y \"", "3600"},
               false);
}

TEST_CASE("Enum: integer- or string-valued members only", "[value_validation]") {
    expect_all(int_enum(), {"0", "1", "7", "7.0"}, true);
    expect_all(int_enum(), {"2", "-1", "\"1\"", "1.5", "null"}, false);
    expect_all(string_enum(), {"\"N\"", "\"S\""}, true);
    expect_all(string_enum(), {"\"north\"", "\"n\"", "0", "null"}, false);
    CHECK_THAT(first(int_enum(), "2").message, Catch::Contains("1 (low)") && Catch::Contains("7 (high)") && Catch::Contains("number 2"));
}

TEST_CASE("Object: declared fields only, each validated, missing fields allowed", "[value_validation]") {
    const auto s = object_of({{"name", prim(SchemaKind::string)},
                              {"count", prim(SchemaKind::integer)},
                              {"a/b~c", prim(SchemaKind::boolean)}});
    expect_all(s, {"{}", R"({"name":"x"})", R"({"name":"x","count":3,"a/b~c":true})"}, true);
    expect_all(s, {"[]", "null", "\"x\""}, false);

    const auto unknown = check(s, R"({"name":"x","colour":"red"})");
    REQUIRE(unknown.size() == 1);
    CHECK(unknown[0].path == "/colour");
    CHECK_THAT(unknown[0].message, Catch::Contains("unknown field 'colour'") && Catch::Contains("name, count"));

    // Every error is reported, each at its own path; '/' and '~' are escaped.
    const auto several = check(s, R"({"name":1,"count":"3","a/b~c":0})");
    REQUIRE(several.size() == 3);
    std::vector<std::string> paths;
    for (const auto& e : several) paths.push_back(e.path);
    std::sort(paths.begin(), paths.end());
    CHECK(paths == std::vector<std::string>{"/a~1b~0c", "/count", "/name"});
}

TEST_CASE("Map: object whose values match the value schema", "[value_validation]") {
    const auto s = map_of(prim(SchemaKind::double_));
    expect_all(s, {"{}", R"({"a":1,"b":2.5})"}, true);
    expect_all(s, {"[]", "1", "null"}, false);
    const auto e = check(s, R"({"a":1,"b":"x"})");
    REQUIRE(e.size() == 1);
    CHECK(e[0].path == "/b");
    CHECK_THAT(e[0].message, Catch::Contains("double") && Catch::Contains("string \"x\""));
}

TEST_CASE("Array: each element validated, index in the path", "[value_validation]") {
    const auto s = array_of(prim(SchemaKind::integer));
    expect_all(s, {"[]", "[1,2,3]"}, true);
    expect_all(s, {"{}", "1", "null"}, false);
    const auto e = check(s, "[1,2,3,2147483648]");
    REQUIRE(e.size() == 1);
    CHECK(e[0].path == "/3");
}

TEST_CASE("nested errors carry the full JSON Pointer", "[value_validation]") {
    // Object { fields: Array<Object{ at: dateTime, tags: Map<Enum> }> }
    const auto inner = object_of({{"at", prim(SchemaKind::date_time)}, {"tags", map_of(string_enum())}});
    const auto s = object_of({{"fields", array_of(inner)}});
    const auto e = check(s, R"({"fields":[{"at":"2024-01-01T00:00:00Z"},{},{},
        {"at":"2024-01-01T00:00:00","tags":{"x":"N","y":"W"}}]})");
    REQUIRE(e.size() == 2);
    CHECK(e[0].path == "/fields/3/at");
    CHECK(e[1].path == "/fields/3/tags/y");
    CHECK_THAT(e[1].message, Catch::Contains("\"N\" (north)") && Catch::Contains("string \"W\""));
}

TEST_CASE("geospatial: GeoJSON geometries", "[value_validation]") {
    SECTION("point") {
        const auto s = prim(SchemaKind::point);
        expect_all(s, {R"({"type":"Point","coordinates":[47.6,-122.1]})", R"({"type":"Point","coordinates":[1,2,3]})",
                       R"({"type":"Point","coordinates":[1,2],"bbox":[1,2,1,2]})"},
                   true);
        expect_all(s, {"[1,2]", "null"}, false);
        CHECK(first(s, R"({"type":"Point","coordinates":[1]})").path == "/coordinates");
        CHECK(first(s, R"({"type":"Point","coordinates":[1,2,3,4]})").path == "/coordinates");
        CHECK(first(s, R"({"type":"Point","coordinates":[1,"2"]})").path == "/coordinates/1");
        CHECK(first(s, R"({"type":"point","coordinates":[1,2]})").path == "/type");
        const auto missing = check(s, R"({"coordinates":[1,2]})");
        REQUIRE(missing.size() == 1);
        CHECK(missing[0].path.empty());
        CHECK_THAT(missing[0].message, Catch::Contains("\"type\""));
        CHECK_THAT(first(s, R"({"type":"Point"})").message, Catch::Contains("coordinates"));
    }
    SECTION("multiPoint and lineString") {
        expect_all(prim(SchemaKind::multi_point),
                   {R"({"type":"MultiPoint","coordinates":[]})", R"({"type":"MultiPoint","coordinates":[[1,2],[3,4]]})"},
                   true);
        CHECK(first(prim(SchemaKind::multi_point), R"({"type":"MultiPoint","coordinates":[[1,2],[3]]})").path ==
              "/coordinates/1");
        const auto ls = prim(SchemaKind::line_string);
        expect_all(ls, {R"({"type":"LineString","coordinates":[[1,2],[3,4]]})"}, true);
        const auto one = check(ls, R"({"type":"LineString","coordinates":[[1,2]]})");
        REQUIRE(one.size() == 1);
        CHECK(one[0].path == "/coordinates");
        CHECK_THAT(one[0].message, Catch::Contains("at least 2"));
        CHECK(first(ls, R"({"type":"MultiPoint","coordinates":[[1,2],[3,4]]})").path == "/type");
    }
    SECTION("multiLineString") {
        const auto s = prim(SchemaKind::multi_line_string);
        expect_all(s, {R"({"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3],[4,4]]]})"}, true);
        CHECK(first(s, R"({"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2]]]})").path ==
              "/coordinates/1");
        CHECK(first(s, R"({"type":"MultiLineString","coordinates":[[[0,0],[1,true]]]})").path ==
              "/coordinates/0/1/1");
    }
    SECTION("polygon: closed linear rings of at least 4 positions") {
        const auto s = prim(SchemaKind::polygon);
        expect_all(s,
                   {R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]})",
                    R"({"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[2,1],[2,2],[1.0,1]]]})"},
                   true);
        const auto open = check(s, R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]})");
        REQUIRE(open.size() == 1);
        CHECK(open[0].path == "/coordinates/0");
        CHECK_THAT(open[0].message, Catch::Contains("closed"));
        const auto short_ring = check(s, R"({"type":"Polygon","coordinates":[[[0,0],[1,1],[0,0]]]})");
        REQUIRE(short_ring.size() == 1);
        CHECK_THAT(short_ring[0].message, Catch::Contains("at least 4"));
        CHECK(check(s, R"({"type":"Polygon","coordinates":[]})").size() == 1);
        CHECK(first(s, R"({"type":"Polygon","coordinates":[[0,0],[1,0],[1,1],[0,0]]})").path ==
              "/coordinates/0/0");
    }
    SECTION("multiPolygon") {
        const auto s = prim(SchemaKind::multi_polygon);
        expect_all(s, {R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]})"},
                   true);
        CHECK(first(s, R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,6]]]]})")
                  .path == "/coordinates/1/0");
    }
}

TEST_CASE("a schema missing its nested schema is reported, not dereferenced", "[value_validation]") {
    const auto s = array_of(nullptr);
    const auto e = check(s, "[1]");
    REQUIRE(e.size() == 1);
    CHECK(e[0].path == "/0");
}

TEST_CASE("messages quote long strings cut on a UTF-8 boundary", "[value_validation]") {
    std::string long_text = "x";  // shifts the 2-byte characters so byte 60 is a continuation byte
    for (int i = 0; i < 40; ++i) long_text += "\xc3\xa9";  // 80 bytes of 'é'
    const auto e = validate_value(*prim(SchemaKind::date), json(long_text));
    REQUIRE(e.size() == 1);
    CHECK_THAT(e[0].message, Catch::Contains("81 bytes"));
    CHECK_NOTHROW(json::parse(json(e[0].message).dump()));  // the message itself is valid UTF-8
}

TEST_CASE("string_conforms agrees with validate_value on every string", "[value_validation]") {
    const std::vector<SchemaPtr> schemas = {
        prim(SchemaKind::string), prim(SchemaKind::date),    prim(SchemaKind::time),     prim(SchemaKind::date_time),
        prim(SchemaKind::duration), string_enum(),           int_enum(),                 prim(SchemaKind::double_),
        prim(SchemaKind::integer),  prim(SchemaKind::boolean), array_of(prim(SchemaKind::string)),
        object_of({{"a", prim(SchemaKind::string)}}),
    };
    const std::vector<std::string> texts = {
        "", "N", "S", "north", "1", "2021-07-18", "2021-02-30", "12:00:00", "25:00:00", "12:00:00.5+02:00",
        "2026-07-01T08:34:59Z", "2026-07-01 08:34:59", "2026-07-01T08:34:59.1234567-05:30", "PT5M", "P1W", "5 minutes",
        "P", "quote \" and \\ and \xc3\xa9",
    };
    for (const SchemaPtr& schema : schemas) {
        for (const std::string& text : texts) {
            INFO("schema kind " << static_cast<int>(schema->kind) << ", text " << text);
            CHECK(string_conforms(*schema, text) == validate_value(*schema, json(text)).empty());
        }
    }
}
