// TwinGraphOptions::journal: called inside every commit, before the batch is
// visible and before any listener; a throw rolls the batch back exactly.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/twin_graph.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;

namespace {

/// A journal that records each batch and can be told to fail.
struct TestJournal {
    struct Batch {
        std::vector<ChangeEvent> events;
        std::vector<ModelChange> models;
    };
    std::vector<Batch> batches;
    bool fail = false;
    std::function<void(const CommitBatch&)> inside;  // runs inside the hook
    void operator()(const CommitBatch& b) {
        batches.push_back({{b.events.begin(), b.events.end()}, {b.models.begin(), b.models.end()}});
        if (inside) inside(b);
        if (fail) throw std::runtime_error("journal: disk full");
    }
};

struct Fixture {
    TestJournal journal;
    std::vector<ChangeEvent> heard;
    std::unique_ptr<TwinGraph> g;
    Fixture() {
        TwinGraphOptions o = test::test_options();
        o.journal = [this](const CommitBatch& b) { journal(b); };
        g = std::make_unique<TwinGraph>(o);
        g->subscribe([this](const ChangeEvent& e) { heard.push_back(e); });
        auto docs = test::building_models();
        g->add_models(docs);
        g->upsert_twin("floor-1", test::floor_twin(1));
        g->upsert_twin("room-1", test::room(21.0));
        g->upsert_twin("room-2", test::room(22.0));
        g->upsert_relationship("floor-1", "c1", test::rel("room-1", "contains"));
    }
};

/// Everything a reader can observe of a snapshot: twins (with etags and
/// times), relationships, models, counts, version and event sequence.
json observable(const Snapshot& s) {
    json out = json::object();
    for (const TwinIndex t : s.twins()) {
        const std::string& id = s.twin_id(t);
        out["twins"][id] = s.get_twin(t);
        out["index"][id] = t;
        out["relationships"][id] = s.list_relationships(id);
        out["incoming"][id] = s.list_incoming_relationships(id);
    }
    for (const ModelInfo& m : s.list_models())
        out["models"][m.id] = {m.decommissioned, m.upload_time.ns, m.definition};
    out["counts"] = {s.twin_count(), s.relationship_count(), s.twin_capacity(), s.relationship_capacity()};
    out["version"] = s.version();
    out["sequence"] = s.event_sequence();
    return out;
}

}  // namespace

TEST_CASE("journal: gets each batch, numbered, before listeners and before it is visible", "[journal]") {
    Fixture f;
    // Models are journaled as model changes (no events).
    REQUIRE(f.journal.batches.size() == 5);
    REQUIRE(f.journal.batches[0].models.size() == 1);
    const ModelChange& added = f.journal.batches[0].models[0];
    CHECK(added.kind == ModelChange::Kind::add);
    CHECK(added.model_ids.size() == 6);
    CHECK(added.documents.size() == 6);
    CHECK(added.documents[0].text == test::building_models()[0].text);
    CHECK(added.upload_time == f.g->snapshot().get_model("dtmi:test:Room;1").upload_time);
    CHECK(f.journal.batches[0].events.empty());
    // One event per write, numbered gap-free, and the same events the listeners then hear.
    CHECK(f.journal.batches[1].events.size() == 1);
    CHECK(f.journal.batches[1].events[0].sequence == 1);
    CHECK(f.journal.batches[4].events[0].sequence == 4);
    CHECK(f.journal.batches[4].events[0].type == ChangeType::relationship_create);
    REQUIRE(f.heard.size() == 4);
    CHECK(f.heard[2].data == f.journal.batches[3].events[0].data);

    std::vector<std::string> order;
    f.g->subscribe([&](const ChangeEvent& e) { order.push_back("listener " + std::to_string(e.sequence)); });
    std::future<Snapshot> other_reader;
    f.journal.inside = [&](const CommitBatch& b) {
        order.push_back("journal " + std::to_string(b.events.front().sequence));
        // Inside the hook the graph still shows the state before the batch, to this thread ...
        const Snapshot now = f.g->snapshot();
        CHECK_FALSE(now.contains("room-3"));
        CHECK(now.event_sequence() == 4);
        CHECK_FALSE(f.g->find("room-3"));
        CHECK(f.g->twin_count() == 3);
        CHECK_THROWS_AS(f.g->get_twin("room-3"), NotFoundError);
        // ... and another thread cannot take a snapshot until the commit is over.
        other_reader = std::async(std::launch::async, [&] { return f.g->snapshot(); });
        CHECK(other_reader.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
        // The hook may not write.
        CHECK_THROWS_AS(f.g->upsert_twin("room-4", test::room(1.0)), UsageError);
        CHECK_THROWS_WITH(f.g->upsert_twin("room-4", test::room(1.0)),
                          Catch::Contains("journal hook must not modify the graph"));
    };
    f.g->upsert_twin("room-3", test::room(23.0));
    f.journal.inside = nullptr;
    CHECK(order == std::vector<std::string>{"journal 5", "listener 5"});
    const Snapshot seen = other_reader.get();
    CHECK(seen.contains("room-3"));
    CHECK(seen.event_sequence() == 5);
    CHECK_FALSE(f.g->find("room-4"));

    SECTION("an atomic group is one batch") {
        const std::size_t before = f.journal.batches.size();
        f.g->delete_twin("floor-1", std::nullopt, /*cascade=*/true);
        REQUIRE(f.journal.batches.size() == before + 1);
        const auto& events = f.journal.batches.back().events;
        REQUIRE(events.size() == 2);
        CHECK(events[0].type == ChangeType::relationship_delete);
        CHECK(events[1].type == ChangeType::twin_delete);
        CHECK(events[1].sequence == events[0].sequence + 1);
    }
    SECTION("write_properties is one batch of one event per twin") {
        const auto t1 = *f.g->find("room-1");
        const auto t2 = *f.g->find("room-2");
        const std::uint32_t column = f.g->snapshot().models()->at(f.g->snapshot().twin_model(t1)).layout.find("temperature")->column;
        const std::vector<PropertyWrite> writes{{t1, column, 30.0, std::nullopt}, {t2, column, 31.0, std::nullopt}};
        const std::size_t before = f.journal.batches.size();
        f.g->write_properties(writes);
        REQUIRE(f.journal.batches.size() == before + 1);
        CHECK(f.journal.batches.back().events.size() == 2);
    }
    SECTION("a write that fails its own checks never reaches the journal") {
        const std::size_t before = f.journal.batches.size();
        CHECK_THROWS_AS(f.g->upsert_twin("room-1", test::room(1.0), {.if_match = std::string("W/\"0\""), .if_none_match = false}),
                        ConflictError);
        CHECK(f.journal.batches.size() == before);
    }
}

TEST_CASE("journal: a failing journal rolls the batch back exactly, and listeners never hear of it", "[journal]") {
    Fixture f;
    const Snapshot before = f.g->snapshot();
    const json state = observable(before);
    const GraphStats stats = f.g->stats();
    const std::size_t heard = f.heard.size();
    const auto t1 = *before.find("room-1");
    const std::uint32_t column = before.models()->at(before.twin_model(t1)).layout.find("temperature")->column;
    const std::vector<PropertyWrite> writes{{t1, column, 30.0, std::nullopt}};
    const std::vector<TwinPatch> patches{
        {"room-1", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 25.0}}}), std::nullopt},
        {"room-2", json::array({{{"op", "remove"}, {"path", "/temperature"}}}), std::nullopt}};
    const std::vector<dtdl::Document> more{
        {"lab.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Lab;1","@type":"Interface","extends":"dtmi:test:Room;1"})"}};

    const std::vector<std::pair<std::string, std::function<void()>>> writes_that_fail{
        {"create a twin", [&] { f.g->upsert_twin("room-9", test::room(9.0)); }},
        {"replace a twin", [&] { f.g->upsert_twin("room-1", test::room(9.0)); }},
        {"patch a twin", [&] { f.g->update_twin("room-1", patches[0].patch); }},
        {"delete a twin", [&] { f.g->delete_twin("room-2"); }},
        {"cascade delete", [&] { f.g->delete_twin("floor-1", std::nullopt, true); }},
        {"batched patches", [&] { f.g->update_twins(patches); }},
        {"property writes", [&] { f.g->write_properties(writes); }},
        {"create a relationship", [&] { f.g->upsert_relationship("floor-1", "c2", test::rel("room-2", "contains")); }},
        {"patch a relationship",
         [&] {
             f.g->update_relationship("floor-1", "c1",
                                      json::array({{{"op", "add"}, {"path", "/since"}, {"value", "2020-01-01"}}}));
         }},
        {"delete a relationship", [&] { f.g->delete_relationship("floor-1", "c1"); }},
        {"restore a twin", [&] { f.g->restore_twin("room-8", test::room(8.0)); }},
        {"an atomic group",
         [&] {
             f.g->atomically([&](TwinGraph& g) {
                 g.upsert_twin("room-7", test::room(7.0));
                 g.add_models(more);
                 g.upsert_twin("lab-1", {{"$metadata", {{"$model", "dtmi:test:Lab;1"}}}, {"thermostat", json::object()}});
             });
         }},
        {"add models", [&] { f.g->add_models(more); }},
        {"decommission a model", [&] { f.g->decommission_model("dtmi:test:Office;1"); }},
        {"delete a model", [&] { f.g->delete_model("dtmi:test:Office;1"); }},
    };
    for (const auto& [what, write] : writes_that_fail) {
        INFO(what);
        const std::size_t batches = f.journal.batches.size();
        f.journal.fail = true;
        CHECK_THROWS_WITH(write(), "journal: disk full");
        f.journal.fail = false;
        CHECK(f.journal.batches.size() == batches + 1);  // the journal did see it
        CHECK(observable(f.g->snapshot()) == state);
        CHECK(f.g->stats().events_emitted == stats.events_emitted);
        CHECK(f.heard.size() == heard);
    }

    // The next successful write gets the sequence number and etag the failed one would have had.
    f.journal.fail = true;
    CHECK_THROWS_AS(f.g->upsert_twin("room-9", test::room(9.0)), std::runtime_error);
    const ChangeEvent failed = f.journal.batches.back().events.at(0);
    f.journal.fail = false;
    f.g->upsert_twin("room-9", test::room(9.0));
    const ChangeEvent committed = f.journal.batches.back().events.at(0);
    CHECK(failed.sequence == before.event_sequence() + 1);
    CHECK(committed.sequence == failed.sequence);
    CHECK(committed.data["$etag"] == failed.data["$etag"]);
    CHECK(f.g->get_twin("room-9")["$etag"] == failed.data["$etag"]);
    CHECK(f.g->snapshot().version() == before.version() + 1);
    REQUIRE(f.heard.size() == heard + 1);
    CHECK(f.heard.back().sequence == committed.sequence);
}

TEST_CASE("journal: without a journal nothing changes; a clone keeps its own options", "[journal]") {
    // No listener and no journal: no events are built and no sequence number is used.
    TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    g.upsert_twin("room-1", test::room(21.0));
    CHECK(g.stats().events_emitted == 0);

    TestJournal journal;
    TwinGraphOptions o = test::test_options();
    o.journal = [&](const CommitBatch& b) { journal(b); };
    auto clone = TwinGraph::from_snapshot(g.snapshot(), o);
    clone->upsert_twin("room-2", test::room(22.0));
    REQUIRE(journal.batches.size() == 1);
    CHECK(journal.batches[0].events.at(0).sequence == 1);
    CHECK(journal.batches[0].events.at(0).twin_id == "room-2");
}
