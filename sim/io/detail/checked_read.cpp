#include "twinsim/io/detail/checked_read.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <csignal>
#include <cstdlib>
#include <exception>

#include "twinsim/io/detail/hdf5.hpp"

namespace twinsim::io::detail {

namespace {

/// The child's state letter and CPU time in clock ticks from /proc/PID/stat,
/// or nullopt when it cannot be read.
std::optional<std::pair<char, unsigned long long>> process_state(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    char buffer[1024];
    const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    buffer[n] = '\0';
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    const char* p = std::strrchr(buffer, ')');
    if (p == nullptr || p[1] == '\0') return std::nullopt;
    p += 2;
    const char state = *p;
    // Fields after the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime.
    unsigned long long fields[12] = {};
    int got = 0;
    for (const char* q = p + 1; got < 12 && *q != '\0';) {
        while (*q == ' ') ++q;
        char* end = nullptr;
        fields[got] = std::strtoull(q, &end, 10);
        if (end == q) break;
        ++got;
        q = end;
    }
    if (got < 12) return std::nullopt;
    return std::pair{state, fields[10] + fields[11]};
}

enum class Attempt { done, stuck };

ChildRead read_once(unsigned cpu_seconds, unsigned stuck_seconds, const std::function<void()>& read,
                    Attempt& attempt) noexcept {
    attempt = Attempt::done;
    ChildRead out;
    int pipe_ends[2] = {-1, -1};
    if (::pipe2(pipe_ends, O_CLOEXEC) != 0) {
        out.outcome = ChildRead::Outcome::failed;
        out.message = "cannot check it: no pipe";
        return out;
    }
    const pid_t child = ::fork();
    if (child < 0) {
        ::close(pipe_ends[0]);
        ::close(pipe_ends[1]);
        out.outcome = ChildRead::Outcome::failed;
        out.message = "cannot check it: fork failed";
        return out;
    }
    if (child == 0) {
        reset_library_mutex_after_fork();
        ::close(pipe_ends[0]);
        for (const int sig : {SIGALRM, SIGXCPU, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) std::signal(sig, SIG_DFL);
        sigset_t child_signals;
        sigemptyset(&child_signals);
        for (const int sig : {SIGALRM, SIGXCPU, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) sigaddset(&child_signals, sig);
        ::sigprocmask(SIG_UNBLOCK, &child_signals, nullptr);
        // glibc's "free(): invalid pointer" and HDF5's own prints from a
        // damaged file are not the user's business.
        ::setenv("LIBC_FATAL_STDERR_", "1", 1);
        if (const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC); null_fd >= 0) {
            ::dup2(null_fd, STDERR_FILENO);
            ::dup2(null_fd, STDOUT_FILENO);
        }
        // CPU time, not wall time, is what a looping HDF5 uses up: a child
        // on a busy machine may wait for a core long past `cpu_seconds`.
        const rlimit cpu{static_cast<rlim_t>(cpu_seconds), static_cast<rlim_t>(cpu_seconds) + 2};
        ::setrlimit(RLIMIT_CPU, &cpu);
        ::alarm(wall_seconds_for(cpu_seconds));
        std::string message;
        int code = 0;
        try {
            read();
        } catch (const std::exception& e) {
            message = e.what();
            code = 1;
        } catch (...) {
            message = "the check failed";
            code = 1;
        }
        for (std::size_t done = 0; done < message.size();) {
            const ssize_t n = ::write(pipe_ends[1], message.data() + done, message.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::_exit(code);
    }
    ::close(pipe_ends[1]);
    char buffer[4096];
    unsigned long long last_cpu = ~0ULL;
    unsigned idle_seconds = 0;
    for (;;) {
        pollfd ready{pipe_ends[0], POLLIN, 0};
        const int polled = ::poll(&ready, 1, 1000);
        if (polled < 0 && errno == EINTR) continue;
        if (polled == 0) {
            // A second without output: is the child working, or waiting forever?
            const auto state = process_state(child);
            const bool sleeping_idle = state && state->first == 'S' && state->second == last_cpu;
            if (state) last_cpu = state->second;
            idle_seconds = sleeping_idle ? idle_seconds + 1 : 0;
            if (idle_seconds >= stuck_seconds) {
                ::kill(child, SIGKILL);
                attempt = Attempt::stuck;
            }
            continue;
        }
        const ssize_t n = ::read(pipe_ends[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (out.message.size() < 65536) out.message.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(pipe_ends[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        out.signal = WTERMSIG(status);
        // SIGKILL too: the kernel sends it at the hard CPU limit.
        const bool out_of_time = out.signal == SIGALRM || out.signal == SIGXCPU || out.signal == SIGKILL;
        if (attempt == Attempt::stuck) {
            out.outcome = ChildRead::Outcome::stuck;
            return out;
        }
        out.outcome = out_of_time ? ChildRead::Outcome::timed_out : ChildRead::Outcome::crashed;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        out.outcome = ChildRead::Outcome::failed;
    } else {
        out.message.clear();
    }
    return out;
}

}  // namespace

ChildRead read_in_child(unsigned cpu_seconds, const std::function<void()>& read, unsigned stuck_seconds) noexcept {
    Attempt attempt = Attempt::done;
    ChildRead out = read_once(cpu_seconds, stuck_seconds, read, attempt);
    if (attempt == Attempt::stuck) out = read_once(cpu_seconds, stuck_seconds, read, attempt);
    if (out.outcome == ChildRead::Outcome::stuck)
        out.message = "the process that checks it waited " + std::to_string(stuck_seconds) +
                      " s without using any CPU, twice (a lock held in this process when it was forked)";
    return out;
}

}  // namespace twinsim::io::detail
