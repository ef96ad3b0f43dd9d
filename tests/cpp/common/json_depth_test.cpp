// The one nesting limit of JSON values read from untrusted input.
#include "twinsim/common/json_depth.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

using twinsim::find_json_depth_excess;
using twinsim::json_deeper_than;
using twinsim::max_json_depth;

namespace {

std::string nested(std::size_t depth, char open = '[', char close = ']') {
    return std::string(depth, open) + std::string(depth, close);
}

nlohmann::json nested_value(std::size_t depth) {
    nlohmann::json v = 1;
    for (std::size_t k = 0; k < depth; ++k) {
        nlohmann::json wrapper = nlohmann::json::array();
        wrapper.push_back(std::move(v));
        v = std::move(wrapper);
    }
    return v;
}

}  // namespace

TEST_CASE("JSON text nested beyond the limit is found at the bracket that crosses it", "[json_depth]") {
    CHECK_FALSE(find_json_depth_excess(nested(max_json_depth)));
    CHECK(find_json_depth_excess(nested(max_json_depth + 1)) == max_json_depth);
    // A million levels (2 MB) are scanned without recursion.
    CHECK(find_json_depth_excess(nested(1'000'000)) == max_json_depth);
    // Objects count as arrays do; siblings do not add up.
    std::string objects;
    for (std::size_t k = 0; k <= max_json_depth; ++k) objects += R"({"a":)";
    objects += "1" + std::string(max_json_depth + 1, '}');
    CHECK(find_json_depth_excess(objects).has_value());
    std::string wide = "[";
    for (int k = 0; k < 10000; ++k) wide += "[1],";
    wide += "[]]";
    CHECK_FALSE(find_json_depth_excess(wide));
    // Brackets inside strings, escaped quotes included, are text.
    CHECK_FALSE(find_json_depth_excess(R"({"a":")" + nested(1000) + R"(\"[[[[", "b":[1]})"));
    CHECK(twinsim::json_depth_reason() == "nests arrays and objects deeper than the limit of 128 levels");
}

TEST_CASE("values built in memory are measured without recursion", "[json_depth]") {
    CHECK_FALSE(json_deeper_than(nlohmann::json(3)));
    CHECK_FALSE(json_deeper_than(nested_value(max_json_depth)));
    CHECK(json_deeper_than(nested_value(max_json_depth + 1)));
    CHECK(json_deeper_than(nested_value(5), 4));
    CHECK_FALSE(json_deeper_than(nlohmann::ordered_json::parse(R"({"a":[{"b":[]}]})"), 4));
    CHECK(json_deeper_than(nlohmann::ordered_json::parse(R"({"a":[{"b":[]}]})"), 3));
}
