// When the store takes background checkpoints (StoreOptions::checkpoint_every
// and checkpoint_every_changes): by batch count and by the number of change
// events journaled, so what recovery replays stays bounded in changes.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "../graph/graph_fixtures.hpp"
#include "store_support.hpp"
#include "twinsim/live/store.hpp"

using namespace twinsim;
using namespace twinsim::live;
using nlohmann::json;

namespace {

bool wait_for_checkpoint(Store& store, std::uint64_t at_least_batch) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
        if (store.stats().last_checkpoint_batch >= at_least_batch) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

// `batches` batches of `per_batch` numeric updates over ten sensors s0..s9:
// one change event per sensor and batch (write_properties merges a twin's writes).
void big_batches(graph::TwinGraph& g, int batches, int per_batch) {
    const std::uint32_t column = g.snapshot().models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
    std::vector<graph::PropertyWrite> writes;
    for (int b = 0; b < batches; ++b) {
        writes.clear();
        for (int k = 0; k < per_batch; ++k)
            writes.push_back({*g.find(test::numbered("s", k % 10)), column, static_cast<double>(b * per_batch + k), std::nullopt});
        g.write_properties(writes);
    }
}

}  // namespace

TEST_CASE("store: a background checkpoint is taken once enough changes were journaled, whatever the batch count",
          "[store]") {
    test::TempDir dir("store-checkpoint-changes");
    StoreOptions o;
    o.checkpoint_every = 0;               // never by batch count
    o.checkpoint_every_changes = 45;
    std::uint64_t last = 0;
    {
        auto store = open_store(dir.path, o);
        graph::TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        g.atomically([](graph::TwinGraph& a) {
            for (int i = 0; i < 10; ++i) a.upsert_twin(test::numbered("s", i), test::sensor(0));
        });
        big_batches(g, 2, 100);  // 10 creations + 2 x 10 updates = 30 changes: not yet
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        CHECK(store->stats().checkpoints == 0);
        big_batches(g, 2, 200);  // 40, then 50 changes: due after the last batch only
        last = store->stats().written_batch;
        REQUIRE(wait_for_checkpoint(*store, last));
        CHECK(store->stats().checkpoints == 1);
    }
    auto store = open_store(dir.path, o);
    CHECK(store->recovery().checkpoint_batch == last);
    CHECK(store->recovery().batches_replayed == 0);
    CHECK(store->recovery().changes_replayed == 0);
    CHECK(store->graph().twin_count() == 10);
}

TEST_CASE("store: with both checkpoint settings 0 no background checkpoint is taken", "[store]") {
    test::TempDir dir("store-checkpoint-off");
    StoreOptions o;
    o.checkpoint_every = 0;
    o.checkpoint_every_changes = 0;
    {
        auto store = open_store(dir.path, o);
        graph::TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        g.atomically([](graph::TwinGraph& a) {
            for (int i = 0; i < 10; ++i) a.upsert_twin(test::numbered("s", i), test::sensor(0));
        });
        big_batches(g, 5, 300);
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        CHECK(store->stats().checkpoints == 0);
    }
    auto store = open_store(dir.path, o);
    CHECK(store->recovery().checkpoint_batch == 0);
    CHECK(store->recovery().changes_replayed == 10 + 5 * 10);  // one event per twin touched in each batch
}

TEST_CASE("store: closing after a long tail takes a checkpoint, so reopening replays nothing", "[store]") {
    test::TempDir dir("store-checkpoint-close");
    StoreOptions o;
    o.checkpoint_every = 0;
    o.checkpoint_every_changes = 1000;  // closing checkpoints from a tenth of it: 100 changes
    std::uint64_t last = 0;
    {
        auto store = open_store(dir.path, o);
        graph::TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        g.atomically([](graph::TwinGraph& a) {
            for (int i = 0; i < 10; ++i) a.upsert_twin(test::numbered("s", i), test::sensor(0));
        });
        big_batches(g, 8, 10);  // 10 + 80 = 90 changes: too few
    }
    {
        auto store = open_store(dir.path, o);
        CHECK(store->recovery().checkpoint_batch == 0);
        CHECK(store->recovery().changes_replayed == 90);
        big_batches(store->graph(), 1, 10);  // 90 replayed + 10 = 100: closing checkpoints
        last = store->stats().written_batch;
    }
    auto store = open_store(dir.path, o);
    CHECK(store->recovery().checkpoint_batch == last);
    CHECK(store->recovery().batches_replayed == 0);
    CHECK(test::observable(store->graph().snapshot())["sequence"] == 100);
}
