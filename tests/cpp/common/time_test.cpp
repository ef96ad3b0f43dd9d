// Time text: ADT's 7-digit UTC format, RFC 3339 parsing and checking, ISO 8601 durations.
#include <catch2/catch.hpp>

#include "twinsim/common/time.hpp"

using namespace twinsim;

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
    std::string why;
    CHECK_FALSE(parse_timestamp("2026-02-29T00:00:00Z", &why));
    CHECK(why == "day 29 does not exist in February 2026");
    CHECK_FALSE(parse_timestamp("2026-07-01T12:00:00", &why));
    CHECK(why == "the time zone is missing (expected 'Z' or an offset such as +02:00)");
}

TEST_CASE("format_timestamp writes exact nanoseconds or whole seconds on request", "[timestamp]") {
    const Timestamp whole{1'782'907'200'000'000'000LL};
    const Timestamp fine{1'782'907'200'123'456'789LL};
    CHECK(format_timestamp(whole, TimestampPrecision::nanoseconds) == "2026-07-01T12:00:00Z");
    CHECK(format_timestamp(fine, TimestampPrecision::nanoseconds) == "2026-07-01T12:00:00.123456789Z");
    CHECK(format_timestamp(Timestamp{-1}, TimestampPrecision::nanoseconds) == "1969-12-31T23:59:59.999999999Z");
    CHECK(format_timestamp(fine, TimestampPrecision::seconds) == "2026-07-01T12:00:00Z");
    CHECK(format_timestamp(Timestamp{-1}, TimestampPrecision::seconds) == "1969-12-31T23:59:59Z");
    CHECK(parse_timestamp(format_timestamp(fine, TimestampPrecision::nanoseconds)) == fine);
}

TEST_CASE("the strict RFC 3339 checks say which part is wrong", "[timestamp]") {
    CHECK_FALSE(rfc3339_date_time_error("2026-07-01T12:00:00.5+02:00"));
    CHECK(rfc3339_date_time_error("2026-07-01 12:00:00Z") == "expected 'T' between the date and the time");
    CHECK(parse_timestamp("2026-07-01 12:00:00Z") == Timestamp{1'782'907'200'000'000'000LL});  // lenient reader
    CHECK_FALSE(rfc3339_date_error("2024-02-29"));
    CHECK(rfc3339_date_error("2026-13-01") == "month 13 is not 01-12");
    CHECK(rfc3339_date_error("2026-07-01T") == "unexpected text at character 11");
    CHECK_FALSE(rfc3339_time_error("23:59:60.25"));
    CHECK_FALSE(rfc3339_time_error("08:00:00-05:00"));
    CHECK(rfc3339_time_error("08:00") == "expected ':' after the minute (seconds are required)");
    CHECK(rfc3339_time_error("08:00:00+5") == "the offset hour must be 2 digits");
}

TEST_CASE("ISO 8601 durations parse into their components", "[timestamp]") {
    const auto d = parse_iso_duration("P1Y2M3DT4H5M6.5S");
    REQUIRE(d);
    CHECK(d->years == 1);
    CHECK(d->months == 2);
    CHECK(d->weeks == 0);
    CHECK(d->days == 3);
    CHECK(d->hours == 4);
    CHECK(d->minutes == 5);
    CHECK(d->seconds == 6.5);
    CHECK(parse_iso_duration("P2W")->weeks == 2);
    CHECK(parse_iso_duration("PT1,5M")->minutes == 1.5);

    std::string why;
    const auto refused = [&why](const char* text) {
        why.clear();
        return !parse_iso_duration(text, &why).has_value();
    };
    CHECK(refused("1D"));
    CHECK(why == "a duration must start with 'P'");
    CHECK(refused("P"));
    CHECK(why == "a duration needs at least one component");
    CHECK(refused("P1DT"));
    CHECK(why == "'T' must be followed by at least one of H, M, S");
    CHECK(refused("PT1M1H"));
    CHECK(why == "components are out of order or repeated (expected Y M D T H M S)");
    CHECK(refused("PT1.5H30M"));
    CHECK(why == "only the last component may have a fraction");
    CHECK(refused("P1W2D"));
    CHECK(why == "weeks (PnW) cannot be combined with other components");
    CHECK(refused("PT.5H"));
    CHECK(why == "expected a number at character 3");
    CHECK(refused("P1X"));
    CHECK(why == "expected one of the designators Y, M, W, D at character 3");
    CHECK(refused("P-1D"));
}

TEST_CASE("durations in seconds: weeks, days and time, never years or months", "[timestamp]") {
    CHECK(duration_seconds("PT48H") == 48 * 3600.0);
    CHECK(duration_seconds("P2DT6H30M") == (2 * 86400 + 6 * 3600 + 30 * 60.0));
    CHECK(duration_seconds("PT0.5S") == 0.5);
    CHECK(duration_seconds("PT1,5H") == 5400.0);
    CHECK(duration_seconds("P1W") == 7 * 86400.0);
    CHECK(duration_seconds("P1.5D") == 1.5 * 86400.0);
    std::string why;
    CHECK_FALSE(duration_seconds("P1M", &why));  // months vary in length
    CHECK(why == "years and months have no fixed length in seconds");
    CHECK_FALSE(duration_seconds("P1Y"));
    CHECK_FALSE(duration_seconds("PT"));
    CHECK_FALSE(duration_seconds("PT1H2H"));
    CHECK_FALSE(duration_seconds("PT1M1H"));  // out of order
    CHECK_FALSE(duration_seconds("PT1.5H30M"));
    CHECK_FALSE(duration_seconds("48H"));
}

TEST_CASE("format and parse round-trip at 100 ns resolution", "[timestamp]") {
    for (std::int64_t ns : {0LL, 1'782'907'200'123'456'700LL, -1'000'000'000LL * 86'400 * 365 * 200, 9'000'000'000'000'000'000LL}) {
        INFO(ns);
        CHECK(parse_timestamp(format_timestamp(Timestamp{ns})) == Timestamp{ns});
    }
    const Timestamp a = utc_now();
    CHECK(a.ns > 1'700'000'000'000'000'000LL);
}

TEST_CASE("parse_timestamp refuses instants a 64-bit nanosecond count cannot hold", "[timestamp]") {
    CHECK(parse_timestamp("2262-04-11T23:47:16Z").has_value());
    CHECK(parse_timestamp("1677-09-21T00:12:44Z").has_value());
    for (const char* text : {"2262-04-12T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1677-09-21T00:12:43Z"}) {
        std::string why;
        CHECK_FALSE(parse_timestamp(text, &why).has_value());
        CHECK(why.find("outside the range") != std::string::npos);
    }
}
