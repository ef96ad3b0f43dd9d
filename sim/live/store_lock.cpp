#include "twinsim/live/store_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "twinsim/live/store.hpp"

namespace twinsim::live {

namespace {
std::string quoted(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }
}  // namespace

StoreLock::StoreLock(const std::filesystem::path& directory) {
    const std::filesystem::path lock_file = directory / "LOCK";
    fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw StoreError(directory, "store " + quoted(directory) + ": cannot open its lock file " + lock_file.string() +
                                        " (" + std::strerror(errno) + ")");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {};
        const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        const long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK)
            throw StoreLockedError(directory,
                                   "store " + quoted(directory) + " is already open in process " +
                                       (pid > 0 ? std::to_string(pid) : std::string("(unknown pid)")) + " (lock file " +
                                       lock_file.string() + "); close it there first",
                                   pid);
        throw StoreError(directory,
                         "store " + quoted(directory) + ": cannot lock " + lock_file.string() + " (" + std::strerror(err) + ")");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // The lock holds anyway; only the pid shown to a second opener is missing.
    }
}

StoreLock::~StoreLock() { release(); }

StoreLock::StoreLock(StoreLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

StoreLock& StoreLock::operator=(StoreLock&& other) noexcept {
    if (this != &other) {
        release();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

void StoreLock::release() noexcept {
    if (fd_ < 0) return;
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
}

}  // namespace twinsim::live
