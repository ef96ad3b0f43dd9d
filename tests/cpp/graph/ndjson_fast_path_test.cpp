// The bulk-load fast path of NDJSON import (simdjson records and
// TwinGraph::try_create_twin / try_create_relationship) must be invisible:
// every file imports exactly as through the general path (nlohmann::json and
// restore_twin / upsert_relationship) — same twins, etags, times (recorded
// ones included), events, and the same problems on the same lines. A "$etag" member, which import
// ignores, sends a line down the general path, so each file is compared with
// its twin carrying "$etag" at the end of every line.

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/detail/bulk_loader.hpp"
#include "twinsim/graph/ndjson.hpp"

namespace twinsim::graph {
namespace {

using json = nlohmann::json;

const char* const models[] = {
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:fast:Meter;1","@type":"Interface","contents":[)"
    R"({"@type":"Property","name":"reading","schema":"double"},)"
    R"({"@type":"Property","name":"count","schema":"integer"},)"
    R"({"@type":"Property","name":"big","schema":"long"},)"
    R"({"@type":"Property","name":"ratio","schema":"float"},)"
    R"({"@type":"Property","name":"on","schema":"boolean"},)"
    R"({"@type":"Property","name":"level","schema":{"@type":"Enum","valueSchema":"integer","enumValues":[)"
    R"({"name":"low","enumValue":1},{"name":"high","enumValue":2}]}},)"
    R"({"@type":"Relationship","name":"feeds","target":"dtmi:fast:Meter;1",)"
    R"("properties":[{"@type":"Property","name":"share","schema":"double"}]},)"
    R"({"@type":"Relationship","name":"near"}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:fast:Other;1","@type":"Interface","contents":[)"
    R"({"@type":"Property","name":"x","schema":"double"}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:fast:Tag;1","@type":"Interface","contents":[)"
    R"({"@type":"Property","name":"label","schema":"string"},)"
    R"({"@type":"Property","name":"day","schema":"date"},)"
    R"({"@type":"Property","name":"at","schema":"dateTime"},)"
    R"({"@type":"Property","name":"clock","schema":"time"},)"
    R"({"@type":"Property","name":"every","schema":"duration"},)"
    R"({"@type":"Property","name":"weight","schema":"double"},)"
    R"({"@type":"Property","name":"state","schema":{"@type":"Enum","valueSchema":"string","enumValues":[)"
    R"({"name":"ok","enumValue":"ok"},{"name":"bad","enumValue":"bad"}]}},)"
    R"({"@type":"Relationship","name":"tags","properties":[{"@type":"Property","name":"note","schema":"string"}]}]})",
};

std::string file(const std::vector<std::string>& twins, const std::vector<std::string>& relationships, bool general) {
    std::string out = "{\"Section\": \"Header\"}\n{\"fileVersion\": \"1.0.0\"}\n{\"Section\": \"Models\"}\n";
    for (const char* m : models) {
        out += m;
        out += '\n';
    }
    auto lines = [&](const std::vector<std::string>& items) {
        for (const std::string& line : items) {
            std::string l = line;
            if (general && l.size() > 2 && l.front() == '{' && l.back() == '}') l.insert(l.size() - 1, R"(,"$etag":"W/\"1\"")");
            out += l;
            out += '\n';
        }
    };
    out += "{\"Section\": \"Twins\"}\n";
    lines(twins);
    out += "{\"Section\": \"Relationships\"}\n";
    lines(relationships);
    return out;
}

struct Outcome {
    std::vector<ImportProblem> problems;
    std::vector<json> twins;
    std::vector<json> relationships;
    std::vector<json> events;
};

Outcome import_with(const std::string& text) {
    std::int64_t tick = 1'700'000'000'000'000'000;
    TwinGraph g(TwinGraphOptions{[&tick] { return Timestamp{tick += 1000}; }, false});
    Outcome out;
    g.subscribe([&](const ChangeEvent& e) {
        out.events.push_back({{"type", static_cast<int>(e.type)}, {"subject", e.subject}, {"time", e.time.ns}, {"data", e.data}});
    });
    std::istringstream in(text);
    try {
        import_ndjson(g, in, "f.ndjson");
    } catch (const ImportError& e) {
        out.problems = e.problems();
    }
    const Snapshot s = g.snapshot();
    for (TwinIndex t : s.twins()) {
        out.twins.push_back(s.get_twin(t));
        for (RelationshipIndex r : s.out_relationships(t)) out.relationships.push_back(s.get_relationship(r));
    }
    return out;
}

void same_outcome(const std::vector<std::string>& twins, const std::vector<std::string>& relationships) {
    const Outcome fast = import_with(file(twins, relationships, false));
    const Outcome general = import_with(file(twins, relationships, true));
    REQUIRE(fast.problems.size() == general.problems.size());
    for (std::size_t i = 0; i < fast.problems.size(); ++i) {
        INFO("problem " << i);
        CHECK(fast.problems[i].line == general.problems[i].line);
        CHECK(fast.problems[i].section == general.problems[i].section);
        CHECK(fast.problems[i].message == general.problems[i].message);
    }
    CHECK(json(fast.twins) == json(general.twins));
    CHECK(json(fast.relationships) == json(general.relationships));
    CHECK(json(fast.events) == json(general.events));
}

std::string meter(const std::string& id, const std::string& members) {
    std::string s = R"({"$dtId":")" + id + R"(","$metadata":{"$model":"dtmi:fast:Meter;1"})";
    if (!members.empty()) s += "," + members;
    return s + "}";
}

std::string rel(const std::string& source, const std::string& id, const std::string& target, const std::string& name,
                const std::string& members = "") {
    std::string s = R"({"$dtId":")" + source + R"(","$relationshipId":")" + id + R"(","$targetId":")" + target +
                    R"(","$relationshipName":")" + name + "\"";
    if (!members.empty()) s += "," + members;
    return s + "}";
}

// prefix + i (appended: GCC 12's -Wrestrict misreads "literal" + std::string at -O3).
std::string numbered(const char* prefix, int i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

}  // namespace

TEST_CASE("fast-path import equals the general path: numbers of every JSON type", "[ndjson][fast]") {
    const std::vector<std::string> twins = {
        meter("m1", R"("reading":21.5,"count":3,"big":-9000000000,"ratio":0.25,"level":2)"),
        meter("m2", R"("reading":-0,"count":-7,"big":12345678901,"ratio":1e3,"level":1)"),
        meter("m3", R"("reading":1E-3,"count":0,"reading2":1)"),  // undeclared: general path reports it
        meter("m4", ""),
        meter("m\u00e9-5", R"("reading":5)"),
        R"({"$metadata":{"$model":"dtmi:fast:Meter;1"},"reading":2.0,"$dtId":"m6"})",
        R"({"$dtId":"o1","$metadata":{"$model":"dtmi:fast:Other;1"},"x":0.1})",
    };
    const std::vector<std::string> ok_twins = {twins[0], twins[1], twins[3], twins[4], twins[5], twins[6]};
    const std::vector<std::string> rels = {
        rel("m1", "r1", "m2", "feeds", R"("share":0.5)"),
        rel("m2", "r1", "m1", "near"),
        rel("m1", "r2", "o1", "near"),
        rel("m1", "r3", "m4", "feeds"),
    };
    SECTION("a clean file") { same_outcome(ok_twins, rels); }
    SECTION("with the undeclared property") { same_outcome(twins, rels); }
}

TEST_CASE("fast-path import equals the general path: strings of every string schema", "[ndjson][fast]") {
    auto tag = [](const std::string& id, const std::string& members) {
        return R"({"$dtId":")" + id + R"(","$metadata":{"$model":"dtmi:fast:Tag;1"},)" + members + "}";
    };
    const std::vector<std::string> good = {
        tag("t1", R"("label":"Room 1.01","day":"2021-07-18","at":"2026-07-01T08:34:59Z","clock":"12:00:00",)"
                  R"("every":"PT5M","state":"ok","weight":2.5)"),
        tag("t2", R"("label":"quote \" and \\ and \u00e9 and \n","state":"bad")"),
        tag("t3", R"("label":"","at":"2026-07-01T10:34:59.1234567+02:00")"),
        tag("t4", R"("label":"a label that is long enough to leave the small-string buffer behind")"),
    };
    const std::vector<std::string> rels = {
        rel("t1", "r1", "t2", "tags", R"("note":"first")"),
        rel("t2", "r1", "t3", "tags", R"("note":"\u00e9")"),
        rel("t3", "r1", "t1", "tags"),
    };
    SECTION("a clean file") { same_outcome(good, rels); }
    SECTION("bad strings") {
        std::vector<std::string> twins = good;
        twins.push_back(tag("b1", R"("day":"2021-02-30")"));          // no such day
        twins.push_back(tag("b2", R"("at":"2026-07-01 08:34:59")"));  // not RFC 3339
        twins.push_back(tag("b3", R"("clock":"25:00:00")"));
        twins.push_back(tag("b4", R"("every":"5 minutes")"));
        twins.push_back(tag("b5", R"("state":"OK")"));                // enum values are case-sensitive
        twins.push_back(tag("b6", R"("weight":"2.5")"));              // a string for a double
        twins.push_back(tag("b7", R"("label":25)"));                  // a number for a string
        twins.push_back(tag("b8", R"("label":"a","label":"b")"));     // a repeated member: the last wins
        twins.push_back(tag("b9", R"("label":null)"));
        std::vector<std::string> bad_rels = rels;
        bad_rels.push_back(rel("t1", "r2", "t3", "tags", R"("note":7)"));
        same_outcome(twins, bad_rels);
    }
}

TEST_CASE("fast-path import equals the general path: every kind of bad line", "[ndjson][fast]") {
    const std::vector<std::string> twins = {
        meter("a", R"("reading":1)"),
        meter("b", R"("count":2.5)"),                        // not an integer
        meter("c", R"("count":3000000000)"),                 // out of the integer range
        meter("d", R"("level":3)"),                          // not an enum member
        meter("e", R"("ratio":1e300)"),                      // out of the float range
        meter("f", R"("on":1)"),                             // a number for a boolean
        meter("a", R"("reading":2)"),                        // twice in the file
        meter("g", R"("reading":1,"reading":2)"),            // a repeated member: the last wins
        R"({"$dtId":"h","$metadata":{"$model":"dtmi:fast:Nope;1"}})",  // unknown model
        R"({"$dtId":"","$metadata":{"$model":"dtmi:fast:Meter;1"}})",  // empty id
        meter("i", R"("count":12345678901234567890)"),       // a big integer
        meter("j", R"("reading":1} x)"),                     // malformed
        meter("k", R"("$foo":1)"),                           // unknown $ member
        meter("l", R"("reading":"text")"),                   // a string for a double
        meter("m", ""),
    };
    const std::vector<std::string> rels = {
        rel("a", "r1", "m", "feeds", R"("share":0.5)"),
        rel("a", "r1", "m", "feeds"),                        // twice
        rel("a", "r2", "a", "near"),                         // self-loop
        rel("a", "r3", "zz", "near"),                        // unknown target
        rel("zz", "r4", "a", "near"),                        // unknown source
        rel("a", "r5", "m", "nope"),                         // not a relationship of the model
        rel("a", "r6", "m", "feeds", R"("share":"x")"),      // bad property
        rel("a", "r7", "m", "feeds", R"("other":1)"),        // undeclared property
        rel("a", "r8", "m", "feeds", R"("share":1,"share":2)"),
        rel("b", "r9", "m", "near"),                         // a failed source: not checked
        rel("a", "", "m", "near"),                           // empty id
        rel("m", "r10", "h", "near"),                        // a target whose model failed... its twin failed
    };
    same_outcome(twins, rels);
}

TEST_CASE("fast-path import equals the general path: recorded times", "[ndjson][fast]") {
    auto timed = [](const std::string& id, const std::string& metadata, const std::string& members) {
        std::string s = R"({"$dtId":")" + id + R"(","$metadata":{"$model":"dtmi:fast:Meter;1")";
        if (!metadata.empty()) s += "," + metadata;
        s += "}";
        if (!members.empty()) s += "," + members;
        return s + "}";
    };
    const std::vector<std::string> good = {
        timed("t1", R"("$lastUpdateTime":"2026-01-01T00:00:00.1234567Z","reading":{"lastUpdateTime":"2026-01-01T00:00:00Z"})",
              R"("reading":1.5,"count":2)"),
        timed("t2", R"("reading":{"sourceTime":"2025-01-01T00:00:00+02:00","lastUpdateTime":"2026-02-01T00:00:00.123456789Z"},)"
                    R"("count":{"lastUpdateTime":"2026-03-01T00:00:00-05:30"})",
              R"("reading":2.5,"count":3)"),
        timed("t3", R"("$lastUpdateTime":"2026-01-01T00:00:00Z")", ""),
        R"({"reading":4.5,"$metadata":{"reading":{"lastUpdateTime":"2026-04-01T00:00:00Z"},"$model":"dtmi:fast:Meter;1"},"$dtId":"t4"})",
    };
    const std::vector<std::string> bad = {
        timed("b1", R"("$lastUpdateTime":"yesterday")", R"("reading":1)"),                 // not a date-time
        timed("b2", R"("reading":{"lastUpdateTime":5})", R"("reading":1)"),                // not a string
        timed("b3", R"("count":{"lastUpdateTime":"2026-01-01T00:00:00Z"})", R"("reading":1)"),  // of an unset property: ignored
        timed("b4", R"("count":{"sourceTime":"2026-01-01T00:00:00Z"})", R"("reading":1)"),      // sourceTime of an unset property
        timed("b5", R"("reading":{})", R"("reading":1)"),                                  // an empty entry
        timed("b6", R"("reading":{"lastUpdateTime":"2026-01-01T00:00:00Z","other":1})", R"("reading":1)"),  // unknown metadata
        timed("b7", R"("reading":{"lastUpdateTime":"2026-01-01T00:00:00Z"},"reading":{"sourceTime":"2026-01-01T00:00:00Z"})",
              R"("reading":1)"),                                                           // an entry named twice: the last wins
        timed("b8", R"("$lastUpdateTime":"2026-01-01T00:00:00Z","$lastUpdateTime":"2027-01-01T00:00:00Z")", ""),
        timed("b9", R"("nope":{"lastUpdateTime":"2026-01-01T00:00:00Z"})", R"("reading":1)"),  // an undeclared property
    };
    SECTION("good lines") { same_outcome(good, {rel("t1", "r1", "t2", "feeds")}); }
    SECTION("bad lines") {
        std::vector<std::string> all = good;
        all.insert(all.end(), bad.begin(), bad.end());
        same_outcome(all, {});
    }
}

// The fast path remembers, per model, the property names of the last twin
// it created and what they resolved to (bulk_load.cpp): a line whose names
// differ in order, number or validity from the one before must still be
// checked in full.
TEST_CASE("fast-path import equals the general path: property names changing from line to line", "[ndjson][fast]") {
    const std::vector<std::string> twins = {
        meter("a", R"("reading":1,"count":2,"level":1)"),
        meter("b", R"("count":3,"reading":2,"level":2)"),         // the same names in another order
        meter("c", R"("reading":1,"count":2,"level":3)"),         // the same names, a bad value
        meter("d", R"("reading":1,"nope":2,"level":1)"),          // an undeclared name where a good one was
        meter("e", R"("reading":1,"count":2,"level":1,"on":true)"),  // one more name
        meter("f", R"("reading":1)"),                             // fewer
        meter("g", R"("reading":1,"reading":2)"),                 // a name repeated where another was
        meter("h", R"("reading":1,"count":2,"level":1)"),
        R"({"$dtId":"o1","$metadata":{"$model":"dtmi:fast:Other;1"},"reading":1})",  // another model's name
        R"({"$dtId":"o2","$metadata":{"$model":"dtmi:fast:Other;1"},"x":1})",
        meter("i", R"("x":1)"),                                   // the other model's name
    };
    same_outcome(twins, {rel("a", "r1", "b", "feeds"), rel("b", "r1", "o2", "feeds"), rel("h", "r1", "o2", "near")});
}

TEST_CASE("fast-path import equals the general path over many prefetch groups and reader batches", "[ndjson][fast]") {
    // The importer hints the index lookups of a group of lines before
    // applying them, with id hashes computed on the reader thread: a line
    // that repeats the id of the line just before it (its hint was taken
    // before that id existed), and bad lines on both sides of the group and
    // batch boundaries, must come out as through the general path.
    std::vector<std::string> twins;
    for (int i = 0; i < 2600; ++i) twins.push_back(meter(numbered("t", i), numbered("\"reading\":", i)));
    twins[16] = meter("t15", R"("reading":1)");    // the id of the line before, across a group boundary
    twins[17] = meter("t15", R"("reading":2)");    // and again, in the same group
    twins[1020] = meter("t1019", "");              // near the end of the first reader batch
    twins[1017] = meter("t1017", R"("count":0.5)");  // a bad value
    twins[2047] = R"({"$dtId":"u","$metadata":{"$model":"dtmi:fast:Nope;1"}})";
    std::vector<std::string> rels;
    auto clean = [](int i) {  // away from the twins above, whose relationships would add problems
        while (i == 15 || i == 16 || i == 17 || i == 1017 || i == 1019 || i == 1020 || i == 2047) i += 10;
        return i;
    };
    for (int i = 0; i < 5200; ++i) {
        const int source = clean(i % 2600);
        int target = clean((i * 7 + 3) % 2600);
        while (target == source) target = clean(target + 1);
        rels.push_back(rel(numbered("t", source), numbered("r", i), numbered("t", target), "near"));
    }
    rels[31] = rels[30];    // the relationship of the line before: a duplicate
    rels[1500] = rel("t5", "r9", "t5", "near");       // self-loop
    rels[3000] = rel("t6", "r9", "nobody", "near");   // unknown target
    rels[4095] = rel("t7", "r9", "t8", "undeclared");
    same_outcome(twins, rels);

    // And the problems are where they are: line = 8 + index among the twins
    // (Header, its line, Models, 3 models, Twins come first).
    const Outcome fast = import_with(file(twins, rels, false));
    std::vector<std::size_t> lines;
    for (const ImportProblem& p : fast.problems) lines.push_back(p.line);
    const std::size_t rel0 = 8 + twins.size() + 1;
    const std::vector<std::size_t> expected = {8 + 16, 8 + 17, 8 + 1017, 8 + 1020, 8 + 2047,
                                               rel0 + 31, rel0 + 1500, rel0 + 3000, rel0 + 4095};
    CHECK(lines == expected);
    CHECK(fast.twins.empty());  // atomic: nothing was imported
}

TEST_CASE("the bulk loader works only inside an atomic group", "[ndjson][fast]") {
    TwinGraph g;
    CHECK_THROWS_AS(detail::BulkLoader(g), UsageError);
    g.atomically([](TwinGraph& inner) {
        detail::BulkLoader loader(inner);
        // Hints on an empty graph are harmless, and find nothing.
        loader.prefetch_twin_shard(detail::BulkHashes::twin("a"));
        loader.prefetch_twin_slot(detail::BulkHashes::twin("a"));
        CHECK_FALSE(loader.prefetch_twin(detail::BulkHashes::twin("a")).has_value());
        // No models: the fast path declines and leaves the graph unchanged.
        CHECK_FALSE(loader.create_twin("a", detail::BulkHashes::twin("a"), "dtmi:x:Nope;1", {}, std::nullopt, {}));
    });
    CHECK(g.twin_count() == 0);
}

TEST_CASE("the fast path sees a model decommissioned between two imports into one graph", "[ndjson][fast]") {
    TwinGraph g;
    std::istringstream first(file({meter("m1", R"("reading":1.5)")}, {}, false));
    import_ndjson(g, first, "first.ndjson");
    g.decommission_model("dtmi:fast:Meter;1");
    std::istringstream second(std::string("{\"Section\": \"Header\"}\n{\"fileVersion\": \"1.0.0\"}\n{\"Section\": \"Twins\"}\n") +
                              meter("m2", R"("reading":2.5)") + "\n");
    try {
        import_ndjson(g, second, "second.ndjson");
        FAIL("a twin of a decommissioned model was imported");
    } catch (const ImportError& e) {
        REQUIRE(e.problems().size() == 1);
        CHECK(e.problems()[0].line == 4);
        CHECK(e.problems()[0].message.find("decommissioned") != std::string::npos);
    }
    CHECK(g.twin_count() == 1);
}

TEST_CASE("an exported graph of bulk-shaped twins (fast-path lines) re-imports with its times", "[ndjson][fast]") {
    std::int64_t tick = 1'750'000'000'000'000'000;
    TwinGraph original(TwinGraphOptions{[&tick] { return Timestamp{tick += 987'654'321}; }, false});
    std::istringstream in(file({meter("m1", R"("reading":1.5,"count":2)"), meter("m2", R"("reading":2.5)"),
                                R"({"$dtId":"o1","$metadata":{"$model":"dtmi:fast:Other;1"},"x":0.1})"},
                               {rel("m1", "r1", "m2", "feeds", R"("share":0.5)")}, false));
    import_ndjson(original, in, "f.ndjson");
    original.update_twin("m1", json::parse(R"([{"op":"replace","path":"/reading","value":3.5}])"));
    original.update_twin("m2", json::parse(R"([{"op":"add","path":"/count","value":7},)"
                                           R"({"op":"add","path":"/$metadata/count/sourceTime","value":"2026-05-05T05:05:05Z"}])"));
    std::ostringstream first;
    export_ndjson(original.snapshot(), first);

    std::int64_t later = 1'900'000'000'000'000'000;
    TwinGraph copy(TwinGraphOptions{[&later] { return Timestamp{later += 1000}; }, false});
    std::istringstream again(first.str());
    import_ndjson(copy, again, "g.ndjson");
    for (const char* id : {"m1", "m2", "o1"}) {
        json a = original.get_twin(id);
        json b = copy.get_twin(id);
        a.erase("$etag");
        b.erase("$etag");
        CHECK(a == b);
    }
    std::ostringstream second;
    export_ndjson(copy.snapshot(), second);
    CHECK(second.str() == first.str());
}

}  // namespace twinsim::graph
