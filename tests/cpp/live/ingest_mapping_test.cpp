// Ingestion mappings: loading, checking against the models, clear errors.

#include <catch2/catch.hpp>

#include "ingest_fixture.hpp"
#include "twinsim/live/ingest/mapping.hpp"

using namespace twinsim;
using namespace twinsim::live::ingest;

namespace {

std::string error_of(const std::string& yaml) {
    auto graph = test::ingest_graph();
    try {
        (void)Mapping::parse(yaml, "m.yaml", *graph->snapshot().models());
    } catch (const MappingError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("the sample mapping file loads and is checked against the models", "[ingest]") {
    auto graph = test::ingest_graph();
    const Mapping m = Mapping::load_file(test::ingest_sample("mapping.yaml"), *graph->snapshot().models());
    REQUIRE(m.messages.size() == 3);
    CHECK(m.messages[0].follow == "serves");
    CHECK(m.messages[0].target_model == "dtmi:example:ingest:Room;1");  // from the relationship's target
    CHECK(m.messages[0].set[0].unit == "degF");
    CHECK(m.messages[1].transform == IdTransform::lower);
    CHECK(m.messages[1].set[0].property == "supplyTemperature");
    CHECK(m.messages[2].where == "serialNumber = {serial}");
    REQUIRE(m.columns.size() == 1);
    CHECK(m.columns[0].twin == "ahu-3");
}

TEST_CASE("a mapping naming what the models lack is refused with file:line and field", "[ingest]") {
    CHECK(error_of("mappings:\n  - twin: {id: \"{d}\"}\n    model: dtmi:example:ingest:Nope;1\n    set: {t: temperature}\n") ==
          "m.yaml:3: mappings[0].model: unknown interface 'dtmi:example:ingest:Nope;1' (no model defines it)");
    CHECK(error_of("mappings:\n  - twin: \"{d}\"\n    model: dtmi:example:ingest:Room;1\n    set:\n      t: temprature\n") ==
          "m.yaml:5: mappings[0].set.t.property: interface 'dtmi:example:ingest:Room;1' declares no property 'temprature'");
    CHECK(error_of("mappings:\n  - twin: \"{d}\"\n    model: dtmi:example:ingest:Thermostat;1\n    follow: feeds\n    set: {t: temperature}\n") ==
          "m.yaml:4: mappings[0].follow: interface 'dtmi:example:ingest:Thermostat;1' declares no relationship 'feeds'");
    CHECK(error_of("mappings:\n  - twin: \"{d}\"\n    set: {t: nothingLikeThis}\n") ==
          "m.yaml:3: mappings[0].set.t.property: no model declares a property 'nothingLikeThis'");
}

TEST_CASE("mapping units must exist and convert to the property's DTDL unit", "[ingest]") {
    CHECK(error_of("mappings:\n  - twin: \"{d}\"\n    model: dtmi:example:ingest:Room;1\n    set:\n      t: {property: temperature, unit: furlong}\n") ==
          "m.yaml:5: mappings[0].set.t.unit: unknown unit 'furlong'");
    CHECK(error_of("mappings:\n  - twin: \"{d}\"\n    model: dtmi:example:ingest:Room;1\n    set:\n      t: {property: temperature, unit: kW}\n") ==
          "m.yaml:5: mappings[0].set.t.unit: 'kW' does not convert to the property's unit 'degreeCelsius'");
    CHECK(error_of("mappings:\n  - twin: \"{d}\"\n    model: dtmi:example:ingest:Room;1\n    set:\n      p: {property: people, unit: degF}\n") ==
          "m.yaml:5: mappings[0].set.p.unit: the property declares no unit to convert 'degF' to");
}

TEST_CASE("mapping syntax: unknown keys, templates, expressions, YAML errors", "[ingest]") {
    CHECK(error_of("mappings:\n  - twin: \"{d}\"\n    sett: {t: temperature}\n") ==
          "m.yaml:3: mappings[0].sett: unknown key (expected one of: name, topic, when, twin, model, follow, target_model, set)");
    CHECK(error_of("mappings:\n  - twin: \"{d\"\n    set: {t: temperature}\n") ==
          "m.yaml:2: mappings[0].twin.id: '{' without '}' in \"{d\"");
    CHECK(error_of("mappings:\n  - twin: {where: \"serialNumber = = {s}\"}\n    set: {t: temperature}\n")
              .rfind("m.yaml:2: mappings[0].twin.where: invalid expression:", 0) == 0);
    CHECK(error_of("mappings:\n  - twin: {id: \"{d}\", where: \"x = 1\"}\n    set: {t: temperature}\n") ==
          "m.yaml:2: mappings[0].twin: give exactly one of 'id' and 'where'");
    CHECK(error_of("mappings: [\n").rfind("m.yaml:", 0) == 0);
    CHECK(error_of("mappings:\n  - twin: {id: \"{d}\", transform: sideways}\n    set: {t: temperature}\n") ==
          "m.yaml:2: mappings[0].twin.transform: unknown transform 'sideways' (expected none, lower, upper or trim)");
}

TEST_CASE("a mapping given as data (a Python dict) is checked the same, without lines", "[ingest]") {
    auto graph = test::ingest_graph();
    const nlohmann::json doc = {{"mappings", {{{"twin", "{d}"}, {"model", "dtmi:example:ingest:AirHandler;1"},
                                                {"set", {{"sat", "supplyTemprature"}}}}}}};
    try {
        (void)Mapping::from_json(doc, "<mapping>", *graph->snapshot().models());
        FAIL("no error");
    } catch (const MappingError& e) {
        CHECK(std::string(e.what()) ==
              "<mapping>: mappings[0].set.sat.property: interface 'dtmi:example:ingest:AirHandler;1' declares no property 'supplyTemprature'");
        CHECK(e.line() == 0);
    }
}

TEST_CASE("a mapping above 16 MiB is refused, as a file (before reading it) and as text", "[ingest]") {
    auto graph = test::ingest_graph();
    test::TempDir dir;
    const auto file = dir.write("huge.yaml", "mappings: []\n");
    std::filesystem::resize_file(file, (std::uintmax_t{16} << 20) + 1);
    CHECK_THROWS_WITH(Mapping::load_file(file, *graph->snapshot().models()), Catch::Contains("at most 16 MiB"));
    const std::string text((std::size_t{16} << 20) + 1, ' ');
    CHECK_THROWS_AS(Mapping::parse(text, "big.yaml", *graph->snapshot().models()), MappingError);
    CHECK_THAT(error_of(std::string(200, '[') + std::string(200, ']')), Catch::Contains("m.yaml"));
}

TEST_CASE("topic patterns match MQTT topics and capture their named segments", "[ingest][mqtt]") {
    std::vector<TopicSegment> captured;
    REQUIRE(match_topic("site/{site}/ahu/{ahu}/telemetry", "site/north/ahu/3/telemetry", captured));
    REQUIRE(captured.size() == 2);
    CHECK((captured[0].name == "site" && captured[0].value == "north"));
    CHECK((captured[1].name == "ahu" && captured[1].value == "3"));
    CHECK_FALSE(match_topic("site/{site}/ahu/{ahu}/telemetry", "site/north/ahu/3", captured));
    CHECK_FALSE(match_topic("site/{site}/ahu/{ahu}/telemetry", "site/north/ahu/3/telemetry/x", captured));
    CHECK_FALSE(match_topic("site/+/ahu", "site/n/vav", captured));
    CHECK(match_topic("site/+/ahu", "site//ahu", captured));  // an empty level is a level
    CHECK(match_topic("site/#", "site", captured));
    CHECK(match_topic("site/#", "site/a/b/c", captured));
    CHECK(match_topic("#", "anything/at/all", captured));
    CHECK_FALSE(match_topic("site/#", "sites/a", captured));
    CHECK(topic_filter("site/{site}/ahu/{ahu}/telemetry") == "site/+/ahu/+/telemetry");
    CHECK(topic_filter("a/+/#") == "a/+/#");
}

TEST_CASE("a mapping's topic pattern is checked when it is loaded", "[ingest][mqtt]") {
    const std::string head = "mappings:\n  - topic: \"";
    const std::string tail = "\"\n    twin: \"ahu-{ahu}\"\n    set: {sat: supplyTemperature}\n";
    CHECK(error_of(head + "site/#/ahu/{ahu}" + tail) ==
          "m.yaml:2: mappings[0].topic: '#' must be the last segment of \"site/#/ahu/{ahu}\"");
    CHECK(error_of(head + "site/x{ahu}" + tail) ==
          "m.yaml:2: mappings[0].topic: segment 'x{ahu}' of \"site/x{ahu}\": '+', '#' and '{name}' must each be a whole segment");
    CHECK(error_of(head + "a/{ahu}/{ahu}" + tail) == "m.yaml:2: mappings[0].topic: segment name 'ahu' used twice in \"a/{ahu}/{ahu}\"");
    auto graph = test::ingest_graph();
    const Mapping m = Mapping::parse(head + "site/+/ahu/{ahu}/#" + tail, "m.yaml", *graph->snapshot().models());
    CHECK(m.messages[0].topic == "site/+/ahu/{ahu}/#");
}
