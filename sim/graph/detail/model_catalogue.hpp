#pragma once
// The model catalogue: the DTDL interfaces uploaded to a graph, as the
// compiled ModelSet plus one ModelInfo per interface (internal).
//
// Every change recompiles the stored definitions with the new ones (or
// without the deleted one) into a fresh ModelSet and replaces it whole, so a
// snapshot keeps the models it was taken with. Model operations change no
// twin and emit no change event.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::graph::detail {

/// The stored top-level definitions (inline interfaces travel inside their
/// parent), one Document each named "<model ID>", without `except`.
[[nodiscard]] std::vector<dtdl::Document> stored_documents(const GraphState& state, std::string_view except = {});

/// Adds a batch of DTDL documents, all or nothing, compiled together with
/// the stored ones; `clock` gives their upload time. Returns the ids added
/// (every interface the batch defines, inline ones included). Throws
/// ConflictError (ModelAlreadyExists) for an id already defined,
/// dtdl::ModelError for invalid or incomplete DTDL; `state` is then unchanged.
std::vector<std::string> add_models(GraphState& state, std::span<const dtdl::Document> documents,
                                    const dtdl::ParseOptions& parse, const std::function<Timestamp()>& clock);

/// Marks a model decommissioned. Throws NotFoundError (ModelNotFound).
void decommission_model(GraphState& state, std::string_view model_id);

/// Deletes a model. Throws NotFoundError (ModelNotFound); ConflictError
/// (ModelReferencesNotDeleted) for an interface defined inside another model,
/// while another model extends it, uses it as a component or relationship
/// target (or recompiling without it fails), and while twins of it exist.
void delete_model(GraphState& state, std::string_view model_id, const dtdl::ParseOptions& parse);

}  // namespace twinsim::graph::detail
