// `twinsim-bench patch`: see patch_benchmark.hpp. The store sits in
// $TMPDIR (std::filesystem::temp_directory_path), so TMPDIR=/dev/shm measures
// the CPU's bound (a sync on tmpfs costs nothing) and a disk-backed TMPDIR the
// durable figure.
#include "patch_benchmark.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Round {
    double seconds = 0, cpu_seconds = 0;
    std::vector<double> ms;
    std::uint64_t syncs = 0;
};

/// Every thread PATCHes for `seconds`: parse the patch text, update_twin,
/// read the twin's etag (as the service's PATCH handler does).
Round patch_round(graph::TwinGraph& graph, const PatchBenchOptions& o) {
    Round round;
    std::vector<std::vector<double>> ms(o.threads);
    const double cpu0 = process_cpu_used();
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    std::vector<std::thread> threads;
    for (unsigned c = 0; c < o.threads; ++c)
        threads.emplace_back([&, c] {
            RoomPatcher patcher(graph, o.twins, c);
            ms[c].reserve(1 << 18);
            for (auto t = Clock::now(); t < deadline;) {
                patcher.patch();
                const auto done = Clock::now();
                ms[c].push_back(std::chrono::duration<double, std::milli>(done - t).count());
                t = done;
            }
        });
    for (std::thread& t : threads) t.join();
    round.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    round.cpu_seconds = process_cpu_used() - cpu0;
    for (const auto& m : ms) round.ms.insert(round.ms.end(), m.begin(), m.end());
    return round;
}

json summary(const std::vector<Round>& rounds, bool with_syncs) {
    std::vector<double> rate, p50, p99, cpu_us, cpu_per_s, per_sync;
    std::size_t total = 0;
    for (const Round& r : rounds) {
        const double n = static_cast<double>(r.ms.size());
        rate.push_back(n / r.seconds);
        p50.push_back(percentile(r.ms, 0.5));
        p99.push_back(percentile(r.ms, 0.99));
        cpu_us.push_back(n > 0 ? r.cpu_seconds / n * 1e6 : 0);
        cpu_per_s.push_back(r.cpu_seconds / r.seconds);
        per_sync.push_back(n / static_cast<double>(std::max<std::uint64_t>(1, r.syncs)));
        total += r.ms.size();
    }
    json out{{"patch_per_s", median(rate)}, {"p50_ms", median(p50)}, {"p99_ms", median(p99)},
             {"cpu_us_per_patch", median(cpu_us)}, {"cpu_seconds_per_s", median(cpu_per_s)}, {"patches", total}};
    if (with_syncs) out["patches_per_sync"] = median(per_sync);
    return out;
}

}  // namespace

int run_patch(const PatchBenchOptions& o) {
    const std::filesystem::path root =
        std::filesystem::temp_directory_path() / ("twinsim-bench-patch-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    const MachineNote machine = machine_note();
    const std::string load_before = load_averages();
    json out;
    {
        live::StoreOptions so;
        so.durability = live::Durability::group;
        so.history.enabled = o.history;
        auto store = live::open_store(root / "store", so);
        add_rooms(store->graph(), o.twins);
        graph::TwinGraph memory;
        add_rooms(memory, o.twins);
        std::vector<Round> durable, in_memory;
        for (int r = 0; r < o.rounds; ++r) {
            const std::uint64_t syncs = store->stats().syncs;
            durable.push_back(patch_round(store->graph(), o));
            durable.back().syncs = store->stats().syncs - syncs;
            if (o.peer) in_memory.push_back(patch_round(memory, o));
        }
        const json s = summary(durable, true), m = summary(in_memory, false);
        out = json{{"benchmark", "patch"},
                   {"threads", o.threads},
                   {"twins", o.twins},
                   {"seconds_per_round", o.seconds},
                   {"rounds", o.rounds},
                   {"store", s},
                   {"store_directory", root.parent_path().string()},
                   {"durability", "group commit: each update_twin returns once its batch is synced (fdatasync)"},
                   {"history", o.history},
                   {"in_memory_graph", m},
                   {"store_over_in_memory_rate", o.peer ? json(s["patch_per_s"].get<double>() / std::max(1e-9, m["patch_per_s"].get<double>())) : json()},
                   {"target", "store: patch_per_s >= 35000 and cpu_us_per_patch <= 25 with TMPDIR=/dev/shm on two cores"},
                   {"cpu", machine.cpu},
                   {"cores", machine.cores},
                   {"load_before", load_before},
                   {"load_after", load_averages()},
                   {"note", "per PATCH: json::parse of the patch text, TwinGraph::update_twin, Snapshot::twin_etag; "
                            "cpu_us_per_patch is the process's CPU (callers, group-commit leaders, history indexer, "
                            "checkpointer) over the PATCHes of the round; rounds interleave store and in-memory graph"}};
        store->close();
    }
    std::filesystem::remove_all(root);
    std::cout << out.dump() << std::endl;
    return 0;
}

PatchBenchCommand::PatchBenchCommand(CLI::App& app) {
    command_ = app.add_subcommand(
        "patch", "Twin JSON-Patch updates per second on a durable store (group commit) from N threads, as the REST "
                 "service makes them without HTTP, beside the same on an in-memory graph (target 35,000/s and "
                 "25 us of CPU per PATCH on tmpfs)");
    command_->add_option("--threads", options_.threads, "Caller threads")->capture_default_str()->check(CLI::Range(1U, 1024U));
    command_->add_option("--twins", options_.twins, "Twins")->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
    command_->add_option("--seconds", options_.seconds, "Seconds per round and side")->capture_default_str()->check(CLI::Range(0.05, 3600.0));
    command_->add_option("--rounds", options_.rounds, "Interleaved rounds (medians reported)")->capture_default_str()->check(CLI::Range(1, 1000));
    command_->add_flag("--no-history", no_history_, "Store without its history recorder");
    command_->add_flag("--no-peer", no_peer_, "Only the store's rounds (for a profiler)");
    command_->add_flag("--smoke", smoke_, "2 threads, 100 twins, 0.2 s, one round (for CI)");
}

std::optional<int> PatchBenchCommand::run() {
    if (!command_->parsed()) return std::nullopt;
    if (no_history_) options_.history = false;
    if (no_peer_) options_.peer = false;
    if (smoke_) {
        options_.threads = 2;
        options_.twins = 100;
        options_.seconds = 0.2;
        options_.rounds = 1;
    }
    return run_patch(options_);
}

}  // namespace twinsim::bench
