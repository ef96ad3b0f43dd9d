// Ingestion: rows -> property writes -> JSON Patches -> one batch on the graph.

#include "twinsim/live/ingest/ingest.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <fstream>
#include <limits>
#include <sstream>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/common/units.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/ingest/readers.hpp"
#include "twinsim/query/expression.hpp"

namespace twinsim::live::ingest {
namespace {

using json = nlohmann::json;
using graph::TwinIndex;

/// A bad row found while resolving: which field, why.
struct RowError {
    std::string field;
    std::string reason;
};

/// One property update of one twin.
struct Write {
    TwinIndex twin = graph::no_index;
    const PropertyTarget* target = nullptr;  ///< in Call::targets (whose nodes outlive the call's writes)
    json value;
    std::optional<Timestamp> time;
    std::string field;  ///< where it came from (message field, CSV column)
};

/// A row that resolved into writes.
struct Pending {
    std::string source;
    std::size_t line = 0;
    json record;
    std::vector<Write> writes;
    std::string message_id;  ///< "" when none
    std::vector<graph::TwinPatch> patches;
};

std::string kind_name(const json& v) {
    switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a text";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
    }
}

std::string trimmed(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

bool is_numeric(dtdl::SchemaKind k) {
    return k == dtdl::SchemaKind::double_ || k == dtdl::SchemaKind::float_ || k == dtdl::SchemaKind::integer ||
           k == dtdl::SchemaKind::long_;
}
bool is_integral(dtdl::SchemaKind k) { return k == dtdl::SchemaKind::integer || k == dtdl::SchemaKind::long_; }

/// `raw` (a JSON value, or a CSV text) as a value of `schema`, converted from
/// `from_unit` to `to_unit`. nullopt and `why` when it does not fit.
std::optional<json> convert_value(const json& raw, const dtdl::Schema& schema, const std::string& from_unit,
                                  const std::string& to_unit, std::string& why) {
    dtdl::SchemaKind kind = schema.kind;
    if (kind == dtdl::SchemaKind::enum_) kind = schema.enum_value_schema;
    json value;
    if (is_numeric(kind)) {
        double v = 0;
        if (raw.is_number()) {
            v = raw.get<double>();
        } else if (raw.is_string()) {
            const std::string text = trimmed(raw.get_ref<const std::string&>());
            const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (text.empty() || ec != std::errc{} || p != text.data() + text.size()) {
                why = "expected a number, found \"" + text.substr(0, 40) + "\"";
                return std::nullopt;
            }
        } else {
            why = "expected a number, found " + kind_name(raw);
            return std::nullopt;
        }
        if (!std::isfinite(v)) {
            why = "expected a finite number";
            return std::nullopt;
        }
        if (!from_unit.empty() && from_unit != to_unit) {
            if (to_unit.empty()) {
                why = "the property declares no unit to convert '" + from_unit + "' to";
                return std::nullopt;
            }
            const auto converted = convert_unit(v, from_unit, to_unit);
            if (!converted) {
                why = "'" + from_unit + "' does not convert to the property's unit '" + to_unit + "'";
                return std::nullopt;
            }
            v = *converted;
        }
        if (is_integral(kind)) {
            if (v != std::floor(v) || std::fabs(v) > 9.0e15) {
                why = "expected a whole number, found " + json(v).dump();
                return std::nullopt;
            }
            value = static_cast<std::int64_t>(v);
        } else {
            value = v;
        }
    } else {
        if (!from_unit.empty()) {
            why = "a unit ('" + from_unit + "') was given for a value that is not a number";
            return std::nullopt;
        }
        if (kind == dtdl::SchemaKind::boolean) {
            if (raw.is_boolean()) {
                value = raw;
            } else if (raw.is_string()) {
                std::string text = trimmed(raw.get_ref<const std::string&>());
                std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
                if (text == "true") value = true;
                else if (text == "false") value = false;
                else {
                    why = "expected true or false, found \"" + text.substr(0, 40) + "\"";
                    return std::nullopt;
                }
            } else {
                why = "expected a boolean, found " + kind_name(raw);
                return std::nullopt;
            }
        } else if (dtdl::is_primitive(kind)) {
            if (!raw.is_string()) {
                why = "expected a text, found " + kind_name(raw);
                return std::nullopt;
            }
            value = raw;
        } else if (raw.is_string()) {
            // An Object, Map, Array or geospatial value given as JSON text (a CSV cell).
            value = json::parse(raw.get_ref<const std::string&>(), nullptr, false);
            if (value.is_discarded()) {
                why = std::string("expected a JSON value for a ") + dtdl::to_string(schema.kind) + " property";
                return std::nullopt;
            }
        } else {
            value = raw;
        }
    }
    const std::vector<dtdl::ValueError> errors = dtdl::validate_value(schema, value);
    if (!errors.empty()) {
        why = errors.front().path.empty() ? errors.front().message : errors.front().path + ": " + errors.front().message;
        return std::nullopt;
    }
    return value;
}

/// A member of a message by name, or by a dotted path into nested objects.
const json* field_of(const json& message, const std::string& name) {
    if (!message.is_object()) return nullptr;
    if (const auto it = message.find(name); it != message.end()) return it->is_null() ? nullptr : &*it;
    const json* at = &message;
    std::size_t start = 0;
    while (true) {
        const auto dot = name.find('.', start);
        const std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!at->is_object()) return nullptr;
        const auto it = at->find(part);
        if (it == at->end() || it->is_null()) return nullptr;
        at = &*it;
        if (dot == std::string::npos) return at;
        start = dot + 1;
    }
}

std::string quote_literal(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace

std::string BadRow::to_string() const {
    std::string out = source;
    if (line != 0) out += ":" + std::to_string(line);
    out += ": ";
    if (!field.empty()) out += field + ": ";
    return out + reason;
}

struct Ingestor::Impl {
    graph::TwinGraph& graph;
    const Mapping* mapping;
    IngestOptions options;
    std::deque<std::string> window_order;
    std::unordered_set<std::string> window;

    // --- per call -----------------------------------------------------------------
    struct Call {
        graph::Snapshot snapshot;
        std::vector<Pending> pending;
        std::vector<BadRow> bad;
        std::size_t rows = 0;
        std::size_t duplicates = 0;
        std::unordered_set<std::string> ids;  // message ids accepted in this call
        std::map<std::pair<dtdl::InterfaceIndex, std::string>, std::pair<std::optional<PropertyTarget>, std::string>> targets;
        std::unordered_map<std::string, std::vector<TwinIndex>> where_results;
        std::vector<TopicSegment> segments;  // scratch for matching a message's topic
    };

    Impl(graph::TwinGraph& g, const Mapping* m, IngestOptions o) : graph(g), mapping(m), options(std::move(o)) {}

    // Read for every row: references, not copies.
    const std::string default_time_field = "time";
    const std::string default_id_field = "id";
    const std::string& time_field() const { return mapping ? mapping->time_field : default_time_field; }
    const std::string& id_field() const { return mapping ? mapping->id_field : default_id_field; }

    void bad(Call& call, const std::string& source, std::size_t line, const json& record, std::string field,
             std::string reason) {
        call.bad.push_back(BadRow{source, line, std::move(field), std::move(reason), record});
    }

    /// The property target of `path` on `twin`'s model (cached per model).
    const PropertyTarget* target_of(Call& call, TwinIndex twin, const std::string& path, std::string& why) {
        const dtdl::InterfaceIndex model = call.snapshot.twin_model(twin);
        auto [it, inserted] = call.targets.try_emplace({model, path});
        if (inserted) {
            PropertyTarget t;
            std::string reason;
            if (resolve_property(*call.snapshot.models(), model, path, t, reason)) it->second.first = t;
            else it->second.second = reason;
        }
        if (!it->second.first) {
            why = "twin '" + call.snapshot.twin_id(twin) + "': " + it->second.second;
            return nullptr;
        }
        return &*it->second.first;
    }

    /// Adds the write of `raw` to `path` of `twin`, or returns the reason it cannot be.
    std::optional<std::string> add_write(Call& call, Pending& p, TwinIndex twin, const std::string& path,
                                         const json& raw, const std::string& unit, const std::string& field) {
        std::string why;
        const PropertyTarget* target = target_of(call, twin, path, why);
        if (target == nullptr) return why;
        auto value = convert_value(raw, *target->schema, unit, target->unit, why);
        if (!value) return "twin '" + call.snapshot.twin_id(twin) + "', property '" + path + "': " + why;
        p.writes.push_back(Write{twin, target, std::move(*value), std::nullopt, field});
        return std::nullopt;
    }

    /// The source time and message id every row may carry. False when bad.
    bool common_fields(Call& call, Pending& p, std::optional<Timestamp>& time) {
        if (const json* t = field_of(p.record, time_field())) {
            std::string why;
            if (!t->is_string()) {
                bad(call, p.source, p.line, p.record, time_field(), "expected an RFC 3339 date-time text, found " + kind_name(*t));
                return false;
            }
            time = parse_timestamp(t->get_ref<const std::string&>(), &why);
            if (!time) {
                bad(call, p.source, p.line, p.record, time_field(), "not an RFC 3339 date-time: " + why);
                return false;
            }
        }
        if (const json* id = field_of(p.record, id_field())) {
            if (id->is_string()) p.message_id = id->get<std::string>();
            else if (id->is_number_integer()) p.message_id = id->dump();
            else {
                bad(call, p.source, p.line, p.record, id_field(), "a message id must be a text or a whole number");
                return false;
            }
        }
        return true;
    }

    /// True when the row's message id was seen (in the window or earlier in this call).
    bool duplicate(Call& call, const Pending& p) {
        if (p.message_id.empty()) return false;
        return window.count(p.message_id) != 0 || call.ids.count(p.message_id) != 0 ||
               (options.remembered != nullptr && options.remembered->contains(p.message_id));
    }

    void accept(Call& call, Pending&& p, std::optional<Timestamp> time) {
        if (p.writes.empty()) return;
        for (Write& w : p.writes) w.time = time;
        if (!p.message_id.empty()) call.ids.insert(p.message_id);
        call.pending.push_back(std::move(p));
    }

    // --- messages --------------------------------------------------------------------

    /// `text` with each {field} replaced by the message's value (as `literal`
    /// would write it); nullopt and the error when a field is missing.
    std::optional<std::string> fill(const std::string& text, const json& message, bool literal, RowError& error,
                                    const std::string& mapping_name, const std::vector<TopicSegment>& segments) {
        std::string out;
        std::size_t i = 0;
        while (i < text.size()) {
            const auto open = text.find('{', i);
            if (open == std::string::npos) {
                out += text.substr(i);
                break;
            }
            out += text.substr(i, open - i);
            const auto close = text.find('}', open);
            const std::string name = text.substr(open + 1, close - open - 1);
            const auto segment = std::find_if(segments.begin(), segments.end(),
                                              [&](const TopicSegment& s) { return s.name == name; });
            if (segment != segments.end()) {
                out += literal ? quote_literal(segment->value) : segment->value;
                i = close + 1;
                continue;
            }
            const json* v = field_of(message, name);
            if (v == nullptr) {
                error = {name, "missing (mapping '" + mapping_name + "' names the twin with it)"};
                return std::nullopt;
            }
            if (v->is_string()) out += literal ? quote_literal(v->get<std::string>()) : v->get<std::string>();
            else if (v->is_number() || v->is_boolean()) out += v->dump();
            else {
                error = {name, "expected a text or a number to name the twin, found " + kind_name(*v)};
                return std::nullopt;
            }
            i = close + 1;
        }
        return out;
    }

    /// The twins a message mapping targets, or the error.
    std::optional<std::vector<TwinIndex>> targets_of(Call& call, const MessageMapping& m, const json& message,
                                                     RowError& error, const std::vector<TopicSegment>& segments) {
        const graph::Snapshot& snap = call.snapshot;
        const dtdl::ModelSet& models = *snap.models();
        std::optional<dtdl::InterfaceIndex> model;
        if (!m.model.empty()) model = models.find(m.model);
        std::vector<TwinIndex> named;
        const std::string id_field_name = m.id.empty() ? "" : [&] {
            const auto open = m.id.find('{');
            return open == std::string::npos ? std::string() : m.id.substr(open + 1, m.id.find('}', open) - open - 1);
        }();
        if (!m.id.empty()) {
            auto id = fill(m.id, message, false, error, m.name, segments);
            if (!id) return std::nullopt;
            std::string& s = *id;
            switch (m.transform) {
            case IdTransform::lower:
                std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
                break;
            case IdTransform::upper:
                std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
                break;
            case IdTransform::trim: s = trimmed(s); break;
            case IdTransform::none: break;
            }
            const auto twin = snap.find(s);
            if (!twin) {
                error = {id_field_name, "no twin '" + s + "' (mapping '" + m.name + "')"};
                return std::nullopt;
            }
            if (model && !models.is_a(snap.twin_model(*twin), *model)) {
                error = {id_field_name, "twin '" + s + "' is not a " + m.model + " (mapping '" + m.name + "')"};
                return std::nullopt;
            }
            named.push_back(*twin);
        } else {
            auto text = fill(m.where, message, true, error, m.name, segments);
            if (!text) return std::nullopt;
            auto [it, inserted] = call.where_results.try_emplace(*text);
            if (inserted) {
                query::CompiledExpression expr;
                try {
                    expr = query::compile_expression(*text);
                } catch (const Error& e) {
                    error = {"", "mapping '" + m.name + "': the twin filter " + *text + " is not valid: " + e.what()};
                    call.where_results.erase(it);
                    return std::nullopt;
                }
                query::Evaluator evaluator(expr, snap);
                for (TwinIndex t : snap.twins()) {
                    if (model && !models.is_a(snap.twin_model(t), *model)) continue;
                    const std::uint32_t row[1] = {t};
                    if (evaluator.matches(row)) it->second.push_back(t);
                }
            }
            if (it->second.empty()) {
                error = {"", "no twin matches " + *text + " (mapping '" + m.name + "')"};
                return std::nullopt;
            }
            named = it->second;
        }
        if (m.follow.empty()) return named;
        std::vector<TwinIndex> out;
        for (TwinIndex t : named) {
            for (graph::RelationshipIndex r : snap.out_relationships(t)) {
                if (snap.relationship_name(r) == m.follow) out.push_back(snap.target(r));
            }
        }
        if (out.empty()) {
            error = {id_field_name, "twin '" + snap.twin_id(named.front()) + "' has no '" + m.follow +
                                        "' relationship (mapping '" + m.name + "')"};
            return std::nullopt;
        }
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return out;
    }

    /// `topic` is null for a file row: mappings with a topic pattern skip it.
    void message(Call& call, const std::string& source, detail::Record&& record, const std::string* topic = nullptr) {
        ++call.rows;
        Pending p{source, record.line, std::move(record.fields), {}, {}, {}};
        if (!record.error.empty()) return bad(call, source, p.line, p.record, record.error_field, record.error);
        if (mapping == nullptr || mapping->messages.empty())
            return bad(call, source, p.line, p.record, "", "a message needs a mapping (give one with 'mappings')");
        std::optional<Timestamp> time;
        if (!common_fields(call, p, time)) return;
        if (duplicate(call, p)) {
            ++call.duplicates;
            return;
        }
        bool applies = false;
        std::vector<TopicSegment>& segments = call.segments;  // reused across the batch's messages
        for (const MessageMapping& m : mapping->messages) {
            segments.clear();
            if (!m.topic.empty() && (topic == nullptr || !match_topic(m.topic, *topic, segments))) continue;
            bool when = true;
            for (const auto& [key, value] : m.when) {
                const json* v = field_of(p.record, key);
                when = when && v != nullptr && *v == value;
            }
            if (!when) continue;
            const bool any = std::any_of(m.set.begin(), m.set.end(), [&](const FieldMapping& f) { return field_of(p.record, f.field) != nullptr; });
            if (!any) continue;
            applies = true;
            RowError error;
            const auto targets = targets_of(call, m, p.record, error, segments);
            if (!targets) return bad(call, source, p.line, p.record, error.field, error.reason);
            for (const FieldMapping& f : m.set) {
                const json* raw = field_of(p.record, f.field);
                if (raw == nullptr) continue;
                for (TwinIndex t : *targets) {
                    if (auto why = add_write(call, p, t, f.property, *raw, f.unit, f.field))
                        return bad(call, source, p.line, p.record, f.field, *why);
                }
            }
        }
        if (!applies) {
            std::string fields;
            for (const auto& [key, value] : p.record.items()) fields += (fields.empty() ? "" : ", ") + key;
            return bad(call, source, p.line, p.record, "", "no mapping applies to this message (fields: " + fields + ")");
        }
        accept(call, std::move(p), time);
    }

    // --- long and wide rows ------------------------------------------------------------

    void long_row(Call& call, const std::string& source, detail::Record&& record) {
        ++call.rows;
        Pending p{source, record.line, std::move(record.fields), {}, {}, {}};
        if (!record.error.empty()) return bad(call, source, p.line, p.record, record.error_field, record.error);
        std::optional<Timestamp> time;
        if (!common_fields(call, p, time)) return;
        for (const char* required : {"twin", "property", "value"}) {
            const json* v = field_of(p.record, required);
            if (v == nullptr) return bad(call, source, p.line, p.record, required, "missing");
            if (std::string(required) != "value" && !v->is_string())
                return bad(call, source, p.line, p.record, required, "expected a text, found " + kind_name(*v));
        }
        if (duplicate(call, p)) {
            ++call.duplicates;
            return;
        }
        const std::string twin_id = p.record["twin"].get<std::string>();
        const auto twin = call.snapshot.find(twin_id);
        if (!twin) return bad(call, source, p.line, p.record, "twin", "no twin '" + twin_id + "'");
        std::string unit;
        if (const json* u = field_of(p.record, "unit")) {
            if (!u->is_string()) return bad(call, source, p.line, p.record, "unit", "expected a text");
            unit = trimmed(u->get<std::string>());
            if (!unit.empty() && !unit_info(unit)) return bad(call, source, p.line, p.record, "unit", "unknown unit '" + unit + "'");
        }
        const json value = p.record["value"];
        if (auto why = add_write(call, p, *twin, p.record["property"].get<std::string>(), value, unit, "value"))
            return bad(call, source, p.line, p.record, "value", *why);
        accept(call, std::move(p), time);
    }

    void wide_row(Call& call, const std::string& source, detail::Record&& record) {
        ++call.rows;
        Pending p{source, record.line, std::move(record.fields), {}, {}, {}};
        if (!record.error.empty()) return bad(call, source, p.line, p.record, record.error_field, record.error);
        std::optional<Timestamp> time;
        if (!common_fields(call, p, time)) return;
        if (duplicate(call, p)) {
            ++call.duplicates;
            return;
        }
        for (const auto& [column, raw] : p.record.items()) {
            if (column == time_field() || column == id_field() || raw.is_null()) continue;
            std::string twin_id, property, unit;
            const ColumnMapping* mapped = nullptr;
            if (mapping != nullptr) {
                for (const ColumnMapping& c : mapping->columns) {
                    if (c.column == column) mapped = &c;
                }
            }
            if (mapped != nullptr) {
                twin_id = mapped->twin;
                property = mapped->property;
                unit = mapped->unit;
            } else {
                const auto dot = column.rfind('.');
                if (dot == std::string::npos || dot == 0 || dot + 1 == column.size())
                    return bad(call, source, p.line, p.record, column,
                               "a column is either mapped (the mapping's 'columns') or named <twin>.<property>");
                twin_id = column.substr(0, dot);
                property = column.substr(dot + 1);
            }
            const auto twin = call.snapshot.find(twin_id);
            if (!twin) return bad(call, source, p.line, p.record, column, "no twin '" + twin_id + "'");
            if (auto why = add_write(call, p, *twin, property, raw, unit, column))
                return bad(call, source, p.line, p.record, column, *why);
        }
        accept(call, std::move(p), time);
    }

    // --- applying --------------------------------------------------------------------

    /// Drops writes older than the property's current sourceTime (OrderPolicy::source_time).
    std::size_t drop_stale(Call& call) {
        std::size_t stale = 0;
        std::map<std::pair<TwinIndex, std::string>, std::int64_t> current;
        for (Pending& p : call.pending) {
            std::vector<Write> kept;
            for (Write& w : p.writes) {
                if (!w.time) {
                    kept.push_back(std::move(w));
                    continue;
                }
                const auto key = std::make_pair(w.twin, w.target->source_time_path);
                auto it = current.find(key);
                if (it == current.end()) {
                    std::int64_t now = std::numeric_limits<std::int64_t>::min();
                    const json twin = call.snapshot.get_twin(w.twin);
                    const json::json_pointer pointer(w.target->source_time_path);
                    if (twin.contains(pointer) && twin.at(pointer).is_string()) {
                        if (auto t = parse_timestamp(twin.at(pointer).get<std::string>())) now = t->ns;
                    }
                    it = current.emplace(key, now).first;
                }
                if (w.time->ns < it->second) {
                    ++stale;
                    continue;
                }
                it->second = w.time->ns;
                kept.push_back(std::move(w));
            }
            p.writes = std::move(kept);
        }
        return stale;
    }

    static json ops_of(const Write& w) {
        json ops = json::array();
        ops.push_back({{"op", "add"}, {"path", w.target->patch_path}, {"value", w.value}});
        if (w.time) ops.push_back({{"op", "add"}, {"path", w.target->source_time_path}, {"value", format_timestamp(*w.time, TimestampPrecision::nanoseconds)}});
        return ops;
    }

    void build_patches(const graph::Snapshot& snap, Pending& p) {
        p.patches.clear();
        std::map<TwinIndex, std::size_t> at;
        for (const Write& w : p.writes) {
            auto [it, inserted] = at.try_emplace(w.twin, p.patches.size());
            if (inserted) p.patches.push_back(graph::TwinPatch{snap.twin_id(w.twin), json::array(), std::nullopt});
            for (json& op : ops_of(w)) p.patches[it->second].patch.push_back(std::move(op));
        }
    }

    /// Tries every row on a copy of the graph, in order; the rows the graph
    /// refuses are moved to the bad rows (with the field of their first
    /// refused write). Returns the rows it accepts.
    void trial(Call& call) {
        auto copy = graph::TwinGraph::from_snapshot(call.snapshot);
        std::vector<Pending> good;
        for (Pending& p : call.pending) {
            try {
                copy->update_twins(p.patches);
                good.push_back(std::move(p));
                continue;
            } catch (const Error&) {
            }
            // Which write: each alone on a copy of the copy.
            std::string field, reason = "refused by the graph";
            for (const Write& w : p.writes) {
                auto probe = graph::TwinGraph::from_snapshot(copy->snapshot());
                try {
                    probe->update_twin(call.snapshot.twin_id(w.twin), ops_of(w));
                } catch (const Error& e) {
                    field = w.field;
                    reason = e.what();
                    break;
                }
            }
            bad(call, p.source, p.line, p.record, field, reason);
        }
        call.pending = std::move(good);
    }

    void write_dead_letters(const std::vector<BadRow>& rows) {
        std::ofstream out(options.dead_letter, std::ios::binary | std::ios::app);
        if (!out) throw IoError(options.dead_letter.string() + ": cannot open the dead-letter file");
        for (const BadRow& r : rows) {
            json line = {{"source", r.source}, {"line", r.line}, {"field", r.field}, {"reason", r.reason}, {"record", r.record}};
            out << line.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
        }
        out.flush();
        if (!out) throw IoError(options.dead_letter.string() + ": cannot write the dead-letter file");
    }

    IngestReport finish(Call& call) {
        IngestReport report;
        report.rows = call.rows;
        report.duplicates = call.duplicates;
        if (options.order == OrderPolicy::source_time) report.stale = drop_stale(call);
        for (Pending& p : call.pending) build_patches(call.snapshot, p);
        std::erase_if(call.pending, [](const Pending& p) { return p.writes.empty(); });
        const bool reject = options.policy == BadRowPolicy::reject;
        // The rows' patches, moved (not copied) into one batch; given back
        // to their rows when the graph refuses the batch, for the trial.
        auto gather = [&] {
            std::size_t n = 0;
            for (const Pending& p : call.pending) n += p.patches.size();
            std::vector<graph::TwinPatch> all;
            all.reserve(n);
            for (Pending& p : call.pending)
                for (graph::TwinPatch& patch : p.patches) all.push_back(std::move(patch));
            return all;
        };
        auto give_back = [&](std::vector<graph::TwinPatch>& all) {
            std::size_t k = 0;
            for (Pending& p : call.pending)
                for (graph::TwinPatch& patch : p.patches) patch = std::move(all[k++]);
        };
        bool applied = false;
        if (!(reject && !call.bad.empty())) {
            std::vector<graph::TwinPatch> all = gather();
            try {
                graph.update_twins(all);
                applied = true;
            } catch (const graph::GraphError&) {
                give_back(all);  // some row is refused by the graph: find which below
            }
        }
        if (!applied) {
            trial(call);
            if (!reject || call.bad.empty()) {
                graph.update_twins(gather());
                applied = true;
            }
        }
        // Bad rows in reading order: sources as first met, then lines.
        std::map<std::string, std::size_t> order;
        for (const BadRow& r : call.bad) order.try_emplace(r.source, order.size());
        std::stable_sort(call.bad.begin(), call.bad.end(), [&](const BadRow& a, const BadRow& b) {
            const std::size_t sa = order[a.source], sb = order[b.source];
            return sa != sb ? sa < sb : a.line < b.line;
        });
        if (applied) {
            std::vector<TwinIndex> twins;
            for (const Pending& p : call.pending) {
                report.updates += p.writes.size();
                for (const Write& w : p.writes) twins.push_back(w.twin);
                if (!p.message_id.empty() && options.dedup_window > 0 && window.insert(p.message_id).second) {
                    window_order.push_back(p.message_id);
                    if (window_order.size() > options.dedup_window) {
                        window.erase(window_order.front());
                        window_order.pop_front();
                    }
                }
            }
            std::sort(twins.begin(), twins.end());
            report.twins = static_cast<std::size_t>(std::unique(twins.begin(), twins.end()) - twins.begin());
            if (options.remembered != nullptr) {
                std::vector<std::string> ids;
                for (const Pending& p : call.pending)
                    if (!p.message_id.empty()) ids.push_back(p.message_id);
                options.remembered->remember(ids);
            }
        }
        report.applied = applied;
        if (options.policy == BadRowPolicy::dead_letter && !call.bad.empty()) write_dead_letters(call.bad);
        report.bad_rows = std::move(call.bad);
        return report;
    }

    // --- sources -----------------------------------------------------------------------

    void read(Call& call, std::istream& in, const std::string& source, Format format) {
        if (format == Format::ndjson) {
            detail::read_ndjson(in, source, [&](detail::Record&& r) { message(call, source, std::move(r)); });
            return;
        }
        const bool wide = format == Format::wide_csv;
        detail::read_csv(in, source, [&](detail::Record&& r) {
            if (wide) wide_row(call, source, std::move(r));
            else long_row(call, source, std::move(r));
        });
    }
};

Ingestor::Ingestor(graph::TwinGraph& graph, const Mapping* mapping, IngestOptions options)
    : impl_(std::make_unique<Impl>(graph, mapping, std::move(options))) {
    if (impl_->options.policy == BadRowPolicy::dead_letter && impl_->options.dead_letter.empty())
        throw MappingError("<options>", 0, "dead_letter", "the dead-letter policy needs a dead-letter file");
}
Ingestor::~Ingestor() = default;

namespace {

/// The header of a CSV file: its first non-blank line's fields.
std::vector<std::string> peek_header(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > max_line_bytes) return {};
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::vector<std::string> fields;
        std::string why;
        if (!detail::split_csv(line, fields, why)) return {};
        for (std::string& f : fields) f = trimmed(f);
        return fields;
    }
    return {};
}

bool is_long_header(const std::vector<std::string>& header) {
    auto has = [&](const char* name) { return std::find(header.begin(), header.end(), name) != header.end(); };
    return has("twin") && has("property") && has("value");
}

}  // namespace

IngestReport Ingestor::ingest_files(const std::vector<std::filesystem::path>& files) {
    Impl::Call call;
    call.snapshot = impl_->graph.snapshot();
    std::vector<std::pair<std::filesystem::path, Format>> plan;
    for (const std::filesystem::path& file : files) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec)) throw IoError(file.string() + ": no such file (or not a regular file)");
        if (std::filesystem::file_size(file, ec) > max_file_bytes)
            throw IoError(file.string() + ": larger than " + std::to_string(max_file_bytes >> 30) + " GiB (the limit of one input file)");
        Format format = impl_->options.format;
        const std::string ext = file.extension().string();
        if (format == Format::automatic) {
            if (ext == ".ndjson" || ext == ".jsonl" || ext == ".json") format = Format::ndjson;
            else if (ext == ".csv") format = is_long_header(peek_header(file)) ? Format::long_csv : Format::wide_csv;
            else throw MappingError(file.string(), 0, "", "cannot tell the format from the name (.ndjson, .jsonl or .csv); give it explicitly");
        }
        if (format == Format::ndjson && (impl_->mapping == nullptr || impl_->mapping->messages.empty()))
            throw MappingError(file.string(), 0, "", "NDJSON messages need a mapping file with 'mappings'");
        plan.emplace_back(file, format);
    }
    for (const auto& [file, format] : plan) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw IoError(file.string() + ": cannot open");
        impl_->read(call, in, file.string(), format);
    }
    return impl_->finish(call);
}

IngestReport Ingestor::ingest_stream(std::istream& in, const std::string& source, Format format) {
    Impl::Call call;
    call.snapshot = impl_->graph.snapshot();
    if (format == Format::automatic) {
        // Read the stream once into memory to look at the header.
        std::string text;
        char block[1 << 16];
        while (in.read(block, sizeof block) || in.gcount() > 0) text.append(block, static_cast<std::size_t>(in.gcount()));
        if (in.bad()) throw IoError(source + ": read error");
        std::string first = text.substr(0, text.find('\n'));
        if (!first.empty() && first.back() == '\r') first.pop_back();
        std::vector<std::string> header;
        std::string why;
        (void)detail::split_csv(first, header, why);
        for (std::string& f : header) f = trimmed(f);
        std::istringstream copy(text);
        impl_->read(call, copy, source, is_long_header(header) ? Format::long_csv : Format::wide_csv);
        return impl_->finish(call);
    }
    impl_->read(call, in, source, format);
    return impl_->finish(call);
}

IngestReport Ingestor::ingest_messages(const std::vector<TopicMessage>& messages, std::size_t first_number) {
    if (impl_->mapping == nullptr || impl_->mapping->messages.empty())
        throw MappingError("<mqtt>", 0, "", "MQTT messages need a mapping file with 'mappings'");
    Impl::Call call;
    call.snapshot = impl_->graph.snapshot();
    call.ids.reserve(messages.size());
    call.pending.reserve(messages.size());
    std::size_t number = first_number;
    std::string source;  // reused: one buffer for the batch's "mqtt:<topic>" sources
    for (const TopicMessage& m : messages) {
        detail::Record r;
        r.line = number++;
        source.assign("mqtt:").append(m.topic);
        if (m.payload.size() > max_line_bytes) {
            r.fields = json{{"topic", m.topic}, {"payload_bytes", m.payload.size()}};
            r.error = "a payload of " + std::to_string(m.payload.size()) + " bytes (more than the limit of " +
                      std::to_string(max_line_bytes) + ")";
        } else {
            detail::parse_message(m.payload, r);
        }
        impl_->message(call, source, std::move(r), &m.topic);
    }
    return impl_->finish(call);
}

IngestReport Ingestor::ingest_rows(const std::vector<TableRow>& rows, bool wide, const std::string& source) {
    Impl::Call call;
    call.snapshot = impl_->graph.snapshot();
    std::size_t line = 0;
    for (const TableRow& row : rows) {
        detail::Record r;
        r.line = ++line;
        r.fields = json::object();
        if (row.fields.is_object()) {
            for (const auto& [key, value] : row.fields.items()) {
                if (!value.is_null()) r.fields[key] = value;
            }
        } else {
            r.error = "a row must be an object";
        }
        if (wide) impl_->wide_row(call, source, std::move(r));
        else impl_->long_row(call, source, std::move(r));
    }
    return impl_->finish(call);
}

}  // namespace twinsim::live::ingest
