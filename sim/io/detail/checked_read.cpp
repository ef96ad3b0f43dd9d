#include "twinsim/io/detail/checked_read.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <exception>

#include "twinsim/io/detail/hdf5.hpp"

namespace twinsim::io::detail {

ChildRead read_in_child(unsigned cpu_seconds, const std::function<void()>& read) noexcept {
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
    for (;;) {
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
        out.outcome = out_of_time ? ChildRead::Outcome::timed_out : ChildRead::Outcome::crashed;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        out.outcome = ChildRead::Outcome::failed;
    } else {
        out.message.clear();
    }
    return out;
}

}  // namespace twinsim::io::detail
