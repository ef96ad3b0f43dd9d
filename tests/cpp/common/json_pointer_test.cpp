// JSON Pointer reference tokens (RFC 6901): escaping, unescaping, splitting.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "twinsim/common/json_pointer.hpp"

using namespace twinsim;

TEST_CASE("tokens escape '~' before '/' and unescape back", "[json_pointer]") {
    CHECK(escape_pointer_token("a/b~c") == "a~1b~0c");
    CHECK(escape_pointer_token("") == "");
    CHECK(escape_pointer_token("plain") == "plain");
    // "~1" as text must not come back as "/": its '~' is escaped first.
    CHECK(escape_pointer_token("~1") == "~01");
    CHECK(unescape_pointer_token("~01") == "~1");
    CHECK(unescape_pointer_token("~10") == "/0");
    for (const std::string token : {"", "a", "a/b", "~", "~0", "~1", "~01", "//~~", "x~/y", "°C/h"}) {
        INFO(token);
        CHECK(unescape_pointer_token(escape_pointer_token(token)) == token);
    }
}

TEST_CASE("a '~' not followed by 0 or 1 is malformed", "[json_pointer]") {
    CHECK_FALSE(unescape_pointer_token("a~"));
    CHECK_FALSE(unescape_pointer_token("~2"));
    CHECK_FALSE(unescape_pointer_token("~/"));
}

TEST_CASE("append_pointer_token builds a path one escaped token at a time", "[json_pointer]") {
    std::string path;
    append_pointer_token(path, "contents");
    append_pointer_token(path, "a/b");
    append_pointer_token(path, "~");
    CHECK(path == "/contents/a~1b/~0");
    CHECK(split_pointer(path) == std::vector<std::string>{"contents", "a/b", "~"});
}

TEST_CASE("pointers split into unescaped tokens", "[json_pointer]") {
    CHECK(split_pointer("")->empty());
    CHECK(*split_pointer("/a/b") == std::vector<std::string>{"a", "b"});
    CHECK(*split_pointer("/a~1b/c~0d") == std::vector<std::string>{"a/b", "c~d"});
    CHECK(*split_pointer("/") == std::vector<std::string>{""});
    CHECK(*split_pointer("//") == std::vector<std::string>{"", ""});
    CHECK(*split_pointer("/~01") == std::vector<std::string>{"~1"});
    CHECK_FALSE(split_pointer("a"));
    CHECK_FALSE(split_pointer("/a~2"));
    CHECK_FALSE(split_pointer("/a~"));
}
