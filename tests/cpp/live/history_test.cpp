// The store's history (sim/live/history.hpp): rows in ADT's data-history
// shape, filters, read-your-writes, catching up from the journal, retention,
// telemetry, errors.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <thread>

#include "../graph/graph_fixtures.hpp"
#include "store_support.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/history_file.hpp"
#include "twinsim/live/store.hpp"

using namespace twinsim;
using namespace twinsim::live;
using graph::TwinGraph;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

StoreOptions history_options(Durability d = Durability::per_batch) {
    StoreOptions o;
    o.durability = d;
    o.checkpoint_every = 0;
    o.clock = test::TestClock{};
    return o;
}

constexpr std::int64_t second = 1'000'000'000LL;
const Timestamp t0{1'782'864'000'000'000'000LL};  // TestClock's first reading

std::vector<const PropertyUpdateRow*> rows_of(const HistoryResult& r, const std::string& twin, const std::string& key) {
    std::vector<const PropertyUpdateRow*> out;
    for (const PropertyUpdateRow& p : r.property_updates)
        if (p.id == twin && p.key == key) out.push_back(&p);
    return out;
}

void sql(const fs::path& db_file, const char* statement) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_file.c_str(), &db) == SQLITE_OK);
    const int rc = sqlite3_exec(db, statement, nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

// A room with a component, a floor containing it, updates of both, deletes.
void write_story(TwinGraph& g) {
    g.add_models(test::building_models());
    json room = test::room(21.0);
    room["thermostat"] = {{"setpoint", 20.5}, {"$metadata", json::object()}};
    g.upsert_twin("room-1", room);
    g.upsert_twin("floor-1", test::floor_twin(1));
    g.update_twin("room-1", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 22.5}},
                                         {{"op", "add"}, {"path", "/$metadata/temperature/sourceTime"},
                                          {"value", "2026-06-30T23:59:00Z"}}}));
    g.update_twin("room-1", json::array({{{"op", "replace"}, {"path", "/thermostat/setpoint"}, {"value", 19}},
                                         {{"op", "add"}, {"path", "/name"}, {"value", "Lab"}}}));
    g.update_twin("room-1", json::array({{{"op", "remove"}, {"path", "/name"}}}));
    json contains = test::rel("room-1", "contains");
    contains["since"] = "2026-01-02";
    g.upsert_relationship("floor-1", "c-1", contains);
    g.update_relationship("floor-1", "c-1", json::array({{{"op", "replace"}, {"path", "/since"}, {"value", "2026-02-03"}}}));
    g.delete_relationship("floor-1", "c-1");
    g.delete_twin("floor-1");
}

}  // namespace

TEST_CASE("history: every committed change is recorded in ADT's data-history shape", "[history]") {
    test::TempDir dir("history-shape");
    auto store = open_store(dir.path, history_options());
    write_story(store->graph());
    const HistoryResult h = store->history({});

    SECTION("property updates: creation values, patches, sourceTime, components, deletes") {
        const auto temperature = rows_of(h, "room-1", "temperature");
        REQUIRE(temperature.size() == 2);
        CHECK(temperature[0]->value == json(21.0));
        CHECK(temperature[0]->model_id == "dtmi:test:Room;1");
        CHECK(temperature[0]->action == "Update");
        CHECK_FALSE(temperature[0]->source_time.has_value());
        CHECK(temperature[1]->value == json(22.5));
        REQUIRE(temperature[1]->source_time.has_value());
        CHECK(format_timestamp(*temperature[1]->source_time, TimestampPrecision::seconds) == "2026-06-30T23:59:00Z");
        CHECK(temperature[0]->time < temperature[1]->time);
        CHECK(temperature[0]->sequence < temperature[1]->sequence);
        CHECK(temperature[1]->relationship_id.empty());

        const auto setpoint = rows_of(h, "room-1", "thermostat.setpoint");  // a component property, keyed component.property
        REQUIRE(setpoint.size() == 2);
        CHECK(setpoint[0]->value == json(20.5));
        CHECK(setpoint[1]->value == json(19));
        CHECK_FALSE(setpoint[1]->source_time.has_value());  // written after a row that had one

        const auto name = rows_of(h, "room-1", "name");
        REQUIRE(name.size() == 2);
        CHECK(name[0]->value == json("Lab"));
        CHECK(name[1]->action == "Delete");
        CHECK(name[1]->value.is_null());
    }
    SECTION("relationship property updates carry RelationshipId and RelationshipTarget") {
        const auto since = rows_of(h, "floor-1", "since");
        REQUIRE(since.size() == 2);
        for (const PropertyUpdateRow* r : since) {
            CHECK(r->relationship_id == "c-1");
            CHECK(r->relationship_target == "room-1");
            CHECK(r->model_id == "dtmi:test:Floor;1");
        }
        CHECK(since[0]->value == json("2026-01-02"));
        CHECK(since[1]->value == json("2026-02-03"));
    }
    SECTION("twin lifecycle") {
        std::vector<std::string> seen;
        for (const TwinLifecycleRow& r : h.twin_lifecycle) seen.push_back(r.twin_id + " " + r.action + " " + r.model_id);
        CHECK(seen == std::vector<std::string>{"floor-1 Create dtmi:test:Floor;1", "floor-1 Delete dtmi:test:Floor;1",
                                               "room-1 Create dtmi:test:Room;1"});
    }
    SECTION("relationship lifecycle") {
        REQUIRE(h.relationship_lifecycle.size() == 2);
        const RelationshipLifecycleRow& c = h.relationship_lifecycle[0];
        CHECK(c.relationship_id == "c-1");
        CHECK(c.name == "contains");
        CHECK(c.action == "Create");
        CHECK(c.source == "floor-1");
        CHECK(c.target == "room-1");
        CHECK(h.relationship_lifecycle[1].action == "Delete");
        CHECK(h.relationship_lifecycle[1].target == "room-1");
    }
}

TEST_CASE("history: queries filter by twin, property, time range and kind", "[history]") {
    test::TempDir dir("history-filter");
    auto store = open_store(dir.path, history_options());
    TwinGraph& g = store->graph();
    g.add_models(test::building_models());
    for (int k = 0; k < 3; ++k) g.upsert_twin("room-" + std::to_string(k), test::room(k));
    for (int step = 1; step <= 10; ++step)
        for (int k = 0; k < 3; ++k)
            g.update_twin("room-" + std::to_string(k),
                          json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 100 * k + step}}}));

    HistoryQuery q;
    q.twins = {"room-1"};
    q.properties = {"temperature"};
    const HistoryResult one = store->history(q);
    REQUIRE(one.property_updates.size() == 11);  // the creation value and ten updates
    CHECK(one.property_updates.back().value == json(110));
    CHECK(one.twin_lifecycle.size() == 1);
    CHECK(one.relationship_lifecycle.empty());

    // [start, end): the window holds the updates of steps 3..5 only.
    const Timestamp start = one.property_updates[3].time;
    const Timestamp end = one.property_updates[6].time;
    q.start = start;
    q.end = end;
    q.kinds = history_property_updates;
    const HistoryResult window = store->history(q);
    REQUIRE(window.property_updates.size() == 3);
    CHECK(window.property_updates.front().value == json(103));
    CHECK(window.property_updates.back().value == json(105));
    CHECK(window.twin_lifecycle.empty());

    HistoryQuery unknown;
    unknown.twins = {"no-such-twin"};
    CHECK(store->history(unknown).property_updates.empty());
    HistoryQuery unknown_key;
    unknown_key.properties = {"no-such-property"};
    CHECK(store->history(unknown_key).property_updates.empty());

    HistoryQuery both;
    both.twins = {"room-0", "room-2"};
    both.properties = {"temperature"};
    const HistoryResult two = store->history(both);
    CHECK(two.property_updates.size() == 22);
    CHECK(two.property_updates.front().id == "room-0");
    CHECK(two.property_updates.back().id == "room-2");
}

TEST_CASE("history: a read sees every write committed before it (read-your-writes)", "[history]") {
    for (const Durability d : {Durability::per_batch, Durability::group}) {
        test::TempDir dir("history-ryw");
        auto store = open_store(dir.path, history_options(d));
        TwinGraph& g = store->graph();
        g.add_models(test::building_models());
        g.upsert_twin("s", test::sensor(0));
        HistoryQuery q;
        q.twins = {"s"};
        q.properties = {"value"};
        q.kinds = history_property_updates;
        for (int k = 1; k <= 40; ++k) {
            g.update_twin("s", json::array({{{"op", "replace"}, {"path", "/value"}, {"value", k}}}));
            const HistoryResult r = store->history(q);
            REQUIRE(r.property_updates.size() == static_cast<std::size_t>(k + 1));
            REQUIRE(r.property_updates.back().value == json(k));
        }
    }
}

TEST_CASE("history: the indexer catches up from the journal after a crash or while it was off", "[history]") {
    test::TempDir dir("history-catch-up");
    const fs::path history_db = dir.path / "history.db";
    HistoryResult before;
    {
        auto store = open_store(dir.path, history_options());
        write_story(store->graph());
        before = store->history({});
    }
    SECTION("history.db lost its last transactions (as after a crash): reopening re-indexes them") {
        sql(history_db, "DELETE FROM property_updates WHERE seq > 3; DELETE FROM twin_lifecycle WHERE seq > 3;"
                        " DELETE FROM relationship_lifecycle; UPDATE meta SET value='3' WHERE key='indexed';");
    }
    SECTION("history.db deleted: rebuilt from the whole journal") {
        fs::remove(history_db);
        fs::remove(dir.path / "history.db-wal");
        fs::remove(dir.path / "history.db-shm");
    }
    SECTION("a damaged history.db is set aside and rebuilt from the journal") {
        fs::remove(dir.path / "history.db-wal");
        fs::remove(dir.path / "history.db-shm");
        { std::ofstream(history_db, std::ios::trunc) << "this is not a SQLite database, not even close......................................................"; }
    }
    SECTION("batches written with history off are indexed at the next open") {
        sql(history_db, "DELETE FROM property_updates; DELETE FROM twin_lifecycle; DELETE FROM relationship_lifecycle;"
                        " DELETE FROM twin_state; DELETE FROM relationship_state; UPDATE meta SET value='0' WHERE key='indexed';");
        StoreOptions off = history_options();
        off.history.enabled = false;
        auto store = open_store(dir.path, off);
        CHECK_THROWS_AS(store->history({}), HistoryError);
    }
    auto store = open_store(dir.path, history_options());
    const HistoryResult after = store->history({});
    REQUIRE(after.property_updates.size() == before.property_updates.size());
    for (std::size_t k = 0; k < after.property_updates.size(); ++k) {
        CHECK(after.property_updates[k].key == before.property_updates[k].key);
        CHECK(after.property_updates[k].value == before.property_updates[k].value);
        CHECK(after.property_updates[k].time == before.property_updates[k].time);
        CHECK(after.property_updates[k].relationship_target == before.property_updates[k].relationship_target);
    }
    CHECK(after.twin_lifecycle.size() == before.twin_lifecycle.size());
    CHECK(after.relationship_lifecycle.size() == before.relationship_lifecycle.size());
}

TEST_CASE("history: retention keeps everything by default and thins old rows to one per interval when asked",
          "[history]") {
    test::TempDir dir("history-retention");
    auto store = open_store(dir.path, history_options());  // TestClock: one second per change
    TwinGraph& g = store->graph();
    g.add_models(test::building_models());
    g.upsert_twin("s", test::sensor(0));
    for (int k = 1; k <= 120; ++k) g.update_twin("s", json::array({{{"op", "replace"}, {"path", "/value"}, {"value", k}}}));
    HistoryQuery q;
    q.twins = {"s"};
    q.properties = {"value"};
    const auto all = store->history(q).property_updates;
    REQUIRE(all.size() == 121);

    CHECK(store->thin_history(RetentionPolicy{}) == 0);  // keep everything
    CHECK(store->history(q).property_updates.size() == 121);

    // Older than 60 s before the newest row: one row (the last) per 30-second interval.
    const Timestamp newest = all.back().time;
    const std::uint64_t removed = store->thin_history(RetentionPolicy{60 * second, 30 * second});
    const auto kept = store->history(q).property_updates;
    CHECK(removed == all.size() - kept.size());
    std::int64_t old_rows = 0;
    for (const PropertyUpdateRow& r : kept) {
        if (r.time.ns < newest.ns - 60 * second) {
            ++old_rows;
        }
    }
    std::int64_t recent = 0;
    for (const PropertyUpdateRow& r : all) recent += r.time.ns >= newest.ns - 60 * second ? 1 : 0;
    CHECK(static_cast<std::int64_t>(kept.size()) - old_rows == recent);  // recent rows untouched
    // The old rows span about 60 s: at most 3 thirty-second intervals (aligned to the epoch).
    CHECK(old_rows >= 2);
    CHECK(old_rows <= 3);
    // Each kept old row is the last of its interval.
    for (const PropertyUpdateRow& r : kept) {
        if (r.time.ns >= newest.ns - 60 * second) continue;
        for (const PropertyUpdateRow& a : all)
            if (a.time.ns / (30 * second) == r.time.ns / (30 * second) && a.time.ns < newest.ns - 60 * second)
                CHECK(a.time <= r.time);
    }
    CHECK(store->history(q).twin_lifecycle.size() == 1);  // lifecycle rows are kept

    CHECK_THROWS_AS(store->thin_history(RetentionPolicy{60 * second, 0}), HistoryError);
    CHECK_THROWS_AS(store->thin_history(RetentionPolicy{-1, second}), HistoryError);
}

TEST_CASE("history: retention applied periodically by the indexer", "[history]") {
    test::TempDir dir("history-retention-periodic");
    StoreOptions o = history_options();
    o.history.retention = RetentionPolicy{10 * second, 3600 * second};
    o.history.retention_every = 5;
    auto store = open_store(dir.path, o);
    TwinGraph& g = store->graph();
    g.add_models(test::building_models());
    g.upsert_twin("s", test::sensor(0));
    for (int k = 1; k <= 100; ++k) g.update_twin("s", json::array({{{"op", "replace"}, {"path", "/value"}, {"value", k}}}));
    HistoryQuery q;
    q.twins = {"s"};
    q.properties = {"value"};
    (void)store->history(q);
    // The indexer thins after it indexes; give it the time to run once more.
    std::size_t n = 0;
    for (int attempt = 0; attempt < 100; ++attempt) {
        n = store->history(q).property_updates.size();
        if (n < 30) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(n < 30);  // 101 rows, of which only the last ~10 s and one per hour before are kept
    CHECK(store->history(q).property_updates.back().value == json(100));
}

TEST_CASE("history: telemetry is recorded only when the store is asked to", "[history]") {
    test::TempDir dir("history-telemetry");
    {
        auto store = open_store(dir.path, history_options());
        CHECK_FALSE(store->record_telemetry("room-1", "", "dtmi:test:Room;1", {{"reading", 1.5}}, t0));
        CHECK(store->history({}).telemetry.empty());
    }
    StoreOptions o = history_options();
    o.history.telemetry = true;
    auto store = open_store(dir.path, o);
    CHECK(store->record_telemetry("room-1", "", "dtmi:test:Room;1", {{"reading", 1.5}}, t0,
                                  Timestamp{t0.ns - 2 * second}));
    CHECK(store->record_telemetry("room-1", "thermostat", "dtmi:test:Thermostat;1", {{"supply", 14}}, Timestamp{t0.ns + second}));
    const HistoryResult h = store->history({});
    REQUIRE(h.telemetry.size() == 2);
    CHECK(h.telemetry[0].key == "reading");
    CHECK(h.telemetry[0].value == json(1.5));
    REQUIRE(h.telemetry[0].source_time.has_value());
    CHECK(h.telemetry[0].source_time->ns == t0.ns - 2 * second);
    CHECK(h.telemetry[1].key == "thermostat.supply");
    CHECK(h.telemetry[1].model_id == "dtmi:test:Thermostat;1");
    CHECK_THROWS_AS(store->record_telemetry("room-1", "", "m", json::array({1}), t0), HistoryError);
}

TEST_CASE("history: bad queries and closed stores give clear errors", "[history]") {
    test::TempDir dir("history-errors");
    auto store = open_store(dir.path, history_options());
    HistoryQuery q;
    q.start = Timestamp{t0.ns + second};
    q.end = t0;
    try {
        (void)store->history(q);
        FAIL("an end before the start was accepted");
    } catch (const HistoryError& e) {
        CHECK_THAT(e.what(), Catch::Contains("end") && Catch::Contains("before its start"));
    }
    store->close();
    try {
        (void)store->history({});
        FAIL("a closed store's history was read");
    } catch (const HistoryError& e) {
        CHECK_THAT(e.what(), Catch::Contains("is closed"));
    }
}

TEST_CASE("history: a route to the history recorder endpoint records telemetry", "[history]") {
    test::TempDir dir("history-endpoint");
    StoreOptions o = history_options();
    o.history.telemetry = true;
    auto store = open_store(dir.path, o);
    TwinGraph& g = store->graph();
    g.add_models(test::building_models());
    g.upsert_twin("room-1", test::room(20));
    {
        EventRouter router(g);
        router.add_endpoint("history", std::make_shared<HistoryEndpoint>(*store));
        router.upsert_route({"telemetry", "history", "type = 'microsoft.iot.telemetry'"});
        router.publish_telemetry("room-1", {{"reading", 3.25}}, "m-1", Timestamp{t0.ns - 5 * second});
        router.publish_telemetry("room-1", {{"reading", 4.5}}, "m-2");
        REQUIRE(router.flush(std::chrono::seconds(10)));
        CHECK(router.stats().dead_lettered == 0);
    }
    HistoryQuery q;
    q.kinds = history_telemetry;
    const HistoryResult h = store->history(q);
    REQUIRE(h.telemetry.size() == 2);
    CHECK(h.telemetry[0].id == "room-1");
    CHECK(h.telemetry[0].key == "reading");
    CHECK(h.telemetry[0].model_id == "dtmi:test:Room;1");
    CHECK(h.telemetry[0].value == json(3.25));
    REQUIRE(h.telemetry[0].source_time.has_value());
    CHECK(h.telemetry[0].source_time->ns == t0.ns - 5 * second);
    CHECK(h.telemetry[1].value == json(4.5));
    CHECK_FALSE(h.telemetry[1].source_time.has_value());
}

TEST_CASE("history: export to an HDF5 history file and read it back", "[history]") {
    test::TempDir dir("history-export");
    StoreOptions o = history_options();
    o.history.telemetry = true;
    auto store = open_store(dir.path / "store", o);
    write_story(store->graph());
    REQUIRE(store->record_telemetry("room-1", "", "dtmi:test:Room;1", {{"reading", 7.5}}, t0));
    const fs::path file = dir.path / "history.h5";
    const HistoryExportCounts counts = export_history(*store, file);
    const HistoryResult h = store->history({});
    CHECK(counts.property_updates == h.property_updates.size());
    CHECK(counts.twin_lifecycle == 3);
    CHECK(counts.relationship_lifecycle == 2);
    CHECK(counts.telemetry == 1);
    CHECK_FALSE(fs::exists(fs::path(file.string() + ".partial")));

    const io::HistoryTables t = io::read_history_file(file);
    REQUIRE(t.property_updates.time_ns.size() == h.property_updates.size());
    for (std::size_t k = 0; k < h.property_updates.size(); ++k) {
        const PropertyUpdateRow& r = h.property_updates[k];
        CHECK(t.property_updates.time_ns[k] == r.time.ns);
        CHECK(t.property_updates.id[k] == r.id);
        CHECK(t.property_updates.key[k] == r.key);
        CHECK(t.property_updates.action[k] == r.action);
        CHECK(t.property_updates.relationship_id[k] == r.relationship_id);
        CHECK(t.property_updates.source_time_ns[k] == (r.source_time ? r.source_time->ns : io::no_time));
        if (r.action == "Update") CHECK(json::parse(t.property_updates.value[k]) == r.value);
        else CHECK(t.property_updates.value[k].empty());
    }
    CHECK(t.source == (dir.path / "store").string());
    CHECK(t.twin_lifecycle.twin_id.size() == 3);
    CHECK(t.relationship_lifecycle.target == std::vector<std::string>{"room-1", "room-1"});
    REQUIRE(t.telemetry.key.size() == 1);
    CHECK(t.telemetry.value[0] == "7.5");

    SECTION("a selection with no rows gives a file of empty tables") {
        HistoryQuery nobody;
        nobody.twins = {"nobody"};
        const fs::path empty = dir.path / "empty.h5";
        const HistoryExportCounts none = export_history(*store, empty, nobody);
        CHECK(none.property_updates + none.twin_lifecycle + none.relationship_lifecycle + none.telemetry == 0);
        const io::HistoryTables e = io::read_history_file(empty);
        CHECK(e.property_updates.time_ns.empty());
        CHECK(e.twin_lifecycle.twin_id.empty());
        CHECK(e.relationship_lifecycle.source.empty());
        CHECK(e.telemetry.key.empty());
    }
    SECTION("a file that is not a history file is refused with a clear error") {
        const fs::path text = dir.path / "not.h5";
        { std::ofstream(text) << "hello"; }
        CHECK_THROWS_AS(io::read_history_file(text), io::ResultsError);
        CHECK_THROWS_AS(io::read_history_file(dir.path / "missing.h5"), io::ResultsError);
    }
}

TEST_CASE("history_series: one property of one twin as columns, the same values as the rows", "[history]") {
    test::TempDir dir("history-series");
    auto store = open_store(dir.path, history_options());
    write_story(store->graph());
    // room-1's temperature: 21.0 at creation, then 22.5 with a source time.
    const HistorySeries s = store->history_series("room-1", "temperature");
    REQUIRE(s.time_ns.size() == 2);
    CHECK(s.value == std::vector<double>{21.0, 22.5});
    CHECK(s.source_time_ns[0] == history_no_time);
    CHECK(s.source_time_ns[1] == parse_timestamp("2026-06-30T23:59:00Z")->ns);
    const HistoryResult all = store->history({});  // rows_of points into it
    const auto rows = rows_of(all, "room-1", "temperature");
    REQUIRE(rows.size() == 2);
    CHECK(s.time_ns[0] == rows[0]->time.ns);
    CHECK(s.time_ns[1] == rows[1]->time.ns);
    CHECK(s.time_ns[0] < s.time_ns[1]);

    // [start, end): the second update alone.
    const HistorySeries later = store->history_series("room-1", "temperature", Timestamp{s.time_ns[1]});
    CHECK(later.value == std::vector<double>{22.5});
    CHECK(store->history_series("room-1", "temperature", std::nullopt, Timestamp{s.time_ns[1]}).value.size() == 1);

    // A string, then its Delete: not numbers, so NaN; a component property by its key.
    const HistorySeries name = store->history_series("room-1", "name");
    REQUIRE(name.value.size() == 2);
    CHECK(std::isnan(name.value[0]));
    CHECK(std::isnan(name.value[1]));
    CHECK(store->history_series("room-1", "thermostat.setpoint").value == std::vector<double>{20.5, 19.0});

    // Unknown names: empty; an end before the start, or a closed store: HistoryError.
    CHECK(store->history_series("nobody", "temperature").time_ns.empty());
    CHECK(store->history_series("room-1", "nothing").time_ns.empty());
    CHECK_THROWS_AS(store->history_series("room-1", "temperature", Timestamp{5}, Timestamp{4}), HistoryError);
    store->close();
    CHECK_THROWS_AS(store->history_series("room-1", "temperature"), HistoryError);
}

TEST_CASE("history: rows of one twin and key in several series come back merged in time order", "[history]") {
    // Each (twin, key, relationship, target, model) is its own series on disk
    // (docs/history.md): two relationships of floor-1 with a `since`, written
    // alternately, are two series read back as one time-ordered sequence.
    test::TempDir dir("history-series-merge");
    auto store = open_store(dir.path, history_options());
    TwinGraph& g = store->graph();
    g.add_models(test::building_models());
    g.upsert_twin("room-1", test::room(21.0));
    g.upsert_twin("room-2", test::room(22.0));
    g.upsert_twin("floor-1", test::floor_twin(1));
    json first = test::rel("room-1", "contains");
    first["since"] = "2026-01-01";
    g.upsert_relationship("floor-1", "c-1", first);
    json second = test::rel("room-2", "contains");
    second["since"] = "2026-01-02";
    g.upsert_relationship("floor-1", "c-2", second);
    g.update_relationship("floor-1", "c-1", json::array({{{"op", "replace"}, {"path", "/since"}, {"value", "2026-01-03"}}}));
    g.update_relationship("floor-1", "c-2", json::array({{{"op", "replace"}, {"path", "/since"}, {"value", "2026-01-04"}}}));
    const HistoryResult h = store->history({});
    const auto since = rows_of(h, "floor-1", "since");
    REQUIRE(since.size() == 4);
    std::vector<std::string> seen;
    for (const PropertyUpdateRow* r : since) seen.push_back(r->relationship_id + " " + r->relationship_target + " " + r->value.get<std::string>());
    CHECK(seen == std::vector<std::string>{"c-1 room-1 2026-01-01", "c-2 room-2 2026-01-02", "c-1 room-1 2026-01-03",
                                           "c-2 room-2 2026-01-04"});
    for (std::size_t i = 1; i < since.size(); ++i) CHECK(since[i - 1]->sequence < since[i]->sequence);
    const HistorySeries s = store->history_series("floor-1", "since");
    REQUIRE(s.time_ns.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) CHECK(s.time_ns[i] == since[i]->time.ns);
}

TEST_CASE("history: a history.db in schema version 1 is converted in place, telemetry included", "[history]") {
    test::TempDir dir("history-schema-1");
    const fs::path history_db = dir.path / "history.db";
    StoreOptions o = history_options();
    o.history.telemetry = true;
    HistoryResult before;
    {
        auto store = open_store(dir.path, o);
        write_story(store->graph());
        REQUIRE(store->record_telemetry("room-1", "", "dtmi:test:Room;1", {{"reading", 1.5}}, t0));
        before = store->history({});
    }
    // Back to version 1's layout (what an earlier build wrote): names and
    // relationship fields in every row, a unique index on the dictionary.
    sql(history_db,
        "BEGIN;"
        "CREATE TABLE pu1(twin INTEGER NOT NULL, key INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " model INTEGER, value, lag INTEGER, rel INTEGER, target INTEGER, PRIMARY KEY(twin, key, time, seq)) WITHOUT ROWID;"
        "INSERT INTO pu1 SELECT s.twin, s.key, p.time, p.seq, nullif(s.model, 0), p.value, p.lag, nullif(s.rel, 0),"
        " nullif(s.target, 0) FROM property_updates p JOIN series s ON s.id = p.series;"
        "DROP TABLE property_updates; ALTER TABLE pu1 RENAME TO property_updates; DROP TABLE series;"
        "CREATE TABLE n1(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE); INSERT INTO n1 SELECT id, text FROM names;"
        "DROP TABLE names; ALTER TABLE n1 RENAME TO names;"
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'; COMMIT;");
    {
        auto store = open_store(dir.path, o);
        const HistoryResult after = store->history({});
        CHECK_FALSE(fs::exists(dir.path / "history.db.damaged"));  // converted, not set aside
        REQUIRE(after.telemetry.size() == 1);  // telemetry is not in the journal: only a conversion keeps it
        CHECK(after.telemetry[0].value == json(1.5));
        REQUIRE(after.property_updates.size() == before.property_updates.size());
        for (std::size_t k = 0; k < after.property_updates.size(); ++k) {
            const PropertyUpdateRow& a = after.property_updates[k];
            const PropertyUpdateRow& b = before.property_updates[k];
            CHECK(a.id == b.id);
            CHECK(a.key == b.key);
            CHECK(a.time == b.time);
            CHECK(a.sequence == b.sequence);
            CHECK(a.model_id == b.model_id);
            CHECK(a.value == b.value);
            CHECK(a.source_time == b.source_time);
            CHECK(a.relationship_id == b.relationship_id);
            CHECK(a.relationship_target == b.relationship_target);
        }
        // New writes go on after the converted rows.
        store->graph().update_twin("room-1", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 23.5}}}));
        CHECK(store->history_series("room-1", "temperature").value == std::vector<double>{21.0, 22.5, 23.5});
    }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(history_db.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT (SELECT value FROM meta WHERE key = 'schema_version'),"
                                   " (SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'names' AND type = 'index')",
                               -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "2");
    CHECK(sqlite3_column_int(st, 1) == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
