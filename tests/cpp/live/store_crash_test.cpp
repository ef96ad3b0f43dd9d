// The store under SIGKILL and on a full disk, with a real child process
// (tests/tools/store_child.cpp): every acknowledged write survives, a batch
// is all or nothing, numbers and etags stay consistent, the store keeps
// working; a full disk gives a clear error and loses nothing acknowledged.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../graph/graph_fixtures.hpp"
#include "store_support.hpp"
#include "twinsim/live/store.hpp"

extern char** environ;

using namespace twinsim;
using namespace twinsim::live;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct ChildResult {
    std::string output;
    int status = 0;  // waitpid status
};

// Runs the child with `args`; when kill_after is set, SIGKILLs it then.
ChildResult run_child(const std::vector<std::string>& args, std::optional<std::chrono::milliseconds> kill_after,
                      std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    std::vector<std::string> argv_s = args;
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    REQUIRE(rc == 0);
    ChildResult result;
    const auto start = std::chrono::steady_clock::now();
    bool killed = false;
    char buf[4096];
    for (;;) {
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        if (!killed && ((kill_after && elapsed >= *kill_after) || elapsed >= limit)) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
        pollfd p{pipe_fds[0], POLLIN, 0};
        ::poll(&p, 1, 5);
        if ((p.revents & (POLLIN | POLLHUP)) != 0) {
            const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
            if (n > 0) {
                result.output.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) break;  // every writer end closed: the child is gone
        }
    }
    ::close(pipe_fds[0]);
    ::waitpid(pid, &result.status, 0);
    return result;
}

const char* child_path() { return TWINSIM_STORE_CHILD; }

json replace_value(double v) { return json::array({{{"op", "replace"}, {"path", "/value"}, {"value", v}}}); }

double value_of(const graph::Snapshot& s, const std::string& id) { return s.get_property(id, "value")->get<double>(); }

}  // namespace

TEST_CASE("store crash: SIGKILL at random moments loses no acknowledged write and never half a batch",
          "[store_crash]") {
    test::TempDir dir("store-crash");
    {
        auto store = open_store(dir.path);
        graph::TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        g.atomically([](graph::TwinGraph& a) {
            for (int i = 0; i < 5; ++i) a.upsert_twin(test::numbered("s", i), test::sensor(0));
            for (int j = 0; j < 2; ++j) a.upsert_twin(test::numbered("x", j), test::sensor(0));
        });
    }
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay(30, 450);
    long long total_acks = 0;
    long long committed = 0;  // the value the parent itself wrote last (durable before the child started)
    int checkpoints_seen = 0;
    const int rounds = 50;
    for (int round = 0; round < rounds; ++round) {
        const std::string mode = round % 2 == 0 ? "per_batch" : "group";
        const int ms = delay(rng);
        const ChildResult child = run_child({child_path(), "crash", dir.path.string(), mode}, std::chrono::milliseconds(ms));
        INFO("round " << round << " (" << mode << ", killed after " << ms << " ms)");
        // The child died of the kill, not of an error of its own.
        REQUIRE(WIFSIGNALED(child.status));
        REQUIRE(child.output.find("FAILED") == std::string::npos);
        long long acked = committed;
        std::map<int, double> acked_x;
        std::istringstream lines(child.output);
        std::string line;
        while (std::getline(lines, line)) {
            if (line.rfind("ack ", 0) == 0) {
                acked = std::stoll(line.substr(4));
                ++total_acks;
            } else if (line.rfind("ackx ", 0) == 0) {
                int j = 0;
                double v = 0;
                std::istringstream(line.substr(5)) >> j >> v;
                acked_x[j] = v;
            }
        }
        auto store = open_store(dir.path);
        if (store->recovery().checkpoint_batch > 0) ++checkpoints_seen;
        CHECK(store->recovery().damaged_checkpoints.empty());
        graph::TwinGraph& g = store->graph();
        const graph::Snapshot s = g.snapshot();
        // All or nothing: the five counters agree, and b-1..b-V exist, b-(V+1) does not.
        const double v = value_of(s, "s0");
        for (int i = 1; i < 5; ++i) REQUIRE(value_of(s, test::numbered("s", i)) == v);
        const auto last = static_cast<long long>(v);
        REQUIRE(last >= acked);        // every acknowledged batch is there
        REQUIRE(last <= acked + 1);    // at most the one in flight besides
        for (long long k = std::max(1LL, last - 20); k <= last; ++k) REQUIRE(s.contains(test::numbered("b-", k)));
        REQUIRE_FALSE(s.contains(test::numbered("b-", last + 1)));
        REQUIRE(s.twin_count() == static_cast<std::size_t>(7 + last));
        for (const auto& [j, xv] : acked_x) REQUIRE(value_of(s, test::numbered("x", j)) >= xv);
        // Etags are unique; numbers continue without a gap.
        std::set<std::string> etags;
        for (const graph::TwinIndex t : s.twins()) REQUIRE(etags.insert(s.get_twin(t)["$etag"].get<std::string>()).second);
        std::uint64_t next = 0;
        g.subscribe([&](const graph::ChangeEvent& e) { next = e.sequence; });
        // The store keeps working: the parent writes the next batch itself.
        g.atomically([&](graph::TwinGraph& a) {
            for (int i = 0; i < 5; ++i) a.update_twin(test::numbered("s", i), replace_value(static_cast<double>(last + 1)));
            a.upsert_twin(test::numbered("b-", last + 1), test::sensor(static_cast<double>(last + 1)));
        });
        CHECK(next == s.event_sequence() + 6);
        committed = last + 1;
        CHECK(etags.count(g.get_twin("s0")["$etag"].get<std::string>()) == 0);
    }
    CHECK(total_acks > 0);
    CHECK(checkpoints_seen > 0);
}

TEST_CASE("store crash: a second process is refused while the store is open", "[store_crash]") {
    test::TempDir dir("store-second-process");
    auto store = open_store(dir.path);
    const ChildResult child = run_child({child_path(), "try-open", dir.path.string()}, std::nullopt);
    REQUIRE(WIFEXITED(child.status));
    CHECK(WEXITSTATUS(child.status) == 3);
    CHECK_THAT(child.output, Catch::Contains(fs::absolute(dir.path).string()) &&
                                 Catch::Contains("already open in process " + std::to_string(::getpid())));
    store->close();
    const ChildResult after = run_child({child_path(), "try-open", dir.path.string()}, std::nullopt);
    CHECK(WEXITSTATUS(after.status) == 0);
}

TEST_CASE("store crash: a full disk gives a clear error and loses nothing acknowledged", "[store_crash]") {
    test::TempDir dir("store-full");
    const fs::path mount_point = dir.path / "tmpfs";
    fs::create_directories(mount_point);
    const std::string store_dir = (mount_point / "store").string();
    ChildResult child;
    if (::geteuid() == 0) {
        const std::string mount = "mount -t tmpfs -o size=2m twinsim-test " + mount_point.string();
        const int rc = std::system(mount.c_str());
        if (rc != 0) FAIL("cannot mount a 2 MB tmpfs as root (" << mount << " returned " << rc << ")");
        child = run_child({child_path(), "fulldisk", store_dir}, std::nullopt);
        const std::string umount = "umount " + mount_point.string();
        CHECK(std::system(umount.c_str()) == 0);
    } else {
        // Not root: a private mount namespace as a mapped root.
        const std::string script = "mount -t tmpfs -o size=2m twinsim-test '" + mount_point.string() + "' && exec '" +
                                   child_path() + "' fulldisk '" + store_dir + "'";
        child = run_child({"/usr/bin/unshare", "-rm", "/bin/sh", "-c", script}, std::nullopt);
        if (child.output.find("error:") == std::string::npos && child.output.find("FAILED") == std::string::npos)
            FAIL("neither root nor `unshare -rm` can mount a small tmpfs for the full-disk test: " << child.output);
    }
    INFO(child.output);
    REQUIRE(WIFEXITED(child.status));
    CHECK(WEXITSTATUS(child.status) == 0);
    CHECK_THAT(child.output, Catch::Contains("disk is full") && Catch::Contains("ok "));
}
