// TwinGraph::from_snapshot: a writable copy-on-write clone of a snapshot.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/graph/twin_graph.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;
using test::numbered;
using test::rel;
using test::room;
using test::sensor;

namespace {

constexpr int sensors = 2000;

/// A graph of `sensors` sensors (value = index) and a floor containing a room they observe.
Snapshot base_snapshot() {
    TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    g.upsert_twin("floor", test::floor_twin(1));
    g.upsert_twin("room", room(20.0));
    g.upsert_relationship("floor", "c1", rel("room", "contains"));
    for (int i = 0; i < sensors; ++i) g.upsert_twin(numbered("s", i), sensor(i));
    return g.snapshot();
}

std::uint32_t value_column(const Snapshot& s) { return s.models()->get("dtmi:test:Sensor;1").layout.find("value")->column; }

double value_of(const Snapshot& s, int i) { return s.get_property(numbered("s", i), "value")->get<double>(); }

}  // namespace

TEST_CASE("a clone shares the snapshot's state and copies nothing until written", "[clone]") {
    const Snapshot base = base_snapshot();
    auto clone = TwinGraph::from_snapshot(base, test::test_options());
    const Snapshot view = clone->snapshot();
    CHECK(view.twin_count() == base.twin_count());
    CHECK(view.relationship_count() == 1);
    CHECK(view.version() == base.version());
    CHECK(view.event_sequence() == base.event_sequence());
    CHECK(view.get_twin("s7") == base.get_twin("s7"));
    CHECK(&view.state().twin_meta[0] == &base.state().twin_meta[0]);  // the same chunk, not a copy
    const GraphStats st = clone->stats();
    CHECK(st.bytes_copied == 0);
    CHECK(st.chunks_copied == 0);
    CHECK(st.twins == base.twin_count());
    CHECK(st.events_emitted == base.event_sequence());
}

TEST_CASE("a clone's events and version continue from the snapshot's", "[clone]") {
    TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    std::vector<std::uint64_t> seen;
    g.subscribe([&](const ChangeEvent& e) { seen.push_back(e.sequence); });
    g.upsert_twin("a", sensor(1));
    g.upsert_twin("b", sensor(2));
    const Snapshot base = g.snapshot();
    CHECK(base.event_sequence() == 2);

    auto clone = TwinGraph::from_snapshot(base);
    std::vector<std::uint64_t> clone_seen;
    clone->subscribe([&](const ChangeEvent& e) { clone_seen.push_back(e.sequence); });
    clone->update_twin("a", json::parse(R"([{"op":"replace","path":"/value","value":5.0}])"));
    CHECK(clone_seen == std::vector<std::uint64_t>{3});
    CHECK(clone->stats().events_emitted == 3);
    CHECK(clone->snapshot().version() > base.version());
    CHECK(seen == std::vector<std::uint64_t>{1, 2});  // the original heard nothing of the clone
    CHECK(g.get_twin("a")["value"] == 1.0);
}

TEST_CASE("a clone accepts every mutation and the snapshot sees none of them", "[clone]") {
    const Snapshot base = base_snapshot();
    const json room_before = base.get_twin("room");
    auto clone = TwinGraph::from_snapshot(base, test::test_options());
    TwinGraph& c = *clone;

    c.upsert_twin("room2", room(18.0));
    c.upsert_relationship("floor", "c2", rel("room2", "contains"));
    c.upsert_relationship("s1", "obs", rel("room", "observes"));
    c.update_twin("room", json::parse(R"([{"op":"replace","path":"/temperature","value":25.5}])"));
    const std::vector<TwinPatch> patches{{"s2", json::parse(R"([{"op":"replace","path":"/value","value":-2.0}])"), {}},
                                         {"s3", json::parse(R"([{"op":"remove","path":"/value"}])"), {}}};
    c.update_twins(patches);
    const std::vector<PropertyWrite> writes{{*base.find("s4"), value_column(base), 44.0, std::nullopt}};
    c.write_properties(writes);
    c.update_relationship("floor", "c1", json::parse(R"([{"op":"add","path":"/since","value":"2024-01-01"}])"));
    c.delete_relationship("s1", "obs");
    c.delete_twin("s5");
    c.delete_twin("floor", std::nullopt, /*cascade=*/true);
    c.atomically([](TwinGraph& g) { g.upsert_twin("s-new", sensor(9)); });

    const Snapshot after = c.snapshot();
    CHECK(after.get_property("room", "temperature")->get<double>() == 25.5);
    CHECK(after.get_property("s2", "value")->get<double>() == -2.0);
    CHECK_FALSE(after.get_property("s3", "value").has_value());
    CHECK(after.get_property("s4", "value")->get<double>() == 44.0);
    CHECK_FALSE(after.contains("s5"));
    CHECK_FALSE(after.contains("floor"));
    CHECK(after.contains("room2"));
    CHECK(after.contains("s-new"));
    CHECK(after.relationship_count() == 0);
    CHECK(after.twin_count() == base.twin_count() + 2 - 2);

    // The base snapshot is untouched.
    CHECK(base.get_twin("room") == room_before);
    CHECK(base.contains("s5"));
    CHECK(base.contains("floor"));
    CHECK_FALSE(base.contains("room2"));
    CHECK_FALSE(base.contains("s-new"));
    CHECK(base.relationship_count() == 1);
    for (int i = 0; i < 6; ++i) CHECK(value_of(base, i) == i);
    CHECK(base.get_relationship("floor", "c1").count("since") == 0);
}

TEST_CASE("bytes copied by a clone's write are proportional to the chunks it touches", "[clone]") {
    const Snapshot base = base_snapshot();
    const std::uint32_t column = value_column(base);
    // 1 % of the sensors' values, all in one 64-row chunk of the column.
    std::vector<PropertyWrite> one_chunk;
    for (int i = 0; i < sensors / 100; ++i) one_chunk.push_back({*base.find(numbered("s", i)), column, -1.0, std::nullopt});
    auto a = TwinGraph::from_snapshot(base);
    a->write_properties(one_chunk);
    const GraphStats sa = a->stats();
    CHECK(sa.chunks_copied > 0);
    CHECK(sa.bytes_copied > 0);
    CHECK(sa.bytes_copied < 40 * 1024);

    // The same number of writes spread over 20 chunks of the column copies more chunks.
    std::vector<PropertyWrite> spread;
    for (int i = 0; i < sensors / 100; ++i) spread.push_back({*base.find(numbered("s", i * 100)), column, -1.0, std::nullopt});
    auto b = TwinGraph::from_snapshot(base);
    b->write_properties(spread);
    const GraphStats sb = b->stats();
    CHECK(sb.chunks_copied > sa.chunks_copied);
    CHECK(sb.bytes_copied > sa.bytes_copied);
    CHECK(sb.directories_copied == sa.directories_copied);  // same columns touched

    // Writing the same chunks again copies nothing more.
    a->write_properties(one_chunk);
    CHECK(a->stats().bytes_copied == sa.bytes_copied);
    CHECK(value_of(base, 0) == 0.0);
}

TEST_CASE("clones written on several threads do not see each other or disturb the snapshot", "[clone]") {
    const Snapshot base = base_snapshot();
    const std::uint32_t column = value_column(base);
    std::vector<TwinIndex> twins;
    for (int i = 0; i < sensors; ++i) twins.push_back(*base.find(numbered("s", i)));
    constexpr int threads = 4;
    constexpr int clones_per_thread = 8;
    std::vector<int> failures(threads, 0);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int k = 0; k < clones_per_thread; ++k) {
                const int id = t * clones_per_thread + k + 1;
                auto clone = TwinGraph::from_snapshot(base);
                // Each clone writes its own value into a different subset, several times.
                for (int round = 0; round < 5; ++round) {
                    std::vector<PropertyWrite> writes;
                    for (int i = (id + round) % 7; i < sensors; i += 7)
                        writes.push_back({twins[static_cast<std::size_t>(i)], column, 1000.0 * id + round, std::nullopt});
                    clone->write_properties(writes);
                    clone->upsert_twin(numbered("extra-", round), sensor(id));
                }
                const Snapshot mine = clone->snapshot();
                for (int i = 0; i < sensors; ++i) {
                    const double v = mine.get_property(numbered("s", i), "value")->get<double>();
                    int last = -1;  // the last round that wrote sensor i
                    for (int round = 0; round < 5; ++round)
                        if (i % 7 == (id + round) % 7) last = round;
                    const double want = last < 0 ? i : 1000.0 * id + last;
                    if (v != want) ++failures[static_cast<std::size_t>(t)];
                }
                if (mine.get_property("extra-4", "value")->get<double>() != id) ++failures[static_cast<std::size_t>(t)];
                // Meanwhile the base is read from this thread too.
                if (value_of(base, id) != id || base.contains("extra-0")) ++failures[static_cast<std::size_t>(t)];
            }
        });
    }
    for (std::thread& th : pool) th.join();
    for (int f : failures) CHECK(f == 0);
    for (int i = 0; i < sensors; ++i) REQUIRE(value_of(base, i) == i);
    CHECK(base.twin_count() == static_cast<std::size_t>(sensors) + 2);
}
