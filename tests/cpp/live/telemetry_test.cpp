// Telemetry: checked against the twin's DTDL Telemetry contents, routed as
// microsoft.iot.telemetry, never changing twin state.
#include <catch2/catch.hpp>

#include <chrono>

#include "live_fixtures.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/telemetry.hpp"

using namespace twinsim;
using namespace std::chrono_literals;
using live::EventRouter;
using live::TelemetryError;
using nlohmann::json;

namespace {

struct Fixture {
    graph::TwinGraph g;
    test::Recorder rec;
    EventRouter router;
    Fixture() : router(g, opts()) {
        const auto docs = test::live_models();
        g.add_models(docs);
        g.upsert_twin("room1", test::live_room(20.0));
        router.add_endpoint("t", rec.endpoint());
        router.upsert_route({"t", "t", "type = 'microsoft.iot.telemetry'"});
    }
    static live::RouterOptions opts() {
        auto o = test::fast_options();
        o.source = "plant.example";
        return o;
    }
};

std::string telemetry_error(Fixture& f, const json& payload, const std::string& component = {},
                            const std::map<std::string, std::string>& units = {}) {
    try {
        f.router.publish_telemetry("room1", payload, "m", std::nullopt, component, units);
    } catch (const TelemetryError& e) {
        return e.what();
    }
    FAIL("accepted: " << payload.dump());
    return {};
}

}  // namespace

TEST_CASE("telemetry is routed as ADT's microsoft.iot.telemetry event", "[telemetry]") {
    Fixture f;
    const json before = f.g.get_twin("room1");
    const auto events_before = f.g.stats().events_emitted;
    const Timestamp measured = *parse_timestamp("2026-07-01T12:00:00Z");
    const std::uint64_t seq =
        f.router.publish_telemetry("room1", {{"airTemperature", 21.5}, {"occupancy", 3}}, "msg-1", measured);
    f.router.publish_telemetry("room1", {{"supply", 14.0}}, "msg-2", std::nullopt, "thermostat");
    f.router.publish_telemetry("room1", {{"state", "alarm"}, {"reading", {{"value", 1.5}, {"quality", "good"}}}});
    REQUIRE(f.router.flush(5s));
    const auto events = f.rec.snapshot();
    REQUIRE(events.size() == 3);
    const json& e = events[0];
    CHECK(e.at("type") == "microsoft.iot.telemetry");
    CHECK(e.at("id") == "msg-1");
    CHECK(e.at("source") == "plant.example/digitaltwins/room1");
    CHECK_FALSE(e.contains("subject"));  // the twin itself, not a component
    CHECK(e.at("dataschema") == "dtmi:live:Room;1");
    CHECK(e.at("telemetrysourcetime") == "2026-07-01T12:00:00.0000000Z");
    CHECK(e.at("data") == json({{"airTemperature", 21.5}, {"occupancy", 3}}));
    CHECK(e.at("specversion") == "1.0");
    CHECK(std::stoull(e.at("sequence").get<std::string>()) == seq);
    const json& c = events[1];
    CHECK(c.at("subject") == "thermostat");
    CHECK(c.at("dataschema") == "dtmi:live:Thermostat;1");
    CHECK(c.at("id") == "msg-2");
    CHECK_FALSE(c.contains("telemetrysourcetime"));
    CHECK(events[2].at("id").get<std::string>().size() == 36);  // no message id: a UUID
    // No twin state changed: same twin, same etag, no change event.
    CHECK(f.g.get_twin("room1") == before);
    CHECK(f.g.stats().events_emitted == events_before);
}

TEST_CASE("telemetry and changes share one gap-free sequence", "[telemetry]") {
    Fixture f;
    f.router.upsert_route({"all", "t", "true"});
    f.router.publish_telemetry("room1", {{"occupancy", 1}});
    f.g.update_twin("room1", json::parse(R"([{"op":"replace","path":"/temperature","value":3}])"));
    f.router.publish_telemetry("room1", {{"occupancy", 2}});
    REQUIRE(f.router.flush(5s));
    const auto events = f.rec.snapshot();
    REQUIRE(events.size() == 3);
    const auto first = std::stoull(events[0].at("sequence").get<std::string>());
    for (std::size_t k = 0; k < events.size(); ++k)
        CHECK(std::stoull(events[k].at("sequence").get<std::string>()) == first + k);
    CHECK(events[1].at("type") == "Microsoft.DigitalTwins.Twin.Update");
}

TEST_CASE("telemetry is checked against the model's Telemetry contents", "[telemetry]") {
    Fixture f;
    CHECK_THAT(telemetry_error(f, {{"humidity", 40}}),
               Catch::Contains("telemetry of twin 'room1' (model dtmi:live:Room;1), telemetry 'humidity': the model "
                               "declares no such telemetry (its telemetry: airTemperature, occupancy, state, reading)"));
    CHECK_THAT(telemetry_error(f, {{"temperature", 40}}), Catch::Contains("'temperature' is a Property of the model, not a Telemetry"));
    CHECK_THAT(telemetry_error(f, {{"occupancy", 2.5}}), Catch::Contains("telemetry 'occupancy'"));
    CHECK_THAT(telemetry_error(f, {{"airTemperature", "warm"}}), Catch::Contains("telemetry 'airTemperature'"));
    CHECK_THAT(telemetry_error(f, {{"state", "burning"}}), Catch::Contains("telemetry 'state'"));
    CHECK_THAT(telemetry_error(f, {{"reading", {{"value", "x"}}}}), Catch::Contains("/value"));
    CHECK_THAT(telemetry_error(f, json::array({1, 2})), Catch::Contains("must be a JSON object of telemetry names and values, not an array"));
    CHECK_THAT(telemetry_error(f, json::object()), Catch::Contains("the payload is empty"));
    CHECK_THAT(telemetry_error(f, {{"airTemperature", 1.0}}, "thermostat"),
               Catch::Contains("component 'thermostat' of model dtmi:live:Thermostat;1), telemetry 'airTemperature'"));
    try {
        f.router.publish_telemetry("nobody", {{"occupancy", 1}});
        FAIL("accepted");
    } catch (const graph::NotFoundError& e) {
        CHECK(e.code() == "DigitalTwinNotFound");
        CHECK_THAT(e.what(), Catch::Contains("twin 'nobody'"));
    }
    try {
        f.router.publish_telemetry("room1", {{"supply", 1.0}}, {}, std::nullopt, "boiler");
        FAIL("accepted");
    } catch (const graph::NotFoundError& e) {
        CHECK(e.code() == "ComponentNotFound");
        CHECK_THAT(e.what(), Catch::Contains("no component 'boiler' (components: thermostat)"));
    }
    // Nothing refused was routed.
    REQUIRE(f.router.flush(5s));
    CHECK(f.rec.snapshot().empty());
}

TEST_CASE("telemetry given in another unit is converted to the DTDL unit", "[telemetry]") {
    Fixture f;
    f.router.publish_telemetry("room1", {{"airTemperature", 68.0}}, {}, std::nullopt, {}, {{"airTemperature", "degreeFahrenheit"}});
    f.router.publish_telemetry("room1", {{"supply", 288.15}}, {}, std::nullopt, "thermostat", {{"supply", "kelvin"}});
    REQUIRE(f.router.flush(5s));
    const auto events = f.rec.snapshot();
    REQUIRE(events.size() == 2);
    CHECK(events[0].at("data").at("airTemperature").get<double>() == Approx(20.0));
    CHECK(events[1].at("data").at("supply").get<double>() == Approx(15.0));
    CHECK_THAT(telemetry_error(f, {{"airTemperature", 1.0}}, {}, {{"airTemperature", "kilowatt"}}),
               Catch::Contains("unit 'kilowatt' does not convert to the Telemetry's unit 'degreeCelsius'"));
    CHECK_THAT(telemetry_error(f, {{"airTemperature", 1.0}}, {}, {{"airTemperature", "furlong"}}), Catch::Contains("unknown unit 'furlong'"));
    CHECK_THAT(telemetry_error(f, {{"occupancy", 1}}, {}, {{"occupancy", "degC"}}), Catch::Contains("the Telemetry declares no unit"));
    CHECK_THAT(telemetry_error(f, {{"occupancy", 1}}, {}, {{"airTemperature", "degC"}}), Catch::Contains("which the payload does not carry"));
}
