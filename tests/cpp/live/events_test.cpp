// CloudEvents notifications of a live graph, routes, endpoints and delivery.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "live_fixtures.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/route_filter.hpp"

using namespace twinsim;
using namespace std::chrono_literals;
using live::EventRoute;
using live::EventRouter;
using nlohmann::json;

namespace {

std::uint64_t seq_of(const json& e) { return std::stoull(e.at("sequence").get<std::string>()); }

// Appended, not "t" + std::string: GCC 12's false -Wrestrict at -O3.
std::string twin_name(int k) {
    std::string s = "t";
    s += std::to_string(k);
    return s;
}

void with_models(graph::TwinGraph& g) {
    const auto docs = test::live_models();
    g.add_models(docs);
}

}  // namespace

TEST_CASE("every committed change becomes a CloudEvent in ADT's shape", "[events]") {
    graph::TwinGraph g;
    test::Recorder rec;
    auto opt = test::fast_options();
    opt.source = "plant.example";
    EventRouter router(g, opt);
    router.add_endpoint("all", rec.endpoint());
    router.upsert_route({"r", "all", "true"});
    with_models(g);
    g.upsert_twin("room1", test::live_room(20.0));
    g.upsert_twin("room2", test::live_room(21.0));
    g.update_twin("room1", json::parse(R"([{"op":"replace","path":"/temperature","value":22.5}])"));
    g.upsert_relationship("room1", "r12", {{"$targetId", "room2"}, {"$relationshipName", "next"}});
    g.delete_relationship("room1", "r12");
    g.delete_twin("room2");
    g.decommission_model("dtmi:live:Thermostat;1");
    REQUIRE(router.flush(5s));
    const auto events = rec.snapshot();
    std::vector<std::string> types;
    for (const json& e : events) types.push_back(e.at("type"));
    CHECK(types == std::vector<std::string>{
                       "twinsim.model.create", "twinsim.model.create",  // both models of add_models
                       "Microsoft.DigitalTwins.Twin.Create", "Microsoft.DigitalTwins.Twin.Create",
                       "Microsoft.DigitalTwins.Twin.Update", "Microsoft.DigitalTwins.Relationship.Create",
                       "Microsoft.DigitalTwins.Relationship.Delete", "Microsoft.DigitalTwins.Twin.Delete",
                       "twinsim.model.decommission"});
    // Common attributes; sequence strictly increasing and gap-free from 1.
    std::set<std::string> ids;
    for (std::size_t k = 0; k < events.size(); ++k) {
        const json& e = events[k];
        CHECK(e.at("specversion") == "1.0");
        CHECK(e.at("source") == "plant.example");
        CHECK(e.at("datacontenttype") == "application/json");
        CHECK(e.at("sequence").get<std::string>().size() == 20);
        CHECK(seq_of(e) == k + 1);
        CHECK(e.at("time").get<std::string>().ends_with("Z"));
        CHECK(ids.insert(e.at("id").get<std::string>()).second);  // source + id unique
    }
    const json& create = events[2];
    CHECK(create.at("subject") == "room1");
    CHECK(create.at("data").at("$dtId") == "room1");
    CHECK(create.at("data").at("$metadata").at("$model") == "dtmi:live:Room;1");
    CHECK(create.at("data").at("temperature") == 20.0);
    const json& update = events[4];
    CHECK(update.at("subject") == "room1");
    CHECK(update.at("data").at("modelId") == "dtmi:live:Room;1");
    CHECK(update.at("data").at("patch") == json::parse(R"([{"op":"replace","path":"/temperature","value":22.5}])"));
    const json& rel = events[5];
    CHECK(rel.at("subject") == "room1/relationships/r12");
    CHECK(rel.at("data").at("$targetId") == "room2");
    CHECK(rel.at("data").at("$relationshipName") == "next");
    CHECK(events[7].at("data").at("temperature") == 21.0);  // delete: the last state
    CHECK(events[0].at("data").at("id").get<std::string>().starts_with("dtmi:live:"));
    CHECK(events[0].at("data").contains("uploadTime"));
    CHECK(events[8].at("subject") == "dtmi:live:Thermostat;1");
}

TEST_CASE("routes send each endpoint only the events their filters select", "[events]") {
    graph::TwinGraph g;
    with_models(g);
    test::Recorder creates;
    test::Recorder room1;
    test::Recorder none;
    EventRouter router(g, test::fast_options());
    router.add_endpoint("creates", creates.endpoint());
    router.add_endpoint("room1", room1.endpoint());
    router.add_endpoint("none", none.endpoint());
    router.upsert_route({"c", "creates", "type = 'Microsoft.DigitalTwins.Twin.Create'"});
    router.upsert_route({"r1", "room1", "subject = 'room1' AND type = 'Microsoft.DigitalTwins.Twin.Update'"});
    router.upsert_route({"r1b", "room1", "STARTS_WITH(subject, 'room1/')"});
    router.upsert_route({"off", "none", "false"});
    g.upsert_twin("room1", test::live_room(20.0));
    g.upsert_twin("room2", test::live_room(20.0));
    g.update_twin("room1", json::parse(R"([{"op":"replace","path":"/temperature","value":1}])"));
    g.update_twin("room2", json::parse(R"([{"op":"replace","path":"/temperature","value":2}])"));
    g.upsert_relationship("room1", "a", {{"$targetId", "room2"}, {"$relationshipName", "next"}});
    REQUIRE(router.flush(5s));
    CHECK(creates.snapshot().size() == 2);
    const auto r1 = room1.snapshot();
    REQUIRE(r1.size() == 2);  // one event matching two routes is delivered once
    CHECK(r1[0].at("data").at("patch")[0].at("value") == 1);
    CHECK(r1[1].at("subject") == "room1/relationships/a");
    CHECK(none.snapshot().empty());

    // Routes as ADT manages them.
    CHECK(router.get_route("c").endpoint_name == "creates");
    CHECK(router.routes().size() == 4);
    router.delete_route("off");
    CHECK_THROWS_AS(router.get_route("off"), graph::NotFoundError);
    CHECK_THROWS_AS(router.delete_route("off"), graph::NotFoundError);
    try {
        router.upsert_route({"x", "nowhere", "true"});
        FAIL("accepted");
    } catch (const graph::ValidationError& e) {
        CHECK(e.code() == "EventRouteEndpointInvalid");
    }
    CHECK_THROWS_AS(router.upsert_route({"x", "creates", "typo = 1"}), live::RouteFilterError);
    CHECK_THROWS_WITH(router.remove_endpoint("creates"), Catch::Contains("used by route 'c'"));
    router.delete_route("c");
    router.remove_endpoint("creates");
    CHECK(router.endpoint_names() == std::vector<std::string>{"none", "room1"});
}

TEST_CASE("delivery runs off the writer's thread and keeps each twin's order", "[events]") {
    graph::TwinGraph g;
    with_models(g);
    for (int k = 0; k < 4; ++k) g.upsert_twin(twin_name(k), test::live_room(0));
    test::Recorder rec;
    EventRouter router(g, test::fast_options());
    router.add_endpoint("slow", std::make_shared<live::CallbackEndpoint>([&](const live::Notification& n) {
        if (n.sequence % 7 == 0) std::this_thread::sleep_for(100us);
        rec.endpoint()->deliver(n);
    }));
    router.upsert_route({"all", "slow", "type = 'Microsoft.DigitalTwins.Twin.Update'"});
    const auto writer = [&](int twin_a, int twin_b) {
        for (int i = 1; i <= 200; ++i)
            for (int t : {twin_a, twin_b})
                g.update_twin(twin_name(t),
                              json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", i}}}));
    };
    std::thread w1(writer, 0, 1);
    std::thread w2(writer, 2, 3);
    w1.join();
    w2.join();
    REQUIRE(router.flush(10s));
    const auto events = rec.snapshot();
    REQUIRE(events.size() == 800);
    std::map<std::string, int> last_value;
    std::uint64_t last_seq = 0;
    for (const json& e : events) {
        const std::uint64_t s = seq_of(e);
        CHECK(s > last_seq);
        last_seq = s;
        const int v = e.at("data").at("patch")[0].at("value");
        CHECK(v == last_value[e.at("subject")] + 1);  // each twin's updates in the order applied
        last_value[e.at("subject")] = v;
    }
    std::lock_guard lock(rec.m);
    for (const auto& id : rec.threads) CHECK(id != std::this_thread::get_id());
}

TEST_CASE("an endpoint that throws is retried with backoff, then dead-lettered", "[events]") {
    const auto dir = test::fresh_dir("retry");
    graph::TwinGraph g;
    with_models(g);
    auto opt = test::fast_options();
    opt.max_attempts = 4;
    opt.initial_backoff = 5ms;
    opt.max_backoff = 10ms;
    opt.dead_letter = dir / "dead.ndjson";
    EventRouter router(g, opt);
    std::atomic<int> flaky_calls{0};
    test::Recorder flaky_got;
    router.add_endpoint("flaky", std::make_shared<live::CallbackEndpoint>([&](const live::Notification& n) {
        if (++flaky_calls % 3 != 0) throw std::runtime_error("endpoint busy");
        flaky_got.endpoint()->deliver(n);
    }));
    std::vector<std::chrono::steady_clock::time_point> attempts;
    router.add_endpoint("broken", std::make_shared<live::CallbackEndpoint>([&](const live::Notification&) {
        attempts.push_back(std::chrono::steady_clock::now());
        throw std::runtime_error("disk on fire");
    }));
    router.upsert_route({"f", "flaky", "type = 'Microsoft.DigitalTwins.Twin.Create'"});
    router.upsert_route({"b", "broken", "subject = 'room2'"});
    g.upsert_twin("room1", test::live_room(1));
    g.upsert_twin("room2", test::live_room(2));
    REQUIRE(router.flush(5s));
    // flaky: two refusals, then accepted, for each event, in order.
    const auto got = flaky_got.snapshot();
    REQUIRE(got.size() == 2);
    CHECK(got[0].at("subject") == "room1");
    CHECK(got[1].at("subject") == "room2");
    CHECK(flaky_calls == 6);
    // broken: 4 attempts, waits of 5, 10, 10 ms between them.
    REQUIRE(attempts.size() == 4);
    CHECK(attempts[1] - attempts[0] >= 5ms);
    CHECK(attempts[2] - attempts[1] >= 10ms);
    const auto dead = test::read_ndjson(dir / "dead.ndjson");
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].at("endpoint") == "broken");
    CHECK(dead[0].at("reason") == "disk on fire");
    CHECK(dead[0].at("attempts") == 4);
    CHECK(dead[0].at("event").at("subject") == "room2");
    CHECK(dead[0].at("event").at("type") == "Microsoft.DigitalTwins.Twin.Create");
    const auto s = router.stats();
    CHECK(s.dead_lettered == 1);
    CHECK(s.retries == 4 + 3);
    CHECK(s.delivered == 2);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a full queue drops with a count, or blocks the writer up to a timeout", "[events]") {
    const auto dir = test::fresh_dir("pressure");
    auto opt = test::fast_options();
    opt.queue_capacity = 2;
    opt.dead_letter = dir / "dead.ndjson";
    const auto run = [&](live::Backpressure policy, int writes, bool release_midway) {
        opt.backpressure = policy;
        graph::TwinGraph g;
        with_models(g);
        g.upsert_twin("room1", test::live_room(0));
        std::mutex gate_m;
        std::condition_variable gate_cv;
        bool open = false;
        std::atomic<std::uint64_t> delivered{0};
        EventRouter router(g, opt);
        router.add_endpoint("stuck", std::make_shared<live::CallbackEndpoint>([&](const live::Notification&) {
            std::unique_lock lock(gate_m);
            gate_cv.wait(lock, [&] { return open; });
            ++delivered;
        }));
        router.upsert_route({"r", "stuck", "true"});
        std::thread opener;
        if (release_midway)
            opener = std::thread([&] {
                std::this_thread::sleep_for(50ms);
                std::lock_guard lock(gate_m);
                open = true;
                gate_cv.notify_all();
            });
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < writes; ++i)
            g.update_twin("room1", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", i}}}));
        const auto waited = std::chrono::steady_clock::now() - t0;
        {
            std::lock_guard lock(gate_m);
            open = true;
            gate_cv.notify_all();
        }
        if (opener.joinable()) opener.join();
        REQUIRE(router.flush(5s));
        return std::tuple{router.stats(), delivered.load(), waited};
    };
    SECTION("drop: the writer never waits; what does not fit is counted and dead-lettered") {
        auto [stats, delivered, waited] = run(live::Backpressure::drop, 10, false);
        // The worker holds one event, the queue two more: 3 fit at most.
        CHECK(stats.dropped >= 7);
        CHECK(stats.dropped + delivered == 10);
        CHECK(stats.published == 10);
        CHECK(waited < 1000ms);  // blocking would wait 8 x 200 ms
        const auto dead = test::read_ndjson(dir / "dead.ndjson");
        CHECK(dead.size() == stats.dropped);
        CHECK_THAT(dead.at(0).at("reason").get<std::string>(), Catch::Contains("delivery queue full (2 events)"));
    }
    SECTION("block: the writer waits up to block_timeout, then drops") {
        auto [stats, delivered, waited] = run(live::Backpressure::block, 4, false);
        CHECK(stats.dropped >= 1);
        CHECK(stats.dropped + delivered == 4);
        CHECK(waited >= 200ms);
        CHECK_THAT(test::read_ndjson(dir / "dead.ndjson").at(0).at("reason").get<std::string>(),
                   Catch::Contains("waited 200 ms"));
    }
    SECTION("block: space that frees up in time lets every event through") {
        auto [stats, delivered, waited] = run(live::Backpressure::block, 10, true);
        CHECK(stats.dropped == 0);
        CHECK(delivered == 10);
        CHECK(waited >= 40ms);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("closing the router delivers everything queued", "[events]") {
    graph::TwinGraph g;
    with_models(g);
    g.upsert_twin("room1", test::live_room(0));
    std::atomic<int> delivered{0};
    {
        EventRouter router(g, test::fast_options());
        router.add_endpoint("slow", std::make_shared<live::CallbackEndpoint>([&](const live::Notification&) {
            std::this_thread::sleep_for(5ms);
            ++delivered;
        }));
        router.upsert_route({"r", "slow", "true"});
        for (int i = 0; i < 100; ++i)
            g.update_twin("room1", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", i}}}));
        CHECK(delivered < 100);  // still queued when the router goes
    }
    CHECK(delivered == 100);
    // The router unsubscribed: the graph goes on without it.
    g.update_twin("room1", json::parse(R"([{"op":"replace","path":"/temperature","value":1}])"));
}

TEST_CASE("the NDJSON file endpoint rotates by size under documented names", "[events]") {
    const auto dir = test::fresh_dir("ndjson");
    const auto path = dir / "events.ndjson";
    graph::TwinGraph g;
    with_models(g);
    g.upsert_twin("room1", test::live_room(0));
    {
        EventRouter router(g, test::fast_options());
        router.add_endpoint("file", std::make_shared<live::NdjsonFileEndpoint>(path, live::NdjsonFileEndpoint::Options{2000, 2}));
        router.upsert_route({"r", "file", "type = 'Microsoft.DigitalTwins.Twin.Update'"});
        for (int i = 0; i < 40; ++i)
            g.update_twin("room1", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", i}}}));
    }
    CHECK(std::filesystem::exists(path));
    CHECK(std::filesystem::exists(dir / "events.ndjson.1"));
    CHECK(std::filesystem::exists(dir / "events.ndjson.2"));
    CHECK_FALSE(std::filesystem::exists(dir / "events.ndjson.3"));  // keep = 2
    std::vector<int> values;
    for (const char* name : {"events.ndjson.2", "events.ndjson.1", "events.ndjson"}) {
        CHECK(std::filesystem::file_size(dir / name) <= 2000);
        for (const json& e : test::read_ndjson(dir / name)) values.push_back(e.at("data").at("patch")[0].at("value"));
    }
    // The newest events, in order, with the oldest rotated away.
    REQUIRE_FALSE(values.empty());
    CHECK(values.back() == 39);
    for (std::size_t k = 1; k < values.size(); ++k) CHECK(values[k] == values[k - 1] + 1);
    CHECK(values.size() < 40);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a router outliving its graph stays safe", "[events]") {
    auto g = std::make_unique<graph::TwinGraph>();
    with_models(*g);
    test::Recorder rec;
    EventRouter router(*g, test::fast_options());
    router.add_endpoint("all", rec.endpoint());
    router.upsert_route({"r", "all", "true"});
    g->upsert_twin("room1", test::live_room(0));
    g.reset();
    CHECK_THROWS_WITH(router.publish_telemetry("room1", {{"occupancy", 1}}), Catch::Contains("no longer exists"));
    REQUIRE(router.flush(5s));
    CHECK(rec.snapshot().size() == 1);
    router.close();
}
