#pragma once
// The DTDL v2 and v3 metamodels as data: every element class with its members,
// the form each member's value takes and the limits the specification states.
// The parser validates elements by walking these tables, so a rule of the form
// "member X of class Y must be ..." lives here and nowhere else.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace twinsim::dtdl::detail {

/// The element classes of DTDL (v2 has CommandPayload, v3 CommandRequest/Response).
enum class Cls : std::uint8_t {
    Array, Command, CommandPayload, CommandRequest, CommandResponse, Component, Enum, EnumValue,
    Field, Interface, Map, MapKey, MapValue, Object, Property, Relationship, Telemetry,
};
inline constexpr int class_count = 17;
[[nodiscard]] std::string_view class_name(Cls c) noexcept;

/// How a member's value is written.
enum class ValueKind : std::uint8_t {
    string,       ///< representational string
    langstring,   ///< localizable string
    boolean,      ///< representational boolean
    integer,      ///< representational integer
    literal,      ///< one of a fixed set of strings (terms or DTMIs)
    dtmi,         ///< a DTMI, non-dependent reference
    elements,     ///< DTDL elements or dependent references
    schema,       ///< like elements, and also a standard schema string
    enum_value,   ///< representational integer or string, per the parent Enum's valueSchema
};

/// Where the parser stores a member's value (one slot per distinct term).
enum class Slot : std::uint8_t {
    comment, description, display_name, name, schema, element_schema, contents, extends, schemas,
    command_type, request, response, value_schema, enum_values, enum_value, fields, map_key, map_value,
    writable, min_multiplicity, max_multiplicity, properties, target,
};

/// One member of a class.
struct MemberSpec {
    std::string_view term;           ///< "name"; the DTMI form is dtmi:dtdl:property:<term>;<version>
    Slot slot;
    ValueKind kind;
    bool required = false;
    bool many = false;               ///< an array of any number of values (else at most one)
    std::size_t max_length = 0;      ///< string length limit, 0 = none
    bool name_pattern = false;       ///< value must match the name regex
    std::vector<Cls> classes{};      ///< classes allowed for elements/schema values
    bool allow_v2 = false;           ///< v3 member that also accepts DTDL v2 elements
    int min_count = 0;               ///< elements: minimum number of values
    int max_count = 0;               ///< elements: maximum number of values, 0 = none (checked in graph_rules.cpp;
                                     ///< an Interface's "contents" count its inherited ones too)
    std::vector<std::string_view> literals{};  ///< allowed literal values
    std::optional<std::int64_t> min_value{};  ///< integer limits
    std::optional<std::int64_t> max_value{};
    bool deprecated = false;         ///< SHOULD NOT be present
    bool no_geospatial = false;      ///< v2 Property schema: geospatial strings excluded
};

/// One class of one DTDL version.
struct ClassSpec {
    Cls cls;
    std::vector<MemberSpec> members;
    bool id_required_in_schemas = false;  ///< Array/Enum/Map/Object under Interface "schemas"
    bool id_required = false;             ///< Interface
};

/// The classes of DTDL `version` (2 or 3), indexed by Cls.
[[nodiscard]] const std::vector<ClassSpec>& metamodel(int version);

/// The member of `spec` whose term is `term`, or nullptr.
[[nodiscard]] const MemberSpec* find_member(const ClassSpec& spec, std::string_view term) noexcept;

}  // namespace twinsim::dtdl::detail
