#include "models/equipment/histories.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>

#include "twinsim/io/history_file.hpp"
#include "twinsim/live/history.hpp"
#include "twinsim/live/ingest/readers.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::models {

namespace {

constexpr std::size_t max_line_bytes = 1u << 20;
constexpr std::size_t max_columns = 4096;
constexpr std::size_t max_rows = 50'000'000;
constexpr std::size_t max_text_bytes = std::size_t{1} << 30;

std::string where(std::string_view source, std::size_t line) {
    return std::string(source) + ":" + std::to_string(line);
}

[[noreturn]] void refuse(std::string_view source, std::size_t line, const std::string& why) {
    throw HistoryInputError(where(source, line) + ": " + why);
}

bool parse_number(std::string_view text, double& out) {
    if (text.empty()) return false;
    if (text.front() == '+') text.remove_prefix(1);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

/// Splits `line` at runs of blanks (spaces, tabs, CR).
void split_blanks(std::string_view line, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
}

/// Calls f(line_number, line) for each line of `text` (1-based), checking the line length.
template <class F>
void for_each_line(std::string_view text, std::string_view source, F&& f) {
    std::size_t line = 0, pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        ++line;
        if (end - pos > max_line_bytes)
            refuse(source, line, "line longer than " + std::to_string(max_line_bytes) + " bytes");
        f(line, text.substr(pos, end - pos));
        pos = end + 1;
    }
}

std::string unit_name(double u) {
    if (u == std::floor(u) && std::fabs(u) < 1e15) return std::to_string(static_cast<long long>(u));
    return std::to_string(u);
}

/// Sorts each unit's rows by cycle (stable), then checks strict increase.
void sort_unit(UnitHistory& u, std::size_t ns, std::size_t nm, std::string_view source) {
    const std::size_t n = u.rows();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (!std::is_sorted(u.cycles.begin(), u.cycles.end())) {
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return u.cycles[a] < u.cycles[b]; });
        UnitHistory s;
        s.id = u.id;
        s.failed = u.failed;
        s.cycles.reserve(n);
        s.settings.reserve(n * ns);
        s.sensors.reserve(n * nm);
        for (const std::size_t k : order) {
            s.cycles.push_back(u.cycles[k]);
            s.settings.insert(s.settings.end(), u.settings.begin() + static_cast<std::ptrdiff_t>(k * ns),
                              u.settings.begin() + static_cast<std::ptrdiff_t>((k + 1) * ns));
            s.sensors.insert(s.sensors.end(), u.sensors.begin() + static_cast<std::ptrdiff_t>(k * nm),
                             u.sensors.begin() + static_cast<std::ptrdiff_t>((k + 1) * nm));
        }
        u = std::move(s);
    }
    for (std::size_t k = 1; k < u.rows(); ++k)
        if (!(u.cycles[k] > u.cycles[k - 1]))
            throw HistoryInputError(std::string(source) + ": unit " + u.id + ": cycle " + std::to_string(u.cycles[k]) +
                                    " appears twice");
}

}  // namespace

std::size_t HistorySet::rows() const noexcept {
    std::size_t n = 0;
    for (const UnitHistory& u : units) n += u.rows();
    return n;
}

void HistorySet::check(std::string_view source) const {
    for (const UnitHistory& u : units) {
        const std::string what = std::string(source) + ": unit \"" + u.id + "\": ";
        if (u.cycles.empty()) throw HistoryInputError(what + "has no rows");
        if (u.settings.size() != u.rows() * setting_count())
            throw HistoryInputError(what + "expected " + std::to_string(u.rows() * setting_count()) + " settings values, found " +
                                    std::to_string(u.settings.size()));
        if (u.sensors.size() != u.rows() * sensor_count())
            throw HistoryInputError(what + "expected " + std::to_string(u.rows() * sensor_count()) + " sensor values, found " +
                                    std::to_string(u.sensors.size()));
        for (std::size_t k = 0; k < u.rows(); ++k) {
            if (!std::isfinite(u.cycles[k])) throw HistoryInputError(what + "a cycle is not a finite number");
            if (k > 0 && !(u.cycles[k] > u.cycles[k - 1]))
                throw HistoryInputError(what + "cycles must increase strictly (row " + std::to_string(k + 1) + ")");
        }
        for (const double v : u.settings)
            if (!std::isfinite(v)) throw HistoryInputError(what + "a setting is not a finite number");
        for (const double v : u.sensors)
            if (!std::isfinite(v)) throw HistoryInputError(what + "a sensor value is not a finite number");
    }
}

std::string read_text_maybe_gzip(const std::filesystem::path& file) {
    std::ifstream probe(file, std::ios::binary);
    if (!probe) throw IoError("cannot open " + file.string());
    unsigned char magic[2] = {0, 0};
    probe.read(reinterpret_cast<char*>(magic), 2);
    const bool gz = probe.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    probe.close();
    std::string text;
    if (!gz) {
        std::ifstream in(file, std::ios::binary);
        in.seekg(0, std::ios::end);
        const auto size = static_cast<std::size_t>(in.tellg());
        if (size > max_text_bytes) throw HistoryInputError(file.string() + ": larger than 1 GiB");
        in.seekg(0);
        text.resize(size);
        in.read(text.data(), static_cast<std::streamsize>(size));
        if (!in) throw IoError("cannot read " + file.string());
        return text;
    }
    gzFile g = gzopen(file.c_str(), "rb");
    if (g == nullptr) throw IoError("cannot open " + file.string());
    char buffer[1 << 16];
    for (;;) {
        const int got = gzread(g, buffer, sizeof buffer);
        if (got < 0) {
            int code = 0;
            const std::string message = gzerror(g, &code);
            gzclose(g);
            throw HistoryInputError(file.string() + ": damaged gzip stream: " + message);
        }
        if (got == 0) break;
        text.append(buffer, static_cast<std::size_t>(got));
        if (text.size() > max_text_bytes) {
            gzclose(g);
            throw HistoryInputError(file.string() + ": more than 1 GiB once decompressed");
        }
    }
    gzclose(g);
    return text;
}

HistorySet parse_cmapss(std::string_view text, std::string_view source, bool failed) {
    HistorySet set;
    std::size_t width = 0;
    std::size_t rows = 0;
    std::vector<std::string_view> fields;
    std::unordered_map<std::string, std::size_t> index;
    for_each_line(text, source, [&](std::size_t line, std::string_view s) {
        split_blanks(s, fields);
        if (fields.empty()) return;
        double first = 0.0;
        if (width == 0 && rows == 0 && !parse_number(fields.front(), first)) return;  // a header line
        if (width == 0) {
            if (fields.size() < 26)
                refuse(source, line, "expected at least 26 numbers (unit, cycle, 3 settings, 21 sensors), found " +
                                         std::to_string(fields.size()));
            if (fields.size() > max_columns) refuse(source, line, "more than " + std::to_string(max_columns) + " columns");
            width = fields.size();
            set.setting_names = {"setting1", "setting2", "setting3"};
            for (std::size_t j = 5; j < width; ++j) set.sensor_names.push_back("s" + std::to_string(j - 4));
        }
        if (fields.size() != width)
            refuse(source, line, "expected " + std::to_string(width) + " numbers, found " + std::to_string(fields.size()));
        if (++rows > max_rows) refuse(source, line, "more than " + std::to_string(max_rows) + " rows");
        double v[4096];
        for (std::size_t j = 0; j < width; ++j)
            if (!parse_number(fields[j], v[j]))
                refuse(source, line, "column " + std::to_string(j + 1) + ": \"" + std::string(fields[j].substr(0, 40)) +
                                         "\" is not a finite number");
        const std::string unit = unit_name(v[0]);
        auto [it, added] = index.try_emplace(unit, set.units.size());
        if (added) {
            set.units.push_back(UnitHistory{});
            set.units.back().id = unit;
            set.units.back().failed = failed;
        }
        UnitHistory& u = set.units[it->second];
        u.cycles.push_back(v[1]);
        u.settings.insert(u.settings.end(), v + 2, v + 5);
        u.sensors.insert(u.sensors.end(), v + 5, v + width);
    });
    if (set.units.empty()) throw HistoryInputError(std::string(source) + ": no rows");
    for (UnitHistory& u : set.units) sort_unit(u, set.setting_count(), set.sensor_count(), source);
    return set;
}

HistorySet read_cmapss(const std::filesystem::path& file, bool failed) {
    return parse_cmapss(read_text_maybe_gzip(file), file.string(), failed);
}

HistorySet parse_history_csv(std::string_view text, std::string_view source, bool failed) {
    using live::ingest::detail::split_csv;
    HistorySet set;
    std::vector<std::string> header;
    std::vector<std::string> fields;
    std::string why;
    std::ptrdiff_t unit_col = -1, cycle_col = -1, failed_col = -1;
    std::vector<std::size_t> setting_cols, sensor_cols;
    std::unordered_map<std::string, std::size_t> index;
    std::vector<int> unit_failed;
    std::size_t rows = 0;
    for_each_line(text, source, [&](std::size_t line, std::string_view s) {
        if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
        if (s.find_first_not_of(" \t") == std::string_view::npos) return;
        if (!split_csv(s, fields, why)) refuse(source, line, why);
        if (fields.size() > max_columns) refuse(source, line, "more than " + std::to_string(max_columns) + " columns");
        if (header.empty()) {
            header = fields;
            for (std::size_t j = 0; j < header.size(); ++j) {
                const std::string& name = header[j];
                if (name.empty()) refuse(source, line, "column " + std::to_string(j + 1) + " has no name");
                for (std::size_t i = 0; i < j; ++i)
                    if (header[i] == name) refuse(source, line, "column \"" + name + "\" appears twice");
                if (name == "unit")
                    unit_col = static_cast<std::ptrdiff_t>(j);
                else if (name == "cycle" || name == "time") {
                    if (cycle_col >= 0) refuse(source, line, "both \"cycle\" and \"time\" columns");
                    cycle_col = static_cast<std::ptrdiff_t>(j);
                } else if (name == "failed") {
                    failed_col = static_cast<std::ptrdiff_t>(j);
                } else if (name.rfind("setting", 0) == 0) {
                    setting_cols.push_back(j);
                    set.setting_names.push_back(name);
                } else {
                    sensor_cols.push_back(j);
                    set.sensor_names.push_back(name);
                }
            }
            if (unit_col < 0) refuse(source, line, "no \"unit\" column");
            if (cycle_col < 0) refuse(source, line, "no \"cycle\" (or \"time\") column");
            if (sensor_cols.empty()) refuse(source, line, "no sensor column");
            return;
        }
        if (fields.size() != header.size())
            refuse(source, line, "expected " + std::to_string(header.size()) + " fields, found " + std::to_string(fields.size()));
        if (++rows > max_rows) refuse(source, line, "more than " + std::to_string(max_rows) + " rows");
        auto number = [&](std::size_t j) {
            double v = 0.0;
            if (!parse_number(fields[j], v))
                refuse(source, line, "column \"" + header[j] + "\": \"" + fields[j].substr(0, 40) + "\" is not a finite number");
            return v;
        };
        const std::string& unit = fields[static_cast<std::size_t>(unit_col)];
        if (unit.empty()) refuse(source, line, "column \"unit\" is empty");
        auto [it, added] = index.try_emplace(unit, set.units.size());
        if (added) {
            set.units.push_back(UnitHistory{});
            set.units.back().id = unit;
            set.units.back().failed = failed;
            unit_failed.push_back(-1);
        }
        UnitHistory& u = set.units[it->second];
        u.cycles.push_back(number(static_cast<std::size_t>(cycle_col)));
        for (const std::size_t j : setting_cols) u.settings.push_back(number(j));
        for (const std::size_t j : sensor_cols) u.sensors.push_back(number(j));
        if (failed_col >= 0) {
            const double f = number(static_cast<std::size_t>(failed_col));
            if (f != 0.0 && f != 1.0) refuse(source, line, "column \"failed\": expected 0 or 1");
            int& seen = unit_failed[it->second];
            if (seen >= 0 && seen != static_cast<int>(f))
                refuse(source, line, "column \"failed\": unit \"" + unit + "\" has both 0 and 1");
            seen = static_cast<int>(f);
            u.failed = f == 1.0;
        }
    });
    if (header.empty()) throw HistoryInputError(std::string(source) + ": empty (no header)");
    if (set.units.empty()) throw HistoryInputError(std::string(source) + ": no rows");
    for (UnitHistory& u : set.units) sort_unit(u, set.setting_count(), set.sensor_count(), source);
    return set;
}

HistorySet read_history_csv(const std::filesystem::path& file, bool failed) {
    return parse_history_csv(read_text_maybe_gzip(file), file.string(), failed);
}

HistorySet histories_from_values(std::span<const HistoryValue> values, const std::vector<std::string>& setting_names,
                                 const std::vector<std::string>& sensor_names, bool failed) {
    if (sensor_names.empty()) throw HistoryInputError("histories: no sensor names given");
    std::unordered_map<std::string, std::size_t> column;
    for (std::size_t j = 0; j < setting_names.size(); ++j)
        if (!column.try_emplace(setting_names[j], j).second)
            throw HistoryInputError("histories: \"" + setting_names[j] + "\" named twice");
    for (std::size_t j = 0; j < sensor_names.size(); ++j)
        if (!column.try_emplace(sensor_names[j], setting_names.size() + j).second)
            throw HistoryInputError("histories: \"" + sensor_names[j] + "\" named twice");
    const std::size_t width = column.size();
    // unit -> time -> row of values (NaN: not given at that time)
    std::vector<std::string> order;
    std::unordered_map<std::string, std::map<std::int64_t, std::vector<double>>> rows;
    std::vector<bool> seen(width, false);
    for (const HistoryValue& v : values) {
        const auto c = column.find(v.key);
        if (c == column.end()) continue;
        auto [u, added] = rows.try_emplace(v.unit);
        if (added) order.push_back(v.unit);
        auto [r, fresh] = u->second.try_emplace(v.time);
        if (fresh) r->second.assign(width, std::nan(""));
        r->second[c->second] = v.value;
        seen[c->second] = true;
    }
    for (const auto& [name, j] : column)
        if (!seen[j]) throw HistoryInputError("histories: no recorded values of \"" + name + "\"");
    HistorySet set;
    set.setting_names = setting_names;
    set.sensor_names = sensor_names;
    for (const std::string& id : order) {
        UnitHistory u;
        u.id = id;
        u.failed = failed;
        std::vector<double> last(width, std::nan(""));
        double cycle = 0.0;
        for (const auto& [time, row] : rows[id]) {
            bool complete = true;
            for (std::size_t j = 0; j < width; ++j) {
                if (!std::isnan(row[j])) last[j] = row[j];
                complete = complete && std::isfinite(last[j]);
            }
            if (!complete) continue;
            u.cycles.push_back(++cycle);
            u.settings.insert(u.settings.end(), last.begin(), last.begin() + static_cast<std::ptrdiff_t>(setting_names.size()));
            u.sensors.insert(u.sensors.end(), last.begin() + static_cast<std::ptrdiff_t>(setting_names.size()), last.end());
        }
        if (!u.cycles.empty()) set.units.push_back(std::move(u));
    }
    return set;
}

namespace {

void add_value(std::vector<HistoryValue>& out, const std::string& id, std::int64_t time, const std::string& key,
               const nlohmann::json& value) {
    if (value.is_number() && std::isfinite(value.get<double>())) out.push_back({id, time, key, value.get<double>()});
}

bool wanted(const std::unordered_map<std::string, int>& keys, const std::vector<std::string>& units, const std::string& id,
            const std::string& key) {
    if (keys.find(key) == keys.end()) return false;
    return units.empty() || std::find(units.begin(), units.end(), id) != units.end();
}

std::unordered_map<std::string, int> key_set(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::unordered_map<std::string, int> keys;
    for (const std::string& k : a) keys[k] = 1;
    for (const std::string& k : b) keys[k] = 1;
    return keys;
}

}  // namespace

HistorySet histories_from_history_file(const std::filesystem::path& file, const std::vector<std::string>& setting_names,
                                       const std::vector<std::string>& sensor_names, bool failed,
                                       const std::vector<std::string>& units) {
    const io::HistoryTables tables = io::read_history_file(file);
    const auto keys = key_set(setting_names, sensor_names);
    std::vector<HistoryValue> values;
    const auto& p = tables.property_updates;
    for (std::size_t i = 0; i < p.id.size(); ++i) {
        if (!wanted(keys, units, p.id[i], p.key[i]) || p.value[i].empty()) continue;
        const nlohmann::json v = nlohmann::json::parse(p.value[i], nullptr, false);
        add_value(values, p.id[i], p.source_time_ns[i] != io::no_time ? p.source_time_ns[i] : p.time_ns[i], p.key[i], v);
    }
    const auto& t = tables.telemetry;
    for (std::size_t i = 0; i < t.id.size(); ++i) {
        if (!wanted(keys, units, t.id[i], t.key[i]) || t.value[i].empty()) continue;
        const nlohmann::json v = nlohmann::json::parse(t.value[i], nullptr, false);
        add_value(values, t.id[i], t.source_time_ns[i] != io::no_time ? t.source_time_ns[i] : t.time_ns[i], t.key[i], v);
    }
    try {
        return histories_from_values(values, setting_names, sensor_names, failed);
    } catch (const HistoryInputError& e) {
        throw HistoryInputError(file.string() + ": " + e.what());
    }
}

HistorySet histories_from_store(live::Store& store, const std::vector<std::string>& setting_names,
                                const std::vector<std::string>& sensor_names, bool failed,
                                const std::vector<std::string>& units) {
    live::HistoryQuery query;
    query.twins = units;
    query.properties = setting_names;
    query.properties.insert(query.properties.end(), sensor_names.begin(), sensor_names.end());
    query.kinds = live::history_property_updates | live::history_telemetry;
    const live::HistoryResult h = store.history(query);
    std::vector<HistoryValue> values;
    auto ns = [](Timestamp t) { return t.ns; };
    for (const live::PropertyUpdateRow& r : h.property_updates)
        add_value(values, r.id, ns(r.source_time.value_or(r.time)), r.key, r.value);
    for (const live::TelemetryRow& r : h.telemetry) add_value(values, r.id, ns(r.source_time.value_or(r.time)), r.key, r.value);
    // The store returns rows by (twin, key, time); put them back in time order so cycles are counted in order.
    std::stable_sort(values.begin(), values.end(),
                     [](const HistoryValue& a, const HistoryValue& b) { return a.time < b.time; });
    try {
        return histories_from_values(values, setting_names, sensor_names, failed);
    } catch (const HistoryInputError& e) {
        throw HistoryInputError("store history: " + std::string(e.what()));
    }
}

HistorySet read_histories(const HistorySource& source) {
    std::string format = source.format;
    if (format == "auto") {
        std::string name = source.file.filename().string();
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto ends = [&](std::string_view suffix) {
            return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        format = ends(".csv") || ends(".csv.gz") ? "csv" : ends(".h5") || ends(".hdf5") ? "history" : "cmapss";
    }
    if (format == "cmapss") return read_cmapss(source.file, source.failed);
    if (format == "csv") return read_history_csv(source.file, source.failed);
    if (format == "history") {
        if (source.sensors.empty())
            throw HistoryInputError(source.file.string() + ": a history file needs the sensor keys to read (sensors)");
        return histories_from_history_file(source.file, source.settings, source.sensors, source.failed, source.units);
    }
    throw HistoryInputError("unknown histories format \"" + format + "\" (expected auto, cmapss, csv or history)");
}

std::vector<double> read_rul_truth(const std::filesystem::path& file) {
    const std::string text = read_text_maybe_gzip(file);
    const std::string source = file.string();
    std::vector<double> out;
    std::vector<std::string_view> fields;
    bool any = false;
    for_each_line(text, source, [&](std::size_t line, std::string_view s) {
        split_blanks(s, fields);
        if (fields.empty()) return;
        double v = 0.0;
        const bool numeric = parse_number(fields.front(), v);
        if (!any && !numeric) {  // a header line
            any = true;
            return;
        }
        any = true;
        if (fields.size() != 1) refuse(source, line, "expected one number, found " + std::to_string(fields.size()) + " fields");
        if (!numeric || v < 0.0)
            refuse(source, line, "\"" + std::string(fields.front().substr(0, 40)) + "\" is not a number of cycles >= 0");
        if (out.size() >= max_rows) refuse(source, line, "too many rows");
        out.push_back(v);
    });
    if (out.empty()) throw HistoryInputError(source + ": no values");
    return out;
}

}  // namespace twinsim::models
