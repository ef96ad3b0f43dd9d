// The durable store's seams in the graph: CommitBatch::outcome and
// TwinGraph::replay (a recorded batch applied exactly as committed), and
// TwinGraphOptions::await_durable (after the commit, outside the mutex).
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"
#include "twinsim/graph/twin_graph.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;

namespace {

struct Recorded {
    std::vector<ChangeEvent> events;
    std::vector<ModelChange> models;
    BatchOutcome outcome;
    RecordedBatch batch() const { return {events, models, &outcome}; }
};

json observable(const Snapshot& s) {
    json out = json::object();
    for (const TwinIndex t : s.twins()) {
        const std::string& id = s.twin_id(t);
        out["twins"][id] = s.get_twin(t);
        out["relationships"][id] = s.list_relationships(id);
        out["incoming"][id] = s.list_incoming_relationships(id);
    }
    for (const ModelInfo& m : s.list_models()) out["models"][m.id] = {m.decommissioned, m.upload_time.ns, m.definition};
    out["counts"] = {s.twin_count(), s.relationship_count()};
    out["version"] = s.version();
    out["sequence"] = s.event_sequence();
    return out;
}

}  // namespace

TEST_CASE("replay: random batches replayed into a new graph give exactly the same graph", "[replay]") {
    std::vector<Recorded> log;
    TwinGraphOptions o = test::test_options();
    o.journal = [&](const CommitBatch& b) {
        log.push_back({{b.events.begin(), b.events.end()}, {b.models.begin(), b.models.end()}, b.outcome()});
    };
    TwinGraph g(o);
    const auto docs = test::building_models();
    g.add_models(docs);
    std::mt19937 rng(20260706);
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    std::vector<std::string> rooms;
    std::vector<std::string> floors;
    for (int k = 0; k < 400; ++k) {
        try {
            switch (pick(10)) {
            case 0: {
                const std::string id = test::numbered("room-", k);
                g.upsert_twin(id, test::room(20.0 + pick(10)));
                rooms.push_back(id);
                break;
            }
            case 1: {
                const std::string id = test::numbered("floor-", k);
                g.upsert_twin(id, test::floor_twin(pick(5)));
                floors.push_back(id);
                break;
            }
            case 2:
                if (!rooms.empty())
                    g.update_twin(rooms[static_cast<std::size_t>(pick(static_cast<int>(rooms.size())))],
                                  json::array({{{"op", "add"}, {"path", "/humidity"}, {"value", pick(90)}},
                                               {{"op", "add"}, {"path", "/$metadata/humidity/sourceTime"},
                                                {"value", "2026-07-01T10:00:00Z"}}}));
                break;
            case 3:
                if (!floors.empty() && !rooms.empty())
                    g.upsert_relationship(floors[static_cast<std::size_t>(pick(static_cast<int>(floors.size())))],
                                          test::numbered("r", k),
                                          test::rel(rooms[static_cast<std::size_t>(pick(static_cast<int>(rooms.size())))],
                                                    "contains"));
                break;
            case 4:
                if (!rooms.empty()) {
                    const std::size_t i = static_cast<std::size_t>(pick(static_cast<int>(rooms.size())));
                    g.delete_twin(rooms[i], std::nullopt, /*cascade=*/true);
                    rooms.erase(rooms.begin() + static_cast<std::ptrdiff_t>(i));
                }
                break;
            case 5:
                if (!rooms.empty()) {
                    // A replace that leaves some values as they were (their times must survive).
                    json doc = test::room(20.0 + pick(3));
                    doc["name"] = "r";
                    g.upsert_twin(rooms[static_cast<std::size_t>(pick(static_cast<int>(rooms.size())))], doc);
                }
                break;
            case 6:
                if (rooms.size() >= 2) {
                    std::vector<PropertyWrite> writes;
                    const std::uint32_t column =
                        g.snapshot().models()->get("dtmi:test:Room;1").layout.find("temperature")->column;
                    for (int w = 0; w < 3; ++w) {
                        const auto t = g.find(rooms[static_cast<std::size_t>(pick(static_cast<int>(rooms.size())))]);
                        writes.push_back({*t, column, 18.0 + w,
                                          w == 1 ? std::optional<Timestamp>(Timestamp{1'700'000'000'000'000'000LL})
                                                 : std::nullopt});
                    }
                    g.write_properties(writes);
                }
                break;
            case 7:
                g.atomically([&](TwinGraph& a) {
                    const std::string id = test::numbered("sensor-", k);
                    a.upsert_twin(id, test::sensor(k));
                    if (!rooms.empty())
                        a.upsert_relationship(id, "obs", test::rel(rooms.front(), "observes"));
                    a.update_twin(id, json::array({{{"op", "replace"}, {"path", "/value"}, {"value", -1.5}}}));
                });
                break;
            case 8:
                if (!floors.empty()) {
                    const auto rels = g.snapshot().list_relationships(floors.front());
                    if (!rels.empty())
                        g.update_relationship(floors.front(), rels.front()["$relationshipId"].get<std::string>(),
                                              json::array({{{"op", "add"}, {"path", "/since"}, {"value", "2026-01-02"}}}));
                }
                break;
            default:
                if (k == 399) g.decommission_model("dtmi:test:Office;1");
                break;
            }
        } catch (const GraphError&) {
            // refused writes are not journaled; they change nothing
        }
    }
    g.decommission_model("dtmi:test:Office;1");

    TwinGraph copy(test::test_options());
    for (const Recorded& r : log) copy.replay(r.batch());
    const Snapshot a = g.snapshot();
    const Snapshot b = copy.snapshot();
    CHECK(observable(a) == observable(b));
    // Byte for byte: indices, free lists, relationship update times, the etag counter.
    CHECK(serialize(a) == serialize(b));
    // The copy continues where the original stopped: the next change gets the same number.
    std::uint64_t next_a = 0;
    std::uint64_t next_b = 0;
    g.subscribe([&](const ChangeEvent& e) { next_a = e.sequence; });
    copy.subscribe([&](const ChangeEvent& e) { next_b = e.sequence; });
    g.upsert_twin("late", test::floor_twin(1));
    copy.upsert_twin("late", test::floor_twin(1));
    CHECK(next_a == next_b);
    CHECK(g.get_twin("late")["$etag"] == copy.get_twin("late")["$etag"]);
}

TEST_CASE("replay: a batch that does not follow on is refused and changes nothing", "[replay]") {
    std::vector<Recorded> log;
    TwinGraphOptions o = test::test_options();
    o.journal = [&](const CommitBatch& b) {
        log.push_back({{b.events.begin(), b.events.end()}, {b.models.begin(), b.models.end()}, b.outcome()});
    };
    TwinGraph g(o);
    const auto docs = test::building_models();
    g.add_models(docs);
    g.upsert_twin("f1", test::floor_twin(1));
    g.upsert_twin("f2", test::floor_twin(2));
    TwinGraph copy(test::test_options());
    copy.replay(log[0].batch());
    const json before = observable(copy.snapshot());
    try {
        copy.replay(log[2].batch());  // skips batch 1
        FAIL("a gap was accepted");
    } catch (const GraphError& e) {
        CHECK(e.code() == "ReplayMismatch");
        CHECK_THAT(e.what(), Catch::Contains("first change is number 2") && Catch::Contains("last one is 0"));
    }
    CHECK(observable(copy.snapshot()) == before);
}

TEST_CASE("replay: a numeric batch refused in its second call undoes the first call's writes", "[replay]") {
    std::vector<Recorded> log;
    std::vector<NumericBatch> numeric;
    TwinGraphOptions o = test::test_options();
    o.numeric_journal = true;
    o.journal = [&](const CommitBatch& b) {
        if (b.numeric) {
            numeric.push_back(*b.numeric);
        } else {
            log.push_back({{b.events.begin(), b.events.end()}, {b.models.begin(), b.models.end()}, b.outcome()});
        }
    };
    TwinGraph g(o);
    g.add_models(test::building_models());
    g.upsert_twin("room-1", test::room(20.0));
    g.upsert_twin("room-2", test::room(21.0));
    const auto models = g.snapshot().models();
    const std::uint32_t temperature = models->get("dtmi:test:Room;1").layout.find("temperature")->column;
    const std::uint32_t humidity = models->get("dtmi:test:Room;1").layout.find("humidity")->column;
    g.atomically([&](TwinGraph& a) {
        a.write_properties(std::vector<PropertyWrite>{{*a.find("room-1"), temperature, 25.0, std::nullopt},
                                                      {*a.find("room-2"), temperature, 26.0, std::nullopt}});
        a.write_properties(std::vector<PropertyWrite>{{*a.find("room-2"), humidity, 40.0, std::nullopt}});
    });
    REQUIRE(numeric.size() == 1);
    REQUIRE(numeric[0].calls.size() == 2);
    TwinGraph copy(test::test_options());
    for (const Recorded& r : log) copy.replay(r.batch());
    const std::string before = serialize(copy.snapshot());
    // The second call names a property the model lacks: found only once the
    // first call's writes are applied, which must then be undone.
    NumericBatch damaged = numeric[0];
    damaged.names.push_back("noSuchProperty");
    damaged.writes.back().property = static_cast<std::uint32_t>(damaged.names.size() - 1);
    try {
        copy.replay(RecordedBatch{{}, {}, nullptr, &damaged});
        FAIL("a write of a missing property was replayed");
    } catch (const GraphError& e) {
        CHECK(e.code() == "ReplayMismatch");
        CHECK_THAT(e.what(), Catch::Contains("noSuchProperty"));
    }
    CHECK(serialize(copy.snapshot()) == before);
    // The batch as recorded still applies to the restored graph and gives the original.
    copy.replay(RecordedBatch{{}, {}, nullptr, &numeric[0]});
    CHECK(serialize(copy.snapshot()) == serialize(g.snapshot()));
}

TEST_CASE("await_durable: runs once per outermost write, after the mutex is released", "[replay]") {
    int calls = 0;
    bool other_thread_could_read = false;
    TwinGraph* self = nullptr;
    TwinGraphOptions o = test::test_options();
    o.journal = [](const CommitBatch&) {};
    o.await_durable = [&] {
        ++calls;
        // Another thread can take the graph's mutex: it is released.
        auto read = std::async(std::launch::async, [&] { return self->twin_count(); });
        other_thread_could_read = read.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
        if (other_thread_could_read) (void)read.get();
    };
    TwinGraph g(o);
    self = &g;
    const auto docs = test::building_models();
    g.add_models(docs);
    CHECK(calls == 1);
    CHECK(other_thread_could_read);
    g.atomically([](TwinGraph& a) {
        a.upsert_twin("f1", test::floor_twin(1));
        a.upsert_twin("f2", test::floor_twin(2));
    });
    CHECK(calls == 2);
    // A refused write journals nothing and awaits nothing.
    CHECK_THROWS_AS(g.upsert_twin("f1", test::floor_twin(1), WriteCondition{std::nullopt, true}), ConflictError);
    CHECK(calls == 2);
    // A failure in await_durable reaches the caller; the write stays committed.
    o.await_durable = nullptr;
    TwinGraphOptions failing = test::test_options();
    failing.journal = [](const CommitBatch&) {};
    failing.await_durable = [] { throw std::runtime_error("not durable"); };
    TwinGraph h(failing);
    CHECK_THROWS_WITH(h.add_models(docs), "not durable");
    CHECK(h.snapshot().list_models().size() == docs.size());
}

