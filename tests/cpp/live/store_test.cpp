// The durable store (sim/live/store.hpp): journaled writes survive closing
// and reopening exactly, checkpoints and the journal tail, damaged files,
// the directory lock, group commit.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "../graph/graph_fixtures.hpp"
#include "store_support.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/live/store_lock.hpp"

using namespace twinsim;
using namespace twinsim::live;
using graph::TwinGraph;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Edits a closed store's journal behind its back (damage for the tests).
void sql(const fs::path& db_file, const char* statement) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_file.c_str(), &db) == SQLITE_OK);
    const int rc = sqlite3_exec(db, statement, nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

StoreOptions options_for(Durability d, std::uint64_t checkpoint_every = 0) {
    StoreOptions o;
    o.durability = d;
    o.checkpoint_every = checkpoint_every;
    o.clock = test::TestClock{};
    return o;
}

// Every kind of write the graph has, with models uploaded and decommissioned.
void write_everything(TwinGraph& g, int round) {
    const std::string r = std::to_string(round);
    if (round == 0) {
        const auto docs = test::building_models();
        g.add_models(docs);
    }
    g.upsert_twin("floor-" + r, test::floor_twin(round));
    g.upsert_twin("room-" + r, test::room(20.0 + round));
    g.upsert_relationship("floor-" + r, "c-" + r, test::rel("room-" + r, "contains"));
    g.update_twin("room-" + r, json::array({{{"op", "add"}, {"path", "/humidity"}, {"value", 40 + round}},
                                            {{"op", "add"}, {"path", "/$metadata/humidity/sourceTime"},
                                             {"value", "2026-07-01T10:00:00Z"}}}));
    g.update_relationship("floor-" + r, "c-" + r,
                          json::array({{{"op", "add"}, {"path", "/since"}, {"value", "2026-01-02"}}}));
    g.atomically([&](TwinGraph& a) {
        a.upsert_twin("sensor-" + r, test::sensor(round));
        a.upsert_relationship("sensor-" + r, "obs", test::rel("room-" + r, "observes"));
    });
    const auto t = g.find("sensor-" + r);
    const std::uint32_t column = g.snapshot().models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
    g.write_properties(std::vector<graph::PropertyWrite>{{*t, column, 99.5, Timestamp{1'700'000'000'000'000'000LL}}});
    json replace = test::room(19.0);
    replace["name"] = "kitchen";
    g.upsert_twin("room-" + r, replace);
    if (round == 1) {
        g.delete_twin("floor-0", std::nullopt, /*cascade=*/true);
        g.decommission_model("dtmi:test:Office;1");
    }
}

}  // namespace

TEST_CASE("store: every write survives closing and reopening, exactly", "[store]") {
    for (const Durability d : {Durability::per_batch, Durability::group}) {
        test::TempDir dir("store-roundtrip");
        json before;
        std::string bytes_before;
        {
            auto store = open_store(dir.path, options_for(d));
            for (int round = 0; round < 3; ++round) write_everything(store->graph(), round);
            before = test::observable(store->graph().snapshot());
            bytes_before = graph::serialize(store->graph().snapshot());
            CHECK(store->stats().durable_batch == store->stats().written_batch);
        }
        CHECK(fs::exists(dir.path / "journal.db"));
        CHECK(fs::exists(dir.path / "LOCK"));
        auto store = open_store(dir.path, options_for(d));
        CHECK(store->recovery().checkpoint_batch == 0);
        CHECK(store->recovery().batches_replayed == store->recovery().last_batch);
        CHECK(store->recovery().batches_replayed > 20);
        CHECK(test::observable(store->graph().snapshot()) == before);
        CHECK(graph::serialize(store->graph().snapshot()) == bytes_before);
        // It keeps working, numbering on.
        std::uint64_t heard = 0;
        store->graph().subscribe([&](const graph::ChangeEvent& e) { heard = e.sequence; });
        store->graph().upsert_twin("after", test::floor_twin(7));
        CHECK(heard == before["sequence"].get<std::uint64_t>() + 1);
    }
}

TEST_CASE("store: opening loads the latest checkpoint and replays the journal after it", "[store]") {
    test::TempDir dir("store-checkpoint");
    json before;
    std::uint64_t checkpointed = 0;
    {
        auto store = open_store(dir.path, options_for(Durability::per_batch));
        write_everything(store->graph(), 0);
        checkpointed = store->checkpoint();
        CHECK(checkpointed == store->stats().written_batch);
        CHECK(store->checkpoint() == checkpointed);  // nothing new: no second file
        write_everything(store->graph(), 1);
        before = test::observable(store->graph().snapshot());
    }
    CHECK(fs::exists(dir.path / "checkpoints" / ("checkpoint-" + std::string(20 - std::to_string(checkpointed).size(), '0') +
                                                 std::to_string(checkpointed) + ".ckpt")));
    auto store = open_store(dir.path, options_for(Durability::per_batch));
    CHECK(store->recovery().checkpoint_batch == checkpointed);
    CHECK(store->recovery().batches_replayed == store->recovery().last_batch - checkpointed);
    CHECK(store->recovery().batches_replayed > 0);
    CHECK(test::observable(store->graph().snapshot()) == before);
}

TEST_CASE("store: checkpoints are written in the background every N batches", "[store]") {
    test::TempDir dir("store-background");
    json before;
    {
        auto store = open_store(dir.path, options_for(Durability::group, 5));
        write_everything(store->graph(), 0);
        write_everything(store->graph(), 1);
        for (int i = 0; i < 100 && store->stats().checkpoints == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CHECK(store->stats().checkpoints >= 1);
        CHECK(store->stats().last_checkpoint_error.empty());
        before = test::observable(store->graph().snapshot());
    }
    auto store = open_store(dir.path, options_for(Durability::group, 5));
    CHECK(store->recovery().checkpoint_batch > 0);
    CHECK(test::observable(store->graph().snapshot()) == before);
}

TEST_CASE("store: a damaged checkpoint is skipped for an earlier one or the whole journal", "[store]") {
    test::TempDir dir("store-damaged-checkpoint");
    json before;
    fs::path newest;
    std::uint64_t first = 0;
    {
        auto store = open_store(dir.path, options_for(Durability::per_batch));
        write_everything(store->graph(), 0);
        first = store->checkpoint();
        write_everything(store->graph(), 1);
        store->checkpoint();
        before = test::observable(store->graph().snapshot());
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir.path / "checkpoints")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() == 2);
    {
        // Flip a byte in the middle of the newest checkpoint.
        std::fstream f(files.back(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(fs::file_size(files.back()) / 2));
        f.put('\x5a');
    }
    {
        auto store = open_store(dir.path, options_for(Durability::per_batch));
        CHECK(store->recovery().checkpoint_batch == first);
        REQUIRE(store->recovery().damaged_checkpoints.size() == 1);
        CHECK_THAT(store->recovery().damaged_checkpoints[0],
                   Catch::Contains(files.back().filename().string()) && Catch::Contains("checksum"));
        CHECK(test::observable(store->graph().snapshot()) == before);
    }
    // Both damaged (the older one truncated): the whole journal is replayed.
    fs::resize_file(files.front(), 10);
    auto store = open_store(dir.path, options_for(Durability::per_batch));
    CHECK(store->recovery().checkpoint_batch == 0);
    CHECK(store->recovery().damaged_checkpoints.size() == 2);
    CHECK_THAT(store->recovery().damaged_checkpoints[1], Catch::Contains("truncated"));
    CHECK(test::observable(store->graph().snapshot()) == before);
}

TEST_CASE("store: a damaged or foreign journal gives a clear error", "[store]") {
    test::TempDir dir("store-damaged-journal");
    {
        auto store = open_store(dir.path, options_for(Durability::per_batch));
        write_everything(store->graph(), 0);
    }
    const fs::path journal = dir.path / "journal.db";
    SECTION("garbage instead of a database") {
        for (const char* suffix : {"-wal", "-shm"}) fs::remove(dir.path / (std::string("journal.db") + suffix));
        std::ofstream(journal, std::ios::binary | std::ios::trunc) << std::string(8192, 'x');
        try {
            (void)open_store(dir.path, options_for(Durability::per_batch));
            FAIL("a garbage journal was opened");
        } catch (const StoreCorruptError& e) {
            CHECK_THAT(e.what(), Catch::Contains(dir.path.string()) && Catch::Contains("journal.db") &&
                                     Catch::Contains("not a SQLite database"));
            CHECK(e.path() == fs::absolute(dir.path));
        }
    }
    SECTION("a batch whose payload is damaged") {
        sql(journal, "UPDATE batches SET payload = x'a1ff00' WHERE id = 3");
        try {
            (void)open_store(dir.path, options_for(Durability::per_batch));
            FAIL("a damaged batch was replayed");
        } catch (const StoreCorruptError& e) {
            CHECK_THAT(e.what(), Catch::Contains("batch 3 of the journal") && Catch::Contains("cannot be read"));
        }
    }
    SECTION("a batch missing from the middle") {
        sql(journal, "DELETE FROM batches WHERE id = 4");
        CHECK_THROWS_WITH(open_store(dir.path, options_for(Durability::per_batch)),
                          Catch::Contains("is missing batch 4 (the next one is 5)"));
    }
    SECTION("a batch that does not replay") {
        // Batch 3 recorded again as batch 2: its change numbers do not follow on.
        sql(journal, "UPDATE batches SET payload = (SELECT payload FROM batches WHERE id = 3) WHERE id = 2");
        CHECK_THROWS_WITH(open_store(dir.path, options_for(Durability::per_batch)),
                          Catch::Contains("batch 2 of the journal") && Catch::Contains("does not replay"));
    }
}

TEST_CASE("store: a second open is refused with the directory and the holder's pid", "[store]") {
    test::TempDir dir("store-lock");
    auto store = open_store(dir.path, options_for(Durability::per_batch));
    try {
        (void)open_store(dir.path, options_for(Durability::per_batch));
        FAIL("opened twice");
    } catch (const StoreLockedError& e) {
        CHECK(e.holder_pid() == ::getpid());
        CHECK_THAT(e.what(), Catch::Contains(fs::absolute(dir.path).string()) &&
                                 Catch::Contains("already open in process " + std::to_string(::getpid())));
    }
    store->graph().add_models(test::building_models());
    store->close();
    // Released by close: it opens again, with everything.
    auto again = open_store(dir.path, options_for(Durability::per_batch));
    CHECK(again->graph().snapshot().list_models().size() == 6);
}

TEST_CASE("store: StoreLock takes the same lock as open_store, without opening the store", "[store]") {
    test::TempDir dir("store-lock-alone");
    {
        auto store = open_store(dir.path, options_for(Durability::per_batch));
        // An open store refuses the lock alone too (the CLI's `rules list/remove`).
        CHECK_THROWS_AS(StoreLock(dir.path), StoreLockedError);
    }
    {
        StoreLock lock(dir.path);
        CHECK_THROWS_AS(StoreLock(dir.path), StoreLockedError);
        try {
            (void)open_store(dir.path, options_for(Durability::per_batch));
            FAIL("opened while locked");
        } catch (const StoreLockedError& e) {
            CHECK(e.holder_pid() == ::getpid());
        }
        StoreLock moved(std::move(lock));
        moved.release();
        auto store = open_store(dir.path, options_for(Durability::per_batch));  // released
    }
    CHECK_THROWS_AS(StoreLock(dir.path / "missing"), StoreError);
}

TEST_CASE("store: writes after close are refused, reads still work", "[store]") {
    test::TempDir dir("store-closed");
    auto store = open_store(dir.path, options_for(Durability::group));
    store->graph().add_models(test::building_models());
    store->close();
    try {
        store->graph().upsert_twin("f", test::floor_twin(1));
        FAIL("a write after close was accepted");
    } catch (const StoreWriteError& e) {
        CHECK_THAT(e.what(), Catch::Contains("closed") && Catch::Contains("not applied"));
    }
    CHECK(store->graph().twin_count() == 0);
    CHECK(store->graph().snapshot().list_models().size() == 6);
}

TEST_CASE("store: group commit shares syncs between writers and loses nothing", "[store]") {
    test::TempDir dir("store-group");
    json before;
    {
        auto store = open_store(dir.path, options_for(Durability::group));
        TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        std::vector<std::thread> writers;
        for (int w = 0; w < 8; ++w)
            writers.emplace_back([&g, w] {
                for (int k = 0; k < 40; ++k) g.upsert_twin(test::numbered(test::numbered("w", w) + "-", k), test::sensor(k));
            });
        for (std::thread& t : writers) t.join();
        const StoreStats s = store->stats();
        CHECK(s.written_batch == 1 + 8 * 40);
        CHECK(s.durable_batch == s.written_batch);  // every write returned only once durable
        CHECK(s.syncs > 0);
        CHECK(s.syncs < s.written_batch);  // shared
        before = test::observable(g.snapshot());
    }
    auto store = open_store(dir.path, options_for(Durability::group));
    CHECK(store->graph().twin_count() == 320);
    CHECK(test::observable(store->graph().snapshot()) == before);
}

TEST_CASE("store: group commit under 16 writers PATCHing the same twins: every PATCH returns (no follower misses "
          "its sync's end), shares syncs, and is on disk", "[store]") {
    test::TempDir dir("store-group-patch");
    json before;
    std::uint64_t batches = 0;
    {
        auto store = open_store(dir.path, options_for(Durability::group));
        TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        for (int k = 0; k < 20; ++k) g.upsert_twin(test::numbered("room-", k), test::room(20.0));
        const std::uint64_t start = store->stats().written_batch;
        std::vector<std::thread> writers;
        std::atomic<int> returned{0};
        std::atomic<int> not_durable{0};  // Catch's CHECK is not for other threads: counted, checked after
        for (int w = 0; w < 16; ++w)
            writers.emplace_back([&, w] {
                for (int k = 0; k < 150; ++k) {
                    g.update_twin(test::numbered("room-", (w * 7 + k) % 20),
                                  json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 15.0 + w + k / 1000.0}}}));
                    // Returned: durable, so the store knows a sync covering it ended.
                    if (store->stats().durable_batch <= start) ++not_durable;
                    ++returned;
                }
            });
        for (std::thread& t : writers) t.join();
        CHECK(returned == 16 * 150);
        CHECK(not_durable == 0);
        const StoreStats s = store->stats();
        batches = s.written_batch;
        CHECK(s.written_batch == start + 16 * 150);
        CHECK(s.durable_batch == s.written_batch);
        before = test::observable(g.snapshot());
    }
    auto store = open_store(dir.path, options_for(Durability::group));
    CHECK(store->recovery().last_batch == batches);
    CHECK(test::observable(store->graph().snapshot()) == before);
}

TEST_CASE("store: a missing or unusable directory is refused clearly", "[store]") {
    test::TempDir dir("store-missing");
    StoreOptions o = options_for(Durability::per_batch);
    o.create = false;
    CHECK_THROWS_WITH(open_store(dir.path / "nope", o), Catch::Contains("does not exist"));
    std::ofstream(dir.path / "file") << "x";
    CHECK_THROWS_AS(open_store(dir.path / "file"), StoreError);
    CHECK_THROWS_WITH(open_store(dir.path / "file"), Catch::Contains("is not a directory"));
}
