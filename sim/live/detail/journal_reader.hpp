#pragma once
// A read-only view of the store's journal for time travel (internal): its
// own SQLite connection, so reading history never shares a connection (or a
// transaction) with the writer. sqlite3.h stays in journal_reader.cpp.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "twinsim/live/detail/journal_db.hpp"

namespace twinsim::live::detail {

class JournalReader {
public:
    /// Opens `file` (an existing journal) read-only. Throws JournalFailure.
    explicit JournalReader(const std::filesystem::path& file);
    ~JournalReader();
    JournalReader(const JournalReader&) = delete;
    JournalReader& operator=(const JournalReader&) = delete;

    /// committed_at of `batch` (ns since 1970, UTC). Throws JournalFailure
    /// (corrupt) when the batch is not in the journal.
    [[nodiscard]] std::int64_t committed_at(std::uint64_t batch);
    /// Calls `row` for batches after..last (after excluded, last included),
    /// in order. Throws JournalFailure.
    void read_range(std::uint64_t after, std::uint64_t last, const std::function<void(const JournalRow&)>& row);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::live::detail
