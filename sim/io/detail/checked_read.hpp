#pragma once
// Reading a file from elsewhere in a child process first (internal). HDF5
// 1.10 can crash or loop forever inside its own metadata decoding on damage
// no outside check sees; the results and history readers therefore read the
// whole file once in a forked child under a time limit, and only then in the
// caller's process (docs/results-format.md, docs/history-format.md).

#include <functional>
#include <string>

namespace twinsim::io::detail {

/// The wall-clock backstop read_in_child gives a child limited to
/// `cpu_seconds` of CPU: twelve times as long plus a minute.
[[nodiscard]] constexpr unsigned wall_seconds_for(unsigned cpu_seconds) noexcept {
    return cpu_seconds > (~0U - 60U) / 12U ? ~0U : cpu_seconds * 12U + 60U;
}

struct ChildRead {
    enum class Outcome { ok, timed_out, crashed, failed, stuck };
    Outcome outcome = Outcome::ok;
    int signal = 0;       ///< crashed: the signal that ended the child
    std::string message;  ///< failed: what `read` threw (its what()), or why the child could not run
};

/// Runs `read` in a forked child that resets the crash signals to their
/// defaults (so the caller's crash handlers — a sanitizer's, libFuzzer's,
/// Python's faulthandler — do not report the child's crash as their own),
/// sends its stdout and stderr to /dev/null and is stopped (timed_out) once
/// it has used `cpu_seconds` of CPU time (RLIMIT_CPU, so a loaded machine
/// does not refuse a good file), or, as a backstop for a child that waits
/// instead of computing, after wall_seconds_for(cpu_seconds) of wall time.
/// A child that sleeps without using any CPU for `stuck_seconds` is stuck,
/// not slow: forked from a process whose other threads held a lock at that
/// moment (the allocator of an AddressSanitizer build without fork handlers
/// is one), it can wait for that lock forever. It is killed and the read
/// tried once more in a fresh child; stuck twice gives Outcome::stuck.
/// Precondition: the caller holds a LibraryCall (hdf5.hpp), so HDF5's state
/// is consistent in the child. Never throws.
[[nodiscard]] ChildRead read_in_child(unsigned cpu_seconds, const std::function<void()>& read,
                                      unsigned stuck_seconds = 15) noexcept;

}  // namespace twinsim::io::detail
