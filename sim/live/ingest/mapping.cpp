// Ingestion mappings: reading a YAML/JSON mapping (with the line of every
// value), and checking it against the models.

#include "twinsim/live/ingest/mapping.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "twinsim/common/error.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/common/units.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/query/parser.hpp"

namespace twinsim::live::ingest {
namespace {

using json = nlohmann::json;
using LineMap = std::unordered_map<std::string, std::size_t>;

constexpr std::size_t max_mapping_nodes = 100'000;
constexpr std::uintmax_t max_mapping_bytes = std::uintmax_t{16} << 20;

std::string located(const std::string& source, std::size_t line, const std::string& field, const std::string& reason) {
    std::string out;
    out.reserve(source.size() + field.size() + reason.size() + 32);
    out.append(source);
    if (line != 0) out.append(":").append(std::to_string(line));
    out.append(": ");
    if (!field.empty()) out.append(field).append(": ");
    out.append(reason);
    return out;
}

// --- YAML -> JSON with lines ------------------------------------------------

json scalar_value(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (node.Tag() == "!") return text;  // quoted: always a string
    if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    std::int64_t i = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (ec == std::errc{} && p == text.data() + text.size()) return i;
    double d = 0;
    auto [q, ec2] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec2 == std::errc{} && q == text.data() + text.size()) return d;
    return text;
}

struct YamlConverter {
    const std::string& source;
    LineMap& lines;
    std::size_t nodes = 0;

    json convert(const YAML::Node& node, const std::string& pointer, std::size_t depth) {
        const std::size_t line = node.Mark().line < 0 ? 0 : static_cast<std::size_t>(node.Mark().line) + 1;
        lines.emplace(pointer, line);
        if (++nodes > max_mapping_nodes)
            throw MappingError(source, line, "", "the mapping expands to more than " + std::to_string(max_mapping_nodes) + " values");
        if (depth > max_json_depth) throw MappingError(source, line, "", "the mapping is nested too deeply");
        switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined: return nullptr;
        case YAML::NodeType::Scalar: return scalar_value(node);
        case YAML::NodeType::Sequence: {
            json out = json::array();
            std::size_t k = 0;
            for (const YAML::Node& item : node) out.push_back(convert(item, pointer + "/" + std::to_string(k++), depth + 1));
            return out;
        }
        case YAML::NodeType::Map: {
            json out = json::object();
            for (const auto& kv : node) {
                if (!kv.first.IsScalar())
                    throw MappingError(source, static_cast<std::size_t>(kv.first.Mark().line) + 1, "", "a key must be a plain text");
                const std::string key = kv.first.Scalar();
                std::string escaped;
                for (char c : key) escaped += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
                const std::string child = pointer + "/" + escaped;
                lines[child] = static_cast<std::size_t>(kv.first.Mark().line) + 1;
                out[key] = convert(kv.second, child, depth + 1);
                lines[child] = static_cast<std::size_t>(kv.first.Mark().line) + 1;
            }
            return out;
        }
        }
        return nullptr;
    }
};

// --- checking -----------------------------------------------------------------

/// Whether `pattern` is a valid topic pattern (MessageMapping::topic).
bool check_topic_pattern(const std::string& pattern, std::string& why) {
    if (pattern.empty()) {
        why = "an empty topic pattern";
        return false;
    }
    if (pattern.size() > 65535) {
        why = "a topic pattern longer than 65,535 bytes (the MQTT limit)";
        return false;
    }
    std::vector<std::string> names;
    std::size_t start = 0;
    while (true) {
        const auto slash = pattern.find('/', start);
        const std::string segment = pattern.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        const bool last = slash == std::string::npos;
        if (segment == "#") {
            if (!last) {
                why = "'#' must be the last segment of \"" + pattern + "\"";
                return false;
            }
        } else if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
            const std::string name = segment.substr(1, segment.size() - 2);
            if (name.find_first_of("{}+#/") != std::string::npos) {
                why = "bad segment name '" + segment + "' in \"" + pattern + "\"";
                return false;
            }
            if (std::find(names.begin(), names.end(), name) != names.end()) {
                why = "segment name '" + name + "' used twice in \"" + pattern + "\"";
                return false;
            }
            names.push_back(name);
        } else if (segment != "+" && segment.find_first_of("{}+#") != std::string::npos) {
            why = "segment '" + segment + "' of \"" + pattern +
                  "\": '+', '#' and '{name}' must each be a whole segment";
            return false;
        } else if (segment.find('\0') != std::string::npos) {
            why = "a NUL character in \"" + pattern + "\"";
            return false;
        }
        if (last) return true;
        start = slash + 1;
    }
}

struct Checker {
    const std::string& source;
    const LineMap& lines;
    const dtdl::ModelSet& models;

    [[nodiscard]] std::size_t line_of(const std::string& pointer) const {
        // The nearest enclosing value that has a line.
        std::string p = pointer;
        while (true) {
            const auto it = lines.find(p);
            if (it != lines.end()) return it->second;
            const auto slash = p.rfind('/');
            if (slash == std::string::npos) return 0;
            p.resize(slash);
        }
    }
    [[noreturn]] void fail(const std::string& pointer, const std::string& field, const std::string& reason) const {
        throw MappingError(source, line_of(pointer), field, reason);
    }

    std::string text(const json& object, const char* key, const std::string& pointer, const std::string& field,
                     bool required) const {
        const auto it = object.find(key);
        if (it == object.end() || it->is_null()) {
            if (required) fail(pointer, field, std::string("'") + key + "' is required");
            return {};
        }
        if (!it->is_string()) fail(pointer + "/" + key, field + "." + key, "expected a text");
        return it->get<std::string>();
    }

    void only_keys(const json& object, std::initializer_list<const char*> allowed, const std::string& pointer,
                   const std::string& field) const {
        if (!object.is_object()) fail(pointer, field, "expected a mapping (key: value)");
        for (const auto& item : object.items()) {
            const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one
            if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) != allowed.end())
                continue;
            std::string list;
            for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            fail(pointer + "/" + key, field.empty() ? key : field + "." + key, "unknown key (expected one of: " + list + ")");
        }
    }

    [[nodiscard]] std::optional<dtdl::InterfaceIndex> interface(const std::string& id, const std::string& pointer,
                                                                const std::string& field) const {
        if (id.empty()) return std::nullopt;
        auto found = models.find(id);
        if (!found) fail(pointer, field, "unknown interface '" + id + "' (no model defines it)");
        return found;
    }

    /// Checks the {placeholders} of a template: balanced, non-empty names.
    void check_template(const std::string& text, const std::string& pointer, const std::string& field) const {
        std::size_t i = 0;
        while ((i = text.find_first_of("{}", i)) != std::string::npos) {
            if (text[i] == '}') fail(pointer, field, "'}' without '{' in \"" + text + "\"");
            const auto close = text.find('}', i);
            if (close == std::string::npos) fail(pointer, field, "'{' without '}' in \"" + text + "\"");
            if (close == i + 1) fail(pointer, field, "empty placeholder {} in \"" + text + "\"");
            i = close + 1;
        }
    }

    void check_property(const MessageMapping& m, FieldMapping& f, const std::string& pointer,
                        const std::string& field) const {
        auto check_in = [&](dtdl::InterfaceIndex model) {
            PropertyTarget target;
            std::string why;
            if (!resolve_property(models, model, f.property, target, why)) fail(pointer, field + ".property", why);
            check_unit(f.unit, target, pointer, field);
        };
        if (!m.target_model.empty()) {
            check_in(*models.find(m.target_model));
            return;
        }
        // No model named: some interface must declare the property.
        for (const dtdl::CompiledInterface& ci : models.interfaces()) {
            PropertyTarget target;
            std::string why;
            if (resolve_property(models, ci.index, f.property, target, why)) {
                check_unit(f.unit, target, pointer, field);
                return;
            }
        }
        fail(pointer, field + ".property", "no model declares a property '" + f.property + "'");
    }

    void check_unit(const std::string& unit, const PropertyTarget& target, const std::string& pointer,
                    const std::string& field) const {
        if (unit.empty()) return;
        if (!unit_info(unit)) fail(pointer, field + ".unit", "unknown unit '" + unit + "'");
        if (target.unit.empty())
            fail(pointer, field + ".unit", "the property declares no unit to convert '" + unit + "' to");
        if (!convert_unit(1.0, unit, target.unit))
            fail(pointer, field + ".unit", "'" + unit + "' does not convert to the property's unit '" + target.unit + "'");
    }

    MessageMapping message(const json& item, std::size_t k) const {
        const std::string pointer = "/mappings/" + std::to_string(k);
        const std::string field = "mappings[" + std::to_string(k) + "]";
        only_keys(item, {"name", "topic", "when", "twin", "model", "follow", "target_model", "set"}, pointer, field);
        MessageMapping m;
        m.line = line_of(pointer);
        m.name = text(item, "name", pointer, field, false);
        if (m.name.empty()) m.name = field;
        m.topic = text(item, "topic", pointer, field, false);
        if (const auto it = item.find("topic"); it != item.end() && !it->is_null()) {
            std::string why;
            if (!check_topic_pattern(m.topic, why)) fail(pointer + "/topic", field + ".topic", why);
        }
        if (const auto w = item.find("when"); w != item.end() && !w->is_null()) {
            if (!w->is_object()) fail(pointer + "/when", field + ".when", "expected field: value pairs");
            for (const auto& [key, value] : w->items()) {
                if (value.is_object() || value.is_array())
                    fail(pointer + "/when/" + key, field + ".when." + key, "expected a text, number or boolean");
                m.when.emplace(key, value);
            }
        }
        const auto twin = item.find("twin");
        if (twin == item.end()) fail(pointer, field, "'twin' is required (id: \"{field}\" or where: \"<expression>\")");
        const std::string tp = pointer + "/twin";
        const std::string tf = field + ".twin";
        if (twin->is_string()) {
            m.id = twin->get<std::string>();
        } else {
            only_keys(*twin, {"id", "transform", "where", "model"}, tp, tf);
            m.id = text(*twin, "id", tp, tf, false);
            m.where = text(*twin, "where", tp, tf, false);
            if (const std::string model = text(*twin, "model", tp, tf, false); !model.empty()) m.model = model;
            const std::string transform = text(*twin, "transform", tp, tf, false);
            if (transform.empty() || transform == "none") m.transform = IdTransform::none;
            else if (transform == "lower") m.transform = IdTransform::lower;
            else if (transform == "upper") m.transform = IdTransform::upper;
            else if (transform == "trim") m.transform = IdTransform::trim;
            else fail(tp + "/transform", tf + ".transform", "unknown transform '" + transform + "' (expected none, lower, upper or trim)");
        }
        if (m.id.empty() == m.where.empty()) fail(tp, tf, "give exactly one of 'id' and 'where'");
        if (!m.id.empty()) check_template(m.id, tp, tf + ".id");
        if (!m.where.empty()) {
            check_template(m.where, tp, tf + ".where");
            // Placeholders replaced by a literal must leave a valid expression.
            std::string probe;
            for (std::size_t i = 0; i < m.where.size(); ++i) {
                if (m.where[i] == '{') {
                    i = m.where.find('}', i);
                    probe += "'x'";
                } else {
                    probe += m.where[i];
                }
            }
            try {
                (void)query::compile_expression(probe);
            } catch (const Error& e) {
                fail(tp + "/where", tf + ".where", std::string("invalid expression: ") + e.what());
            }
        }
        if (const std::string model = text(item, "model", pointer, field, false); !model.empty()) m.model = model;
        const auto model_index = interface(m.model, pointer + "/model", field + ".model");
        m.follow = text(item, "follow", pointer, field, false);
        std::string target_model = text(item, "target_model", pointer, field, false);
        (void)interface(target_model, pointer + "/target_model", field + ".target_model");
        if (!m.follow.empty()) {
            if (model_index) {
                const dtdl::Content* rel = models.at(*model_index).find(m.follow);
                if (rel == nullptr || rel->kind != dtdl::ContentKind::relationship)
                    fail(pointer + "/follow", field + ".follow",
                         "interface '" + m.model + "' declares no relationship '" + m.follow + "'");
                if (target_model.empty()) target_model = rel->target;
            } else {
                bool declared = false;
                for (const dtdl::CompiledInterface& ci : models.interfaces()) {
                    const dtdl::Content* rel = ci.find(m.follow);
                    declared = declared || (rel != nullptr && rel->kind == dtdl::ContentKind::relationship);
                }
                if (!declared) fail(pointer + "/follow", field + ".follow", "no model declares a relationship '" + m.follow + "'");
            }
        } else if (target_model.empty()) {
            target_model = m.model;
        }
        m.target_model = target_model;
        const auto set = item.find("set");
        if (set == item.end() || !set->is_object() || set->empty())
            fail(pointer, field + ".set", "'set' is required: message field -> property (or {property, unit})");
        for (const auto& [key, value] : set->items()) {
            const std::string sp = pointer + "/set/" + key;
            const std::string sf = field + ".set." + key;
            FieldMapping f;
            f.field = key;
            f.line = line_of(sp);
            if (value.is_string()) {
                f.property = value.get<std::string>();
            } else {
                only_keys(value, {"property", "unit"}, sp, sf);
                f.property = text(value, "property", sp, sf, true);
                f.unit = text(value, "unit", sp, sf, false);
            }
            if (f.property.empty()) fail(sp, sf, "the property path is empty");
            check_property(m, f, sp, sf);
            m.set.push_back(std::move(f));
        }
        return m;
    }

    ColumnMapping column(const std::string& name, const json& value) const {
        const std::string pointer = "/columns/" + name;
        const std::string field = "columns." + name;
        only_keys(value, {"twin", "property", "unit"}, pointer, field);
        ColumnMapping c;
        c.column = name;
        c.line = line_of(pointer);
        c.twin = text(value, "twin", pointer, field, true);
        c.property = text(value, "property", pointer, field, true);
        c.unit = text(value, "unit", pointer, field, false);
        bool found = false;
        for (const dtdl::CompiledInterface& ci : models.interfaces()) {
            PropertyTarget target;
            std::string why;
            if (resolve_property(models, ci.index, c.property, target, why)) {
                check_unit(c.unit, target, pointer, field);
                found = true;
                break;
            }
        }
        if (!found) fail(pointer, field + ".property", "no model declares a property '" + c.property + "'");
        return c;
    }

    Mapping mapping(const json& document) const {
        Mapping out;
        out.source = source;
        if (!document.is_object()) fail("", "", "a mapping file holds a mapping (time_field, id_field, mappings, columns)");
        only_keys(document, {"time_field", "id_field", "mappings", "columns"}, "", "");
        if (auto t = text(document, "time_field", "", "", false); !t.empty()) out.time_field = t;
        if (auto t = text(document, "id_field", "", "", false); !t.empty()) out.id_field = t;
        if (const auto it = document.find("mappings"); it != document.end() && !it->is_null()) {
            if (!it->is_array()) fail("/mappings", "mappings", "expected a list of mappings");
            for (std::size_t k = 0; k < it->size(); ++k) out.messages.push_back(message((*it)[k], k));
        }
        if (const auto it = document.find("columns"); it != document.end() && !it->is_null()) {
            if (!it->is_object()) fail("/columns", "columns", "expected column: {twin, property, unit}");
            for (const auto& [name, value] : it->items()) out.columns.push_back(column(name, value));
        }
        if (out.messages.empty() && out.columns.empty()) fail("", "", "the mapping has neither 'mappings' nor 'columns'");
        return out;
    }
};

const dtdl::Content* find_content(const dtdl::ModelSet& models, dtdl::InterfaceIndex model, std::string_view name) {
    return models.at(model).find(name);
}

}  // namespace

MappingError::MappingError(std::string source, std::size_t line, std::string field, std::string reason)
    : LiveError(located(source, line, field, reason)),
      source_(std::move(source)),
      line_(line),
      field_(std::move(field)),
      reason_(std::move(reason)) {}

bool match_topic(std::string_view pattern, std::string_view topic, std::vector<TopicSegment>& captures) {
    captures.clear();
    std::size_t p = 0, t = 0;
    while (true) {
        const auto pe = std::min(pattern.find('/', p), pattern.size());
        const std::string_view segment = pattern.substr(p, pe - p);
        if (segment == "#") return true;  // the rest, including none ("a/#" matches "a")
        if (t > topic.size()) return false;
        const auto te = std::min(topic.find('/', t), topic.size());
        const std::string_view level = topic.substr(t, te - t);
        if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
            captures.push_back(TopicSegment{std::string(segment.substr(1, segment.size() - 2)), std::string(level)});
        } else if (segment != "+" && segment != level) {
            return false;
        }
        const bool pattern_done = pe == pattern.size();
        const bool topic_done = te == topic.size();
        if (pattern_done || topic_done) {
            if (pattern_done && topic_done) return true;
            // "a/#" also matches "a": the pattern may go on with only "/#".
            return topic_done && pattern.substr(pe) == "/#";
        }
        p = pe + 1;
        t = te + 1;
    }
}

std::string topic_filter(std::string_view pattern) {
    std::string out;
    std::size_t p = 0;
    while (true) {
        const auto pe = std::min(pattern.find('/', p), pattern.size());
        const std::string_view segment = pattern.substr(p, pe - p);
        if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') out += '+';
        else out += segment;
        if (pe == pattern.size()) return out;
        out += '/';
        p = pe + 1;
    }
}

std::vector<std::string> subscription_topics(const Mapping& mapping, const std::vector<std::string>& extra) {
    std::vector<std::string> out;
    auto add = [&](std::string filter) {
        if (std::find(out.begin(), out.end(), filter) == out.end()) out.push_back(std::move(filter));
    };
    for (const MessageMapping& m : mapping.messages)
        if (!m.topic.empty()) add(topic_filter(m.topic));
    for (const std::string& t : extra) add(t);
    return out;
}

bool resolve_property(const dtdl::ModelSet& models, dtdl::InterfaceIndex model, std::string_view path,
                      PropertyTarget& out, std::string& why) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto slash = path.find('/', start);
        parts.emplace_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    for (const std::string& p : parts) {
        if (p.empty()) {
            why = "empty segment in property path '" + std::string(path) + "'";
            return false;
        }
    }
    const std::string& model_id = models.at(model).definition->id;
    const dtdl::Content* content = find_content(models, model, parts[0]);
    std::size_t next = 1;
    std::string prefix;  // "/component" for a component property
    if (content != nullptr && content->kind == dtdl::ContentKind::component) {
        if (parts.size() < 2) {
            why = "'" + parts[0] + "' is a component of '" + model_id + "'; name one of its properties (" + parts[0] + "/<property>)";
            return false;
        }
        const auto component = models.find(content->component_interface);
        if (!component) {
            why = "component '" + parts[0] + "' has no known interface";
            return false;
        }
        prefix = "/" + parts[0];
        content = find_content(models, *component, parts[1]);
        next = 2;
        if (content == nullptr || content->kind != dtdl::ContentKind::property) {
            why = "component '" + parts[0] + "' of '" + model_id + "' declares no property '" + parts[1] + "'";
            return false;
        }
    } else if (content == nullptr || content->kind != dtdl::ContentKind::property) {
        why = "interface '" + model_id + "' declares no property '" + parts[0] + "'";
        return false;
    }
    const std::string& property = content->name;
    const dtdl::Schema* schema = content->schema.get();
    std::string unit = content->annotations.unit;
    std::string pointer = prefix + "/" + property;
    for (std::size_t k = next; k < parts.size(); ++k) {
        if (schema == nullptr || schema->kind != dtdl::SchemaKind::object) {
            why = "'" + std::string(path) + "': '" + parts[k - 1] + "' is not an Object, it has no field '" + parts[k] + "'";
            return false;
        }
        const auto field = std::find_if(schema->fields.begin(), schema->fields.end(),
                                        [&](const dtdl::Field& f) { return f.name == parts[k]; });
        if (field == schema->fields.end()) {
            why = "'" + std::string(path) + "': the Object has no field '" + parts[k] + "'";
            return false;
        }
        schema = field->schema.get();
        unit = field->annotations.unit;
        pointer += "/" + parts[k];
    }
    out.schema = schema;
    out.unit = unit;
    out.patch_path = pointer;
    out.source_time_path = prefix + "/$metadata/" + property + "/sourceTime";
    return true;
}

Mapping Mapping::parse(std::string_view text, std::string source, const dtdl::ModelSet& models) {
    if (text.size() > max_mapping_bytes)
        throw MappingError(source, 0, "", "a mapping is at most 16 MiB (max_mapping_bytes); this one has " +
                                              std::to_string(text.size()) + " bytes");
    LineMap lines;
    json document;
    try {
        YAML::Node root = YAML::Load(std::string(text));
        YamlConverter converter{source, lines};
        document = converter.convert(root, "", 0);
    } catch (const YAML::Exception& e) {
        throw MappingError(source, e.mark.line < 0 ? 0 : static_cast<std::size_t>(e.mark.line) + 1, "",
                           "not valid YAML or JSON here (check indentation, quotes and brackets)");
    }
    return Checker{source, lines, models}.mapping(document);
}

Mapping Mapping::load_file(const std::filesystem::path& path, const dtdl::ModelSet& models) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw IoError(path.string() + ": no such mapping file");
    if (std::filesystem::file_size(path, ec) > max_mapping_bytes)
        throw IoError(path.string() + ": a mapping file is at most 16 MiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path.string() + ": cannot open the mapping file");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw IoError(path.string() + ": cannot read the mapping file");
    return parse(text.str(), path.string(), models);
}

Mapping Mapping::from_json(const nlohmann::json& document, std::string source, const dtdl::ModelSet& models) {
    const LineMap lines;
    return Checker{source, lines, models}.mapping(document);
}

}  // namespace twinsim::live::ingest
