// The query executor: every clause on a small building, with the exact rows.
#include <catch2/catch.hpp>

#include <algorithm>

#include "query_fixtures.hpp"
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
