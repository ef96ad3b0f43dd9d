// serialize / deserialize: a Snapshot as bytes and back, exactly; corrupt or
// hostile bytes throw SnapshotFormatError and never crash.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"
#include "twinsim/query/query.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;

namespace {

/// A graph with deletions (free lists and reused indices), components,
/// sourceTimes, relationship properties, every column type, a decommissioned
/// model, and events numbered by a listener.
Snapshot rich_snapshot() {
    TwinGraph g(test::test_options());
    g.subscribe([](const ChangeEvent&) {});
    auto docs = test::building_models();
    docs.push_back({"pump.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Pump;1","@type":"Interface",
        "displayName":"Pump","contents":[{"@type":"Property","name":"flow","schema":"double"},
        {"@type":"Property","name":"spec","schema":{"@type":"Object",
           "fields":[{"name":"rpm","schema":"integer"}]}}]})"});
    g.add_models(docs);
    for (int i = 0; i < 150; ++i) g.upsert_twin(test::numbered("s", i), test::sensor(i * 0.1));
    for (int i = 0; i < 150; i += 7) g.delete_twin(test::numbered("s", i));
    g.upsert_twin("floor-1", test::floor_twin(1));
    json r1 = test::room(21.5);
    r1["humidity"] = 40;
    r1["occupied"] = true;
    r1["name"] = "Lab \"A\"";
    r1["status"] = "alarm";
    r1["settings"] = {{"mode", "eco"}, {"level", 2}};
    r1["tags"] = {{"a", "b"}};
    r1["readings"] = {1.5, 0.1 + 0.2, 1e-300};  // JSON doubles must read back bit for bit
    r1["thermostat"] = {{"setpoint", 22.0}, {"$metadata", {{"setpoint", {{"sourceTime", "2026-01-02T03:04:05Z"}}}}}};
    r1["$metadata"]["temperature"] = {{"sourceTime", "2026-06-30T12:00:00.5Z"}};
    g.upsert_twin("room-1", r1);
    g.upsert_twin("room-2", test::room(19.25));
    g.upsert_twin("pump-1", {{"$metadata", {{"$model", "dtmi:test:Pump;1"}}}, {"flow", 0.1 + 0.2}, {"spec", {{"rpm", 1450}}}});
    g.upsert_relationship("floor-1", "c1", {{"$targetId", "room-1"}, {"$relationshipName", "contains"}, {"since", "2020-01-01"}});
    g.upsert_relationship("floor-1", "c2", test::rel("room-2", "contains"));
    g.upsert_relationship("floor-1", "n1", test::rel("room-2", "near"));
    g.upsert_relationship("s1", "o1", test::rel("room-1", "observes"));
    g.upsert_relationship("s2", "o1", test::rel("room-1", "observes"));
    g.delete_relationship("floor-1", "c2");
    g.upsert_relationship("floor-1", "c3", test::rel("room-2", "contains"));  // reuses c2's index
    g.upsert_relationship("floor-1", "n1", test::rel("room-1", "near"));      // moves to another target
    g.update_twin("room-2", json::array({{{"op", "add"}, {"path", "/name"}, {"value", "two"}}}));
    g.decommission_model("dtmi:test:Office;1");
    return g.snapshot();
}

/// Everything a reader can observe, by index.
json observable(const Snapshot& s) {
    json out = json::object();
    out["twins"] = json::array();
    for (TwinIndex t = 0; t < s.twin_capacity(); ++t) {
        if (!s.alive(t)) {
            out["twins"].push_back(nullptr);
            continue;
        }
        const std::string& id = s.twin_id(t);
        json twin = s.get_twin(t);
        json out_rels = json::array();
        for (const RelationshipIndex r : s.out_relationships(t)) out_rels.push_back(r);
        json in_rels = json::array();
        for (const RelationshipIndex r : s.in_relationships(t)) in_rels.push_back(r);
        out["twins"].push_back({twin, out_rels, in_rels, s.list_relationships(id), s.list_incoming_relationships(id)});
    }
    out["relationships"] = json::array();
    for (RelationshipIndex r = 0; r < s.relationship_capacity(); ++r)
        out["relationships"].push_back(s.relationship_alive(r) ? s.get_relationship(r) : json());
    for (const ModelInfo& m : s.list_models()) out["models"].push_back({m.id, m.decommissioned, m.upload_time.ns, m.definition});
    out["version"] = s.version();
    out["sequence"] = s.event_sequence();
    out["counts"] = {s.twin_count(), s.relationship_count()};
    return out;
}

template <class F>
std::string format_error(F&& f) {
    try {
        f();
    } catch (const SnapshotFormatError& e) {
        CHECK(e.code() == "InvalidSnapshot");
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("serialize: the round trip keeps every twin, relationship, etag and time", "[serialization]") {
    const Snapshot original = rich_snapshot();
    const std::string bytes = serialize(original);
    REQUIRE(bytes.substr(0, 8) == "TWINSNAP");
    CHECK(serialize(original) == bytes);  // deterministic

    for (const bool given_models : {true, false}) {
        INFO("models " << (given_models ? "given" : "compiled from the bytes"));
        const Snapshot copy = given_models ? deserialize(bytes, original.models()) : deserialize(bytes);
        CHECK(observable(copy) == observable(original));
        CHECK(serialize(copy) == bytes);
        if (given_models) CHECK(copy.models() == original.models());
        // Columns and queries answer the same.
        const NumericColumn a = original.numeric_column("dtmi:test:Sensor;1", "value");
        const NumericColumn b = copy.numeric_column("dtmi:test:Sensor;1", "value");
        CHECK(a.twins == b.twins);
        CHECK(a.values == b.values);
        for (const char* q : {"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Space;1')",
                              "SELECT T.$dtId, T.value FROM DIGITALTWINS T WHERE T.value > 5",
                              "SELECT R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'floor-1'",
                              "SELECT COUNT() FROM RELATIONSHIPS"}) {
            INFO(q);
            CHECK(query::query_twins(copy, q).rows == query::query_twins(original, q).rows);
        }
    }
}

TEST_CASE("serialize: a graph cloned from the copy continues exactly as one cloned from the original", "[serialization]") {
    const Snapshot original = rich_snapshot();
    const Snapshot copy = deserialize(serialize(original), original.models());
    std::vector<json> results;
    for (const Snapshot* base : {&original, &copy}) {
        auto g = TwinGraph::from_snapshot(*base, test::test_options());
        std::vector<ChangeEvent> events;
        g->subscribe([&](const ChangeEvent& e) { events.push_back(e); });
        g->upsert_twin("s500", test::sensor(5.0));  // reuses a freed index
        g->upsert_relationship("s500", "o9", test::rel("room-2", "observes"));
        g->delete_twin("room-1", std::nullopt, true);
        g->upsert_twin("room-9", test::room(1.0));
        json r = observable(g->snapshot());
        for (const ChangeEvent& e : events) r["events"].push_back({e.sequence, e.subject, e.data});
        results.push_back(r);
    }
    CHECK(results[0] == results[1]);
}

TEST_CASE("serialize: empty and freshly created snapshots round-trip", "[serialization]") {
    const Snapshot empty;
    CHECK(observable(deserialize(serialize(empty))) == observable(empty));
    TwinGraph g;
    auto docs = test::building_models();
    g.add_models(docs);
    const Snapshot models_only = g.snapshot();
    CHECK(observable(deserialize(serialize(models_only))) == observable(models_only));
}

TEST_CASE("deserialize: corrupt or hostile bytes throw SnapshotFormatError", "[serialization]") {
    const Snapshot original = rich_snapshot();
    const std::string bytes = serialize(original);

    CHECK_THAT(format_error([&] { (void)deserialize(""); }), Catch::Contains("not a twinsim snapshot"));
    CHECK_THAT(format_error([&] { (void)deserialize("TWINSNAQ" + bytes.substr(8)); }), Catch::Contains("TWINSNAP"));
    std::string v2 = bytes;
    v2[8] = 2;
    CHECK_THAT(format_error([&] { (void)deserialize(v2); }), Catch::Contains("format version 2"));
    CHECK_THAT(format_error([&] { (void)deserialize(bytes.substr(0, bytes.size() / 2)); }), Catch::Contains("checksum"));
    CHECK_THAT(format_error([&] { (void)deserialize(bytes + "x"); }), Catch::Contains("checksum"));

    SECTION("every single flipped byte is caught") {
        for (std::size_t i = 0; i < bytes.size(); i += 7) {
            std::string bad = bytes;
            bad[i] = static_cast<char>(bad[i] ^ 0x20);
            CHECK_THROWS_AS(deserialize(bad, original.models()), SnapshotFormatError);
        }
    }
    SECTION("every truncation is caught") {
        for (std::size_t n = 0; n < bytes.size(); n += 13)
            CHECK_THROWS_AS(deserialize(bytes.substr(0, n), original.models()), SnapshotFormatError);
    }
    SECTION("hostile bytes with a valid checksum: structure and values are checked, not trusted") {
        // Re-seal a modified body with its checksum, as an attacker could.
        auto seal = [](std::string body) {
            std::uint64_t h = 0xcbf29ce484222325ULL;
            for (const char c : body) {
                h ^= static_cast<unsigned char>(c);
                h *= 0x100000001b3ULL;
            }
            for (unsigned k = 0; k < 8; ++k) body.push_back(static_cast<char>((h >> (8 * k)) & 0xFFu));
            return body;
        };
        const std::string body = bytes.substr(0, bytes.size() - 8);
        CHECK(observable(deserialize(seal(body), original.models())) == observable(original));
        std::size_t refused = 0;
        std::size_t accepted = 0;
        // Overwrite 4 bytes at many offsets with values that make lengths, counts and indices huge or wrong.
        for (std::size_t i = 12; i + 4 <= body.size(); i += 11) {
            for (const std::uint32_t v : {0xFFFFFFFFu, 1u}) {
                std::string bad = body;
                for (unsigned k = 0; k < 4; ++k) bad[i + k] = static_cast<char>((v >> (8 * k)) & 0xFFu);
                try {
                    const Snapshot s = deserialize(seal(bad), original.models());
                    (void)observable(s);  // whatever is accepted must be readable
                    ++accepted;
                } catch (const SnapshotFormatError&) {
                    ++refused;
                }
            }
        }
        CHECK(refused > 0);
        INFO(accepted << " accepted");
        // Deep JSON (here: a model definition) is refused, not recursed into.
        std::string hostile = body.substr(0, 12);  // magic and version
        auto u32 = [&](std::uint32_t v) {
            for (unsigned k = 0; k < 4; ++k) hostile.push_back(static_cast<char>((v >> (8 * k)) & 0xFFu));
        };
        u32(0), u32(0), u32(0), u32(0);  // etag counter, event sequence
        u32(1);                          // one model
        u32(1), hostile += "x";          // its id
        hostile += '\0';                // not decommissioned
        u32(0), u32(0);                  // upload time
        hostile += '\1';                // with a definition:
        const std::string deep = std::string(100000, '[') + std::string(100000, ']');
        u32(static_cast<std::uint32_t>(deep.size()));
        hostile += deep;
        CHECK_THAT(format_error([&] { (void)deserialize(seal(hostile)); }), Catch::Contains("deeper than"));
    }
    SECTION("models that are not the snapshot's") {
        TwinGraph other;
        auto docs = test::building_models();
        docs.resize(2);  // Space and Thermostat only
        other.add_models(docs);
        CHECK_THAT(format_error([&] { (void)deserialize(bytes, other.snapshot().models()); }),
                   Catch::Contains("interfaces"));
    }
}
