// Checking JSON values against DTDL schemas. The textual formats (RFC 3339
// date/time, ISO 8601 duration) are checked by common/time.hpp, which says
// exactly which part is wrong.

#include "twinsim/dtdl/value_validation.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "twinsim/common/assert.hpp"
#include "twinsim/common/json_pointer.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::dtdl {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------- describing

// A short rendering of what was found, for messages: `string "abc"`, `number 2.5`.
std::string describe(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return v.get<bool>() ? "boolean true" : "boolean false";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float: return "number " + v.dump();
        case json::value_t::string: {
            // Long strings are cut (on a UTF-8 boundary) so a message stays one line.
            constexpr std::size_t max_bytes = 60;
            const auto& s = v.get_ref<const std::string&>();
            if (s.size() <= max_bytes) return "string " + json(s).dump(-1, ' ', false, json::error_handler_t::replace);
            std::size_t cut = max_bytes;
            while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U) --cut;
            return "string " + json(s.substr(0, cut)).dump(-1, ' ', false, json::error_handler_t::replace) +
                   " (cut, " + std::to_string(s.size()) + " bytes)";
        }
        case json::value_t::object: return "an object";
        case json::value_t::array: return "an array of " + std::to_string(v.size()) + " elements";
        case json::value_t::binary: return "binary data";
        case json::value_t::discarded: return "a discarded value";
    }
    return "an unknown value";
}

// ---------------------------------------------------------------- text formats
//
// Each checker returns nullopt when the text conforms, else why it does not;
// the grammars live in common/time.hpp, shared with the graph and scenarios.

using Why = std::optional<std::string>;

Why check_duration(std::string_view s) {
    std::string why;
    if (parse_iso_duration(s, &why)) return std::nullopt;
    return why;
}

// ---------------------------------------------------------------- numbers

// The value of an integral JSON number, if it is one and fits in int64.
// `why` says what is wrong otherwise.
std::optional<std::int64_t> integral_value(const json& v, std::string& why) {
    switch (v.type()) {
        case json::value_t::number_integer: return v.get<std::int64_t>();
        case json::value_t::number_unsigned: {
            const auto u = v.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                why = "out of the 64-bit range";
                return std::nullopt;
            }
            return static_cast<std::int64_t>(u);
        }
        case json::value_t::number_float: {
            // JSON does not tell 2 from 2.0; an integral value is an integer.
            const double d = v.get<double>();
            if (!std::isfinite(d)) {
                why = "not a finite number";
                return std::nullopt;
            }
            if (std::trunc(d) != d) {
                why = "not integral";
                return std::nullopt;
            }
            if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
                why = "out of the 64-bit range";
                return std::nullopt;
            }
            return static_cast<std::int64_t>(d);
        }
        default: why = "not a number"; return std::nullopt;
    }
}

// ---------------------------------------------------------------- the checker

class Checker {
public:
    explicit Checker(std::vector<ValueError>& out) : out_(out) {}

    void check(const Schema& schema, const json& v) {
        switch (schema.kind) {
            case SchemaKind::boolean:
                if (!v.is_boolean()) fail("expected a boolean", v);
                return;
            case SchemaKind::integer: return check_integer(v, 32);
            case SchemaKind::long_: return check_integer(v, 64);
            case SchemaKind::double_:
            case SchemaKind::float_: return check_real(v, schema.kind == SchemaKind::float_);
            case SchemaKind::string:
                if (!v.is_string()) fail("expected a string", v);
                return;
            case SchemaKind::date: return check_text(v, "a date (RFC 3339 full-date, YYYY-MM-DD)", rfc3339_date_error);
            case SchemaKind::time:
                return check_text(v, "a time (RFC 3339, hh:mm:ss[.fff][Z|+hh:mm])", rfc3339_time_error);
            case SchemaKind::date_time:
                return check_text(v, "a dateTime (RFC 3339, YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm))", rfc3339_date_time_error);
            case SchemaKind::duration:
                return check_text(v, "a duration (ISO 8601, PnYnMnDTnHnMnS or PnW)", check_duration);
            case SchemaKind::point:
            case SchemaKind::multi_point:
            case SchemaKind::line_string:
            case SchemaKind::multi_line_string:
            case SchemaKind::polygon:
            case SchemaKind::multi_polygon: return check_geo(schema.kind, v);
            case SchemaKind::enum_: return check_enum(schema, v);
            case SchemaKind::object: return check_object(schema, v);
            case SchemaKind::map: return check_map(schema, v);
            case SchemaKind::array: return check_array(schema, v);
        }
    }

private:
    // --- paths: the current JSON Pointer grows and shrinks with the recursion.
    class Segment {
    public:
        Segment(std::string& path, std::string_view token) : path_(path), size_(path.size()) {
            append_pointer_token(path_, token);
        }
        Segment(std::string& path, std::size_t index) : Segment(path, std::to_string(index)) {}
        Segment(const Segment&) = delete;
        Segment& operator=(const Segment&) = delete;
        ~Segment() { path_.resize(size_); }

    private:
        std::string& path_;
        std::size_t size_;
    };

    void fail(std::string message) { out_.push_back(ValueError{path_, std::move(message)}); }
    void fail(std::string_view expected, const json& found) {
        fail(std::string(expected) + ", found " + describe(found));
    }

    void check_sub(const SchemaPtr& schema, const json& v, const char* what) {
        // The parser never leaves a nested schema empty; if a hand-built one
        // does, say so instead of dereferencing null.
        if (!schema) return fail(std::string("the schema has no ") + what + " schema to check this value against");
        check(*schema, v);
    }

    void check_integer(const json& v, int bits) {
        const char* expected = bits == 32 ? "expected an integer (32-bit signed, -2147483648 to 2147483647)"
                                          : "expected a long (64-bit signed integer)";
        if (!v.is_number()) return fail(expected, v);
        std::string why;
        const auto value = integral_value(v, why);
        if (!value) return fail(std::string(expected) + ", found number " + v.dump() + ", " + why);
        if (bits == 32 && (*value < std::numeric_limits<std::int32_t>::min() ||
                           *value > std::numeric_limits<std::int32_t>::max()))
            fail(std::string(expected) + ", found number " + v.dump() + ", out of the 32-bit range");
    }

    void check_real(const json& v, bool single) {
        const char* expected = single ? "expected a float (finite, within +-3.4028235e38)" : "expected a double (finite)";
        if (!v.is_number()) return fail(expected, v);
        if (!v.is_number_float()) return;  // every JSON integer is within float's range
        const double d = v.get<double>();
        if (!std::isfinite(d)) return fail(expected, v);
        if (single && std::fabs(d) > 3.4028235e38) fail(std::string(expected) + ", found number " + v.dump() + ", out of range");
    }

    void check_text(const json& v, std::string_view what, Why (*scan)(std::string_view)) {
        const std::string expected = "expected " + std::string(what);
        if (!v.is_string()) return fail(expected, v);
        if (auto why = scan(v.get_ref<const std::string&>())) fail(expected + ", found " + describe(v) + ": " + *why);
    }

    void check_enum(const Schema& schema, const json& v) {
        const bool by_string = schema.enum_value_schema == SchemaKind::string;
        bool found = false;
        if (by_string) {
            if (!v.is_string()) return fail("expected a string Enum value", v);
            const auto& s = v.get_ref<const std::string&>();
            for (const auto& ev : schema.enum_values) found = found || ev.string_value == s;
        } else {
            std::string why;
            const auto value = v.is_number() ? integral_value(v, why) : std::nullopt;
            if (!value) return fail("expected an integer Enum value", v);
            for (const auto& ev : schema.enum_values) found = found || ev.int_value == *value;
        }
        if (found) return;
        // List what is allowed; a long enum is cut so the message stays readable.
        constexpr std::size_t max_listed = 12;
        std::string allowed;
        for (std::size_t k = 0; k < schema.enum_values.size() && k < max_listed; ++k) {
            const auto& ev = schema.enum_values[k];
            if (k != 0) allowed += ", ";
            allowed += by_string ? json(ev.string_value).dump(-1, ' ', false, json::error_handler_t::replace)
                                 : std::to_string(ev.int_value);
            allowed += " (" + ev.name + ")";
        }
        if (schema.enum_values.size() > max_listed)
            allowed += ", ... (" + std::to_string(schema.enum_values.size()) + " values in all)";
        if (schema.enum_values.empty()) allowed = "(the Enum has no values)";
        fail("expected one of the Enum values " + allowed, v);
    }

    void check_object(const Schema& schema, const json& v) {
        if (!v.is_object()) return fail("expected an object (Object schema)", v);
        for (const auto& [key, member] : v.items()) {
            const Field* field = nullptr;
            for (const auto& f : schema.fields)
                if (f.name == key) field = &f;
            Segment seg(path_, key);
            if (field == nullptr) {
                std::string declared;
                for (const auto& f : schema.fields) declared += (declared.empty() ? "" : ", ") + f.name;
                fail("unknown field '" + key + "'; the Object declares " +
                     (declared.empty() ? std::string("no fields") : declared));
                continue;
            }
            check_sub(field->schema, member, "field");
        }
    }

    void check_map(const Schema& schema, const json& v) {
        // JSON object keys are always strings, which is all DTDL asks of map keys.
        if (!v.is_object()) return fail("expected an object (Map schema)", v);
        for (const auto& [key, member] : v.items()) {
            Segment seg(path_, key);
            check_sub(schema.map_value_schema, member, "map value");
        }
    }

    void check_array(const Schema& schema, const json& v) {
        if (!v.is_array()) return fail("expected an array (Array schema)", v);
        for (std::size_t k = 0; k < v.size(); ++k) {
            Segment seg(path_, k);
            check_sub(schema.element_schema, v[k], "element");
        }
    }

    // --- GeoJSON (RFC 7946). Members other than "type" and "coordinates"
    // (bbox, foreign members) are allowed, as the RFC allows them.

    // position = [x, y] or [x, y, z], finite numbers
    bool check_position(const json& v) {
        const char* expected = "expected a position (an array of 2 or 3 numbers)";
        if (!v.is_array() || v.size() < 2 || v.size() > 3) {
            fail(expected, v);
            return false;
        }
        bool ok = true;
        for (std::size_t k = 0; k < v.size(); ++k) {
            if (v[k].is_number() && (!v[k].is_number_float() || std::isfinite(v[k].get<double>()))) continue;
            Segment seg(path_, k);
            fail("expected a finite number (coordinate)", v[k]);
            ok = false;
        }
        return ok;
    }

    // An array of at least `min` positions.
    bool check_positions(const json& v, std::size_t min, const char* what) {
        if (!v.is_array()) {
            fail(std::string("expected ") + what + " (an array of positions)", v);
            return false;
        }
        bool ok = true;
        for (std::size_t k = 0; k < v.size(); ++k) {
            Segment seg(path_, k);
            ok = check_position(v[k]) && ok;
        }
        if (v.size() < min) {
            fail(std::string("expected ") + what + " of at least " + std::to_string(min) + " positions, found " +
                 std::to_string(v.size()));
            ok = false;
        }
        return ok;
    }

    void check_ring(const json& v) {
        if (check_positions(v, 4, "a linear ring") && v.front() != v.back())
            fail("a linear ring must be closed: its last position " + v.back().dump() + " differs from its first " +
                 v.front().dump());
    }

    void check_polygon(const json& v) {
        if (!v.is_array() || v.empty()) return fail("expected polygon coordinates (a non-empty array of linear rings)", v);
        for (std::size_t k = 0; k < v.size(); ++k) {
            Segment seg(path_, k);
            check_ring(v[k]);
        }
    }

    // Elements of a Multi* geometry's coordinates, each checked by `one`.
    template <class One>
    void check_each(const json& v, const char* what, One one) {
        if (!v.is_array()) return fail(std::string("expected ") + what, v);
        for (std::size_t k = 0; k < v.size(); ++k) {
            Segment seg(path_, k);
            one(v[k]);
        }
    }

    void check_geo(SchemaKind kind, const json& v) {
        const char* type = "Point";
        switch (kind) {
            case SchemaKind::multi_point: type = "MultiPoint"; break;
            case SchemaKind::line_string: type = "LineString"; break;
            case SchemaKind::multi_line_string: type = "MultiLineString"; break;
            case SchemaKind::polygon: type = "Polygon"; break;
            case SchemaKind::multi_polygon: type = "MultiPolygon"; break;
            default: TWINSIM_ASSERT(kind == SchemaKind::point, "check_geo is called for geospatial schemas only");
        }
        if (!v.is_object()) return fail(std::string("expected a GeoJSON ") + type + " object", v);
        // Looked up in the object itself: GCC's -Wnull-dereference cannot see
        // through nlohmann's iterator here.
        const auto& members = v.get_ref<const json::object_t&>();
        const auto t = members.find("type");
        if (t == members.end()) {
            fail(std::string("missing member \"type\" (expected \"") + type + "\")");
        } else if (!t->second.is_string() || t->second.get_ref<const std::string&>() != type) {
            Segment seg(path_, "type");
            fail(std::string("expected \"") + type + "\"", t->second);
        }
        const auto c = v.find("coordinates");
        if (c == v.end()) return fail("missing member \"coordinates\"");
        Segment seg(path_, "coordinates");
        const json& coords = *c;
        switch (kind) {
            case SchemaKind::point: check_position(coords); break;
            case SchemaKind::multi_point: check_positions(coords, 0, "MultiPoint coordinates"); break;
            case SchemaKind::line_string: check_positions(coords, 2, "a LineString"); break;
            case SchemaKind::multi_line_string:
                check_each(coords, "MultiLineString coordinates (an array of LineStrings)",
                           [&](const json& e) { check_positions(e, 2, "a LineString"); });
                break;
            case SchemaKind::polygon: check_polygon(coords); break;
            case SchemaKind::multi_polygon:
                check_each(coords, "MultiPolygon coordinates (an array of Polygons)",
                           [&](const json& e) { check_polygon(e); });
                break;
            default: break;
        }
    }

    std::vector<ValueError>& out_;
    std::string path_;
};

}  // namespace

std::vector<ValueError> validate_value(const Schema& schema, const nlohmann::json& value) {
    std::vector<ValueError> errors;
    Checker(errors).check(schema, value);
    return errors;
}

bool string_conforms(const Schema& schema, std::string_view text) noexcept {
    try {
        switch (schema.kind) {
            case SchemaKind::string: return true;
            case SchemaKind::date: return !rfc3339_date_error(text);
            case SchemaKind::time: return !rfc3339_time_error(text);
            case SchemaKind::date_time: return !rfc3339_date_time_error(text);
            case SchemaKind::duration: return parse_iso_duration(text, nullptr).has_value();
            case SchemaKind::enum_:
                if (schema.enum_value_schema != SchemaKind::string) return false;
                for (const auto& ev : schema.enum_values)
                    if (ev.string_value == text) return true;
                return false;
            default: return false;  // not a string schema: validate_value says so
        }
    } catch (...) {
        return false;  // a checker that ran out of memory: validate_value decides
    }
}

}  // namespace twinsim::dtdl
