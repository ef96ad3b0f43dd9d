// Saved routes (sim/live/saved_routes.hpp): a store's endpoints and routes
// survive the process, its events are numbered on across sessions, and a
// routes file that is malformed is refused with where and why.

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "live_fixtures.hpp"
#include "store_support.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/route_filter.hpp"
#include "twinsim/live/saved_routes.hpp"
#include "twinsim/live/store.hpp"

using namespace twinsim;

namespace {

void add_live_models(graph::TwinGraph& g) {
    const auto docs = test::live_models();
    g.add_models(docs);
}

std::string parse_error(const std::string& text) {
    try {
        (void)live::parse_saved_routes(text, "routes.json");
    } catch (const live::SavedRoutesError& e) {
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("a store's file endpoints and routes outlive the process that saved them", "[saved_routes]") {
    test::TempDir dir("saved-routes");
    const auto events_file = dir.path / "events.ndjson";
    {
        auto store = live::open_store(dir.path / "s");
        add_live_models(store->graph());
        live::StoreEvents events(store->graph(), store->directory(), test::fast_options());
        events.saved().add_file_endpoint({"log", events_file, {}});
        events.saved().upsert_route({"updates", "log", "type = 'Microsoft.DigitalTwins.Twin.Update'"});
        store->graph().upsert_twin("r1", test::live_room(20.0));
        store->graph().update_twin("r1", nlohmann::json::parse(R"([{"op":"replace","path":"/temperature","value":21.5}])"));
        events.close();
    }
    auto first = test::read_ndjson(events_file);
    REQUIRE(first.size() == 1);  // the create is not an update
    CHECK(first[0]["type"] == "Microsoft.DigitalTwins.Twin.Update");

    // The file a user can read and edit holds exactly what was saved.
    const auto saved = live::read_saved_routes(live::saved_routes_file(dir.path / "s"));
    REQUIRE(saved.endpoints.size() == 1);
    CHECK(saved.endpoints[0].path == events_file);
    REQUIRE(saved.routes.size() == 1);
    CHECK(saved.routes[0].filter == "type = 'Microsoft.DigitalTwins.Twin.Update'");

    // A new session: the routes are back without being added again, and
    // numbering goes on from the last session's.
    {
        auto store = live::open_store(dir.path / "s");
        live::StoreEvents events(store->graph(), store->directory(), test::fast_options());
        CHECK(events.router().routes().size() == 1);
        store->graph().update_twin("r1", nlohmann::json::parse(R"([{"op":"replace","path":"/temperature","value":23}])"));
        events.close();
    }
    auto both = test::read_ndjson(events_file);
    REQUIRE(both.size() == 2);
    CHECK(both[1]["data"]["patch"][0]["value"] == 23);
    CHECK(std::stoull(both[1]["sequence"].get<std::string>()) > std::stoull(both[0]["sequence"].get<std::string>()));
    // Two notifications in session one (the models came before its router): the next is the third.
    CHECK(both[1]["sequence"] == "00000000000000000003");
}

TEST_CASE("changes committed while no router ran keep their numbers", "[saved_routes]") {
    test::TempDir dir("saved-routes-gap");
    test::Recorder recorder;
    {
        auto store = live::open_store(dir.path / "s");
        add_live_models(store->graph());
        live::StoreEvents events(store->graph(), store->directory(), test::fast_options());
        events.router().add_endpoint("rec", recorder.endpoint());
        events.router().upsert_route({"all", "rec", "true"});
        store->graph().upsert_twin("r1", test::live_room(20.0));  // notification 1 (the models came before the router)
        events.close();
        // Three changes with no router (as a crashed process's would be).
        for (int i = 0; i < 3; ++i)
            store->graph().update_twin("r1", nlohmann::json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", i}}}));
    }
    test::Recorder later;
    auto store = live::open_store(dir.path / "s");
    live::StoreEvents events(store->graph(), store->directory(), test::fast_options());
    // A callback endpoint and a route to it belong to this process only.
    events.router().add_endpoint("rec", later.endpoint());
    events.saved().upsert_route({"all", "rec", "true"});
    CHECK_FALSE(events.saved().is_saved_route("all"));
    store->graph().update_twin("r1", nlohmann::json::parse(R"([{"op":"replace","path":"/temperature","value":30}])"));
    events.close();
    REQUIRE(later.snapshot().size() == 1);
    CHECK(later.snapshot()[0]["sequence"] == "00000000000000000005");  // 1, then 3 changes unnotified
    CHECK(live::read_saved_routes(live::saved_routes_file(dir.path / "s")).routes.empty());
}

TEST_CASE("saved-route edits are checked by the router before the file changes", "[saved_routes]") {
    test::TempDir dir("saved-routes-edit");
    auto store = live::open_store(dir.path / "s");
    live::StoreEvents events(store->graph(), store->directory(), test::fast_options());
    events.saved().add_file_endpoint({"log", dir.path / "e.ndjson", {}});
    CHECK_THROWS_AS(events.saved().upsert_route({"bad", "log", "type = "}), live::RouteFilterError);
    CHECK_THROWS_AS(events.saved().upsert_route({"r", "nowhere", "true"}), graph::ValidationError);
    CHECK_THROWS_AS(events.saved().add_file_endpoint({"log", dir.path / "other.ndjson", {}}), live::LiveError);
    events.saved().upsert_route({"r", "log", "true"});
    CHECK_THROWS_AS(events.saved().remove_endpoint("log"), live::LiveError);  // a route uses it
    events.saved().delete_route("r");
    CHECK_THROWS_AS(events.saved().delete_route("r"), graph::NotFoundError);
    events.saved().remove_endpoint("log");
    const auto saved = live::read_saved_routes(live::saved_routes_file(dir.path / "s"));
    CHECK(saved.endpoints.empty());
    CHECK(saved.routes.empty());
    CHECK_FALSE(std::filesystem::exists(live::saved_routes_file(dir.path / "s").string() + ".part"));
}

TEST_CASE("a malformed routes file is refused with where and why", "[saved_routes]") {
    CHECK_THAT(parse_error("{\"endpoints\": [}"), Catch::Contains("line 1, column 16") && Catch::Contains("not valid JSON"));
    CHECK_THAT(parse_error("[]"), Catch::Contains("must be a JSON object"));
    CHECK_THAT(parse_error(R"({"version": 2})"), Catch::Contains("/version") && Catch::Contains("reads version 1"));
    CHECK_THAT(parse_error(R"({"extra": 1})"), Catch::Contains("unknown member \"extra\""));
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": "a", "kind": "ndjson", "path": "rel.ndjson"}]})"),
               Catch::Contains("/endpoints/0/path") && Catch::Contains("absolute"));
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": "a", "kind": "ftp", "path": "/x"}]})"),
               Catch::Contains("/endpoints/0/kind") && Catch::Contains("known: ndjson, mqtt, webhook"));
    // Webhooks (saved by twinsim serve): an http(s) URL, an absolute CA file, nothing else.
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": "a", "kind": "webhook", "path": "/x"}]})"),
               Catch::Contains("/endpoints/0") && Catch::Contains("unknown member \"path\""));
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": "a", "kind": "webhook", "url": "ftp://h/x"}]})"),
               Catch::Contains("/endpoints/0/url") && Catch::Contains("http"));
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": "a", "kind": "webhook", "url": "https://h/x", "caFile": "ca.pem"}]})"),
               Catch::Contains("/endpoints/0/caFile") && Catch::Contains("absolute"));
    {
        const auto hooks = live::parse_saved_routes(
            R"({"endpoints": [{"name": "h", "kind": "webhook", "url": "https://h:8/x", "caFile": "/ca.pem"}],
                "routes": [{"id": "r", "endpointName": "h", "filter": "true"}]})", "hooks");
        REQUIRE(hooks.endpoints.size() == 1);
        CHECK(hooks.endpoints[0].kind == "webhook");
        CHECK(hooks.endpoints[0].url == "https://h:8/x");
        CHECK(hooks.endpoints[0].path == "/ca.pem");
        CHECK(live::parse_saved_routes(live::saved_routes_text(hooks), "again").endpoints[0].url == "https://h:8/x");
    }
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": 3, "kind": "ndjson", "path": "/x"}]})"),
               Catch::Contains("/endpoints/0/name") && Catch::Contains("must be a string, not number"));
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": "a", "kind": "ndjson", "path": "/x", "maxBytes": 0}]})"),
               Catch::Contains("/endpoints/0/maxBytes"));
    CHECK_THAT(parse_error(R"({"endpoints": [{"name": "a", "kind": "ndjson", "path": "/x"},
                                             {"name": "a", "kind": "ndjson", "path": "/y"}]})"),
               Catch::Contains("/endpoints/1/name") && Catch::Contains("named twice"));
    CHECK_THAT(parse_error(R"({"routes": [{"id": "r", "endpointName": "none"}]})"),
               Catch::Contains("/routes/0/endpointName") && Catch::Contains("not in the file"));
    CHECK_THAT(parse_error(R"x({"endpoints": [{"name": "a", "kind": "ndjson", "path": "/x"}],
                               "routes": [{"id": "r", "endpointName": "a", "filter": "type = STARTSWITH(type, 'x')"}]})x"),
               Catch::Contains("/routes/0/filter"));
    CHECK_THAT(parse_error(std::string(200, '[') + std::string(200, ']')), Catch::Contains("128 levels"));
    CHECK_THAT(parse_error(std::string(live::max_saved_routes_bytes + 1, ' ')), Catch::Contains("more than the limit"));
    CHECK(parse_error(R"({"version": 1, "endpoints": [], "routes": []})") == "accepted");
}

TEST_CASE("the routes file round-trips and a damaged one stops the store's events, not the store", "[saved_routes]") {
    test::TempDir dir("saved-routes-file");
    live::SavedRouteSet set;
    set.endpoints.push_back({"b", "/tmp/b.ndjson", {}});
    set.endpoints.push_back({"a", "/tmp/a.ndjson", {1000, 2}});
    set.routes.push_back({"r2", "b", "source = 'x' OR type = 'y'"});
    set.routes.push_back({"r1", "a", "true"});
    const auto file = dir.path / "routes.json";
    live::write_saved_routes(file, set);
    const auto back = live::read_saved_routes(file);
    REQUIRE(back.endpoints.size() == 2);
    CHECK(back.endpoints[0].name == "a");
    CHECK(back.endpoints[0].options.max_bytes == 1000);
    CHECK(back.endpoints[0].options.keep == 2);
    CHECK(back.routes[0].id == "r1");
    CHECK(live::saved_routes_text(back) == live::saved_routes_text(set));

    std::filesystem::create_directories(dir.path / "s");
    std::ofstream(live::saved_routes_file(dir.path / "s")) << "{\"routes\": 7}";
    auto store = live::open_store(dir.path / "s");
    CHECK_THROWS_WITH(live::StoreEvents(store->graph(), store->directory()),
                      Catch::Contains("/routes") && Catch::Contains("must be an array"));
    store->graph().add_models(test::live_models());  // the store itself still works
}
