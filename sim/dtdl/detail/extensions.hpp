#pragma once
// The language extensions the parser knows: DTDL v2's built-in semantic types
// and units, IoT Central's v2 context, and the v3 feature extensions
// QuantitativeTypes v1, Historization v1, Annotation v1 and Overriding v1.

#include <cstdint>
#include <optional>
#include <string_view>

#include "twinsim/dtdl/detail/metamodel.hpp"
#include "twinsim/dtdl/elements.hpp"

namespace twinsim::dtdl::detail {

enum class Ext : std::uint8_t { quantitative_types, historization, annotation, overriding, iotcentral };
using ExtMask = std::uint8_t;
[[nodiscard]] constexpr ExtMask bit(Ext e) noexcept { return static_cast<ExtMask>(1U << static_cast<unsigned>(e)); }

/// The extension a context DTMI names, when it is known and usable in `dtdl_version`.
[[nodiscard]] std::optional<Ext> find_extension(std::string_view context, int dtdl_version) noexcept;

enum class CotypeKind : std::uint8_t { semantic, historized, value_annotation, override_ };

/// A co-type that an extension (or v2's semantic type table) defines.
struct Cotype {
    CotypeKind kind;
    std::string_view term;   ///< canonical term, e.g. "Temperature"
    int row = -1;            ///< semantic types: row in the unit table
};

/// Classifies an "@type" string under DTDL `version` with extensions `mask` active.
[[nodiscard]] std::optional<Cotype> find_cotype(std::string_view s, int version, ExtMask mask);

/// True when `cotype` may co-type an element of class `cls`.
[[nodiscard]] bool cotype_applies(const Cotype& cotype, Cls cls, int version) noexcept;

/// True when `unit` (term or DTMI) is a unit of the semantic type `cotype`.
[[nodiscard]] bool unit_fits(const Cotype& cotype, std::string_view unit, int version);

/// True when `unit` names any unit known to the semantic type tables in force.
[[nodiscard]] bool is_known_unit(std::string_view unit, int version);

/// The canonical term of a unit string (strips the DTMI form), for Annotations::unit.
[[nodiscard]] std::string_view unit_term(std::string_view unit) noexcept;

/// Which extension member `member` (term or DTMI) is: "unit", "annotates", "overrides", or empty.
[[nodiscard]] std::string_view extension_member(std::string_view member, int version, ExtMask mask) noexcept;

/// A schema string defined by an active extension (IoT Central's geopoint/vector).
[[nodiscard]] std::optional<SchemaKind> extension_schema(std::string_view s, ExtMask mask) noexcept;

}  // namespace twinsim::dtdl::detail
