// `twinsim-bench recovery`: a store of N twins and M journaled property
// changes (group commit, batches of B), closed, then reopened R times: the
// median time to open (latest checkpoint + replay of the journal after it).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "live_bench.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::bench {
namespace {

namespace fs = std::filesystem;

std::uintmax_t tree_bytes(const fs::path& dir, const std::string& prefix = {}) {
    std::uintmax_t total = 0;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(dir, ec))
        if (e.is_regular_file(ec) && e.path().filename().string().rfind(prefix, 0) == 0) total += e.file_size(ec);
    return total;
}

nlohmann::ordered_json waits_json(const ProcessWaits& w) {
    return {{"read_call_bytes", w.read_chars},
            {"disk_read_bytes", w.disk_read_bytes},
            {"disk_write_bytes", w.disk_write_bytes},
            {"voluntary_context_switches", w.voluntary_switches},
            {"involuntary_context_switches", w.involuntary_switches}};
}

}  // namespace

int run_recovery(const RecoveryBenchOptions& o) {
    if (o.twins == 0 || o.batch == 0 || o.reopens <= 0) {
        std::cerr << "twinsim-bench recovery: --twins, --batch and --reopens must be at least 1\n";
        return exit_usage;
    }
    const fs::path dir = o.directory.empty() ? fs::temp_directory_path() / ("twinsim-bench-recovery-" + std::to_string(::getpid()))
                                             : fs::path(o.directory);
    nlohmann::ordered_json out;
    out["benchmark"] = "recovery";
    out["twins"] = o.twins;
    out["changes"] = o.changes;
    out["batch"] = o.batch;
    const bool reuse = o.keep && fs::exists(dir / "journal.db");
    if (!reuse) {
        fs::remove_all(dir);
        live::StoreOptions so;
        so.durability = live::Durability::group;
        if (o.checkpoint_every > 0) so.checkpoint_every = o.checkpoint_every;
        const auto start = std::chrono::steady_clock::now();
        auto store = live::open_store(dir, so);
        graph::TwinGraph& g = store->graph();
        g.add_models(std::vector<dtdl::Document>{{"sensor.json", sensor_model}});
        const std::size_t create_batch = 10000;
        for (std::size_t first = 0; first < o.twins; first += create_batch)
            g.atomically([&](graph::TwinGraph& a) {
                for (std::size_t t = first; t < std::min(o.twins, first + create_batch); ++t)
                    a.upsert_twin(numbered_id("s", t), {{"$metadata", {{"$model", "dtmi:bench:Sensor;1"}}}, {"value", 0.0}});
            });
        const std::uint32_t column = g.snapshot().models()->get("dtmi:bench:Sensor;1").layout.find("value")->column;
        std::vector<graph::TwinIndex> index(o.twins);
        for (std::size_t t = 0; t < o.twins; ++t) index[t] = *g.find(numbered_id("s", t));
        Random rng(o.seed);
        std::vector<graph::PropertyWrite> batch;
        for (std::uint64_t done = 0; done < o.changes;) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(o.batch, o.changes - done));
            batch.resize(n);
            for (graph::PropertyWrite& w : batch) w = {index[rng.below(o.twins)], column, rng.uniform(0, 100), std::nullopt};
            g.write_properties(batch);
            done += n;
        }
        // The history's size at this scale (issue 13: at most 40 bytes per
        // row on disk): waits for the indexer, timed apart from the build.
        const auto index_start = std::chrono::steady_clock::now();
        const live::Store::HistoryCounts counts = store->history_counts();
        const double index_wait = seconds_since(index_start);
        const std::uint64_t rows = counts.property_updates + counts.twin_lifecycle + counts.relationship_lifecycle;
        out["history"] = {{"property_updates", counts.property_updates},
                          {"twin_lifecycle", counts.twin_lifecycle},
                          {"bytes_in_use", counts.bytes},
                          {"bytes_per_row", rows > 0 ? static_cast<double>(counts.bytes) / static_cast<double>(rows) : 0.0},
                          {"target_bytes_per_row", 40},
                          {"index_wait_seconds_after_writes", index_wait}};
        store->close();
        out["build_seconds"] = seconds_since(start) - index_wait;
        out["build_changes_per_second"] = static_cast<double>(o.changes) / out["build_seconds"].get<double>();
    } else {
        out["reused"] = dir.string();
    }
    out["journal_bytes"] = tree_bytes(dir, "journal.db");
    out["checkpoint_bytes"] = tree_bytes(dir / "checkpoints");
    out["journal_bytes_per_change"] = o.changes > 0 ? static_cast<double>(tree_bytes(dir, "journal.db")) / static_cast<double>(o.changes + o.twins) : 0.0;
    const MachineNote machine_before = machine_note();
    // After a crash: the process died before its closing checkpoint, so the
    // open loads the checkpoint before (taken in the background, every
    // checkpoint_every_changes) and replays the journal after it. Simulated
    // by setting the newest checkpoint aside for one open.
    {
        std::vector<fs::path> checkpoints;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(dir / "checkpoints", ec))
            if (e.path().extension() == ".ckpt") checkpoints.push_back(e.path());
        std::sort(checkpoints.begin(), checkpoints.end());
        if (!checkpoints.empty()) {
            const fs::path newest = checkpoints.back();
            const fs::path aside = dir / "newest-checkpoint.aside";
            fs::rename(newest, aside);
            const double cpu = process_cpu_used();
            const ProcessWaits waits = process_waits();
            const auto start = std::chrono::steady_clock::now();
            auto store = live::open_store(dir, [] {
                live::StoreOptions so;
                so.checkpoint_every = 0;  // the open is what is measured: no new checkpoint from it
                so.checkpoint_every_changes = 0;
                return so;
            }());
            const double seconds = seconds_since(start);
            const live::RecoveryReport& rr = store->recovery();
            out["after_crash"] = {{"open_seconds", seconds},
                                  {"open_cpu_seconds", process_cpu_used() - cpu},
                                  {"open_waits", waits_json(process_waits() - waits)},
                                  {"checkpoint_batch", rr.checkpoint_batch},
                                  {"batches_replayed", rr.batches_replayed},
                                  {"changes_replayed", rr.changes_replayed},
                                  {"twins", store->graph().twin_count()}};
            store->close();
            fs::rename(aside, newest);
        }
    }
    std::vector<double> seconds;
    std::vector<double> cpu_seconds;
    nlohmann::ordered_json open_waits = nlohmann::ordered_json::array();
    nlohmann::ordered_json report;
    for (int r = 0; r < o.reopens; ++r) {
        const double cpu = process_cpu_used();
        const ProcessWaits waits = process_waits();
        const auto start = std::chrono::steady_clock::now();
        auto store = live::open_store(dir);
        seconds.push_back(seconds_since(start));
        cpu_seconds.push_back(process_cpu_used() - cpu);
        open_waits.push_back(waits_json(process_waits() - waits));
        const live::RecoveryReport& rr = store->recovery();
        report = {{"checkpoint_batch", rr.checkpoint_batch},
                  {"batches_replayed", rr.batches_replayed},
                  {"last_batch", rr.last_batch},
                  {"twins", store->graph().twin_count()}};
        if (store->graph().twin_count() != o.twins) {
            std::cerr << "twinsim-bench recovery: the reopened store holds " << store->graph().twin_count() << " twins, not "
                      << o.twins << '\n';
            return exit_failed;
        }
        store->close();
    }
    out["recovery"] = report;
    out["open_seconds"] = seconds;
    out["open_cpu_seconds"] = cpu_seconds;
    out["open_waits"] = open_waits;
    out["open_seconds_median"] = stats(seconds).median;
    out["target_seconds"] = 10.0;
    out["machine"] = {{"cpu", machine_before.cpu},
                      {"cores", machine_before.cores},
                      {"load_1min_before", machine_before.load_1min},
                      {"load_1min_after", machine_note().load_1min}};
    std::cout << out.dump(2) << '\n';
    if (!o.keep) fs::remove_all(dir);
    return exit_ok;
}

}  // namespace twinsim::bench
