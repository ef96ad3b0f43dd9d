// `twinsim-bench store`: property updates per second into a durable store
// (group commit and per batch) beside the same rows inserted into a bare
// SQLite table with the same durability (each batch one transaction, synced
// before the next begins), measured in the same run.
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::bench {
namespace {

namespace fs = std::filesystem;

struct Rate {
    double seconds = 0.0;
    std::uint64_t updates = 0;
    std::uint64_t syncs = 0;
    [[nodiscard]] double per_second() const { return seconds > 0 ? static_cast<double>(updates) / seconds : 0.0; }
};

Rate store_rate(const fs::path& dir, live::Durability durability, const StoreBenchOptions& o) {
    fs::remove_all(dir);
    live::StoreOptions so;
    so.durability = durability;
    so.checkpoint_every = 0;
    auto store = live::open_store(dir, so);
    graph::TwinGraph& g = store->graph();
    g.add_models(std::vector<dtdl::Document>{{"sensor.json", sensor_model}});
    g.atomically([&](graph::TwinGraph& a) {
        for (std::size_t t = 0; t < o.twins; ++t)
            a.upsert_twin(numbered_id("s", t), {{"$metadata", {{"$model", "dtmi:bench:Sensor;1"}}}, {"value", 0.0}});
    });
    const std::uint32_t column = g.snapshot().models()->get("dtmi:bench:Sensor;1").layout.find("value")->column;
    std::vector<graph::TwinIndex> index(o.twins);
    for (std::size_t t = 0; t < o.twins; ++t) index[t] = *g.find(numbered_id("s", t));
    const std::uint64_t syncs_before = store->stats().syncs;
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> writers;
    for (unsigned w = 0; w < o.writers; ++w)
        writers.emplace_back([&, w] {
            Random rng(o.seed + w);
            std::vector<graph::PropertyWrite> batch(o.batch);
            for (std::size_t b = 0; b < o.batches; ++b) {
                for (graph::PropertyWrite& pw : batch) pw = {index[rng.below(o.twins)], column, rng.uniform(0, 100), std::nullopt};
                g.write_properties(batch);
            }
        });
    for (std::thread& t : writers) t.join();
    Rate r;
    r.seconds = seconds_since(start);
    r.updates = static_cast<std::uint64_t>(o.writers) * o.batches * o.batch;
    // Per batch, SQLite syncs inside every commit; group commit counts the flusher's syncs.
    r.syncs = durability == live::Durability::per_batch ? static_cast<std::uint64_t>(o.writers) * o.batches
                                                        : store->stats().syncs - syncs_before;
    return r;
}

// The peer: the same rows (twin, value, time) into one table, one transaction
// per batch, WAL with synchronous=FULL: every batch durable when its COMMIT returns.
Rate sqlite_rate(const fs::path& dir, const StoreBenchOptions& o) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    sqlite3* db = nullptr;
    if (sqlite3_open((dir / "bare.db").c_str(), &db) != SQLITE_OK) throw std::runtime_error("sqlite3_open failed");
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE updates(twin INTEGER, value REAL, time INTEGER)", nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO updates VALUES(?,?,?)", -1, &insert, nullptr);
    Random rng(o.seed);
    const auto start = std::chrono::steady_clock::now();
    const std::size_t batches = o.batches * o.writers;
    for (std::size_t b = 0; b < batches; ++b) {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        const auto now = std::chrono::system_clock::now().time_since_epoch().count();
        for (std::size_t k = 0; k < o.batch; ++k) {
            sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(rng.below(o.twins)));
            sqlite3_bind_double(insert, 2, rng.uniform(0, 100));
            sqlite3_bind_int64(insert, 3, static_cast<sqlite3_int64>(now));
            sqlite3_step(insert);
            sqlite3_reset(insert);
        }
        if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error("COMMIT failed");
    }
    Rate r;
    r.seconds = seconds_since(start);
    r.updates = batches * o.batch;
    r.syncs = batches;
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return r;
}

nlohmann::ordered_json rate_json(const Rate& r) {
    return {{"updates", r.updates}, {"seconds", r.seconds}, {"updates_per_second", r.per_second()}, {"syncs", r.syncs}};
}

}  // namespace

int run_store(const StoreBenchOptions& o) {
    const fs::path dir = o.directory.empty() ? fs::temp_directory_path() / "twinsim-bench-store" : fs::path(o.directory);
    const Rate group = store_rate(dir / "group", live::Durability::group, o);
    const Rate per_batch = store_rate(dir / "per_batch", live::Durability::per_batch, o);
    const Rate bare = sqlite_rate(dir / "sqlite", o);
    fs::remove_all(dir);
    nlohmann::ordered_json out;
    out["benchmark"] = "store";
    out["twins"] = o.twins;
    out["writers"] = o.writers;
    out["batch"] = o.batch;
    out["batches_per_writer"] = o.batches;
    out["directory"] = dir.string();
    out["store_group_commit"] = rate_json(group);
    out["store_per_batch"] = rate_json(per_batch);
    out["sqlite_table_per_batch_sync"] = rate_json(bare);
    out["target_updates_per_second"] = 300000;
    out["group_vs_sqlite"] = bare.per_second() > 0 ? group.per_second() / bare.per_second() : 0.0;
    std::cout << out.dump(2) << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
