// JSON Patch (RFC 6902 subset of ADT: add, replace, remove); pointers are tested in common/json_pointer_test.cpp.
#include <catch2/catch.hpp>

#include "twinsim/graph/detail/json_patch.hpp"

using namespace twinsim::graph::detail;
using nlohmann::json;

namespace {

json patched(json doc, const char* patch) {
    apply_patch(doc, parse_patch(json::parse(patch)));
    return doc;
}

}  // namespace

TEST_CASE("add, replace and remove on objects", "[json_patch]") {
    const json doc = {{"a", 1}, {"o", {{"x", 1}}}};
    CHECK(patched(doc, R"([{"op":"add","path":"/b","value":2}])") == json{{"a", 1}, {"b", 2}, {"o", {{"x", 1}}}});
    CHECK(patched(doc, R"([{"op":"add","path":"/a","value":5}])")["a"] == 5);  // add overwrites
    CHECK(patched(doc, R"([{"op":"replace","path":"/o/x","value":2}])")["o"]["x"] == 2);
    CHECK_FALSE(patched(doc, R"([{"op":"remove","path":"/a"}])").contains("a"));
    CHECK(patched(doc, R"([{"op":"add","path":"/o/y","value":3}])")["o"] == json{{"x", 1}, {"y", 3}});
    CHECK(patched(doc, R"([{"op":"add","path":"","value":{"z":1}}])") == json{{"z", 1}});
}

TEST_CASE("add, replace and remove on arrays", "[json_patch]") {
    const json doc = {{"v", {1, 2, 3}}};
    CHECK(patched(doc, R"([{"op":"add","path":"/v/1","value":9}])")["v"] == json{1, 9, 2, 3});
    CHECK(patched(doc, R"([{"op":"add","path":"/v/-","value":9}])")["v"] == json{1, 2, 3, 9});
    CHECK(patched(doc, R"([{"op":"add","path":"/v/3","value":9}])")["v"] == json{1, 2, 3, 9});
    CHECK(patched(doc, R"([{"op":"replace","path":"/v/0","value":0}])")["v"] == json{0, 2, 3});
    CHECK(patched(doc, R"([{"op":"remove","path":"/v/2"}])")["v"] == json{1, 2});
    CHECK_THROWS_AS(patched(doc, R"([{"op":"add","path":"/v/4","value":9}])"), PatchError);
    CHECK_THROWS_AS(patched(doc, R"([{"op":"replace","path":"/v/3","value":9}])"), PatchError);
    CHECK_THROWS_AS(patched(doc, R"([{"op":"remove","path":"/v/01"}])"), PatchError);
    CHECK_THROWS_AS(patched(doc, R"([{"op":"remove","path":"/v/-"}])"), PatchError);
}

TEST_CASE("patch errors name the operation and the path", "[json_patch]") {
    const json doc = {{"a", 1}};
    auto message = [&](const char* patch) {
        try {
            patched(doc, patch);
        } catch (const PatchError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK_THAT(message(R"([{"op":"replace","path":"/b","value":1}])"), Catch::Contains("operation 0 (/b)"));
    CHECK_THAT(message(R"([{"op":"add","path":"/a","value":1},{"op":"remove","path":"/c"}])"),
               Catch::Contains("operation 1 (/c)"));
    CHECK_THAT(message(R"([{"op":"add","path":"/x/y","value":1}])"), Catch::Contains("\"x\" does not exist"));
    CHECK_THAT(message(R"([{"op":"add","path":"/a/y","value":1}])"), Catch::Contains("not an object or array"));
    CHECK_THAT(message(R"([{"op":"copy","from":"/a","path":"/b"}])"), Catch::Contains("not supported"));
    CHECK_THAT(message(R"([{"op":"test","path":"/a","value":1}])"), Catch::Contains("not supported"));
    CHECK_THAT(message(R"([{"op":"add","path":"/b"}])"), Catch::Contains("\"value\" is missing"));
    CHECK_THAT(message(R"([{"path":"/b"}])"), Catch::Contains("\"op\""));
    CHECK_THAT(message(R"([{"op":"add","path":"b","value":1}])"), Catch::Contains("malformed JSON Pointer"));
    CHECK_THAT(message(R"({"op":"add"})"), Catch::Contains("must be an array"));
    CHECK_THAT(message(R"([{"op":"remove","path":""}])"), Catch::Contains("whole document"));
}

TEST_CASE("diff_members turns one object into another", "[json_patch]") {
    const json a = {{"x", 1}, {"y", 2}, {"a/b", 0}};
    const json b = {{"x", 1}, {"y", 3}, {"z", 4}};
    const json d = diff_members(a, b);
    CHECK(d == json::parse(R"([{"op":"replace","path":"/y","value":3},{"op":"add","path":"/z","value":4},
                               {"op":"remove","path":"/a~1b"}])"));
    json c = a;
    apply_patch(c, parse_patch(d));
    CHECK(c == b);
    CHECK(diff_members(a, a).empty());
}

TEST_CASE("a patch value nested beyond the JSON depth limit is refused, naming the operation", "[json_patch]") {
    nlohmann::json value = 1;
    for (int k = 0; k < 200; ++k) {
        nlohmann::json wrapper = nlohmann::json::array();
        wrapper.push_back(std::move(value));
        value = std::move(wrapper);
    }
    const json patch = json::array({{{"op", "add"}, {"path", "/deep"}, {"value", value}}});
    CHECK_THROWS_WITH(parse_patch(patch),
                      Catch::Contains("operation 0 (/deep): \"value\" nests arrays and objects deeper than the limit "
                                      "of 128 levels"));
}
