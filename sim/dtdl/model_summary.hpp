#pragma once
// Summaries of a compiled DTDL model for people: compact schema text, where an
// inherited content is declared, and a JSON description of an interface.
// Used by `twinsim describe` and the Python bindings (twinsim._core), so both
// describe a model with the same words.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/dtdl/model_set.hpp"

namespace twinsim::dtdl {

/// Compact text of a schema, nesting complex ones: "double", "Array<double>",
/// "Map<string, integer>", "Object{x: double, y: double}", "Enum<string>{on, off}".
[[nodiscard]] std::string describe_schema(const Schema& schema);
/// As above; "" when `schema` is null.
[[nodiscard]] std::string describe_schema(const SchemaPtr& schema);

/// The English text, else the first language's, else "".
[[nodiscard]] std::string localized(const LocalizedText& text);

/// DTMI of the interface that declares the content `name`: `iface` itself or the
/// nearest ancestor whose definition lists it; "" when none does.
[[nodiscard]] std::string declared_in(const ModelSet& model, const CompiledInterface& iface,
                                      std::string_view name);

/// DTMIs of the interfaces at `indices` (e.g. CompiledInterface::bases), in order.
[[nodiscard]] std::vector<std::string> interface_ids(const ModelSet& model,
                                                     const std::vector<InterfaceIndex>& indices);

/// "1 interface", "3 warnings": the count and the singular or plural noun.
[[nodiscard]] std::string counted(std::size_t n, std::string_view singular, std::string_view plural);

/// What is wrong with a model set in numbers: "2 errors, 1 unresolved identifier"
/// (a part whose count is zero is left out).
[[nodiscard]] std::string problem_counts(std::size_t errors, std::size_t unresolved);

/// Semantic types and unit, e.g. "Temperature, degreeCelsius"; "" when neither.
[[nodiscard]] std::string semantic_text(const Annotations& annotations);

/// "0..1", "1..*": a relationship's multiplicity (min defaults to 0, max to unbounded).
[[nodiscard]] std::string multiplicity_text(const Content& relationship);

/// Everything `twinsim describe --json` shows about one interface: id,
/// display_name, description, file, extends, ancestors, properties (with their
/// column type), telemetry, commands, relationships and components, each
/// content with the DTMI of the interface declaring it.
[[nodiscard]] nlohmann::ordered_json interface_json(const ModelSet& model,
                                                    const CompiledInterface& iface);

/// {"file", "id", "path", "message", "rule"}.
[[nodiscard]] nlohmann::ordered_json diagnostic_json(const Diagnostic& diagnostic);

}  // namespace twinsim::dtdl
