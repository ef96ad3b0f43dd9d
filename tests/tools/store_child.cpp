// The child process of the store's crash and full-disk tests
// (tests/cpp/live/store_crash_test.cpp).
//
//   twinsim_store_child crash DIR per_batch|group
//       crash::child_loop (crash_harness.hpp): writes batches forever,
//       printing what was acknowledged. The parent SIGKILLs it.
//   twinsim_store_child try-open DIR
//       Tries to open the store; prints the error and exits 3 when it is
//       locked, 0 when it opened.
//   twinsim_store_child fulldisk DIR
//       DIR is a small tmpfs: writes until the disk is full, checks the
//       error, reopens and checks every acknowledged write. Exit 0 = passed;
//       otherwise a line saying what failed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../cpp/graph/graph_fixtures.hpp"
#include "crash_harness.hpp"
#include "twinsim/live/store.hpp"

using namespace twinsim;
using namespace twinsim::live;
using nlohmann::json;

namespace {

int try_open(const std::string& dir) {
    try {
        auto store = open_store(dir);
        std::printf("opened\n");
        return 0;
    } catch (const StoreLockedError& e) {
        std::printf("%s\n", e.what());
        return 3;
    }
}

int fulldisk(const std::string& dir) {
    auto fail = [](const std::string& why) {
        std::printf("FAILED: %s\n", why.c_str());
        return 1;
    };
    long acknowledged = 0;
    const std::string filler(3000, 'z');
    {
        auto store = open_store(dir);
        graph::TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        std::string error;
        for (long i = 0; i < 100000; ++i) {
            json room = test::room(20.0);
            room["name"] = filler + std::to_string(i);
            try {
                g.upsert_twin("t-" + std::to_string(i), room);
            } catch (const StoreWriteError& e) {
                error = e.what();
                break;
            }
            acknowledged = i + 1;
        }
        if (error.empty()) return fail("the disk never filled up");
        std::printf("error: %s\n", error.c_str());
        if (error.find("disk is full") == std::string::npos) return fail("the error does not say the disk is full");
        if (error.find(dir) == std::string::npos) return fail("the error does not name the store");
        if (error.find("not applied") == std::string::npos) return fail("the error does not say the write was not applied");
        // The failed write was rolled back.
        if (g.twin_count() != static_cast<std::size_t>(acknowledged))
            return fail("the graph holds " + std::to_string(g.twin_count()) + " twins, " + std::to_string(acknowledged) +
                        " were acknowledged");
        // A checkpoint on a full disk fails clearly and leaves nothing behind.
        try {
            (void)store->checkpoint();
            std::printf("checkpoint: written\n");
        } catch (const StoreWriteError& e) {
            std::printf("checkpoint: %s\n", e.what());
            if (std::string(e.what()).find("disk is full") == std::string::npos)
                return fail("the checkpoint error does not say the disk is full");
        }
    }
    // Reopen on the still-full disk: everything acknowledged is there.
    auto store = open_store(dir);
    if (store->graph().twin_count() != static_cast<std::size_t>(acknowledged))
        return fail("after reopening: " + std::to_string(store->graph().twin_count()) + " twins, " +
                    std::to_string(acknowledged) + " acknowledged");
    for (long i = 0; i < acknowledged; ++i) {
        const json t = store->graph().get_twin("t-" + std::to_string(i));
        if (t["name"] != filler + std::to_string(i)) return fail("twin t-" + std::to_string(i) + " differs");
    }
    std::printf("ok %ld\n", acknowledged);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: twinsim_store_child crash|try-open|fulldisk DIR [per_batch|group]\n");
        return 2;
    }
    const std::string what = argv[1];
    try {
        if (what == "crash") return crash::child_loop(argv[2], argc > 3 ? argv[3] : "per_batch");
        if (what == "try-open") return try_open(argv[2]);
        if (what == "fulldisk") return fulldisk(argv[2]);
    } catch (const std::exception& e) {
        std::printf("FAILED: %s\n", e.what());
        std::fflush(stdout);
        return 1;
    }
    return 2;
}
