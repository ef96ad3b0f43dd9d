// update_twin's fast path (sim/graph/fast_patch.cpp) against the general
// path, and the undo log that rolls a failed update_twins batch back
// (sim/graph/detail/undo_log.hpp).
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/twin_graph.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;

namespace {

// Deterministic choices (SplitMix64), so a failure replays.
struct Draw {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31U);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    template <class T>
    const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }
};

const std::vector<std::string> twin_ids{"room-0", "room-1", "room-2", "office-0", "sensor-0", "ghost"};

void populate(TwinGraph& g) {
    g.add_models(test::building_models());
    g.upsert_twin("room-0", test::room(20.0));
    json r1 = test::room(21.0);
    r1["humidity"] = 40;
    r1["status"] = "ok";
    r1["thermostat"] = {{"setpoint", 21.0}, {"$metadata", {{"setpoint", {{"sourceTime", "2026-06-30T10:00:00Z"}}}}}};
    r1["$metadata"]["temperature"] = {{"sourceTime", "2026-06-30T09:00:00.5Z"}};
    g.upsert_twin("room-1", r1);
    json r2 = test::room(22.0);
    r2["settings"] = {{"mode", "eco"}, {"level", 2}};
    r2["tags"] = {{"a", "b"}};
    g.upsert_twin("room-2", r2);
    g.upsert_twin("office-0", {{"$metadata", {{"$model", "dtmi:test:Office;1"}}}, {"name", "o"}, {"thermostat", json::object()}});
    g.upsert_twin("sensor-0", test::sensor(1.0));
}

json random_value(Draw& d) {
    static const std::vector<json> values{21.5, 3, -7, 0, true, false, "ok", "alarm", "x", nullptr, 2, 1.5, 1e40,
                                          "2026-07-01T12:00:00.123456789Z", "2026-07-01T12:00:00+02:00",
                                          "not a time", json::object(), json::array({1.0})};
    return d.pick(values);
}

json random_op(Draw& d) {
    static const std::vector<std::string> paths{
        "/temperature", "/humidity", "/occupied", "/name", "/status", "/level", "/area", "/value", "/count", "/on",
        "/thermostat/setpoint", "/thermostat/mode", "/thermostat/nope", "/thermostat/$metadata",
        "/$metadata/temperature/sourceTime", "/$metadata/humidity/sourceTime", "/$metadata/value/sourceTime",
        "/$metadata/nope/sourceTime", "/thermostat/$metadata/setpoint/sourceTime", "/nope", "/reading",
        "/settings", "/settings/mode", "/$dtId", "/$metadata/$model", "/te~0mp", "", "/tags/a"};
    static const std::vector<std::string> kinds{"add", "replace", "add", "replace", "remove", "move"};
    const std::string& kind = d.pick(kinds);
    std::string path = d.pick(paths);
    json op = {{"op", kind}, {"path", path}};
    if (kind != "remove" || d.below(4) == 0) {
        json v = random_value(d);
        if (path.find("sourceTime") != std::string::npos && d.below(3) != 0)
            v = d.below(2) == 0 ? "2026-07-01T12:00:00.123456789Z" : "2026-07-01T12:00:00+02:00";
        op["value"] = v;
    }
    if (d.below(20) == 0) op.erase("path");
    if (d.below(30) == 0) op["extra"] = 1;
    return op;
}

// An op that fits most twins: what ingestion sends.
json typical_op(Draw& d) {
    static const std::vector<std::pair<std::string, json>> ops{
        {"/temperature", 21.5}, {"/temperature", 3}, {"/humidity", 40}, {"/occupied", true}, {"/name", "n"},
        {"/status", "alarm"}, {"/level", 2}, {"/area", 12.5}, {"/thermostat/setpoint", 19.0},
        {"/thermostat/mode", "heat"}, {"/$metadata/temperature/sourceTime", "2026-07-01T12:00:00.123456789Z"},
        {"/$metadata/temperature/sourceTime", "2026-07-01T14:00:00+02:00"}};
    const auto& [path, value] = d.pick(ops);
    return {{"op", d.below(2) == 0 ? "add" : "replace"}, {"path", path}, {"value", value}};
}

json random_patch(Draw& d) {
    if (d.below(40) == 0) return json::object();  // not an array
    json patch = json::array();
    const std::size_t n = d.below(40) == 0 ? 0 : 1 + d.below(3);
    for (std::size_t k = 0; k < n; ++k) patch.push_back(d.below(3) == 0 ? random_op(d) : typical_op(d));
    return patch;
}

// Everything a client can read of the graph.
json dump(const TwinGraph& g) {
    json out = json::object();
    for (const std::string& id : twin_ids) {
        try {
            out[id] = g.get_twin(id);
        } catch (const NotFoundError&) {
            out[id] = "absent";
        }
    }
    out["$twins"] = g.twin_count();
    out["$events"] = g.stats().events_emitted;
    return out;
}

// The error a call throws, as the caller sees it: type, code and message.
template <class F>
std::string outcome(F&& f) {
    try {
        f();
    } catch (const GraphError& e) {
        return std::string("GraphError ") + e.code() + ": " + e.what();
    } catch (const std::exception& e) {
        return std::string("other: ") + e.what();
    }
    return "ok";
}

struct Pair {
    TwinGraph fast{test::test_options()};
    TwinGraph general{[] {
        TwinGraphOptions o = test::test_options();
        o.patch_fast_path = false;
        return o;
    }()};
    std::vector<json> fast_events;
    std::vector<json> general_events;
    Pair() {
        populate(fast);
        populate(general);
        const auto record = [](std::vector<json>& into) {
            return [&into](const ChangeEvent& e) {
                into.push_back({{"type", static_cast<int>(e.type)}, {"subject", e.subject}, {"sequence", e.sequence},
                                {"time", e.time.ns}, {"data", e.data}});
            };
        };
        fast.subscribe(record(fast_events));
        general.subscribe(record(general_events));
    }
};

}  // namespace

TEST_CASE("the fast JSON Patch path gives the general path's twins, errors and events", "[json_patch]") {
    Pair p;
    Draw d{20261207};
    int applied = 0;
    for (int k = 0; k < 3000; ++k) {
        const std::string& id = d.pick(twin_ids);
        const json patch = random_patch(d);
        std::optional<std::string> if_match;
        if (d.below(10) == 0) if_match = d.below(2) == 0 ? std::string("*") : std::string("W/\"0000000000000001\"");
        if (d.below(10) == 0) if_match = p.fast.get_twin(id == "ghost" ? "room-0" : id)["$etag"].get<std::string>();
        const std::string a = outcome([&] { p.fast.update_twin(id, patch, if_match); });
        const std::string b = outcome([&] { p.general.update_twin(id, patch, if_match); });
        INFO("patch " << k << " of " << id << ": " << patch.dump());
        REQUIRE(a == b);
        if (a == "ok") ++applied;
        REQUIRE(dump(p.fast) == dump(p.general));
    }
    CHECK(p.fast_events == p.general_events);
    CHECK(applied > 300);  // the draw exercises successes, not only errors
}

TEST_CASE("the fast path agrees with the general path in atomic batches", "[json_patch]") {
    Pair p;
    Draw d{77};
    for (int k = 0; k < 400; ++k) {
        std::vector<TwinPatch> batch;
        const std::size_t n = 1 + d.below(6);
        for (std::size_t j = 0; j < n; ++j) {
            json patch = json::array({random_op(d)});
            // Mostly well-formed ops, so that batches also succeed.
            if (d.below(3) != 0)
                patch = json::array({{{"op", "add"}, {"path", d.below(2) == 0 ? "/temperature" : "/thermostat/setpoint"},
                                      {"value", static_cast<double>(d.below(100))}}});
            batch.push_back({d.pick(twin_ids), patch, std::nullopt});
        }
        const std::string a = outcome([&] { p.fast.update_twins(batch); });
        const std::string b = outcome([&] { p.general.update_twins(batch); });
        INFO("batch " << k);
        REQUIRE(a == b);
        REQUIRE(dump(p.fast) == dump(p.general));
    }
    CHECK(p.fast_events == p.general_events);
}

TEST_CASE("a failed update_twins batch is undone exactly, whichever part fails", "[rollback]") {
    // A clock held still, so a graph that saw a failed batch and one that did
    // not can be compared byte for byte afterwards.
    auto now = std::make_shared<std::int64_t>(1'782'864'000'000'000'000LL);
    TwinGraphOptions options;
    options.clock = [now] { return Timestamp{*now}; };
    TwinGraph g(options);
    TwinGraph reference(options);
    populate(g);
    populate(reference);
    Draw d{4242};
    const std::vector<std::string> live{"room-0", "room-1", "room-2", "office-0"};
    int failed = 0;
    for (int round = 0; round < 300; ++round) {
        *now += 1'000'000'000;
        // A batch of good patches (fast ones, and some only the general path
        // takes: removes), with one bad patch at a random place.
        std::vector<TwinPatch> good;
        const std::size_t n = 2 + d.below(12);
        for (std::size_t j = 0; j < n; ++j) {
            const std::string& id = d.pick(live);
            json patch;
            switch (d.below(5)) {
            case 0: patch = json::array({{{"op", "add"}, {"path", "/name"}, {"value", test::numbered("n", round)}}}); break;
            case 1:
                patch = json::array({{{"op", "add"}, {"path", "/thermostat/setpoint"}, {"value", static_cast<double>(j)}},
                                     {{"op", "add"}, {"path", "/$metadata/temperature/sourceTime"},
                                      {"value", "2026-07-01T00:00:00.000000001Z"}},
                                     {{"op", "add"}, {"path", "/temperature"}, {"value", static_cast<double>(round)}}});
                break;
            case 2: patch = json::array({{{"op", "add"}, {"path", "/name"}, {"value", "x"}}, {{"op", "remove"}, {"path", "/name"}}}); break;
            default: patch = json::array({{{"op", "add"}, {"path", "/temperature"}, {"value", static_cast<double>(round) + static_cast<double>(j)}}});
            }
            if (id == "office-0" && patch[0]["path"] != "/name" && patch[0]["path"] != "/temperature")
                patch = json::array({{{"op", "add"}, {"path", "/temperature"}, {"value", 1.0}}});
            good.push_back({id, patch, std::nullopt});
        }
        std::vector<TwinPatch> bad = good;
        const std::vector<TwinPatch> failures{
            {"ghost", json::array({{{"op", "add"}, {"path", "/temperature"}, {"value", 1.0}}}), std::nullopt},
            {"room-1", json::array({{{"op", "add"}, {"path", "/temperature"}, {"value", "hot"}}}), std::nullopt},
            {"room-2", json::array({{{"op", "remove"}, {"path", "/nope"}}}), std::nullopt},
            {"room-0", json::array({{{"op", "add"}, {"path", "/humidity"}, {"value", 1}}}), std::string("W/\"bad\"")}};
        bad.insert(bad.begin() + static_cast<std::ptrdiff_t>(d.below(bad.size() + 1)), d.pick(failures));
        const json before = dump(g);
        const Snapshot taken = g.snapshot();
        CHECK_THROWS_AS(g.update_twins(bad), GraphError);
        ++failed;
        REQUIRE(dump(g) == before);
        // The good part then applies as on a graph that never saw the failure:
        // same etags (the counter was restored), times and values.
        g.update_twins(good);
        reference.update_twins(good);
        REQUIRE(dump(g) == dump(reference));
        // A snapshot taken before the failed batch still shows its moment.
        for (const std::string& id : live) REQUIRE(taken.get_twin(id) == before[id]);
    }
    CHECK(failed == 300);
}

TEST_CASE("removing a property that has a sourceTime removes its sourceTime too", "[json_patch]") {
    for (const bool fast : {true, false}) {
        TwinGraphOptions o = test::test_options();
        o.patch_fast_path = fast;
        TwinGraph g(o);
        populate(g);  // room-1: temperature and thermostat/setpoint have sourceTimes
        g.update_twin("room-1", json::array({{{"op", "remove"}, {"path", "/temperature"}}}));
        json t = g.get_twin("room-1");
        CHECK_FALSE(t.contains("temperature"));
        CHECK_FALSE(t["$metadata"].contains("temperature"));
        g.update_twin("room-1", json::array({{{"op", "remove"}, {"path", "/thermostat/setpoint"}}}));
        t = g.get_twin("room-1");
        CHECK_FALSE(t["thermostat"].contains("setpoint"));
        CHECK_FALSE(t["thermostat"]["$metadata"].contains("setpoint"));
        // Set again without a sourceTime: none comes back.
        g.update_twin("room-1", json::array({{{"op", "add"}, {"path", "/temperature"}, {"value", 20.0}}}));
        CHECK_FALSE(g.get_twin("room-1")["$metadata"]["temperature"].contains("sourceTime"));
        // A patch that removes a property and writes its sourceTime is still refused.
        g.update_twin("room-1", json::array({{{"op", "add"}, {"path", "/$metadata/temperature/sourceTime"},
                                              {"value", "2026-07-01T00:00:00Z"}}}));
        const json remove_and_time = json::array(
            {{{"op", "remove"}, {"path", "/temperature"}},
             {{"op", "replace"}, {"path", "/$metadata/temperature/sourceTime"}, {"value", "2026-07-02T00:00:00Z"}}});
        CHECK(outcome([&] { g.update_twin("room-1", remove_and_time); }) ==
              "GraphError ValidationFailed: twin \"room-1\": /$metadata/temperature/sourceTime: sourceTime given for a "
              "property that is not set");
    }
}

TEST_CASE("a sourceTime keeps every digit the client sent, down to the nanosecond", "[json_patch]") {
    for (const bool fast : {true, false}) {
        TwinGraphOptions o = test::test_options();
        o.patch_fast_path = fast;
        TwinGraph g(o);
        populate(g);
        g.update_twin("room-0", json::array({{{"op", "add"}, {"path", "/$metadata/temperature/sourceTime"},
                                              {"value", "2026-07-01T12:00:00.123456789Z"}},
                                             {{"op", "add"}, {"path", "/thermostat/setpoint"}, {"value", 20.0}},
                                             {{"op", "add"}, {"path", "/thermostat/$metadata/setpoint/sourceTime"},
                                              {"value", "2026-07-01T12:00:00.000000001Z"}}}));
        const json t = g.get_twin("room-0");
        CHECK(t["$metadata"]["temperature"]["sourceTime"] == "2026-07-01T12:00:00.123456789Z");
        CHECK(t["thermostat"]["$metadata"]["setpoint"]["sourceTime"] == "2026-07-01T12:00:00.000000001Z");
        // Whole 100 ns ticks are written with ADT's 7 digits; offsets become UTC.
        g.update_twin("room-0", json::array({{{"op", "replace"}, {"path", "/$metadata/temperature/sourceTime"},
                                              {"value", "2026-07-01T14:00:00.5+02:00"}}}));
        CHECK(g.get_twin("room-0")["$metadata"]["temperature"]["sourceTime"] == "2026-07-01T12:00:00.5000000Z");
        // write_properties and upsert_twin keep them too.
        const auto column = g.snapshot().models()->get("dtmi:test:Room;1").layout.find("temperature")->column;
        const PropertyWrite w{*g.find("room-2"), column, 1.0, Timestamp{1'782'907'200'123'456'789LL}};
        g.write_properties(std::span<const PropertyWrite>(&w, 1));
        CHECK(g.get_twin("room-2")["$metadata"]["temperature"]["sourceTime"] == "2026-07-01T12:00:00.123456789Z");
        json r = test::room(1.0);
        r["$metadata"]["temperature"] = {{"sourceTime", "2026-07-01T12:00:00.987654321Z"}};
        g.upsert_twin("room-9", r);
        CHECK(g.get_twin("room-9")["$metadata"]["temperature"]["sourceTime"] == "2026-07-01T12:00:00.987654321Z");
    }
}
