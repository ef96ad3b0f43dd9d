#pragma once
// Rendering stored twins and relationships as Azure Digital Twins JSON (internal).

#include <nlohmann/json.hpp>

#include "twinsim/graph/detail/graph_state.hpp"

namespace twinsim::graph::detail {

/// A sourceTime as the graph returns it: RFC 3339 in UTC with 7 fractional
/// digits as ADT writes them, or 9 when the instant is not a whole number of
/// 100 ns ticks — never rounded, so the client reads back the instant it sent
/// (to the nanosecond, the precision of a Timestamp).
[[nodiscard]] std::string format_source_time(std::int64_t ns);

/// A stored value as JSON. Precondition: column.has(row).
[[nodiscard]] nlohmann::json column_value(const Column& column, std::uint32_t row);

enum class TwinView : std::uint8_t {
    adt,    ///< as ADT returns it: $dtId, $etag, $metadata with $lastUpdateTime and per-property lastUpdateTime/sourceTime
    patch,  ///< the document a JSON Patch applies to: properties, components and $metadata with $model and
            ///< per property {sourceTime?} only (no service-set fields)
};

/// Precondition: state.alive(twin).
[[nodiscard]] nlohmann::json twin_json(const GraphState& state, TwinIndex twin, TwinView view = TwinView::adt);

/// Precondition: state.rel_alive(r).
[[nodiscard]] nlohmann::json relationship_json(const GraphState& state, RelationshipIndex r);

}  // namespace twinsim::graph::detail
