// The units table: conversions within a kind, temperatures absolute and as
// differences, DTDL names, and "<number> <unit>" text.
#include <catch2/catch.hpp>

#include "twinsim/common/units.hpp"

using namespace twinsim;

TEST_CASE("units of one kind convert, others do not", "[units]") {
    CHECK(convert_unit(2.0, "h", "s") == 7200.0);
    CHECK(*convert_unit(1.5, "kW", "W") == Approx(1500.0));
    CHECK(*convert_unit(1.0, "kWh", "J") == Approx(3.6e6));
    CHECK(*convert_unit(250.0, "L", "m3") == Approx(0.25));
    CHECK(*convert_unit(3600.0, "m3/h", "m3/s") == Approx(1.0));
    CHECK(*convert_unit(50.0, "%", "1") == Approx(0.5));
    CHECK(convert_unit(3.0, "furlong", "m") == std::nullopt);
    CHECK(convert_unit(3.0, "kW", "kWh") == std::nullopt);
    CHECK(convert_unit(3.0, "furlong", "furlong") == 3.0);  // same text: no lookup needed
}

TEST_CASE("temperatures: absolute, differences and DTDL names", "[units]") {
    CHECK(*convert_unit(77.0, "degF", "degC") == Approx(25.0));
    CHECK(*convert_unit(77.0, "degF", "degreeCelsius") == Approx(25.0));
    CHECK(*convert_unit(20.0, "°C", "kelvin") == Approx(293.15));
    CHECK(*convert_unit(300.0, "K", "degC") == Approx(26.85));  // "K" read as absolute for an absolute target
    CHECK(*convert_unit(2.0, "degC", "K") == Approx(2.0));        // a difference keeps only the scale
    CHECK(*convert_unit(9.0, "delta_degF", "K") == Approx(5.0));
    CHECK(unit_info("degreeCelsius")->kind == "temperature");
    CHECK(unit_info("delta_degC")->kind == "temperature difference");
    CHECK_FALSE(unit_info(""));
}

TEST_CASE("split_quantity separates a number from its unit text", "[units]") {
    const auto q = split_quantity("77 degF");
    REQUIRE(q);
    CHECK(q->value == 77.0);
    CHECK(q->unit == "degF");
    CHECK(split_quantity("20degC")->unit == "degC");
    CHECK(split_quantity("2.5")->unit.empty());
    CHECK(split_quantity("1e3   W")->value == 1000.0);
    CHECK_FALSE(split_quantity("warm"));
    CHECK_FALSE(split_quantity(""));
}
