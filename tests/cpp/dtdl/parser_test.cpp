// What users rely on from the DTDL parser: errors that name file, id, path and
// rule; every error reported; references, the resolver, and the built structs.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "twinsim/dtdl/parser.hpp"

using namespace twinsim::dtdl;

namespace {

ParseResult parse_texts(std::vector<std::string> texts, ParseOptions options = {}) {
    std::vector<Document> docs;
    for (std::size_t i = 0; i < texts.size(); ++i) docs.push_back({"model" + std::to_string(i) + ".json", std::move(texts[i])});
    return parse(docs, options);
}

bool has_rule(const ParseResult& r, const std::string& rule_part, Severity sev = Severity::error) {
    return std::any_of(r.diagnostics.begin(), r.diagnostics.end(), [&](const Diagnostic& d) {
        return d.severity == sev && d.rule.find(rule_part) != std::string::npos;
    });
}

const Diagnostic* first_error(const ParseResult& r) {
    for (const auto& d : r.diagnostics)
        if (d.severity == Severity::error) return &d;
    return nullptr;
}

}  // namespace

TEST_CASE("a bad content name is reported with file, id, path and rule", "[parser]") {
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "temp", "schema": "double"},
                     {"@type": "Property", "name": "bad name", "schema": "double"}]})"});
    CHECK_FALSE(r.valid());
    const auto* d = first_error(r);
    REQUIRE(d != nullptr);
    CHECK(d->file == "model0.json");
    CHECK(d->id == "dtmi:ex:Room;1");
    CHECK(d->path == "/contents/1/name");
    CHECK(d->rule == "ClassPropertyPropertyNamePattern");
    CHECK(d->to_string().find("model0.json: dtmi:ex:Room;1: /contents/1/name:") == 0);
}

TEST_CASE("in-memory documents without a source are named <document N>", "[parser]") {
    const std::vector<Document> docs{{"", R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interfac"})"}};
    auto r = parse(docs);
    REQUIRE(first_error(r) != nullptr);
    CHECK(first_error(r)->file == "<document 1>");
}

TEST_CASE("an unknown schema and every other error is reported, not only the first", "[parser]") {
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "a", "schema": "doubel"},
                     {"@type": "Telemetry", "name": "b_", "schema": "double"}]})"});
    CHECK(r.errors().size() == 2);
    CHECK(has_rule(r, "ClassPropertyPropertySchemaElement"));
    CHECK(has_rule(r, "ClassTelemetryPropertyNamePattern"));
}

TEST_CASE("duplicate names through extends are refused", "[parser]") {
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Base;1", "@type": "Interface",
                             "contents": [{"@type": "Property", "name": "size", "schema": "double"}]})",
                          R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Derived;1", "@type": "Interface",
                             "extends": "dtmi:ex:Base;1",
                             "contents": [{"@type": "Telemetry", "name": "size", "schema": "double"}]})"});
    CHECK_FALSE(r.valid());
    CHECK(has_rule(r, "NameUniqueAmongInterfaceContents"));
    CHECK(first_error(r)->file == "model1.json");
    CHECK(first_error(r)->id == "dtmi:ex:Derived;1");
}

TEST_CASE("an extends cycle is refused", "[parser]") {
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface", "extends": "dtmi:ex:B;1"})",
                          R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:B;1", "@type": "Interface", "extends": "dtmi:ex:A;1"})"});
    CHECK_FALSE(r.valid());
    CHECK(has_rule(r, "ExtendsSelfReference"));
}

TEST_CASE("malformed JSON, non-UTF-8 text and bad roots are errors, never crashes", "[parser]") {
    auto r = parse_texts({"{\n  \"@id\": \"dtmi:ex:A;1\",\n  \"@type\" \"Interface\"\n}"});
    REQUIRE(first_error(r) != nullptr);
    CHECK(first_error(r)->rule == "JsonSyntax");
    CHECK(first_error(r)->message.find("line 3") != std::string::npos);

    auto u = parse_texts({"{\"@context\": \"dtmi:dtdl:context;3\", \"@id\": \"dtmi:ex:A;1\", \"@type\": \"Interface\", \"comment\": \"\xff\xfe\"}"});
    REQUIRE(first_error(u) != nullptr);
    CHECK(first_error(u)->message.find("UTF-8") != std::string::npos);

    CHECK_FALSE(parse_texts({"42"}).valid());
    CHECK_FALSE(parse_texts({"[1, 2]"}).valid());
    CHECK_FALSE(parse_texts({""}).valid());

    // A BOM is accepted.
    CHECK(parse_texts({"\xEF\xBB\xBF{\"@context\": \"dtmi:dtdl:context;3\", \"@id\": \"dtmi:ex:A;1\", \"@type\": \"Interface\"}"}).valid());
}

TEST_CASE("a string broken by a line end is a syntax error on that line, quoting the line", "[parser]") {
    // Found by fuzz_dtdl: the error position was the newline itself, and the
    // excerpt of "its line" started after it, past the position it quoted.
    auto r = parse_texts({"{\n  \"@id\": \"dtmi:ex:A;1\",\n  \"name\": \"vr: {\n  \"x\": 1\n}"});
    REQUIRE(first_error(r) != nullptr);
    CHECK(first_error(r)->rule == "JsonSyntax");
    CHECK_THAT(first_error(r)->message, Catch::Contains("line 3") && Catch::Contains("\"name\\\": \\\"vr: {"));
}

TEST_CASE("read_documents names a missing path and reads folders recursively in order", "[parser]") {
    const std::vector<std::filesystem::path> missing{"/nonexistent/twinsim/model.json"};
    CHECK_THROWS_AS(read_documents(missing), twinsim::IoError);
    try {
        (void)read_documents(missing);
    } catch (const twinsim::IoError& e) {
        CHECK(std::string(e.what()).find("/nonexistent/twinsim/model.json") != std::string::npos);
    }
    const auto dir = std::filesystem::temp_directory_path() / "twinsim_parser_test";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "sub");
    std::ofstream(dir / "sub" / "b.json") << R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:B;1", "@type": "Interface"})";
    std::ofstream(dir / "a.json") << R"([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface", "extends": "dtmi:ex:B;1"}])";
    std::ofstream(dir / "notes.txt") << "ignored";
    const std::vector<std::filesystem::path> paths{dir};
    const auto docs = read_documents(paths);
    REQUIRE(docs.size() == 2);
    CHECK(docs[0].source.find("a.json") != std::string::npos);
    auto r = parse(docs);
    CHECK(r.valid());
    std::filesystem::remove_all(dir);
}

TEST_CASE("unresolved references are reported by id, and a resolver can supply them", "[parser]") {
    const std::string derived = R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Derived;1", "@type": "Interface",
        "extends": "dtmi:ex:Base;1", "contents": [{"@type": "Component", "name": "c", "schema": "dtmi:ex:Part;1"}]})";
    auto r = parse_texts({derived});
    CHECK_FALSE(r.valid());
    CHECK(r.unresolved == std::vector<std::string>{"dtmi:ex:Base;1", "dtmi:ex:Part;1"});

    int calls = 0;
    ParseOptions options;
    options.resolver = [&](const std::vector<std::string>& ids) {
        ++calls;
        std::vector<Document> out;
        for (const auto& id : ids) {
            if (id == "dtmi:ex:Base;1")
                out.push_back({"repo/base.json", R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Base;1", "@type": "Interface", "extends": "dtmi:ex:Root;1"})"});
            if (id == "dtmi:ex:Part;1")
                out.push_back({"repo/part.json", R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Part;1", "@type": "Interface"})"});
            if (id == "dtmi:ex:Root;1")
                out.push_back({"repo/root.json", R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Root;1", "@type": "Interface"})"});
        }
        return out;
    };
    auto resolved = parse_texts({derived}, options);
    CHECK(resolved.valid());
    CHECK(calls == 2);  // Base and Part, then Root (needed by Base)
    CHECK(resolved.interfaces.size() == 4);
}

TEST_CASE("an element nested in another document's interface is not referenceable, as in one document", "[parser]") {
    // Interface A defines an Enum in its "schemas"; interface B's Property uses
    // it. The Enum belongs to A's partition, so B may not reference it
    // (DependencyReferenceable), whether A and B share a document or not, and
    // whether A is given or supplied by the resolver.
    const std::string a = R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface",
        "schemas": [{"@id": "dtmi:ex:A:Mode;1", "@type": "Enum", "valueSchema": "integer",
                     "enumValues": [{"name": "off", "enumValue": 0}, {"name": "on", "enumValue": 1}]}],
        "contents": [{"@type": "Property", "name": "mode", "schema": "dtmi:ex:A:Mode;1"}]})";
    const std::string b = R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:B;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "mode", "schema": "dtmi:ex:A:Mode;1"}]})";
    const std::vector<Document> one_file{{"b.json", "[" + b + "," + a + "]"}};
    const std::vector<Document> two_files{{"b.json", "[" + b + "]"}, {"a.json", "[" + a + "]"}};
    const std::vector<Document> b_only{{"b.json", "[" + b + "]"}};
    ParseOptions resolving;
    resolving.resolver = [&](const std::vector<std::string>& ids) {
        std::vector<Document> out;
        if (std::find(ids.begin(), ids.end(), "dtmi:ex:A:Mode;1") != ids.end()) out.push_back({"a.json", "[" + a + "]"});
        return out;
    };
    const ParseResult results[] = {parse(one_file), parse(two_files), parse(b_only, resolving)};
    for (const auto& r : results) {
        CHECK_FALSE(r.valid());
        const auto errors = r.errors();
        REQUIRE(errors.size() == 1);
        const Diagnostic& d = errors.front();
        CHECK(d.rule == "DependencyReferenceable");
        CHECK(d.file == "b.json");
        CHECK(d.id == "dtmi:ex:B;1");
        CHECK(d.path == "/0/contents/0/schema");
        CHECK(r.unresolved.empty());
    }
}

TEST_CASE("a DTDL v2 interface may not extend a v3 one", "[parser]") {
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:New;1", "@type": "Interface"})",
                          R"({"@context": "dtmi:dtdl:context;2", "@id": "dtmi:ex:Old;1", "@type": "Interface", "extends": "dtmi:ex:New;1"})"});
    CHECK_FALSE(r.valid());
    CHECK(has_rule(r, "ClassInterfacePropertyExtendsTypeConformance"));
    // The other way round is fine.
    auto ok = parse_texts({R"({"@context": "dtmi:dtdl:context;2", "@id": "dtmi:ex:Old;1", "@type": "Interface"})",
                           R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:New;1", "@type": "Interface", "extends": "dtmi:ex:Old;1"})"});
    CHECK(ok.valid());
}

TEST_CASE("SHOULD rules give warnings, not errors", "[parser]") {
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "dtmi:dtdl:class:Interface;3",
        "contents": [{"@type": "Command", "name": "go", "commandType": "synchronous"}]})"});
    CHECK(r.valid());
    CHECK(has_rule(r, "TypePreferTermToDtmi", Severity::warning));
    CHECK(has_rule(r, "CommandTypeDeprecated", Severity::warning));
}

TEST_CASE("extensions: QuantitativeTypes units and undefined extensions", "[parser]") {
    const std::string qt = R"({"@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
        "@id": "dtmi:ex:S;1", "@type": "Interface",
        "contents": [{"@type": ["Telemetry", "Temperature"], "name": "t", "schema": "double", "unit": "%s"}]})";
    auto with_unit = [&](const std::string& unit) {
        std::string text = qt;
        text.replace(text.find("%s"), 2, unit);
        return parse_texts({text});
    };
    auto good = with_unit("degreeCelsius");
    CHECK(good.valid());
    REQUIRE(good.interfaces.size() == 1);
    CHECK(good.interfaces[0].contents[0].annotations.unit == "degreeCelsius");
    CHECK(good.interfaces[0].contents[0].annotations.extra_types == std::vector<std::string>{"Temperature"});
    CHECK_FALSE(with_unit("metre").valid());

    const std::string undefined = R"({"@context": ["dtmi:dtdl:context;3", "dtmi:ex:myExtension;1"],
        "@id": "dtmi:ex:S;1", "@type": "Interface",
        "contents": [{"@type": ["Property", "Flavor"], "name": "f", "schema": "string", "sweetness": 3}]})";
    CHECK_FALSE(parse_texts({undefined}).valid());
    ParseOptions allow;
    allow.allow_undefined_extensions = true;
    CHECK(parse_texts({undefined}, allow).valid());
}

TEST_CASE("Overriding: \"overrides\" names an extension property of the annotated Property or Telemetry", "[parser]") {
    // reference/dtdl/v3_DTDL.overriding.v1.md and v3_DTDL.annotation.v1.md
    const std::string context = R"("@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1",
        "dtmi:dtdl:extension:annotation;1", "dtmi:dtdl:extension:overriding;1"])";
    auto model = [&](const std::string& annotated, const std::string& overrides) {
        return "{" + context + R"(, "@id": "dtmi:ex:Sensor;1", "@type": "Interface", "contents": [)" + annotated +
               R"(, {"@type": ["Property", "ValueAnnotation", "Override"], "name": "currentTempUnit",
                     "annotates": "currentTemp", "overrides": ")" + overrides + R"(", "schema": "string", "writable": true}]})";
    };
    const std::string temperature = R"({"@type": ["Telemetry", "Temperature"], "name": "currentTemp", "schema": "double",
                                         "unit": "degreeFahrenheit"})";
    CHECK(parse_texts({model(temperature, "unit")}).valid());
    CHECK(parse_texts({model(temperature, "dtmi:dtdl:extension:quantitativeTypes:v1:property:unit")}).valid());

    // A property no extension in force defines.
    auto undefined = parse_texts({model(temperature, "colour")});
    CHECK(has_rule(undefined, "OverrideOverridesExtensionProperty"));
    // A property the annotated element does not have: no semantic type, so no "unit".
    auto plain = parse_texts({model(R"({"@type": "Telemetry", "name": "currentTemp", "schema": "double"})", "unit")});
    CHECK(has_rule(plain, "OverrideOverridesPropertyOfAnnotated"));
    // "annotates" must name a Property or Telemetry.
    auto command = parse_texts({model(R"({"@type": "Command", "name": "currentTemp"})", "unit")});
    CHECK(has_rule(command, "ValueAnnotationAnnotatesPropertyOrTelemetry"));

    // Inherited through extends is fine (the specification's second example)...
    const std::string base_v3 = R"({"@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
        "@id": "dtmi:ex:BaseSensor;1", "@type": "Interface", "contents": [)" + temperature + "]}";
    const std::string derived = "{" + context + R"(, "@id": "dtmi:ex:Sensor;1", "@type": "Interface",
        "extends": "dtmi:ex:BaseSensor;1", "contents": [{"@type": ["Property", "ValueAnnotation", "Override"],
        "name": "currentTempUnit", "annotates": "currentTemp", "overrides": "unit", "schema": "string"}]})";
    CHECK(parse_texts({base_v3, derived}).valid());
    // ...but the overridden property must come from an extension of the same DTDL version:
    // a DTDL v2 base's unit is defined by DTDL v2.
    const std::string base_v2 = R"({"@context": "dtmi:dtdl:context;2", "@id": "dtmi:ex:BaseSensor;1", "@type": "Interface",
        "contents": [{"@type": ["Telemetry", "Temperature"], "name": "currentTemp", "schema": "double", "unit": "degreeFahrenheit"}]})";
    auto mixed = parse_texts({base_v2, derived});
    CHECK(has_rule(mixed, "OverrideOverridesExtensionVersion"));
}

TEST_CASE("the built interfaces carry contents, shared schemas and inline extends", "[parser]") {
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1", "@type": "Interface",
        "displayName": {"en": "Room", "fr": "Pièce"},
        "extends": {"@id": "dtmi:ex:Space;1", "@type": "Interface",
                    "contents": [{"@type": "Property", "name": "area", "schema": "double", "writable": true}]},
        "schemas": [{"@id": "dtmi:ex:Mode;1", "@type": "Enum", "valueSchema": "string",
                     "enumValues": [{"name": "on", "enumValue": "ON"}, {"name": "off", "enumValue": "OFF"}]}],
        "contents": [{"@type": "Property", "name": "mode", "schema": "dtmi:ex:Mode;1"},
                     {"@type": "Telemetry", "name": "lastMode", "schema": "dtmi:ex:Mode;1"},
                     {"@type": "Relationship", "name": "contains", "target": "dtmi:ex:Device;1", "maxMultiplicity": 5,
                      "properties": [{"@type": "Property", "name": "since", "schema": "dateTime"}]},
                     {"@type": "Command", "name": "reset", "request": {"name": "level", "schema": "integer"}}]})"});
    REQUIRE(r.valid());
    REQUIRE(r.interfaces.size() == 2);
    const auto room = std::find_if(r.interfaces.begin(), r.interfaces.end(), [](const Interface& i) { return i.id == "dtmi:ex:Room;1"; });
    const auto space = std::find_if(r.interfaces.begin(), r.interfaces.end(), [](const Interface& i) { return i.id == "dtmi:ex:Space;1"; });
    REQUIRE(room != r.interfaces.end());
    REQUIRE(space != r.interfaces.end());
    CHECK(room->extends == std::vector<std::string>{"dtmi:ex:Space;1"});
    CHECK(room->annotations.display_name.at("fr") == "Pièce");
    CHECK(room->file == "model0.json");
    REQUIRE(room->contents.size() == 4);
    REQUIRE(room->schemas.size() == 1);
    CHECK(room->contents[0].schema == room->schemas[0]);  // the same object, shared by @id
    CHECK(room->contents[1].schema == room->schemas[0]);
    CHECK(room->schemas[0]->kind == SchemaKind::enum_);
    CHECK(room->schemas[0]->enum_value_schema == SchemaKind::string);
    CHECK(room->schemas[0]->enum_values[1].string_value == "OFF");
    CHECK(room->contents[2].kind == ContentKind::relationship);
    CHECK(room->contents[2].max_multiplicity == 5);
    CHECK(room->contents[2].properties.at(0).schema == primitive_schema(SchemaKind::date_time));
    CHECK(room->contents[3].request->name == "level");
    CHECK(space->contents.at(0).writable);
    CHECK(primitive_schema(SchemaKind::double_) == primitive_schema(SchemaKind::double_));
    CHECK(std::string(to_string(SchemaKind::date_time)) == "dateTime");
    CHECK(std::string(to_string(ContentKind::telemetry)) == "Telemetry");
}

TEST_CASE("ModelError summarises errors and unresolved ids", "[parser]") {
    Diagnostic d{Severity::error, "a.json", "dtmi:ex:A;1", "/contents/0/name", "bad name", "ClassPropertyPropertyNamePattern"};
    ModelError e({d, d}, {"dtmi:ex:Missing;1"});
    const std::string what = e.what();
    CHECK(what.find("2 errors in DTDL models; first: a.json: dtmi:ex:A;1: /contents/0/name: bad name") == 0);
    CHECK(what.find("dtmi:ex:Missing;1") != std::string::npos);
    CHECK(e.errors().size() == 2);
}

namespace {

// `count` Properties "<prefix><i>" of schema double: 2 * count values under the v3 limit.
std::string properties_json(const std::string& prefix, int count) {
    std::string out;
    for (int i = 0; i < count; ++i) {
        if (i != 0) out += ',';
        out += R"({"@type":"Property","name":")";
        out += prefix;
        out += std::to_string(i);
        out += R"(","schema":"double"})";
    }
    return out;
}

// A v3 Interface whose JSON text is exactly `bytes` long (braces included), padded with whitespace.
std::string interface_of_size(const std::string& id, std::size_t bytes, const std::string& members = "") {
    std::string head = R"({"@context":"dtmi:dtdl:context;3","@id":")";
    head += id;
    head += R"(","@type":"Interface")";
    if (!members.empty()) {
        head += ',';
        head += members;
    }
    REQUIRE(bytes >= head.size() + 1);
    head.append(bytes - head.size() - 1, ' ');
    head += '}';
    return head;
}

template <typename T>
concept HasNullable = requires(T t) { t.nullable; };

}  // namespace

TEST_CASE("v3: at most 100000 values under an Interface, counting those imported through extends", "[parser]") {
    // Four bases of 12500 Properties each: 4 * 2 * 12500 = 100000 values ("contents" + "schema").
    std::vector<std::string> texts;
    std::string bases;
    for (int b = 0; b < 4; ++b) {
        const std::string id = std::string("dtmi:ex:Base") + std::to_string(b) + ";1";
        texts.push_back(R"({"@context":"dtmi:dtdl:context;3","@id":")" + id + R"(","@type":"Interface","contents":[)" +
                        properties_json(std::string("b") + std::to_string(b) + "p", 12500) + "]}");
        if (!bases.empty()) bases += ',';
        bases.append(1, '"').append(id).append(1, '"');
    }
    // Exactly at the limit: valid.
    texts.push_back(R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:ex:AtLimit;1","@type":"Interface","extends":[)" + bases + "]}");
    // One Property more (two values): over it.
    texts.push_back(R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:ex:Over;1","@type":"Interface","extends":[)" + bases +
                    R"(],"contents":[{"@type":"Property","name":"extra","schema":"double"}]})");
    auto r = parse_texts(texts);
    std::vector<Diagnostic> errors = r.errors();
    REQUIRE(errors.size() == 1);
    const Diagnostic& d = errors[0];
    CHECK(d.file == "model5.json");
    CHECK(d.id == "dtmi:ex:Over;1");
    CHECK(d.path.empty());
    CHECK(d.rule == "ClassInterfacePropertiesDescendantValuesMaxCount");
    CHECK(d.message.find("more than 100000") != std::string::npos);
    CHECK(d.message.find("at most 100000") != std::string::npos);

    texts.pop_back();
    CHECK(parse_texts(texts).valid());
}

TEST_CASE("v3: an Interface's JSON text is at most 1 MiB, not counting descendant Interfaces", "[parser]") {
    constexpr std::size_t mib = 1048576;
    const std::string small = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:ex:Small;1","@type":"Interface"})";
    // In an array, so the document is longer than the Interface and the span must really be measured.
    auto at_limit = parse_texts({std::string("[") + small + "," + interface_of_size("dtmi:ex:Big;1", mib) + "]"});
    CHECK(at_limit.valid());

    auto over = parse_texts({std::string("[") + small + "," + interface_of_size("dtmi:ex:Big;1", mib + 1) + "]"});
    const auto errors = over.errors();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].file == "model0.json");
    CHECK(errors[0].id == "dtmi:ex:Big;1");
    CHECK(errors[0].path == "/1");
    CHECK(errors[0].rule == "ClassInterfaceJsonTextMaxSize");
    CHECK(errors[0].message.find("1048577 bytes") != std::string::npos);
    CHECK(errors[0].message.find("at most 1048576") != std::string::npos);

    // A root object over the limit is reported at the root.
    auto root = parse_texts({interface_of_size("dtmi:ex:Big;1", mib + 1)});
    REQUIRE(root.errors().size() == 1);
    CHECK(root.errors()[0].rule == "ClassInterfaceJsonTextMaxSize");

    // An inline Component Interface is a descendant: its text counts for itself only.
    // The member name is escaped ("contents") so the scanner must decode it to find the child.
    const std::string child = interface_of_size("dtmi:ex:Child;1", 600000);
    const std::string parent = interface_of_size(
        "dtmi:ex:Parent;1", 600000 + child.size(), R"("cont\u0065nts":[{"@type":"Component","name":"c","schema":)" + child + "}]");
    REQUIRE(parent.size() > mib);
    CHECK(parse_texts({parent}).valid());
    const std::string big_child = interface_of_size("dtmi:ex:Child;1", mib + 1);
    auto child_over = parse_texts({interface_of_size("dtmi:ex:Parent;1", 1000 + big_child.size(),
                                                     R"("contents":[{"@type":"Component","name":"c","schema":)" + big_child + "}]")});
    REQUIRE(child_over.errors().size() == 1);
    CHECK(child_over.errors()[0].id == "dtmi:ex:Child;1");
    CHECK(child_over.errors()[0].path == "/contents/0/schema");

    // DTDL v2 states no such limit.
    std::string v2 = interface_of_size("dtmi:ex:Big;1", mib + 1);
    v2.replace(v2.find("context;3"), 9, "context;2");
    CHECK(parse_texts({v2}).valid());
}

TEST_CASE("v3 command payloads have no nullable: the member is refused and the struct has no field for it", "[parser]") {
    STATIC_REQUIRE_FALSE(HasNullable<CommandPayload>);
    auto r = parse_texts({R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface",
        "contents": [{"@type": "Command", "name": "go", "request": {"name": "x", "schema": "double", "nullable": true}}]})"});
    CHECK_FALSE(r.valid());
    CHECK(has_rule(r, "ClassCommandRequestPropertyFormallyUndefinedTerm"));
}

TEST_CASE("an invalid set builds no interfaces but still lists the ids it found", "[parser]") {
    // An Object that contains itself is invalid; building it would make a
    // shared-pointer cycle (a leak under LeakSanitizer).
    const auto r = parse_texts({R"({
        "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Loop;1", "@type": "Interface",
        "schemas": [{"@id": "dtmi:ex:Node;1", "@type": "Object",
                     "fields": [{"name": "next", "schema": "dtmi:ex:Node;1"}]}],
        "contents": [{"@type": "Property", "name": "head", "schema": "dtmi:ex:Node;1"}]
    })"});
    CHECK_FALSE(r.valid());
    CHECK(r.interfaces.empty());
    CHECK(r.interface_ids == std::vector<std::string>{"dtmi:ex:Loop;1"});
}

TEST_CASE("Array schemas nested beyond the depth limit are one error naming document, DTMI and JSON path",
          "[parser]") {
    // 10,000 nested Arrays (about 340 KB): refused at once, in linear time and memory.
    constexpr int levels = 10000;
    std::string text = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:ex:Deep;1","@type":"Interface",)"
                       R"("contents":[{"@type":"Property","name":"p","schema":)";
    for (int k = 0; k < levels; ++k) text += R"({"@type":"Array","elementSchema":)";
    text += R"("double")";
    text += std::string(levels, '}');
    text += "}]}";
    const auto r = parse_texts({text});
    CHECK_FALSE(r.valid());
    REQUIRE(r.diagnostics.size() == 1);
    const Diagnostic& d = r.diagnostics[0];
    CHECK(d.file == "model0.json");
    CHECK(d.id == "dtmi:ex:Deep;1");
    CHECK(d.rule == "MaxDepth");
    // root, contents, the property and 125 Arrays make 128 levels; the 126th Array opens level 129.
    std::string path = "/contents/0/schema";
    for (int k = 0; k < 125; ++k) path += "/elementSchema";
    CHECK(d.path == path);
    CHECK(d.message.find("the document nests arrays and objects deeper than the limit of 128 levels (at line 1, column ") == 0);

    // The innermost "@id" before the deep value is the one named.
    std::string inner = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:ex:Deep;1","@type":"Interface",)"
                        R"("contents":[{"@type":"Property","name":"p","schema":{"@id":"dtmi:ex:Deep:list;1",)"
                        R"("@type":"Array","elementSchema":)";
    inner += std::string(200, '[') + std::string(200, ']') + "}}]}";
    const auto r2 = parse_texts({inner});
    REQUIRE_FALSE(r2.diagnostics.empty());
    CHECK(r2.diagnostics[0].id == "dtmi:ex:Deep:list;1");
    CHECK(r2.diagnostics[0].rule == "MaxDepth");
}
