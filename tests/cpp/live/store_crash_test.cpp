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
#include "../../tools/crash_harness.hpp"
#include "twinsim/live/store.hpp"

extern char** environ;

using namespace twinsim;
using namespace twinsim::live;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using crash::ChildResult;
using crash::run_child;

const char* child_path() { return TWINSIM_STORE_CHILD; }

}  // namespace

TEST_CASE("store crash: SIGKILL at random moments loses no acknowledged write and never half a batch",
          "[store_crash]") {
    // The checks live in tests/tools/crash_harness.cpp, shared with `twinsim-bench crash --kills N`.
    test::TempDir dir("store-crash");
    crash::prepare_store(dir.path);
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay(30, 450);
    crash::KillState state;
    const int rounds = 50;
    for (int round = 0; round < rounds; ++round) {
        const std::string mode = round % 2 == 0 ? "per_batch" : "group";
        const int ms = delay(rng);
        const ChildResult child = run_child({child_path(), "crash", dir.path.string(), mode}, std::chrono::milliseconds(ms));
        INFO("round " << round << " (" << mode << ", killed after " << ms << " ms)");
        const std::string failure = crash::check_after_kill(dir.path, child, state);
        INFO(failure);
        REQUIRE(failure.empty());
    }
    CHECK(state.total_acks > 0);
    CHECK(state.checkpoints_seen > 0);
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
