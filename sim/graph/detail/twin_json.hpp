#pragma once
// Rendering stored twins and relationships as Azure Digital Twins JSON (internal).

#include <nlohmann/json.hpp>

#include "twinsim/graph/detail/graph_state.hpp"

namespace twinsim::graph::detail {

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
