#pragma once
// The DTDL elements of a validated model, as plain immutable data.
//
// The parser (parser.hpp) builds these from JSON-LD documents after checking
// every rule of the specification; ModelSet (model_set.hpp) compiles them into
// flattened interfaces, is-a tests and property layouts. Nothing here refers
// to JSON: values are already resolved (terms and DTMIs to kinds, references
// to shared schema objects).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace twinsim::dtdl {

enum class DtdlVersion : std::uint8_t { v2 = 2, v3 = 3 };

/// displayName/description: a plain string is stored under language "en".
using LocalizedText = std::map<std::string, std::string>;

/// What every element may carry besides its own members.
struct Annotations {
    std::string id;                          ///< "@id" when given (empty otherwise)
    LocalizedText display_name;
    LocalizedText description;
    std::string comment;
    std::vector<std::string> extra_types;    ///< co-types beyond the element's class, as written
                                             ///< (semantic types such as "Temperature", extension types)
    std::string unit;                        ///< "unit" of a semantic type, empty when none
};

enum class SchemaKind : std::uint8_t {
    // primitives
    boolean, date, date_time, double_, duration, float_, integer, long_, string, time,
    // geospatial (GeoJSON shapes)
    point, multi_point, line_string, multi_line_string, polygon, multi_polygon,
    // complex
    array, enum_, map, object,
};

/// The DTDL term of a schema kind, e.g. "dateTime", "Enum".
[[nodiscard]] const char* to_string(SchemaKind kind) noexcept;
[[nodiscard]] constexpr bool is_primitive(SchemaKind k) noexcept { return k <= SchemaKind::time; }
[[nodiscard]] constexpr bool is_geospatial(SchemaKind k) noexcept {
    return k >= SchemaKind::point && k <= SchemaKind::multi_polygon;
}
[[nodiscard]] constexpr bool is_complex(SchemaKind k) noexcept { return k >= SchemaKind::array; }

struct Schema;
using SchemaPtr = std::shared_ptr<const Schema>;

/// A field of an Object schema.
struct Field {
    std::string name;
    SchemaPtr schema;
    Annotations annotations;
};

/// A member of an Enum schema; exactly one of the two values is meaningful,
/// according to the enum's value_schema (integer or string).
struct EnumValue {
    std::string name;
    std::int64_t int_value = 0;
    std::string string_value;
    Annotations annotations;
};

/// A schema. Primitive and geospatial schemas are shared singletons (see
/// primitive_schema()); complex ones are built per definition and shared by
/// reference wherever they are referenced by @id.
struct Schema {
    SchemaKind kind = SchemaKind::string;
    Annotations annotations;
    // Array
    SchemaPtr element_schema;
    // Map
    std::string map_key_name;
    std::string map_value_name;
    SchemaPtr map_value_schema;             ///< map keys are always strings
    Annotations map_key_annotations;
    Annotations map_value_annotations;
    // Object
    std::vector<Field> fields;
    // Enum
    SchemaKind enum_value_schema = SchemaKind::integer;  ///< integer or string
    std::vector<EnumValue> enum_values;
};

/// The shared schema object of a primitive or geospatial kind.
/// Precondition: !is_complex(kind).
[[nodiscard]] SchemaPtr primitive_schema(SchemaKind kind);

enum class ContentKind : std::uint8_t { property, telemetry, command, relationship, component };
[[nodiscard]] const char* to_string(ContentKind kind) noexcept;

/// A Command's request or response.
struct CommandPayload {
    std::string name;
    SchemaPtr schema;
    Annotations annotations;
};

/// One element of an Interface's "contents" (or a Relationship's "properties",
/// which are always of kind property).
struct Content {
    ContentKind kind = ContentKind::property;
    std::string name;
    Annotations annotations;
    // Property, Telemetry
    SchemaPtr schema;
    bool writable = false;  ///< Property, Relationship
    // Command
    std::optional<CommandPayload> request;
    std::optional<CommandPayload> response;
    // Relationship
    std::string target;                       ///< interface DTMI; empty = any twin
    std::optional<std::int64_t> min_multiplicity;
    std::optional<std::int64_t> max_multiplicity;
    std::vector<Content> properties;
    // Component
    std::string component_interface;          ///< DTMI of the component's Interface
};

/// One Interface exactly as defined (contents declared on it, not inherited).
struct Interface {
    std::string id;                         ///< its DTMI
    DtdlVersion version = DtdlVersion::v3;
    std::string file;                       ///< the document it came from
    Annotations annotations;
    std::vector<std::string> extends;       ///< direct bases, in declaration order
    std::vector<Content> contents;
    std::vector<SchemaPtr> schemas;         ///< reusable "schemas"
    std::vector<std::string> contexts;      ///< "@context" values (dtdl context + extensions)
};

}  // namespace twinsim::dtdl
