#include "models/building/weather.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <utility>

#include "models/equipment/histories.hpp"
#include "twinsim/common/excerpt.hpp"

namespace twinsim::models {

namespace {

constexpr std::size_t max_text_bytes = std::size_t{16} << 20;
constexpr std::size_t max_line_bytes = std::size_t{64} << 10;
constexpr std::size_t max_fields = 256;
constexpr double missing_marker = -9900.0;
constexpr std::array<int, 12> days_in_month{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

std::string at_line(std::string_view source, std::size_t line) {
    return std::string(source) + ":" + std::to_string(line);
}

/// One CSV line split into fields; a field may be "quoted" ("" is a quote).
std::vector<std::string> split_csv(std::string_view line, std::string_view source, std::size_t number) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false, was_quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                field += c;
            }
        } else if (c == '"' && field.empty() && !was_quoted) {
            quoted = was_quoted = true;
        } else if (c == ',') {
            fields.push_back(std::move(field));
            field.clear();
            was_quoted = false;
            if (fields.size() >= max_fields)
                throw WeatherInputError(at_line(source, number) + ": more than " + std::to_string(max_fields) + " fields");
        } else {
            field += c;
        }
    }
    if (quoted) throw WeatherInputError(at_line(source, number) + ": a quoted field is not closed");
    fields.push_back(std::move(field));
    return fields;
}

std::optional<double> number(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    double v = 0.0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

/// A data column and, when the format has one, its source-flag column.
struct Column {
    const char* name;
    std::vector<double> Tmy3Weather::*target;
    std::size_t index = 0;
    std::optional<std::size_t> flag;
};

}  // namespace

double hour_of_year(int month, int day, double hour_of_day) {
    if (month < 1 || month > 12)
        throw WeatherInputError("month " + std::to_string(month) + " is not in 1-12");
    const int last = month == 2 ? 29 : days_in_month[static_cast<std::size_t>(month - 1)];
    if (day < 1 || day > last)
        throw WeatherInputError("day " + std::to_string(day) + " is not a day of month " + std::to_string(month));
    if (month == 2 && day == 29) day = 28;
    int before = 0;
    for (int m = 1; m < month; ++m) before += days_in_month[static_cast<std::size_t>(m - 1)];
    return 24.0 * (before + day - 1) + hour_of_day;
}

Tmy3Weather parse_tmy3(std::string_view text, std::string_view source) {
    if (text.size() > max_text_bytes) throw WeatherInputError(std::string(source) + ": larger than 16 MiB");
    if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF && static_cast<unsigned char>(text[1]) == 0xBB &&
        static_cast<unsigned char>(text[2]) == 0xBF)
        text.remove_prefix(3);  // a UTF-8 byte-order mark

    Tmy3Weather w;
    w.source = std::string(source);
    std::size_t line_number = 0, pos = 0;
    auto next_line = [&]() -> std::optional<std::string_view> {
        if (pos >= text.size()) return std::nullopt;
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > max_line_bytes)
            throw WeatherInputError(at_line(source, line_number) + ": a line longer than 64 KiB");
        return line;
    };

    // Line 1: the station.
    const auto first = next_line();
    if (!first || first->empty()) throw WeatherInputError(std::string(source) + ":1: empty (expected the station line)");
    const auto station = split_csv(*first, source, 1);
    if (station.size() != 7)
        throw WeatherInputError(at_line(source, 1) + ": the station line has " + std::to_string(station.size()) +
                                " fields, expected 7 (id, name, state, time zone, latitude, longitude, elevation)");
    auto station_number = [&](std::size_t k, const char* what, double lo, double hi) {
        const auto v = number(station[k]);
        if (!v || *v < lo || *v > hi)
            throw WeatherInputError(at_line(source, 1) + ": " + what + ": \"" + excerpt(station[k]) + "\" is not a number in [" +
                                    nlohmann::json(lo).dump() + ", " + nlohmann::json(hi).dump() + "]");
        return *v;
    };
    w.station.id = station[0];
    w.station.name = station[1];
    w.station.state = station[2];
    w.station.utc_offset = station_number(3, "time zone", -12.0, 14.0);
    w.station.latitude = station_number(4, "latitude", -90.0, 90.0);
    w.station.longitude = station_number(5, "longitude", -180.0, 180.0);
    w.station.elevation = station_number(6, "elevation", -500.0, 9000.0);

    // Line 2: the column names; the reader finds its columns by name.
    const auto second = next_line();
    if (!second || second->empty()) throw WeatherInputError(at_line(source, 2) + ": expected the line of column names");
    const auto names = split_csv(*second, source, 2);
    auto find = [&](std::string_view name) -> std::optional<std::size_t> {
        for (std::size_t k = 0; k < names.size(); ++k)
            if (names[k] == name) return k;
        return std::nullopt;
    };
    auto require = [&](std::string_view name) {
        const auto k = find(name);
        if (!k) throw WeatherInputError(at_line(source, 2) + ": no column \"" + std::string(name) + "\" (not a TMY3 file?)");
        return *k;
    };
    const std::size_t date_col = require("Date (MM/DD/YYYY)");
    const std::size_t time_col = require("Time (HH:MM)");
    std::array<Column, 10> columns{{
        {"Dry-bulb (C)", &Tmy3Weather::dry_bulb, 0, std::nullopt},
        {"Dew-point (C)", &Tmy3Weather::dew_point, 0, std::nullopt},
        {"RHum (%)", &Tmy3Weather::relative_humidity, 0, std::nullopt},
        {"Pressure (mbar)", &Tmy3Weather::pressure, 0, std::nullopt},
        {"Wdir (degrees)", &Tmy3Weather::wind_direction, 0, std::nullopt},
        {"Wspd (m/s)", &Tmy3Weather::wind_speed, 0, std::nullopt},
        {"GHI (W/m^2)", &Tmy3Weather::ghi, 0, std::nullopt},
        {"DNI (W/m^2)", &Tmy3Weather::dni, 0, std::nullopt},
        {"DHI (W/m^2)", &Tmy3Weather::dhi, 0, std::nullopt},
        {"TotCld (tenths)", &Tmy3Weather::total_cloud, 0, std::nullopt},
    }};
    for (Column& c : columns) {
        c.index = require(c.name);
        // "Dry-bulb (C)" -> "Dry-bulb source"; "GHI (W/m^2)" -> "GHI source".
        const std::string stem(std::string_view(c.name).substr(0, std::string_view(c.name).find(" (")));
        c.flag = find(stem + " source");
    }
    for (Column& c : columns) (w.*c.target).reserve(Tmy3Weather::hours_per_year);

    // Data rows, in calendar order.
    std::size_t row = 0;
    while (const auto line = next_line()) {
        if (line->empty() && pos >= text.size()) break;  // the final newline
        if (line->empty()) throw WeatherInputError(at_line(source, line_number) + ": an empty line among the hours");
        if (row >= Tmy3Weather::hours_per_year)
            throw WeatherInputError(at_line(source, line_number) + ": more than 8760 hourly rows");
        const auto f = split_csv(*line, source, line_number);
        if (f.size() != names.size())
            throw WeatherInputError(at_line(source, line_number) + ": " + std::to_string(f.size()) + " fields, the header has " +
                                    std::to_string(names.size()));
        auto bad = [&](std::size_t col, const std::string& why) {
            return WeatherInputError(at_line(source, line_number) + ": " + names[col] + ": \"" + excerpt(f[col]) + "\" " + why);
        };
        // Date MM/DD/YYYY and time HH:MM (01:00 .. 24:00), the expected hour of the year.
        const std::string& d = f[date_col];
        const auto mm = d.size() == 10 && d[2] == '/' && d[5] == '/' ? number(d.substr(0, 2)) : std::nullopt;
        const auto dd = mm ? number(d.substr(3, 2)) : std::nullopt;
        const auto yy = dd ? number(d.substr(6, 4)) : std::nullopt;
        if (!yy || *yy < 1000 || *yy > 9999 || *mm != std::floor(*mm) || *dd != std::floor(*dd))
            throw bad(date_col, "is not a date MM/DD/YYYY");
        const std::string& t = f[time_col];
        const auto hh = t.size() == 5 && t[2] == ':' ? number(t.substr(0, 2)) : std::nullopt;
        const auto mi = hh ? number(t.substr(3, 2)) : std::nullopt;
        if (!mi || *mi != 0.0 || *hh < 1 || *hh > 24 || *hh != std::floor(*hh))
            throw bad(time_col, "is not an hour-ending time 01:00 .. 24:00");
        double stamp = 0.0;
        try {
            stamp = hour_of_year(static_cast<int>(*mm), static_cast<int>(*dd), *hh);
        } catch (const WeatherInputError& e) {
            throw bad(date_col, std::string("is not a date: ") + e.what());
        }
        if (static_cast<int>(*mm) == 2 && static_cast<int>(*dd) == 29) throw bad(date_col, "is February 29 (a TMY3 year has 365 days)");
        if (stamp != static_cast<double>(row + 1)) {
            const auto expected = row;  // hours before this row
            const std::size_t day_index = expected / 24;
            int m = 0;
            std::size_t before = 0;
            while (m < 11 && before + static_cast<std::size_t>(days_in_month[static_cast<std::size_t>(m)]) <= day_index)
                before += static_cast<std::size_t>(days_in_month[static_cast<std::size_t>(m++)]);
            char want[32];
            std::snprintf(want, sizeof want, "%02d/%02d %02zu:00", m + 1, static_cast<int>(day_index - before + 1),
                          expected % 24 + 1);
            throw bad(date_col, "at " + t + ": out of order, expected hour " + std::to_string(row + 1) + " of the year (" +
                                    want + ")");
        }
        w.year.push_back(static_cast<std::int16_t>(*yy));
        w.month.push_back(static_cast<std::uint8_t>(*mm));
        w.day.push_back(static_cast<std::uint8_t>(*dd));
        w.hour.push_back(static_cast<std::uint8_t>(*hh));
        for (const Column& c : columns) {
            const bool flagged_missing = c.flag && f[*c.flag] == "?";
            double v = std::numeric_limits<double>::quiet_NaN();
            if (!flagged_missing) {
                const auto x = number(f[c.index]);
                if (!x) throw bad(c.index, "is not a number");
                if (*x != missing_marker) v = *x;
            }
            (w.*c.target).push_back(v);
        }
        ++row;
    }
    if (row != Tmy3Weather::hours_per_year)
        throw WeatherInputError(std::string(source) + ": " + std::to_string(row) + " hourly rows, a TMY3 year has 8760");
    return w;
}

Tmy3Weather read_tmy3(const std::filesystem::path& file) {
    std::string text;
    try {
        text = read_text_maybe_gzip(file);
    } catch (const HistoryInputError& e) {
        throw WeatherInputError(e.what());
    }
    return parse_tmy3(text, file.string());
}

WeatherSeries::WeatherSeries(std::vector<double> values, double offset, std::string_view what, std::string_view source,
                             std::size_t first_line, std::size_t max_gap_hours)
    : values_(std::move(values)), offset_(offset) {
    const std::size_t n = values_.size();
    std::size_t present = 0;
    for (const double v : values_) present += std::isfinite(v) ? std::size_t{1} : std::size_t{0};
    if (present == 0) throw WeatherInputError(std::string(source) + ": " + std::string(what) + ": every hour is missing");
    if (present == n) return;
    // Bridge each run of missing hours (cyclically) between its neighbours.
    std::size_t start = 0;
    while (std::isfinite(values_[start])) ++start;  // a missing hour exists
    // Walk from a present hour so runs that wrap around the year stay whole.
    std::size_t anchor = start;
    while (!std::isfinite(values_[anchor])) anchor = (anchor + 1) % n;
    for (std::size_t step = 0; step < n;) {
        const std::size_t k = (anchor + step) % n;
        const std::size_t next = (k + 1) % n;
        if (!std::isfinite(values_[next])) {
            std::size_t gap = 0;
            while (!std::isfinite(values_[(next + gap) % n])) ++gap;
            if (gap > max_gap_hours)
                throw WeatherInputError(at_line(source, first_line + next) + ": " + std::string(what) + ": " + std::to_string(gap) +
                                        " hours missing in a row from here (at most " + std::to_string(max_gap_hours) +
                                        " are bridged)");
            const double a = values_[k], b = values_[(next + gap) % n];
            for (std::size_t j = 1; j <= gap; ++j)
                values_[(k + j) % n] = a + (b - a) * static_cast<double>(j) / static_cast<double>(gap + 1);
            step += gap + 1;
        } else {
            ++step;
        }
    }
}

double WeatherSeries::at(double hours) const noexcept {
    const auto n = static_cast<double>(values_.size());
    // Position in units of samples: value k sits at k + offset.
    double x = std::fmod(hours - offset_, n);
    if (x < 0) x += n;
    const auto k = static_cast<std::size_t>(x);
    const std::size_t k0 = std::min(k, values_.size() - 1);
    const std::size_t k1 = (k0 + 1) % values_.size();
    const double f = x - static_cast<double>(k0);
    return values_[k0] + (values_[k1] - values_[k0]) * f;
}

}  // namespace twinsim::models
