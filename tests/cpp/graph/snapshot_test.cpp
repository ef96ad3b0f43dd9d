// Snapshots: isolation from later writes, sharing of state (copy-on-write
// measured in bytes), and reads on other threads while the writer writes.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/twin_graph.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;
using test::floor_twin;
using test::rel;
using test::room;
using test::sensor;

namespace {

void load_models(TwinGraph& g) {
    auto docs = test::building_models();
    g.add_models(docs);
}

void add_sensors(TwinGraph& g, int n) {
    g.atomically([n](TwinGraph& gg) {
        for (int i = 0; i < n; ++i) gg.upsert_twin(test::numbered("s-", i), sensor(i));
    });
}

}  // namespace

TEST_CASE("a default Snapshot is an empty graph", "[snapshot]") {
    const Snapshot s;
    CHECK(s.twin_count() == 0);
    CHECK(s.relationship_count() == 0);
    CHECK(s.list_models().empty());
    CHECK_FALSE(s.find("x"));
    CHECK_THROWS_AS(s.get_twin("x"), NotFoundError);
}

TEST_CASE("a snapshot never sees later writes, deletes or relationship changes", "[snapshot]") {
    TwinGraph g{test::test_options()};
    load_models(g);
    g.upsert_twin("floor-1", floor_twin(1));
    g.upsert_twin("room-1", room(20));
    g.upsert_twin("room-2", room(21));
    g.upsert_relationship("floor-1", "r1", rel("room-1", "contains"));
    const Snapshot s = g.snapshot();
    const json room1 = s.get_twin("room-1");

    g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":99}])"));
    g.upsert_relationship("floor-1", "r2", rel("room-2", "contains"));
    g.delete_relationship("floor-1", "r1");
    g.delete_twin("room-1");
    g.upsert_twin("room-3", room(3));  // reuses room-1's index
    std::vector<dtdl::Document> more{
        {"lamp.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Lamp;1","@type":"Interface"})"}};
    g.add_models(more);

    CHECK(s.get_twin("room-1") == room1);
    CHECK(s.twin_count() == 3);
    CHECK_FALSE(s.contains("room-3"));
    CHECK(s.relationship_count() == 1);
    CHECK(s.get_relationship("floor-1", "r1")["$targetId"] == "room-1");
    CHECK_THROWS_AS(s.get_relationship("floor-1", "r2"), NotFoundError);
    CHECK(s.out_relationships(*s.find("floor-1")).size() == 1);
    CHECK(s.in_relationships(*s.find("room-1")).size() == 1);
    CHECK(s.in_relationships(*s.find("room-2")).empty());
    CHECK(s.list_models().size() == 6);
    CHECK(s.numeric_column("dtmi:test:Room;1", "temperature").values == std::vector<double>{20.0, 21.0});

    const Snapshot now = g.snapshot();
    CHECK_FALSE(now.contains("room-1"));
    CHECK(now.get_twin("room-3")["temperature"] == 3.0);
    CHECK(now.list_models().size() == 7);
    CHECK(now.relationship_count() == 1);
}

TEST_CASE("a snapshot outlives its graph", "[snapshot]") {
    Snapshot s;
    {
        TwinGraph g{test::test_options()};
    load_models(g);
        g.upsert_twin("room-1", room(20));
        s = g.snapshot();
    }
    CHECK(s.get_twin("room-1")["temperature"] == 20.0);
}

TEST_CASE("writes after a snapshot copy only the chunks they touch", "[snapshot]") {
    TwinGraph g{test::test_options()};
    load_models(g);
    add_sensors(g, 100'000);
    TwinIndex t0 = 0;
    std::uint32_t value = 0;
    {
        const Snapshot dropped = g.snapshot();
        t0 = *dropped.find("s-0");
        value = dropped.models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
    }
    // Without a snapshot alive, writes copy nothing.
    const GraphStats s0 = g.stats();
    std::vector<PropertyWrite> zero{{t0, value, 0.0, std::nullopt}};
    g.write_properties(zero);
    CHECK(g.stats().bytes_copied == s0.bytes_copied);
    const Snapshot base = g.snapshot();
    std::vector<PropertyWrite> one{{t0, value, 1.0, std::nullopt}};

    // With one alive: a single write un-shares a few chunks and directories.
    Snapshot snap = g.snapshot();
    const GraphStats s1 = g.stats();
    g.write_properties(one);
    const GraphStats s2 = g.stats();
    const std::uint64_t one_write = s2.bytes_copied - s1.bytes_copied;
    CHECK(s2.chunks_copied - s1.chunks_copied <= 4);  // twin meta, value, lastUpdateTime (+ presence)
    CHECK(one_write > 0);
    // A few chunks plus the un-shared directories (16 bytes per chunk of the
    // column), against several MB of state for 100,000 twins.
    CHECK(one_write < 160 * 1024);

    // More writes into the same chunks copy nothing more.
    std::vector<PropertyWrite> same;
    for (TwinIndex t = t0; t < t0 + 32; ++t) same.push_back({t, value, 2.0, std::nullopt});  // one chunk
    g.write_properties(same);
    CHECK(g.stats().bytes_copied == s2.bytes_copied);

    // Scattered writes copy in proportion to the chunks touched, a small
    // fraction of the state when few chunks are touched.
    snap = g.snapshot();
    const GraphStats s3 = g.stats();
    std::vector<PropertyWrite> scattered;
    for (TwinIndex k = 0; k < 10; ++k) scattered.push_back({k * 10'000, value, 3.0, std::nullopt});
    g.write_properties(scattered);
    const GraphStats s4 = g.stats();
    CHECK(s4.chunks_copied - s3.chunks_copied <= 10 * 3);
    // 100,000 twins hold several MB of state (ids, meta, values, times).
    CHECK(s4.bytes_copied - s3.bytes_copied < 100'000 * 8);
    CHECK(snap.get_twin("s-10000")["value"] == 10000.0);
    CHECK(g.get_twin("s-10000")["value"] == 3.0);
    CHECK(base.get_twin("s-0")["value"] == 0.0);
}

TEST_CASE("readers on other threads see consistent snapshots while the writer writes", "[snapshot]") {
    TwinGraph g{test::test_options()};
    load_models(g);
    add_sensors(g, 2'000);
    const Snapshot first = g.snapshot();
    const std::uint32_t value = first.models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
    const std::uint32_t count = first.models()->get("dtmi:test:Sensor;1").layout.find("count")->column;
    // Invariant written atomically by every batch: value == count on every twin,
    // and all twins carry the same round number.
    {
        std::vector<PropertyWrite> init;
        for (TwinIndex t = 0; t < 2'000; ++t) {
            init.push_back({t, value, 0, std::nullopt});
            init.push_back({t, count, 0, std::nullopt});
        }
        g.write_properties(init);
    }
    std::atomic<bool> done{false};
    std::atomic<int> violations{0};
    std::atomic<int> reads{0};
    auto reader = [&] {
        while (!done.load()) {
            const Snapshot s = g.snapshot();
            const NumericColumn v = s.numeric_column("dtmi:test:Sensor;1", "value");
            const NumericColumn c = s.numeric_column("dtmi:test:Sensor;1", "count");
            if (v.values.size() != 2'000 || c.values.size() != 2'000) ++violations;
            for (std::size_t i = 0; i < v.values.size() && i < c.values.size(); ++i)
                if (v.values[i] != c.values[i] || v.values[i] != v.values[0]) ++violations;
            if (s.find("s-1999") != TwinIndex{1999}) ++violations;
            ++reads;
        }
    };
    std::thread r1(reader);
    std::thread r2(reader);
    for (int round = 1; round <= 200; ++round) {
        std::vector<PropertyWrite> batch;
        for (TwinIndex t = 0; t < 2'000; ++t) {
            batch.push_back({t, value, static_cast<double>(round), std::nullopt});
            batch.push_back({t, count, static_cast<double>(round), std::nullopt});
        }
        g.write_properties(batch);
        if (round % 20 == 0) {
            // Structural changes too.
            g.upsert_twin(test::numbered("extra-", round), room(1));
            g.delete_twin(test::numbered("extra-", round));
        }
    }
    done = true;
    r1.join();
    r2.join();
    CHECK(violations == 0);
    CHECK(reads > 0);
    CHECK(g.snapshot().get_twin("s-5")["count"] == 200);
}
