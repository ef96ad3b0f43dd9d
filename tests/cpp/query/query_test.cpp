// The query executor: every clause on a small building, with the exact rows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

#include "query_fixtures.hpp"
#include "twinsim/query/cursor.hpp"
#include "twinsim/query/query.hpp"

using namespace twinsim;
using namespace twinsim::query;
using nlohmann::json;
using test::ids;
using Strings = std::vector<std::string>;

namespace {

struct Building {
    graph::TwinGraph graph{test::test_options()};
    Building() { test::build_query_building(graph); }
    [[nodiscard]] QueryResult q(std::string_view text, const QueryOptions& o = {}) const {
        return query_twins(graph.snapshot(), text, o);
    }
};

Strings sorted(Strings v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("SELECT * FROM DIGITALTWINS returns every twin as get_twin JSON", "[query]") {
    Building b;
    const auto r = b.q("SELECT * FROM DIGITALTWINS");
    CHECK(sorted(ids(r.rows)) == Strings{"floor-1", "floor-2", "office-1", "room-1", "room-2", "room-3", "sensor-1", "sensor-2"});
    for (const json& row : r.rows) CHECK(row == b.graph.snapshot().get_twin(row["$dtId"].get<std::string>()));
    CHECK(r.continuation_token.empty());
    CHECK(r.warnings.empty());
}

TEST_CASE("WHERE numeric comparisons, with and without an alias; missing properties exclude the row", "[query]") {
    Building b;
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS WHERE temperature > 22").rows)) == Strings{"office-1", "room-2"});
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE T.temperature <= 23").rows)) == Strings{"office-1", "room-1"});
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE T.humidity = 40.0").rows)) == Strings{"room-1"});
    // room-3 has no temperature: neither = nor != selects it
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE T.temperature != 25").rows)) == Strings{"office-1", "room-1"});
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE NOT (T.temperature = 25)").rows)) == Strings{"office-1", "room-1"});
    // type mismatch is undefined
    CHECK(b.q("SELECT * FROM DIGITALTWINS T WHERE T.name > 3").rows.empty());
    CHECK(b.q("SELECT * FROM DIGITALTWINS T WHERE T.name != 3").rows.empty());
}

TEST_CASE("IS_OF_MODEL with inheritance and exact, $dtId, $metadata.$model", "[query]") {
    Building b;
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Space;1')").rows)) ==
          Strings{"office-1", "room-1", "room-2", "room-3"});
    CHECK(b.q("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Space;1', exact)").rows.empty());
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Room;1', exact) AND T.temperature > 21").rows)) ==
          Strings{"room-1", "room-2"});
    CHECK(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'room-2'").rows) == Strings{"room-2"});
    CHECK(b.q("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'nope'").rows.empty());
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN ['room-2', 'floor-1', 'x']").rows)) ==
          Strings{"floor-1", "room-2"});
    CHECK(sorted(ids(b.q("SELECT * FROM DIGITALTWINS T WHERE T.$metadata.$model = 'dtmi:test:Floor;1'").rows)) ==
          Strings{"floor-1", "floor-2"});
}

TEST_CASE("unknown models and properties give no rows and warnings", "[query]") {
    Building b;
    auto r = b.q("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Nope;1')");
    CHECK(r.rows.empty());
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find("dtmi:test:Nope;1") != std::string::npos);
    r = b.q("SELECT * FROM DIGITALTWINS WHERE Temperature > 1");
    CHECK(r.rows.empty());
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find("Temperature") != std::string::npos);
}

TEST_CASE("projections, aliases, AS, missing projected properties", "[query]") {
    Building b;
    auto r = b.q("SELECT T.name, T.temperature AS t FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Room;1') ORDER BY T.$dtId");
    REQUIRE(r.rows.size() == 3);
    CHECK(r.rows[0] == json{{"name", "Lab"}, {"t", 21.5}});
    CHECK(r.rows[1] == json{{"name", "lobby"}, {"t", 25.0}});
    CHECK(r.rows[2] == json::object());
    r = b.q("SELECT T.$dtId, T.settings.mode FROM DIGITALTWINS T WHERE T.$dtId = 'room-2'");
    CHECK(r.rows == std::vector<json>{json{{"$dtId", "room-2"}, {"mode", "eco"}}});
}

TEST_CASE("COUNT() and TOP", "[query]") {
    Building b;
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS").rows == std::vector<json>{json{{"COUNT", 8}}});
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS WHERE temperature >= 21.5").rows == std::vector<json>{json{{"COUNT", 3}}});
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Room;1')").rows ==
          std::vector<json>{json{{"COUNT", 3}}});
    CHECK(b.q("SELECT COUNT() FROM RELATIONSHIPS").rows == std::vector<json>{json{{"COUNT", 7}}});
    CHECK(b.q("SELECT TOP(2) T FROM DIGITALTWINS T WHERE IS_DEFINED(T.temperature) ORDER BY T.temperature DESC").rows.size() == 2);
    CHECK(ids(b.q("SELECT TOP(2) T FROM DIGITALTWINS T WHERE IS_DEFINED(T.temperature) ORDER BY T.temperature DESC").rows, "T") ==
          Strings{"room-2", "office-1"});
}

TEST_CASE("FROM RELATIONSHIPS with relationship properties and $-names", "[query]") {
    Building b;
    auto r = b.q("SELECT * FROM RELATIONSHIPS R WHERE R.since >= '2021-01-01'");
    REQUIRE(r.rows.size() == 1);
    CHECK(r.rows[0] == b.graph.snapshot().get_relationship("floor-1", "c2"));
    r = b.q("SELECT R.$relationshipId FROM RELATIONSHIPS R WHERE R.$sourceId = 'floor-1' AND R.$relationshipName = 'contains' "
            "ORDER BY R.$targetId DESC");
    CHECK(r.rows == std::vector<json>{json{{"$relationshipId", "c2"}}, json{{"$relationshipId", "c1"}}, json{{"$relationshipId", "c3"}}});
    CHECK(b.q("SELECT COUNT() FROM RELATIONSHIPS WHERE $targetId = 'room-1'").rows == std::vector<json>{json{{"COUNT", 2}}});
}

TEST_CASE("JOIN ... RELATED: inner join, chains, relationship aliases and filters", "[query]") {
    Building b;
    auto r = b.q("SELECT F, R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'floor-1' ORDER BY R.$dtId");
    CHECK(ids(r.rows, "R") == Strings{"office-1", "room-1", "room-2"});
    CHECK(ids(r.rows, "F") == Strings{"floor-1", "floor-1", "floor-1"});
    r = b.q("SELECT R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'floor-1' AND R.temperature > 22");
    CHECK(sorted(ids(r.rows, "R")) == Strings{"office-1", "room-2"});
    // relationship alias and its properties
    r = b.q("SELECT R.$dtId, E.since FROM DIGITALTWINS F JOIN R RELATED F.contains E WHERE E.since < '2021-01-01'");
    CHECK(r.rows == std::vector<json>{json{{"$dtId", "room-1"}, {"since", "2020-01-01"}}});
    // a chain: sensor -> room <- floor is not a JOIN (incoming); floor -near-> floor -contains-> room is
    r = b.q("SELECT F1.$dtId AS a, F2.$dtId AS b, X.$dtId AS c FROM DIGITALTWINS F1 JOIN F2 RELATED F1.near "
            "JOIN X RELATED F2.contains");
    CHECK(r.rows == std::vector<json>{json{{"a", "floor-1"}, {"b", "floor-2"}, {"c", "room-3"}}});
    // inner join: twins without the relationship are dropped
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS T JOIN X RELATED T.contains").rows == std::vector<json>{json{{"COUNT", 4}}});
    CHECK(b.q("SELECT X FROM DIGITALTWINS T JOIN X RELATED T.nothing").rows.empty());
}

TEST_CASE("MATCH: directions, names, hop ranges, variables, cycles", "[query]") {
    Building b;
    // one hop, any name, forward
    auto r = b.q("SELECT B FROM DIGITALTWINS MATCH (A)-[]->(B) WHERE A.$dtId = 'floor-1' ORDER BY B.$dtId");
    CHECK(ids(r.rows, "B") == Strings{"floor-2", "office-1", "room-1", "room-2"});
    // name alternatives
    r = b.q("SELECT B FROM DIGITALTWINS MATCH (A)-[:near|observes]->(B) WHERE A.$dtId = 'floor-1'");
    CHECK(ids(r.rows, "B") == Strings{"floor-2"});
    // backward
    r = b.q("SELECT A FROM DIGITALTWINS MATCH (A)<-[:observes]-(S) WHERE A.$dtId = 'floor-1'");
    CHECK(r.rows.empty());
    r = b.q("SELECT S FROM DIGITALTWINS MATCH (A)<-[:observes]-(S) WHERE A.$dtId = 'room-1'");
    CHECK(ids(r.rows, "S") == Strings{"sensor-1"});
    // undirected: room-1's neighbours either way
    r = b.q("SELECT N FROM DIGITALTWINS MATCH (A)-[]-(N) WHERE A.$dtId = 'room-1' ORDER BY N.$dtId");
    CHECK(ids(r.rows, "N") == Strings{"floor-1", "sensor-1"});
    // exact hops: floor-1 -near-> floor-2 -contains-> room-3
    r = b.q("SELECT B FROM DIGITALTWINS MATCH (A)-[*2]->(B) WHERE A.$dtId = 'floor-1'");
    CHECK(ids(r.rows, "B") == Strings{"room-3"});
    // *..2 = 1 or 2 hops
    r = b.q("SELECT B FROM DIGITALTWINS MATCH (A)-[*..2]->(B) WHERE A.$dtId = 'floor-1' ORDER BY B.$dtId");
    CHECK(ids(r.rows, "B") == Strings{"floor-2", "office-1", "room-1", "room-2", "room-3"});
    // *1..2: the lower bound is exclusive (ADT), so exactly 2 hops here
    r = b.q("SELECT B FROM DIGITALTWINS MATCH (A)-[*1..2]->(B) WHERE A.$dtId = 'floor-1'");
    CHECK(ids(r.rows, "B") == Strings{"room-3"});
    // undirected multi-hop never reuses a relationship: sensor-1 -> room-1 -> floor-1 -> {room-2, office-1, floor-2}
    r = b.q("SELECT B FROM DIGITALTWINS MATCH (A)-[*3]-(B) WHERE A.$dtId = 'sensor-1' ORDER BY B.$dtId");
    CHECK(ids(r.rows, "B") == Strings{"floor-2", "office-1", "room-2"});
    // a relationship variable on a single hop, filtered on its properties
    r = b.q("SELECT B, E FROM DIGITALTWINS MATCH (A)-[E:contains]->(B) WHERE A.$dtId = 'floor-1' AND E.since = '2020-01-01'");
    REQUIRE(r.rows.size() == 1);
    CHECK(r.rows[0]["B"]["$dtId"] == "room-1");
    CHECK(r.rows[0]["E"]["$relationshipId"] == "c1");
    // chains, anchored on the middle node
    r = b.q("SELECT S, F FROM DIGITALTWINS MATCH (S)-[:observes]->(R)<-[:contains]-(F) WHERE R.$dtId = 'room-2'");
    REQUIRE(r.rows.size() == 1);
    CHECK(r.rows[0]["S"]["$dtId"] == "sensor-2");
    CHECK(r.rows[0]["F"]["$dtId"] == "floor-1");
    // without any $dtId: a scan of the first node
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS MATCH (S)-[:observes]->(R)").rows == std::vector<json>{json{{"COUNT", 2}}});
}

TEST_CASE("MATCH on a cycle: each relationship at most once per path", "[query]") {
    graph::TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    for (const char* id : {"a", "b", "c"}) g.upsert_twin(id, test::floor_twin(1));
    g.upsert_relationship("a", "ab", test::rel("b", "near"));
    g.upsert_relationship("b", "bc", test::rel("c", "near"));
    g.upsert_relationship("c", "ca", test::rel("a", "near"));
    const auto q = [&](const char* text) { return ids(query_twins(g.snapshot(), text).rows, "B"); };
    CHECK(q("SELECT B FROM DIGITALTWINS MATCH (A)-[:near*3]->(B) WHERE A.$dtId = 'a'") == Strings{"a"});
    CHECK(q("SELECT B FROM DIGITALTWINS MATCH (A)-[:near*4]->(B) WHERE A.$dtId = 'a'").empty());
    CHECK(q("SELECT B FROM DIGITALTWINS MATCH (A)-[:near*..5]->(B) WHERE A.$dtId = 'a' ORDER BY B.$dtId") ==
          Strings{"a", "b", "c"});
}

TEST_CASE("ORDER BY: several keys, ASC/DESC, stable, undefined last", "[query]") {
    Building b;
    auto r = b.q("SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Space;1') ORDER BY T.temperature");
    CHECK(r.rows == std::vector<json>{json{{"$dtId", "room-1"}}, json{{"$dtId", "office-1"}}, json{{"$dtId", "room-2"}},
                                      json{{"$dtId", "room-3"}}});
    r = b.q("SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Space;1') ORDER BY T.temperature DESC");
    CHECK(r.rows == std::vector<json>{json{{"$dtId", "room-2"}}, json{{"$dtId", "office-1"}}, json{{"$dtId", "room-1"}},
                                      json{{"$dtId", "room-3"}}});
    r = b.q("SELECT T.$dtId FROM DIGITALTWINS T ORDER BY T.$metadata.$model DESC, T.$dtId ASC");
    CHECK(r.rows.front() == json{{"$dtId", "sensor-1"}});
    CHECK(r.rows[1] == json{{"$dtId", "sensor-2"}});
    CHECK(r.rows[2] == json{{"$dtId", "room-1"}});
    CHECK(r.rows.back() == json{{"$dtId", "floor-2"}});
    // ORDER BY an AS name
    r = b.q("SELECT T.$dtId AS id, T.number AS n FROM DIGITALTWINS T WHERE IS_DEFINED(T.number) ORDER BY n DESC");
    CHECK(r.rows == std::vector<json>{json{{"id", "floor-2"}, {"n", 2}}, json{{"id", "floor-1"}, {"n", 1}}});
}

TEST_CASE("GROUP BY with COUNT, SUM, AVG, MIN, MAX and aggregates without GROUP BY", "[query]") {
    Building b;
    auto r = b.q("SELECT T.$metadata.$model AS model, COUNT() AS n, AVG(T.temperature) AS avg, MIN(T.temperature), "
                 "MAX(T.temperature), SUM(T.humidity) FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Space;1') "
                 "GROUP BY T.$metadata.$model ORDER BY n DESC");
    REQUIRE(r.rows.size() == 2);
    CHECK(r.rows[0] == json{{"model", "dtmi:test:Room;1"}, {"n", 3}, {"avg", 23.25}, {"MIN", 21.5}, {"MAX", 25.0}, {"SUM", 95}});
    CHECK(r.rows[1] == json{{"model", "dtmi:test:Office;1"}, {"n", 1}, {"avg", 23.0}, {"MIN", 23.0}, {"MAX", 23.0}});
    r = b.q("SELECT COUNT() AS n, AVG(T.value) AS mean FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Sensor;1')");
    CHECK(r.rows == std::vector<json>{json{{"n", 2}, {"mean", 6.25}}});
    // no rows: COUNT 0, the rest undefined
    r = b.q("SELECT COUNT() AS n, SUM(T.value) AS s FROM DIGITALTWINS T WHERE T.value > 100");
    CHECK(r.rows == std::vector<json>{json{{"n", 0}}});
    CHECK_THROWS_AS(b.q("SELECT T.name, COUNT() FROM DIGITALTWINS T GROUP BY T.$metadata.$model"), QueryError);
}

TEST_CASE("paging: page size, continuation tokens, versions", "[query]") {
    Building b;
    const auto snap = b.graph.snapshot();
    QueryOptions o;
    o.page_size = 3;
    const char* text = "SELECT T.$dtId FROM DIGITALTWINS T ORDER BY T.$dtId";
    auto r = query_twins(snap, text, o);
    std::vector<json> all = r.rows;
    CHECK(r.rows.size() == 3);
    int pages = 1;
    while (!r.continuation_token.empty()) {
        CHECK(r.to_json()["continuationToken"] == r.continuation_token);
        r = continue_query(snap, r.continuation_token, o);
        all.insert(all.end(), r.rows.begin(), r.rows.end());
        ++pages;
    }
    CHECK(pages == 3);
    CHECK(all == query_twins(snap, text).rows);
    CHECK(r.to_json()["continuationToken"].is_null());
    CHECK(r.to_json()["value"].size() == 2);
    // the rest of a query comes from its cursor, on the snapshot of its first page
    const auto first = query_twins(snap, text, o);
    CHECK(first.stats.rows_examined > 0);
    b.graph.upsert_twin("floor-3", test::floor_twin(3));
    CHECK(b.graph.snapshot().version() != snap.version());
    const auto second = continue_query(b.graph.snapshot(), first.continuation_token, o);
    CHECK(second.rows == std::vector<json>(all.begin() + 3, all.begin() + 6));
    CHECK(second.stats.rows_examined == 0);  // resumed: no scan
    CHECK_THROWS_AS(continue_query(snap, "not a token!", o), QueryError);
    CHECK(continue_query(snap, first.continuation_token, o).rows.size() == 3);
}

namespace {

/// Restores the cursor limits a test changed.
struct LimitsGuard {
    CursorLimits saved = cursor_limits();
    ~LimitsGuard() { set_cursor_limits(saved); }
};

std::vector<json> all_pages(const graph::Snapshot& snap, const std::string& text, std::size_t page_size,
                            const graph::Snapshot* later = nullptr) {
    QueryOptions o;
    o.page_size = page_size;
    auto r = query_twins(snap, text, o);
    std::vector<json> all = r.rows;
    while (!r.continuation_token.empty()) {
        r = continue_query(later ? *later : snap, r.continuation_token, o);
        all.insert(all.end(), r.rows.begin(), r.rows.end());
    }
    return all;
}

}  // namespace

TEST_CASE("continuations resume the query's cursor: every page size gives the same rows, from the first page's snapshot",
          "[query]") {
    Building b;
    const auto snap = b.graph.snapshot();
    for (const char* text : {"SELECT T.$dtId, T.temperature FROM DIGITALTWINS T ORDER BY T.$dtId DESC",
                             "SELECT F.$dtId AS f, R.$dtId AS r, C.since FROM DIGITALTWINS F JOIN R RELATED F.contains C",
                             "SELECT T.$metadata.$model AS m, COUNT() AS n FROM DIGITALTWINS T GROUP BY T.$metadata.$model",
                             "SELECT * FROM RELATIONSHIPS", "SELECT TOP(5) T.$dtId FROM DIGITALTWINS T ORDER BY T.$dtId"}) {
        INFO(text);
        const std::vector<json> one = query_twins(snap, text).rows;
        REQUIRE(one.size() > 2);
        for (std::size_t size : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{100}}) CHECK(all_pages(snap, text, size) == one);
        // writes between pages (a twin deleted, another added, a value changed) do not show
        const auto g_ptr = graph::TwinGraph::from_snapshot(snap);
        graph::TwinGraph& g = *g_ptr;
        const auto before = g.snapshot();
        QueryOptions o;
        o.page_size = 2;
        auto r = query_twins(before, text, o);
        g.delete_relationship("floor-1", "c1");
        g.delete_relationship("sensor-1", "o1");
        g.delete_twin("room-1");
        g.upsert_twin("floor-3", test::floor_twin(3));
        std::vector<json> all = r.rows;
        while (!r.continuation_token.empty()) {
            r = continue_query(g.snapshot(), r.continuation_token, o);
            all.insert(all.end(), r.rows.begin(), r.rows.end());
        }
        CHECK(all == one);
    }
}

TEST_CASE("cursors held for continuation tokens are bounded in number and lifetime; a dropped one reruns on the same version",
          "[query]") {
    Building b;
    const LimitsGuard guard;
    const auto snap = b.graph.snapshot();
    const std::string text = "SELECT T.$dtId FROM DIGITALTWINS T ORDER BY T.$dtId";
    QueryOptions o;
    o.page_size = 3;
    set_cursor_limits(CursorLimits{});
    const std::size_t before = held_cursors();
    auto a = query_twins(snap, text, o);
    CHECK(held_cursors() == before + 1);
    // the last page drops the cursor
    auto next = continue_query(snap, a.continuation_token, o);
    next = continue_query(snap, next.continuation_token, o);
    CHECK(next.continuation_token.empty());
    CHECK(held_cursors() == before);
    // at most max_cursors, least recently used dropped first
    CursorLimits limits;
    limits.max_cursors = 2;
    set_cursor_limits(limits);
    CHECK(held_cursors() <= 2);
    const auto t1 = query_twins(snap, text, o).continuation_token;
    const auto t2 = query_twins(snap, text, o).continuation_token;
    const auto t3 = query_twins(snap, text, o).continuation_token;
    CHECK(held_cursors() == 2);
    CHECK(continue_query(snap, t3, o).stats.rows_examined == 0);
    CHECK(continue_query(snap, t2, o).stats.rows_examined == 0);
    // t1's cursor was dropped: the query runs again on a snapshot of the same version...
    const auto rerun = continue_query(snap, t1, o);
    CHECK(rerun.stats.rows_examined > 0);
    CHECK(ids(rerun.rows) == Strings{"room-1", "room-2", "room-3"});
    // ...and a changed graph makes the token expired, saying so
    limits.max_cursors = 0;
    set_cursor_limits(limits);
    CHECK(held_cursors() == 0);
    b.graph.upsert_twin("floor-3", test::floor_twin(3));
    CHECK_THROWS_WITH(continue_query(b.graph.snapshot(), t2, o), Catch::Contains("expired") && Catch::Contains("run the query again"));
    // an idle lifetime of zero drops every cursor at once
    limits = CursorLimits{};
    limits.idle_lifetime = std::chrono::steady_clock::duration::zero();
    set_cursor_limits(limits);
    (void)query_twins(snap, text, o);
    CHECK(held_cursors() == 0);
    // so does a bound on the rows they hold
    limits = CursorLimits{};
    limits.max_held_rows = 5;
    set_cursor_limits(limits);
    (void)query_twins(snap, text, o);  // 8 rows
    CHECK(held_cursors() == 0);
}

namespace {

/// Row k's member as the typed column holds it; nullopt where not valid.
std::optional<json> cell(const TypedColumn& c, std::size_t k) {
    using T = TypedColumn::Type;
    if (c.type == T::empty || !c.valid[k]) return std::nullopt;
    switch (c.type) {
    case T::int64: return json(c.i64[k]);
    case T::float64: return json(c.f64[k]);
    case T::boolean: return json(c.b[k] != 0);
    case T::string:
        return json(c.chars.substr(static_cast<std::size_t>(c.offsets[k]),
                                   static_cast<std::size_t>(c.offsets[k + 1] - c.offsets[k])));
    case T::dictionary: return json(c.dictionary.at(static_cast<std::size_t>(c.codes[k])));
    default: return c.values[k];
    }
}

/// Checks that every typed column holds exactly the rows' values.
void check_columns_match_rows(const graph::Snapshot& snap, const std::string& text) {
    INFO(text);
    const auto cursor = Cursor::open(snap, PreparedQuery(text));
    const QueryResult rows = cursor->page(0, 0);
    const std::vector<TypedColumn> cols = cursor->typed_columns(0, 0);
    REQUIRE(cols.size() == rows.columns.size());
    for (std::size_t c = 0; c < cols.size(); ++c) {
        CHECK(cols[c].name == rows.columns[c]);
        REQUIRE(cols[c].size == rows.rows.size());
        REQUIRE(cols[c].valid.size() == rows.rows.size());
        for (std::size_t k = 0; k < rows.rows.size(); ++k) {
            INFO("column " << cols[c].name << ", row " << k);
            const auto it = rows.rows[k].find(cols[c].name);
            const std::optional<json> got = cell(cols[c], k);
            if (it == rows.rows[k].end()) {
                CHECK_FALSE(cols[c].valid[k]);
                continue;
            }
            if (it->is_null() && cols[c].type != TypedColumn::Type::json) {
                CHECK_FALSE(cols[c].valid[k]);
                continue;
            }
            REQUIRE(got.has_value());
            if (it->is_number() && got->is_number()) CHECK(it->get<double>() == got->get<double>());
            else CHECK(*got == *it);
        }
    }
    // a sub-range is the same slice of every column
    if (rows.rows.size() > 2) {
        const auto part = cursor->typed_columns(1, 2);
        for (std::size_t c = 0; c < cols.size(); ++c) {
            REQUIRE(part[c].size == 2);
            CHECK(cell(part[c], 0) == cell(cols[c], 1));
            CHECK(cell(part[c], 1) == cell(cols[c], 2));
        }
    }
}

}  // namespace

TEST_CASE("typed columns hold the values of the rows: every scalar type, missing values, components, JOINs, groups",
          "[query]") {
    Building b;
    const auto snap = b.graph.snapshot();
    using T = TypedColumn::Type;
    const auto types = [&](const std::string& text) {
        std::vector<T> out;
        for (const auto& c : Cursor::open(snap, PreparedQuery(text))->typed_columns(0, 0)) out.push_back(c.type);
        return out;
    };
    const char* all = "SELECT T.$dtId, T.$metadata.$model AS model, T.temperature, T.humidity, T.name, T.occupied, "
                      "T.settings, T.readings, T.thermostat.setpoint AS setpoint, T.count, T.value, T.on, T.nope "
                      "FROM DIGITALTWINS T ORDER BY T.$dtId";
    check_columns_match_rows(snap, all);
    // $dtId string, model dictionary, temperature float64 (23.0, 25 and 21.5: some integral), humidity int64,
    // name string, occupied boolean, settings json, readings json, setpoint float64, count int64, value float64,
    // on boolean, nope empty
    CHECK(types(all) == std::vector<T>{T::string, T::dictionary, T::float64, T::int64, T::string, T::boolean, T::json,
                                       T::json, T::float64, T::int64, T::float64, T::boolean, T::empty});
    check_columns_match_rows(snap, "SELECT F.$dtId AS f, R, C.since, C.$relationshipName AS n FROM DIGITALTWINS F "
                                   "JOIN R RELATED F.contains C");
    CHECK(types("SELECT F.$dtId AS f, R, C.$relationshipName AS n FROM DIGITALTWINS F JOIN R RELATED F.contains C") ==
          std::vector<T>{T::string, T::json, T::dictionary});
    check_columns_match_rows(snap, "SELECT T.$metadata.$model AS m, COUNT() AS n, AVG(T.temperature) AS avg, "
                                   "MAX(T.name) AS top FROM DIGITALTWINS T GROUP BY T.$metadata.$model");
    check_columns_match_rows(snap, "SELECT COUNT() FROM DIGITALTWINS");
    check_columns_match_rows(snap, "SELECT * FROM DIGITALTWINS MATCH (A)-[R]->(B)");
    check_columns_match_rows(snap, "SELECT T.name, T.humidity = 40 AS dry FROM DIGITALTWINS T WHERE T.x = 1");
    // SELECT * rows are whole twins: no columns
    CHECK_THROWS_AS(Cursor::open(snap, PreparedQuery("SELECT * FROM DIGITALTWINS"))->typed_columns(0, 0), QueryError);
}

TEST_CASE("a garbled, truncated or forged continuation token is a clear QueryError", "[query]") {
    Building b;
    const auto snap = b.graph.snapshot();
    QueryOptions o;
    o.page_size = 3;
    const std::string token = query_twins(snap, "SELECT T.$dtId FROM DIGITALTWINS T", o).continuation_token;
    REQUIRE(continue_query(snap, token, o).rows.size() == 3);
    const auto invalid = Catch::Contains("invalid continuation token");
    CHECK_THROWS_WITH(continue_query(snap, "", o), invalid);
    CHECK_THROWS_WITH(continue_query(snap, "not a token!", o), invalid);
    CHECK_THROWS_WITH(continue_query(snap, token.substr(0, token.size() / 2), o), invalid);
    CHECK_THROWS_WITH(continue_query(snap, token + "A", o), invalid);
    CHECK_THROWS_WITH(continue_query(snap, std::string(100000, 'A'), o), invalid);
    for (std::size_t k = 0; k < token.size(); ++k) {
        std::string bad = token;
        bad[k] = bad[k] == 'A' ? 'B' : 'A';
        INFO(k);
        try {
            (void)continue_query(snap, bad, o);
            FAIL("a token with character " << k << " changed was accepted");
        } catch (const QueryError& e) {
            CHECK_THAT(e.what(), invalid);
        }
    }
}

TEST_CASE("Snapshot::version increases with every change", "[query]") {
    Building b;
    auto v0 = b.graph.snapshot().version();
    b.graph.upsert_twin("floor-3", test::floor_twin(3));
    auto v1 = b.graph.snapshot().version();
    CHECK(v1 > v0);
    b.graph.update_twin("floor-3", json::parse(R"([{"op":"replace","path":"/number","value":4}])"));
    auto v2 = b.graph.snapshot().version();
    CHECK(v2 > v1);
    b.graph.delete_twin("floor-3");
    CHECK(b.graph.snapshot().version() > v2);
}

TEST_CASE("caps on result and intermediate rows", "[query]") {
    Building b;
    QueryOptions o;
    o.max_rows = 3;
    CHECK_THROWS_WITH(b.q("SELECT * FROM DIGITALTWINS", o), Catch::Contains("max_rows (3)"));
    CHECK_THROWS_AS(b.q("SELECT X FROM DIGITALTWINS T JOIN X RELATED T.contains", o), QueryError);
    CHECK_THROWS_AS(b.q("SELECT B FROM DIGITALTWINS MATCH (A)-[*..3]-(B)", o), QueryError);
    // COUNT() materialises nothing, and a filter keeps results under the cap
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS", o).rows == std::vector<json>{json{{"COUNT", 8}}});
    CHECK(b.q("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Floor;1')", o).rows.size() == 2);
}

TEST_CASE("a query sees its snapshot, not later writes; PreparedQuery runs on any snapshot", "[query]") {
    Building b;
    const PreparedQuery pq("SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Floor;1')");
    const auto before = b.graph.snapshot();
    b.graph.upsert_twin("floor-3", test::floor_twin(3));
    CHECK(pq.run(before).rows[0]["COUNT"] == 2);
    CHECK(pq.run(b.graph.snapshot()).rows[0]["COUNT"] == 3);
}

TEST_CASE("query errors: unknown alias, misplaced aggregate, bad joins", "[query]") {
    Building b;
    // With two aliases a path must start with one of them.
    CHECK_THROWS_AS(b.q("SELECT F, R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE X.temperature > 1"),
                    QueryError);
    CHECK_THROWS_AS(b.q("SELECT * FROM DIGITALTWINS T WHERE COUNT() > 1"), QueryError);
    CHECK_THROWS_AS(b.q("SELECT X FROM DIGITALTWINS T JOIN X RELATED Y.contains"), QueryError);
    CHECK_THROWS_AS(b.q("SELECT * FROM DIGITALTWINS T WHERE NOPE(T.a)"), QueryError);
}

TEST_CASE("QueryResult::columns: the result members in SELECT order, on every page", "[query]") {
    Building b;
    // nlohmann::json objects iterate their keys alphabetically; columns keeps the SELECT order.
    auto r = b.q("SELECT T.temperature AS t, T.name, T.$dtId FROM DIGITALTWINS T WHERE T.$dtId = 'room-1'");
    CHECK(r.columns == Strings{"t", "name", "$dtId"});
    r = b.q("SELECT T.$metadata.$model AS model, COUNT() AS n, MAX(T.temperature), AVG(T.temperature) AS avg "
            "FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Space;1') GROUP BY T.$metadata.$model");
    CHECK(r.columns == Strings{"model", "n", "MAX", "avg"});
    CHECK(b.q("SELECT COUNT() AS rooms FROM DIGITALTWINS").columns == Strings{"rooms"});
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS").columns == Strings{"COUNT"});
    CHECK(b.q("SELECT T.name, IS_DEFINED(T.temperature) FROM DIGITALTWINS T").columns == Strings{"name", "$1"});
    // bare aliases
    CHECK(b.q("SELECT R, F FROM DIGITALTWINS F JOIN R RELATED F.contains").columns == Strings{"R", "F"});
    // whole twins or relationships: no columns
    CHECK(b.q("SELECT * FROM DIGITALTWINS").columns.empty());
    CHECK(b.q("SELECT * FROM RELATIONSHIPS").columns.empty());
    // no rows: the columns are still known
    CHECK(b.q("SELECT T.name, T.$dtId FROM DIGITALTWINS T WHERE T.x = 1").columns == Strings{"name", "$dtId"});
    // continuation pages carry them too
    QueryOptions o;
    o.page_size = 3;
    const auto snap = b.graph.snapshot();
    r = query_twins(snap, "SELECT T.name AS z, T.$dtId AS a FROM DIGITALTWINS T ORDER BY T.$dtId", o);
    CHECK(r.columns == Strings{"z", "a"});
    REQUIRE_FALSE(r.continuation_token.empty());
    const auto next = continue_query(snap, r.continuation_token, o);
    CHECK(next.rows.size() == 3);
    CHECK(next.columns == Strings{"z", "a"});
}

TEST_CASE("two SELECT items with the same result name are a QueryError naming both, at prepare time", "[query]") {
    Building b;
    const char* text = "SELECT F.$dtId, R.$dtId FROM DIGITALTWINS F JOIN R RELATED F.contains";
    try {
        const PreparedQuery pq(text);  // no snapshot needed: the names come from the syntax
        FAIL("no QueryError");
    } catch (const QueryError& e) {
        const std::string what = e.what();
        CHECK(what.find("items 1 (line 1, column 8) and 2 (line 1, column 17)") != std::string::npos);
        CHECK(what.find("'$dtId'") != std::string::npos);
        CHECK(what.find("AS") != std::string::npos);
        CHECK(e.position().column == 17);
        CHECK(e.token() == "$dtId");
    }
    // AS tells them apart
    const auto r = b.q("SELECT F.$dtId AS floor, R.$dtId AS room FROM DIGITALTWINS F JOIN R RELATED F.contains "
                       "WHERE R.$dtId = 'room-3'");
    CHECK(r.rows == std::vector<json>{json{{"floor", "floor-2"}, {"room", "room-3"}}});
    // the other ways to collide: an AS name with a path, two aggregates, an alias with a property
    CHECK_THROWS_AS(b.q("SELECT T.name, T.$dtId AS name FROM DIGITALTWINS T"), QueryError);
    CHECK_THROWS_AS(b.q("SELECT COUNT(), COUNT(T.temperature) FROM DIGITALTWINS T"), QueryError);
    CHECK_THROWS_AS(b.q("SELECT MIN(T.temperature) AS m, MAX(T.temperature) AS m FROM DIGITALTWINS T"), QueryError);
    CHECK_THROWS_AS(b.q("SELECT R, F.R FROM DIGITALTWINS F JOIN R RELATED F.contains"), QueryError);
    CHECK(b.q("SELECT COUNT(), MIN(T.temperature) FROM DIGITALTWINS T").rows ==
          std::vector<json>{json{{"COUNT", 8}, {"MIN", 21.5}}});
}

TEST_CASE("scans skip the model tables lacking the compared property without touching their rows (stats.rows_examined)",
          "[query]") {
    Building b;
    // 8 twins: 2 floors, 3 rooms, 1 office, 2 sensors; only Room and Office declare temperature.
    CHECK(b.q("SELECT * FROM DIGITALTWINS").stats.rows_examined == 8);
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS").stats.rows_examined == 0);  // live counts, no rows
    for (const char* text : {"SELECT COUNT() FROM DIGITALTWINS WHERE temperature > 22",
                             "SELECT COUNT() FROM DIGITALTWINS T WHERE T.temperature > 22",
                             "SELECT COUNT() FROM DIGITALTWINS WHERE 22 < temperature",
                             "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.temperature > 22"}) {
        INFO(text);
        const auto r = b.q(text);
        CHECK(r.stats.rows_examined == 4);  // the Room and Office tables only
        CHECK((r.rows[0].contains("COUNT") ? r.rows[0]["COUNT"].get<std::size_t>() : r.rows.size()) == 2);
    }
    // IS_OF_MODEL excludes tables whole too
    CHECK(b.q("SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Room;1', exact) AND temperature > 22")
              .stats.rows_examined == 3);
    // a $dtId anchor looks twins up instead of scanning
    CHECK(b.q("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'room-1'").stats.rows_examined == 0);
}

TEST_CASE("with a single alias, a bare property name and IS_OF_MODEL without an alias mean that alias", "[query]") {
    Building b;
    // ADT's function reference: SELECT * FROM DIGITALTWINS T WHERE IS_BOOL( HasTemperature )
    CHECK(test::ids(b.q("SELECT * FROM DIGITALTWINS T WHERE IS_BOOL( occupied )").rows) == Strings{"room-1"});
    CHECK(sorted(test::ids(b.q("SELECT * FROM DIGITALTWINS T WHERE temperature > 22 AND T.humidity > 50").rows)) ==
          Strings{"room-2"});
    // An object property's member, written without the alias.
    CHECK(test::ids(b.q("SELECT * FROM DIGITALTWINS T WHERE settings.mode = 'eco'").rows) == Strings{"room-2"});
    // ADT's: SELECT COUNT() FROM DIGITALTWINS c WHERE IS_OF_MODEL('dtmi:sample:Room;1') AND c.Capacity > 20
    const QueryResult count =
        b.q("SELECT COUNT() FROM DIGITALTWINS c WHERE IS_OF_MODEL('dtmi:test:Room;1') AND c.temperature > 22");
    REQUIRE(count.rows.size() == 1);
    CHECK(count.rows[0].at("COUNT") == 1);  // room-2 (25); office-1 (23) is an Office, which extends Space
    // FROM RELATIONSHIPS with one alias: a bare name is the relationship's property.
    CHECK(b.q("SELECT * FROM RELATIONSHIPS R WHERE since = '2020-01-01'").rows.size() == 1);
}

TEST_CASE("with several aliases, IS_OF_MODEL and paths without one say how many there are", "[query]") {
    Building b;
    const std::string join = "SELECT F, R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE ";
    try {
        (void)b.q(join + "IS_OF_MODEL('dtmi:test:Room;1')");
        FAIL("no QueryError");
    } catch (const QueryError& e) {
        CHECK(std::string(e.what()).find("name the alias when the query has 2 aliases (F, R)") != std::string::npos);
    }
    try {
        (void)b.q(join + "temperature > 1");
        FAIL("no QueryError");
    } catch (const QueryError& e) {
        CHECK(std::string(e.what()).find("unknown alias 'temperature'") != std::string::npos);
        CHECK(std::string(e.what()).find("2 aliases (F, R)") != std::string::npos);
    }
}

TEST_CASE("a deep expression that is within the nesting limit evaluates without exhausting the stack", "[query]") {
    Building b;
    // Nesting at the limit, evaluated against every twin: parentheses, NOTs and an AND chain.
    const std::uint32_t n = max_expression_depth - 2;
    std::string parens = "SELECT * FROM DIGITALTWINS T WHERE ";
    for (std::uint32_t k = 0; k < n; ++k) parens += '(';
    parens += "T.temperature > 22";
    for (std::uint32_t k = 0; k < n; ++k) parens += ')';
    CHECK(sorted(test::ids(b.q(parens).rows)) == Strings{"office-1", "room-2"});

    std::string nots = "SELECT * FROM DIGITALTWINS T WHERE ";
    for (std::uint32_t k = 0; k < n; ++k) nots += "NOT ";  // an even number: no negation in the end
    nots += "T.temperature > 22";
    REQUIRE(n % 2 == 0);
    CHECK(sorted(test::ids(b.q(nots).rows)) == Strings{"office-1", "room-2"});

    std::string chain = "SELECT * FROM DIGITALTWINS T WHERE T.temperature > 22";
    for (std::uint32_t k = 0; k + 1 < n; ++k) chain += " AND T.temperature > 22";
    CHECK(sorted(test::ids(b.q(chain).rows)) == Strings{"office-1", "room-2"});
}

TEST_CASE("scans over many 64-row blocks with deleted twins: COUNT and typed columns agree with a plain check",
          "[query]") {
    // 300 sensors (rows in five blocks of the Sensor table), every seventh deleted
    // (its row freed), `count` missing on every fifth; 200 rooms interleaved.
    graph::TwinGraph g{test::test_options()};
    g.add_models(test::building_models());
    std::vector<std::pair<double, long long>> alive;  // value, count (-1 = missing)
    for (int k = 0; k < 300; ++k) {
        json s = test::sensor(k * 0.5 - 20);
        if (k % 5 != 0) s["count"] = (k * 37) % 101;
        g.upsert_twin(test::numbered("s-", k), s);
        if (k < 200) g.upsert_twin(test::numbered("r-", k), test::room(15 + (k % 13)));
    }
    for (int k = 0; k < 300; ++k) {
        if (k % 7 == 3) g.delete_twin(test::numbered("s-", k));
        else alive.emplace_back(k * 0.5 - 20, k % 5 != 0 ? (k * 37) % 101 : -1);
    }
    const auto snap = g.snapshot();
    const auto count = [&](const std::string& where) {
        return query_twins(snap, "SELECT COUNT() FROM DIGITALTWINS T WHERE " + where).rows.at(0)["COUNT"].get<long long>();
    };
    long long above = 0, many = 0, both = 0, equal = 0;
    for (const auto& [v, c] : alive) {
        above += v > 33.5 ? 1 : 0;
        many += c > 50 ? 1 : 0;
        both += v <= 60 && c >= 20 ? 1 : 0;
        equal += c == 74 ? 1 : 0;
    }
    CHECK(count("T.value > 33.5") == above);
    CHECK(count("T.count > 50") == many);
    CHECK(count("T.value <= 60 AND 20 <= T.count") == both);
    CHECK(count("T.count = 74") == equal);
    CHECK(count("IS_OF_MODEL(T, 'dtmi:test:Sensor;1')") == static_cast<long long>(alive.size()));
    // the rows themselves, in the typed columns read straight from the scan positions
    check_columns_match_rows(snap, "SELECT T.$dtId, T.value, T.count, T.$metadata.$model AS m FROM DIGITALTWINS T "
                                   "WHERE T.value > 33.5");
    check_columns_match_rows(snap, "SELECT T.$dtId, T.count, T.value FROM DIGITALTWINS T WHERE T.count > 50 "
                                   "ORDER BY T.value DESC");
    check_columns_match_rows(snap, "SELECT T.temperature, T.value, T.$dtId FROM DIGITALTWINS T "
                                   "WHERE T.temperature > 20 OR T.value < -10");
    const auto cursor = Cursor::open(snap, PreparedQuery("SELECT T.$dtId, T.count FROM DIGITALTWINS T WHERE T.count > 50"));
    const auto cols = cursor->typed_columns(0, 0);
    CHECK(static_cast<long long>(cursor->size()) == many);
    CHECK(cols[0].type == TypedColumn::Type::string);
    CHECK(cols[1].type == TypedColumn::Type::int64);
}

TEST_CASE("a table with no freed row is counted by bit masks alone; its typed columns read every block", "[query]") {
    // 1,000 sensors and no deletion (every row of the Sensor table holds a twin: COUNT adds
    // popcounts without reading which twin), `count` missing on every third.
    graph::TwinGraph g{test::test_options()};
    g.add_models(test::building_models());
    long long above = 0, many = 0;
    for (int k = 0; k < 1000; ++k) {
        json s = test::sensor(k * 0.25 - 50);
        if (k % 3 != 0) s["count"] = (k * 53) % 97;
        g.upsert_twin(test::numbered("s-", k), s);
        above += k * 0.25 - 50 > 100.5 ? 1 : 0;
        many += k % 3 != 0 && (k * 53) % 97 >= 60 ? 1 : 0;
    }
    const auto snap = g.snapshot();
    const auto count = [&](const std::string& where) {
        return query_twins(snap, "SELECT COUNT() FROM DIGITALTWINS T WHERE " + where).rows.at(0)["COUNT"].get<long long>();
    };
    CHECK(count("T.value > 100.5") == above);
    CHECK(count("T.count >= 60") == many);
    CHECK(count("T.value > 1e9") == 0);
    check_columns_match_rows(snap, "SELECT T.$dtId, T.value, T.count FROM DIGITALTWINS T WHERE T.value > 100.5");
    check_columns_match_rows(snap, "SELECT T.count, T.$dtId FROM DIGITALTWINS T WHERE T.count >= 60");
    const auto cursor = Cursor::open(snap, PreparedQuery("SELECT T.value, T.count FROM DIGITALTWINS T WHERE T.value > 100.5"));
    const auto cols = cursor->typed_columns(0, 0);
    REQUIRE(static_cast<long long>(cursor->size()) == above);
    CHECK(cols[0].type == TypedColumn::Type::float64);
    CHECK(cols[1].type == TypedColumn::Type::int64);
    CHECK(cols[0].f64.front() == 100.75);
    CHECK(cols[0].f64.back() == 999 * 0.25 - 50);
}
