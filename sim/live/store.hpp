#pragma once
// The durable store: a twin graph that lives in a directory on disk
// (docs/store.md has the layout, formats and guarantees).
//
// live::open_store(dir) opens (or creates) the store and gives a Store that
// owns a TwinGraph. Every mutation batch of that graph is written to a
// write-ahead journal (SQLite 3 in WAL mode, dir/journal.db), and a mutation
// returns only once its batch is durable (synced to disk), in one of two
// modes: per batch (the row is written and synced inside the graph's commit,
// through TwinGraphOptions::journal: when the write fails the batch is rolled
// back and the caller gets a StoreWriteError) or group commit (the commit
// queues the row; the first writer waiting for durability writes every queued
// row in one transaction and syncs once for all of them; each write returns
// once a sync covering its batch has completed, and a failed write or sync
// gives StoreWriteError for an applied batch and stops the store, as
// docs/store.md "Durability" says). Checkpoints of the whole graph (a
// serialised Snapshot) are written in the background every N batches and on
// request; opening loads the latest valid checkpoint and replays the journal
// after it. The journal is never truncated: every batch ever committed stays
// in it (history builds on it; retention is for later).
//
// One process at a time: the directory is locked (flock on dir/LOCK) while a
// Store is open; a second open, from any process, is refused with the holder's pid.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "twinsim/common/time.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/errors.hpp"
#include "twinsim/live/history.hpp"

namespace twinsim::live {

/// Base of the store's errors; path() is the store's directory. Messages name
/// the store, the file involved and the reason in our words (the OS or
/// SQLite reason is quoted after it, e.g. "(SQLite: database or disk is full)").
class StoreError : public LiveError {
public:
    StoreError(std::filesystem::path path, const std::string& message) : LiveError(message), path_(std::move(path)) {}
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// The store is open in another process, or elsewhere in this one.
class StoreLockedError : public StoreError {
public:
    StoreLockedError(std::filesystem::path path, const std::string& message, long holder_pid)
        : StoreError(std::move(path), message), holder_pid_(holder_pid) {}
    /// The pid written in the lock file by the holder (0 when unknown).
    [[nodiscard]] long holder_pid() const noexcept { return holder_pid_; }

private:
    long holder_pid_;
};

/// The journal or every checkpoint is unreadable or inconsistent (not a
/// store, damaged, or written by an incompatible version).
class StoreCorruptError : public StoreError {
public:
    using StoreError::StoreError;
};

/// A batch could not be made durable: the journal write failed (the batch was
/// rolled back: disk full, I/O error), or a sync failed (the store then
/// refuses every later write with the same reason; see Store).
class StoreWriteError : public StoreError {
public:
    using StoreError::StoreError;
};

enum class Durability : std::uint8_t {
    per_batch,  ///< each batch's journal transaction is synced before its write returns
    group,      ///< batches share syncs; a write returns once a sync covering it completed
};

struct StoreOptions {
    Durability durability = Durability::per_batch;
    /// A checkpoint is written in the background after this many batches
    /// since the last one; 0: not by batch count. With both this and
    /// checkpoint_every_changes 0, only on request (Store::checkpoint).
    std::uint64_t checkpoint_every = 10000;
    /// A checkpoint is also written in the background once this many change
    /// events were journaled since the last one (0: off). What opening must
    /// replay is then bounded in changes, whatever the batch sizes.
    std::uint64_t checkpoint_every_changes = 1000000;
    /// Checkpoints kept on disk for time travel (live/time_travel.hpp,
    /// checkpoints_to_remove): at most this many, spread over the journal;
    /// 2 keeps only the newest and its fallback.
    std::size_t keep_checkpoints = 16;
    /// Create the directory (and its parent directories) when it does not exist.
    bool create = true;
    /// The graph's clock (TwinGraphOptions::clock); the system clock when empty.
    std::function<Timestamp()> clock;
    /// TwinGraphOptions::allow_undefined_extensions.
    bool allow_undefined_extensions = false;
    /// The history recorder (history.hpp, docs/history.md): on by default.
    HistoryOptions history;
};

/// How opening went.
struct RecoveryReport {
    std::uint64_t checkpoint_batch = 0;   ///< the batch the loaded checkpoint holds (0: none, replayed from the start)
    std::filesystem::path checkpoint;     ///< its file, empty when none
    std::uint64_t batches_replayed = 0;   ///< journal batches applied after it
    std::uint64_t changes_replayed = 0;   ///< change events in those batches
    std::uint64_t last_batch = 0;         ///< the last batch in the journal
    /// Checkpoints that were skipped, each "<file>: <why>".
    std::vector<std::string> damaged_checkpoints;
};

struct StoreStats {
    std::uint64_t written_batch = 0;     ///< last batch written to the journal
    std::uint64_t durable_batch = 0;     ///< last batch known durable
    std::uint64_t syncs = 0;             ///< group commit: syncs done (each led by a waiting writer)
    std::uint64_t checkpoints = 0;       ///< checkpoints written since open
    std::uint64_t last_checkpoint_batch = 0;
    std::string last_checkpoint_error;   ///< why the last background checkpoint failed, empty when it did not
};

/// An open store. Not copyable; close() (or the destructor) releases it.
/// Thread safety: the graph is as thread-safe as any TwinGraph; the Store's
/// own methods may be called from any thread.
class Store {
public:
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;
    ~Store();

    /// The stored graph. Its writes are journaled and return once durable;
    /// they throw StoreWriteError (nothing applied) when the journal refuses
    /// them, and also after close(). Valid as long as the Store lives.
    [[nodiscard]] graph::TwinGraph& graph() noexcept { return *graph_; }
    [[nodiscard]] const std::filesystem::path& directory() const noexcept;

    /// Writes a checkpoint of the graph now (on the caller's thread) unless
    /// the latest one already holds the last batch. Returns the batch it
    /// holds. Throws StoreWriteError when it cannot be written (the store
    /// keeps working: the journal still has every batch).
    std::uint64_t checkpoint();
    /// Waits until every batch written so far is durable (group commit;
    /// immediate per batch). Throws StoreWriteError when a sync failed.
    void flush();
    [[nodiscard]] const RecoveryReport& recovery() const noexcept;
    /// Time travel (live/time_travel.cpp, docs/store.md "Time travel"): the
    /// graph exactly as it was at instant `t` — twins, relationships,
    /// properties, etags, times, models — holding every batch whose commit
    /// time (the graph's clock: what its events and $lastUpdateTime hold) is
    /// at or before t, and none after. Before the first batch: the empty
    /// graph; at or after the last: the current graph. Built from the newest
    /// kept checkpoint at or before that batch plus the journal after it; the
    /// store's graph is not blocked meanwhile (only while its current state is
    /// read). Works after close() too. Throws StoreCorruptError when the
    /// journal is damaged or a batch does not replay, StoreError when the
    /// journal cannot be read.
    [[nodiscard]] graph::Snapshot snapshot_at(Timestamp t);
    [[nodiscard]] StoreStats stats() const;

    // --- history (history.hpp, docs/history.md) -------------------------------------------
    /// The recorded history rows `query` selects, once every batch committed
    /// before the call is indexed (read-your-writes). Throws HistoryError
    /// (history disabled, the store closed, the end before the start, the
    /// history database failing: its reason).
    [[nodiscard]] HistoryResult history(const HistoryQuery& query);
    /// One property of one twin (`key` as history rows name it: "property",
    /// "component.property") in [start, end) as columns, with the same
    /// read-your-writes wait and errors as history(). Unknown names give an
    /// empty series.
    [[nodiscard]] HistorySeries history_series(std::string_view twin, std::string_view key,
                                               std::optional<Timestamp> start = std::nullopt,
                                               std::optional<Timestamp> end = std::nullopt);
    /// Applies a retention policy now; returns the rows removed. `now`: the
    /// instant ages are measured from (the newest row's time when nullopt).
    /// Throws HistoryError (as history(); a negative age or interval, or an
    /// age without an interval).
    std::uint64_t thin_history(const RetentionPolicy& policy, std::optional<Timestamp> now = std::nullopt);
    /// Records a telemetry message when StoreOptions::history.telemetry is
    /// set (returns false, recording nothing, otherwise): one row per member
    /// of `payload` (an object), keyed "<component>.<name>" for a component.
    /// Telemetry rows are not journaled. Throws HistoryError.
    bool record_telemetry(std::string_view twin_id, std::string_view component, std::string_view model_id,
                          const nlohmann::json& payload, Timestamp time, std::optional<Timestamp> source_time = std::nullopt);
    /// Rows per kind and bytes on disk of the history database (measurements).
    struct HistoryCounts {
        std::uint64_t property_updates = 0, twin_lifecycle = 0, relationship_lifecycle = 0, telemetry = 0, bytes = 0;
    };
    [[nodiscard]] HistoryCounts history_counts();
    /// Stops the background work, syncs, closes the journal and releases the
    /// lock. Later writes to graph() throw StoreWriteError; reads still work.
    /// Idempotent; never throws.
    void close() noexcept;

    struct Impl;

private:
    friend std::unique_ptr<Store> open_store(const std::filesystem::path& directory, StoreOptions options);
    Store();
    std::unique_ptr<Impl> impl_;
    std::unique_ptr<graph::TwinGraph> graph_;
};

/// Opens the store in `directory`, creating it when it does not exist (and
/// options.create): loads the latest valid checkpoint (a damaged one is
/// skipped for the one before it, or for a replay of the whole journal) and
/// replays the journal after it. Throws StoreLockedError (open elsewhere:
/// names the directory and the holder's pid), StoreCorruptError (the journal
/// is damaged or not a store's, or a batch does not replay), StoreError (the
/// directory cannot be created or is not a directory, missing with
/// create = false).
[[nodiscard]] std::unique_ptr<Store> open_store(const std::filesystem::path& directory, StoreOptions options = {});

}  // namespace twinsim::live
