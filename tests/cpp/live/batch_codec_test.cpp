// The journal's payload formats (sim/live/detail/batch_codec.hpp): version 2
// (compact binary) decodes to exactly what was committed and replays to the
// very same graph; version 1 rows (CBOR, written by earlier builds) still
// decode and still open in a store; damaged payloads give a clear error.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <random>
#include <string>
#include <vector>

#include "../graph/graph_fixtures.hpp"
#include "store_support.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"
#include "twinsim/live/detail/batch_codec.hpp"
#include "twinsim/live/store.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Encoded {
    std::string v1;
    std::string v2;
    std::vector<ChangeEvent> events;
    BatchOutcome outcome;
};

// Every kind of write: models, twins, relationships, patches with source
// times, numeric writes, cascading deletes, decommissions.
void random_writes(TwinGraph& g, int count, std::uint32_t seed) {
    g.add_models(test::building_models());
    std::mt19937 rng(seed);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(std::uniform_int_distribution<int>(0, static_cast<int>(n) - 1)(rng)); };
    std::vector<std::string> rooms;
    std::vector<std::string> floors;
    for (int k = 0; k < count; ++k) {
        try {
            switch (pick(8)) {
            case 0:
                rooms.push_back(test::numbered("room-", k));
                g.upsert_twin(rooms.back(), test::room(20.0 + static_cast<double>(pick(10))));
                break;
            case 1:
                floors.push_back(test::numbered("floor-", k));
                g.upsert_twin(floors.back(), test::floor_twin(static_cast<int>(pick(5))));
                break;
            case 2:
                if (!rooms.empty())
                    g.update_twin(rooms[pick(rooms.size())],
                                  json::array({{{"op", "add"}, {"path", "/humidity"}, {"value", pick(90)}},
                                               {{"op", "add"}, {"path", "/$metadata/humidity/sourceTime"},
                                                {"value", "2026-07-01T10:00:00Z"}}}));
                break;
            case 3:
                if (!floors.empty() && !rooms.empty())
                    g.upsert_relationship(floors[pick(floors.size())], test::numbered("r", k),
                                          test::rel(rooms[pick(rooms.size())], "contains"));
                break;
            case 4:
                if (!rooms.empty()) {
                    const std::size_t i = pick(rooms.size());
                    g.delete_twin(rooms[i], std::nullopt, /*cascade=*/true);
                    rooms.erase(rooms.begin() + static_cast<std::ptrdiff_t>(i));
                }
                break;
            case 5:
                if (!rooms.empty()) {
                    std::vector<PropertyWrite> writes;
                    const std::uint32_t column = g.snapshot().models()->get("dtmi:test:Room;1").layout.find("temperature")->column;
                    // Source times in whole 100 ns: the outcome documents carry ADT's 7-digit
                    // fractions, so a finer source time would not replay exactly (in any format).
                    for (int w = 0; w < 3; ++w)
                        writes.push_back({*g.find(rooms[pick(rooms.size())]), column, 18.0 + w + 0.25,
                                          w == 1 ? std::optional<Timestamp>(Timestamp{1'700'000'000'000'000'100LL}) : std::nullopt});
                    g.write_properties(writes);
                }
                break;
            case 6:
                g.atomically([&](TwinGraph& a) {
                    const std::string id = test::numbered("sensor-", k);
                    a.upsert_twin(id, test::sensor(-static_cast<double>(k)));
                    if (!rooms.empty()) a.upsert_relationship(id, "obs", test::rel(rooms.front(), "observes"));
                    a.update_twin(id, json::array({{{"op", "replace"}, {"path", "/value"}, {"value", -1.5}}}));
                });
                break;
            default:
                if (!floors.empty()) {
                    const auto rels = g.snapshot().list_relationships(floors.front());
                    if (!rels.empty())
                        g.update_relationship(floors.front(), rels.front()["$relationshipId"].get<std::string>(),
                                              json::array({{{"op", "add"}, {"path", "/since"}, {"value", "2026-01-02"}}}));
                }
                break;
            }
        } catch (const GraphError&) {
            // refused writes are not journaled
        }
    }
    g.decommission_model("dtmi:test:Office;1");
}

json event_json(const ChangeEvent& e) {
    return {static_cast<int>(e.type), e.subject, e.twin_id, e.relationship_id, e.time.ns, e.sequence, e.data, e.cause};
}

// write_properties of every numeric kind (double, integer, long, boolean),
// with and without source times, alone, several in one atomic group (with a
// cause), and mixed with JSON writes in one group; each case in its own
// batch, between twin creations and a deletion.
void numeric_writes(TwinGraph& g, int count, std::uint32_t seed) {
    g.add_models(test::building_models());
    std::mt19937 rng(seed);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(std::uniform_int_distribution<int>(0, static_cast<int>(n) - 1)(rng)); };
    const auto models = g.snapshot().models();
    const auto column = [&](const char* model, const char* name) { return models->get(model).layout.find(name)->column; };
    const std::uint32_t temperature = column("dtmi:test:Room;1", "temperature");
    const std::uint32_t humidity = column("dtmi:test:Room;1", "humidity");
    const std::uint32_t occupied = column("dtmi:test:Room;1", "occupied");
    const std::uint32_t value = column("dtmi:test:Sensor;1", "value");
    const std::uint32_t counter = column("dtmi:test:Sensor;1", "count");
    const std::uint32_t on = column("dtmi:test:Sensor;1", "on");
    std::vector<std::string> rooms;
    std::vector<std::string> sensors;
    for (int k = 0; k < 6; ++k) {
        rooms.push_back(test::numbered("room-", k));
        g.upsert_twin(rooms.back(), test::room(20.0 + k));
        sensors.push_back(test::numbered("sensor-", k));
        g.upsert_twin(sensors.back(), test::sensor(k));
    }
    auto some_writes = [&](std::size_t n) {
        std::vector<PropertyWrite> writes;
        for (std::size_t w = 0; w < n; ++w) {
            const std::optional<Timestamp> source =
                pick(3) == 0 ? std::optional<Timestamp>(Timestamp{1'700'000'000'000'000'000LL + static_cast<std::int64_t>(pick(1000)) * 100})
                             : std::nullopt;
            switch (pick(6)) {
            case 0: writes.push_back({*g.find(rooms[pick(rooms.size())]), temperature, 15.0 + static_cast<double>(pick(100)) / 8, source}); break;
            case 1: writes.push_back({*g.find(rooms[pick(rooms.size())]), humidity, static_cast<double>(pick(100)), source}); break;
            case 2: writes.push_back({*g.find(rooms[pick(rooms.size())]), occupied, static_cast<double>(pick(2)), source}); break;
            case 3: writes.push_back({*g.find(sensors[pick(sensors.size())]), value, -1.0 / static_cast<double>(1 + pick(9)), source}); break;
            case 4: writes.push_back({*g.find(sensors[pick(sensors.size())]), counter, 4.0e15 + static_cast<double>(pick(1000)), source}); break;
            default: writes.push_back({*g.find(sensors[pick(sensors.size())]), on, static_cast<double>(pick(2)), source}); break;
            }
        }
        return writes;
    };
    for (int k = 0; k < count; ++k) {
        switch (pick(5)) {
        case 0:
        case 1: g.write_properties(some_writes(1 + pick(40))); break;
        case 2:
            g.atomically("rule:numeric", [&](TwinGraph& a) {
                a.write_properties(some_writes(1 + pick(5)));
                a.write_properties(some_writes(1 + pick(5)));
            });
            break;
        case 3:
            g.atomically([&](TwinGraph& a) {
                a.write_properties(some_writes(3));
                a.update_twin(rooms[pick(rooms.size())], json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 30.5}}}));
                a.write_properties(some_writes(2));
            });
            break;
        default: {
            const std::string id = test::numbered("late-", k);
            g.upsert_twin(id, test::sensor(1.0));
            g.write_properties(std::vector<PropertyWrite>{{*g.find(id), value, 2.5, std::nullopt}, {*g.find(id), on, 1.0, std::nullopt}});
            g.delete_twin(id);
            break;
        }
        }
    }
}

// Every property update row of a store's history, as comparable JSON.
json history_rows(live::Store& store) {
    json rows = json::array();
    for (const live::PropertyUpdateRow& r : store.history({}).property_updates)
        rows.push_back({r.time.ns, r.source_time ? r.source_time->ns : -1, r.id, r.model_id, r.key, r.value.dump(),
                        r.relationship_id, r.relationship_target, r.action, r.sequence});
    return rows;
}

struct Journaled {
    std::string payload;
    std::vector<ChangeEvent> events;  // what the batch stands for
};

}  // namespace

TEST_CASE("journal payload v3: numeric writes journal as columns, stand for exactly the events they replace, "
          "and replay to the very same graph", "[store]") {
    // Graph A journals numerically (as the store does); graph B, on the same
    // clock and writes, journals every batch as events (as builds before
    // version 3 did). Their batches must be the same changes.
    std::vector<Journaled> numeric_log;
    std::vector<Journaled> event_log;
    std::vector<json> heard_a;
    std::vector<json> heard_b;
    TwinGraphOptions oa = test::test_options();
    oa.numeric_journal = true;
    oa.journal = [&](const CommitBatch& b) {
        if (b.numeric) {
            CHECK(b.events.empty());
            CHECK(b.outcome().twins.size() == b.numeric->twins.size());
            numeric_log.push_back({live::detail::encode_numeric_batch(*b.numeric), b.numeric->events()});
        } else {
            numeric_log.push_back({live::detail::encode_batch(b, b.outcome()), {b.events.begin(), b.events.end()}});
        }
    };
    TwinGraphOptions ob = test::test_options();
    ob.journal = [&](const CommitBatch& b) {
        CHECK(b.numeric == nullptr);
        event_log.push_back({live::detail::encode_batch(b, b.outcome()), {b.events.begin(), b.events.end()}});
    };
    TwinGraph a(oa);
    TwinGraph b(ob);
    a.subscribe([&](const ChangeEvent& e) { heard_a.push_back(event_json(e)); });
    b.subscribe([&](const ChangeEvent& e) { heard_b.push_back(event_json(e)); });
    numeric_writes(a, 200, 4242);
    numeric_writes(b, 200, 4242);
    CHECK(serialize(a.snapshot()) == serialize(b.snapshot()));
    CHECK(heard_a == heard_b);  // listeners hear the very same events either way
    REQUIRE(numeric_log.size() == event_log.size());

    TwinGraph replayed(test::test_options());
    std::size_t numeric_batches = 0;
    std::size_t bytes_v3 = 0;
    std::size_t bytes_v2_same_batches = 0;
    for (std::size_t k = 0; k < numeric_log.size(); ++k) {
        const Journaled& j = numeric_log[k];
        const Journaled& old = event_log[k];
        REQUIRE(j.events.size() == old.events.size());
        for (std::size_t e = 0; e < j.events.size(); ++e) CHECK(event_json(j.events[e]) == event_json(old.events[e]));
        const live::detail::DecodedBatch d = live::detail::decode_batch(j.payload);
        if (live::detail::payload_format(j.payload) == 3) {
            ++numeric_batches;
            bytes_v3 += j.payload.size();
            bytes_v2_same_batches += old.payload.size();
            REQUIRE(d.numeric);
            const std::vector<ChangeEvent> decoded = d.numeric->events();
            REQUIRE(decoded.size() == old.events.size());
            for (std::size_t e = 0; e < decoded.size(); ++e) CHECK(event_json(decoded[e]) == event_json(old.events[e]));
            // The same numeric batch encodes to the same bytes again.
            CHECK(live::detail::encode_numeric_batch(*d.numeric) == j.payload);
        }
        CHECK(d.event_count() == old.events.size());
        replayed.replay(d.recorded());
    }
    CHECK(numeric_batches > 60);
    CHECK(serialize(replayed.snapshot()) == serialize(a.snapshot()));
    CHECK(test::observable(replayed.snapshot()) == test::observable(a.snapshot()));
    INFO("numeric batches: v3 " << bytes_v3 << " bytes, v2 " << bytes_v2_same_batches << " bytes");
    CHECK(bytes_v3 * 3 < bytes_v2_same_batches);
}

TEST_CASE("journal payload v3: a batch that does not follow on, or is damaged, is refused; never a crash", "[store]") {
    std::vector<std::string> payloads;
    TwinGraphOptions o = test::test_options();
    o.numeric_journal = true;
    o.journal = [&](const CommitBatch& b) {
        if (b.numeric) payloads.push_back(live::detail::encode_numeric_batch(*b.numeric));
    };
    TwinGraph g(o);
    numeric_writes(g, 30, 11);
    REQUIRE(payloads.size() > 5);
    const std::string& p = payloads.back();
    REQUIRE(live::detail::payload_format(p) == 3);
    for (std::size_t n = 3; n < p.size(); ++n) {
        try {
            (void)live::detail::decode_batch(std::string_view(p).substr(0, n));
            FAIL("a payload cut to " << n << " of " << p.size() << " bytes decoded");
        } catch (const std::runtime_error& e) {
            CHECK_THAT(e.what(), Catch::Contains("format version 3"));
        }
    }
    // Flipped bytes: refused, or decoded and then refused by replay with the graph unchanged, or applied.
    TwinGraph empty(test::test_options());
    empty.add_models(test::building_models());
    const std::string before = serialize(empty.snapshot());
    for (std::size_t k = 3; k < p.size(); ++k) {
        std::string damaged = p;
        damaged[k] = static_cast<char>(damaged[k] ^ 0x5A);
        try {
            const live::detail::DecodedBatch d = live::detail::decode_batch(damaged);
            CHECK_THROWS_AS(empty.replay(d.recorded()), GraphError);  // its twins do not exist here
            CHECK(serialize(empty.snapshot()) == before);
        } catch (const std::runtime_error&) {
        }
    }
    CHECK_THROWS_WITH(live::detail::decode_batch(p + "x"), Catch::Contains("bytes after its last record"));
    // A batch replayed out of turn names what does not follow on.
    TwinGraph other(test::test_options());
    other.add_models(test::building_models());
    CHECK_THROWS_WITH(other.replay(live::detail::decode_batch(payloads.front()).recorded()), Catch::Contains("cannot replay the batch"));
}

TEST_CASE("store: a store written before format version 3 (numeric writes journaled as events) still opens, "
          "mixed with version 3 rows", "[store]") {
    // The store writes version 3 rows for numeric batches. A graph on the same
    // clock journaling as earlier builds did (numeric_journal off: every batch
    // in version 2) gives each batch as those builds wrote it; every other row
    // of the store is replaced by that older form.
    test::TempDir dir("store-v2-numeric-rows");
    std::vector<std::string> old_rows;
    {
        TwinGraphOptions o = test::test_options();
        o.journal = [&](const CommitBatch& b) { old_rows.push_back(live::detail::encode_batch(b, b.outcome())); };
        TwinGraph old_writer(o);
        numeric_writes(old_writer, 120, 77);
    }
    json before;
    std::string bytes_before;
    json history_before;
    {
        auto store = live::open_store(dir.path, [] {
            live::StoreOptions so;
            so.checkpoint_every = 0;
            so.checkpoint_every_changes = 0;
            so.clock = test::TestClock{};
            return so;
        }());
        numeric_writes(store->graph(), 120, 77);
        before = test::observable(store->graph().snapshot());
        bytes_before = serialize(store->graph().snapshot());
        history_before = history_rows(*store);
    }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path / "journal.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM batches", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    REQUIRE(static_cast<std::size_t>(sqlite3_column_int64(st, 0)) == old_rows.size());
    sqlite3_finalize(st);
    REQUIRE(sqlite3_prepare_v2(db, "UPDATE batches SET payload = ? WHERE id = ?", -1, &st, nullptr) == SQLITE_OK);
    int rewritten = 0;
    for (std::size_t k = 0; k < old_rows.size(); k += 2) {
        sqlite3_bind_blob(st, 1, old_rows[k].data(), static_cast<int>(old_rows[k].size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(k + 1));
        REQUIRE(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_reset(st);
        ++rewritten;
    }
    sqlite3_finalize(st);
    // The mix: both formats hold numeric batches.
    int v2 = 0;
    int v3 = 0;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT payload FROM batches ORDER BY id", -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const std::string payload(static_cast<const char*>(sqlite3_column_blob(st, 0)), static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
        (live::detail::payload_format(payload) == 3 ? v3 : v2) += 1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK(v3 > 20);
    CHECK(v2 > 20);
    // history.db was derived from the new rows: rebuild it from the mixed journal.
    fs::remove(dir.path / "history.db");
    fs::remove(dir.path / "history.db-wal");
    fs::remove(dir.path / "history.db-shm");
    auto store = live::open_store(dir.path);
    CHECK(test::observable(store->graph().snapshot()) == before);
    CHECK(serialize(store->graph().snapshot()) == bytes_before);
    CHECK(store->recovery().batches_replayed == old_rows.size());
    // The history rows derived from the two formats are the same rows.
    const json history_after = history_rows(*store);
    CHECK(history_after.size() > 500);
    CHECK(history_after == history_before);
}

TEST_CASE("journal payload v2: decodes to exactly what was committed and replays to the very same graph", "[store]") {
    std::vector<Encoded> log;
    TwinGraphOptions o = test::test_options();
    o.journal = [&](const CommitBatch& b) {
        const BatchOutcome outcome = b.outcome();
        log.push_back({live::detail::encode_batch_v1(b, outcome), live::detail::encode_batch(b, outcome),
                       {b.events.begin(), b.events.end()}, outcome});
    };
    TwinGraph g(o);
    random_writes(g, 300, 20261207);
    REQUIRE(log.size() > 100);

    TwinGraph from_v2(test::test_options());
    TwinGraph from_v1(test::test_options());
    std::size_t bytes_v1 = 0;
    std::size_t bytes_v2 = 0;
    for (const Encoded& e : log) {
        CHECK(live::detail::payload_format(e.v2) == 2);
        CHECK(live::detail::payload_format(e.v1) == 1);
        const live::detail::DecodedBatch d2 = live::detail::decode_batch(e.v2);
        const live::detail::DecodedBatch d1 = live::detail::decode_batch(e.v1);
        REQUIRE(d2.events.size() == e.events.size());
        for (std::size_t k = 0; k < e.events.size(); ++k) {
            CHECK(event_json(d2.events[k]) == event_json(e.events[k]));
            CHECK(event_json(d1.events[k]) == event_json(e.events[k]));
        }
        REQUIRE(d2.outcome.twins.size() == e.outcome.twins.size());
        for (std::size_t k = 0; k < e.outcome.twins.size(); ++k) {
            CHECK(d2.outcome.twins[k].id == e.outcome.twins[k].id);
            // Exact, number kinds included (an unsigned stays unsigned, a double a double).
            CHECK(d2.outcome.twins[k].document.dump() == e.outcome.twins[k].document.dump());
        }
        CHECK(d2.outcome.etag_counter == e.outcome.etag_counter);
        from_v2.replay(d2.recorded());
        from_v1.replay(d1.recorded());
        bytes_v1 += e.v1.size();
        bytes_v2 += e.v2.size();
    }
    CHECK(serialize(from_v2.snapshot()) == serialize(g.snapshot()));
    CHECK(serialize(from_v1.snapshot()) == serialize(g.snapshot()));
    CHECK(test::observable(from_v2.snapshot()) == test::observable(g.snapshot()));
    // Compact: well under the CBOR form.
    INFO("v1 " << bytes_v1 << " bytes, v2 " << bytes_v2 << " bytes");
    CHECK(bytes_v2 * 2 < bytes_v1);
}

TEST_CASE("journal payload v2: the cause of a change is kept", "[store]") {
    ChangeEvent e;
    e.type = ChangeType::twin_update;
    e.twin_id = e.subject = "room-1";
    e.time = Timestamp{1'780'000'000'000'000'000LL};
    e.sequence = 42;
    e.data = {{"modelId", "dtmi:test:Room;1"}, {"patch", json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 27.5}}})}};
    e.cause = "rule:overheat";
    ChangeEvent direct = e;
    direct.sequence = 43;
    direct.cause.clear();
    const std::vector<ChangeEvent> events{e, direct};
    const BatchOutcome outcome;
    const CommitBatch batch{events, {}, {}};
    for (const std::string& bytes : {live::detail::encode_batch(batch, outcome), live::detail::encode_batch_v1(batch, outcome)}) {
        const live::detail::DecodedBatch d = live::detail::decode_batch(bytes);
        REQUIRE(d.events.size() == 2);
        CHECK(d.events[0].cause == "rule:overheat");
        CHECK(d.events[1].cause.empty());
        CHECK(d.events[0].data == e.data);
        CHECK(d.events[1].sequence == 43);
    }
}

TEST_CASE("journal payload v2: a damaged payload is refused with a clear error, never a crash", "[store]") {
    std::vector<std::string> payloads;
    TwinGraphOptions o = test::test_options();
    o.journal = [&](const CommitBatch& b) { payloads.push_back(live::detail::encode_batch(b, b.outcome())); };
    TwinGraph g(o);
    random_writes(g, 20, 7);
    REQUIRE(!payloads.empty());
    const std::string& p = payloads.back();
    // Every truncation, and every single byte flipped, throws runtime_error or decodes; none crashes.
    for (std::size_t n = 3; n < p.size(); ++n) {
        try {
            (void)live::detail::decode_batch(std::string_view(p).substr(0, n));
            FAIL("a payload cut to " << n << " of " << p.size() << " bytes decoded");
        } catch (const std::runtime_error& e) {
            CHECK_THAT(e.what(), Catch::Contains("format version 2"));
        }
    }
    for (std::size_t k = 3; k < p.size(); ++k) {
        std::string damaged = p;
        damaged[k] = static_cast<char>(damaged[k] ^ 0x5A);
        try {
            (void)live::detail::decode_batch(damaged);
        } catch (const std::runtime_error&) {
        }
    }
    CHECK_THROWS_WITH(live::detail::decode_batch(p + "x"), Catch::Contains("bytes after its last record"));
}

TEST_CASE("journal payload v2: the events-only decoding (the history indexer's) gives the same events and refuses "
          "exactly the payloads the full decoding refuses", "[store]") {
    std::vector<std::string> payloads;
    TwinGraphOptions o = test::test_options();
    o.journal = [&](const CommitBatch& b) { payloads.push_back(live::detail::encode_batch(b, b.outcome())); };
    TwinGraph g(o);
    random_writes(g, 200, 99);
    // One batch naming more strings than the encoder's scanned dictionary
    // holds (it switches to a hash index past 32): 60 twins in one group.
    g.atomically([](TwinGraph& a) {
        for (int k = 0; k < 60; ++k) a.upsert_twin(test::numbered("big-", k), test::room(20.0 + k));
    });
    REQUIRE(payloads.size() > 50);
    const live::detail::DecodedBatch big = live::detail::decode_batch(payloads.back());
    REQUIRE(big.events.size() == 60);
    REQUIRE(big.outcome.twins.size() == 60);
    for (int k = 0; k < 60; ++k) {
        CHECK(big.events[static_cast<std::size_t>(k)].twin_id == test::numbered("big-", k));
        CHECK(big.outcome.twins[static_cast<std::size_t>(k)].document == g.get_twin(test::numbered("big-", k)));
    }
    for (const std::string& p : payloads) {
        const live::detail::DecodedBatch full = live::detail::decode_batch(p);
        const live::detail::DecodedBatch events = live::detail::decode_batch_events(p);
        REQUIRE(events.events.size() == full.events.size());
        for (std::size_t k = 0; k < full.events.size(); ++k) CHECK(event_json(events.events[k]) == event_json(full.events[k]));
        CHECK(events.outcome.twins.empty());
        CHECK(events.outcome.relationships.empty());
    }
    // Damage anywhere (the outcome included): refused by both with the same message, or decoded by both.
    for (const std::string& p : {payloads[payloads.size() / 2], payloads.back()}) {
        for (std::size_t n = 3; n <= p.size() + 1; ++n) {
            for (int flip = 0; flip < 2; ++flip) {
                std::string damaged = n <= p.size() ? p.substr(0, n) : p + "x";
                if (flip == 1 && n < p.size()) {
                    damaged = p;
                    damaged[n] = static_cast<char>(damaged[n] ^ 0x5A);
                }
                std::string full_error, events_error;
                try {
                    (void)live::detail::decode_batch(damaged);
                } catch (const std::runtime_error& e) {
                    full_error = e.what();
                }
                try {
                    (void)live::detail::decode_batch_events(damaged);
                } catch (const std::runtime_error& e) {
                    events_error = e.what();
                }
                CHECK(events_error == full_error);
            }
        }
    }
}

TEST_CASE("store: a journal written in format version 1 still opens, mixed with version 2 rows", "[store]") {
    test::TempDir dir("store-v1-rows");
    json before;
    std::string bytes_before;
    {
        auto store = live::open_store(dir.path, [] {
            live::StoreOptions so;
            so.checkpoint_every = 0;
            so.clock = test::TestClock{};
            return so;
        }());
        random_writes(store->graph(), 60, 99);
        before = test::observable(store->graph().snapshot());
        bytes_before = serialize(store->graph().snapshot());
    }
    // Rewrite every odd batch's payload in version 1, as an earlier build wrote it.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path / "journal.db").c_str(), &db) == SQLITE_OK);
    std::vector<std::pair<std::int64_t, std::string>> rows;
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT id, payload FROM batches ORDER BY id", -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        rows.emplace_back(sqlite3_column_int64(st, 0),
                          std::string(static_cast<const char*>(sqlite3_column_blob(st, 1)), static_cast<std::size_t>(sqlite3_column_bytes(st, 1))));
    sqlite3_finalize(st);
    REQUIRE(rows.size() > 20);
    REQUIRE(sqlite3_prepare_v2(db, "UPDATE batches SET payload = ? WHERE id = ?", -1, &st, nullptr) == SQLITE_OK);
    int rewritten = 0;
    for (const auto& [id, payload] : rows) {
        REQUIRE(live::detail::payload_format(payload) >= 2);
        if (id % 2 == 0 || live::detail::payload_format(payload) == 3) continue;  // numeric rows have no version 1 form
        const live::detail::DecodedBatch d = live::detail::decode_batch(payload);
        const std::string v1 = live::detail::encode_batch_v1(CommitBatch{d.events, d.models, {}}, d.outcome);
        sqlite3_bind_blob(st, 1, v1.data(), static_cast<int>(v1.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, id);
        REQUIRE(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_reset(st);
        ++rewritten;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    REQUIRE(rewritten > 10);
    auto store = live::open_store(dir.path);
    CHECK(test::observable(store->graph().snapshot()) == before);
    CHECK(serialize(store->graph().snapshot()) == bytes_before);
}
