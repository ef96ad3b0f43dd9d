#pragma once
// The store's write-ahead journal: one SQLite 3 database in WAL mode
// (internal; sqlite3.h stays in journal_db.cpp). docs/store.md has the schema.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim::live::detail {

/// A journal operation failed. `reason` is our wording of what happened
/// ("the disk is full", "the file is not a database"), `detail` SQLite's or
/// the OS's own words; `corrupt`: the file is damaged or not a journal;
/// `sync`: a sync failed (data may not be on disk).
struct JournalFailure : std::runtime_error {
    JournalFailure(std::string why, std::string details, bool is_corrupt, bool is_sync)
        : std::runtime_error(why), reason(std::move(why)), detail(std::move(details)), corrupt(is_corrupt), sync(is_sync) {}
    std::string reason;
    std::string detail;
    bool corrupt = false;
    bool sync = false;
};

struct JournalRow {
    std::uint64_t batch = 0;
    std::string_view payload;
};

/// A batch row waiting to be appended (group commit appends them together).
struct PendingRow {
    std::uint64_t batch = 0;
    std::uint64_t first_sequence = 0;
    std::uint64_t last_sequence = 0;
    std::int64_t time_ns = 0;
    std::uint64_t events = 0;
    std::uint64_t model_changes = 0;
    std::string payload;
};

class JournalDb {
public:
    /// Opens or creates the journal at `file`. `sync_each_commit`: SQLite
    /// syncs the WAL at every commit (synchronous=FULL); otherwise it does
    /// not (synchronous=NORMAL) and the caller syncs the WAL (sync_wal).
    /// Throws JournalFailure.
    JournalDb(const std::filesystem::path& file, bool sync_each_commit);
    ~JournalDb();
    JournalDb(const JournalDb&) = delete;
    JournalDb& operator=(const JournalDb&) = delete;

    /// Appends one batch row in its own transaction. Throws JournalFailure
    /// (the row is then not in the journal).
    void append(std::uint64_t batch, std::uint64_t first_sequence, std::uint64_t last_sequence, std::int64_t time_ns,
                std::uint64_t events, std::uint64_t model_changes, std::string_view payload);
    /// Appends `rows` (in order) in one transaction. Throws JournalFailure
    /// (none of them is then in the journal).
    void append_all(const std::vector<PendingRow>& rows);
    /// Calls `row` for every batch after `after`, in order. Throws JournalFailure.
    void read_after(std::uint64_t after, const std::function<void(const JournalRow&)>& row);
    /// The largest batch number in the journal, 0 when empty.
    [[nodiscard]] std::uint64_t last_batch();
    /// fdatasync of the WAL file (group commit). Throws JournalFailure (sync).
    void sync_wal();
    /// Copies the WAL into the database file on a second connection
    /// (synchronous=FULL: the WAL is synced before, the database after), so
    /// the WAL can restart; writers are not blocked. Throws JournalFailure.
    void checkpoint_wal();
    /// Closes both connections (no checkpoint on close: the WAL stays). Never throws.
    void close() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::live::detail
