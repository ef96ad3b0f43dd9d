#pragma once
// The lock that keeps a durable store to one process at a time (flock on
// DIR/LOCK, with the holder's pid written in it). open_store takes it for as
// long as the Store is open; tools that only change a store's side files
// (its kept rule sets, DIR/rules/) take it alone, without opening the store,
// so they neither replay its journal nor race a process that has it open.

#include <filesystem>

namespace twinsim::live {

class StoreLock {
public:
    /// Takes the lock of the store in `directory` (which must exist). Throws
    /// StoreLockedError (store.hpp: the store is open in another process, or
    /// elsewhere in this one; names the holder's pid) or StoreError (the lock
    /// file cannot be created or locked).
    explicit StoreLock(const std::filesystem::path& directory);
    /// Releases it.
    ~StoreLock();
    StoreLock(StoreLock&& other) noexcept;
    StoreLock& operator=(StoreLock&& other) noexcept;
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;

    /// Releases the lock now (idempotent, never throws).
    void release() noexcept;

private:
    int fd_ = -1;
};

}  // namespace twinsim::live
