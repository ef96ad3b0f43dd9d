// DTMI syntax: segments, versions (v3 major.minor), limits.

#include <catch2/catch.hpp>

#include "twinsim/dtdl/dtmi.hpp"

using twinsim::dtdl::Dtmi;
using twinsim::dtdl::is_dtmi;

TEST_CASE("DTMI parts are split", "[dtmi]") {
    auto d = Dtmi::parse("dtmi:com:example:Thermostat;1.2");
    REQUIRE(d);
    CHECK(d->path == "com:example:Thermostat");
    CHECK(d->major == 1U);
    CHECK(d->minor == 2U);
    auto u = Dtmi::parse("dtmi:com:example");
    REQUIRE(u);
    CHECK_FALSE(u->major);
    CHECK(Dtmi::parse("dtmi:a:b;999999999")->major == 999999999U);
}

TEST_CASE("DTMI syntax errors are rejected", "[dtmi]") {
    for (const char* bad : {"", "dtmi:", "dtmi:a_", "dtmi:1a", "dtmi:a::b", "dtmi:a;0", "dtmi:a;01", "dtmi:a;1234567890",
                            "dtmi:a;1.0", "dtmi:a;1.1234567", "dtmi:a b;1", "DTMI:a;1", "dtmi:a;1.", "urn:a:b", "dtmi:a;1#"}) {
        INFO(bad);
        CHECK_FALSE(is_dtmi(bad));
    }
    for (const char* good : {"dtmi:a", "dtmi:a_b:c9;1", "dtmi:com:example:X;123456789.123456", "dtmi:dtdl:context;3#limits"}) {
        INFO(good);
        CHECK(is_dtmi(good));
    }
}
