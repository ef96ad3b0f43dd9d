#pragma once
// Typical-meteorological-year weather (NREL's TMY3 CSV format, Wilcox and
// Marion, "Users Manual for TMY3 Data Sets", NREL/TP-581-43156, 2008): one
// year of hourly measured weather of a station, read into columns, and the
// interpolation thermal_zones uses to drive outdoor temperature and solar
// gains from it (models/building/weather.md).
//
// Format: line 1 = station id, "name", state, time zone (hours from UTC of
// the local standard time), latitude, longitude, elevation (m); line 2 = the
// 68 column names; then one row per hour of a 365-day year, 01/01 01:00 to
// 12/31 24:00, each stamped at the END of its hour in local standard time.
// Each month comes from a real year (the date's year column), so the year
// column is not monotonic. A value is missing when its source flag is "?"
// or the value is -9900 (read as NaN).
//
// Limits on outside input (refused with WeatherInputError naming the source,
// line and field): 16 MiB of text (after gunzip), lines of at most 64 KiB,
// exactly 8,760 data rows in calendar order.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/error.hpp"

namespace twinsim::models {

/// Weather that cannot be read: the message names the source, the line (and
/// field when known) and why, e.g. `723170TYA.CSV:9: Dry-bulb (C): "x" is not a number`.
class WeatherInputError : public Error {
public:
    using Error::Error;
};

/// Line 1 of a TMY3 file.
struct Tmy3Station {
    std::string id;            ///< USAF station number, e.g. "723170"
    std::string name;          ///< e.g. "GREENSBORO PIEDMONT TRIAD INT"
    std::string state;         ///< e.g. "NC"
    double utc_offset = 0.0;   ///< h: local standard time = UTC + utc_offset (e.g. -5)
    double latitude = 0.0;     ///< degrees north
    double longitude = 0.0;    ///< degrees east (negative west)
    double elevation = 0.0;    ///< m
};

/// One TMY3 year: 8,760 hours, row k covering local standard hours
/// [k, k + 1) after January 1, 00:00 (stamped k + 1 in the file). Missing
/// values are NaN.
struct Tmy3Weather {
    static constexpr std::size_t hours_per_year = 8760;

    Tmy3Station station;
    std::string source;  ///< the file (or name) it was read from
    std::vector<std::int16_t> year;         ///< the measured year each month came from
    std::vector<std::uint8_t> month, day;   ///< 1-12, 1-31
    std::vector<std::uint8_t> hour;         ///< 1-24: the hour ending at hour:00 local standard time
    std::vector<double> dry_bulb;           ///< degC, at the end of the hour
    std::vector<double> dew_point;          ///< degC
    std::vector<double> relative_humidity;  ///< %
    std::vector<double> pressure;           ///< mbar (hPa)
    std::vector<double> wind_direction;     ///< degrees from north
    std::vector<double> wind_speed;         ///< m/s
    std::vector<double> ghi;                ///< W/m2: global horizontal irradiance, the hour's mean (energy over the preceding hour)
    std::vector<double> dni;                ///< W/m2: direct normal irradiance, hour's mean
    std::vector<double> dhi;                ///< W/m2: diffuse horizontal irradiance, hour's mean
    std::vector<double> total_cloud;        ///< tenths of sky

    [[nodiscard]] std::size_t hours() const noexcept { return dry_bulb.size(); }
};

/// Parses TMY3 text; `source` names it in errors. Throws WeatherInputError.
[[nodiscard]] Tmy3Weather parse_tmy3(std::string_view text, std::string_view source);

/// Reads a TMY3 file, plain or gzip. Throws IoError when it cannot be read,
/// WeatherInputError when it is not valid TMY3 (or passes the limits).
[[nodiscard]] Tmy3Weather read_tmy3(const std::filesystem::path& file);

/// Hours from January 1, 00:00 of a 365-day year to month/day hour:minute
/// (February 29 reads as February 28). Throws WeatherInputError for a month
/// outside 1-12 or a day outside the month.
[[nodiscard]] double hour_of_year(int month, int day, double hour_of_day);

/// An hourly TMY3 series made continuous for a simulation: values at their
/// instants (dry-bulb at the end of its hour, irradiance at the middle of its
/// hour, being the hour's mean), linear in between, cyclic over the year (Dec
/// 31 joins Jan 1). Gaps of missing hours up to `max_gap_hours` are bridged
/// linearly between the neighbouring readings.
class WeatherSeries {
public:
    /// `values`: one per hour (Tmy3Weather::hours() of them); `offset`: the
    /// instant of value k is k + offset hours (1 for dry-bulb, 0.5 for
    /// irradiance). Throws WeatherInputError naming `what` and the first
    /// missing hour (its file line, `first_line` + k) when a gap is longer than
    /// max_gap_hours or every value is missing.
    WeatherSeries(std::vector<double> values, double offset, std::string_view what, std::string_view source,
                  std::size_t first_line, std::size_t max_gap_hours = 6);
    /// The value at `hours` after January 1, 00:00 local standard time (any
    /// real number: taken modulo the year).
    [[nodiscard]] double at(double hours) const noexcept;

private:
    std::vector<double> values_;
    double offset_;
};

}  // namespace twinsim::models
