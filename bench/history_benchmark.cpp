// `twinsim-bench history`: a store's history on disk and read back. A month
// of minute data for N twins goes through a durable store (one journaled
// batch per hour of data); then the bytes per history row on disk, and the
// read of one property of one twin over the month (43,200 rows) through
// Store::history, beside the same rows in a plain SQLite table with an index
// on (twin, key, time), timed in interleaved rounds in the same run.
#include <sqlite3.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t minute = 60'000'000'000LL;
constexpr std::int64_t month_start = 1'782'864'000'000'000'000LL;  // 2026-07-01T00:00:00Z

// A value that looks like a sensor's: a slow wave plus noise, rounded to 0.01.
double reading(Random& rng, std::size_t twin, std::size_t m) {
    const double v = 20.0 + static_cast<double>(twin % 7) + 3.0 * static_cast<double>((m / 60) % 24) / 24.0 +
                     rng.uniform(-0.5, 0.5);
    return static_cast<double>(static_cast<long long>(v * 100.0)) / 100.0;
}

struct PlainRow {
    std::int64_t time = 0;
    std::string twin, key, model;
    double value = 0.0;
};

void exec(sqlite3* db, const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        const std::string why = error != nullptr ? error : "?";
        sqlite3_free(error);
        throw std::runtime_error(std::string("SQLite: ") + why + " in " + sql);
    }
}

std::uint64_t file_bytes(const fs::path& p) {
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

}  // namespace

int run_history(const HistoryBenchOptions& o) {
    const std::string load_before = load_averages();
    const fs::path dir = o.directory.empty() ? fs::temp_directory_path() / ("twinsim-bench-history-" + std::to_string(::getpid()))
                                             : fs::path(o.directory);
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::size_t minutes = o.days * 24 * 60;
    const std::size_t twins = o.twins;
    const std::int64_t end_ns = month_start + static_cast<std::int64_t>(minutes) * minute;

    // --- the store, fed one hour of minute data (all twins) per journaled batch ---
    auto now = std::make_shared<std::atomic<std::int64_t>>(month_start);
    live::StoreOptions so;
    so.durability = live::Durability::group;
    so.checkpoint_every = 0;
    so.clock = [now] { return Timestamp{now->load()}; };
    auto store = live::open_store(dir / "store", so);
    graph::TwinGraph& g = store->graph();
    g.add_models(std::vector<dtdl::Document>{{"sensor.json", sensor_model}});
    g.atomically([&](graph::TwinGraph& a) {
        for (std::size_t t = 0; t < twins; ++t)
            a.upsert_twin(numbered_id("sensor-", t), {{"$metadata", {{"$model", "dtmi:bench:Sensor;1"}}}, {"value", 0.0}});
    });
    Random rng(o.seed);
    std::vector<PlainRow> plain;  // the peer's rows, the same values
    plain.reserve((minutes + 1) * twins);
    std::vector<std::string> ids(twins);
    for (std::size_t t = 0; t < twins; ++t) {
        ids[t] = numbered_id("sensor-", t);
        plain.push_back({month_start, ids[t], "value", "dtmi:bench:Sensor;1", 0.0});  // the creation value
    }
    const auto ingest_start = std::chrono::steady_clock::now();
    for (std::size_t hour = 0; hour * 60 < minutes; ++hour) {
        g.atomically([&](graph::TwinGraph& a) {
            for (std::size_t m = hour * 60; m < std::min(minutes, (hour + 1) * 60); ++m) {
                for (std::size_t t = 0; t < twins; ++t) {
                    // Spread the twins over the minute: each write has its own instant.
                    const std::int64_t at = month_start + static_cast<std::int64_t>(m) * minute +
                                            static_cast<std::int64_t>(t) * (minute / static_cast<std::int64_t>(twins + 1));
                    now->store(at);
                    const double v = reading(rng, t, m);
                    a.update_twin(ids[t], json::array({{{"op", "replace"}, {"path", "/value"}, {"value", v}}}));
                    plain.push_back({at, ids[t], "value", "dtmi:bench:Sensor;1", v});
                }
            }
        });
    }
    store->flush();
    const double ingest_seconds = seconds_since(ingest_start);
    const auto index_start = std::chrono::steady_clock::now();
    const live::Store::HistoryCounts counts = store->history_counts();  // waits until everything is indexed
    const double index_wait_seconds = seconds_since(index_start);
    const std::uint64_t rows = counts.property_updates + counts.twin_lifecycle + counts.relationship_lifecycle;

    // --- the peer: the same rows in a plain SQLite table with an index ---
    const fs::path peer_file = dir / "plain.db";
    sqlite3* db = nullptr;
    if (sqlite3_open(peer_file.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot open the peer database");
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
             "CREATE TABLE history(time INTEGER, twin TEXT, key TEXT, model TEXT, value REAL, source_time INTEGER,"
             " relationship_id TEXT, relationship_target TEXT);"
             "CREATE INDEX history_by_key ON history(twin, key, time);");
    {
        sqlite3_stmt* insert = nullptr;
        sqlite3_prepare_v2(db, "INSERT INTO history VALUES(?,?,?,?,?,NULL,NULL,NULL)", -1, &insert, nullptr);
        exec(db, "BEGIN");
        for (const PlainRow& r : plain) {
            sqlite3_bind_int64(insert, 1, r.time);
            sqlite3_bind_text(insert, 2, r.twin.c_str(), static_cast<int>(r.twin.size()), SQLITE_STATIC);
            sqlite3_bind_text(insert, 3, r.key.c_str(), static_cast<int>(r.key.size()), SQLITE_STATIC);
            sqlite3_bind_text(insert, 4, r.model.c_str(), static_cast<int>(r.model.size()), SQLITE_STATIC);
            sqlite3_bind_double(insert, 5, r.value);
            sqlite3_step(insert);
            sqlite3_reset(insert);
        }
        exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);");
        sqlite3_finalize(insert);
    }
    const std::uint64_t peer_bytes = file_bytes(peer_file);
    // The peer's fastest form for the columnar read: an index that covers it
    // (added after its size was measured, so bytes per row compare the plain table).
    exec(db, "CREATE INDEX history_columns ON history(twin, key, time, value, source_time);");

    // --- one property of one twin over the month: ours and the peer's, interleaved ---
    const std::string target = ids[twins / 2];
    live::HistoryQuery q;
    q.twins = {target};
    q.properties = {"value"};
    q.start = Timestamp{month_start};
    q.end = Timestamp{end_ns};
    q.kinds = live::history_property_updates;
    sqlite3_stmt* select = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT time, twin, key, model, value, source_time, relationship_id, relationship_target "
                       "FROM history WHERE twin=? AND key=? AND time>=? AND time<? ORDER BY time",
                       -1, &select, nullptr);
    // The columnar read (Store::history_series) beside the same columns read
    // from the plain table into vectors: the fast path for a plot or a statistic.
    sqlite3_stmt* select_columns = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT time, value, source_time FROM history WHERE twin=? AND key=? AND time>=? AND time<? "
                       "ORDER BY time",
                       -1, &select_columns, nullptr);
    std::vector<double> ours, peer, our_series, peer_series;
    std::size_t our_rows = 0;
    std::size_t peer_rows = 0;
    std::size_t our_series_rows = 0;
    std::size_t peer_series_rows = 0;
    for (unsigned round = 0; round < o.rounds; ++round) {
        {
            const auto t = std::chrono::steady_clock::now();
            const live::HistorySeries h = store->history_series(target, "value", Timestamp{month_start}, Timestamp{end_ns});
            our_series.push_back(seconds_since(t));
            our_series_rows = h.time_ns.size();
        }
        {
            const auto t = std::chrono::steady_clock::now();
            live::HistorySeries out;
            sqlite3_bind_text(select_columns, 1, target.c_str(), static_cast<int>(target.size()), SQLITE_STATIC);
            sqlite3_bind_text(select_columns, 2, "value", 5, SQLITE_STATIC);
            sqlite3_bind_int64(select_columns, 3, month_start);
            sqlite3_bind_int64(select_columns, 4, end_ns);
            while (sqlite3_step(select_columns) == SQLITE_ROW) {
                out.time_ns.push_back(sqlite3_column_int64(select_columns, 0));
                out.value.push_back(sqlite3_column_double(select_columns, 1));
                out.source_time_ns.push_back(sqlite3_column_type(select_columns, 2) == SQLITE_NULL
                                                 ? live::history_no_time
                                                 : sqlite3_column_int64(select_columns, 2));
            }
            sqlite3_reset(select_columns);
            peer_series.push_back(seconds_since(t));
            peer_series_rows = out.time_ns.size();
        }
        {
            const auto t = std::chrono::steady_clock::now();
            const live::HistoryResult h = store->history(q);
            ours.push_back(seconds_since(t));
            our_rows = h.property_updates.size();
        }
        {
            const auto t = std::chrono::steady_clock::now();
            std::vector<live::PropertyUpdateRow> out;
            sqlite3_bind_text(select, 1, target.c_str(), static_cast<int>(target.size()), SQLITE_STATIC);
            sqlite3_bind_text(select, 2, "value", 5, SQLITE_STATIC);
            sqlite3_bind_int64(select, 3, month_start);
            sqlite3_bind_int64(select, 4, end_ns);
            while (sqlite3_step(select) == SQLITE_ROW) {
                live::PropertyUpdateRow r;
                r.time = Timestamp{sqlite3_column_int64(select, 0)};
                r.id = reinterpret_cast<const char*>(sqlite3_column_text(select, 1));
                r.key = reinterpret_cast<const char*>(sqlite3_column_text(select, 2));
                r.model_id = reinterpret_cast<const char*>(sqlite3_column_text(select, 3));
                r.value = sqlite3_column_double(select, 4);
                r.action = "Update";
                out.push_back(std::move(r));
            }
            sqlite3_reset(select);
            peer.push_back(seconds_since(t));
            peer_rows = out.size();
        }
    }
    sqlite3_finalize(select);
    sqlite3_finalize(select_columns);
    sqlite3_close(db);
    store->close();
    const Stats our_stats = stats(ours);
    const Stats peer_stats = stats(peer);
    const Stats our_series_stats = stats(our_series);
    const Stats peer_series_stats = stats(peer_series);
    const std::uint64_t history_file = file_bytes(dir / "store" / "history.db") + file_bytes(dir / "store" / "history.db-wal");
    // Where the bytes go: pages per table and index (SQLite's dbstat, when the library has it).
    json by_table = json::object();
    {
        sqlite3* h = nullptr;
        if (sqlite3_open_v2((dir / "store" / "history.db").c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
            sqlite3_stmt* st = nullptr;
            if (sqlite3_prepare_v2(h, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC", -1, &st, nullptr) ==
                SQLITE_OK) {
                while (sqlite3_step(st) == SQLITE_ROW)
                    by_table[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = sqlite3_column_int64(st, 1);
            }
            sqlite3_finalize(st);
        }
        sqlite3_close(h);
    }

    json out;
    out["benchmark"] = "history";
    const MachineNote machine = machine_note();
    out["machine"] = {{"cpu", machine.cpu}, {"cores", machine.cores}, {"load_1min", machine.load_1min},
                      {"loadavg_before", load_before}, {"loadavg_after", load_averages()}};
    out["twins"] = twins;
    out["days"] = o.days;
    out["rows"] = {{"property_updates", counts.property_updates}, {"twin_lifecycle", counts.twin_lifecycle}};
    out["ingest_seconds"] = ingest_seconds;
    out["index_wait_seconds_after_ingest"] = index_wait_seconds;
    out["history_bytes_in_use"] = counts.bytes;
    out["history_files_bytes"] = history_file;
    out["bytes_per_row"] = rows > 0 ? static_cast<double>(counts.bytes) / static_cast<double>(rows) : 0.0;
    out["target_bytes_per_row"] = 40;
    out["history_bytes_by_table"] = by_table;
    out["peer_plain_sqlite_bytes_per_row"] = plain.empty() ? 0.0 : static_cast<double>(peer_bytes) / static_cast<double>(plain.size());
    out["read_one_property_one_twin"] = {{"rows", our_rows},
                                         {"rounds", o.rounds},
                                         {"median_ms", our_stats.median * 1e3},
                                         {"min_ms", our_stats.min * 1e3},
                                         {"target_ms", 10}};
    out["peer_plain_sqlite_indexed"] = {{"rows", peer_rows}, {"median_ms", peer_stats.median * 1e3}, {"min_ms", peer_stats.min * 1e3}};
    out["ours_vs_peer"] = peer_stats.median > 0 ? our_stats.median / peer_stats.median : 0.0;
    out["read_one_property_one_twin_as_columns"] = {{"rows", our_series_rows},
                                                    {"median_ms", our_series_stats.median * 1e3},
                                                    {"min_ms", our_series_stats.min * 1e3},
                                                    {"target_ms", 10}};
    out["peer_plain_sqlite_indexed_as_columns"] = {{"rows", peer_series_rows},
                                                   {"median_ms", peer_series_stats.median * 1e3},
                                                   {"min_ms", peer_series_stats.min * 1e3}};
    out["columns_ours_vs_peer"] = peer_series_stats.median > 0 ? our_series_stats.median / peer_series_stats.median : 0.0;
    std::cout << out.dump(2) << '\n';
    if (o.directory.empty()) fs::remove_all(dir);
    return our_rows == peer_rows && our_series_rows == peer_series_rows && our_series_rows == our_rows ? exit_ok
                                                                                                      : exit_failed;
}

}  // namespace twinsim::bench
