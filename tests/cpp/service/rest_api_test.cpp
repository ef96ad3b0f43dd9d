// The REST API without a transport (sim/service/rest_api.hpp): routes, ADT's
// status codes, headers and error bodies, and that a refused request leaves
// the store unchanged. The Azure SDK drives the same API over TLS in
// tests/python/test_service_sdk.py.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "../live/store_support.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/service/rest_api.hpp"

using namespace twinsim;
using nlohmann::json;
using service::Operation;

namespace {

const char* room_model = R"([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:t:Room;1", "@type": "Interface",
  "contents": [{"@type": "Property", "name": "t", "schema": "double"},
               {"@type": "Relationship", "name": "next", "target": "dtmi:t:Room;1"}]}])";

service::Request request(std::string method, std::string target, std::string body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
    service::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.base_url = "https://example.test";
    return r;
}

std::string v(const std::string& path) { return path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=2023-10-31"; }

std::string code_of(const service::Response& r) { return json::parse(r.body)["error"]["code"].get<std::string>(); }

}  // namespace

TEST_CASE("parse_route finds every operation and decodes ids", "[service]") {
    service::ApiError error;
    const auto op = [&](const char* method, const char* target) {
        const auto route = service::parse_route(method, target, error);
        REQUIRE(route);
        return route->operation;
    };
    CHECK(op("GET", "/models") == Operation::list_models);
    CHECK(op("POST", "/models") == Operation::add_models);
    CHECK(op("PATCH", "/models/dtmi:t:Room;1") == Operation::update_model);
    CHECK(op("POST", "/query") == Operation::query);
    CHECK(op("PUT", "/digitaltwins/a") == Operation::upsert_twin);
    CHECK(op("GET", "/digitaltwins/a/relationships") == Operation::list_relationships);
    CHECK(op("DELETE", "/digitaltwins/a/relationships/r") == Operation::delete_relationship);
    CHECK(op("GET", "/digitaltwins/a/incomingrelationships") == Operation::list_incoming_relationships);
    CHECK(op("PATCH", "/digitaltwins/a/components/c") == Operation::update_component);
    CHECK(op("POST", "/digitaltwins/a/components/c/telemetry") == Operation::publish_component_telemetry);
    CHECK(op("POST", "/digitaltwins/a/telemetry") == Operation::publish_telemetry);
    CHECK(op("PUT", "/eventroutes/x") == Operation::upsert_event_route);
    CHECK(op("GET", "/health") == Operation::health);
    CHECK(op("GET", "/results") == Operation::list_results);
    CHECK(op("GET", "/results/a.h5") == Operation::get_results);
    CHECK(op("GET", "/results/a.h5/comparison") == Operation::compare_results);
    CHECK(op("GET", "/results/a.h5/sparkline") == Operation::results_sparkline);
    CHECK(service::parse_route("GET", "/results/my%20run.h5/sparkline?twin=x", error)->results_file == "my run.h5");
    CHECK_FALSE(service::parse_route("POST", "/results", error));
    CHECK(error.status == 405);
    CHECK_FALSE(service::parse_route("GET", "/results/a.h5/other", error));
    CHECK(error.status == 404);

    const auto route = service::parse_route("GET", "/digitaltwins/room%201/relationships/r%2F2?x=1", error);
    REQUIRE(route);
    CHECK(route->twin_id == "room 1");
    CHECK(route->relationship_id == "r/2");  // an escaped slash stays inside its segment
    CHECK(service::parse_route("GET", "/models/dtmi%3At%3ARoom%3B1", error)->model_id == "dtmi:t:Room;1");

    CHECK_FALSE(service::parse_route("DELETE", "/query", error));
    CHECK(error.status == 405);
    CHECK_FALSE(service::parse_route("GET", "/nothing/here", error));
    CHECK(error.status == 404);
    CHECK_FALSE(service::parse_route("GET", "/digitaltwins/a%zz", error));
    CHECK(error.status == 400);
    CHECK_FALSE(service::parse_route("GET", "/digitaltwins/a%0Ab", error));  // control character in an id
    CHECK(error.status == 400);
    CHECK_FALSE(service::parse_route("GET", "/digitaltwins/" + std::string(513, 'x'), error));
    CHECK(error.status == 400);
    CHECK_FALSE(service::parse_route("GET", "", error));
    CHECK_FALSE(service::parse_route("GET", "/digitaltwins/%", error));
}

TEST_CASE("RestApi answers with ADT's status codes, etags and error bodies", "[service]") {
    test::TempDir dir("service");
    auto store = live::open_store(dir.path / "store");
    service::RestApi api(*store, nullptr);

    auto r = api.handle(request("POST", v("/models"), room_model, {{"Content-Type", "application/json"}}));
    REQUIRE(r.status == 201);
    CHECK(json::parse(r.body)[0]["id"] == "dtmi:t:Room;1");

    const std::string twin = R"({"$metadata": {"$model": "dtmi:t:Room;1"}, "t": 1.5})";
    r = api.handle(request("PUT", v("/digitaltwins/a"), twin, {{"If-None-Match", "*"}}));
    REQUIRE(r.status == 200);
    const std::string etag(*r.header("ETag"));
    const json created = json::parse(r.body);
    CHECK(created["$etag"] == etag);
    r = api.handle(request("PUT", v("/digitaltwins/a"), twin, {{"If-None-Match", "*"}}));
    CHECK(r.status == 412);
    CHECK(*r.header("x-ms-error-code") == "PreconditionFailed");
    r = api.handle(request("PUT", v("/digitaltwins/a"), twin, {{"If-None-Match", "W/\"1\""}}));
    CHECK(r.status == 400);

    const std::string patch = R"([{"op": "replace", "path": "/t", "value": 2.5}])";
    r = api.handle(request("PATCH", v("/digitaltwins/a"), patch, {{"If-Match", etag}, {"traceparent", "00-x"}}));
    REQUIRE(r.status == 204);
    CHECK(r.body.empty());
    CHECK(*r.header("ETag") != etag);
    CHECK(*r.header("traceparent") == "00-x");
    r = api.handle(request("PATCH", v("/digitaltwins/a"), patch, {{"If-Match", etag}}));
    CHECK(r.status == 412);
    CHECK(code_of(r) == "PreconditionFailed");

    SECTION("?as-of= queries the graph as it was") {
        const std::string q = R"js({"query": "SELECT T.t FROM DIGITALTWINS T WHERE T.$dtId = 'a'"})js";
        const auto rows_at = [&](const std::string& when) {
            const auto answer = api.handle(request("POST", v("/query?as-of=" + when), q));
            REQUIRE(answer.status == 200);
            return json::parse(answer.body)["value"];
        };
        CHECK(rows_at("2000-01-01T00:00:00Z").empty());  // before the first change: the empty graph
        // $lastUpdateTime is written in 100 ns ticks, rounded down: one tick later holds the create
        const auto created_at = parse_timestamp(created["$metadata"]["$lastUpdateTime"].get<std::string>());
        REQUIRE(created_at);
        const std::string after_create = format_timestamp(Timestamp{created_at->ns + 100}, TimestampPrecision::nanoseconds);
        CHECK(rows_at(after_create) == json::parse(R"([{"t": 1.5}])"));  // before the PATCH
        CHECK(rows_at("2200-01-01T00:00:00%2B01:00") == json::parse(R"([{"t": 2.5}])"));  // after the last: now
        r = api.handle(request("POST", v("/query?as-of=yesterday"), q));
        CHECK(r.status == 400);
        CHECK(code_of(r) == "InvalidArgument");
        CHECK(json::parse(r.body)["error"]["message"].get<std::string>().find("as-of \"yesterday\"") != std::string::npos);
    }
    SECTION("refused requests change nothing") {
        const json before = test::observable(store->graph().snapshot());
        CHECK(api.handle(request("PATCH", v("/digitaltwins/a"), "[{\"op\": \"replace\"")).status == 400);
        CHECK(api.handle(request("PATCH", v("/digitaltwins/a"), R"([{"op": "replace", "path": "/t", "value": 3},
                                                                    {"op": "replace", "path": "/nope", "value": 1}])"))
                  .status == 400);
        CHECK(api.handle(request("PUT", v("/digitaltwins/b"), std::string(200, '[') + std::string(200, ']'))).status == 400);
        CHECK(api.handle(request("PUT", v("/digitaltwins/b"), twin, {{"Content-Type", "text/csv"}})).status == 415);
        CHECK(api.handle(request("PUT", v("/digitaltwins/b"), std::string(9u << 20, ' '))).status == 413);
        CHECK(api.handle(request("DELETE", v("/models/dtmi:t:Room;1"))).status == 409);
        CHECK(test::observable(store->graph().snapshot()) == before);
    }
    SECTION("relationships, lists and paging") {
        REQUIRE(api.handle(request("PUT", v("/digitaltwins/b"), twin)).status == 200);
        for (int i = 0; i < 5; ++i) {
            const std::string body = R"({"$relationshipName": "next", "$targetId": "b"})";
            REQUIRE(api.handle(request("PUT", v("/digitaltwins/a/relationships/r" + std::to_string(i)), body)).status == 200);
        }
        r = api.handle(request("GET", v("/digitaltwins/a/relationships"), {}, {{"max-items-per-page", "2"}}));
        REQUIRE(r.status == 200);
        json page = json::parse(r.body);
        CHECK(page["value"].size() == 2);
        const std::string next = page["nextLink"];
        REQUIRE(next.rfind("https://example.test/digitaltwins/a/relationships?", 0) == 0);
        r = api.handle(request("GET", next.substr(std::string("https://example.test").size())));
        CHECK(json::parse(r.body)["value"].size() == 2);
        r = api.handle(request("GET", v("/digitaltwins/b/incomingrelationships")));
        CHECK(json::parse(r.body)["value"].size() == 5);
        CHECK(json::parse(r.body)["nextLink"].is_null());
        r = api.handle(request("DELETE", v("/digitaltwins/b")));
        CHECK(r.status == 400);
        CHECK(code_of(r) == "RelationshipsNotDeleted");
        r = api.handle(request("GET", v("/digitaltwins/a/relationships?continuationToken=x")));
        CHECK(r.status == 400);
    }
    SECTION("query pages keep their snapshot while the graph moves on") {
        for (int i = 0; i < 5; ++i) REQUIRE(api.handle(request("PUT", v("/digitaltwins/q" + std::to_string(i)), twin)).status == 200);
        const std::string q = R"js({"query": "SELECT T.$dtId FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'q')"})js";
        r = api.handle(request("POST", v("/query"), q, {{"max-items-per-page", "2"}}));
        REQUIRE(r.status == 200);
        CHECK(r.header("query-charge"));
        json page = json::parse(r.body);
        std::size_t rows = page["value"].size();
        REQUIRE(api.handle(request("PUT", v("/digitaltwins/q9"), twin)).status == 200);  // a write between pages
        while (!page["continuationToken"].is_null()) {
            r = api.handle(request("POST", v("/query"), json{{"continuationToken", page["continuationToken"]}}.dump(),
                                   {{"max-items-per-page", "2"}}));
            REQUIRE(r.status == 200);
            page = json::parse(r.body);
            rows += page["value"].size();
        }
        CHECK(rows == 5);
        r = api.handle(request("POST", v("/query"), R"({"query": "SELECT FROM"})"));
        CHECK(r.status == 400);
        CHECK(code_of(r) == "SqlQueryError");
    }
    SECTION("models: decommission by JSON Patch only") {
        r = api.handle(request("PATCH", v("/models/dtmi:t:Room;1"), R"([{"op": "replace", "path": "/displayName", "value": "x"}])"));
        CHECK(r.status == 400);
        CHECK(code_of(r) == "JsonPatchInvalid");
        r = api.handle(request("PATCH", v("/models/dtmi:t:Room;1"), R"([{"op": "replace", "path": "/decommissioned", "value": true}])"));
        CHECK(r.status == 204);
        r = api.handle(request("PUT", v("/digitaltwins/z"), twin));
        CHECK(code_of(r) == "ModelDecommissioned");
        r = api.handle(request("GET", v("/models/dtmi:t:Nope;1")));
        CHECK(r.status == 404);
        CHECK(code_of(r) == "ModelNotFound");
    }
    SECTION("api-version, event routes without a router, unknown paths") {
        CHECK(api.handle(request("GET", "/digitaltwins/a")).status == 400);
        CHECK(api.handle(request("GET", "/digitaltwins/a?api-version=2022-05-31")).status == 200);
        CHECK(api.handle(request("GET", v("/eventroutes"))).status == 501);
        CHECK(api.handle(request("GET", v("/nothing"))).status == 404);
        CHECK(api.handle(request("GET", "/health")).status == 200);
        r = api.handle(request("POST", v("/digitaltwins/a/telemetry"), R"({"t": 1})"));
        CHECK(r.status == 400);  // no Message-Id
    }
}
