// The example queries of Azure Digital Twins' "Query the twin graph" how-to,
// adapted to the bundled building (scenarios/building/building.ndjson with
// models/building). Every expected row was worked out from the NDJSON file and
// scenarios/building/generate.py, not from twinsim: the comment above each
// check says how. (An independent Python script over the file's lines was used
// to double-check the hand counts while writing them; the values here are
// literal.)
//
// The building, from generate.py with its defaults (6 levels, 10 rooms each,
// seed 1): 278 twins and 551 relationships —
//   building (Building); level-00..05 (Level) isPartOf building;
//   room-plant (Room, usage plant) isPartOf level-00;
//   chiller-1, chiller-2 (Chiller); pump-c-duty / pump-c-standby (Pump) per chiller,
//     each pump feeds its chiller (medium chilledWater, priority 1 duty / 2 standby);
//   per level f: ahu-ff (AirHandlingUnit, component "filter"), fed by chiller-(f%2+1),
//     with ahu-ff-supply/return-air-temperature (TemperatureSensor);
//     zone-ff (Zone, "HVAC zone, level f") isPartOf level-ff, fed by ahu-ff (medium air)
//     and servedBy ahu-ff;
//     room-ff-01..10 (Room) isPartOf zone-ff and servedBy ahu-ff, usage by number:
//     01-06 office, 07-08 meeting, 09 kitchen, 10 storage; each with -temperature
//     (TemperatureSensor), -co2 (Co2Sensor), -occupancy (OccupancySensor) sensors,
//     room -hasPoint-> sensor and sensor -isPointOf-> room;
//   the plant room isLocationOf both chillers, the 4 pumps and the 6 AHUs.
// Models: Building, Level, Room, Zone extend Space; AirHandlingUnit, Chiller, Pump
// extend Equipment; TemperatureSensor, Co2Sensor, OccupancySensor extend Sensor,
// which extends Point.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/query/query.hpp"

namespace {

using nlohmann::json;
using twinsim::graph::Snapshot;
using twinsim::graph::TwinGraph;
using Ids = std::vector<std::string>;

const Snapshot& building() {
    static const Snapshot snapshot = [] {
        TwinGraph graph;
        const std::vector<std::filesystem::path> models{twinsim::test::source_dir() / "models" / "building"};
        graph.add_models(twinsim::dtdl::read_documents(models));
        twinsim::graph::import_ndjson(graph, twinsim::test::source_dir() / "scenarios" / "building" / "building.ndjson");
        return graph.snapshot();
    }();
    return snapshot;
}

/// Every row of the query (one page).
std::vector<json> rows(const std::string& query) {
    twinsim::query::QueryOptions options;
    options.page_size = 0;
    INFO(query);
    twinsim::query::QueryResult result = twinsim::query::query_twins(building(), query, options);
    REQUIRE(result.continuation_token.empty());
    return std::move(result.rows);
}

/// The sorted values of member `key` of each row (rows lacking it are skipped;
/// `key` may be "A.$dtId" for a member of a member).
Ids column(const std::vector<json>& result, const std::string& key = "$dtId") {
    Ids out;
    const auto dot = key.find('.');
    for (const json& row : result) {
        const json* value = &row;
        if (dot != std::string::npos) {
            if (!row.contains(key.substr(0, dot))) continue;
            value = &row.at(key.substr(0, dot));
        }
        const std::string member = dot == std::string::npos ? key : key.substr(dot + 1);
        if (value->contains(member)) out.push_back(value->at(member).get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
}

Ids ids_of(const std::string& query, const std::string& key = "$dtId") { return column(rows(query), key); }

std::int64_t count_of(const std::string& query) {
    const std::vector<json> result = rows(query);
    REQUIRE(result.size() == 1);
    return result[0].at("COUNT").get<std::int64_t>();
}

Ids rooms_of_level(int level) {
    Ids out;
    for (int r = 1; r <= 10; ++r) {
        out.push_back("room-0" + std::to_string(level) + (r < 10 ? "-0" : "-") + std::to_string(r));
    }
    return out;
}

constexpr const char* ns = "dtmi:twinsim:building:";
std::string model(const char* name) { return std::string(ns) + name + ";1"; }

}  // namespace

TEST_CASE("ADT examples: all twins, by id, by property", "[query_examples]") {
    // 278 twin lines in the Twins section: 1 building + 6 levels + 1 plant room +
    // 2 chillers + 4 pumps + 6 AHUs + 12 AHU sensors + 6 zones + 60 rooms + 180 room sensors.
    CHECK(rows("SELECT * FROM DIGITALTWINS").size() == 278);

    // Query by id: the twin line of room-02-03, returned whole.
    const std::vector<json> one = rows("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'room-02-03'");
    REQUIRE(one.size() == 1);
    CHECK(one[0]["$dtId"] == "room-02-03");
    CHECK(one[0]["$metadata"]["$model"] == model("Room"));
    CHECK(one[0]["name"] == "Room 2.03");
    CHECK(one[0]["usage"] == "office");
    CHECK(one[0]["temperature"] == 24.16);
    CHECK(one[0]["capacity"] == 2);
    CHECK(one[0].contains("$etag"));

    // Query by property value: room number 09 of each level is the kitchen
    // (ROOM_USAGES[8] in generate.py).
    CHECK(ids_of("SELECT * FROM DIGITALTWINS T WHERE T.usage = 'kitchen'") ==
          Ids{"room-00-09", "room-01-09", "room-02-09", "room-03-09", "room-04-09", "room-05-09"});
    // Without an alias, as in ADT's "SELECT * FROM DIGITALTWINS WHERE firmwareVersion = '1.1'".
    CHECK(ids_of("SELECT * FROM DIGITALTWINS WHERE usage = 'kitchen'").size() == 6);
    // Names and values are case-sensitive: no room has usage 'Kitchen', no twin a property 'Usage'.
    CHECK(rows("SELECT * FROM DIGITALTWINS T WHERE T.usage = 'Kitchen'").empty());
    CHECK(rows("SELECT * FROM DIGITALTWINS T WHERE T.Usage = 'kitchen'").empty());
    // Keywords are not: lower-case select/from/where.
    CHECK(ids_of("select * from digitaltwins t where t.usage = 'kitchen'").size() == 6);

    // Numeric comparison: rooms warmer than 24.5 degrees, read off the room lines
    // (room-01-05 24.88, room-02-01 24.94, room-03-02 24.78, room-03-04 24.64,
    // room-03-10 24.75, room-04-08 24.72, room-05-04 24.54, room-05-07 24.79,
    // room-plant 24.54). Temperature sensors also have a "temperature" but are
    // excluded by IS_OF_MODEL.
    CHECK(ids_of("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '" + model("Room") + "') AND T.temperature > 24.5") ==
          Ids{"room-01-05", "room-02-01", "room-03-02", "room-03-04", "room-03-10", "room-04-08", "room-05-04",
              "room-05-07", "room-plant"});

    // A nested object property: the building's address.city is Rotterdam, and no
    // other twin has an address.
    CHECK(ids_of("SELECT * FROM DIGITALTWINS T WHERE T.address.city = 'Rotterdam'") == Ids{"building"});
    // A component property: AHU filters with a pressure drop above 200 Pa
    // (ahu-00 206.3, ahu-02 202.1, ahu-03 224.9, ahu-04 242.3, ahu-05 237.7; ahu-01 is lower).
    CHECK(ids_of("SELECT * FROM DIGITALTWINS T WHERE T.filter.pressureDrop > 200") ==
          Ids{"ahu-00", "ahu-02", "ahu-03", "ahu-04", "ahu-05"});
    // $metadata.$model.
    CHECK(ids_of("SELECT * FROM DIGITALTWINS T WHERE T.$metadata.$model = '" + model("Chiller") + "'") ==
          Ids{"chiller-1", "chiller-2"});
}

TEST_CASE("ADT examples: by model, with inheritance and exact", "[query_examples]") {
    // Space is extended by Building (1), Level (6), Room (61: 60 + the plant room) and Zone (6).
    CHECK(rows("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('" + model("Space") + "')").size() == 74);
    // No twin's model is Space itself.
    CHECK(rows("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('" + model("Space") + "', exact)").empty());
    // Equipment: 2 chillers + 4 pumps + 6 AHUs.
    CHECK(ids_of("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '" + model("Equipment") + "')") ==
          Ids{"ahu-00", "ahu-01", "ahu-02", "ahu-03", "ahu-04", "ahu-05", "chiller-1", "chiller-2", "pump-1-duty",
              "pump-1-standby", "pump-2-duty", "pump-2-standby"});
    // Point (via Sensor): 12 AHU air-temperature sensors + 3 sensors in each of 60 rooms.
    CHECK(rows("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('" + model("Point") + "')").size() == 192);
    // TemperatureSensor exactly: 12 AHU + 60 room temperature sensors.
    CHECK(rows("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('" + model("TemperatureSensor") + "', exact)").size() == 72);
    // ADT's "SELECT ROOM FROM DIGITALTWINS ROOM WHERE IS_OF_MODEL(ROOM, ...)": rows {"ROOM": twin}.
    const std::vector<json> levels = rows("SELECT LEVEL FROM DIGITALTWINS LEVEL WHERE IS_OF_MODEL(LEVEL, '" + model("Level") + "')");
    CHECK(column(levels, "LEVEL.$dtId") == Ids{"level-00", "level-01", "level-02", "level-03", "level-04", "level-05"});
    // An unknown model is not an error: no rows.
    CHECK(rows("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:twinsim:building:Nothing;1')").empty());
}

TEST_CASE("ADT examples: COUNT and TOP", "[query_examples]") {
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS") == 278);
    // 60 Co2Sensor twins, one per room.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('" + model("Co2Sensor") + "')") == 60);
    // Every room (61) and every temperature sensor (72) has a "temperature": 133.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS WHERE IS_DEFINED(temperature)") == 133);
    // COUNT over a JOIN: the 4 pumps among the 12 assets the plant room isLocationOf.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS P JOIN E RELATED P.isLocationOf WHERE P.$dtId = 'room-plant' "
                   "AND IS_OF_MODEL(E, '" + model("Pump") + "')") == 4);
    // COUNT of nothing is a row with 0.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS WHERE usage = 'server'") == 0);

    // TOP(n): at most n rows, each satisfying the filter; 61 rooms qualify.
    const std::vector<json> top = rows("SELECT TOP(5) FROM DIGITALTWINS WHERE IS_OF_MODEL('" + model("Room") + "')");
    CHECK(top.size() == 5);
    for (const json& row : top) CHECK(row["$metadata"]["$model"] == model("Room"));
    // Fewer qualify than asked for: the 2 chillers.
    CHECK(rows("SELECT TOP(3) * FROM DIGITALTWINS WHERE IS_OF_MODEL('" + model("Chiller") + "')").size() == 2);
}

TEST_CASE("ADT examples: projections", "[query_examples]") {
    // level-03's line: name "Level 3", area 420.0.
    std::vector<json> r = rows("SELECT T.name, T.area FROM DIGITALTWINS T WHERE T.$dtId = 'level-03'");
    REQUIRE(r.size() == 1);
    CHECK(r[0] == json{{"name", "Level 3"}, {"area", 420.0}});
    // A projected property a twin lacks is left out of its row: levels have no capacity.
    r = rows("SELECT T.$dtId, T.capacity FROM DIGITALTWINS T WHERE T.$dtId IN ['level-01', 'room-01-01']");
    REQUIRE(r.size() == 2);
    std::sort(r.begin(), r.end(), [](const json& a, const json& b) { return a["$dtId"] < b["$dtId"]; });
    CHECK(r[0] == json{{"$dtId", "level-01"}});
    CHECK(r[1] == json{{"$dtId", "room-01-01"}, {"capacity", 2}});
    // A nested property projects its last name: {"city": ...}.
    r = rows("SELECT B.address.city FROM DIGITALTWINS B WHERE IS_OF_MODEL(B, '" + model("Building") + "')");
    REQUIRE(r.size() == 1);
    CHECK(r[0] == json{{"city", "Rotterdam"}});
}

TEST_CASE("ADT examples: JOIN ... RELATED, chains, relationship properties", "[query_examples]") {
    // room-03-04 isPartOf zone-03 (its only isPartOf relationship).
    std::vector<json> r = rows("SELECT Zone FROM DIGITALTWINS Room JOIN Zone RELATED Room.isPartOf WHERE Room.$dtId = 'room-03-04'");
    REQUIRE(r.size() == 1);
    CHECK(r[0]["Zone"]["$dtId"] == "zone-03");
    CHECK(r[0]["Zone"]["name"] == "HVAC zone, level 3");

    // Both sides: room-01-01 hasPoint its three sensors.
    r = rows("SELECT Room, Sensor FROM DIGITALTWINS Room JOIN Sensor RELATED Room.hasPoint WHERE Room.$dtId = 'room-01-01'");
    CHECK(column(r, "Sensor.$dtId") == Ids{"room-01-01-co2", "room-01-01-occupancy", "room-01-01-temperature"});
    CHECK(column(r, "Room.$dtId") == Ids{"room-01-01", "room-01-01", "room-01-01"});

    // The plant room isLocationOf 12 assets; with a filter on the joined twin, the two chillers.
    CHECK(ids_of("SELECT E.$dtId FROM DIGITALTWINS P JOIN E RELATED P.isLocationOf WHERE P.$dtId = 'room-plant'").size() == 12);
    CHECK(ids_of("SELECT E.$dtId FROM DIGITALTWINS P JOIN E RELATED P.isLocationOf WHERE P.$dtId = 'room-plant' "
                 "AND E.coolingCapacity = 400") == Ids{"chiller-1", "chiller-2"});

    // A chain of JOINs: pump-1-duty feeds chiller-1, which feeds the AHUs of the
    // even levels (generate.py: chillers[f % 2]): ahu-00, ahu-02, ahu-04.
    r = rows("SELECT Chiller, AHU FROM DIGITALTWINS Pump JOIN Chiller RELATED Pump.feeds "
             "JOIN AHU RELATED Chiller.feeds WHERE Pump.$dtId = 'pump-1-duty'");
    CHECK(column(r, "AHU.$dtId") == Ids{"ahu-00", "ahu-02", "ahu-04"});
    CHECK(column(r, "Chiller.$dtId") == Ids{"chiller-1", "chiller-1", "chiller-1"});

    // Relationship properties in WHERE and SELECT: only the standby pumps feed with priority 2.
    r = rows("SELECT Pump, Chiller, R FROM DIGITALTWINS Pump JOIN Chiller RELATED Pump.feeds R WHERE R.priority = 2");
    CHECK(column(r, "Pump.$dtId") == Ids{"pump-1-standby", "pump-2-standby"});
    CHECK(column(r, "Chiller.$dtId") == Ids{"chiller-1", "chiller-2"});
    for (const json& row : r) {
        CHECK(row["R"]["$relationshipName"] == "feeds");
        CHECK(row["R"]["medium"] == "chilledWater");
        CHECK(row["R"]["$sourceId"] == row["Pump"]["$dtId"]);
    }
    // ahu-03 feeds zone-03 with medium air.
    r = rows("SELECT R.medium FROM DIGITALTWINS A JOIN Z RELATED A.feeds R WHERE A.$dtId = 'ahu-03'");
    REQUIRE(r.size() == 1);
    CHECK(r[0] == json{{"medium", "air"}});
    // Inner join: a twin without the relationship gives no row (sensors have no hasPoint).
    CHECK(rows("SELECT X FROM DIGITALTWINS S JOIN X RELATED S.hasPoint WHERE S.$dtId = 'room-01-01-co2'").empty());
}

TEST_CASE("ADT examples: MATCH with names, directions, hops, variables and chains", "[query_examples]") {
    // One hop, reversed: level-00 is the target of isPartOf from room-plant and zone-00.
    CHECK(ids_of("SELECT room FROM DIGITALTWINS MATCH (level)<-[:isPartOf]-(room) WHERE level.$dtId = 'level-00'", "room.$dtId") ==
          Ids{"room-plant", "zone-00"});
    // Exactly 2 hops back from level-02: zone-02 (1 hop) is left out, its 10 rooms remain.
    CHECK(ids_of("SELECT room FROM DIGITALTWINS MATCH (level)<-[:isPartOf*2]-(room) WHERE level.$dtId = 'level-02'",
                 "room.$dtId") == rooms_of_level(2));
    // Up to 2 hops: zone-02 and its rooms.
    Ids expected = rooms_of_level(2);
    expected.emplace_back("zone-02");
    std::sort(expected.begin(), expected.end());
    CHECK(ids_of("SELECT x FROM DIGITALTWINS MATCH (level)<-[:isPartOf*..2]-(x) WHERE level.$dtId = 'level-02'",
                 "x.$dtId") == expected);
    // From the building, isPartOf reversed: 6 levels at 1 hop, 6 zones + the plant
    // room at 2, 60 rooms at 3. *..3 is 1 to 3 hops (73); *1..3 has ADT's exclusive
    // lower bound, so 2 to 3 hops (67).
    CHECK(rows("SELECT x FROM DIGITALTWINS MATCH (b)<-[:isPartOf*..3]-(x) WHERE b.$dtId = 'building'").size() == 73);
    CHECK(rows("SELECT x FROM DIGITALTWINS MATCH (b)<-[:isPartOf*1..3]-(x) WHERE b.$dtId = 'building'").size() == 67);
    // ADT's "MATCH (building)-[*..3]->(sensor) WHERE ... AND sensor.Temperature = 80",
    // adapted (the building's relationships point up, from the rooms): the
    // occupancy sensors within 3 hops of room-03-04 over hasPoint, isPartOf and
    // servedBy. room-03-04 hasPoint its 3 sensors (1 hop); the rest of the reach
    // (zone-03 -> level-03 -> building; ahu-03, also via zone-03, and the AHU's 2
    // air-temperature sensors) holds no other twin with a peopleCount, and no
    // path reaches the room's sensors twice (none of these names leads back).
    CHECK(ids_of("SELECT s FROM DIGITALTWINS MATCH (room)-[:hasPoint|isPartOf|servedBy*..3]->(s) "
                 "WHERE room.$dtId = 'room-03-04' AND IS_DEFINED(s.peopleCount)",
                 "s.$dtId") == Ids{"room-03-04-occupancy"});
    // The same reach counted, one row per path: 3 room sensors + zone-03,
    // level-03, building + ahu-03 twice (servedBy from the room, and from
    // zone-03) + each of its 2 sensors twice (at 2 and 3 hops) = 12.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS MATCH (room)-[:hasPoint|isPartOf|servedBy*..3]->(x) "
                   "WHERE room.$dtId = 'room-03-04'") == 12);
    // Alternatives: room-04-02 isPartOf zone-04 and is servedBy ahu-04.
    CHECK(ids_of("SELECT x FROM DIGITALTWINS MATCH (room)-[:isPartOf|servedBy]->(x) WHERE room.$dtId = 'room-04-02'",
                 "x.$dtId") == Ids{"ahu-04", "zone-04"});
    // A relationship variable: ahu-03 -feeds-> zone-03 (medium air).
    std::vector<json> r = rows("SELECT ahu, r, zone FROM DIGITALTWINS MATCH (ahu)-[r:feeds]->(zone) WHERE ahu.$dtId = 'ahu-03'");
    REQUIRE(r.size() == 1);
    CHECK(r[0]["zone"]["$dtId"] == "zone-03");
    CHECK(r[0]["r"]["medium"] == "air");
    CHECK(r[0]["r"]["$relationshipId"] == "feeds-1");
    // A chain of three steps: pump-2-standby feeds chiller-2, which feeds ahu-01,
    // ahu-03 and ahu-05, each servedBy... from its zone and 10 rooms: 3 x 11 = 33.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS MATCH (pump)-[:feeds]->(chiller)-[:feeds]->(ahu)<-[:servedBy]-(space) "
                   "WHERE pump.$dtId = 'pump-2-standby'") == 33);
    r = rows("SELECT space.$dtId FROM DIGITALTWINS MATCH (pump)-[:feeds]->(chiller)-[:feeds]->(ahu)<-[:servedBy]-(space) "
             "WHERE pump.$dtId = 'pump-2-standby' AND IS_OF_MODEL(space, '" + model("Zone") + "')");
    CHECK(column(r) == Ids{"zone-01", "zone-03", "zone-05"});
}

TEST_CASE("ADT examples: IN, NIN, STARTSWITH, ENDSWITH, CONTAINS, IS_DEFINED and type checks", "[query_examples]") {
    // Meeting rooms (07, 08) and kitchens (09) on 6 levels: 18.
    CHECK(rows("SELECT * FROM DIGITALTWINS T WHERE T.usage IN ['meeting', 'kitchen']").size() == 18);
    // Rooms neither office nor meeting: 6 kitchens, 6 storage rooms, the plant room.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '" + model("Room") +
                   "') AND T.usage NIN ['office', 'meeting']") == 13);
    CHECK(ids_of("SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$dtId IN ['chiller-1', 'pump-2-duty', 'no-such-twin']") ==
          Ids{"chiller-1", "pump-2-duty"});
    CHECK(ids_of("SELECT T.$dtId FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'pump-')") ==
          Ids{"pump-1-duty", "pump-1-standby", "pump-2-duty", "pump-2-standby"});
    // One CO2 sensor per room.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS T WHERE ENDSWITH(T.$dtId, '-co2')") == 60);
    // Only the zones' names ("HVAC zone, level f") contain "zone" (case-sensitive).
    CHECK(ids_of("SELECT T.$dtId FROM DIGITALTWINS T WHERE CONTAINS(T.name, 'zone')") ==
          Ids{"zone-00", "zone-01", "zone-02", "zone-03", "zone-04", "zone-05"});
    // IS_DEFINED: only the building has an address; only the 6 AHUs a filter component.
    CHECK(ids_of("SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(address)") == Ids{"building"});
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_DEFINED(T.filter.pressureDrop)") == 6);
    // Type checks: usage is a string on every room (61); the address an object.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_STRING(T.usage)") == 61);
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OBJECT(T.address)") == 1);
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_NUMBER(T.coolingCapacity)") == 2);
    // NOT and OR: Space twins that are neither rooms nor levels: the building and 6 zones.
    CHECK(count_of("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '" + model("Space") + "') AND NOT (IS_OF_MODEL(T, '" +
                   model("Room") + "') OR IS_OF_MODEL(T, '" + model("Level") + "'))") == 7);
}

TEST_CASE("ADT examples: FROM RELATIONSHIPS", "[query_examples]") {
    // 551 relationship lines: 192 hasPoint, 192 isPointOf, 73 isPartOf, 66 servedBy,
    // 16 feeds, 12 isLocationOf.
    CHECK(count_of("SELECT COUNT() FROM RELATIONSHIPS") == 551);
    CHECK(rows("SELECT * FROM RELATIONSHIPS R WHERE R.$relationshipName = 'feeds'").size() == 16);
    // pump-1-duty has one relationship: feeds-1 to chiller-1, chilledWater, priority 1.
    std::vector<json> r = rows("SELECT * FROM RELATIONSHIPS R WHERE R.$sourceId = 'pump-1-duty'");
    REQUIRE(r.size() == 1);
    CHECK(r[0]["$relationshipId"] == "feeds-1");
    CHECK(r[0]["$targetId"] == "chiller-1");
    CHECK(r[0]["$relationshipName"] == "feeds");
    CHECK(r[0]["medium"] == "chilledWater");
    CHECK(r[0]["priority"] == 1);
    // Relationship properties: 4 pump -> chiller + 6 chiller -> AHU relationships carry chilledWater.
    CHECK(count_of("SELECT COUNT() FROM RELATIONSHIPS R WHERE R.medium = 'chilledWater'") == 10);
    // The standby pumps' relationships (priority 2), by source.
    CHECK(ids_of("SELECT R.$sourceId FROM RELATIONSHIPS R WHERE R.priority = 2", "$sourceId") ==
          Ids{"pump-1-standby", "pump-2-standby"});
    // Relationships into zone-03: isPartOf from its 10 rooms, feeds from ahu-03.
    CHECK(count_of("SELECT COUNT() FROM RELATIONSHIPS R WHERE R.$targetId = 'zone-03'") == 11);
}
