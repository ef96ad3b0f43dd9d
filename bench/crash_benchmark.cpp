// `twinsim-bench crash --kills N`: the [store_crash] test in full. This
// program itself is the child (the hidden `crash-child` subcommand runs
// crash::child_loop); the parent SIGKILLs it at random moments, reopens the
// store and checks it (tests/tools/crash_harness.cpp, shared with the test).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "../tests/tools/crash_harness.hpp"
#include "bench_support.hpp"
#include "live_bench.hpp"

namespace twinsim::bench {

namespace fs = std::filesystem;

int run_crash(const CrashBenchOptions& o) {
    if (o.kills <= 0 || o.min_delay_ms < 0 || o.max_delay_ms < o.min_delay_ms) {
        std::cerr << "twinsim-bench crash: --kills must be at least 1 and --min-delay <= --max-delay\n";
        return exit_usage;
    }
    const fs::path self = fs::read_symlink("/proc/self/exe");
    const fs::path dir = o.directory.empty() ? fs::temp_directory_path() / ("twinsim-bench-crash-" + std::to_string(::getpid()))
                                             : fs::path(o.directory);
    fs::remove_all(dir);
    crash::prepare_store(dir);
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay(o.min_delay_ms, o.max_delay_ms);
    crash::KillState state;
    nlohmann::ordered_json out;
    out["benchmark"] = "crash";
    out["kills_asked"] = o.kills;
    const auto start = std::chrono::steady_clock::now();
    int done = 0;
    std::string failure;
    for (; done < o.kills; ++done) {
        const std::string mode = done % 2 == 0 ? "per_batch" : "group";
        const int ms = delay(rng);
        const crash::ChildResult child =
            crash::run_child({self.string(), "crash-child", dir.string(), mode}, std::chrono::milliseconds(ms));
        failure = crash::check_after_kill(dir, child, state);
        if (!failure.empty()) {
            failure = "kill " + std::to_string(done + 1) + " (" + mode + ", after " + std::to_string(ms) + " ms): " + failure;
            break;
        }
    }
    out["kills_checked"] = done;
    out["acknowledged_batches"] = state.total_acks;
    out["reopenings_from_a_checkpoint"] = state.checkpoints_seen;
    out["batches_replayed"] = state.batches_replayed;
    out["last_value"] = state.committed;
    out["seconds"] = seconds_since(start);
    out["passed"] = failure.empty();
    if (!failure.empty()) out["failure"] = failure;
    std::cout << out.dump(2) << '\n';
    if (failure.empty()) fs::remove_all(dir);  // kept for a look when a check failed
    return failure.empty() ? exit_ok : exit_failed;
}

}  // namespace twinsim::bench
