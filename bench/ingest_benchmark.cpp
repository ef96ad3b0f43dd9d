// `twinsim-bench ingest`: how fast property updates get in, on every path a
// user takes, each beside its peer measured in the same run:
//  - in memory, batches of N: TwinGraph::write_properties (by index),
//    update_twins (JSON Patch per twin; also with its fast path switched off,
//    the general path) beside the peer, nlohmann::json's own JSON Patch
//    (patch_inplace) on a hash map of twin documents — no validation, etags,
//    times or atomicity, the least a hand-written store would do — and the
//    Ingestor's long rows (what graph.ingest(DataFrame) and `twinsim ingest`
//    run); each as updates per wall second and per CPU second of the thread;
//  - into a store with group commit (W writer threads) beside the same rows
//    into a bare SQLite table, one transaction per batch, synchronous=FULL;
//  - acknowledged latency of one update with fsync (per_batch) beside one
//    SQLite row inserted with synchronous=FULL.
// Rounds are interleaved (every path once per round) and medians reported.
#include <sqlite3.h>

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_support.hpp"
#include "live_bench.hpp"
#include "twinsim/live/ingest/ingest.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void add_sensors(graph::TwinGraph& g, std::size_t twins) {
    g.add_models(std::vector<dtdl::Document>{{"sensor.json", sensor_model}});
    g.atomically([&](graph::TwinGraph& a) {
        for (std::size_t t = 0; t < twins; ++t)
            a.upsert_twin(numbered_id("s", t), {{"$metadata", {{"$model", "dtmi:bench:Sensor;1"}}}, {"value", 0.0}});
    });
}

struct Indexed {
    std::uint32_t column = 0;
    std::vector<graph::TwinIndex> index;
};

Indexed index_sensors(graph::TwinGraph& g, std::size_t twins) {
    Indexed out;
    out.column = g.snapshot().models()->get("dtmi:bench:Sensor;1").layout.find("value")->column;
    out.index.resize(twins);
    for (std::size_t t = 0; t < twins; ++t) out.index[t] = *g.find(numbered_id("s", t));
    return out;
}

void check_sqlite(int rc, sqlite3* db, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        throw std::runtime_error(std::string("SQLite peer: ") + what + " failed: " + sqlite3_errmsg(db));
}

// ---- in memory -------------------------------------------------------------------

// CPU time of the calling thread: on a shared, loaded machine the wall clock
// also counts the time other processes held the core.
double thread_cpu_seconds() {
    timespec t{};
    (void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Rate {
    double wall = 0.0;  ///< updates per second
    double cpu = 0.0;   ///< updates per CPU second of the measuring thread
};

template <class F>
Rate timed(std::size_t updates, F&& run) {
    const double cpu_start = thread_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    run();
    const double wall = seconds_since(start);
    const double cpu = thread_cpu_seconds() - cpu_start;
    return {static_cast<double>(updates) / wall, static_cast<double>(updates) / std::max(cpu, 1e-9)};
}

// Updates/s of write_properties over pre-drawn batches.
Rate memory_write_properties(graph::TwinGraph& g, const Indexed& ix, const IngestBenchOptions& o, Random& rng) {
    std::vector<std::vector<graph::PropertyWrite>> batches(o.batches, std::vector<graph::PropertyWrite>(o.batch));
    for (auto& b : batches)
        for (graph::PropertyWrite& w : b) w = {ix.index[rng.below(o.twins)], ix.column, rng.uniform(0, 100), std::nullopt};
    return timed(o.batches * o.batch, [&] {
        for (const auto& b : batches) g.write_properties(b);
    });
}

std::vector<std::vector<graph::TwinPatch>> draw_patches(const IngestBenchOptions& o, Random& rng) {
    std::vector<std::vector<graph::TwinPatch>> batches(o.batches);
    for (auto& b : batches) {
        b.reserve(o.batch);
        for (std::size_t k = 0; k < o.batch; ++k)
            b.push_back({numbered_id("s", rng.below(o.twins)),
                         json::array({{{"op", "replace"}, {"path", "/value"}, {"value", rng.uniform(0, 100)}}}),
                         std::nullopt});
    }
    return batches;
}

Rate memory_update_twins(graph::TwinGraph& g, const std::vector<std::vector<graph::TwinPatch>>& batches,
                         const IngestBenchOptions& o) {
    return timed(o.batches * o.batch, [&] {
        for (const auto& b : batches) g.update_twins(b);
    });
}

// The peer: the twins as JSON documents in a hash map, each patch applied by
// nlohmann::json itself (in place, the fastest form it offers).
struct PeerDocuments {
    std::unordered_map<std::string, json> twins;
    explicit PeerDocuments(std::size_t n) {
        twins.reserve(n);
        for (std::size_t t = 0; t < n; ++t)
            twins.emplace(numbered_id("s", t), json{{"$dtId", numbered_id("s", t)},
                                                   {"$metadata", {{"$model", "dtmi:bench:Sensor;1"}}},
                                                   {"value", 0.0}});
    }
};

Rate peer_patch_inplace(PeerDocuments& peer, const std::vector<std::vector<graph::TwinPatch>>& batches,
                        const IngestBenchOptions& o) {
    return timed(o.batches * o.batch, [&] {
        for (const auto& b : batches)
            for (const graph::TwinPatch& p : b) peer.twins.at(p.twin_id).patch_inplace(p.patch);
    });
}

Rate memory_ingest_rows(graph::TwinGraph& g, const IngestBenchOptions& o, Random& rng, std::int64_t& clock_ns) {
    live::ingest::Ingestor ingestor(g, nullptr);
    std::vector<std::vector<live::ingest::TableRow>> batches(o.batches);
    for (auto& b : batches) {
        b.reserve(o.batch);
        for (std::size_t k = 0; k < o.batch; ++k) {
            clock_ns += 1000000;
            b.push_back({json{{"time", format_timestamp(Timestamp{clock_ns})},
                              {"twin", numbered_id("s", rng.below(o.twins))},
                              {"property", "value"},
                              {"value", rng.uniform(0, 100)}}});
        }
    }
    return timed(o.batches * o.batch, [&] {
        for (const auto& b : batches) {
            const live::ingest::IngestReport r = ingestor.ingest_rows(b, false, "bench");
            if (!r.bad_rows.empty())
                throw std::runtime_error("ingest_rows reported a bad row: " + r.bad_rows.front().to_string());
        }
    });
}

// ---- durable: group commit beside SQLite ------------------------------------------------

double store_group_rate(const fs::path& dir, const IngestBenchOptions& o, std::uint64_t seed, std::uint64_t& syncs) {
    fs::remove_all(dir);
    live::StoreOptions so;
    so.durability = live::Durability::group;
    so.checkpoint_every = 0;
    auto store = live::open_store(dir, so);
    graph::TwinGraph& g = store->graph();
    add_sensors(g, o.twins);
    const Indexed ix = index_sensors(g, o.twins);
    std::vector<std::vector<std::vector<graph::PropertyWrite>>> work(o.writers);
    Random rng(seed);
    for (auto& w : work) {
        w.assign(o.durable_batches, std::vector<graph::PropertyWrite>(o.batch));
        for (auto& b : w)
            for (graph::PropertyWrite& pw : b) pw = {ix.index[rng.below(o.twins)], ix.column, rng.uniform(0, 100), std::nullopt};
    }
    const std::uint64_t syncs_before = store->stats().syncs;
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> writers;
    for (unsigned w = 0; w < o.writers; ++w)
        writers.emplace_back([&, w] {
            for (const auto& b : work[w]) g.write_properties(b);
        });
    for (std::thread& t : writers) t.join();
    const double seconds = seconds_since(start);
    syncs = store->stats().syncs - syncs_before;
    store->close();
    fs::remove_all(dir);
    return static_cast<double>(o.writers * o.durable_batches * o.batch) / seconds;
}

sqlite3* open_peer(const fs::path& dir) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    sqlite3* db = nullptr;
    if (sqlite3_open((dir / "bare.db").c_str(), &db) != SQLITE_OK) throw std::runtime_error("SQLite peer: open failed");
    check_sqlite(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                  "CREATE TABLE updates(twin INTEGER, value REAL, time INTEGER)",
                              nullptr, nullptr, nullptr),
                 db, "setup");
    return db;
}

// The same rows, one transaction per batch (durable when COMMIT returns), one writer.
double sqlite_batch_rate(const fs::path& dir, const IngestBenchOptions& o, std::uint64_t seed) {
    sqlite3* db = open_peer(dir);
    sqlite3_stmt* insert = nullptr;
    check_sqlite(sqlite3_prepare_v2(db, "INSERT INTO updates VALUES(?,?,?)", -1, &insert, nullptr), db, "prepare");
    Random rng(seed);
    const std::size_t batches = o.durable_batches * o.writers;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t b = 0; b < batches; ++b) {
        check_sqlite(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "BEGIN");
        const auto now = std::chrono::system_clock::now().time_since_epoch().count();
        for (std::size_t k = 0; k < o.batch; ++k) {
            sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(rng.below(o.twins)));
            sqlite3_bind_double(insert, 2, rng.uniform(0, 100));
            sqlite3_bind_int64(insert, 3, static_cast<sqlite3_int64>(now));
            check_sqlite(sqlite3_step(insert), db, "INSERT");
            sqlite3_reset(insert);
        }
        check_sqlite(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "COMMIT");
    }
    const double seconds = seconds_since(start);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    fs::remove_all(dir);
    return static_cast<double>(batches * o.batch) / seconds;
}

// ---- acknowledged latency of single writes ------------------------------------------------

// Seconds per acknowledged single write: write_properties of one update (per_batch: synced before it returns).
std::vector<double> store_single_latencies(const fs::path& dir, const IngestBenchOptions& o, std::uint64_t seed) {
    fs::remove_all(dir);
    live::StoreOptions so;
    so.durability = live::Durability::per_batch;
    so.checkpoint_every = 0;
    auto store = live::open_store(dir, so);
    graph::TwinGraph& g = store->graph();
    add_sensors(g, std::min<std::size_t>(o.twins, 1000));
    const Indexed ix = index_sensors(g, std::min<std::size_t>(o.twins, 1000));
    Random rng(seed);
    std::vector<double> out;
    out.reserve(o.latency_samples);
    for (std::size_t k = 0; k < o.latency_samples; ++k) {
        const graph::PropertyWrite w{ix.index[rng.below(ix.index.size())], ix.column, rng.uniform(0, 100), std::nullopt};
        const auto start = std::chrono::steady_clock::now();
        g.write_properties(std::span<const graph::PropertyWrite>(&w, 1));
        out.push_back(seconds_since(start));
    }
    store->close();
    fs::remove_all(dir);
    return out;
}

std::vector<double> sqlite_single_latencies(const fs::path& dir, const IngestBenchOptions& o, std::uint64_t seed) {
    sqlite3* db = open_peer(dir);
    sqlite3_stmt* insert = nullptr;
    check_sqlite(sqlite3_prepare_v2(db, "INSERT INTO updates VALUES(?,?,?)", -1, &insert, nullptr), db, "prepare");
    Random rng(seed);
    std::vector<double> out;
    out.reserve(o.latency_samples);
    for (std::size_t k = 0; k < o.latency_samples; ++k) {
        const auto start = std::chrono::steady_clock::now();
        sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(rng.below(o.twins)));
        sqlite3_bind_double(insert, 2, rng.uniform(0, 100));
        sqlite3_bind_int64(insert, 3, std::chrono::system_clock::now().time_since_epoch().count());
        check_sqlite(sqlite3_step(insert), db, "INSERT");  // autocommit: synced before it returns
        sqlite3_reset(insert);
        out.push_back(seconds_since(start));
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);
    fs::remove_all(dir);
    return out;
}

using ojson = nlohmann::ordered_json;

ojson latency_json(const std::vector<double>& seconds) {
    return {{"samples", seconds.size()},
            {"p50_ms", percentile(seconds, 0.50) * 1e3},
            {"p99_ms", percentile(seconds, 0.99) * 1e3}};
}

ojson rounds_json(const std::vector<double>& rates) {
    return {{"median_updates_per_second", median(rates)}, {"rounds", rates}};
}

ojson rounds_json(const std::vector<Rate>& rates) {
    std::vector<double> wall, cpu;
    for (const Rate& r : rates) {
        wall.push_back(r.wall);
        cpu.push_back(r.cpu);
    }
    return {{"median_updates_per_second", median(wall)},
            {"median_updates_per_cpu_second", median(cpu)},
            {"rounds", wall},
            {"rounds_per_cpu_second", cpu}};
}

}  // namespace

int run_ingest(const IngestBenchOptions& o) {
    if (o.twins == 0 || o.batch == 0 || o.batches == 0 || o.rounds <= 0 || o.writers == 0 || o.durable_batches == 0 ||
        o.latency_samples == 0) {
        std::cerr << "twinsim-bench ingest: --twins, --batch, --batches, --writers, --durable-batches, "
                     "--latency-samples and --rounds must be at least 1\n";
        return exit_usage;
    }
    const fs::path dir = o.directory.empty() ? fs::temp_directory_path() / ("twinsim-bench-ingest-" + std::to_string(::getpid()))
                                             : fs::path(o.directory);
    // In memory: one graph per path, reused across rounds (updates overwrite values).
    const std::string load_before = load_averages();
    graph::TwinGraph g_wp;
    graph::TwinGraph g_ut;
    graph::TwinGraphOptions general_only;
    general_only.patch_fast_path = false;
    graph::TwinGraph g_general(general_only);
    graph::TwinGraph g_in;
    add_sensors(g_wp, o.twins);
    add_sensors(g_ut, o.twins);
    add_sensors(g_general, o.twins);
    add_sensors(g_in, o.twins);
    PeerDocuments peer(o.twins);
    const Indexed ix = index_sensors(g_wp, o.twins);
    std::vector<Rate> wp, ut, general, peer_rates, in;
    std::vector<double> group, bare, lat_store, lat_sqlite;
    std::vector<double> group_cpu, bare_cpu;  // process CPU seconds per round of each durable path
    std::vector<std::uint64_t> group_syncs;
    std::int64_t clock_ns = utc_now().ns;
    for (int round = 0; round < o.rounds; ++round) {
        Random rng(o.seed + static_cast<std::uint64_t>(round));
        wp.push_back(memory_write_properties(g_wp, ix, o, rng));
        {
            const auto patches = draw_patches(o, rng);
            ut.push_back(memory_update_twins(g_ut, patches, o));
            general.push_back(memory_update_twins(g_general, patches, o));
            peer_rates.push_back(peer_patch_inplace(peer, patches, o));
        }
        in.push_back(memory_ingest_rows(g_in, o, rng, clock_ns));
        std::uint64_t syncs = 0;
        const std::uint64_t seed = o.seed * 31 + static_cast<std::uint64_t>(round);
        double cpu = process_cpu_used();
        group.push_back(store_group_rate(dir / "group", o, seed, syncs));
        group_cpu.push_back(process_cpu_used() - cpu);
        group_syncs.push_back(syncs);
        cpu = process_cpu_used();
        bare.push_back(sqlite_batch_rate(dir / "sqlite", o, seed));
        bare_cpu.push_back(process_cpu_used() - cpu);
        const std::vector<double> ls = store_single_latencies(dir / "single", o, seed);
        lat_store.insert(lat_store.end(), ls.begin(), ls.end());
        const std::vector<double> lq = sqlite_single_latencies(dir / "sqlite-single", o, seed);
        lat_sqlite.insert(lat_sqlite.end(), lq.begin(), lq.end());
    }
    fs::remove_all(dir);

    ojson out = ojson::object();
    out["benchmark"] = "ingest";
    out["twins"] = o.twins;
    out["batch"] = o.batch;
    out["rounds"] = o.rounds;
    out["hardware_threads"] = std::thread::hardware_concurrency();
    out["cpu"] = machine_note().cpu;
    out["loadavg_before"] = load_before;
    out["loadavg_after"] = load_averages();
    ojson mem = ojson::object();
    mem["batches_per_round"] = o.batches;
    mem["write_properties"] = rounds_json(wp);
    mem["update_twins"] = rounds_json(ut);
    mem["update_twins_general_path"] = rounds_json(general);
    mem["peer"] = "nlohmann::json::patch_inplace on an unordered_map of twin documents (no validation, etags, times, "
                  "atomicity)";
    mem["peer_patch_inplace"] = rounds_json(peer_rates);
    mem["ingest_long_rows"] = rounds_json(in);
    mem["target_updates_per_second"] = 2000000;
    std::vector<double> ut_cpu;
    for (const Rate& r : ut) ut_cpu.push_back(r.cpu);
    std::vector<double> wp_cpu;
    for (const Rate& r : wp) wp_cpu.push_back(r.cpu);
    mem["write_properties_meets_target_per_cpu_second"] = median(wp_cpu) >= 2000000;
    mem["update_twins_meets_target_per_cpu_second"] = median(ut_cpu) >= 2000000;
    out["in_memory"] = mem;
    ojson dur = ojson::object();
    dur["writers"] = o.writers;
    dur["batches_per_writer"] = o.durable_batches;
    dur["store_group_commit"] = rounds_json(group);
    dur["store_group_commit"]["syncs_per_round"] = group_syncs;
    // CPU seconds of the whole process per round (store: open, load, writes, its threads, close).
    dur["store_group_commit"]["cpu_seconds_per_round"] = group_cpu;
    dur["sqlite_table_per_batch_sync"] = rounds_json(bare);
    dur["sqlite_table_per_batch_sync"]["cpu_seconds_per_round"] = bare_cpu;
    dur["target_updates_per_second"] = 300000;
    dur["group_vs_sqlite"] = median(bare) > 0 ? median(group) / median(bare) : 0.0;
    out["durable"] = dur;
    ojson lat = ojson::object();
    lat["store_per_batch_single_update"] = latency_json(lat_store);
    lat["sqlite_single_insert_synchronous_full"] = latency_json(lat_sqlite);
    out["acknowledged_latency"] = lat;
    std::cout << out.dump(2) << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
