// `twinsim-bench time-travel`: Store::snapshot_at on a store with many twins
// and a long journal, beside a peer measured in the same run — the same
// updates in a SQLite table (twin, time, seq, value) keyed for "the latest
// row of each twin at or before t" — at the same random instants, in
// interleaved rounds (the order alternates), medians reported. Both answers
// are compared value by value.
#include "time_travel_benchmark.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::bench {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t start_ns = 1'782'864'000'000'000'000LL;  // 2026-07-01T00:00:00Z
constexpr std::int64_t step_ns = 1'000'000'000LL;               // the clock advances 1 s per reading

void check(sqlite3* db, int rc, const char* doing) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        throw std::runtime_error(std::string("peer: ") + doing + ": " + sqlite3_errmsg(db));
}

std::uint64_t bytes_under(const fs::path& p) {
    std::uint64_t total = 0;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return fs::file_size(p, ec);
    for (const auto& e : fs::recursive_directory_iterator(p, ec))
        if (e.is_regular_file(ec)) total += e.file_size(ec);
    return total;
}

// The peer: the state at t is, per twin, the value of its latest row at or
// before t; one statement seeking the primary key once per twin.
struct Peer {
    sqlite3* db = nullptr;
    sqlite3_stmt* insert = nullptr;
    sqlite3_stmt* at = nullptr;
    ~Peer() {
        sqlite3_finalize(insert);
        sqlite3_finalize(at);
        sqlite3_close(db);
    }
    Peer(const fs::path& file, bool create) {
        if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) throw std::runtime_error("peer: cannot open " + file.string());
        if (!create) {
            check(db, sqlite3_exec(db, "PRAGMA cache_size=-262144;", nullptr, nullptr, nullptr), "opening");
            return;
        }
        check(db,
              sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144;"
                           "CREATE TABLE twins(id INTEGER PRIMARY KEY);"
                           "CREATE TABLE history(twin INTEGER, time INTEGER, seq INTEGER, value REAL,"
                           " PRIMARY KEY(twin, time, seq)) WITHOUT ROWID;",
                           nullptr, nullptr, nullptr),
              "creating the tables");
        check(db, sqlite3_prepare_v2(db, "INSERT INTO history VALUES(?,?,?,?)", -1, &insert, nullptr), "preparing");
    }
    void prepare_query() {
        check(db,
              sqlite3_prepare_v2(db,
                                 "SELECT t.id, (SELECT h.value FROM history h WHERE h.twin = t.id AND h.time <= ?1"
                                 " ORDER BY h.time DESC, h.seq DESC LIMIT 1) FROM twins t",
                                 -1, &at, nullptr),
              "preparing the query");
    }
    void row(std::int64_t twin, std::int64_t time, std::int64_t seq, double value) {
        sqlite3_bind_int64(insert, 1, twin);
        sqlite3_bind_int64(insert, 2, time);
        sqlite3_bind_int64(insert, 3, seq);
        sqlite3_bind_double(insert, 4, value);
        check(db, sqlite3_step(insert), "inserting");
        sqlite3_reset(insert);
    }
    // value per twin index (NaN: the twin has no row yet)
    std::vector<double> state_at(std::int64_t t, std::size_t twins) {
        std::vector<double> out(twins, std::numeric_limits<double>::quiet_NaN());
        sqlite3_reset(at);
        sqlite3_bind_int64(at, 1, t);
        int rc = 0;
        while ((rc = sqlite3_step(at)) == SQLITE_ROW) {
            const auto id = static_cast<std::size_t>(sqlite3_column_int64(at, 0));
            if (sqlite3_column_type(at, 1) != SQLITE_NULL && id < twins) out[id] = sqlite3_column_double(at, 1);
        }
        check(db, rc, "querying");
        return out;
    }
};

}  // namespace

int run_time_travel(const TimeTravelBenchOptions& o) {
    if (o.twins == 0 || o.batch == 0 || o.rounds < 1) throw std::runtime_error("twins, batch and rounds must be positive");
    const fs::path dir = o.directory.empty() ? fs::temp_directory_path() / ("twinsim-bench-time-travel-" + std::to_string(::getpid()))
                                             : fs::path(o.directory);
    const fs::path meta_file = dir / "bench-meta.json";
    const bool reuse = o.reuse && fs::exists(meta_file);
    if (!reuse) {
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    const std::string load_before = load_averages();
    std::unique_ptr<live::Store> store;
    std::unique_ptr<Peer> peer_db;
    std::int64_t history_start = 0;
    std::int64_t history_end = 0;
    const std::uint64_t batches = (o.changes + o.batch - 1) / o.batch;
    double store_write_seconds = 0.0;
    std::uint64_t checkpoints = 0;
    double build_seconds = 0.0;
    if (reuse) {
        // The store and the peer a previous run built with the same sizes (--reuse).
        nlohmann::json meta = nlohmann::json::parse(std::ifstream(meta_file));
        if (meta["twins"] != o.twins || meta["changes"] != o.changes || meta["batch"] != o.batch ||
            meta["checkpoint_every"] != o.checkpoint_every)
            throw std::runtime_error("--reuse: " + meta_file.string() + " was built with other sizes: " + meta.dump());
        history_start = meta["history_start"];
        history_end = meta["history_end"];
        checkpoints = meta["checkpoints"];
        live::StoreOptions so;
        so.checkpoint_every = 0;
        so.checkpoint_every_changes = 0;
        so.keep_checkpoints = o.keep_checkpoints;
        store = live::open_store(dir / "store", so);
        peer_db = std::make_unique<Peer>(dir / "peer.db", false);
        peer_db->prepare_query();
    } else {
        // --- build: the store and the peer get the same rows -----------------------------
        auto clock_next = std::make_shared<std::int64_t>(start_ns);
        live::StoreOptions so;
        so.durability = live::Durability::group;
        so.checkpoint_every = 0;  // taken below, every checkpoint_every batches
        so.keep_checkpoints = o.keep_checkpoints;
        so.clock = [clock_next] {
            const std::int64_t t = *clock_next;
            *clock_next += step_ns;
            return Timestamp{t};
        };
        const auto build_start = std::chrono::steady_clock::now();
        store = live::open_store(dir / "store", so);
        graph::TwinGraph& g = store->graph();
        peer_db = std::make_unique<Peer>(dir / "peer.db", true);
        Peer& peer = *peer_db;
        check(peer.db, sqlite3_exec(peer.db, "BEGIN", nullptr, nullptr, nullptr), "BEGIN");
        g.add_models(std::vector<dtdl::Document>{{"sensor.json", sensor_model}});
        std::int64_t seq = 0;
        for (std::size_t first = 0; first < o.twins; first += 10000) {
            g.atomically([&](graph::TwinGraph& a) {
                for (std::size_t k = first; k < std::min(o.twins, first + 10000); ++k) {
                    a.upsert_twin(numbered_id("s", k), {{"$metadata", {{"$model", "dtmi:bench:Sensor;1"}}}, {"value", 0.0}});
                }
            });
        }
        // The creation times differ per twin (one clock reading per upsert); the
        // peer's first row of each twin is the creation, read back from the graph.
        {
            const graph::Snapshot s = g.snapshot();
            for (std::size_t k = 0; k < o.twins; ++k) {
                const auto doc = s.get_twin(numbered_id("s", k));
                const auto created = parse_timestamp(doc["$metadata"]["$lastUpdateTime"].get<std::string>());
                peer.row(static_cast<std::int64_t>(k), created->ns, seq++, 0.0);
                sqlite3_exec(peer.db, ("INSERT INTO twins VALUES(" + std::to_string(k) + ")").c_str(), nullptr, nullptr, nullptr);
            }
        }
        check(peer.db, sqlite3_exec(peer.db, "COMMIT", nullptr, nullptr, nullptr), "COMMIT");
        history_start = *clock_next;
        const std::uint32_t column = g.snapshot().models()->get("dtmi:bench:Sensor;1").layout.find("value")->column;
        std::vector<graph::TwinIndex> index(o.twins);
        for (std::size_t k = 0; k < o.twins; ++k) index[k] = *g.find(numbered_id("s", k));
        Random rng(o.seed);
        std::vector<graph::PropertyWrite> writes;
        std::vector<std::size_t> chosen;
        for (std::uint64_t b = 0; b < batches; ++b) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(o.batch, o.changes - b * o.batch));
            writes.resize(n);
            chosen.resize(n);
            for (std::size_t k = 0; k < n; ++k) {
                chosen[k] = rng.below(o.twins);
                writes[k] = {index[chosen[k]], column, rng.uniform(0, 100), std::nullopt};
            }
            const std::int64_t t = *clock_next;  // the batch's time: write_properties reads the clock once
            const auto w = std::chrono::steady_clock::now();
            g.write_properties(writes);
            store_write_seconds += seconds_since(w);
            if (*clock_next != t + step_ns) throw std::runtime_error("write_properties read the clock more than once");
            if (b % 1000 == 0) check(peer.db, sqlite3_exec(peer.db, "BEGIN", nullptr, nullptr, nullptr), "BEGIN");
            for (std::size_t k = 0; k < n; ++k) peer.row(static_cast<std::int64_t>(chosen[k]), t, seq++, writes[k].value);
            if (b % 1000 == 999 || b + 1 == batches) check(peer.db, sqlite3_exec(peer.db, "COMMIT", nullptr, nullptr, nullptr), "COMMIT");
            if (o.checkpoint_every > 0 && (b + 1) % o.checkpoint_every == 0) {
                (void)store->checkpoint();
                ++checkpoints;
            }
        }
        history_end = *clock_next;
        store->flush();
        check(peer.db, sqlite3_exec(peer.db, "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);", nullptr, nullptr, nullptr), "ANALYZE");
        peer.prepare_query();
        build_seconds = seconds_since(build_start);
        std::ofstream(meta_file) << nlohmann::json{{"twins", o.twins}, {"changes", o.changes}, {"batch", o.batch},
                                                   {"checkpoint_every", o.checkpoint_every}, {"history_start", history_start},
                                                   {"history_end", history_end}, {"checkpoints", checkpoints}}.dump();
    }
    Peer& peer = *peer_db;

    // --- interleaved rounds at random instants of the history --------------------------
    std::vector<double> travel_s;
    std::vector<double> travel_cpu_s;
    std::vector<double> peer_s;
    std::vector<double> peer_cpu_s;
    std::uint64_t mismatches = 0;
    Random pick(o.seed ^ 0x5bd1e995ULL);
    for (int r = 0; r < o.rounds; ++r) {
        const Timestamp t{history_start + static_cast<std::int64_t>(pick.below(static_cast<std::size_t>(
                                              std::max<std::int64_t>(1, (history_end - history_start) / step_ns)))) *
                                              step_ns +
                          step_ns / 2};
        graph::Snapshot past;
        std::vector<double> peer_state;
        auto time_travel = [&] {
            const double cpu = thread_cpu_used();
            const auto s = std::chrono::steady_clock::now();
            past = store->snapshot_at(t);
            travel_s.push_back(seconds_since(s));
            travel_cpu_s.push_back(thread_cpu_used() - cpu);
        };
        auto time_peer = [&] {
            const double cpu = thread_cpu_used();
            const auto s = std::chrono::steady_clock::now();
            peer_state = peer.state_at(t.ns, o.twins);
            peer_s.push_back(seconds_since(s));
            peer_cpu_s.push_back(thread_cpu_used() - cpu);
        };
        if (r % 2 == 0) {
            time_travel();
            time_peer();
        } else {
            time_peer();
            time_travel();
        }
        const graph::NumericColumn col = past.numeric_column("dtmi:bench:Sensor;1", "value");
        if (col.twins.size() != o.twins) ++mismatches;
        for (std::size_t k = 0; k < col.twins.size(); ++k) {
            const std::string& id = past.twin_id(col.twins[k]);
            const std::size_t n = std::stoul(id.substr(1));
            if (n >= o.twins || peer_state[n] != col.values[k]) ++mismatches;
        }
    }
    // The two ends of the cost: an instant right at a checkpoint (load only)
    // and one just before the next checkpoint (load + checkpoint_every - 1
    // batches replayed), at the middle checkpoint of the history.
    std::vector<double> at_checkpoint_s;
    std::vector<double> before_next_s;
    if (o.checkpoint_every > 0 && batches >= 2 * o.checkpoint_every) {
        const std::uint64_t k = batches / o.checkpoint_every / 2;       // a checkpoint in the middle
        const std::uint64_t b_at = k * o.checkpoint_every - 1;          // the write batch it holds
        const std::uint64_t b_before = b_at + o.checkpoint_every - 1;   // the last batch before the next one
        for (int r = 0; r < o.rounds; ++r) {
            for (const auto& [b, sink] : {std::pair{b_at, &at_checkpoint_s}, std::pair{b_before, &before_next_s}}) {
                const Timestamp t{history_start + static_cast<std::int64_t>(b) * step_ns + step_ns / 2};
                const auto s = std::chrono::steady_clock::now();
                const graph::Snapshot past = store->snapshot_at(t);
                sink->push_back(seconds_since(s));
                if (past.twin_count() != o.twins) ++mismatches;
            }
        }
    }
    const Stats travel = stats(travel_s);
    const Stats peer_stats = stats(peer_s);

    std::size_t kept_checkpoints = 0;
    for (const auto& e : fs::directory_iterator(dir / "store" / "checkpoints")) kept_checkpoints += e.path().extension() == ".ckpt";
    const std::uint64_t journal_bytes = bytes_under(dir / "store" / "journal.db") + bytes_under(dir / "store" / "journal.db-wal");
    const std::uint64_t checkpoint_bytes = bytes_under(dir / "store" / "checkpoints");
    const std::uint64_t peer_bytes = bytes_under(dir / "peer.db") + bytes_under(dir / "peer.db-wal");
    store->close();
    store.reset();

    nlohmann::ordered_json out;
    out["benchmark"] = "time-travel";
    out["cpu"] = machine_note().cpu;
    out["cores"] = std::thread::hardware_concurrency();
    out["loadavg_before"] = load_before;
    out["loadavg_after"] = load_averages();
    out["twins"] = o.twins;
    out["changes"] = o.changes;
    out["batch"] = o.batch;
    out["batches"] = batches;
    out["checkpoint_every_batches"] = o.checkpoint_every;
    out["keep_checkpoints"] = o.keep_checkpoints;
    out["checkpoints_taken"] = checkpoints;
    out["checkpoints_kept"] = kept_checkpoints;
    out["rounds"] = o.rounds;
    if (reuse) out["reused"] = dir.string();
    out["build_seconds"] = build_seconds;
    out["store_write_seconds"] = store_write_seconds;
    out["snapshot_at"] = {{"median_seconds", travel.median}, {"min_seconds", travel.min},
                          {"max_seconds", *std::max_element(travel_s.begin(), travel_s.end())},
                          {"median_cpu_seconds", stats(travel_cpu_s).median}};
    if (!at_checkpoint_s.empty()) {
        out["snapshot_at_right_after_a_checkpoint"] = {{"median_seconds", stats(at_checkpoint_s).median},
                                                       {"replayed_batches", 0}};
        out["snapshot_at_just_before_the_next"] = {{"median_seconds", stats(before_next_s).median},
                                                   {"replayed_batches", o.checkpoint_every - 1}};
        out["replay_seconds_per_batch"] =
            (stats(before_next_s).median - stats(at_checkpoint_s).median) / static_cast<double>(o.checkpoint_every - 1);
    }
    out["peer_sqlite_latest_row_per_twin"] = {{"median_seconds", peer_stats.median}, {"min_seconds", peer_stats.min},
                                              {"max_seconds", *std::max_element(peer_s.begin(), peer_s.end())},
                                              {"median_cpu_seconds", stats(peer_cpu_s).median}};
    out["target_seconds"] = 0.5;
    out["values_mismatched"] = mismatches;
    out["disk"] = {{"journal_bytes", journal_bytes},
                   {"checkpoint_bytes", checkpoint_bytes},
                   {"journal_bytes_per_change", o.changes ? static_cast<double>(journal_bytes) / static_cast<double>(o.changes) : 0.0},
                   {"peer_bytes", peer_bytes}};
    out["directory"] = dir.string();
    std::cout << out.dump(2) << '\n';
    if (o.directory.empty()) fs::remove_all(dir);
    return mismatches == 0 ? exit_ok : exit_failed;
}

}  // namespace twinsim::bench
