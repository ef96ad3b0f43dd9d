// NDJSON import/export: round trips are exact, imports are atomic and report
// every bad line with its number, section and reason, and the bundled
// building sample loads without a single error.

#include "twinsim/graph/ndjson.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "twinsim/dtdl/parser.hpp"

namespace twinsim::graph {
namespace {

using json = nlohmann::json;

// Out of dependency order on purpose: Room extends Base and uses Thermostat,
// both defined after it.
const std::vector<std::string> model_lines = {
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Room;1","@type":"Interface","extends":"dtmi:test:Base;1",)"
    R"("contents":[{"@type":"Property","name":"temperature","schema":"double"},)"
    R"({"@type":"Property","name":"occupied","schema":"boolean"},)"
    R"({"@type":"Property","name":"settings","schema":{"@type":"Object","fields":[{"name":"mode","schema":"string"}]}},)"
    R"({"@type":"Component","name":"thermostat","schema":"dtmi:test:Thermostat;1"},)"
    R"({"@type":"Relationship","name":"contains","target":"dtmi:test:Device;1"}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Thermostat;1","@type":"Interface",)"
    R"("contents":[{"@type":"Property","name":"setpoint","schema":"double"}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Base;1","@type":"Interface",)"
    R"("contents":[{"@type":"Property","name":"name","schema":"string"},)"
    R"({"@type":"Relationship","name":"near","properties":[{"@type":"Property","name":"distance","schema":"double"}]}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Device;1","@type":"Interface","extends":"dtmi:test:Base;1",)"
    R"("contents":[{"@type":"Property","name":"serial","schema":"string"}]})",
};

// Appends instead of `"r" + std::to_string(k)`, which trips GCC 12's false
// -Wrestrict warning (GCC bug 105651) at -O3.
std::string numbered(std::string prefix, int k) {
    prefix += std::to_string(k);
    return prefix;
}

std::string room(const std::string& id, double temperature) {
    json twin = {{"$dtId", id},
                 {"$metadata", {{"$model", "dtmi:test:Room;1"}}},
                 {"name", id},
                 {"temperature", temperature},
                 {"thermostat", {{"$metadata", json::object()}, {"setpoint", 21.5}}}};
    return twin.dump();
}

std::string device(const std::string& id) {
    std::string serial = "S-";
    serial += id;
    return json{{"$dtId", id}, {"$metadata", {{"$model", "dtmi:test:Device;1"}}}, {"serial", serial}}.dump();
}

std::string relationship(const std::string& source, const std::string& id, const std::string& target,
                         const std::string& name, json properties = json::object()) {
    properties["$dtId"] = source;
    properties["$relationshipId"] = id;
    properties["$targetId"] = target;
    properties["$relationshipName"] = name;
    return properties.dump();
}

/// An import file assembled line by line; remembers the number of each line.
class FileText {
public:
    std::size_t add(const std::string& line) {
        lines_.push_back(line);
        return lines_.size();
    }
    void section(const std::string& name) { add(json{{"Section", name}}.dump()); }
    void header() {
        section("Header");
        add(R"({"fileVersion":"1.0.0","author":"tests","organization":"twinsim"})");
    }
    void models() {
        section("Models");
        for (const std::string& m : model_lines) add(m);
    }
    [[nodiscard]] std::string text() const {
        std::string out;
        for (const std::string& line : lines_) out += line + "\n";
        return out;
    }

private:
    std::vector<std::string> lines_;
};

ImportStats import_text(TwinGraph& graph, const std::string& text) {
    std::istringstream in(text);
    return import_ndjson(graph, in, "test.ndjson");
}

std::vector<ImportProblem> problems_of(TwinGraph& graph, const std::string& text) {
    try {
        import_text(graph, text);
    } catch (const ImportError& e) {
        return e.problems();
    }
    FAIL("the import was expected to fail");
    return {};
}

std::string export_text(const Snapshot& snapshot) {
    std::ostringstream out;
    export_ndjson(snapshot, out);
    return out.str();
}

// The twin without what the service sets on every write.
json without_service_fields(json value) {
    value.erase("$etag");
    auto strip = [](json& metadata) {
        metadata.erase("$lastUpdateTime");
        for (auto& [key, entry] : metadata.items()) {
            if (entry.is_object()) entry.erase("lastUpdateTime");
        }
    };
    for (auto& [key, member] : value.items()) {
        if (key == "$metadata") strip(member);
        else if (member.is_object() && member.contains("$metadata")) strip(member["$metadata"]);
    }
    return value;
}

std::filesystem::path scratch_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / "twinsim-ndjson";
    dir += name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

void load_building_models(TwinGraph& graph) {
    const std::vector<std::filesystem::path> paths{test::source_dir() / "models" / "building"};
    graph.add_models(dtdl::read_documents(paths));
}

// A small graph touching every kind of content: components, Object values,
// sourceTime, relationship properties, a decommissioned model.
FileText small_file() {
    FileText file;
    file.header();
    file.models();
    file.section("Twins");
    json r1 = json::parse(room("room-1", 20.5));
    r1["settings"] = {{"mode", "eco"}};
    r1["occupied"] = true;
    r1["$metadata"]["temperature"] = {{"sourceTime", "2026-07-01T08:00:00.1234567Z"}};
    r1["thermostat"]["$metadata"]["setpoint"] = {{"sourceTime", "2026-07-01T07:59:00Z"}};
    file.add(r1.dump());
    file.add(room("room-2", 23.0));
    file.add(device("dev-1"));
    file.section("Relationships");
    file.add(relationship("room-1", "c1", "dev-1", "contains"));
    file.add(relationship("room-1", "n1", "room-2", "near", {{"distance", 12.5}}));
    file.add(relationship("dev-1", "n1", "room-2", "near"));
    return file;
}

TEST_CASE("a file loads models out of dependency order, twins and relationships", "[ndjson]") {
    TwinGraph graph;
    const ImportStats stats = import_text(graph, small_file().text());
    CHECK(stats.models == 4);
    CHECK(stats.twins == 3);
    CHECK(stats.relationships == 3);
    CHECK(stats.lines == 15);
    CHECK(graph.twin_count() == 3);
    CHECK(graph.relationship_count() == 3);
    const json r1 = graph.get_twin("room-1");
    CHECK(r1["settings"]["mode"] == "eco");
    CHECK(r1["thermostat"]["setpoint"] == 21.5);
    CHECK(graph.get_relationship("room-1", "n1")["distance"] == 12.5);
    CHECK(graph.get_relationship("room-1", "n1")["$targetId"] == "room-2");
}

TEST_CASE("export, import into a new graph, export again: byte-identical and equal twins", "[ndjson]") {
    TwinGraph original;
    import_text(original, small_file().text());
    original.update_twin("room-2", json::parse(R"([{"op":"replace","path":"/thermostat/setpoint","value":19.0}])"));
    original.decommission_model("dtmi:test:Device;1");
    const Snapshot first = original.snapshot();
    const std::string exported = export_text(first);

    TwinGraph copy;
    import_text(copy, exported);
    const Snapshot second = copy.snapshot();
    CHECK(export_text(second) == exported);

    REQUIRE(second.twin_count() == first.twin_count());
    for (TwinIndex t : first.twins()) {
        const std::string& id = first.twin_id(t);
        CHECK(without_service_fields(second.get_twin(id)) == without_service_fields(first.get_twin(id)));
        for (const json& r : first.list_relationships(id)) {
            json expected = r;
            json actual = second.get_relationship(id, r["$relationshipId"].get<std::string>());
            expected.erase("$etag");
            actual.erase("$etag");
            CHECK(actual == expected);
        }
    }
    CHECK(second.get_twin("room-1")["$metadata"]["temperature"]["sourceTime"] ==
          first.get_twin("room-1")["$metadata"]["temperature"]["sourceTime"]);
    CHECK(second.get_twin("room-1")["thermostat"]["$metadata"]["setpoint"].contains("sourceTime"));
    CHECK(second.get_model("dtmi:test:Device;1").decommissioned);
    CHECK_FALSE(second.get_model("dtmi:test:Room;1").decommissioned);
    CHECK(second.get_model("dtmi:test:Room;1").definition == first.get_model("dtmi:test:Room;1").definition);
}

// Every twin and relationship as the graph returns it, without $etag (the one
// thing import makes anew), keyed by id.
std::map<std::string, json> state_without_etags(const Snapshot& snapshot) {
    std::map<std::string, json> out;
    for (TwinIndex t : snapshot.twins()) {
        const std::string& id = snapshot.twin_id(t);
        json twin = snapshot.get_twin(t);
        twin.erase("$etag");
        out.emplace(id, std::move(twin));
        for (RelationshipIndex r : snapshot.out_relationships(t)) {
            json relationship = snapshot.get_relationship(r);
            relationship.erase("$etag");
            std::string key = id;
            key += "/relationships/";
            key += relationship["$relationshipId"].get<std::string>();
            out.emplace(std::move(key), std::move(relationship));
        }
    }
    return out;
}

TEST_CASE("import(export(g)) reproduces g, recorded times included; only etags are new", "[ndjson]") {
    // Each write at its own time, none a multiple of 100 ns.
    std::int64_t tick = 1'750'000'000'000'000'000;
    TwinGraph original(TwinGraphOptions{[&tick] { return Timestamp{tick += 1'234'567'891}; }, false});
    import_text(original, small_file().text());
    original.update_twin("room-2", json::parse(R"([{"op":"replace","path":"/thermostat/setpoint","value":19.0}])"));
    original.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":22.25},)"
                                               R"({"op":"add","path":"/$metadata/temperature/sourceTime",)"
                                               R"("value":"2026-07-01T09:00:00+02:00"}])"));
    original.upsert_twin("dev-2", json::parse(device("dev-2")));
    {
        const Snapshot now = original.snapshot();
        const TwinIndex room2 = *now.find("room-2");
        const std::uint32_t column = now.models()->at(now.twin_model(room2)).layout.find("temperature")->column;
        const std::vector<PropertyWrite> writes{{room2, column, 24.5, std::nullopt}};
        original.write_properties(writes);
    }
    original.update_relationship("room-1", "n1", json::parse(R"([{"op":"replace","path":"/distance","value":13.0}])"));
    original.upsert_relationship("dev-2", "n1", json::parse(R"({"$targetId":"room-1","$relationshipName":"near"})"));
    original.decommission_model("dtmi:test:Device;1");
    const Snapshot first = original.snapshot();
    const std::string exported = export_text(first);
    CHECK(exported.find("\"$lastUpdateTime\"") != std::string::npos);
    CHECK(exported.find("\"lastUpdateTime\"") != std::string::npos);
    CHECK(exported.find("\"$etag\"") == std::string::npos);

    // Imported much later: no time of the import's clock may show.
    std::int64_t later = 1'900'000'000'000'000'000;
    TwinGraph copy(TwinGraphOptions{[&later] { return Timestamp{later += 1000}; }, false});
    import_text(copy, exported);
    const Snapshot second = copy.snapshot();
    const std::map<std::string, json> expected = state_without_etags(first);
    const std::map<std::string, json> actual = state_without_etags(second);
    REQUIRE(actual.size() == expected.size());
    for (const auto& [id, value] : expected) {
        INFO(id);
        REQUIRE(actual.contains(id));
        CHECK(actual.at(id) == value);
    }
    CHECK(export_text(second) == exported);

    // And once more: export -> import -> export is a fixed point.
    TwinGraph third;
    import_text(third, export_text(second));
    CHECK(export_text(third.snapshot()) == exported);
}

TEST_CASE("import restores the times a line carries and stamps the import's time where it carries none", "[ndjson]") {
    TwinGraph graph(TwinGraphOptions{[] { return Timestamp{1'800'000'000'000'000'000}; }, false});
    const std::string import_time = format_timestamp(Timestamp{1'800'000'000'000'000'000});
    FileText file;
    file.header();
    file.models();
    file.section("Twins");
    json r1 = json::parse(room("room-1", 20.5));
    r1["$metadata"]["$lastUpdateTime"] = "2026-01-02T03:04:05.5+01:00";
    r1["$metadata"]["temperature"] = {{"lastUpdateTime", "2026-01-01T00:00:00Z"}, {"sourceTime", "2025-12-31T23:59:59Z"}};
    r1["thermostat"]["$metadata"] = {{"$lastUpdateTime", "2026-01-01T00:00:01Z"}, {"setpoint", {{"lastUpdateTime", "2026-01-01T00:00:02Z"}}}};
    file.add(r1.dump());
    file.add(room("room-2", 23.0));
    import_text(graph, file.text());

    const json a = graph.get_twin("room-1");
    CHECK(a["$metadata"]["$lastUpdateTime"] == "2026-01-02T02:04:05.5000000Z");
    CHECK(a["$metadata"]["temperature"]["lastUpdateTime"] == "2026-01-01T00:00:00.0000000Z");
    CHECK(a["$metadata"]["temperature"]["sourceTime"] == "2025-12-31T23:59:59.0000000Z");
    CHECK(a["$metadata"]["name"]["lastUpdateTime"] == import_time);  // not given
    CHECK(a["thermostat"]["$metadata"]["$lastUpdateTime"] == "2026-01-01T00:00:01.0000000Z");
    CHECK(a["thermostat"]["$metadata"]["setpoint"]["lastUpdateTime"] == "2026-01-01T00:00:02.0000000Z");
    const json b = graph.get_twin("room-2");
    CHECK(b["$metadata"]["$lastUpdateTime"] == import_time);
    CHECK(b["$metadata"]["temperature"]["lastUpdateTime"] == import_time);
    CHECK(b["thermostat"]["$metadata"]["$lastUpdateTime"] == import_time);

    // upsert_twin, unlike import, still stamps its own time.
    json replaced = r1;
    replaced["$dtId"] = "room-3";
    CHECK(graph.upsert_twin("room-3", replaced)["$metadata"]["$lastUpdateTime"] == import_time);
}

TEST_CASE("a recorded time that is not a date-time is reported on its line", "[ndjson]") {
    TwinGraph graph;
    FileText file;
    file.header();
    file.models();
    file.section("Twins");
    json r1 = json::parse(room("room-1", 20.5));
    r1["$metadata"]["$lastUpdateTime"] = "yesterday";
    const std::size_t twin_time = file.add(r1.dump());
    json r2 = json::parse(room("room-2", 20.5));
    r2["thermostat"]["$metadata"]["setpoint"] = {{"lastUpdateTime", 5}};
    const std::size_t component_time = file.add(r2.dump());
    const auto problems = problems_of(graph, file.text());
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].line == twin_time);
    CHECK(problems[0].message ==
          R"(twin "room-1": /$metadata/$lastUpdateTime: expected an RFC 3339 date-time, found "yesterday")");
    CHECK(problems[1].line == component_time);
    CHECK(problems[1].message ==
          R"(twin "room-2": /thermostat/$metadata/setpoint/lastUpdateTime: expected an RFC 3339 date-time, found 5)");
    CHECK(graph.twin_count() == 0);
}

TEST_CASE("the bundled building sample imports without errors and round-trips", "[ndjson]") {
    TwinGraph graph;
    load_building_models(graph);
    const ImportStats stats = import_ndjson(graph, test::source_dir() / "scenarios" / "building" / "building.ndjson");
    CHECK(stats.twins > 200);
    CHECK(stats.twins < 1000);
    CHECK(stats.relationships > stats.twins);
    CHECK(graph.twin_count() == stats.twins);
    CHECK(graph.relationship_count() == stats.relationships);
    CHECK(graph.get_twin("ahu-00")["filter"].contains("pressureDrop"));

    const std::string exported = export_text(graph.snapshot());
    TwinGraph copy;
    import_text(copy, exported);
    CHECK(export_text(copy.snapshot()) == exported);
}

TEST_CASE("an import with three bad lines reports exactly those and changes nothing", "[ndjson]") {
    TwinGraph graph;
    import_text(graph, small_file().text());
    const std::string before = export_text(graph.snapshot());
    const std::size_t models_before = graph.snapshot().list_models().size();

    FileText file;
    file.header();
    file.section("Twins");
    file.add(room("room-10", 21.0));
    const std::size_t undeclared = file.add(R"({"$dtId":"room-11","$metadata":{"$model":"dtmi:test:Room;1"},)"
                                            R"("colour":"red","thermostat":{"$metadata":{}}})");
    file.add(device("dev-10"));
    const std::size_t wrong_type = file.add(R"({"$dtId":"room-12","$metadata":{"$model":"dtmi:test:Room;1"},)"
                                            R"("temperature":"warm","thermostat":{"$metadata":{}}})");
    file.add(room("room-13", 22.0));
    file.section("Relationships");
    file.add(relationship("room-10", "c1", "dev-10", "contains"));
    const std::size_t unknown_target = file.add(relationship("room-10", "c2", "dev-404", "contains"));
    file.add(relationship("room-13", "n1", "room-1", "near", {{"distance", 3.0}}));

    std::vector<ImportProblem> problems;
    try {
        import_text(graph, file.text());
        FAIL("the import was expected to fail");
    } catch (const ImportError& e) {
        problems = e.problems();
        CHECK(e.code() == "ImportFailed");
        CHECK(std::string(e.what()).find("3 bad lines") != std::string::npos);
    }
    REQUIRE(problems.size() == 3);
    CHECK(problems[0].line == undeclared);
    CHECK(problems[0].section == "Twins");
    CHECK(problems[0].message.find("room-11") != std::string::npos);
    CHECK(problems[0].message.find("colour") != std::string::npos);
    CHECK(problems[1].line == wrong_type);
    CHECK(problems[1].section == "Twins");
    CHECK(problems[1].message.find("room-12") != std::string::npos);
    CHECK(problems[1].message.find("temperature") != std::string::npos);
    CHECK(problems[2].line == unknown_target);
    CHECK(problems[2].section == "Relationships");
    CHECK(problems[2].message.find("dev-404") != std::string::npos);

    CHECK(graph.twin_count() == 3);
    CHECK(graph.relationship_count() == 3);
    CHECK(graph.snapshot().list_models().size() == models_before);
    CHECK(export_text(graph.snapshot()) == before);
}

// The shape of the bulk-import sample in Azure Digital Twins' documentation: a
// DTDL v2 model whose relationship declares lower-case properties, and a
// relationship line that spells one of them with a capital. ADT refuses it and
// so does twinsim, but the message says which property, how the model spells
// it, and on which line.
TEST_CASE("a relationship property spelled with another case is refused naming the declared spelling and the line",
          "[ndjson]") {
    FileText file;
    file.header();
    file.section("Models");
    file.add(R"({"@id":"dtmi:sample:Site;1","@type":"Interface","@context":"dtmi:dtdl:context;2",)"
             R"("displayName":{"en":"site"},"contents":[{"@type":"Property","name":"label","schema":"string"},)"
             R"({"@type":"Relationship","name":"has","target":"dtmi:sample:Unit;1","properties":[)"
             R"({"@type":"Property","name":"since","schema":"string"},)"
             R"({"@type":"Property","name":"count","schema":"integer"}]}]})");
    file.add(R"({"@id":"dtmi:sample:Unit;1","@type":"Interface","@context":"dtmi:dtdl:context;2",)"
             R"("contents":[{"@type":"Property","name":"label","schema":"string"}]})");
    file.section("Twins");
    file.add(R"({"$dtId":"site0","$metadata":{"$model":"dtmi:sample:Site;1"},"label":"north"})");
    file.add(R"({"$dtId":"unit0","$metadata":{"$model":"dtmi:sample:Unit;1"},"label":"u"})");
    const std::size_t unit_line =
        file.add(R"({"$dtId":"unit1","$metadata":{"$model":"dtmi:sample:Unit;1"},"Label":"v"})");
    file.section("Relationships");
    file.add(relationship("site0", "r0", "unit0", "has", {{"since", "2020"}, {"count", 2}}));
    const std::size_t bad_line = file.add(relationship("site0", "r1", "unit0", "has", {{"Since", "2021"}, {"count", 3}}));

    TwinGraph graph;
    const std::vector<ImportProblem> problems = problems_of(graph, file.text());
    REQUIRE(problems.size() == 2);
    // A twin property too.
    CHECK(problems[0].line == unit_line);
    CHECK(problems[0].message.find(R"(/Label: not declared by dtmi:sample:Unit;1 (did you mean "label"?)") !=
          std::string::npos);
    CHECK(problems[1].line == bad_line);
    CHECK(problems[1].section == "Relationships");
    INFO(problems[1].message);
    CHECK(problems[1].message.find(R"(/Since: not a property of relationship "has" (did you mean "since"?)") !=
          std::string::npos);
    CHECK(problems[1].message.find("names are case-sensitive") != std::string::npos);
    // The rendered error carries the source and the line.
    try {
        TwinGraph other;
        import_text(other, file.text());
    } catch (const ImportError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("line " + std::to_string(bad_line)) != std::string::npos);
        CHECK(what.find(R"(did you mean "since"?)") != std::string::npos);
    }
    // Nothing was imported (the import is atomic) and a name that matches no
    // declared one in any case gets no suggestion.
    CHECK(graph.twin_count() == 0);
    FileText plain;
    plain.header();
    plain.section("Models");
    plain.add(R"({"@id":"dtmi:sample:Unit;1","@type":"Interface","@context":"dtmi:dtdl:context;2",)"
              R"("contents":[{"@type":"Property","name":"label","schema":"string"}]})");
    plain.section("Twins");
    plain.add(R"({"$dtId":"unit0","$metadata":{"$model":"dtmi:sample:Unit;1"},"colour":"red"})");
    const std::vector<ImportProblem> other = problems_of(graph, plain.text());
    REQUIRE(other.size() == 1);
    CHECK(other[0].message.find("/colour: not declared by dtmi:sample:Unit;1") != std::string::npos);
    CHECK(other[0].message.find("did you mean") == std::string::npos);
}

TEST_CASE("a failed import rolls back its models too", "[ndjson]") {
    TwinGraph graph;
    FileText file = small_file();
    const std::size_t bad = file.add(relationship("room-2", "x", "nobody", "near"));
    const auto problems = problems_of(graph, file.text());
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].line == bad);
    CHECK(graph.twin_count() == 0);
    CHECK(graph.snapshot().list_models().empty());
}

TEST_CASE("section structure errors name their line", "[ndjson]") {
    TwinGraph graph;

    SECTION("a line before any section") {
        FileText file;
        const std::size_t stray = file.add(device("dev-1"));
        file.models();
        const auto problems = problems_of(graph, file.text());
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].line == stray);
        CHECK(problems[0].message.find("Section") != std::string::npos);
    }
    SECTION("an unknown section; its lines are not checked") {
        FileText file;
        file.models();
        file.add(R"({"Section":"Telemetry"})");
        file.add(R"({"anything": 1})");
        const auto problems = problems_of(graph, file.text());
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].line == model_lines.size() + 2);
        CHECK(problems[0].message.find("Telemetry") != std::string::npos);
    }
    SECTION("sections out of order or repeated") {
        FileText file;
        file.models();
        file.section("Relationships");
        const std::size_t late = file.add(R"({"Section":"Twins"})");
        file.add(device("dev-1"));
        const std::size_t again = file.add(R"({"Section":"Twins"})");
        const auto problems = problems_of(graph, file.text());
        REQUIRE(problems.size() == 2);
        CHECK(problems[0].line == late);
        CHECK(problems[0].section == "Twins");
        CHECK(problems[0].message.find("order") != std::string::npos);
        CHECK(problems[1].line == again);
    }
    SECTION("header problems") {
        FileText file;
        file.section("Header");
        const std::size_t no_version = file.add(R"({"author":"me","organization":7})");
        const std::size_t second = file.add(R"({"fileVersion":"1.0.0"})");
        const auto problems = problems_of(graph, file.text());
        REQUIRE(problems.size() == 3);
        CHECK(problems[0].line == no_version);
        CHECK(problems[0].section == "Header");
        CHECK(problems[1].line == no_version);
        CHECK(problems[2].line == second);

        FileText empty_header;
        empty_header.section("Header");
        empty_header.section("Twins");
        const auto empty = problems_of(graph, empty_header.text());
        REQUIRE(empty.size() == 1);
        CHECK(empty[0].line == 1);
    }
    SECTION("malformed JSON and non-object lines") {
        FileText twins;
        twins.header();
        twins.models();
        twins.section("Twins");
        const std::size_t truncated = twins.add(R"({"$dtId":"room-1", "$metadata": )");
        const std::size_t array = twins.add("[1, 2]");
        const std::size_t no_id = twins.add(R"({"$metadata":{"$model":"dtmi:test:Device;1"}})");
        twins.section("Relationships");
        const std::size_t fields = twins.add(R"({"$dtId":"a","$relationshipId":"r"})");
        const auto problems = problems_of(graph, twins.text());
        REQUIRE(problems.size() == 4);
        CHECK(problems[0].line == truncated);
        CHECK(problems[0].message.find("malformed JSON") != std::string::npos);
        CHECK(problems[1].line == array);
        CHECK(problems[2].line == no_id);
        CHECK(problems[2].message.find("$dtId") != std::string::npos);
        CHECK(problems[3].line == fields);
        CHECK(problems[3].message.find("$targetId") != std::string::npos);
        CHECK(problems[3].message.find("$relationshipName") != std::string::npos);
    }
    CHECK(graph.twin_count() == 0);
    CHECK(graph.snapshot().list_models().empty());
}

TEST_CASE("duplicates within the file and twins that already exist are refused", "[ndjson]") {
    TwinGraph graph;
    import_text(graph, small_file().text());

    FileText file;
    file.section("Twins");
    file.add(device("dev-2"));
    const std::size_t twice = file.add(device("dev-2"));
    const std::size_t existing = file.add(device("dev-1"));
    file.section("Relationships");
    file.add(relationship("dev-2", "n1", "room-1", "near"));
    const std::size_t rel_twice = file.add(relationship("dev-2", "n1", "room-2", "near"));
    const std::size_t rel_existing = file.add(relationship("room-1", "c1", "dev-2", "contains"));
    const auto problems = problems_of(graph, file.text());
    REQUIRE(problems.size() == 4);
    CHECK(problems[0].line == twice);
    CHECK(problems[0].message.find("twice") != std::string::npos);
    CHECK(problems[1].line == existing);
    CHECK(problems[1].message.find("already exists") != std::string::npos);
    CHECK(problems[2].line == rel_twice);
    CHECK(problems[2].message.find("twice") != std::string::npos);
    CHECK(problems[3].line == rel_existing);
    CHECK(problems[3].message.find("already exists") != std::string::npos);
    CHECK(graph.twin_count() == 3);
}

TEST_CASE("model errors are reported on the lines of the models", "[ndjson]") {
    TwinGraph graph;
    FileText file;
    file.section("Models");
    file.add(model_lines[1]);  // Thermostat: fine
    const std::size_t bad_name = file.add(
        R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Bad;1","@type":"Interface",)"
        R"("contents":[{"@type":"Property","name":"1bad","schema":"double"}]})");
    const std::size_t dangling = file.add(
        R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Orphan;1","@type":"Interface","extends":"dtmi:test:Missing;1"})");
    file.section("Twins");
    // A twin of a model that failed cannot be checked; it is not reported.
    file.add(R"({"$dtId":"o","$metadata":{"$model":"dtmi:test:Orphan;1"},"whatever":1})");
    const auto problems = problems_of(graph, file.text());
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].line == bad_name);
    CHECK(problems[0].section == "Models");
    CHECK(problems[0].message.find("dtmi:test:Bad;1") != std::string::npos);
    CHECK(problems[0].message.find("/contents/0/name") != std::string::npos);
    CHECK(problems[1].line == dangling);
    CHECK(problems[1].message.find("dtmi:test:Missing;1") != std::string::npos);
    CHECK(graph.snapshot().list_models().empty());
}

TEST_CASE("models already in the graph: identical ones are skipped, different ones refused", "[ndjson]") {
    TwinGraph graph;
    FileText models;
    models.models();
    import_text(graph, models.text());

    FileText same = small_file();
    const ImportStats stats = import_text(graph, same.text());
    CHECK(stats.models == 0);
    CHECK(stats.twins == 3);

    TwinGraph other;
    import_text(other, models.text());
    FileText changed;
    changed.section("Models");
    const std::size_t line = changed.add(
        R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Device;1","@type":"Interface"})");
    const auto problems = problems_of(other, changed.text());
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].line == line);
    CHECK(problems[0].message.find("already exists") != std::string::npos);
}

TEST_CASE("blank lines, CRLF line ends, a byte order mark and a missing final newline are accepted", "[ndjson]") {
    TwinGraph graph;
    std::string text = "\xEF\xBB\xBF" + small_file().text();
    std::string crlf;
    for (char c : text) {
        if (c == '\n') crlf += "\r\n\r\n   \n";
        else crlf += c;
    }
    while (!crlf.empty() && (crlf.back() == '\n' || crlf.back() == '\r' || crlf.back() == ' ')) crlf.pop_back();
    const ImportStats stats = import_text(graph, crlf);
    CHECK(stats.twins == 3);
    CHECK(stats.relationships == 3);
    CHECK(stats.bytes == crlf.size());
}

TEST_CASE("an empty file imports nothing", "[ndjson]") {
    TwinGraph graph;
    const ImportStats stats = import_text(graph, "");
    CHECK(stats.twins == 0);
    CHECK(stats.lines == 0);
}

TEST_CASE("files: missing input and unwritable output throw IoError; export replaces atomically", "[ndjson]") {
    TwinGraph graph;
    const auto dir = scratch_dir("files");
    CHECK_THROWS_AS(import_ndjson(graph, dir / "missing.ndjson"), IoError);
    CHECK_THROWS_AS(import_ndjson(graph, dir), IoError);

    import_text(graph, small_file().text());
    CHECK_THROWS_AS(export_ndjson(graph.snapshot(), dir / "no-such-dir" / "out.ndjson"), IoError);

    const auto file = dir / "graph.ndjson";
    {
        std::ofstream(file) << "old content\n";
    }
    export_ndjson(graph.snapshot(), file);
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename().string());
    CHECK(names == std::set<std::string>{"graph.ndjson"});

    TwinGraph copy;
    const ImportStats stats = import_ndjson(copy, file);
    CHECK(stats.twins == 3);
    CHECK(export_text(copy.snapshot()) == export_text(graph.snapshot()));
    std::filesystem::remove_all(dir);
}

TEST_CASE("a large generated file imports in one pass", "[ndjson]") {
    // A few thousand twins through the same path the benchmark takes; checks
    // the batched reader across many batches.
    TwinGraph graph;
    FileText file;
    file.models();
    file.section("Twins");
    constexpr int rooms = 3000;
    for (int i = 0; i < rooms; ++i) {
        file.add(room(numbered("r", i), 20.0 + i % 7));
    }
    file.section("Relationships");
    for (int i = 1; i < rooms; ++i) {
        file.add(relationship(numbered("r", i), "n", numbered("r", i - 1), "near", {{"distance", 0.5 * i}}));
    }
    const ImportStats stats = import_text(graph, file.text());
    CHECK(stats.twins == rooms);
    CHECK(stats.relationships == rooms - 1);
    CHECK(graph.get_relationship("r2999", "n")["$targetId"] == "r2998");
}

TEST_CASE("a twin line nested beyond the JSON depth limit is a bad line, not a crash", "[ndjson]") {
    TwinGraph graph;
    import_text(graph, small_file().text());
    const std::size_t twins = graph.twin_count();
    FileText file;
    file.header();
    file.section("Twins");
    // A property holding a million nested arrays (2 MB on one line).
    const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
    const std::size_t line = file.add(R"({"$dtId":"room-deep","$metadata":{"$model":"dtmi:test:Room;1"},"name":)" + deep +
                                      R"(,"thermostat":{"$metadata":{}}})");
    const std::vector<ImportProblem> problems = problems_of(graph, file.text());
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].line == line);
    CHECK(problems[0].section == "Twins");
    CHECK(problems[0].message.find("deeper than the limit of 128 levels") != std::string::npos);
    CHECK(graph.twin_count() == twins);
}

// An endless stream without line breaks, like /dev/zero.
class EndlessZeros : public std::streambuf {
public:
    EndlessZeros() : block_(1 << 16, '\0') { setg(block_.data(), block_.data(), block_.data() + block_.size()); }

protected:
    int_type underflow() override {
        setg(block_.data(), block_.data(), block_.data() + block_.size());
        return traits_type::to_int_type(block_[0]);
    }

private:
    std::vector<char> block_;
};

TEST_CASE("a line longer than the maximum stops the import, naming the source and the line", "[ndjson]") {
    TwinGraph graph;
    import_text(graph, small_file().text());
    const std::size_t twins = graph.twin_count();
    EndlessZeros zeros;
    std::istream in(&zeros);
    try {
        (void)import_ndjson(graph, in, "zeros");
        FAIL("no ImportError");
    } catch (const ImportError& e) {
        const std::string what = e.what();
        CHECK(what.find("zeros: line 1: the line is longer than the limit of 33554432 bytes") != std::string::npos);
        REQUIRE(e.problems().size() == 1);
        CHECK(e.problems()[0].line == 1);
    }
    CHECK(graph.twin_count() == twins);

    // A long line after good ones is counted where it is.
    FileText file;
    file.header();
    std::string text = file.text() + std::string(max_ndjson_line_bytes + 1, ' ') + "\n";
    try {
        import_text(graph, text);
        FAIL("no ImportError");
    } catch (const ImportError& e) {
        REQUIRE(e.problems().size() == 1);
        CHECK(e.problems()[0].line == 3);
    }
    // Exactly at the maximum, the line is read (and is blank).
    text = file.text() + std::string(max_ndjson_line_bytes, ' ') + "\r\n";
    CHECK(import_text(graph, text).lines == 3);
}

TEST_CASE("importing a file that is not a regular file is refused before reading", "[ndjson]") {
    TwinGraph graph;
    try {
        (void)import_ndjson(graph, std::filesystem::path("/dev/zero"));
        FAIL("no IoError");
    } catch (const IoError& e) {
        CHECK(std::string(e.what()) ==
              "cannot read /dev/zero: not a regular file (a device, pipe or socket); an import reads regular files only");
    }
}

}  // namespace
}  // namespace twinsim::graph
