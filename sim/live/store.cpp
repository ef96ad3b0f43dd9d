// The durable store: the journal hook, durability (per batch and group
// commit), checkpoints in the background, recovery, the directory lock.
#include "twinsim/live/store.hpp"
#include "twinsim/live/store_lock.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "twinsim/live/detail/batch_codec.hpp"
#include "twinsim/live/detail/checkpoint_file.hpp"
#include "twinsim/live/detail/history_db.hpp"
#include "twinsim/live/detail/journal_db.hpp"
#include "twinsim/live/time_travel.hpp"

namespace twinsim::live {

namespace fs = std::filesystem;
using detail::JournalFailure;

namespace {

std::string quoted(const fs::path& p) { return "\"" + p.string() + "\""; }

std::string with_detail(const JournalFailure& f) {
    return f.detail.empty() ? f.reason : f.reason + " (" + f.detail + ")";
}

// The batch the calling thread's last journaled write went into, for
// await_durable (which runs on the same thread right after the write).
thread_local const void* t_store = nullptr;
thread_local std::uint64_t t_batch = 0;

// How long the background thread sleeps between looks at the WAL.
constexpr auto maintenance_period = std::chrono::milliseconds(200);

// A futex wait and wake on a 32-bit counter. std::atomic::wait would do, but
// libstdc++'s spins and then calls sched_yield up to a dozen times before it
// sleeps: a follower waiting out a millisecond sync yielded a dozen times, and
// on a loaded machine each yield is a thread switch (perf: sched_yield and the
// switches it caused were a quarter of the CPU of 16 writers on a disk-backed
// store). This sleeps at once; the caller re-checks after every return
// (a wake-up, a changed value, a signal).
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) && std::atomic<std::uint32_t>::is_always_lock_free);
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

struct Store::Impl {
    fs::path dir;
    fs::path journal_file;
    fs::path checkpoint_dir;
    StoreOptions options;
    std::optional<StoreLock> directory_lock;  ///< DIR/LOCK, held while open
    std::unique_ptr<detail::JournalDb> journal;
    RecoveryReport recovery;
    graph::TwinGraph* graph = nullptr;
    std::unique_ptr<detail::HistoryRecorder> history;  // null when StoreOptions::history.enabled is false

    // Durability: guarded by sync_mutex.
    mutable std::mutex sync_mutex;
    std::condition_variable durable_cv;   // close() waits for a running sync to end
    bool syncing = false;                 // group commit: a writer is syncing the log (the leader)
    std::uint64_t written = 0;            // last batch written to the journal
    std::uint64_t assigned = 0;           // last batch committed to the graph (group commit: some may wait in pending_rows)
    std::vector<detail::PendingRow> pending_rows;  // group commit: committed batches not yet written to the journal
    std::uint64_t durable = 0;            // last batch known durable
    // Published copies for writers waiting on a running sync without the
    // mutex: `durable` (stored under sync_mutex whenever it changes), and a
    // count of ended syncs (bumped under sync_mutex as a sync ends, then
    // notified). A follower waits on sync_ends itself (a futex), so a sync's
    // end wakes every follower without each one re-taking sync_mutex in turn
    // (a condition variable's wake-up would), and the followers it made
    // durable return at once.
    std::atomic<std::uint64_t> durable_published{0};
    std::atomic<std::uint32_t> sync_ends{0};
    std::string failure;                  // non-empty: a sync failed, every later write is refused
    bool closed = false;
    bool stopping = false;
    std::uint64_t syncs = 0;

    // Checkpoints: guarded by checkpoint_mutex (one at a time), counters by sync_mutex.
    std::mutex checkpoint_mutex;
    std::uint64_t last_checkpoint = 0;
    std::uint64_t checkpoints = 0;
    std::string checkpoint_error;
    std::uint64_t wal_checkpointed_at = 0;
    std::uint64_t journaled_changes = 0;      // change events journaled since open (plus those replayed)
    std::uint64_t changes_at_checkpoint = 0;  // journaled_changes when the last checkpoint's snapshot was taken

    // Is a background checkpoint due? (sync_mutex held)
    [[nodiscard]] bool checkpoint_due() const {
        return (options.checkpoint_every > 0 && assigned - last_checkpoint >= options.checkpoint_every) ||
               (options.checkpoint_every_changes > 0 &&
                journaled_changes - changes_at_checkpoint >= options.checkpoint_every_changes);
    }

    std::thread maintainer;
    std::condition_variable maintainer_cv;

    // --- errors -------------------------------------------------------------------
    [[noreturn]] void write_error(const std::string& why) const {
        throw StoreWriteError(dir, "store " + quoted(dir) + ": " + why);
    }

    // The batch's commit time, on the graph's clock (time travel cuts on it):
    // its first event's time, or a model upload's when that came first; a
    // batch of decommissions or deletions only reads the clock.
    std::int64_t commit_time(const graph::CommitBatch& batch) const {
        std::optional<std::int64_t> time;
        if (batch.numeric && !batch.numeric->calls.empty()) time = batch.numeric->calls.front().time.ns;
        if (!batch.events.empty()) time = batch.events.front().time.ns;
        for (const graph::ModelChange& m : batch.models)
            if (m.kind == graph::ModelChange::Kind::add && (!time || m.upload_time.ns < *time)) time = m.upload_time.ns;
        return time ? *time : (options.clock ? options.clock() : utc_now()).ns;
    }

    // --- the journal hook (graph mutex held) -----------------------------------------
    // Per batch: the row is written (and, synchronous=FULL, synced) here, so a
    // failed write rolls the batch back. Group commit: the row is only encoded
    // here and queued; the writer that leads the next sync writes every queued
    // row in one transaction and syncs (wait_durable). No disk I/O happens
    // while the graph's mutex is held: a write into the log while a sync is
    // writing the same page back would wait for the disk (stable pages), and
    // every other writer would wait behind it for the mutex.
    void journal_batch(const graph::CommitBatch& batch) {
        std::uint64_t id = 0;
        {
            std::lock_guard lock(sync_mutex);
            if (closed) write_error("the store is closed; the write was not applied");
            if (!failure.empty())
                write_error("the store refuses writes since a sync failed: " + failure + "; the write was not applied");
            id = assigned + 1;
        }
        // A batch of numeric writes is journaled as numbers (format version
        // 3); any other as its events and outcome (version 2).
        detail::PendingRow row;
        row.batch = id;
        row.first_sequence = batch.events.empty() ? 0 : batch.events.front().sequence;
        row.last_sequence = batch.events.empty() ? 0 : batch.events.back().sequence;
        row.events = batch.event_count();
        row.model_changes = batch.models.size();
        if (batch.numeric) {
            row.payload = detail::encode_numeric_batch(*batch.numeric);
            row.first_sequence = row.events == 0 ? 0 : batch.numeric->first_sequence;
            row.last_sequence = row.events == 0 ? 0 : row.first_sequence + row.events - 1;
        } else {
            row.payload = detail::encode_batch(batch, batch.outcome());
        }
        row.time_ns = commit_time(batch);
        const std::uint64_t events = row.events;
        if (options.durability == Durability::per_batch) {
            try {
                journal->append(id, row.first_sequence, row.last_sequence, row.time_ns, row.events, row.model_changes,
                                row.payload);
            } catch (const JournalFailure& f) {
                if (f.sync) {
                    std::lock_guard lock(sync_mutex);
                    failure = with_detail(f);
                    durable_cv.notify_all();
                }
                write_error(with_detail(f) + " in " + journal_file.string() + "; the write was not applied");
            }
        }
        std::lock_guard lock(sync_mutex);
        assigned = id;
        if (options.durability == Durability::per_batch) {
            written = id;
            durable = id;  // synchronous=FULL: the commit synced the WAL
            durable_published.store(durable, std::memory_order_release);
            if (history) history->committed(id);
        } else {
            pending_rows.push_back(std::move(row));
            t_store = this;
            t_batch = id;
        }
        journaled_changes += events;
        if (checkpoint_due()) maintainer_cv.notify_one();
    }

    // --- group commit -----------------------------------------------------------------
    // Leader and followers, without a thread of its own: a writer that finds
    // its batch not durable and no sync running becomes the leader: it writes
    // every queued row (its own and those of every batch committed before it,
    // by any thread) to the journal in one transaction and syncs the log, on
    // its own thread; writers whose batch a running sync covers wait for it;
    // a writer whose batch came after the running sync started waits for it to
    // end and then leads the next one, covering every batch queued meanwhile.
    // So concurrent writers share one transaction and one sync, a lone writer
    // pays one of each without any thread hand-over, and no writer waits on a
    // timer.
    void await_durable() {
        if (t_store != this) return;
        const std::uint64_t batch = t_batch;
        t_store = nullptr;
        wait_durable(batch);
    }

    void wait_durable(std::uint64_t batch) {
        std::unique_lock lock(sync_mutex, std::defer_lock);
        for (;;) {
            if (durable_published.load(std::memory_order_acquire) >= batch) return;
            lock.lock();
            if (durable >= batch) return;
            if (!failure.empty())
                write_error("batch " + std::to_string(batch) + " is applied but may not be durable: " + failure);
            if (!syncing) break;
            // A sync is running: wait for it to end (sync_ends moves on under
            // sync_mutex, after this read), then look again.
            const std::uint32_t ends = sync_ends.load(std::memory_order_relaxed);
            lock.unlock();
            futex_wait(sync_ends, ends);
        }
        if (stopping)
            write_error("batch " + std::to_string(batch) + " is applied but the store closed before it was synced");
        // Lead: write every queued row in one transaction, then sync.
        syncing = true;
        std::vector<detail::PendingRow> rows;
        rows.swap(pending_rows);
        const std::uint64_t target = assigned;
        lock.unlock();
        std::string error;
        bool appended = false;
        try {
            journal->append_all(rows);
            appended = true;
            journal->sync_wal();
        } catch (const JournalFailure& f) {
            error = with_detail(f) + " in " + journal_file.string();
        }
        lock.lock();
        syncing = false;
        ++syncs;
        if (appended) {
            written = std::max(written, target);
            if (history) history->committed(target);
        }
        if (error.empty()) durable = std::max(durable, target);
        else if (failure.empty()) failure = error;
        durable_published.store(durable, std::memory_order_release);
        sync_ends.fetch_add(1, std::memory_order_release);
        // Woken followers mostly find their batch in durable_published and
        // return without taking the mutex, so waking them under it costs
        // nothing and keeps close() (which waits for !syncing) from going on
        // while this thread still touches the store.
        futex_wake_all(sync_ends);
        durable_cv.notify_all();
        if (durable >= batch) return;
        write_error("batch " + std::to_string(batch) + " is applied but may not be durable: " + failure);
    }

    // --- checkpoints ----------------------------------------------------------------------
    std::uint64_t write_checkpoint() {
        std::lock_guard one(checkpoint_mutex);
        graph::Snapshot snapshot;
        std::uint64_t batch = 0;
        std::uint64_t changes = 0;
        // Inside an (empty) atomic group no batch can commit: the snapshot
        // and the batch number belong together.
        graph->atomically([&](graph::TwinGraph& g) {
            snapshot = g.snapshot();
            std::lock_guard lock(sync_mutex);
            batch = assigned;
            changes = journaled_changes;
        });
        {
            std::lock_guard lock(sync_mutex);
            if (batch == last_checkpoint) return batch;
        }
        // A checkpoint must never hold a batch the journal could still lose.
        wait_durable(batch);
        try {
            detail::write_checkpoint(checkpoint_dir, batch, snapshot);
        } catch (const std::exception& e) {
            std::lock_guard lock(sync_mutex);
            checkpoint_error = e.what();
            write_error(std::string("the checkpoint of batch ") + std::to_string(batch) + " was not written: " + e.what() +
                        " (the journal still holds every batch)");
        }
        {
            std::lock_guard lock(sync_mutex);
            last_checkpoint = batch;
            changes_at_checkpoint = changes;
            ++checkpoints;
            checkpoint_error.clear();
        }
        // Keep the new checkpoint, the one before it (a fallback) and the
        // others time travel keeps (time_travel.hpp, checkpoints_to_remove).
        std::error_code ec;
        std::vector<std::uint64_t> on_disk;
        for (const auto& entry : fs::directory_iterator(checkpoint_dir, ec)) {
            if (const auto b = detail::checkpoint_batch(entry.path().filename().string())) on_disk.push_back(*b);
        }
        for (const std::uint64_t b : checkpoints_to_remove(on_disk, options.keep_checkpoints))
            if (b < batch) fs::remove(checkpoint_dir / detail::checkpoint_name(b), ec);
        return batch;
    }

    void maintain_loop() {
        std::unique_lock lock(sync_mutex);
        for (;;) {
            maintainer_cv.wait_for(lock, maintenance_period);
            if (stopping) return;
            const bool want_checkpoint = checkpoint_due() && assigned > last_checkpoint && failure.empty();
            const bool want_wal = written > wal_checkpointed_at;
            const std::uint64_t now_written = written;
            lock.unlock();
            if (want_checkpoint) {
                try {
                    (void)write_checkpoint();
                } catch (const std::exception&) {
                    // Recorded in checkpoint_error (stats()); retried later.
                }
            }
            if (want_wal) {
                try {
                    journal->checkpoint_wal();
                } catch (const JournalFailure&) {
                    // The WAL keeps growing until a later attempt succeeds; nothing is lost.
                }
            }
            lock.lock();
            if (want_wal) wal_checkpointed_at = now_written;
        }
    }

    void stop_threads() noexcept {
        {
            std::lock_guard lock(sync_mutex);
            stopping = true;
        }
        maintainer_cv.notify_all();
        durable_cv.notify_all();
        if (maintainer.joinable()) maintainer.join();
        // A leader's sync in progress ends before the journal closes; no new
        // one starts once `stopping` is set.
        std::unique_lock lock(sync_mutex);
        durable_cv.wait(lock, [&] { return !syncing; });
    }

    // --- opening ------------------------------------------------------------------------
    void lock_directory() { directory_lock.emplace(dir); }

    // Loads the latest valid checkpoint; nullopt (and from-scratch replay) when none is.
    std::optional<graph::Snapshot> load_checkpoint() {
        std::vector<std::pair<std::uint64_t, fs::path>> found;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(checkpoint_dir, ec)) {
            const std::string name = entry.path().filename().string();
            if (name.size() > 5 && name.compare(name.size() - 5, 5, ".part") == 0) {
                fs::remove(entry.path(), ec);  // a checkpoint that was being written when the process stopped
                continue;
            }
            if (const auto b = detail::checkpoint_batch(name)) found.emplace_back(*b, entry.path());
        }
        if (ec) throw StoreError(dir, "store " + quoted(dir) + ": cannot list " + checkpoint_dir.string() + " (" + ec.message() + ")");
        std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        for (const auto& [batch, path] : found) {
            try {
                graph::Snapshot snapshot = detail::read_checkpoint(path, batch);
                recovery.checkpoint_batch = batch;
                recovery.checkpoint = path;
                return snapshot;
            } catch (const std::exception& e) {
                recovery.damaged_checkpoints.push_back(path.string() + ": " + e.what());
            }
        }
        return std::nullopt;
    }

    graph::TwinGraphOptions graph_options(bool journaled) {
        graph::TwinGraphOptions o;
        o.clock = options.clock;
        o.allow_undefined_extensions = options.allow_undefined_extensions;
        if (journaled) {
            o.journal = [this](const graph::CommitBatch& b) { journal_batch(b); };
            o.numeric_journal = true;
            if (options.durability == Durability::group) o.await_durable = [this] { await_durable(); };
        }
        return o;
    }

    [[noreturn]] void corrupt(const std::string& why) const {
        throw StoreCorruptError(dir, "store " + quoted(dir) + ": " + why);
    }

    std::unique_ptr<graph::TwinGraph> recover() {
        std::optional<graph::Snapshot> base = load_checkpoint();
        std::unique_ptr<graph::TwinGraph> g = base ? graph::TwinGraph::from_snapshot(*base, graph_options(false))
                                                   : std::make_unique<graph::TwinGraph>(graph_options(false));
        std::uint64_t expected = recovery.checkpoint_batch + 1;
        try {
            journal->read_after(recovery.checkpoint_batch, [&](const detail::JournalRow& row) {
                if (row.batch != expected)
                    corrupt("the journal " + journal_file.string() + " is missing batch " + std::to_string(expected) +
                            " (the next one is " + std::to_string(row.batch) + ")");
                detail::DecodedBatch decoded;
                try {
                    decoded = detail::decode_batch(row.payload);
                } catch (const std::runtime_error& e) {
                    corrupt("batch " + std::to_string(row.batch) + " of the journal " + journal_file.string() +
                            " cannot be read: " + e.what());
                }
                try {
                    g->replay(decoded.recorded());
                } catch (const Error& e) {
                    corrupt("batch " + std::to_string(row.batch) + " of the journal " + journal_file.string() +
                            " does not replay onto " +
                            (recovery.checkpoint.empty() ? std::string("the empty graph")
                                                         : "checkpoint " + recovery.checkpoint.string()) +
                            ": " + e.what());
                }
                ++recovery.batches_replayed;
                recovery.changes_replayed += decoded.event_count();
                ++expected;
            });
        } catch (const JournalFailure& f) {
            if (f.corrupt) corrupt(with_detail(f) + ": " + journal_file.string());
            throw StoreError(dir, "store " + quoted(dir) + ": " + with_detail(f) + ": " + journal_file.string());
        }
        if (expected - 1 < recovery.checkpoint_batch)
            corrupt("the journal ends before the checkpoint's batch");
        recovery.last_batch = expected - 1;
        if (recovery.last_batch < recovery.checkpoint_batch && recovery.checkpoint_batch > 0)
            corrupt("the journal ends at batch " + std::to_string(recovery.last_batch) + " but checkpoint " +
                    recovery.checkpoint.string() + " holds batch " + std::to_string(recovery.checkpoint_batch));
        // The journaled graph, in O(tables + columns).
        return graph::TwinGraph::from_snapshot(g->snapshot(), graph_options(true));
    }
};

Store::Store() : impl_(std::make_unique<Impl>()) {}

Store::~Store() { close(); }

const fs::path& Store::directory() const noexcept { return impl_->dir; }
const RecoveryReport& Store::recovery() const noexcept { return impl_->recovery; }

std::uint64_t Store::checkpoint() {
    {
        std::lock_guard lock(impl_->sync_mutex);
        if (impl_->closed) impl_->write_error("the store is closed; no checkpoint was written");
    }
    return impl_->write_checkpoint();
}

void Store::flush() {
    std::uint64_t target = 0;
    {
        std::lock_guard lock(impl_->sync_mutex);
        target = impl_->assigned;
    }
    impl_->wait_durable(target);
}

StoreStats Store::stats() const {
    std::lock_guard lock(impl_->sync_mutex);
    StoreStats s;
    s.written_batch = impl_->written;
    s.durable_batch = impl_->durable;
    s.syncs = impl_->syncs;
    s.checkpoints = impl_->checkpoints;
    s.last_checkpoint_batch = impl_->last_checkpoint;
    s.last_checkpoint_error = impl_->checkpoint_error;
    return s;
}

void Store::close() noexcept {
    if (!impl_) return;
    {
        std::lock_guard lock(impl_->sync_mutex);
        if (impl_->closed) return;
    }
    // Sync what was written, then refuse further writes.
    if (impl_->options.durability == Durability::group) {
        try {
            flush();
        } catch (...) {
            // The failure was reported to the writers waiting for it.
        }
    }
    // A clean close after a long tail takes a checkpoint, so the next open
    // loads it instead of replaying the tail (docs/store.md, "Checkpoints").
    bool checkpoint_now = false;
    {
        std::lock_guard lock(impl_->sync_mutex);
        const std::uint64_t every = impl_->options.checkpoint_every_changes;
        checkpoint_now = every > 0 && impl_->failure.empty() && impl_->assigned > impl_->last_checkpoint &&
                         impl_->journaled_changes - impl_->changes_at_checkpoint >= std::max<std::uint64_t>(1, every / 10);
    }
    if (checkpoint_now) {
        try {
            (void)impl_->write_checkpoint();
        } catch (...) {
            // Recorded in checkpoint_error; the journal still holds every batch.
        }
    }
    {
        std::lock_guard lock(impl_->sync_mutex);
        impl_->closed = true;
    }
    impl_->stop_threads();
    if (impl_->history) impl_->history->stop();
    // Taking the graph's mutex (an empty atomic group) waits for a write in
    // progress; any later one sees `closed`.
    try {
        if (graph_) graph_->atomically([](graph::TwinGraph&) {});
    } catch (...) {
    }
    if (impl_->journal) impl_->journal->close();
    impl_->directory_lock.reset();
}

std::unique_ptr<Store> open_store(const fs::path& directory, StoreOptions options) {
    std::unique_ptr<Store> store(new Store());
    Store::Impl& s = *store->impl_;
    s.dir = directory;
    s.options = std::move(options);
    std::error_code ec;
    const bool existed = fs::exists(directory, ec);
    if (!existed) {
        if (!s.options.create)
            throw StoreError(directory, "store " + quoted(directory) + " does not exist (and creating it was not asked for)");
        fs::create_directories(directory, ec);
        if (ec)
            throw StoreError(directory, "store " + quoted(directory) + ": the directory cannot be created (" + ec.message() + ")");
    } else if (!fs::is_directory(directory, ec)) {
        throw StoreError(directory, "store " + quoted(directory) + " is not a directory");
    }
    s.dir = fs::absolute(directory, ec);
    if (ec) s.dir = directory;
    s.journal_file = s.dir / "journal.db";
    s.checkpoint_dir = s.dir / "checkpoints";
    s.lock_directory();
    fs::create_directories(s.checkpoint_dir, ec);
    if (ec)
        throw StoreError(s.dir, "store " + quoted(s.dir) + ": cannot create " + s.checkpoint_dir.string() + " (" +
                                    ec.message() + ")");
    try {
        s.journal = std::make_unique<detail::JournalDb>(s.journal_file, s.options.durability == Durability::per_batch);
        // The journal, its WAL and the checkpoint folder exist: make their names durable.
        detail::sync_directory(s.dir);
    } catch (const JournalFailure& f) {
        if (f.corrupt) throw StoreCorruptError(s.dir, "store " + quoted(s.dir) + ": " + with_detail(f) + ": " + s.journal_file.string());
        throw StoreError(s.dir, "store " + quoted(s.dir) + ": " + with_detail(f) + ": " + s.journal_file.string());
    } catch (const std::runtime_error& e) {
        throw StoreError(s.dir, "store " + quoted(s.dir) + ": " + e.what());
    }
    store->graph_ = s.recover();
    s.graph = store->graph_.get();
    s.written = s.durable = s.assigned = s.recovery.last_batch;
    s.durable_published.store(s.durable);
    s.last_checkpoint = s.recovery.checkpoint_batch;
    s.journaled_changes = s.recovery.changes_replayed;  // a long replayed tail makes the next checkpoint come soon
    s.wal_checkpointed_at = 0;
    s.maintainer = std::thread([&s] { s.maintain_loop(); });
    if (s.options.history.enabled) {
        const fs::path history_file = s.dir / "history.db";
        try {
            s.history = std::make_unique<detail::HistoryRecorder>(history_file, s.journal_file, s.options.history,
                                                                  s.recovery.last_batch);
        } catch (const HistoryError& first) {
            // history.db is derived from the journal: a damaged one (or one of
            // another schema) is set aside as history.db.damaged and rebuilt.
            std::error_code aside;
            fs::rename(history_file, s.dir / "history.db.damaged", aside);
            for (const char* suffix : {"-wal", "-shm"}) fs::remove(fs::path(history_file.string() + suffix), aside);
            try {
                s.history = std::make_unique<detail::HistoryRecorder>(history_file, s.journal_file, s.options.history,
                                                                      s.recovery.last_batch);
            } catch (const HistoryError& e) {
                throw StoreError(s.dir, "store " + quoted(s.dir) + ": " + e.what() + " (before that: " + first.what() + ")");
            }
        }
    }
    return store;
}

// --- history ----------------------------------------------------------------------------------

namespace {
detail::HistoryRecorder& recorder_of(const std::unique_ptr<detail::HistoryRecorder>& history, const fs::path& dir) {
    if (!history)
        throw HistoryError("store " + quoted(dir) + " does not record history (StoreOptions::history.enabled is false)");
    return *history;
}
}  // namespace

HistoryResult Store::history(const HistoryQuery& query) {
    std::uint64_t upto = 0;
    {
        std::lock_guard lock(impl_->sync_mutex);
        if (impl_->closed) throw HistoryError("store " + quoted(impl_->dir) + " is closed; its history cannot be read");
        upto = impl_->written;
    }
    return recorder_of(impl_->history, impl_->dir).read(query, upto);
}

HistorySeries Store::history_series(std::string_view twin, std::string_view key, std::optional<Timestamp> start,
                                    std::optional<Timestamp> end) {
    std::uint64_t upto = 0;
    {
        std::lock_guard lock(impl_->sync_mutex);
        if (impl_->closed) throw HistoryError("store " + quoted(impl_->dir) + " is closed; its history cannot be read");
        upto = impl_->written;
    }
    return recorder_of(impl_->history, impl_->dir).read_series(twin, key, start, end, upto);
}

std::uint64_t Store::thin_history(const RetentionPolicy& policy, std::optional<Timestamp> now) {
    std::uint64_t upto = 0;
    {
        std::lock_guard lock(impl_->sync_mutex);
        if (impl_->closed) throw HistoryError("store " + quoted(impl_->dir) + " is closed; its history cannot be thinned");
        upto = impl_->written;
    }
    return recorder_of(impl_->history, impl_->dir).thin(policy, now, upto);
}

bool Store::record_telemetry(std::string_view twin_id, std::string_view component, std::string_view model_id,
                             const nlohmann::json& payload, Timestamp time, std::optional<Timestamp> source_time) {
    {
        std::lock_guard lock(impl_->sync_mutex);
        if (impl_->closed) throw HistoryError("store " + quoted(impl_->dir) + " is closed; telemetry was not recorded");
    }
    detail::HistoryRecorder& r = recorder_of(impl_->history, impl_->dir);
    if (!r.options().telemetry) return false;
    r.telemetry(twin_id, component, model_id, payload, time, source_time);
    return true;
}

Store::HistoryCounts Store::history_counts() {
    std::uint64_t upto = 0;
    {
        std::lock_guard lock(impl_->sync_mutex);
        if (impl_->closed) throw HistoryError("store " + quoted(impl_->dir) + " is closed; its history cannot be read");
        upto = impl_->written;
    }
    const detail::HistoryDb::Counts c = recorder_of(impl_->history, impl_->dir).counts(upto);
    return {c.property_updates, c.twin_lifecycle, c.relationship_lifecycle, c.telemetry, c.bytes};
}

}  // namespace twinsim::live
