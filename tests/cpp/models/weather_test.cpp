// The TMY3 reader (models/building/weather.hpp) against values read by hand
// from scenarios/building/weather/723170TYA.CSV, its refusals, and the
// continuous series thermal_zones interpolates.

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "models/building/weather.hpp"
#include "../test_support.hpp"

using namespace twinsim;
using models::Tmy3Weather;

namespace {

std::filesystem::path bundled() { return test::source_dir() / "scenarios/building/weather/723170TYA.CSV"; }

std::string bundled_text() {
    std::ifstream in(bundled(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// The bundled text with line `number` (1-based) replaced by `line`.
std::string with_line(std::size_t number, const std::string& line) {
    std::istringstream in(bundled_text());
    std::string out, l;
    for (std::size_t k = 1; std::getline(in, l); ++k) out += (k == number ? line : l) + "\n";
    return out;
}

std::string line_of(std::size_t number) {
    std::istringstream in(bundled_text());
    std::string l;
    for (std::size_t k = 1; std::getline(in, l); ++k)
        if (k == number) return l;
    return {};
}

/// Field `index` (0-based) of CSV line `line` replaced by `value`.
std::string with_field(std::string line, std::size_t index, const std::string& value) {
    std::size_t start = 0;
    for (std::size_t k = 0; k < index; ++k) start = line.find(',', start) + 1;
    const std::size_t end = line.find(',', start);
    return line.replace(start, end - start, value);
}

std::string refusal(const std::string& text) {
    try {
        (void)models::parse_tmy3(text, "w.csv");
    } catch (const models::WeatherInputError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("weather: the bundled TMY3 file, values read by hand", "[models][weather]") {
    const Tmy3Weather w = models::read_tmy3(bundled());
    CHECK(w.station.id == "723170");
    CHECK(w.station.name == "GREENSBORO PIEDMONT TRIAD INT");
    CHECK(w.station.state == "NC");
    CHECK(w.station.utc_offset == -5.0);
    CHECK(w.station.latitude == 36.1);
    CHECK(w.station.longitude == -79.95);
    CHECK(w.station.elevation == 273.0);
    REQUIRE(w.hours() == 8760);
    // Line 3: 01/01/1988,01:00 ... GHI 0, dry-bulb 10.0, dew point 6.1, RH 77, 993 mbar, 200 deg, 6.2 m/s.
    CHECK(w.year[0] == 1988);
    CHECK(w.month[0] == 1);
    CHECK(w.day[0] == 1);
    CHECK(w.hour[0] == 1);
    CHECK(w.ghi[0] == 0.0);
    CHECK(w.dry_bulb[0] == 10.0);
    CHECK(w.dew_point[0] == 6.1);
    CHECK(w.relative_humidity[0] == 77.0);
    CHECK(w.pressure[0] == 993.0);
    CHECK(w.wind_direction[0] == 200.0);
    CHECK(w.wind_speed[0] == 6.2);
    CHECK(w.total_cloud[0] == 10.0);
    // Line 4552: 07/09/1981,14:00, the year's hottest hour: GHI 845, DNI 473, DHI 399, 35.6 degC, dew point 22.8.
    const auto hot = static_cast<std::size_t>(models::hour_of_year(7, 9, 14)) - 1;
    CHECK(hot == 4552 - 3);
    CHECK(w.year[hot] == 1981);
    CHECK(w.hour[hot] == 14);
    CHECK(w.ghi[hot] == 845.0);
    CHECK(w.dni[hot] == 473.0);
    CHECK(w.dhi[hot] == 399.0);
    CHECK(w.dry_bulb[hot] == 35.6);
    CHECK(w.dew_point[hot] == 22.8);
    CHECK(w.relative_humidity[hot] == 48.0);
    // Line 4500: 07/07/1981,10:00, GHI 722, 28.3 degC. Line 8762: 12/31/1980,24:00, 2.2 degC.
    CHECK(w.ghi[4500 - 3] == 722.0);
    CHECK(w.dry_bulb[4500 - 3] == 28.3);
    CHECK(w.year.back() == 1980);
    CHECK(w.hour.back() == 24);
    CHECK(w.dry_bulb.back() == 2.2);
    double lo = 100, hi = -100;
    for (const double t : w.dry_bulb) lo = std::min(lo, t), hi = std::max(hi, t);
    CHECK(lo == -16.7);
    CHECK(hi == 35.6);
}

TEST_CASE("weather: hours of the year", "[models][weather]") {
    CHECK(models::hour_of_year(1, 1, 0) == 0.0);
    CHECK(models::hour_of_year(1, 1, 1) == 1.0);
    CHECK(models::hour_of_year(3, 1, 0) == 24.0 * 59);
    CHECK(models::hour_of_year(2, 29, 5) == models::hour_of_year(2, 28, 5));
    CHECK(models::hour_of_year(12, 31, 24) == 8760.0);
    CHECK_THROWS_AS(models::hour_of_year(13, 1, 0), models::WeatherInputError);
    CHECK_THROWS_AS(models::hour_of_year(4, 31, 0), models::WeatherInputError);
}

TEST_CASE("weather: missing values and refusals name the file, line and field", "[models][weather]") {
    // Dry-bulb is field 31, its source flag 32; GHI field 4, source 5.
    const std::string row = line_of(4552);
    {
        const Tmy3Weather w = models::parse_tmy3(with_line(4552, with_field(with_field(row, 31, "-9900"), 4, "0")), "w.csv");
        CHECK(std::isnan(w.dry_bulb[4549]));
        CHECK(w.ghi[4549] == 0.0);
        const Tmy3Weather f = models::parse_tmy3(with_line(4552, with_field(row, 5, "?")), "w.csv");
        CHECK(std::isnan(f.ghi[4549]));
        CHECK(f.dry_bulb[4549] == 35.6);
    }
    CHECK(refusal(with_line(4552, with_field(row, 31, "hot"))) == "w.csv:4552: Dry-bulb (C): \"hot\" is not a number");
    CHECK(refusal(with_line(4552, with_field(row, 1, "15:00"))).find("w.csv:4552: Date (MM/DD/YYYY): \"07/09/1981\" at 15:00: out of order, expected hour 4550 of the year (07/09 14:00)") == 0);
    CHECK(refusal(with_line(4552, with_field(row, 1, "25:00"))).find("w.csv:4552: Time (HH:MM)") == 0);
    CHECK(refusal(with_line(4552, with_field(row, 0, "7/9/1981"))).find("w.csv:4552: Date (MM/DD/YYYY)") == 0);
    CHECK(refusal(with_line(4552, row + ",1")) == "w.csv:4552: 72 fields, the header has 71");
    CHECK(refusal(with_line(1, "723170,\"GREENSBORO\",NC,-5.0,36.1,-79.95")).find("w.csv:1: the station line has 6 fields") == 0);
    CHECK(refusal(with_line(1, "723170,\"GREENSBORO\",NC,x,36.1,-79.95,273")).find("w.csv:1: time zone: \"x\"") == 0);
    CHECK(refusal(with_line(2, "Date,Time")).find("w.csv:2: no column \"Date (MM/DD/YYYY)\"") == 0);
    CHECK(refusal(with_line(1, "723170,\"GREENSBORO,NC,-5.0,36.1,-79.95,273")) == "w.csv:1: a quoted field is not closed");
    const std::string text = bundled_text();
    CHECK(refusal(text.substr(0, text.rfind('\n', text.size() - 2) + 1)) == "w.csv: 8759 hourly rows, a TMY3 year has 8760");
    CHECK(refusal(text + line_of(8762) + "\n") == "w.csv:8763: more than 8760 hourly rows");
    CHECK(refusal("") == "w.csv:1: empty (expected the station line)");
    CHECK(refusal(std::string(70000, 'x')) == "w.csv:1: a line longer than 64 KiB");
    CHECK_THROWS_AS(models::read_tmy3(test::source_dir() / "no-such-weather.csv"), IoError);
}

TEST_CASE("weather: the continuous series interpolates, wraps and bridges short gaps", "[models][weather]") {
    const Tmy3Weather w = models::read_tmy3(bundled());
    const models::WeatherSeries t(w.dry_bulb, 1.0, "Dry-bulb (C)", w.source, 3);
    const double h = models::hour_of_year(7, 9, 14);
    CHECK(t.at(h) == 35.6);
    CHECK(t.at(h - 0.5) == Approx(0.5 * (34.4 + 35.6)));
    CHECK(t.at(h + 8760.0) == Approx(35.6));
    CHECK(t.at(8760.0) == 2.2);                               // Dec 31 24:00
    CHECK(t.at(0.5) == Approx(0.5 * (2.2 + 10.0)));           // wraps to Jan 1 01:00
    const models::WeatherSeries g(w.ghi, 0.5, "GHI (W/m^2)", w.source, 3);
    CHECK(g.at(h - 0.5) == 845.0);                            // the 13:00-14:00 mean at its middle
    CHECK(g.at(h - 1.0) == Approx(0.5 * (919.0 + 845.0)));

    std::vector<double> v(24, 1.0);
    v[5] = v[6] = NAN;
    v[4] = 4.0, v[7] = 7.0;
    const models::WeatherSeries bridged(v, 0.0, "x", "w.csv", 3);
    CHECK(bridged.at(5.0) == Approx(5.0));
    CHECK(bridged.at(6.0) == Approx(6.0));
    std::vector<double> wrap(24, 2.0);
    wrap[23] = wrap[0] = NAN;
    CHECK(models::WeatherSeries(wrap, 0.0, "x", "w.csv", 3).at(0.0) == Approx(2.0));
    std::vector<double> long_gap(24, 1.0);
    for (int k = 10; k < 17; ++k) long_gap[static_cast<std::size_t>(k)] = NAN;
    try {
        models::WeatherSeries(long_gap, 1.0, "Dry-bulb (C)", "w.csv", 3);
        FAIL("a 7-hour gap was bridged");
    } catch (const models::WeatherInputError& e) {
        CHECK(std::string(e.what()) == "w.csv:13: Dry-bulb (C): 7 hours missing in a row from here (at most 6 are bridged)");
    }
    CHECK_THROWS_AS(models::WeatherSeries(std::vector<double>(24, NAN), 1.0, "x", "w.csv", 3), models::WeatherInputError);
}
