// Ingestion from NDJSON messages, long and wide CSV and table rows into a graph.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "ingest_fixture.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/live/ingest/ingest.hpp"
#include "twinsim/live/ingest/message_ids.hpp"

using namespace twinsim;
using namespace twinsim::live::ingest;
using nlohmann::json;

namespace {

struct Setup {
    std::unique_ptr<graph::TwinGraph> graph = test::ingest_graph();
    Mapping mapping = Mapping::load_file(test::ingest_sample("mapping.yaml"), *graph->snapshot().models());
};

json property(const graph::TwinGraph& g, const std::string& twin, const std::string& name) {
    const json t = g.get_twin(twin);
    return t.contains(name) ? t[name] : json();
}

std::string source_time(const graph::TwinGraph& g, const std::string& twin, const std::string& name) {
    const json t = g.get_twin(twin);
    return t["$metadata"].contains(name) ? t["$metadata"][name].value("sourceTime", "") : "";
}

std::vector<std::string> lines_of(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

}  // namespace

TEST_CASE("sample messages: through a relationship, by a transformed id, by a property value; units converted", "[ingest]") {
    Setup s;
    Ingestor ingestor(*s.graph, &s.mapping);
    const IngestReport r = ingestor.ingest_files({test::ingest_sample("messages.ndjson")});
    CHECK(r.bad_rows.empty());
    CHECK(r.applied);
    CHECK(r.rows == 4);
    CHECK(r.duplicates == 1);  // m2 twice
    CHECK(r.updates == 3);
    // 71.6 degF from thermostat-1 lands on room-1, which it serves, in degreeCelsius.
    CHECK(property(*s.graph, "room-1", "temperature").get<double>() == Approx(22.0));
    CHECK(property(*s.graph, "thermostat-1", "setpoint").get<double>() == Approx(21.0));  // untouched
    // {"dev": "AHU-3", "sat": 14.2} sets supplyTemperature of ahu-3.
    CHECK(property(*s.graph, "ahu-3", "supplyTemperature").get<double>() == Approx(14.2));
    // The meter found by its serial number; 0.125 MWh = 125 kWh.
    CHECK(property(*s.graph, "meter-a", "energy").get<double>() == Approx(125.0));
    // Source timestamps are kept as the property's sourceTime.
    CHECK(source_time(*s.graph, "room-1", "temperature") == "2026-07-01T12:00:00.0000000Z");
    CHECK(source_time(*s.graph, "ahu-3", "supplyTemperature") == "2026-07-01T12:00:05.0000000Z");
}

TEST_CASE("duplicates are dropped across calls within the window, and the window is bounded", "[ingest]") {
    Setup s;
    test::TempDir dir;
    const auto a = dir.write("a.ndjson", R"({"id": "x1", "dev": "ahu-3", "sat": 10}
{"id": "x2", "dev": "ahu-3", "sat": 11}
)");
    const auto b = dir.write("b.ndjson", R"({"id": "x1", "dev": "ahu-3", "sat": 99}
)");
    IngestOptions options;
    options.dedup_window = 2;
    Ingestor ingestor(*s.graph, &s.mapping, options);
    CHECK(ingestor.ingest_files({a}).updates == 2);
    IngestReport r = ingestor.ingest_files({b});
    CHECK(r.duplicates == 1);
    CHECK(property(*s.graph, "ahu-3", "supplyTemperature") == 11.0);
    // Two newer ids push x1 out of a window of 2: it is accepted again.
    const auto c = dir.write("c.ndjson", R"({"id": "x3", "dev": "ahu-3", "sat": 12}
{"id": "x4", "dev": "ahu-3", "sat": 13}
)");
    CHECK(ingestor.ingest_files({c}).updates == 2);
    r = ingestor.ingest_files({b});
    CHECK(r.duplicates == 0);
    CHECK(property(*s.graph, "ahu-3", "supplyTemperature") == 99.0);
}

TEST_CASE("out-of-order messages: arrival order wins by default (as ADT); source_time drops older ones", "[ingest]") {
    test::TempDir dir;
    const auto file = dir.write("m.ndjson", R"({"time": "2026-07-01T12:00:10Z", "dev": "ahu-3", "sat": 15}
{"time": "2026-07-01T12:00:05Z", "dev": "ahu-3", "sat": 14}
)");
    {
        Setup s;
        Ingestor ingestor(*s.graph, &s.mapping);
        const IngestReport r = ingestor.ingest_files({file});
        CHECK(r.stale == 0);
        CHECK(property(*s.graph, "ahu-3", "supplyTemperature") == 14.0);
        CHECK(source_time(*s.graph, "ahu-3", "supplyTemperature") == "2026-07-01T12:00:05.0000000Z");
    }
    {
        Setup s;
        IngestOptions options;
        options.order = OrderPolicy::source_time;
        Ingestor ingestor(*s.graph, &s.mapping, options);
        IngestReport r = ingestor.ingest_files({file});
        CHECK(r.stale == 1);
        CHECK(r.updates == 1);
        CHECK(property(*s.graph, "ahu-3", "supplyTemperature") == 15.0);
        CHECK(source_time(*s.graph, "ahu-3", "supplyTemperature") == "2026-07-01T12:00:10.0000000Z");
        // Against the graph's stored sourceTime too, in a later call.
        r = ingestor.ingest_files({file});
        CHECK(r.stale == 1);  // 12:00:10 again is not older; 12:00:05 is
        CHECK(property(*s.graph, "ahu-3", "supplyTemperature") == 15.0);
    }
}

TEST_CASE("bad rows are reported with file, line, field and reason; reject applies nothing", "[ingest]") {
    Setup s;
    test::TempDir dir;
    const auto file = dir.write("m.ndjson", R"({"dev": "ahu-3", "sat": 15}
{"dev": "ahu-9", "sat": 15}
{"dev": "ahu-3", "sat": "warm"}
not json
{"time": "yesterday", "dev": "ahu-3", "sat": 1}
{"something": "else"}

{"type": "thermostat", "device": "ahu-3", "temperature": 70}
)");
    Ingestor ingestor(*s.graph, &s.mapping);
    const IngestReport r = ingestor.ingest_files({file});
    CHECK_FALSE(r.applied);
    CHECK(r.rows == 7);
    REQUIRE(r.bad_rows.size() == 6);
    const std::string f = file.string();
    CHECK(r.bad_rows[0].to_string() == f + ":2: dev: no twin 'ahu-9' (mapping 'ahu-supply-air')");
    CHECK(r.bad_rows[1].to_string() == f + ":3: sat: twin 'ahu-3', property 'supplyTemperature': expected a number, found \"warm\"");
    CHECK(r.bad_rows[2].to_string().rfind(f + ":4: malformed JSON near", 0) == 0);
    CHECK(r.bad_rows[3].line == 5);
    CHECK(r.bad_rows[3].field == "time");
    CHECK(r.bad_rows[4].to_string() == f + ":6: no mapping applies to this message (fields: something)");
    CHECK(r.bad_rows[5].to_string() ==
          f + ":8: device: twin 'ahu-3' is not a dtmi:example:ingest:Thermostat;1 (mapping 'thermostat-reading')");
    CHECK_FALSE(s.graph->get_twin("ahu-3").contains("supplyTemperature"));  // line 1 was not applied either
}

TEST_CASE("dead-letter policy applies the good rows and writes the bad ones with their reasons", "[ingest]") {
    Setup s;
    test::TempDir dir;
    const auto file = dir.write("m.ndjson", R"({"dev": "ahu-3", "sat": 15}
{"dev": "ahu-9", "sat": 15}
{"serial": "SN-1001", "mwh": 0.5}
)");
    IngestOptions options;
    options.policy = BadRowPolicy::dead_letter;
    options.dead_letter = dir.path / "dead.ndjson";
    Ingestor ingestor(*s.graph, &s.mapping, options);
    const IngestReport r = ingestor.ingest_files({file});
    CHECK(r.applied);
    CHECK(r.updates == 2);
    CHECK(r.twins == 2);
    REQUIRE(r.bad_rows.size() == 1);
    CHECK(property(*s.graph, "ahu-3", "supplyTemperature") == 15.0);
    CHECK(property(*s.graph, "meter-a", "energy").get<double>() == Approx(500.0));
    const auto dead = lines_of(options.dead_letter);
    REQUIRE(dead.size() == 1);
    const json d = json::parse(dead[0]);
    CHECK(d["line"] == 2);
    CHECK(d["field"] == "dev");
    CHECK(d["reason"] == "no twin 'ahu-9' (mapping 'ahu-supply-air')");
    CHECK(d["record"] == json{{"dev", "ahu-9"}, {"sat", 15}});
    CHECK(d["source"] == file.string());
}

TEST_CASE("a value the models refuse is a bad row naming the value field", "[ingest]") {
    Setup s;
    test::TempDir dir;
    const auto file = dir.write("l.csv", "twin,property,value\nroom-2,people,3\nroom-2,people,2.5\n");
    Ingestor ingestor(*s.graph, nullptr);
    const IngestReport r = ingestor.ingest_files({file});
    REQUIRE(r.bad_rows.size() == 1);
    CHECK(r.bad_rows[0].to_string() == file.string() + ":3: value: twin 'room-2', property 'people': expected a whole number, found 2.5");
    CHECK_FALSE(r.applied);
    CHECK_FALSE(s.graph->get_twin("room-2").contains("people"));
}

TEST_CASE("a row the graph itself refuses is found and reported; the batch stays all-or-nothing", "[ingest]") {
    // settings/mode of a Room whose settings Object is unset: the path is
    // declared, but the graph refuses the patch (ADT: add the whole object first).
    test::TempDir dir;
    const auto file = dir.write("l.csv", "twin,property,value\nroom-2,people,3\nroom-2,settings/mode,eco\nroom-1,people,4\n");
    {
        Setup s;
        Ingestor ingestor(*s.graph, nullptr);
        const IngestReport r = ingestor.ingest_files({file});
        REQUIRE(r.bad_rows.size() == 1);
        CHECK(r.bad_rows[0].line == 3);
        CHECK(r.bad_rows[0].field == "value");
        CHECK(r.bad_rows[0].reason.find("settings") != std::string::npos);
        CHECK_FALSE(r.applied);
        CHECK_FALSE(s.graph->get_twin("room-2").contains("people"));
    }
    {
        Setup s;
        IngestOptions options;
        options.policy = BadRowPolicy::dead_letter;
        options.dead_letter = dir.path / "dead.ndjson";
        Ingestor ingestor(*s.graph, nullptr, options);
        const IngestReport r = ingestor.ingest_files({file});
        REQUIRE(r.bad_rows.size() == 1);
        CHECK(r.applied);
        CHECK(r.updates == 2);
        CHECK(property(*s.graph, "room-2", "people") == 3);
        CHECK(property(*s.graph, "room-1", "people") == 4);
        CHECK(lines_of(options.dead_letter).size() == 1);
    }
}

TEST_CASE("long CSV: time, twin, property, value and an optional unit column", "[ingest]") {
    Setup s;
    Ingestor ingestor(*s.graph, nullptr);
    const IngestReport r = ingestor.ingest_files({test::ingest_sample("long.csv")});
    CHECK(r.bad_rows.empty());
    CHECK(r.updates == 4);
    CHECK(property(*s.graph, "room-1", "temperature") == 22.5);
    CHECK(property(*s.graph, "room-2", "temperature").get<double>() == Approx(22.0));  // 295.15 K
    CHECK(property(*s.graph, "room-2", "occupied") == true);
    CHECK(property(*s.graph, "ahu-3", "mode") == "cooling");
    CHECK(source_time(*s.graph, "room-2", "occupied") == "2026-07-01T12:01:00.0000000Z");
}

TEST_CASE("wide CSV: twin.property columns and columns mapped by the mapping file", "[ingest]") {
    Setup s;
    Ingestor ingestor(*s.graph, &s.mapping);
    const IngestReport r = ingestor.ingest_files({test::ingest_sample("wide.csv")});
    CHECK(r.bad_rows.empty());
    CHECK(r.rows == 2);
    CHECK(r.updates == 6);
    CHECK(property(*s.graph, "room-1", "temperature") == 21.75);
    CHECK(property(*s.graph, "room-2", "people") == 4);
    CHECK(property(*s.graph, "ahu-3", "supplyTemperature").get<double>() == Approx(14.0));  // 57.2 degF
    CHECK(source_time(*s.graph, "room-2", "people") == "2026-07-01T12:15:00.0000000Z");
    // Without the mapping the mapped column is a bad row.
    Setup t;
    Ingestor plain(*t.graph, nullptr);
    const IngestReport p = plain.ingest_files({test::ingest_sample("wide.csv")});
    REQUIRE(p.bad_rows.size() == 2);
    CHECK(p.bad_rows[0].field == "AHU3 supply air [degF]");
}

TEST_CASE("table rows (data frames), long and wide", "[ingest]") {
    Setup s;
    Ingestor ingestor(*s.graph, &s.mapping);
    std::vector<TableRow> rows = {{json{{"time", "2026-07-01T13:00:00Z"}, {"twin", "room-1"}, {"property", "people"}, {"value", 7}}},
                                  {json{{"twin", "room-2"}, {"property", "temperature"}, {"value", 30.5}, {"unit", nullptr}}}};
    IngestReport r = ingestor.ingest_rows(rows, false, "<frame>");
    CHECK(r.bad_rows.empty());
    CHECK(property(*s.graph, "room-1", "people") == 7);
    CHECK(property(*s.graph, "room-2", "temperature") == 30.5);
    rows = {{json{{"time", "2026-07-01T13:05:00Z"}, {"room-1.people", 8}, {"AHU3 supply air [degF]", 50.0}, {"room-2.people", nullptr}}}};
    r = ingestor.ingest_rows(rows, true, "<frame>");
    CHECK(r.bad_rows.empty());
    CHECK(r.updates == 2);
    CHECK(property(*s.graph, "ahu-3", "supplyTemperature").get<double>() == Approx(10.0));
    rows = {{json{{"twin", "room-1"}, {"property", "people"}}}};
    r = ingestor.ingest_rows(rows, false, "<frame>");
    REQUIRE(r.bad_rows.size() == 1);
    CHECK(r.bad_rows[0].to_string() == "<frame>:1: value: missing");
}

TEST_CASE("a row's time becomes the property's sourceTime to the nanosecond", "[ingest]") {
    Setup s;
    Ingestor ingestor(*s.graph, &s.mapping);
    const std::vector<TableRow> rows = {
        {json{{"time", "2026-07-01T13:00:00.123456789Z"}, {"twin", "room-1"}, {"property", "people"}, {"value", 7}}}};
    const IngestReport r = ingestor.ingest_rows(rows, false, "<frame>");
    CHECK(r.bad_rows.empty());
    CHECK(source_time(*s.graph, "room-1", "people") == "2026-07-01T13:00:00.123456789Z");
}

TEST_CASE("size limits and unreadable input", "[ingest]") {
    Setup s;
    test::TempDir dir;
    Ingestor ingestor(*s.graph, &s.mapping);
    const auto long_line = dir.write("big.ndjson", "{\"dev\": \"" + std::string(max_line_bytes + 10, 'a') + "\"}\n");
    CHECK_THROWS_WITH(ingestor.ingest_files({long_line}), Catch::Contains("big.ndjson:1:") && Catch::Contains("line longer than 1048576 bytes"));
    CHECK_THROWS_AS(ingestor.ingest_files({dir.path / "missing.csv"}), IoError);
    std::string wide = "time";
    for (std::size_t k = 0; k <= max_csv_fields; ++k) wide += ",c" + std::to_string(k);
    const auto many = dir.write("many.csv", wide + "\n");
    CHECK_THROWS_WITH(ingestor.ingest_files({many}), Catch::Contains("more than 10000 fields"));
    Ingestor unmapped(*s.graph, nullptr);
    CHECK_THROWS_WITH(unmapped.ingest_files({test::ingest_sample("messages.ndjson")}), Catch::Contains("need a mapping"));
}

TEST_CASE("CSV quoting: quoted commas, doubled quotes and line breaks inside quotes", "[ingest]") {
    Setup s;
    test::TempDir dir;
    const auto file = dir.write("q.csv", "twin,property,value\r\nahu-3,mode,\"cool, then \"\"eco\"\"\nat night\"\r\n");
    Ingestor ingestor(*s.graph, nullptr);
    const IngestReport r = ingestor.ingest_files({file});
    CHECK(r.bad_rows.empty());
    CHECK(property(*s.graph, "ahu-3", "mode") == "cool, then \"eco\"\nat night");
    const auto bad = dir.write("b.csv", "twin,property,value\nahu-3,mode,x\"y\nahu-3,mode\n");
    const IngestReport b = ingestor.ingest_files({bad});
    REQUIRE(b.bad_rows.size() == 2);
    CHECK(b.bad_rows[0].to_string() == bad.string() + ":2: a quote inside unquoted field 3 (quote the whole field)");
    CHECK(b.bad_rows[1].to_string() == bad.string() + ":3: expected 3 fields (as the header), found 2");
}

TEST_CASE("message ids kept on disk drop duplicates across Ingestors (restarts), within a window of count and age",
          "[ingest]") {
    test::TempDir dir;
    const auto ids_file = dir.path / "message-ids.db";
    const auto a = dir.write("a.ndjson", R"({"id": "x1", "dev": "ahu-3", "sat": 10}
{"id": "x2", "dev": "ahu-3", "sat": 11}
)");
    const auto again = dir.write("again.ndjson", R"({"id": "x1", "dev": "ahu-3", "sat": 99}
{"id": "x2", "dev": "ahu-3", "sat": 98}
)");
    Setup s;
    {
        MessageIds ids(ids_file);
        IngestOptions options;
        options.remembered = &ids;
        Ingestor ingestor(*s.graph, &s.mapping, options);
        CHECK(ingestor.ingest_files({a}).updates == 2);
        CHECK(ids.size() == 2);
    }
    {
        // A new process: its Ingestor's memory is empty, the file is not.
        MessageIds ids(ids_file);
        IngestOptions options;
        options.remembered = &ids;
        Ingestor ingestor(*s.graph, &s.mapping, options);
        const IngestReport r = ingestor.ingest_files({again});
        CHECK(r.duplicates == 2);
        CHECK(r.updates == 0);
        CHECK(property(*s.graph, "ahu-3", "supplyTemperature") == 11.0);
    }
    {
        // Without the file, the same messages are applied again (the old behaviour).
        Ingestor ingestor(*s.graph, &s.mapping);
        CHECK(ingestor.ingest_files({again}).duplicates == 0);
    }
    // The window: at most max_ids ids, none older than max_age.
    MessageIds ids(dir.path / "window.db", {.max_ids = 3, .max_age = std::chrono::hours(1)});
    const Timestamp t0 = *parse_timestamp("2026-07-01T12:00:00Z");
    ids.remember({"a", "b"}, t0);
    ids.remember({"c", "d"}, Timestamp{t0.ns + 60'000'000'000});
    CHECK(ids.size() == 3);  // "a" pushed out by the count
    CHECK_FALSE(ids.contains("a", Timestamp{t0.ns + 60'000'000'000}));
    CHECK(ids.contains("b", Timestamp{t0.ns + 60'000'000'000}));
    CHECK_FALSE(ids.contains("b", Timestamp{t0.ns + 3'601'000'000'000}));  // older than an hour
    CHECK(ids.contains("d", Timestamp{t0.ns + 3'601'000'000'000}));
    ids.remember({"e"}, Timestamp{t0.ns + 3'700'000'000'000});
    CHECK(ids.size() == 1);  // b, c and d expired
    CHECK_THROWS_AS(MessageIds(dir.write("not-ids.db", "hello, not SQLite\n")), IoError);
}

TEST_CASE("MQTT messages: the twin named by topic segments; file rows skip topic mappings", "[ingest][mqtt]") {
    auto graph = test::ingest_graph();
    const Mapping mapping = Mapping::parse(R"(
mappings:
  - topic: "site/{site}/ahu/{ahu}/telemetry"
    twin: "ahu-{ahu}"
    set: {sat: supplyTemperature}
  - topic: "meters/#"
    twin: {where: "serialNumber = {serial}"}
    set: {mwh: {property: energy, unit: MWh}}
)", "m.yaml", *graph->snapshot().models());
    const test::TempDir dir;
    Ingestor ingestor(*graph, &mapping, {.policy = BadRowPolicy::dead_letter, .dead_letter = dir.path / "dl.ndjson"});
    const std::vector<TopicMessage> messages = {
        {"site/north/ahu/3/telemetry", R"({"id": "a", "time": "2026-07-01T12:00:00Z", "sat": 13.5})"},
        {"meters/hall/1", R"({"serial": "SN-1001", "mwh": 0.5})"},
        {"site/north/ahu/7/telemetry", R"({"sat": 1})"},   // no twin ahu-7
        {"site/north/vav/3/telemetry", R"({"sat": 1})"},   // no mapping for the topic
        {"site/north/ahu/3/telemetry", R"([1, 2])"},       // not an object
        {"site/north/ahu/3/telemetry", std::string(max_line_bytes + 1, ' ')},
    };
    const IngestReport report = ingestor.ingest_messages(messages, 10);
    CHECK(report.applied);
    CHECK(report.rows == 6);
    CHECK(report.updates == 2);
    CHECK(property(*graph, "ahu-3", "supplyTemperature") == 13.5);
    CHECK(source_time(*graph, "ahu-3", "supplyTemperature").rfind("2026-07-01T12:00:00", 0) == 0);
    CHECK(property(*graph, "meter-a", "energy") == 500.0);
    REQUIRE(report.bad_rows.size() == 4);
    std::vector<std::string> bad;
    for (const BadRow& b : report.bad_rows) bad.push_back(b.to_string());
    CHECK(std::find(bad.begin(), bad.end(), "mqtt:site/north/ahu/7/telemetry:12: ahu: no twin 'ahu-7' (mapping 'mappings[0]')") != bad.end());
    CHECK(std::find(bad.begin(), bad.end(), "mqtt:site/north/vav/3/telemetry:13: no mapping applies to this message (fields: sat)") != bad.end());
    CHECK(std::find(bad.begin(), bad.end(), "mqtt:site/north/ahu/3/telemetry:14: a message must be a JSON object") != bad.end());
    CHECK(std::find_if(bad.begin(), bad.end(), [](const std::string& b) { return b.find(":15: a payload of 1048577 bytes") != std::string::npos; }) != bad.end());
    // The same message from a file has no topic: the topic mappings do not apply.
    std::istringstream file(R"({"sat": 2, "ahu": "3"})" "\n");
    const IngestReport from_file = ingestor.ingest_stream(file, "f.ndjson", Format::ndjson);
    REQUIRE(from_file.bad_rows.size() == 1);
    CHECK(from_file.bad_rows[0].reason.find("no mapping applies") == 0);
    CHECK(lines_of(dir.path / "dl.ndjson").size() == 5);
}
