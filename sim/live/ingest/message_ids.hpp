#pragma once
// The message ids a durable store remembers, so that a duplicate (the same
// message id) is dropped across restarts and across `twinsim ingest` runs,
// not only within one process (docs/ingest.md, "Duplicates").
//
// The ids live in DIR/message-ids.db (SQLite, WAL) beside the store's
// journal: each id with when it was accepted. The window is bounded both
// ways: at most `max_ids` ids (the most recent kept) and none older than
// `max_age`; older ones are forgotten, and a message arriving again after
// that is applied again. The ids of a batch are remembered right after the
// batch is durable in the journal: a crash between the two can let a
// redelivered duplicate through (applied twice, never lost).
//
// Thread safety: one MessageIds per process and store (the store's lock
// keeps other processes out); its methods are serialised internally.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::live::ingest {

struct MessageIdWindow {
    /// Ids remembered at most (the most recently accepted); 0: none.
    std::size_t max_ids = 1'000'000;
    /// Ids older than this are forgotten (measured from when they were
    /// accepted); zero: no age limit.
    std::chrono::seconds max_age = std::chrono::hours(24 * 7);
};

/// The file of a store's remembered message ids: DIR/message-ids.db.
[[nodiscard]] std::filesystem::path message_ids_file(const std::filesystem::path& store_directory);

class MessageIds {
public:
    /// Opens or creates `file`. Throws IoError when it cannot be opened or is
    /// not a message-id file.
    MessageIds(const std::filesystem::path& file, MessageIdWindow window = {});
    ~MessageIds();
    MessageIds(const MessageIds&) = delete;
    MessageIds& operator=(const MessageIds&) = delete;

    /// True when `id` was accepted within the window (as of `now`).
    [[nodiscard]] bool contains(std::string_view id, Timestamp now = utc_now());
    /// Remembers `ids` as accepted at `now` (one transaction, synced), then
    /// forgets what falls out of the window. Throws IoError.
    void remember(const std::vector<std::string>& ids, Timestamp now = utc_now());
    /// Ids remembered now (for tests and diagnostics).
    [[nodiscard]] std::size_t size();
    [[nodiscard]] MessageIdWindow window() const;
    /// Changes the window (the next remember() trims to it).
    void set_window(MessageIdWindow window);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::live::ingest
