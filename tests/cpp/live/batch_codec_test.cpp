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

}  // namespace

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
        REQUIRE(live::detail::payload_format(payload) == 2);
        if (id % 2 == 0) continue;
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
