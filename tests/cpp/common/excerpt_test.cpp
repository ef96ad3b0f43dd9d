// Short, escaped excerpts of input in error messages, and the readers whose
// syntax errors use them instead of the JSON library's own text.

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "twinsim/common/excerpt.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"

using namespace twinsim;

TEST_CASE("an excerpt is short, marks what it leaves out and escapes what a terminal should not see", "[excerpt]") {
    CHECK(excerpt("plain") == "plain");
    CHECK(excerpt("tab\there\nnew \"q\" \\") == "tab\\there\\nnew \\\"q\\\" \\\\");
    CHECK(excerpt("bad\xC3(utf8 \xFF") == "bad\\xC3(utf8 \\xFF");
    CHECK(excerpt("caf\xC3\xA9") == "caf\xC3\xA9");  // valid UTF-8 stays as it is
    const std::string long_line = std::string(100, 'a') + "X" + std::string(100, 'b');
    const std::string around = excerpt(long_line, 100);
    CHECK(around.size() <= max_excerpt_chars + 6);
    CHECK_THAT(around, Catch::StartsWith("...") && Catch::EndsWith("...") && Catch::Contains("X"));
    CHECK_THAT(excerpt(long_line, 0), Catch::StartsWith("aaaa") && Catch::EndsWith("..."));
    CHECK_THAT(excerpt(long_line, 200), Catch::StartsWith("...") && Catch::EndsWith("bbbb"));
}

TEST_CASE("a position past the end of the text quotes the text's end, never memory after it", "[excerpt]") {
    const std::string long_line = std::string(60, 'a') + "END";
    CHECK_THAT(excerpt(long_line, long_line.size()), Catch::StartsWith("...") && Catch::EndsWith("END"));
    CHECK_THAT(excerpt(long_line, std::string_view::npos), Catch::StartsWith("...") && Catch::EndsWith("END"));
    CHECK(excerpt("short", std::string_view::npos) == "short");
}

TEST_CASE("invalid UTF-8 is found at its first byte", "[excerpt]") {
    CHECK(invalid_utf8_at("ok \xC3\xA9 \xF0\x9F\x98\x80") == std::string_view::npos);
    CHECK(invalid_utf8_at("ab\xC3") == 2);             // truncated
    CHECK(invalid_utf8_at("a\xC0\xAF") == 1);          // overlong
    CHECK(invalid_utf8_at("x\xED\xA0\x80") == 1);      // a surrogate
    CHECK(invalid_utf8_at("\xF4\x90\x80\x80") == 0);   // beyond U+10FFFF
}

TEST_CASE("a malformed NDJSON line is told in our words, naming one character and its column", "[excerpt]") {
    graph::TwinGraph g;
    const std::string secret(300, 'S');
    std::istringstream in("{\"Section\": \"Header\"}\n{\"fileVersion\": \"1.0.0\"}\n{\"Section\": \"Twins\"}\n{\"$dtId\": " +
                          secret + "}\n");
    try {
        (void)graph::import_ndjson(g, in, "f.ndjson");
        FAIL("accepted");
    } catch (const graph::ImportError& e) {
        REQUIRE(e.problems().size() == 1);
        const std::string& message = e.problems()[0].message;
        CHECK(e.problems()[0].line == 4);
        CHECK(message == "malformed JSON: unexpected character \"S\" at column 11");
        CHECK_THAT(std::string(e.what()), !Catch::Contains("parse_error") && !Catch::Contains("last read") &&
                                              !Catch::Contains("SS"));
    }
}
