// The live layer's twinsim-bench subcommands (live_bench.hpp).
#include "live_bench.hpp"

#include <iostream>

#include "../tests/tools/crash_harness.hpp"
#include "bench_support.hpp"

namespace twinsim::bench {

LiveBenchCommands::LiveBenchCommands(CLI::App& app) {
    ingest_command_ = app.add_subcommand(
        "ingest", "Property updates/s into the in-memory graph (target 2,000,000/s in batches of 1,000), into a store "
                  "with group commit beside a bare SQLite table (target 300,000/s), and acknowledged latency of single "
                  "updates with fsync beside SQLite's single-row insert");
    IngestBenchOptions& i = ingest_;
    ingest_command_->add_option("--twins", i.twins, "Twins the updates spread over")->capture_default_str();
    ingest_command_->add_option("--batch", i.batch, "Updates per call")->capture_default_str();
    ingest_command_->add_option("--batches", i.batches, "In-memory batches per path and round")->capture_default_str();
    ingest_command_->add_option("--writers", i.writers, "Group commit: writer threads")->capture_default_str()->check(CLI::Range(1U, 256U));
    ingest_command_->add_option("--durable-batches", i.durable_batches, "Group commit: batches per writer and round")->capture_default_str();
    ingest_command_->add_option("--latency-samples", i.latency_samples, "Single acknowledged writes per round")->capture_default_str();
    ingest_command_->add_option("--rounds", i.rounds, "Interleaved rounds (medians reported)")->capture_default_str();
    ingest_command_->add_option("--dir", i.directory, "Directory for the stores (default: a temporary one)");
    ingest_command_->add_flag("--smoke", ingest_smoke_, "1,000 twins, batches of 100, 2 rounds (for CI)");

    recovery_command_ = app.add_subcommand(
        "recovery", "Builds a store of N twins and M journaled changes, then times reopening it (target < 10 s for "
                    "1,000,000 twins and 10,000,000 changes)");
    RecoveryBenchOptions& r = recovery_;
    recovery_command_->add_option("--twins", r.twins, "Twins in the store")->capture_default_str();
    recovery_command_->add_option("--changes", r.changes, "Journaled property changes after the twins")->capture_default_str();
    recovery_command_->add_option("--batch", r.batch, "Changes per journaled batch")->capture_default_str();
    recovery_command_->add_option("--checkpoint-every", r.checkpoint_every, "Batches between background checkpoints while writing (0: the store's default)")->capture_default_str();
    recovery_command_->add_option("--reopens", r.reopens, "Timed reopenings (median reported)")->capture_default_str();
    recovery_command_->add_option("--dir", r.directory, "Directory of the store (default: a temporary one)");
    recovery_command_->add_flag("--keep", r.keep, "Leave the store in place; a later run with the same --dir reuses it");
    recovery_command_->add_flag("--smoke", recovery_smoke_, "10,000 twins, 100,000 changes, 1 reopening (for CI)");

    crash_command_ = app.add_subcommand(
        "crash", "The store's kill -9 test in full: a child writes and prints what was acknowledged, this process "
                 "SIGKILLs it at random moments, reopens the store and checks it, N times");
    crash_command_->add_option("--kills", crash_.kills, "How many times the child is killed")->capture_default_str();
    crash_command_->add_option("--min-delay", crash_.min_delay_ms, "Shortest life of a child, ms")->capture_default_str();
    crash_command_->add_option("--max-delay", crash_.max_delay_ms, "Longest life of a child, ms")->capture_default_str();
    crash_command_->add_option("--dir", crash_.directory, "Directory of the store (default: a temporary one)");
    crash_command_->add_flag("--smoke", crash_smoke_, "10 kills (for CI)");

    child_command_ = app.add_subcommand("crash-child", "(internal) the child of `crash`");
    child_command_->group("");  // hidden from --help
    child_command_->add_option("dir", child_dir_)->required();
    child_command_->add_option("mode", child_mode_)->check(CLI::IsMember({"per_batch", "group"}));
}

std::optional<int> LiveBenchCommands::run() {
    if (ingest_command_->parsed()) {
        if (ingest_smoke_) {
            ingest_.twins = 1000;
            ingest_.batch = 100;
            ingest_.batches = 20;
            ingest_.writers = 2;
            ingest_.durable_batches = 5;
            ingest_.latency_samples = 20;
            ingest_.rounds = 2;
        }
        return run_ingest(ingest_);
    }
    if (recovery_command_->parsed()) {
        if (recovery_smoke_) {
            recovery_.twins = 10000;
            recovery_.changes = 100000;
            recovery_.reopens = 1;
        }
        return run_recovery(recovery_);
    }
    if (crash_command_->parsed()) {
        if (crash_smoke_) crash_.kills = 10;
        return run_crash(crash_);
    }
    if (child_command_->parsed()) {
        try {
            return crash::child_loop(child_dir_, child_mode_);
        } catch (const std::exception& e) {
            std::cout << "FAILED: " << e.what() << std::endl;
            return exit_failed;
        }
    }
    return std::nullopt;
}

}  // namespace twinsim::bench
