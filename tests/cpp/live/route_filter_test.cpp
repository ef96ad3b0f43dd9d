// Route filters: ADT's syntax, evaluated by the shared expression evaluator.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "twinsim/live/route_filter.hpp"

using twinsim::live::RouteFilter;
using twinsim::live::RouteFilterError;
using nlohmann::json;

namespace {

json twin_create() {
    return json::parse(R"({"specversion":"1.0","id":"e1","type":"Microsoft.DigitalTwins.Twin.Create",
      "source":"myinstance.api.wus2.digitaltwins.azure.net","subject":"room1","time":"2026-07-01T00:00:00Z",
      "datacontenttype":"application/json","sequence":"00000000000000000001",
      "data":{"$dtId":"room1","$metadata":{"$model":"dtmi:example:com:floor4;2"},"Temperature":70.5}})");
}

json twin_update() {
    return json::parse(R"({"specversion":"1.0","id":"e2","type":"Microsoft.DigitalTwins.Twin.Update",
      "source":"myinstance.api.wus2.digitaltwins.azure.net","subject":"vav5","time":"2026-07-01T00:00:01Z",
      "datacontenttype":"application/json","sequence":"00000000000000000002",
      "data":{"modelId":"dtmi:example:com:floor4;2","patch":[{"op":"replace","path":"/Temperature","value":72}]}})");
}

json telemetry() {
    return json::parse(R"({"specversion":"1.0","id":"m1","type":"microsoft.iot.telemetry",
      "source":"myinstance.api.wus2.digitaltwins.azure.net/digitaltwins/room1","subject":"thermostat",
      "time":"2026-07-01T00:00:02Z","datacontenttype":"application/json","dataschema":"dtmi:example:com:floor4;2",
      "sequence":"00000000000000000003","data":{"Temperature":3.5}})");
}

bool on(const char* filter, const json& event) { return RouteFilter::parse(filter).matches(event); }

RouteFilterError error_of(const std::string& filter) {
    try {
        (void)RouteFilter::parse(filter);
    } catch (const RouteFilterError& e) {
        return e;
    }
    FAIL("the filter parsed: " << filter);
    return RouteFilterError("", 0, 0);
}

}  // namespace

TEST_CASE("every route filter example of ADT's documentation parses", "[routes]") {
    // The forms reference/adt.md and adt-service.md name (true/false, type,
    // source, subject, id, dataschema, datacontenttype, specversion, $body,
    // AND/OR/parentheses, comparisons, STARTS_WITH/ENDS_WITH/CONTAINS), as
    // ADT's "manage routes" page writes them.
    const char* examples[] = {
        "true",
        "false",
        "type = 'Microsoft.DigitalTwins.Twin.Create'",
        "type = 'Microsoft.DigitalTwins.Twin.Create' OR source = 'myinstance.api.wus2.digitaltwins.azure.net'",
        "type = 'Microsoft.DigitalTwins.Twin.Create' OR type = 'Microsoft.DigitalTwins.Twin.Update'",
        "source = 'myinstance.api.wus2.digitaltwins.azure.net'",
        "source = 'myinstance.api.wus2.digitaltwins.azure.net/digitaltwins/room1'",
        "subject = 'room1'",
        "subject = 'room1/relationships/rel1'",
        "id = 'e1'",
        "dataschema = 'dtmi:example:com:floor4;2'",
        "datacontenttype = 'application/json'",
        "specversion = '1.0'",
        "$body.$metadata.$model = 'dtmi:example:com:floor4;2'",
        "$body.modelId = 'dtmi:example:com:floor4;2'",
        "$body.Temperature > 70",
        "$body.Temperature >= 70 AND $body.Temperature <= 80",
        "$body.Temperature != 5.5",
        "$body.Temperature < 5.5",
        "type = 'Microsoft.DigitalTwins.Twin.Update' AND subject = 'vav5'",
        "(type = 'Microsoft.DigitalTwins.Twin.Create' OR type = 'Microsoft.DigitalTwins.Twin.Update') AND subject = 'vav5'",
        "STARTS_WITH($body.$metadata.$model, 'dtmi:example:com:floor')",
        "ENDS_WITH(subject, 'vav5')",
        "CONTAINS(subject, 'relationships')",
        "STARTS_WITH(source, 'myinstance') AND type = 'microsoft.iot.telemetry'",
    };
    for (const char* text : examples) {
        INFO(text);
        CHECK_NOTHROW(RouteFilter::parse(text));
    }
}

TEST_CASE("route filters select events as ADT documents them", "[routes]") {
    const json create = twin_create();
    const json update = twin_update();
    const json tele = telemetry();
    CHECK(on("true", create));
    CHECK_FALSE(on("false", create));
    CHECK(on("type = 'Microsoft.DigitalTwins.Twin.Create'", create));
    CHECK_FALSE(on("type = 'Microsoft.DigitalTwins.Twin.Create'", update));
    // Type strings are case-sensitive.
    CHECK_FALSE(on("type = 'microsoft.digitaltwins.twin.create'", create));
    CHECK(on("type = 'Microsoft.DigitalTwins.Twin.Create' OR source = 'x'", create));
    CHECK(on("type = 'x' OR source = 'myinstance.api.wus2.digitaltwins.azure.net'", update));
    CHECK_FALSE(on("type = 'x' OR source = 'y'", update));
    CHECK(on("$body.$metadata.$model = 'dtmi:example:com:floor4;2'", create));
    CHECK(on("$body.modelId = 'dtmi:example:com:floor4;2'", update));
    CHECK_FALSE(on("$body.modelId = 'dtmi:example:com:floor4;2'", create));  // missing: not routed
    CHECK(on("$body.Temperature > 70", create));
    CHECK_FALSE(on("$body.Temperature > 71", create));
    CHECK(on("STARTS_WITH($body.$metadata.$model, 'dtmi:example:com:floor')", create));
    CHECK(on("ENDS_WITH(subject, 'vav5')", update));
    CHECK_FALSE(on("ENDS_WITH(subject, 'vav5')", create));
    CHECK(on("CONTAINS(source, '/digitaltwins/')", tele));
    CHECK(on("type = 'microsoft.iot.telemetry' AND subject = 'thermostat' AND $body.Temperature < 5.5", tele));
    CHECK(on("(type = 'Microsoft.DigitalTwins.Twin.Create' OR type = 'Microsoft.DigitalTwins.Twin.Update') AND subject = 'vav5'", update));
    CHECK_FALSE(on("(type = 'Microsoft.DigitalTwins.Twin.Create' OR type = 'Microsoft.DigitalTwins.Twin.Update') AND subject = 'vav5'", create));
    CHECK(on("NOT type = 'microsoft.iot.telemetry'", create));
    CHECK(on("IS_DEFINED(dataschema)", tele));
    CHECK_FALSE(on("IS_DEFINED(dataschema)", create));
    CHECK(on("type IN ['Microsoft.DigitalTwins.Twin.Create', 'Microsoft.DigitalTwins.Twin.Delete']", create));
    CHECK(on("sequence > '00000000000000000002'", tele));
    CHECK(on("$body.patch = $body.patch", update));
    // Keywords and function names are case-insensitive.
    CHECK(on("starts_with(subject, 'room') and type = 'Microsoft.DigitalTwins.Twin.Create'", create));
}

TEST_CASE("a bad route filter is refused with its position and why", "[routes]") {
    {
        const auto e = error_of("type = ");
        CHECK(e.line() == 1);
        CHECK(e.column() == 8);
        CHECK_THAT(e.what(), Catch::Contains("route filter, line 1, column 8"));
    }
    {
        const auto e = error_of("type = 'a' OR typ = 'b'");
        CHECK(e.column() == 15);
        CHECK_THAT(e.what(), Catch::Contains("unknown event attribute 'typ'"));
    }
    {
        const auto e = error_of("STARTSWITH(subject, 'room')");
        CHECK(e.column() == 1);
        CHECK_THAT(e.what(), Catch::Contains("write STARTS_WITH"));
    }
    CHECK_THAT(error_of("ENDSWITH(subject, 'x')").what(), Catch::Contains("write ENDS_WITH"));
    CHECK_THAT(error_of("IS_OF_MODEL('dtmi:x;1')").what(), Catch::Contains("unknown function 'IS_OF_MODEL' (route filters know STARTS_WITH"));
    CHECK_THAT(error_of("STARTS_WITH(subject)").what(), Catch::Contains("STARTS_WITH takes 2 arguments but was given 1"));
    CHECK_THAT(error_of("subject.name = 'x'").what(), Catch::Contains("only $body has members"));
    CHECK_THAT(error_of("").what(), Catch::Contains("empty"));
    CHECK_THAT(error_of("   ").what(), Catch::Contains("empty"));
    CHECK_THAT(error_of("type = 'a' type").what(), Catch::Contains("line 1, column 12"));
    {
        const auto e = error_of("type = 'a'\n  AND (subject = )");
        CHECK(e.line() == 2);
        CHECK(e.column() == 18);
    }
}

TEST_CASE("route filters have a length and a nesting limit", "[routes]") {
    std::string long_filter = "subject = '" + std::string(twinsim::live::max_route_filter_length, 'x') + "'";
    CHECK_THAT(error_of(long_filter).what(), Catch::Contains("longer than the limit of 4096"));
    std::string deep;
    for (int k = 0; k < 40; ++k) deep += "(";
    deep += "true";
    for (int k = 0; k < 40; ++k) deep += ")";
    CHECK_THAT(error_of(deep).what(), Catch::Contains("nested deeper than 32"));
    std::string ok;
    for (int k = 0; k < 20; ++k) ok += "(";
    ok += "true";
    for (int k = 0; k < 20; ++k) ok += ")";
    CHECK(RouteFilter::parse(ok).matches(twin_create()));
    // Far beyond the parser's own limit: still an error, never a crash.
    std::string very_deep(3000, '(');
    CHECK_THROWS_AS(RouteFilter::parse(very_deep), RouteFilterError);
}
