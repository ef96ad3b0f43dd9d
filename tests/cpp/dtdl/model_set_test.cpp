// ModelSet compilation: indices, inheritance, is-a, flattening and property
// layouts. The interfaces are built by hand so these tests do not depend on
// the parser; the last section goes through ModelSet::compile.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "../test_support.hpp"
#include "twinsim/dtdl/model_set.hpp"

using namespace twinsim::dtdl;

namespace {

// Appends instead of `"p" + std::to_string(k)`, which trips GCC 12's false
// -Wrestrict warning (GCC bug 105651) at -O3.
std::string numbered(std::string prefix, long long k) {
    prefix += std::to_string(k);
    return prefix;
}

SchemaPtr schema_of(SchemaKind kind) {
    auto s = std::make_shared<Schema>();
    s->kind = kind;
    return s;
}

SchemaPtr enum_of(SchemaKind value_schema) {
    auto s = std::make_shared<Schema>();
    s->kind = SchemaKind::enum_;
    s->enum_value_schema = value_schema;
    return s;
}

Content property(std::string name, SchemaKind kind, bool writable = false) {
    Content c;
    c.kind = ContentKind::property;
    c.name = std::move(name);
    c.schema = schema_of(kind);
    c.writable = writable;
    return c;
}

Content of_kind(ContentKind kind, std::string name) {
    Content c;
    c.kind = kind;
    c.name = std::move(name);
    if (kind == ContentKind::telemetry) c.schema = schema_of(SchemaKind::double_);
    return c;
}

Interface interface(std::string id, std::vector<std::string> extends, std::vector<Content> contents) {
    Interface in;
    in.id = std::move(id);
    in.extends = std::move(extends);
    in.contents = std::move(contents);
    return in;
}

const std::string A = "dtmi:test:A;1";
const std::string B = "dtmi:test:B;1";
const std::string C = "dtmi:test:C;1";
const std::string D = "dtmi:test:D;1";
const std::string U = "dtmi:test:U;1";
const std::string X = "dtmi:test:X;1";

// A diamond: D extends B and C, both extend A. U is unrelated; X is D's component.
// Given in scrambled order to show indices do not depend on input order.
std::vector<Interface> diamond() {
    std::vector<Interface> v;
    Content comp = of_kind(ContentKind::component, "comp");
    comp.component_interface = X;
    v.push_back(interface(D, {B, C}, {property("d1", SchemaKind::boolean), std::move(comp)}));
    v.push_back(interface(U, {}, {property("u1", SchemaKind::string)}));
    v.push_back(interface(B, {A}, {property("b1", SchemaKind::string)}));
    v.push_back(interface(X, {}, {}));
    v.push_back(interface(A, {}, {property("a1", SchemaKind::integer, true), of_kind(ContentKind::telemetry, "t")}));
    v.push_back(interface(C, {A}, {property("c1", SchemaKind::double_), of_kind(ContentKind::relationship, "rel")}));
    return v;
}

std::vector<std::string> names_of(const CompiledInterface& ci) {
    std::vector<std::string> out;
    for (const Content* c : ci.contents) out.push_back(c->name);
    return out;
}

std::vector<std::string> slot_names(const PropertyLayout& layout) {
    std::vector<std::string> out;
    for (const auto& s : layout.slots) out.push_back(s.name);
    return out;
}

std::vector<std::string> ids_of(const ModelSet& set, const std::vector<InterfaceIndex>& v) {
    std::vector<std::string> out;
    for (auto i : v) out.push_back(set.at(i).definition->id);
    return out;
}

}  // namespace

TEST_CASE("interfaces are indexed densely in DTMI order", "[model_set]") {
    const auto set = ModelSet::from_interfaces(diamond());
    REQUIRE(set->size() == 6);
    const std::vector<std::string> expected{A, B, C, D, U, X};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& ci = set->interfaces()[i];
        CHECK(ci.index == i);
        CHECK(ci.definition->id == expected[i]);
        CHECK(set->find(expected[i]) == static_cast<InterfaceIndex>(i));
        CHECK(&set->at(static_cast<InterfaceIndex>(i)) == &ci);
    }
}

TEST_CASE("direct bases keep declaration order; ancestors are nearest first without duplicates", "[model_set]") {
    const auto set = ModelSet::from_interfaces(diamond());
    CHECK(ids_of(*set, set->get(D).bases) == std::vector<std::string>{B, C});
    CHECK(ids_of(*set, set->get(D).ancestors) == std::vector<std::string>{B, C, A});
    CHECK(ids_of(*set, set->get(B).ancestors) == std::vector<std::string>{A});
    CHECK(set->get(A).ancestors.empty());
    CHECK(set->get(U).bases.empty());

    // Nearest first even when a far ancestor is listed first.
    std::vector<Interface> v;
    v.push_back(interface("dtmi:t:Root;1", {}, {}));
    v.push_back(interface("dtmi:t:Mid;1", {"dtmi:t:Root;1"}, {}));
    v.push_back(interface("dtmi:t:Leaf;1", {"dtmi:t:Mid;1", "dtmi:t:Other;1"}, {}));
    v.push_back(interface("dtmi:t:Other;1", {}, {}));
    const auto s2 = ModelSet::from_interfaces(std::move(v));
    CHECK(ids_of(*s2, s2->get("dtmi:t:Leaf;1").ancestors) ==
          std::vector<std::string>{"dtmi:t:Mid;1", "dtmi:t:Other;1", "dtmi:t:Root;1"});
}

TEST_CASE("is_a is reflexive and transitive, and false for unrelated or reversed pairs", "[model_set]") {
    const auto set = ModelSet::from_interfaces(diamond());
    for (const auto& id : {A, B, C, D, U, X}) CHECK(set->is_a(id, id));
    CHECK(set->is_a(D, B));
    CHECK(set->is_a(D, C));
    CHECK(set->is_a(D, A));  // transitive, through both sides of the diamond
    CHECK(set->is_a(B, A));
    CHECK_FALSE(set->is_a(A, D));  // reversed
    CHECK_FALSE(set->is_a(A, B));
    CHECK_FALSE(set->is_a(B, C));  // siblings
    CHECK_FALSE(set->is_a(C, B));
    CHECK_FALSE(set->is_a(D, U));  // unrelated
    CHECK_FALSE(set->is_a(U, A));
    CHECK_FALSE(set->is_a(D, X));  // a component is not a base
    CHECK_FALSE(set->is_a(D, "dtmi:test:Nope;1"));
    CHECK_FALSE(set->is_a("dtmi:test:Nope;1", "dtmi:test:Nope;1"));
    CHECK_FALSE(set->is_a(InterfaceIndex{0}, InterfaceIndex{999}));
    CHECK_FALSE(set->is_a(InterfaceIndex{999}, InterfaceIndex{0}));
}

TEST_CASE("is_a is right along a chain of 150 interfaces", "[model_set]") {
    // A chain of 150 interfaces: I000 <- I001 <- ... <- I149.
    std::vector<Interface> v;
    auto id = [](int k) {
        std::string n = std::to_string(k);
        std::string out = "dtmi:t:I";
        out.append(3 - n.size(), '0');
        return out + n + ";1";
    };
    for (int k = 0; k < 150; ++k)
        v.push_back(interface(id(k), k == 0 ? std::vector<std::string>{} : std::vector<std::string>{id(k - 1)},
                              {property(numbered("p", k), SchemaKind::double_)}));
    const auto set = ModelSet::from_interfaces(std::move(v));
    for (InterfaceIndex d = 0; d < 150; ++d)
        for (InterfaceIndex b = 0; b < 150; ++b) REQUIRE(set->is_a(d, b) == (b <= d));
    // The deepest interface has every ancestor's property, root first.
    const auto& leaf = set->get(id(149));
    REQUIRE(leaf.layout.slots.size() == 150);
    CHECK(leaf.layout.slots[0].name == "p0");
    CHECK(leaf.layout.slots[149].name == "p149");
    CHECK(leaf.ancestors.front() == 148);
    CHECK(leaf.ancestors.back() == 0);
}

TEST_CASE("is_a agrees with the ancestor lists on a random multiple-inheritance DAG", "[model_set]") {
    // 400 interfaces; each extends up to 3 earlier ones (deterministic LCG),
    // so ancestor sets overlap, are unsorted by index and vary in size.
    constexpr int n = 400;
    std::uint64_t state = 12345;
    auto below = [&](int k) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<int>((state >> 33U) % static_cast<std::uint64_t>(k));
    };
    std::vector<Interface> v;
    for (int k = 0; k < n; ++k) {
        std::vector<std::string> extends;
        if (k > 0)
            for (int e = below(4); e > 0; --e) {
                std::string base = numbered("dtmi:t:R", below(k)) + ";1";
                if (std::find(extends.begin(), extends.end(), base) == extends.end()) extends.push_back(std::move(base));
            }
        v.push_back(interface(numbered("dtmi:t:R", k) + ";1", std::move(extends), {}));
    }
    const auto set = ModelSet::from_interfaces(std::move(v));
    std::size_t positives = 0;
    for (const auto& ci : set->interfaces()) {
        std::vector<bool> expected(static_cast<std::size_t>(n), false);
        expected[ci.index] = true;
        for (auto a : ci.ancestors) expected[a] = true;
        for (InterfaceIndex b = 0; b < n; ++b) {
            REQUIRE(set->is_a(ci.index, b) == expected[b]);
            if (expected[b]) ++positives;
        }
        CHECK_FALSE(set->is_a(ci.index, InterfaceIndex{n}));
    }
    CHECK(positives > 4 * static_cast<std::size_t>(n));  // the DAG is not trivially flat
}

// Heap accounting needs glibc's mallinfo2 and an allocator that is not
// AddressSanitizer's, so this case exists only in the normal builds (the
// sanitizer run would otherwise report the whole [model_set] area as skipped).
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
TEST_CASE("a ModelSet's memory is linear in its interfaces, not quadratic", "[model_set]") {
    // 60000 interfaces in chains 10 deep. An n-by-n is-a bit matrix alone
    // would take n*n/8 = 450 MB (7.5 KB per interface); the sorted ancestor
    // spans take 4 bytes per (interface, ancestor) pair.
    constexpr int n = 60000;
    std::vector<Interface> v;
    v.reserve(n);
    for (int k = 0; k < n; ++k)
        v.push_back(interface(numbered("dtmi:t:M", k) + ";1",
                              k % 10 == 0 ? std::vector<std::string>{} : std::vector<std::string>{numbered("dtmi:t:M", k - 1) + ";1"},
                              {}));
    auto heap = [] {
        const struct mallinfo2 m = mallinfo2();
        return m.uordblks + m.hblkhd;  // in use: arena chunks and mmap'd blocks
    };
    const std::size_t before = heap();
    const auto set = ModelSet::from_interfaces(std::move(v));  // the input moves into the set
    const std::size_t after = heap();
    REQUIRE(set->size() == static_cast<std::size_t>(n));
    CHECK(set->is_a(set->get("dtmi:t:M59999;1").index, set->get("dtmi:t:M59990;1").index));
    CHECK_FALSE(set->is_a(set->get("dtmi:t:M59999;1").index, set->get("dtmi:t:M59989;1").index));
    const double per_interface = after > before ? static_cast<double>(after - before) / n : 0.0;
    INFO("bytes per interface beyond its definition: " << per_interface);
    CHECK(per_interface < 1024.0);
}
#endif

TEST_CASE("diamond inheritance flattens each inherited content once, base first", "[model_set]") {
    const auto set = ModelSet::from_interfaces(diamond());
    const auto& d = set->get(D);
    CHECK(names_of(d) == std::vector<std::string>{"a1", "t", "b1", "c1", "rel", "d1", "comp"});
    // The same Content object as A's own, not a copy.
    CHECK(d.find("a1") == &set->get(A).definition->contents[0]);
    CHECK(d.find("a1") == set->get(B).find("a1"));
    REQUIRE(d.find("rel") != nullptr);
    CHECK(d.find("rel")->kind == ContentKind::relationship);
    REQUIRE(d.find("comp") != nullptr);
    CHECK(d.find("comp")->component_interface == X);
    CHECK(d.find("zz") == nullptr);
    CHECK(set->get(A).find("b1") == nullptr);  // nothing flows down to bases
    CHECK(names_of(set->get(C)) == std::vector<std::string>{"a1", "t", "c1", "rel"});
}

TEST_CASE("property layouts: one slot per flattened Property, inherited first, with declared_in", "[model_set]") {
    const auto set = ModelSet::from_interfaces(diamond());
    const auto& layout = set->get(D).layout;
    REQUIRE(slot_names(layout) == std::vector<std::string>{"a1", "b1", "c1", "d1"});
    struct Expect {
        const char* name;
        ColumnType type;
        std::string declared_in;
        bool writable;
    };
    const std::vector<Expect> expected{{"a1", ColumnType::int64, A, true},
                                       {"b1", ColumnType::string, B, false},
                                       {"c1", ColumnType::float64, C, false},
                                       {"d1", ColumnType::boolean, D, false}};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& slot = layout.slots[i];
        INFO(slot.name);
        CHECK(slot.column == i);
        CHECK(slot.type == expected[i].type);
        CHECK(slot.declared_in == expected[i].declared_in);
        CHECK(slot.writable == expected[i].writable);
        CHECK(slot.property == set->get(D).find(slot.name));
        CHECK(layout.find(expected[i].name) == &slot);
    }
    // Telemetry, Relationship and Component take no column.
    CHECK(layout.find("t") == nullptr);
    CHECK(layout.find("rel") == nullptr);
    CHECK(layout.find("comp") == nullptr);
    // The first base's layout is a prefix of the derived layout: columns are stable.
    const auto& b = set->get(B).layout;
    REQUIRE(b.slots.size() == 2);
    for (std::size_t i = 0; i < b.slots.size(); ++i) {
        CHECK(b.slots[i].name == layout.slots[i].name);
        CHECK(b.slots[i].column == layout.slots[i].column);
    }
}

TEST_CASE("column types follow the property schema", "[model_set]") {
    struct Case {
        SchemaPtr schema;
        ColumnType type;
    };
    const std::vector<Case> cases{
        {schema_of(SchemaKind::boolean), ColumnType::boolean},
        {schema_of(SchemaKind::integer), ColumnType::int64},
        {schema_of(SchemaKind::long_), ColumnType::int64},
        {schema_of(SchemaKind::double_), ColumnType::float64},
        {schema_of(SchemaKind::float_), ColumnType::float64},
        {schema_of(SchemaKind::string), ColumnType::string},
        {schema_of(SchemaKind::date), ColumnType::string},
        {schema_of(SchemaKind::date_time), ColumnType::string},
        {schema_of(SchemaKind::duration), ColumnType::string},
        {schema_of(SchemaKind::time), ColumnType::string},
        {enum_of(SchemaKind::string), ColumnType::string},
        {enum_of(SchemaKind::integer), ColumnType::int64},
        {schema_of(SchemaKind::object), ColumnType::json},
        {schema_of(SchemaKind::map), ColumnType::json},
        {schema_of(SchemaKind::array), ColumnType::json},
        {schema_of(SchemaKind::point), ColumnType::json},
        {schema_of(SchemaKind::multi_point), ColumnType::json},
        {schema_of(SchemaKind::line_string), ColumnType::json},
        {schema_of(SchemaKind::multi_line_string), ColumnType::json},
        {schema_of(SchemaKind::polygon), ColumnType::json},
        {schema_of(SchemaKind::multi_polygon), ColumnType::json},
    };
    Interface in = interface("dtmi:t:Types;1", {}, {});
    for (std::size_t i = 0; i < cases.size(); ++i) {
        Content c = property(numbered("p", static_cast<long long>(i)), SchemaKind::string);
        c.schema = cases[i].schema;
        in.contents.push_back(std::move(c));
    }
    std::vector<Interface> v;
    v.push_back(std::move(in));
    const auto set = ModelSet::from_interfaces(std::move(v));
    const auto& layout = set->at(0).layout;
    REQUIRE(layout.slots.size() == cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        INFO("schema " << to_string(cases[i].schema->kind) << " -> " << to_string(layout.slots[i].type));
        CHECK(layout.slots[i].type == cases[i].type);
        CHECK(layout.slots[i].name == numbered("p", static_cast<long long>(i)));  // declaration order
    }
}

TEST_CASE("to_string(ColumnType) names every type", "[model_set]") {
    CHECK(std::string(to_string(ColumnType::boolean)) == "boolean");
    CHECK(std::string(to_string(ColumnType::int64)) == "int64");
    CHECK(std::string(to_string(ColumnType::float64)) == "float64");
    CHECK(std::string(to_string(ColumnType::string)) == "string");
    CHECK(std::string(to_string(ColumnType::json)) == "json");
}

TEST_CASE("find and get by DTMI; get names an unknown id", "[model_set]") {
    const auto set = ModelSet::from_interfaces(diamond());
    CHECK(set->get(C).definition->id == C);
    CHECK_FALSE(set->find("dtmi:test:Nope;1").has_value());
    CHECK_FALSE(set->find("").has_value());
    try {
        (void)set->get("dtmi:test:Nope;1");
        FAIL("get() of an unknown id must throw");
    } catch (const twinsim::Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("dtmi:test:Nope;1"));
    }
    CHECK_THROWS_AS(set->at(InterfaceIndex{6}), std::out_of_range);
}

TEST_CASE("PropertyLayout::find scans when the layout was assembled by hand", "[model_set]") {
    PropertyLayout layout;
    layout.slots.push_back(PropertySlot{"z", 0, ColumnType::int64, nullptr, "", false});
    layout.slots.push_back(PropertySlot{"a", 1, ColumnType::json, nullptr, "", false});
    REQUIRE(layout.by_name.empty());
    CHECK(layout.find("a") == &layout.slots[1]);
    CHECK(layout.find("b") == nullptr);
}

TEST_CASE("pointers point into storage owned by the ModelSet and outlive the input", "[model_set]") {
    std::shared_ptr<const ModelSet> set;
    {
        // Many interfaces with many contents, so any reallocation after taking
        // pointers would show up as a pointer outside the owned definitions.
        std::vector<Interface> v;
        for (int k = 0; k < 300; ++k) {
            std::vector<Content> contents;
            for (int p = 0; p < 5; ++p) contents.push_back(property(numbered(numbered("p", k) + "_", p), SchemaKind::double_));
            std::vector<std::string> ext;
            if (k > 0) ext.push_back(numbered("dtmi:t:I", k / 2) + ";1");
            v.push_back(interface(numbered("dtmi:t:I", k) + ";1", ext, std::move(contents)));
        }
        set = ModelSet::from_interfaces(std::move(v));
    }  // the caller's vector is gone
    const auto all = set->interfaces();
    auto owned_by = [&](const Content* c, const std::string& id) {
        const auto& defs = set->get(id).definition->contents;
        return !defs.empty() && c >= &defs.front() && c <= &defs.back();
    };
    for (const auto& ci : all) {
        REQUIRE(ci.definition != nullptr);
        CHECK(set->get(ci.definition->id).index == ci.index);
        for (const auto& slot : ci.layout.slots) {
            REQUIRE(owned_by(slot.property, slot.declared_in));
            CHECK(slot.property->name == slot.name);
        }
        for (const Content* c : ci.contents) CHECK(c->schema->kind == SchemaKind::double_);
    }
    // Building another set does not disturb this one.
    const auto other = ModelSet::from_interfaces(diamond());
    REQUIRE(set->get("dtmi:t:I7;1").find("p3_0") != nullptr);
    CHECK(set->get("dtmi:t:I7;1").find("p3_0")->name == "p3_0");
    CHECK(other->size() == 6);
}

TEST_CASE("warnings given to from_interfaces are kept", "[model_set]") {
    Diagnostic w;
    w.severity = Severity::warning;
    w.message = "displayName should be short";
    const auto set = ModelSet::from_interfaces(diamond(), {w});
    REQUIRE(set->warnings().size() == 1);
    CHECK(set->warnings()[0].message == "displayName should be short");
}

TEST_CASE("a broken precondition throws ModelError naming the interface", "[model_set]") {
    auto message_of = [](std::vector<Interface> v) -> std::string {
        try {
            (void)ModelSet::from_interfaces(std::move(v));
        } catch (const ModelError& e) {
            REQUIRE(e.errors().size() == 1);
            return e.errors()[0].id + " | " + e.errors()[0].message;
        }
        return "no error";
    };
    SECTION("unknown base") {
        std::vector<Interface> v;
        v.push_back(interface(A, {"dtmi:test:Missing;1"}, {}));
        const auto m = message_of(std::move(v));
        CHECK_THAT(m, Catch::Contains(A) && Catch::Contains("dtmi:test:Missing;1"));
    }
    SECTION("inheritance cycle") {
        std::vector<Interface> v;
        v.push_back(interface(A, {B}, {}));
        v.push_back(interface(B, {A}, {}));
        CHECK_THAT(message_of(std::move(v)), Catch::Contains("inherits from itself"));
    }
    SECTION("duplicate id") {
        std::vector<Interface> v;
        v.push_back(interface(A, {}, {}));
        v.push_back(interface(A, {}, {}));
        CHECK_THAT(message_of(std::move(v)), Catch::Contains("more than once"));
    }
    SECTION("two inherited contents with one name") {
        std::vector<Interface> v;
        v.push_back(interface(A, {}, {property("x", SchemaKind::integer)}));
        v.push_back(interface(B, {}, {property("x", SchemaKind::string)}));
        v.push_back(interface(C, {A, B}, {}));
        const auto m = message_of(std::move(v));
        CHECK_THAT(m, Catch::StartsWith(C) && Catch::Contains("'x'"));
    }
    SECTION("unknown component interface") {
        Content comp = of_kind(ContentKind::component, "c");
        comp.component_interface = "dtmi:test:Missing;1";
        std::vector<Interface> v;
        v.push_back(interface(A, {}, {std::move(comp)}));
        CHECK_THAT(message_of(std::move(v)), Catch::Contains("dtmi:test:Missing;1"));
    }
}

// ------------------------------------------------------------ through the parser

namespace {

const char* const base_doc = R"({
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:example:Space;1",
  "@type": "Interface",
  "contents": [
    {"@type": "Property", "name": "name", "schema": "string", "writable": true},
    {"@type": "Property", "name": "area", "schema": "double"},
    {"@type": "Telemetry", "name": "occupancy", "schema": "integer"}
  ]
})";

const char* const derived_doc = R"({
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:example:Room;1",
  "@type": "Interface",
  "extends": "dtmi:example:Space;1",
  "contents": [
    {"@type": "Property", "name": "mode",
     "schema": {"@type": "Enum", "valueSchema": "string",
                "enumValues": [{"name": "auto", "enumValue": "auto"}, {"name": "off", "enumValue": "off"}]}},
    {"@type": "Property", "name": "setpoints",
     "schema": {"@type": "Map", "mapKey": {"name": "k", "schema": "string"}, "mapValue": {"name": "v", "schema": "double"}}},
    {"@type": "Relationship", "name": "isPartOf", "target": "dtmi:example:Space;1"}
  ]
})";

}  // namespace

TEST_CASE("compile: documents in any order become one flattened model", "[model_set]") {
    // Derived first: references across documents resolve regardless of order.
    const std::vector<Document> docs{{"room.json", derived_doc}, {"space.json", base_doc}};
    const auto set = ModelSet::compile(docs);
    REQUIRE(set->size() == 2);
    CHECK(set->is_a("dtmi:example:Room;1", "dtmi:example:Space;1"));
    CHECK_FALSE(set->is_a("dtmi:example:Space;1", "dtmi:example:Room;1"));
    const auto& room = set->get("dtmi:example:Room;1");
    CHECK(names_of(room) == std::vector<std::string>{"name", "area", "occupancy", "mode", "setpoints", "isPartOf"});
    REQUIRE(slot_names(room.layout) == std::vector<std::string>{"name", "area", "mode", "setpoints"});
    CHECK(room.layout.slots[0].type == ColumnType::string);
    CHECK(room.layout.slots[0].writable);
    CHECK(room.layout.slots[0].declared_in == "dtmi:example:Space;1");
    CHECK(room.layout.slots[1].type == ColumnType::float64);
    CHECK(room.layout.slots[2].type == ColumnType::string);  // string-valued Enum
    CHECK(room.layout.slots[3].type == ColumnType::json);
    CHECK(room.layout.slots[3].declared_in == "dtmi:example:Room;1");
}

TEST_CASE("compile: an invalid or incomplete set throws ModelError with every problem", "[model_set]") {
    SECTION("broken rule") {
        const std::vector<Document> docs{{"bad.json", R"({"@context": "dtmi:dtdl:context;3",
            "@id": "dtmi:example:Bad;1", "@type": "Interface",
            "contents": [{"@type": "Property", "name": "1nvalid name", "schema": "string"}]})"}};
        try {
            (void)ModelSet::compile(docs);
            FAIL("an invalid set must throw");
        } catch (const ModelError& e) {
            REQUIRE_FALSE(e.errors().empty());
            CHECK(e.errors()[0].file == "bad.json");
        }
    }
    SECTION("unresolved base") {
        const std::vector<Document> docs{{"room.json", derived_doc}};
        try {
            (void)ModelSet::compile(docs);
            FAIL("an incomplete set must throw");
        } catch (const ModelError& e) {
            CHECK(e.unresolved() == std::vector<std::string>{"dtmi:example:Space;1"});
        }
    }
}

TEST_CASE("from_files: a missing path throws IoError naming it", "[model_set]") {
    const std::vector<std::filesystem::path> paths{"/nonexistent/twinsim/models"};
    try {
        (void)ModelSet::from_files(paths);
        FAIL("a missing path must throw");
    } catch (const twinsim::IoError& e) {
        CHECK_THAT(e.what(), Catch::Contains("/nonexistent/twinsim/models"));
    }
}

TEST_CASE("the RealEstateCore ontology compiles into a consistent model set", "[model_set]") {
    const auto root = twinsim::test::shared_path("ontologies/RealEstateCore", "TWINSIM_REC_DIR");
    if (!root) {
        twinsim::test::mark_skipped("shared/ontologies/RealEstateCore is absent");
        return;
    }
    const std::vector<std::filesystem::path> paths{*root};
    const auto set = ModelSet::from_files(paths);
    REQUIRE(set->size() == 767);
    const auto all = set->interfaces();
    for (std::size_t i = 1; i < all.size(); ++i) REQUIRE(all[i - 1].definition->id < all[i].definition->id);
    for (const auto& ci : all) {
        INFO(ci.definition->id);
        for (auto a : ci.ancestors) REQUIRE(set->is_a(ci.index, a));
        // Everything a base has, the derived interface has, and the first base's
        // columns are a prefix of the derived columns.
        for (auto b : ci.bases)
            for (const Content* c : set->at(b).contents) REQUIRE(ci.find(c->name) == c);
        if (!ci.bases.empty()) {
            const auto& first = set->at(ci.bases.front()).layout.slots;
            REQUIRE(first.size() <= ci.layout.slots.size());
            for (std::size_t k = 0; k < first.size(); ++k) REQUIRE(first[k].property == ci.layout.slots[k].property);
        }
        for (const auto& slot : ci.layout.slots) REQUIRE(ci.layout.find(slot.name) == &slot);
    }
}
