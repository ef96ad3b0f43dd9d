// Timestamps: ADT's 7-digit UTC format and RFC 3339 parsing.
#include <catch2/catch.hpp>

#include "twinsim/graph/timestamp.hpp"

using namespace twinsim::graph;

TEST_CASE("format_timestamp writes ADT's format with 7 fractional digits", "[timestamp]") {
    CHECK(format_timestamp(Timestamp{0}) == "1970-01-01T00:00:00.0000000Z");
    CHECK(format_timestamp(Timestamp{1'782'907'200'123'456'789LL}) == "2026-07-01T12:00:00.1234567Z");
    CHECK(format_timestamp(Timestamp{951'782'400'000'000'000LL}) == "2000-02-29T00:00:00.0000000Z");
    CHECK(format_timestamp(Timestamp{-1}) == "1969-12-31T23:59:59.9999999Z");
    CHECK(format_timestamp(Timestamp{-86'400'000'000'000LL}) == "1969-12-31T00:00:00.0000000Z");
}

TEST_CASE("parse_timestamp reads RFC 3339 with offsets and any fraction", "[timestamp]") {
    CHECK(parse_timestamp("2026-07-01T12:00:00.1234567Z") == Timestamp{1'782'907'200'123'456'700LL});
    CHECK(parse_timestamp("2026-07-01T12:00:00Z") == Timestamp{1'782'907'200'000'000'000LL});
    CHECK(parse_timestamp("2026-07-01T14:00:00+02:00") == Timestamp{1'782'907'200'000'000'000LL});
    CHECK(parse_timestamp("2026-07-01T07:30:00-04:30") == Timestamp{1'782'907'200'000'000'000LL});
    CHECK(parse_timestamp("2026-07-01t12:00:00.5z") == Timestamp{1'782'907'200'500'000'000LL});
    CHECK(parse_timestamp("2026-07-01T12:00:00.123456789123Z") == Timestamp{1'782'907'200'123'456'789LL});
    CHECK(parse_timestamp("1969-12-31T23:59:59.9999999Z") == Timestamp{-100});
    CHECK(parse_timestamp("2024-02-29T00:00:00Z").has_value());
    CHECK(parse_timestamp("2016-12-31T23:59:60Z") == parse_timestamp("2017-01-01T00:00:00Z"));
}

TEST_CASE("parse_timestamp refuses malformed text", "[timestamp]") {
    for (const char* bad : {"", "2026-07-01", "2026-07-01T12:00Z", "2026-07-01T12:00:00", "2026-13-01T00:00:00Z",
                            "2026-02-29T00:00:00Z", "2026-07-01T24:00:00Z", "2026-07-01T12:60:00Z",
                            "2026-07-01T12:00:00.Z", "2026-07-01T12:00:00+0200", "2026-07-01T12:00:00Zjunk",
                            "26-07-01T12:00:00Z", "2026-07-01T12:00:00+24:00"}) {
        INFO(bad);
        CHECK_FALSE(parse_timestamp(bad));
    }
}

TEST_CASE("format and parse round-trip at 100 ns resolution", "[timestamp]") {
    for (std::int64_t ns : {0LL, 1'782'907'200'123'456'700LL, -1'000'000'000LL * 86'400 * 365 * 200, 9'000'000'000'000'000'000LL}) {
        INFO(ns);
        CHECK(parse_timestamp(format_timestamp(Timestamp{ns})) == Timestamp{ns});
    }
    const Timestamp a = now();
    CHECK(a.ns > 1'700'000'000'000'000'000LL);
}
