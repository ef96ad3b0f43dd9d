// Time travel on the durable store (sim/live/time_travel.hpp, Store::snapshot_at):
// a long random sequence of mutations with a controlled clock, the graph as
// it was kept at several instants, and snapshot_at checked against each —
// with and without checkpoints, after reopening, and with checkpoints thinned
// by the retention policy.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <random>

#include "../graph/graph_fixtures.hpp"
#include "store_support.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/live/time_travel.hpp"

using namespace twinsim;
using namespace twinsim::live;
using graph::TwinGraph;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A clock that advances one second per reading; `jump` adds a gap.
struct SteppedClock {
    std::shared_ptr<std::int64_t> next = std::make_shared<std::int64_t>(1'782'864'000'000'000'000LL);
    Timestamp operator()() const {
        const std::int64_t t = *next;
        *next += 1'000'000'000LL;
        return Timestamp{t};
    }
    void jump(std::int64_t ns) const { *next += ns; }
    // Just before the next reading: after every batch so far, before any later one.
    [[nodiscard]] Timestamp before_next() const { return Timestamp{*next - 1}; }
};

json extra_model(int k) {
    return json::parse(R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Extra)" + std::to_string(k) +
                       R"(;1","@type":"Interface","contents":[{"@type":"Property","name":"x","schema":"double"}]})");
}

// One random mutation; invalid ones (a missing twin, a relationship to a
// deleted target) are refused by the graph and change nothing.
void mutate(TwinGraph& g, std::mt19937& rng, int& extra_models) {
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const std::string room = "room-" + std::to_string(pick(12));
    const std::string floor = "floor-" + std::to_string(pick(4));
    const std::string sensor = "sensor-" + std::to_string(pick(8));
    try {
        switch (pick(14)) {
        case 0: g.upsert_twin(room, test::room(15.0 + pick(100) / 10.0)); break;
        case 1: g.upsert_twin(floor, test::floor_twin(pick(9))); break;
        case 2: g.upsert_twin(sensor, test::sensor(pick(1000) / 7.0)); break;
        case 3:
            g.update_twin(room, json::array({{{"op", "add"}, {"path", "/humidity"}, {"value", pick(100)}},
                                             {{"op", "replace"}, {"path", "/temperature"}, {"value", 20.0 + pick(50) / 4.0}}}));
            break;
        case 4: g.update_twin(room, json::array({{{"op", "remove"}, {"path", "/humidity"}}})); break;
        case 5: g.delete_twin(pick(2) == 0 ? room : sensor, std::nullopt, /*cascade=*/true); break;
        case 6: g.upsert_relationship(floor, "c-" + room, test::rel(room, "contains")); break;
        case 7: g.upsert_relationship(sensor, "obs", test::rel(room, "observes")); break;
        case 8:
            g.update_relationship(floor, "c-" + room,
                                  json::array({{{"op", "add"}, {"path", "/since"},
                                                {"value", "2026-0" + std::to_string(1 + pick(9)) + "-1" + std::to_string(pick(10))}}}));
            break;
        case 9: g.delete_relationship(floor, "c-" + room); break;
        case 10:
            g.atomically([&](TwinGraph& a) {
                a.upsert_twin(room, test::room(18.5));
                a.upsert_twin(sensor, test::sensor(1.5));
                a.upsert_relationship(sensor, "obs", test::rel(room, "observes"));
            });
            break;
        case 11: {
            const auto t = g.find(sensor);
            if (!t) break;
            const std::uint32_t column = g.snapshot().models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
            g.write_properties(std::vector<graph::PropertyWrite>{{*t, column, pick(500) * 0.25, Timestamp{1'780'000'000'000'000'000LL}}});
            break;
        }
        case 12: {
            const json doc = extra_model(extra_models);
            g.add_models(std::vector<dtdl::Document>{{"extra.json", doc.dump()}});
            g.upsert_twin("extra-" + std::to_string(extra_models),
                          {{"$metadata", {{"$model", doc["@id"]}}}, {"x", extra_models * 1.5}});
            ++extra_models;
            break;
        }
        case 13:
            if (extra_models > 0) g.decommission_model("dtmi:test:Extra" + std::to_string(pick(extra_models)) + ";1");
            break;
        }
    } catch (const Error&) {
        // refused: nothing changed
    }
}

struct Kept {
    Timestamp at;
    json graph;
};

void check_all(Store& store, const std::vector<Kept>& kept) {
    for (std::size_t i = 0; i < kept.size(); ++i) {
        INFO("instant " << i << ": " << format_timestamp(kept[i].at));
        CHECK(test::observable(store.snapshot_at(kept[i].at)) == kept[i].graph);
    }
}

StoreOptions travel_options(const SteppedClock& clock, std::size_t keep) {
    StoreOptions o;
    o.checkpoint_every = 0;
    o.keep_checkpoints = keep;
    o.clock = clock;
    return o;
}

}  // namespace

TEST_CASE("time travel: snapshot_at gives the graph as it was at each kept instant", "[time_travel]") {
    const bool with_checkpoints = GENERATE(false, true);
    INFO((with_checkpoints ? "with checkpoints" : "journal only"));
    test::TempDir dir("time-travel");
    SteppedClock clock;
    std::mt19937 rng(with_checkpoints ? 1234 : 99);
    std::vector<Kept> kept;
    const Timestamp before_anything = clock.before_next();
    json current;
    {
        auto store = open_store(dir.path, travel_options(clock, 4));
        TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        int extra = 0;
        for (int step = 1; step <= 900; ++step) {
            mutate(g, rng, extra);
            if (step % 5 == 0) clock.jump(static_cast<std::int64_t>(rng() % 3600) * 1'000'000'000LL);
            if (step % 60 == 0) kept.push_back({clock.before_next(), test::observable(g.snapshot())});
            if (with_checkpoints && step % 70 == 0) (void)store->checkpoint();
        }
        current = test::observable(g.snapshot());
        REQUIRE(g.twin_count() > 5);
        REQUIRE(extra > 2);

        check_all(*store, kept);
        // Before the first batch: the empty graph; far in the future: the graph now.
        const graph::Snapshot empty = store->snapshot_at(before_anything);
        CHECK(empty.twin_count() == 0);
        CHECK(empty.list_models().empty());
        CHECK(test::observable(store->snapshot_at(Timestamp{clock.before_next().ns + 86'400'000'000'000LL})) == current);
        if (with_checkpoints) {
            // The retention policy thinned the 12 checkpoints to at most 4.
            std::size_t files = 0;
            for (const auto& e : fs::directory_iterator(dir.path / "checkpoints")) files += e.path().extension() == ".ckpt";
            CHECK(files <= 4);
            CHECK(files >= 3);
        }
    }
    // Reopened (from a checkpoint, or the whole journal): the same answers.
    auto store = open_store(dir.path, travel_options(clock, 4));
    check_all(*store, kept);
    CHECK(test::observable(store->graph().snapshot()) == current);
    // It keeps going: a write after reopening shows at its time, not before.
    const Timestamp before_write = clock.before_next();
    store->graph().upsert_twin("late-room", test::room(30.0));
    CHECK(!store->snapshot_at(before_write).contains("late-room"));
    CHECK(store->snapshot_at(clock.before_next()).contains("late-room"));
    // A closed store still answers (the journal is read-only for it).
    store->close();
    check_all(*store, kept);
}

TEST_CASE("time travel: a batch belongs to the instant of its commit, exactly", "[time_travel]") {
    test::TempDir dir("time-travel-edge");
    SteppedClock clock;
    auto store = open_store(dir.path, travel_options(clock, 16));
    TwinGraph& g = store->graph();
    const Timestamp models_at = clock.before_next();
    g.add_models(test::building_models());
    g.upsert_twin("room", test::room(20.0));
    const Timestamp first = *parse_timestamp(g.get_twin("room")["$metadata"]["$lastUpdateTime"].get<std::string>());
    const json v1 = g.get_twin("room");
    g.update_twin("room", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 21.0}}}));
    const Timestamp second = *parse_timestamp(g.get_twin("room")["$metadata"]["$lastUpdateTime"].get<std::string>());
    // The models' batch is stamped with the graph's clock, not the wall clock.
    CHECK(store->snapshot_at(models_at).list_models().empty());
    CHECK(store->snapshot_at(Timestamp{models_at.ns + 1}).list_models().size() == 6);
    CHECK(!store->snapshot_at(Timestamp{first.ns - 1}).contains("room"));
    CHECK(store->snapshot_at(first).get_twin("room") == v1);               // at its commit time: there
    CHECK(store->snapshot_at(Timestamp{second.ns - 1}).get_twin("room") == v1);
    CHECK(store->snapshot_at(second).get_twin("room")["temperature"] == 21.0);
}

TEST_CASE("time travel: the retention policy keeps a bounded, spread-out set of checkpoints", "[time_travel]") {
    // Fewer than the limit: nothing goes.
    CHECK(checkpoints_to_remove({10, 20, 30}, 4).empty());
    // 2: only the newest and its fallback stay (the store's old behaviour).
    CHECK(checkpoints_to_remove({10, 20, 30, 40}, 2) == std::vector<std::uint64_t>{10, 20});
    // Taking a checkpoint every 100 batches for a long time, keeping 8.
    std::vector<std::uint64_t> on_disk;
    for (std::uint64_t b = 100; b <= 100'000; b += 100) {
        on_disk.push_back(b);
        for (const std::uint64_t r : checkpoints_to_remove(on_disk, 8)) on_disk.erase(std::find(on_disk.begin(), on_disk.end(), r));
        REQUIRE(on_disk.size() <= 8);
        REQUIRE(on_disk.front() == 100);      // the oldest anchors early history
        REQUIRE(on_disk.back() == b);         // the newest two are never removed
        if (b >= 200) REQUIRE(on_disk[on_disk.size() - 2] == b - 100);
    }
    // The largest gap (what snapshot_at may replay) stays within the documented bound.
    std::uint64_t widest = 0;
    for (std::size_t i = 1; i < on_disk.size(); ++i) widest = std::max(widest, on_disk[i] - on_disk[i - 1]);
    CHECK(widest <= 4 * 100'000 / (8 - 2) + 100);
}

TEST_CASE("time travel: a journal with a batch missing gives StoreCorruptError naming it", "[time_travel]") {
    test::TempDir dir("time-travel-damaged");
    SteppedClock clock;
    Timestamp middle;
    {
        auto store = open_store(dir.path, travel_options(clock, 16));
        TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        for (int i = 0; i < 10; ++i) {
            g.upsert_twin("room-" + std::to_string(i), test::room(20.0 + i));
            if (i == 5) middle = clock.before_next();
        }
        (void)store->checkpoint();  // opening needs none of the journal before it
    }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path / "journal.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DELETE FROM batches WHERE id = 4", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto store = open_store(dir.path, travel_options(clock, 16));
    CHECK(store->graph().twin_count() == 10);
    try {
        (void)store->snapshot_at(middle);
        FAIL("snapshot_at replayed over a missing batch");
    } catch (const StoreCorruptError& e) {
        const std::string what = e.what();
        CHECK(what.find("time travel to") != std::string::npos);
        CHECK(what.find("batch 4") != std::string::npos);
        CHECK(what.find("journal.db") != std::string::npos);
    }
}

TEST_CASE("time travel: snapshot_at runs while writers keep writing, and sees only the past", "[time_travel]") {
    test::TempDir dir("time-travel-concurrent");
    SteppedClock clock;
    StoreOptions o = travel_options(clock, 8);
    o.durability = Durability::group;
    auto store = open_store(dir.path, o);
    TwinGraph& g = store->graph();
    g.add_models(test::building_models());
    std::mutex kept_mutex;
    std::vector<Kept> kept;
    std::atomic<bool> done{false};
    std::thread writer([&] {
        std::mt19937 rng(7);
        int extra = 0;
        for (int step = 1; step <= 400; ++step) {
            mutate(g, rng, extra);
            if (step % 25 == 0) {
                const Kept k{clock.before_next(), test::observable(g.snapshot())};
                std::lock_guard lock(kept_mutex);
                kept.push_back(k);
            }
            if (step % 90 == 0) (void)store->checkpoint();
        }
        done = true;
    });
    std::size_t checked = 0;
    while (!done || checked == 0) {
        std::vector<Kept> now;
        {
            std::lock_guard lock(kept_mutex);
            now = kept;
        }
        if (now.empty()) {
            std::this_thread::yield();
            continue;
        }
        const Kept& k = now[checked % now.size()];
        CHECK(test::observable(store->snapshot_at(k.at)) == k.graph);
        ++checked;
    }
    writer.join();
    CHECK(checked > 0);
    check_all(*store, kept);
}
