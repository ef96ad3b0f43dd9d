// TWINSIM_ASSERT: always on (this test runs in Release builds), a failure
// aborts with the condition, file and line on stderr. Checked in a forked
// child so the abort does not take the test program with it.
#include <catch2/catch.hpp>

#include <csignal>
#include <string>
#include <string_view>

#include <sys/wait.h>
#include <unistd.h>

#include "twinsim/common/assert.hpp"

namespace {

struct ChildOutcome {
    int status = 0;
    std::string stderr_text;
};

// Runs `body` in a child process whose stderr is captured through a pipe.
template <class Body>
ChildOutcome run_in_child(Body body) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);  // Catch2's fatal-signal handler would report in the child too
        ::close(fds[0]);
        ::dup2(fds[1], STDERR_FILENO);
        ::close(fds[1]);
        body();
        ::_exit(0);
    }
    ::close(fds[1]);
    ChildOutcome out;
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.stderr_text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    REQUIRE(::waitpid(pid, &out.status, 0) == pid);
    return out;
}

int evaluations = 0;
bool counted(bool value) {
    ++evaluations;
    return value;
}

}  // namespace

TEST_CASE("a failing TWINSIM_ASSERT aborts naming the condition, file and line", "[assert]") {
    const ChildOutcome child = run_in_child([] { TWINSIM_ASSERT(evaluations < -1, "the table holds at most one row"); });
    const int expected_line = __LINE__ - 1;
    REQUIRE(WIFSIGNALED(child.status));
    CHECK(WTERMSIG(child.status) == SIGABRT);
    INFO(child.stderr_text);
    CHECK(child.stderr_text.find("assert_test.cpp:" + std::to_string(expected_line) + ":") != std::string::npos);
    CHECK(child.stderr_text.find("TWINSIM_ASSERT(evaluations < -1) failed: the table holds at most one row") !=
          std::string::npos);
}

TEST_CASE("a failing TWINSIM_ASSERT without a message still names file and line", "[assert]") {
    const ChildOutcome child = run_in_child([] { TWINSIM_ASSERT(evaluations < 0); });
    const int expected_line = __LINE__ - 1;
    REQUIRE(WIFSIGNALED(child.status));
    CHECK(WTERMSIG(child.status) == SIGABRT);
    INFO(child.stderr_text);
    CHECK(child.stderr_text.find("assert_test.cpp:" + std::to_string(expected_line) + ": TWINSIM_ASSERT(evaluations < 0) failed") !=
          std::string::npos);
}

TEST_CASE("a passing TWINSIM_ASSERT does nothing and evaluates its condition once", "[assert]") {
    const ChildOutcome child = run_in_child([] {
        TWINSIM_ASSERT(1 + 1 == 2);
        TWINSIM_ASSERT(true, std::string_view("never printed"));
    });
    REQUIRE(WIFEXITED(child.status));
    CHECK(WEXITSTATUS(child.status) == 0);
    CHECK(child.stderr_text.empty());

    evaluations = 0;
    TWINSIM_ASSERT(counted(true));
    CHECK(evaluations == 1);
}
