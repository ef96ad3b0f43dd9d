// The store's kill -9 test, shared by [store_crash] and `twinsim-bench crash`
// (crash_harness.hpp).
#include "crash_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "../cpp/graph/graph_fixtures.hpp"
#include "twinsim/live/store.hpp"

extern char** environ;

namespace twinsim::crash {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json replace_value(double v) { return json::array({{{"op", "replace"}, {"path", "/value"}, {"value", v}}}); }

double value_of(const graph::Snapshot& s, const std::string& id) { return s.get_property(id, "value")->get<double>(); }

}  // namespace

int child_loop(const std::string& dir, const std::string& mode) {
    live::StoreOptions o;
    o.durability = mode == "group" ? live::Durability::group : live::Durability::per_batch;
    o.checkpoint_every = 7;  // checkpoints often, so kills land inside them too
    auto store = live::open_store(dir, o);
    graph::TwinGraph& g = store->graph();
    std::printf("ready\n");
    std::fflush(stdout);
    std::vector<std::thread> others;
    if (o.durability == live::Durability::group) {
        for (int j = 0; j < 2; ++j)
            others.emplace_back([&g, j] {
                const std::string id = "x" + std::to_string(j);
                double v = g.snapshot().get_property(id, "value")->get<double>();
                const graph::TwinIndex index = *g.find(id);
                const std::uint32_t column =
                    g.snapshot().models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
                for (;;) {
                    v += 1;
                    // Every other write is numeric, journaled as columns (payload format version 3).
                    if (static_cast<long long>(v) % 2 == 0)
                        g.write_properties(std::vector<graph::PropertyWrite>{{index, column, v, std::nullopt}});
                    else
                        g.update_twin(id, replace_value(v));
                    std::printf("ackx %d %.0f\n", j, v);
                    std::fflush(stdout);
                }
            });
    }
    long long k = static_cast<long long>(g.snapshot().get_property("s0", "value")->get<double>());
    for (;;) {
        ++k;
        g.atomically([&](graph::TwinGraph& a) {
            for (const char* id : {"s0", "s1", "s2", "s3", "s4"}) a.update_twin(id, replace_value(static_cast<double>(k)));
            a.upsert_twin("b-" + std::to_string(k), test::sensor(static_cast<double>(k)));
        });
        std::printf("ack %lld\n", k);
        std::fflush(stdout);
    }
}

void prepare_store(const fs::path& dir) {
    auto store = live::open_store(dir);
    graph::TwinGraph& g = store->graph();
    g.add_models(test::building_models());
    g.atomically([](graph::TwinGraph& a) {
        for (int i = 0; i < 5; ++i) a.upsert_twin(test::numbered("s", i), test::sensor(0));
        for (int j = 0; j < 2; ++j) a.upsert_twin(test::numbered("x", j), test::sensor(0));
    });
}

ChildResult run_child(const std::vector<std::string>& args, std::optional<std::chrono::milliseconds> kill_after,
                      std::chrono::milliseconds limit) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("cannot make a pipe: ") + std::strerror(errno));
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
    if (rc != 0) {
        ::close(pipe_fds[0]);
        throw std::runtime_error("cannot start " + args.front() + ": " + std::strerror(rc));
    }
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

std::string check_after_kill(const fs::path& dir, const ChildResult& child, KillState& state) {
    // The child died of the kill, not of an error of its own.
    if (!WIFSIGNALED(child.status)) return "the child exited by itself (status " + std::to_string(child.status) + "): " + child.output.substr(0, 2000);
    if (const auto at = child.output.find("FAILED"); at != std::string::npos) return "the child failed: " + child.output.substr(at, 2000);
    long long acked = state.committed;
    std::map<int, double> acked_x;
    std::istringstream lines(child.output);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("ack ", 0) == 0) {
            acked = std::stoll(line.substr(4));
            ++state.total_acks;
        } else if (line.rfind("ackx ", 0) == 0) {
            int j = 0;
            double v = 0;
            std::istringstream(line.substr(5)) >> j >> v;
            acked_x[j] = v;
        }
    }
    auto store = live::open_store(dir);
    if (store->recovery().checkpoint_batch > 0) ++state.checkpoints_seen;
    state.batches_replayed += store->recovery().batches_replayed;
    if (!store->recovery().damaged_checkpoints.empty())
        return "a checkpoint was damaged: " + store->recovery().damaged_checkpoints.front();
    graph::TwinGraph& g = store->graph();
    const graph::Snapshot s = g.snapshot();
    // All or nothing: the five counters agree, and b-1..b-V exist, b-(V+1) does not.
    const double v = value_of(s, "s0");
    for (int i = 1; i < 5; ++i)
        if (value_of(s, test::numbered("s", i)) != v) return "half a batch: s0 and s" + std::to_string(i) + " differ";
    const auto last = static_cast<long long>(v);
    if (last < acked) return "batch " + std::to_string(acked) + " was acknowledged but the store holds " + std::to_string(last);
    if (last > acked + 1) return "the store holds batch " + std::to_string(last) + ", more than one past the last acknowledged " + std::to_string(acked);
    for (long long k = std::max(1LL, last - 20); k <= last; ++k)
        if (!s.contains(test::numbered("b-", k))) return "twin b-" + std::to_string(k) + " of a committed batch is missing";
    if (s.contains(test::numbered("b-", last + 1))) return "twin b-" + std::to_string(last + 1) + " exists without its batch";
    if (s.twin_count() != static_cast<std::size_t>(7 + last))
        return std::to_string(s.twin_count()) + " twins, expected " + std::to_string(7 + last);
    for (const auto& [j, xv] : acked_x)
        if (value_of(s, test::numbered("x", j)) < xv) return "an acknowledged update of x" + std::to_string(j) + " is lost";
    // Etags are unique; numbers continue without a gap.
    std::set<std::string> etags;
    for (const graph::TwinIndex t : s.twins())
        if (!etags.insert(s.get_twin(t)["$etag"].get<std::string>()).second) return "two twins share an etag";
    std::uint64_t next = 0;
    g.subscribe([&](const graph::ChangeEvent& e) { next = e.sequence; });
    // The store keeps working: the parent writes the next batch itself.
    g.atomically([&](graph::TwinGraph& a) {
        for (int i = 0; i < 5; ++i) a.update_twin(test::numbered("s", i), replace_value(static_cast<double>(last + 1)));
        a.upsert_twin(test::numbered("b-", last + 1), test::sensor(static_cast<double>(last + 1)));
    });
    if (next != s.event_sequence() + 6)
        return "after reopening, change numbers do not continue without a gap (" + std::to_string(next) + " after " +
               std::to_string(s.event_sequence()) + ")";
    state.committed = last + 1;
    if (etags.count(g.get_twin("s0")["$etag"].get<std::string>()) != 0) return "a new write reused an etag";
    return {};
}

}  // namespace twinsim::crash
