#include "twinsim/scenario/scenario_spec.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include "twinsim/common/excerpt.hpp"
#include "twinsim/common/json_pointer.hpp"
#include "twinsim/query/parser.hpp"
#include "twinsim/scenario/calibration_file.hpp"
#include "twinsim/scenario/detail/document.hpp"
#include "twinsim/scenario/input_paths.hpp"
#include "twinsim/scenario/limits.hpp"
#include "twinsim/scenario/scenario_reading.hpp"

namespace twinsim::scenario {

namespace {

std::string location_message(const std::string& file, std::uint32_t line, std::uint32_t column,
                             const std::string& field, const std::string& reason) {
    std::string out;
    if (!file.empty()) {
        out += file;
        if (line > 0) out += ":" + std::to_string(line);
        if (line > 0 && column > 0) out += ":" + std::to_string(column);
        out += ": ";
    }
    if (!field.empty()) out += field + ": ";
    out += reason;
    return out;
}

}  // namespace

ScenarioError::ScenarioError(std::string file, std::uint32_t line, std::string field, std::string reason)
    : ScenarioError(std::move(file), line, 0, std::move(field), std::move(reason)) {}

ScenarioError::ScenarioError(std::string file, std::uint32_t line, std::uint32_t column, std::string field,
                             std::string reason)
    : Error(location_message(file, line, column, field, reason)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      field_(std::move(field)),
      reason_(std::move(reason)) {}

namespace {

using Json = nlohmann::ordered_json;
using Kind = DistributionSpec::Kind;

// Where a value is: its JSON pointer (for the line) and its dotted field name.
struct Loc {
    std::string ptr;
    std::string field;
    [[nodiscard]] Loc key(std::string_view k) const {
        return {ptr + "/" + escape_pointer_token(k), field.empty() ? std::string(k) : field + "." + std::string(k)};
    }
    [[nodiscard]] Loc at(std::size_t i) const {
        return {ptr + "/" + std::to_string(i), field + "[" + std::to_string(i) + "]"};
    }
};

std::string type_name(const Json& j) {
    switch (j.type()) {
        case Json::value_t::null: return "null";
        case Json::value_t::boolean: return "a boolean";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
        case Json::value_t::number_float: return "a number";
        case Json::value_t::string: return "a string";
        case Json::value_t::array: return "a list";
        case Json::value_t::object: return "a mapping";
        default: return "a value";
    }
}

std::string in_quotes(std::string_view s) {
    return '\'' + excerpt(s) + '\'';
}

class Decoder {
public:
    Decoder(const detail::LineMap* lines, std::string file, ScenarioReadOptions options = {})
        : lines_(lines), file_(std::move(file)), options_(options) {}

    // The line of the value at `loc` or of its nearest ancestor with one; 0 when unknown.
    [[nodiscard]] std::uint32_t line_of(const Loc& loc) const {
        if (lines_ == nullptr) return 0;
        std::string p = loc.ptr;
        for (;;) {
            if (auto it = lines_->find(p); it != lines_->end()) return it->second;
            if (p.empty()) return 0;
            p.erase(p.rfind('/'));
        }
    }

    [[noreturn]] void fail(const Loc& loc, const std::string& reason) const {
        throw ScenarioError(file_, line_of(loc), loc.field, reason);
    }

    [[noreturn]] void wrong_type(const Json& j, const Loc& loc, const char* expected) const {
        fail(loc, std::string("expected ") + expected + " but found " + type_name(j));
    }

    // An object whose keys are all in `allowed`; `required` must be present.
    void object(const Json& j, const Loc& loc, std::initializer_list<std::string_view> allowed,
                std::initializer_list<std::string_view> required = {}) const {
        if (!j.is_object()) wrong_type(j, loc, "a mapping");
        for (const auto& [k, v] : j.items()) {
            if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
            std::string list;
            for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            fail(loc.key(k), "unknown key (expected one of: " + list + ")");
        }
        for (auto r : required)
            if (!j.contains(r)) fail(loc, "missing required key " + in_quotes(r));
    }

    // `calibration:` a calibration file or a list of them (relative to the
    // scenario file's folder and inside its tree), whose fitted behaviour
    // parameters are merged into the bindings now (calibration_file.hpp), so
    // the spec holds the calibrated values and writes them back as such.
    void calibration(const Json& j, const Loc& loc, ScenarioSpec& s) const {
        std::vector<std::pair<std::string, Loc>> files;
        if (j.is_string()) {
            files.emplace_back(string(j, loc), loc);
        } else if (j.is_array()) {
            for (std::size_t i = 0; i < j.size(); ++i) files.emplace_back(string(j[i], loc.at(i)), loc.at(i));
        } else {
            wrong_type(j, loc, "a calibration file or a list of them");
        }
        ScenarioSpec named;  // names this scenario file in resolve_input_path's errors
        named.source.file = file_;
        const std::filesystem::path folder = std::filesystem::path(file_).parent_path();
        InputPathOptions paths;
        paths.allow_outside = options_.allow_outside_paths;
        for (const auto& [written, at] : files) {
            std::filesystem::path path;
            try {
                path = resolve_input_path(named, folder, written, at.ptr, at.field, paths);
            } catch (const ScenarioError& e) {
                fail(at, e.reason());
            }
            apply_calibration_file(s.models, path);
        }
    }

    std::string string(const Json& j, const Loc& loc, bool non_empty = true) const {
        if (!j.is_string()) wrong_type(j, loc, "a string");
        auto s = j.get<std::string>();
        if (non_empty && s.empty()) fail(loc, "must not be empty");
        return s;
    }

    double number(const Json& j, const Loc& loc) const {
        if (!j.is_number()) wrong_type(j, loc, "a number");
        const double d = j.get<double>();
        if (!std::isfinite(d)) fail(loc, non_finite(d));
        return d;
    }

    static std::string non_finite(double d) {
        return std::string("must be a finite number, not ") + (std::isnan(d) ? "NaN" : d > 0 ? "infinity" : "-infinity");
    }

    // Every string and key valid UTF-8, every number finite: what can be
    // written to a results file and handed to Python. Keys are checked before
    // their values, so a field name in a message is always valid text.
    void check_values(const Json& j, const Loc& loc) const {
        if (j.is_string()) {
            const auto& s = j.get_ref<const std::string&>();
            if (const auto at = invalid_utf8_at(s); at != std::string::npos)
                fail(loc, "is not valid UTF-8 text (byte " + std::to_string(at + 1) + " of " + in_quotes(s) + ")");
        } else if (j.is_number_float()) {
            if (!std::isfinite(j.get<double>())) fail(loc, non_finite(j.get<double>()));
        } else if (j.is_array()) {
            for (std::size_t i = 0; i < j.size(); ++i) check_values(j[i], loc.at(i));
        } else if (j.is_object()) {
            for (const auto& [k, v] : j.items()) {
                if (const auto at = invalid_utf8_at(k); at != std::string::npos)
                    fail(loc, "the key " + in_quotes(k) + " is not valid UTF-8 text (byte " + std::to_string(at + 1) + ")");
                check_values(v, loc.key(k));
            }
        }
    }

    std::uint64_t unsigned_integer(const Json& j, const Loc& loc) const {
        if (j.is_number_unsigned()) return j.get<std::uint64_t>();
        if (j.is_number_integer()) {
            if (j.get<std::int64_t>() < 0) fail(loc, "must not be negative");
            return static_cast<std::uint64_t>(j.get<std::int64_t>());
        }
        wrong_type(j, loc, "a whole number");
    }

    bool boolean(const Json& j, const Loc& loc) const {
        if (!j.is_boolean()) wrong_type(j, loc, "true or false");
        return j.get<bool>();
    }

    // Seconds: a number, or an ISO 8601 duration string.
    double duration(const Json& j, const Loc& loc) const {
        if (j.is_number()) return number(j, loc);
        if (!j.is_string()) wrong_type(j, loc, "seconds or an ISO 8601 duration such as \"PT48H\"");
        const auto s = j.get<std::string>();
        const auto d = duration_seconds(s);
        if (!d) fail(loc, "malformed ISO 8601 duration " + in_quotes(s) + " (expected e.g. \"PT48H\", \"P2DT6H\", \"PT90S\")");
        return *d;
    }

    double positive_duration(const Json& j, const Loc& loc) const {
        const double d = duration(j, loc);
        if (!(d > 0)) fail(loc, "must be a positive duration");
        return d;
    }

    std::string expression(const Json& j, const Loc& loc) const {
        auto text = string(j, loc);
        try {
            (void)query::parse_expression(text);
        } catch (const query::QueryError& e) {
            fail(loc, "invalid expression: " + std::string(e.what()));
        }
        return text;
    }

    std::vector<std::string> strings(const Json& j, const Loc& loc) const {
        if (!j.is_array()) wrong_type(j, loc, "a list of strings");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < j.size(); ++i) out.push_back(string(j[i], loc.at(i)));
        return out;
    }

    std::vector<double> numbers(const Json& j, const Loc& loc) const {
        if (!j.is_array()) wrong_type(j, loc, "a list of numbers");
        std::vector<double> out;
        for (std::size_t i = 0; i < j.size(); ++i) out.push_back(number(j[i], loc.at(i)));
        return out;
    }

    template <class E>
    E choice(const Json& j, const Loc& loc, std::initializer_list<std::pair<std::string_view, E>> options) const {
        const auto s = string(j, loc);
        std::string list;
        for (const auto& [name, value] : options) {
            if (name == s) return value;
            list += (list.empty() ? "" : ", ") + std::string(name);
        }
        fail(loc, "unknown value " + in_quotes(s) + " (expected one of: " + list + ")");
    }

    ScenarioSpec spec(const Json& j) const;

private:
    DistributionSpec distribution(const Json& j, const Loc& loc) const;
    Parameter parameter(const std::string& name, const Json& j, const Loc& loc) const;
    StructuralEdit edit(const Json& j, const Loc& loc) const;
    SweepSpec sweep(const Json& j, const Loc& loc) const;
    RecordingSpec recording(const Json& j, const Loc& loc) const;
    KpiSpec kpi(const Json& j, const Loc& loc) const;
    ReplaySpec replay(const Json& j, const Loc& loc) const;
    void check_references(const Json& j, const Loc& loc, const std::set<std::string>& names) const;

    const detail::LineMap* lines_;
    std::string file_;
    ScenarioReadOptions options_;
};

const std::initializer_list<std::pair<std::string_view, StructuralEdit::Kind>> edit_kinds{
    {"add_twin", StructuralEdit::Kind::add_twin},
    {"remove_twin", StructuralEdit::Kind::remove_twin},
    {"add_relationship", StructuralEdit::Kind::add_relationship},
    {"remove_relationship", StructuralEdit::Kind::remove_relationship}};
const std::initializer_list<std::pair<std::string_view, KpiSpec::Statistic>> statistics{
    {"mean", KpiSpec::Statistic::mean},         {"min", KpiSpec::Statistic::min},
    {"max", KpiSpec::Statistic::max},           {"final", KpiSpec::Statistic::final},
    {"integral", KpiSpec::Statistic::integral}, {"time_above", KpiSpec::Statistic::time_above},
    {"time_below", KpiSpec::Statistic::time_below}, {"event_count", KpiSpec::Statistic::event_count},
    {"excess_above", KpiSpec::Statistic::excess_above}, {"excess_below", KpiSpec::Statistic::excess_below}};
const std::initializer_list<std::pair<std::string_view, KpiSpec::Over>> overs{
    {"each", KpiSpec::Over::each}, {"mean", KpiSpec::Over::mean}, {"sum", KpiSpec::Over::sum},
    {"min", KpiSpec::Over::min},   {"max", KpiSpec::Over::max}};
const std::initializer_list<std::pair<std::string_view, KpiSpec::Across>> acrosses{
    {"mean", KpiSpec::Across::mean}, {"std", KpiSpec::Across::std}, {"ci95", KpiSpec::Across::ci95},
    {"percentiles", KpiSpec::Across::percentiles}};

template <class E>
std::string name_of(E value, std::initializer_list<std::pair<std::string_view, E>> options) {
    for (const auto& [name, v] : options)
        if (v == value) return std::string(name);
    return "?";
}

DistributionSpec Decoder::distribution(const Json& j, const Loc& loc) const {
    const Loc kind_loc = loc.key("distribution");
    const auto name = string(j.at("distribution"), kind_loc);
    const auto kind = distribution_kind(name);
    if (!kind)
        fail(kind_loc, "unknown distribution " + in_quotes(name) +
                           " (expected one of: exponential, normal, lognormal, weibull, gamma, uniform, triangular, "
                           "empirical)");
    DistributionSpec d;
    d.kind = *kind;
    const auto& names = param_names(*kind);
    if (!j.is_object()) wrong_type(j, loc, "a mapping");
    for (const auto& [k, v] : j.items()) {
        if (k == "distribution") continue;
        const bool known = std::find(names.begin(), names.end(), k) != names.end() ||
                           (*kind == Kind::empirical && (k == "values" || k == "weights"));
        if (!known) {
            std::string list;
            for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
            if (*kind == Kind::empirical) list = "values, weights";
            fail(loc.key(k), "unknown key for a " + name + " distribution (expected: " + list + ")");
        }
    }
    for (const auto& n : names) {
        if (!j.contains(n)) fail(loc, "a " + name + " distribution needs " + in_quotes(n));
        d.params.push_back(number(j.at(n), loc.key(n)));
    }
    if (*kind == Kind::empirical) {
        if (!j.contains("values")) fail(loc, "an empirical distribution needs 'values'");
        d.values = numbers(j.at("values"), loc.key("values"));
        if (j.contains("weights")) d.weights = numbers(j.at("weights"), loc.key("weights"));
    }
    if (auto problem = d.problem()) {
        // Name the offending parameter's own line when the reason starts with it.
        Loc where = loc;
        for (const auto& n : names)
            if (problem->rfind(n + " ", 0) == 0) where = loc.key(n);
        if (problem->rfind("weights", 0) == 0) where = loc.key("weights");
        if (problem->rfind("values", 0) == 0) where = loc.key("values");
        fail(where, *problem);
    }
    return d;
}

// The first "${name}" string in `j` (at any depth), with its location.
const Json* find_reference(const Json& j, const Loc& loc, Loc& found) {
    if (j.is_string()) {
        if (!is_parameter_reference(std::string_view(j.get_ref<const std::string&>()))) return nullptr;
        found = loc;
        return &j;
    }
    if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i)
            if (const Json* r = find_reference(j[i], loc.at(i), found)) return r;
    } else if (j.is_object()) {
        for (const auto& [k, v] : j.items())
            if (const Json* r = find_reference(v, loc.key(k), found)) return r;
    }
    return nullptr;
}

Parameter Decoder::parameter(const std::string& name, const Json& j, const Loc& loc) const {
    Parameter p;
    p.name = name;
    // Parameters are substituted into the other sections, never into each
    // other: "x: ${x}" (or a cycle through several) would stay unresolved and
    // fail every run, so it is refused here.
    Loc where;
    if (const Json* r = find_reference(j, loc, where)) {
        const auto& text = r->get_ref<const std::string&>();
        const std::string target = text.substr(2, text.size() - 3);
        fail(where, target == name ? "the parameter refers to itself (" + in_quotes(text) + "): give it a value or a distribution"
                                   : "a parameter cannot refer to another parameter (" + in_quotes(text) +
                                         "): give it a value or a distribution");
    }
    if (j.is_object()) {
        if (!j.contains("distribution"))
            fail(loc, "a parameter is a fixed value (number, string, boolean or list) or a mapping with 'distribution'");
        p.distribution = distribution(j, loc);
    } else {
        if (j.is_null()) fail(loc, "a parameter needs a value or a distribution");
        p.value = nlohmann::json::parse(j.dump());
    }
    return p;
}

StructuralEdit Decoder::edit(const Json& j, const Loc& loc) const {
    if (!j.is_object() || j.size() != 1)
        fail(loc, "an edit is a mapping with exactly one key: add_twin, remove_twin, add_relationship or remove_relationship");
    // Copy the key and bind the value: items() hands out a temporary proxy.
    const auto first = j.begin();
    const std::string k = first.key();
    const Json& v = first.value();
    const Loc at = loc.key(k);
    StructuralEdit e;
    bool found = false;
    for (const auto& [name, kind] : edit_kinds)
        if (name == k) e.kind = kind, found = true;
    if (!found) fail(at, "unknown edit (expected one of: add_twin, remove_twin, add_relationship, remove_relationship)");
    switch (e.kind) {
        case StructuralEdit::Kind::add_twin: {
            if (!v.is_object()) wrong_type(v, at, "a twin in ADT JSON");
            if (!v.contains("$dtId")) fail(at, "the twin needs '$dtId'");
            (void)string(v.at("$dtId"), at.key("$dtId"));
            if (!v.contains("$metadata") || !v.at("$metadata").is_object() || !v.at("$metadata").contains("$model"))
                fail(at, "the twin needs '$metadata': {'$model': ...}");
            (void)string(v.at("$metadata").at("$model"), at.key("$metadata").key("$model"));
            e.body = nlohmann::json::parse(v.dump());
            break;
        }
        case StructuralEdit::Kind::add_relationship: {
            if (!v.is_object()) wrong_type(v, at, "a relationship in ADT JSON");
            for (const char* key : {"$dtId", "$relationshipId", "$targetId", "$relationshipName"}) {
                if (!v.contains(key)) fail(at, std::string("the relationship needs '") + key + "'");
                (void)string(v.at(key), at.key(key));
            }
            e.body = nlohmann::json::parse(v.dump());
            break;
        }
        case StructuralEdit::Kind::remove_twin: e.twin_id = string(v, at); break;
        case StructuralEdit::Kind::remove_relationship:
            object(v, at, {"source", "id"}, {"source", "id"});
            e.twin_id = string(v.at("source"), at.key("source"));
            e.relationship_id = string(v.at("id"), at.key("id"));
            break;
    }
    return e;
}

SweepSpec Decoder::sweep(const Json& j, const Loc& loc) const {
    object(j, loc, {"grid", "list", "latin_hypercube"});
    if (j.size() != 1) fail(loc, "a sweep has exactly one of: grid, list, latin_hypercube");
    SweepSpec s;
    if (j.contains("grid")) {
        s.kind = SweepSpec::Kind::grid;
        const Loc g = loc.key("grid");
        const auto& grid = j.at("grid");
        if (!grid.is_object() || grid.empty()) fail(g, "expected a mapping from parameter name to a list of values");
        std::uint64_t points = 1;  // the grid's size, counted before any value is copied
        for (const auto& [name, values] : grid.items()) {
            const Loc at = g.key(name);
            if (!values.is_array() || values.empty()) fail(at, "expected a non-empty list of values");
            points = values.size() > limits::max_sweep_points ? limits::max_sweep_points + 1
                                                               : std::min<std::uint64_t>(points * values.size(),
                                                                                        limits::max_sweep_points + 1);
            if (points > limits::max_sweep_points)
                fail(at, "the grid has more than " + std::to_string(limits::max_sweep_points) +
                             " design points (the limit on design points; the product of the lists' lengths)");
        }
        for (const auto& [name, values] : grid.items()) {
            const Loc at = g.key(name);
            std::vector<nlohmann::json> vs;
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (!values[i].is_primitive() || values[i].is_null())
                    fail(at.at(i), "a sweep value is a number, string or boolean");
                if (is_parameter_reference(values[i]))
                    fail(at.at(i), "a sweep value cannot refer to a parameter (" + in_quotes(values[i].get<std::string>()) + ")");
                vs.push_back(nlohmann::json::parse(values[i].dump()));
            }
            s.grid.emplace_back(name, std::move(vs));
        }
    } else if (j.contains("list")) {
        s.kind = SweepSpec::Kind::list;
        const Loc l = loc.key("list");
        const auto& list = j.at("list");
        if (!list.is_array() || list.empty()) fail(l, "expected a non-empty list of points");
        if (list.size() > limits::max_sweep_points)
            fail(l, "the list has " + std::to_string(list.size()) + " design points, more than " +
                        std::to_string(limits::max_sweep_points) + " (the limit on design points)");
        for (std::size_t i = 0; i < list.size(); ++i) {
            const Loc at = l.at(i);
            if (!list[i].is_object() || list[i].empty()) fail(at, "a point is a mapping from parameter name to value");
            ParameterPoint point;
            for (const auto& [name, value] : list[i].items()) {
                if (!value.is_primitive() || value.is_null())
                    fail(at.key(name), "a sweep value is a number, string or boolean");
                if (is_parameter_reference(value))
                    fail(at.key(name), "a sweep value cannot refer to a parameter (" + in_quotes(value.get<std::string>()) + ")");
                point.emplace_back(name, nlohmann::json::parse(value.dump()));
            }
            s.list.push_back(std::move(point));
        }
    } else {
        s.kind = SweepSpec::Kind::latin_hypercube;
        const Loc h = loc.key("latin_hypercube");
        const auto& lhs = j.at("latin_hypercube");
        object(lhs, h, {"samples", "ranges", "seed"}, {"samples", "ranges"});
        const auto n = unsigned_integer(lhs.at("samples"), h.key("samples"));
        if (n < 1 || n > limits::max_sweep_points)
            fail(h.key("samples"), "must be between 1 and " + std::to_string(limits::max_sweep_points) +
                                       " (the limit on design points)");
        s.samples = static_cast<std::uint32_t>(n);
        if (lhs.contains("seed")) s.seed = unsigned_integer(lhs.at("seed"), h.key("seed"));
        const Loc r = h.key("ranges");
        const auto& ranges = lhs.at("ranges");
        if (!ranges.is_object() || ranges.empty()) fail(r, "expected a mapping from parameter name to [low, high]");
        for (const auto& [name, range] : ranges.items()) {
            const Loc at = r.key(name);
            const auto bounds = numbers(range, at);
            if (bounds.size() != 2) fail(at, "expected [low, high]");
            if (!(bounds[0] < bounds[1])) fail(at, "low must be less than high");
            s.ranges.push_back({name, bounds[0], bounds[1]});
        }
    }
    return s;
}

RecordingSpec Decoder::recording(const Json& j, const Loc& loc) const {
    object(j, loc, {"series", "events"});
    RecordingSpec r;
    if (j.contains("events")) r.events = boolean(j.at("events"), loc.key("events"));
    if (!j.contains("series")) return r;
    const Loc sl = loc.key("series");
    const auto& series = j.at("series");
    if (!series.is_array()) wrong_type(series, sl, "a list");
    for (std::size_t i = 0; i < series.size(); ++i) {
        const Loc at = sl.at(i);
        const auto& s = series[i];
        object(s, at, {"where", "properties", "interval", "on_change"}, {"properties"});
        RecordSeries out;
        if (s.contains("where")) out.where = expression(s.at("where"), at.key("where"));
        out.properties = strings(s.at("properties"), at.key("properties"));
        if (out.properties.empty()) fail(at.key("properties"), "name at least one property");
        if (s.contains("interval")) out.interval = positive_duration(s.at("interval"), at.key("interval"));
        if (s.contains("on_change")) out.on_change = boolean(s.at("on_change"), at.key("on_change"));
        if (!out.interval && !out.on_change) fail(at, "give an 'interval', 'on_change: true', or both");
        r.series.push_back(std::move(out));
    }
    return r;
}

const std::initializer_list<std::pair<std::string_view, Interpolation>> interpolations{
    {"step", Interpolation::step}, {"linear", Interpolation::linear}};
const std::initializer_list<std::pair<std::string_view, GapAction>> gap_actions{
    {"refuse", GapAction::refuse}, {"model", GapAction::model}};

ReplaySpec Decoder::replay(const Json& j, const Loc& loc) const {
    object(j, loc, {"source", "interpolation", "max_gap", "on_gap", "inputs", "compare"});
    ReplaySpec r;
    if (j.contains("source")) r.source = string(j.at("source"), loc.key("source"));
    if (j.contains("interpolation")) r.interpolation = choice(j.at("interpolation"), loc.key("interpolation"), interpolations);
    if (j.contains("max_gap")) {
        r.gaps.max_gap = duration(j.at("max_gap"), loc.key("max_gap"));
        if (r.gaps.max_gap < 0) fail(loc.key("max_gap"), "must not be negative");
    }
    if (j.contains("on_gap")) r.gaps.action = choice(j.at("on_gap"), loc.key("on_gap"), gap_actions);
    if (j.contains("compare")) r.compare = boolean(j.at("compare"), loc.key("compare"));
    if (!j.contains("inputs")) return r;
    const Loc il = loc.key("inputs");
    const auto& inputs = j.at("inputs");
    if (!inputs.is_array()) wrong_type(inputs, il, "a list");
    if (inputs.size() > limits::max_replay_inputs)
        fail(il, "more than " + std::to_string(limits::max_replay_inputs) + " inputs (the limit on replay inputs)");
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Loc at = il.at(i);
        const auto& e = inputs[i];
        object(e, at, {"twin", "where", "property", "to", "interpolation", "max_gap", "on_gap"}, {"property"});
        ReplayInput in;
        if (e.contains("twin") == e.contains("where")) fail(at, "give one of 'twin' (a twin's series) or 'where' (each selected twin's own)");
        if (e.contains("twin")) in.twin = string(e.at("twin"), at.key("twin"));
        if (e.contains("where")) in.where = expression(e.at("where"), at.key("where"));
        in.property = string(e.at("property"), at.key("property"));
        if (e.contains("to")) {
            const Loc tl = at.key("to");
            const auto& to = e.at("to");
            object(to, tl, {"twin", "property", "behaviour", "parameter"});
            if (to.contains("behaviour") != to.contains("parameter"))
                fail(tl, "'behaviour' and 'parameter' go together: the behaviour's parameter that takes the series");
            if (to.contains("behaviour") && (to.contains("twin") || to.contains("property")))
                fail(tl, "a target is a twin's property or a behaviour's parameter, not both");
            if (to.contains("twin")) {
                if (!in.where.empty()) fail(tl.key("twin"), "a 'where' input drives each selected twin itself: no 'to.twin'");
                in.to_twin = string(to.at("twin"), tl.key("twin"));
            }
            if (to.contains("property")) in.to_property = string(to.at("property"), tl.key("property"));
            if (to.contains("behaviour")) {
                if (!in.where.empty()) fail(tl.key("behaviour"), "a behaviour parameter takes one series: give 'twin', not 'where'");
                in.to_behaviour = string(to.at("behaviour"), tl.key("behaviour"));
                in.to_parameter = string(to.at("parameter"), tl.key("parameter"));
            }
        }
        if (e.contains("interpolation")) in.interpolation = choice(e.at("interpolation"), at.key("interpolation"), interpolations);
        if (e.contains("max_gap")) {
            in.max_gap = duration(e.at("max_gap"), at.key("max_gap"));
            if (*in.max_gap < 0) fail(at.key("max_gap"), "must not be negative");
        }
        if (e.contains("on_gap")) in.on_gap = choice(e.at("on_gap"), at.key("on_gap"), gap_actions);
        r.inputs.push_back(std::move(in));
    }
    return r;
}

KpiSpec Decoder::kpi(const Json& j, const Loc& loc) const {
    object(j, loc, {"name", "statistic", "where", "property", "threshold", "event", "over", "across"},
           {"name", "statistic"});
    KpiSpec k;
    k.name = string(j.at("name"), loc.key("name"));
    k.statistic = choice(j.at("statistic"), loc.key("statistic"), statistics);
    if (j.contains("where")) k.where = expression(j.at("where"), loc.key("where"));
    if (j.contains("property")) k.property = string(j.at("property"), loc.key("property"));
    if (j.contains("threshold")) k.threshold = number(j.at("threshold"), loc.key("threshold"));
    if (j.contains("event")) k.event = string(j.at("event"), loc.key("event"));
    // event_count's default is one fleet-wide total (sum); every other statistic's is each.
    if (k.statistic == KpiSpec::Statistic::event_count) k.over = KpiSpec::Over::sum;
    if (j.contains("over")) k.over = choice(j.at("over"), loc.key("over"), overs);
    if (j.contains("across")) {
        const Loc a = loc.key("across");
        if (!j.at("across").is_array()) wrong_type(j.at("across"), a, "a list");
        k.across.clear();
        for (std::size_t i = 0; i < j.at("across").size(); ++i)
            k.across.push_back(choice(j.at("across")[i], a.at(i), acrosses));
    }
    const bool counts = k.statistic == KpiSpec::Statistic::event_count;
    const bool thresholded =
        k.statistic == KpiSpec::Statistic::time_above || k.statistic == KpiSpec::Statistic::time_below ||
        k.statistic == KpiSpec::Statistic::excess_above || k.statistic == KpiSpec::Statistic::excess_below;
    if (!counts && k.property.empty()) fail(loc, "the statistic " + name_of(k.statistic, statistics) + " needs a 'property'");
    if (counts && !k.property.empty()) fail(loc.key("property"), "event_count counts events; it takes no property");
    if (!counts && !k.event.empty()) fail(loc.key("event"), "only event_count takes an 'event'");
    if (thresholded && !k.threshold) fail(loc, "the statistic " + name_of(k.statistic, statistics) + " needs a 'threshold'");
    if (!thresholded && k.threshold) fail(loc.key("threshold"), "only time_above, time_below, excess_above and excess_below take a 'threshold'");
    return k;
}

// "${name}" strings must name a parameter.
void Decoder::check_references(const Json& j, const Loc& loc, const std::set<std::string>& names) const {
    if (j.is_string()) {
        const auto& s = j.get_ref<const std::string&>();
        if (is_parameter_reference(std::string_view(s))) {
            const auto name = s.substr(2, s.size() - 3);
            if (!names.contains(name)) fail(loc, "unknown parameter " + in_quotes(name) + " in " + in_quotes(s));
        }
    } else if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) check_references(j[i], loc.at(i), names);
    } else if (j.is_object()) {
        for (const auto& [k, v] : j.items()) check_references(v, loc.key(k), names);
    }
}

ScenarioSpec Decoder::spec(const Json& j) const {
    const Loc root;
    check_values(j, root);
    object(j, root,
           {"name", "description", "base", "base_models", "start", "horizon", "step", "replications", "seed", "parameters",
            "overrides", "edits", "events", "behaviours", "models", "calibration", "sweep", "recording", "kpis", "replay"},
           {"name", "base", "start", "horizon"});
    ScenarioSpec s;
    s.name = string(j.at("name"), root.key("name"));
    if (j.contains("description")) s.description = string(j.at("description"), root.key("description"), false);
    s.base = string(j.at("base"), root.key("base"));
    if (j.contains("base_models")) {
        const Loc bl = root.key("base_models");
        const auto& list = j.at("base_models");
        if (!list.is_array()) wrong_type(list, bl, "a list of DTDL files or folders");
        for (std::size_t i = 0; i < list.size(); ++i) s.base_models.push_back(string(list[i], bl.at(i)));
    }
    {
        const Loc at = root.key("start");
        const auto text = string(j.at("start"), at);
        const auto t = parse_timestamp(text);
        if (!t) fail(at, "expected an RFC 3339 date-time such as \"2026-07-01T00:00:00Z\", found " + in_quotes(text));
        s.start = *t;
    }
    s.horizon = positive_duration(j.at("horizon"), root.key("horizon"));
    if (j.contains("step")) s.step = positive_duration(j.at("step"), root.key("step"));
    if (j.contains("replications")) {
        const auto n = unsigned_integer(j.at("replications"), root.key("replications"));
        if (n < 1 || n > limits::max_replications)
            fail(root.key("replications"), "must be a whole number between 1 and " +
                                               std::to_string(limits::max_replications) + " (the limit on replications)");
        s.replications = static_cast<std::uint32_t>(n);
    }
    if (j.contains("seed")) s.seed = unsigned_integer(j.at("seed"), root.key("seed"));

    std::set<std::string> names;
    if (j.contains("parameters")) {
        const Loc pl = root.key("parameters");
        const auto& params = j.at("parameters");
        if (!params.is_object()) wrong_type(params, pl, "a mapping from parameter name to value or distribution");
        for (const auto& [name, v] : params.items()) {
            s.parameters.push_back(parameter(name, v, pl.key(name)));
            names.insert(name);
        }
    }
    if (j.contains("sweep")) {
        s.sweep = sweep(j.at("sweep"), root.key("sweep"));
        for (const auto& [name, values] : s.sweep->grid) names.insert(name);
        for (const auto& point : s.sweep->list)
            for (const auto& [name, value] : point) names.insert(name);
        for (const auto& r : s.sweep->ranges) names.insert(r.name);
    }
    if (j.contains("overrides")) {
        const Loc ol = root.key("overrides");
        const auto& overrides = j.at("overrides");
        if (!overrides.is_array()) wrong_type(overrides, ol, "a list");
        for (std::size_t i = 0; i < overrides.size(); ++i) {
            const Loc at = ol.at(i);
            object(overrides[i], at, {"set", "where"}, {"set"});
            PropertyOverride o;
            const auto& set = overrides[i].at("set");
            if (!set.is_object() || set.empty()) fail(at.key("set"), "expected a mapping from property name to value");
            check_references(set, at.key("set"), names);
            o.set = nlohmann::json::parse(set.dump());
            if (overrides[i].contains("where")) o.where = expression(overrides[i].at("where"), at.key("where"));
            s.overrides.push_back(std::move(o));
        }
    }
    if (j.contains("edits")) {
        const Loc el = root.key("edits");
        const auto& edits = j.at("edits");
        if (!edits.is_array()) wrong_type(edits, el, "a list");
        for (std::size_t i = 0; i < edits.size(); ++i) s.edits.push_back(edit(edits[i], el.at(i)));
    }
    if (j.contains("events")) {
        const Loc el = root.key("events");
        const auto& events = j.at("events");
        if (!events.is_array()) wrong_type(events, el, "a list");
        for (std::size_t i = 0; i < events.size(); ++i) {
            const Loc at = el.at(i);
            const auto& e = events[i];
            object(e, at, {"at", "event", "twin", "data"}, {"at", "event", "twin"});
            InjectedEvent out;
            const Loc at_loc = at.key("at");
            // An absolute instant, or a duration after the start.
            if (e.at("at").is_string())
                if (auto t = parse_timestamp(e.at("at").get<std::string>()))
                    out.at = static_cast<double>(t->ns - s.start.ns) * 1e-9;
                else
                    out.at = duration(e.at("at"), at_loc);
            else
                out.at = duration(e.at("at"), at_loc);
            if (out.at < 0 || out.at > s.horizon) fail(at_loc, "the event falls outside the scenario's [start, start + horizon]");
            out.event = string(e.at("event"), at.key("event"));
            out.twin = string(e.at("twin"), at.key("twin"));
            if (e.contains("data")) {
                if (!e.at("data").is_object()) wrong_type(e.at("data"), at.key("data"), "a mapping");
                check_references(e.at("data"), at.key("data"), names);
                out.data = nlohmann::json::parse(e.at("data").dump());
            }
            s.events.push_back(std::move(out));
        }
    }
    // `models:` is the older name of `behaviours:` (a "model" is a DTDL
    // interface): still read, and messages then name the section as written.
    if (j.contains("models") && j.contains("behaviours")) {
        const std::uint32_t at = line_of(root.key("behaviours"));
        fail(root.key("models"), "'models' is the older name of 'behaviours', which this file already has" +
                                     (at > 0 ? " (line " + std::to_string(at) + ")" : std::string()) +
                                     ": keep one of the two sections");
    }
    if (j.contains("models")) s.source.behaviours_section = "models";
    if (j.contains(s.source.behaviours_section)) {
        const Loc ml = root.key(s.source.behaviours_section);
        const auto& models = j.at(s.source.behaviours_section);
        if (!models.is_array()) wrong_type(models, ml, "a list");
        for (std::size_t i = 0; i < models.size(); ++i) {
            const Loc at = ml.at(i);
            object(models[i], at, {"model", "where", "parameters"}, {"model"});
            ModelBindingSpec b;
            b.model = string(models[i].at("model"), at.key("model"));
            if (models[i].contains("where")) b.where = expression(models[i].at("where"), at.key("where"));
            if (models[i].contains("parameters")) {
                const auto& p = models[i].at("parameters");
                if (!p.is_object()) wrong_type(p, at.key("parameters"), "a mapping from parameter name to value");
                check_references(p, at.key("parameters"), names);
                b.parameters = nlohmann::json::parse(p.dump());
            }
            s.models.push_back(std::move(b));
        }
    }
    if (j.contains("calibration")) calibration(j.at("calibration"), root.key("calibration"), s);
    if (j.contains("recording")) s.recording = recording(j.at("recording"), root.key("recording"));
    if (j.contains("replay")) s.replay = replay(j.at("replay"), root.key("replay"));
    if (j.contains("kpis")) {
        const Loc kl = root.key("kpis");
        const auto& kpis = j.at("kpis");
        if (!kpis.is_array()) wrong_type(kpis, kl, "a list");
        std::set<std::string> kpi_names;
        for (std::size_t i = 0; i < kpis.size(); ++i) {
            s.kpis.push_back(kpi(kpis[i], kl.at(i)));
            if (!kpi_names.insert(s.kpis.back().name).second)
                fail(kl.at(i).key("name"), "a KPI named " + in_quotes(s.kpis.back().name) + " already exists");
        }
    }
    return s;
}

void check_document_size(std::size_t bytes, const std::string& source) {
    if (bytes > limits::max_document_bytes)
        throw ScenarioError(source, 0, "", "the document has " + std::to_string(bytes) + " bytes, more than the limit of " +
                                               std::to_string(limits::max_document_bytes) + " (16 MiB, max_document_bytes)");
}

std::string read_text(const std::filesystem::path& path) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec) check_document_size(static_cast<std::size_t>(size), path.string());  // before reading it
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot open scenario file '" + path.string() + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw IoError("cannot read scenario file '" + path.string() + "'");
    return ss.str();
}

}  // namespace

ScenarioSpec scenario_from_yaml(std::string_view text, std::string source, const ScenarioReadOptions& options) {
    check_document_size(text.size(), source);
    auto doc = detail::parse_yaml_document(text, source);
    auto s = Decoder(&doc.lines, source, options).spec(doc.json);
    s.source.file = std::move(source);
    s.source.lines = std::make_shared<const std::map<std::string, std::uint32_t>>(doc.lines.begin(), doc.lines.end());
    check_limits(s);
    return s;
}

ScenarioSpec scenario_from_json_text(std::string_view text, std::string source, const ScenarioReadOptions& options) {
    check_document_size(text.size(), source);
    auto doc = detail::parse_json_document(text, source);
    auto s = Decoder(&doc.lines, source, options).spec(doc.json);
    s.source.file = std::move(source);
    s.source.lines = std::make_shared<const std::map<std::string, std::uint32_t>>(doc.lines.begin(), doc.lines.end());
    check_limits(s);
    return s;
}

ScenarioSpec from_json(const nlohmann::ordered_json& document) {
    auto s = Decoder(nullptr, "").spec(document);
    check_limits(s);
    return s;
}

std::uint64_t design_points(const ScenarioSpec& spec) noexcept {
    if (!spec.sweep) return 1;
    switch (spec.sweep->kind) {
        case SweepSpec::Kind::list: return spec.sweep->list.size();
        case SweepSpec::Kind::latin_hypercube: return spec.sweep->samples;
        case SweepSpec::Kind::grid: break;
    }
    std::uint64_t n = 1;
    for (const auto& [name, values] : spec.sweep->grid)
        n = std::min<std::uint64_t>(n * std::min<std::uint64_t>(values.size(), UINT32_MAX), UINT64_MAX / UINT32_MAX);
    return n;
}

void check_limits(const ScenarioSpec& spec) {
    auto fail = [&](const std::string& pointer, std::string field, std::string reason) {
        throw spec_error(spec, pointer, std::move(field), std::move(reason));
    };
    auto number = [](double x) {
        std::ostringstream out;
        out << x;
        return out.str();
    };
    if (spec.replications < 1 || spec.replications > limits::max_replications)
        fail("/replications", "replications",
             "must be a whole number between 1 and " + std::to_string(limits::max_replications) +
                 " (the limit on replications)");
    const std::uint64_t points = design_points(spec);
    if (points > limits::max_sweep_points)
        fail("/sweep", "sweep", "the sweep has " + std::to_string(points) + " design points, more than " +
                                    std::to_string(limits::max_sweep_points) + " (the limit on design points)");
    if (points * spec.replications > limits::max_runs)
        fail("/replications", "replications",
             std::to_string(points) + " design points x " + std::to_string(spec.replications) + " replications = " +
                 std::to_string(points * spec.replications) + " runs, more than " + std::to_string(limits::max_runs) +
                 " (the limit on runs per scenario)");
    if (!(spec.horizon > 0) || !std::isfinite(spec.horizon)) fail("/horizon", "horizon", "must be a positive duration");
    if (!(spec.step > 0) || !std::isfinite(spec.step)) fail("/step", "step", "must be a positive duration");
    if (const double steps = spec.horizon / spec.step; !(steps <= limits::max_steps))
        fail("/step", "step",
             "horizon / step = " + number(steps) + " steps per run, more than " + number(limits::max_steps) +
                 " (the limit on steps per run): use a longer step or a shorter horizon");
    for (std::size_t i = 0; i < spec.recording.series.size(); ++i) {
        const auto& interval = spec.recording.series[i].interval;
        if (!interval) continue;
        if (const double samples = spec.horizon / *interval + 1; !(samples <= limits::max_samples))
            fail("/recording/series/" + std::to_string(i) + "/interval",
                 "recording.series[" + std::to_string(i) + "].interval",
                 "horizon / interval = " + number(samples - 1) + " samples per run, more than " +
                     number(limits::max_samples) + " (the limit on samples of a series): use a longer interval");
    }
}

ScenarioSpec scenario_from_yaml(std::string_view text, std::string source) {
    return scenario_from_yaml(text, std::move(source), ScenarioReadOptions{});
}

ScenarioSpec scenario_from_json_text(std::string_view text, std::string source) {
    return scenario_from_json_text(text, std::move(source), ScenarioReadOptions{});
}

ScenarioSpec read_scenario_file(const std::filesystem::path& path) { return read_scenario_file(path, ScenarioReadOptions{}); }

ScenarioSpec read_scenario_file(const std::filesystem::path& path, const ScenarioReadOptions& options) {
    const auto text = read_text(path);
    auto ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".json") return scenario_from_json_text(text, path.string(), options);
    if (ext == ".yaml" || ext == ".yml") return scenario_from_yaml(text, path.string(), options);
    throw ScenarioError(path.string(), 0, "", "unknown scenario file type (expected .yaml, .yml or .json)");
}

std::uint32_t SpecSource::line_of(std::string pointer) const {
    if (!lines) return 0;
    for (;;) {
        if (auto it = lines->find(pointer); it != lines->end()) return it->second;
        if (pointer.empty()) return 0;
        pointer.erase(pointer.rfind('/'));
    }
}

ScenarioError spec_error(const ScenarioSpec& spec, const std::string& pointer, std::string field, std::string reason) {
    return ScenarioError(spec.source.file, spec.source.line_of(pointer), std::move(field), std::move(reason));
}

void validate(const ScenarioSpec& spec) { (void)from_json(to_json(spec)); }

nlohmann::ordered_json to_json(const ScenarioSpec& s) {
    Json j;
    j["name"] = s.name;
    j["description"] = s.description;
    j["base"] = s.base;
    j["base_models"] = s.base_models;
    j["start"] = format_timestamp(s.start, TimestampPrecision::nanoseconds);
    j["horizon"] = s.horizon;
    j["step"] = s.step;
    j["replications"] = s.replications;
    j["seed"] = s.seed;
    auto params = Json::object();
    for (const auto& p : s.parameters) {
        if (p.distribution) {
            Json d;
            d["distribution"] = std::string(to_string(p.distribution->kind));
            const auto& names = param_names(p.distribution->kind);
            for (std::size_t i = 0; i < names.size() && i < p.distribution->params.size(); ++i)
                d[names[i]] = p.distribution->params[i];
            if (p.distribution->kind == Kind::empirical) {
                d["values"] = p.distribution->values;
                if (!p.distribution->weights.empty()) d["weights"] = p.distribution->weights;
            }
            params[p.name] = std::move(d);
        } else {
            params[p.name] = p.value ? Json::parse(p.value->dump()) : Json();
        }
    }
    j["parameters"] = std::move(params);
    auto overrides = Json::array();
    for (const auto& o : s.overrides) {
        Json x;
        x["set"] = Json::parse(o.set.dump());
        if (!o.where.empty()) x["where"] = o.where;
        overrides.push_back(std::move(x));
    }
    j["overrides"] = std::move(overrides);
    auto edits = Json::array();
    for (const auto& e : s.edits) {
        Json x;
        switch (e.kind) {
            case StructuralEdit::Kind::add_twin: x["add_twin"] = Json::parse(e.body.dump()); break;
            case StructuralEdit::Kind::add_relationship: x["add_relationship"] = Json::parse(e.body.dump()); break;
            case StructuralEdit::Kind::remove_twin: x["remove_twin"] = e.twin_id; break;
            case StructuralEdit::Kind::remove_relationship:
                x["remove_relationship"] = Json{{"source", e.twin_id}, {"id", e.relationship_id}};
                break;
        }
        edits.push_back(std::move(x));
    }
    j["edits"] = std::move(edits);
    auto events = Json::array();
    for (const auto& e : s.events)
        events.push_back(Json{{"at", e.at}, {"event", e.event}, {"twin", e.twin}, {"data", Json::parse(e.data.dump())}});
    j["events"] = std::move(events);
    auto models = Json::array();
    for (const auto& m : s.models) {
        Json x;
        x["model"] = m.model;
        if (!m.where.empty()) x["where"] = m.where;
        x["parameters"] = Json::parse(m.parameters.dump());
        models.push_back(std::move(x));
    }
    j["behaviours"] = std::move(models);
    if (s.sweep) {
        Json sw;
        switch (s.sweep->kind) {
            case SweepSpec::Kind::grid: {
                auto g = Json::object();
                for (const auto& [name, values] : s.sweep->grid) g[name] = Json::parse(nlohmann::json(values).dump());
                sw["grid"] = std::move(g);
                break;
            }
            case SweepSpec::Kind::list: {
                auto l = Json::array();
                for (const auto& point : s.sweep->list) {
                    auto p = Json::object();
                    for (const auto& [name, value] : point) p[name] = Json::parse(value.dump());
                    l.push_back(std::move(p));
                }
                sw["list"] = std::move(l);
                break;
            }
            case SweepSpec::Kind::latin_hypercube: {
                Json h;
                h["samples"] = s.sweep->samples;
                auto r = Json::object();
                for (const auto& range : s.sweep->ranges) r[range.name] = Json::array({range.low, range.high});
                h["ranges"] = std::move(r);
                if (s.sweep->seed) h["seed"] = *s.sweep->seed;
                sw["latin_hypercube"] = std::move(h);
                break;
            }
        }
        j["sweep"] = std::move(sw);
    }
    Json rec;
    auto series = Json::array();
    for (const auto& r : s.recording.series) {
        Json x;
        if (!r.where.empty()) x["where"] = r.where;
        x["properties"] = r.properties;
        if (r.interval) x["interval"] = *r.interval;
        x["on_change"] = r.on_change;
        series.push_back(std::move(x));
    }
    rec["series"] = std::move(series);
    rec["events"] = s.recording.events;
    j["recording"] = std::move(rec);
    auto kpis = Json::array();
    for (const auto& k : s.kpis) {
        Json x;
        x["name"] = k.name;
        x["statistic"] = name_of(k.statistic, statistics);
        if (!k.where.empty()) x["where"] = k.where;
        if (!k.property.empty()) x["property"] = k.property;
        if (k.threshold) x["threshold"] = *k.threshold;
        if (!k.event.empty()) x["event"] = k.event;
        x["over"] = name_of(k.over, overs);
        auto across = Json::array();
        for (auto a : k.across) across.push_back(name_of(a, acrosses));
        x["across"] = std::move(across);
        kpis.push_back(std::move(x));
    }
    j["kpis"] = std::move(kpis);
    if (s.replay) {
        const ReplaySpec& r = *s.replay;
        Json x;
        if (!r.source.empty()) x["source"] = r.source;
        x["interpolation"] = name_of(r.interpolation, interpolations);
        if (std::isfinite(r.gaps.max_gap)) x["max_gap"] = r.gaps.max_gap;
        x["on_gap"] = name_of(r.gaps.action, gap_actions);
        x["compare"] = r.compare;
        auto inputs = Json::array();
        for (const ReplayInput& in : r.inputs) {
            Json e;
            if (!in.twin.empty()) e["twin"] = in.twin;
            if (!in.where.empty()) e["where"] = in.where;
            e["property"] = in.property;
            Json to = Json::object();
            if (!in.to_twin.empty()) to["twin"] = in.to_twin;
            if (!in.to_property.empty()) to["property"] = in.to_property;
            if (!in.to_behaviour.empty()) to["behaviour"] = in.to_behaviour, to["parameter"] = in.to_parameter;
            if (!to.empty()) e["to"] = std::move(to);
            if (in.interpolation) e["interpolation"] = name_of(*in.interpolation, interpolations);
            if (in.max_gap && std::isfinite(*in.max_gap)) e["max_gap"] = *in.max_gap;
            if (in.on_gap) e["on_gap"] = name_of(*in.on_gap, gap_actions);
            inputs.push_back(std::move(e));
        }
        x["inputs"] = std::move(inputs);
        j["replay"] = std::move(x);
    }
    return j;
}

}  // namespace twinsim::scenario
