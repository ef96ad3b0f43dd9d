#pragma once
// Ingestion mappings: the declarative glue between what devices send and the
// twins they update (docs/ingest.md). A mapping file (YAML or JSON) says which
// message fields set which twin properties, how the twin is found (by id, by
// a property value through the shared expression language, or by following
// a relationship from the twin the message names), and in which unit a value
// arrives (converted to the property's DTDL unit). A mapping is checked
// against the models when it is loaded.

#include <cstddef>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/live/errors.hpp"

namespace twinsim::live::ingest {

/// A mapping file or a bad ingestion argument: the message is
/// "<source>:<line>: <field>: <reason>" (":<line>" left out when unknown,
/// e.g. for a mapping given as a Python dict).
class MappingError : public LiveError {
public:
    MappingError(std::string source, std::size_t line, std::string field, std::string reason);
    [[nodiscard]] const std::string& source() const noexcept { return source_; }
    [[nodiscard]] std::size_t line() const noexcept { return line_; }  ///< 0 when unknown
    [[nodiscard]] const std::string& field() const noexcept { return field_; }
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

private:
    std::string source_;
    std::size_t line_;
    std::string field_;
    std::string reason_;
};

/// How a twin id taken from a message is normalised.
enum class IdTransform { none, lower, upper, trim };

/// One message field that sets one property.
struct FieldMapping {
    std::string field;     ///< message field, dotted for nested objects ("payload.temp")
    std::string property;  ///< property path: "temperature", "thermostat/setpoint" (component), "settings/mode"
    std::string unit;      ///< unit the value arrives in ("" = already in the property's unit)
    std::size_t line = 0;
};

/// One message mapping: which messages it applies to, how the target twins
/// are found, and what it sets.
struct MessageMapping {
    std::string name;
    std::size_t line = 0;
    /// An MQTT topic pattern ("site/{site}/ahu/{ahu}/telemetry"): when set, the
    /// mapping applies only to messages received on a matching topic (never
    /// to file rows). A segment is a literal, `+` (any one level), `{name}`
    /// (any one level, its value usable as {name} in the twin's id or
    /// where, before the message's own fields) or a last `#` (any rest).
    std::string topic;
    /// Field -> value the message must carry (all of them) for the mapping to apply.
    std::map<std::string, nlohmann::json> when;
    /// The named twin: an id template ("{dev}", "meter-{site}-{n}") normalised
    /// by `transform` ...
    std::string id;
    IdTransform transform = IdTransform::none;
    /// ... or an expression with {field} placeholders ("serialNumber = {sn}"),
    /// every matching twin (of `model` when given) being named.
    std::string where;
    /// The named twin must be of this model (or derived). Optional.
    std::string model;
    /// When set, the targets are the twins the named twin reaches through its
    /// outgoing relationships of this name; otherwise the named twin itself.
    std::string follow;
    /// The model the targets' properties were checked against ("" when the
    /// mapping names no model and the relationship no target: then every model
    /// declaring the property was accepted).
    std::string target_model;
    std::vector<FieldMapping> set;
};

/// A wide-CSV column (or DataFrame column) mapped to one twin property.
struct ColumnMapping {
    std::string column;
    std::string twin;
    std::string property;
    std::string unit;
    std::size_t line = 0;
};

/// A loaded, checked mapping.
struct Mapping {
    std::string source;              ///< file name, or "<mapping>" for one given as data
    std::string time_field = "time"; ///< message field / CSV column holding the source time (RFC 3339)
    std::string id_field = "id";     ///< message field / CSV column holding the message id (duplicates)
    std::vector<MessageMapping> messages;
    std::vector<ColumnMapping> columns;

    /// Reads a YAML or JSON mapping file and checks it against `models`.
    /// Throws IoError (unreadable file) and MappingError naming file, line,
    /// field and reason (syntax, unknown key, unknown interface, property,
    /// component or relationship, an unknown unit or one that does not
    /// convert to the property's unit, a bad template or expression).
    [[nodiscard]] static Mapping load_file(const std::filesystem::path& path, const dtdl::ModelSet& models);
    /// The same from text (YAML 1.2, so JSON too).
    [[nodiscard]] static Mapping parse(std::string_view text, std::string source, const dtdl::ModelSet& models);
    /// The same from a JSON value (a Python dict): errors have no line.
    [[nodiscard]] static Mapping from_json(const nlohmann::json& document, std::string source,
                                           const dtdl::ModelSet& models);
};

/// One topic segment captured by a `{name}` of a mapping's topic pattern.
struct TopicSegment {
    std::string name;
    std::string value;
};

/// Whether MQTT topic `topic` matches `pattern` (MessageMapping::topic);
/// when it does, `captures` holds its `{name}` segments in order.
bool match_topic(std::string_view pattern, std::string_view topic, std::vector<TopicSegment>& captures);

/// The MQTT subscription filter of a topic pattern: every `{name}` becomes `+`.
std::string topic_filter(std::string_view pattern);

/// What an MQTT ingestion subscribes to: the topic_filter of every message
/// mapping that has a topic, then `extra` filters, each once, in that order.
/// Empty when no mapping has a topic and `extra` is empty.
std::vector<std::string> subscription_topics(const Mapping& mapping, const std::vector<std::string>& extra = {});

/// Where a property path leads in a model, for conversion and checks.
struct PropertyTarget {
    const dtdl::Schema* schema = nullptr;  ///< the value's schema
    std::string unit;                      ///< its DTDL unit ("" when none)
    std::string patch_path;                ///< JSON Pointer of the value ("/thermostat/setpoint")
    std::string source_time_path;          ///< JSON Pointer of its sourceTime ("/thermostat/$metadata/setpoint/sourceTime")
};

/// Resolves "prop", "component/prop" or "prop/field/..." (Object fields) in
/// interface `model`. Returns false and sets `why` when the path names
/// nothing there.
bool resolve_property(const dtdl::ModelSet& models, dtdl::InterfaceIndex model, std::string_view path,
                      PropertyTarget& out, std::string& why);

}  // namespace twinsim::live::ingest
