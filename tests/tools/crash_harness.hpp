#pragma once
// The store's kill -9 test, shared by the test suite ([store_crash], a short
// run) and `twinsim-bench crash --kills N` (the full run): the child's
// writing loop, starting a child and SIGKILLing it, and the checks made on
// the reopened store after each kill. No test framework here: the checks
// return what failed, and each caller reports it its own way.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace twinsim::crash {

/// The child's loop (never returns normally): opens the store in `dir` with
/// per_batch or group durability and writes batches forever, printing
/// "ack K" once batch K returned (every s0..s4 holds K after it; the batch
/// also creates twin b-K). In group mode two more threads update x0 and x1,
/// printing "ackx J V". Prints "ready" once the store is open.
int child_loop(const std::string& dir, const std::string& mode);

/// Creates the store the child writes to: the models, s0..s4 and x0, x1 at 0.
void prepare_store(const std::filesystem::path& dir);

struct ChildResult {
    std::string output;
    int status = 0;  ///< waitpid status
};

/// Runs `args` (args[0] a program path) with its stdout captured; SIGKILLs
/// it after `kill_after` (when set) or after `limit`. Throws std::runtime_error
/// when it cannot be started.
ChildResult run_child(const std::vector<std::string>& args, std::optional<std::chrono::milliseconds> kill_after,
                      std::chrono::milliseconds limit = std::chrono::seconds(60));

/// What the parent carries from one kill to the next.
struct KillState {
    long long committed = 0;     ///< the value the parent wrote last (durable before the next child starts)
    long long total_acks = 0;    ///< "ack" lines seen over all rounds
    int checkpoints_seen = 0;    ///< reopenings that loaded a checkpoint
    std::uint64_t batches_replayed = 0;  ///< over all reopenings
};

/// After a child was killed: parses its output, reopens the store and checks
/// that every acknowledged write is there, no batch is half applied, etags
/// are unique, sequence numbers continue without a gap and the store still
/// takes a write (the parent writes the next batch itself). Returns what
/// failed, empty when everything held.
[[nodiscard]] std::string check_after_kill(const std::filesystem::path& dir, const ChildResult& child, KillState& state);

}  // namespace twinsim::crash
