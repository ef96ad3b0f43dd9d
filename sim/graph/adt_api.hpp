#pragma once
// The Azure Digital Twins data-plane API over a TwinGraph / Snapshot: what
// ADT's REST operations and its SDK's DigitalTwinsClient do beyond the graph's
// own operations, in one place for every front end (Python, the CLI, the REST
// service). Front ends translate their arguments and results; the behaviour
// lives here (shared/reference/adt.md and adt-service.md record the facts).
//
// - match conditions (azure.core.MatchConditions / If-Match, If-None-Match)
//   turned into the graph's WriteCondition and If-Match;
// - models as ADT describes them (DigitalTwinsModelData), and the
//   dependenciesFor closure of GET /models;
// - components: GET and PATCH /digitaltwins/{id}/components/{name}, with
//   ComponentNotFound.
// Twins, relationships and the lists of outgoing and incoming relationships
// already come back in ADT's JSON shape from the Snapshot (get_twin,
// get_relationship, list_relationships, list_incoming_relationships), and
// the graph's own write operations carry ADT's semantics (twin_graph.hpp).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::graph::adt {

// --- match conditions ------------------------------------------------------------

/// The members of azure.core.MatchConditions, which the SDK turns into the
/// If-Match / If-None-Match headers of a write.
enum class MatchCondition : std::uint8_t {
    unconditionally,  ///< no header: the write applies whatever the etag
    if_not_modified,  ///< If-Match: <etag>
    if_modified,      ///< If-None-Match: <etag>; no twinsim (or ADT) write accepts it
    if_present,       ///< If-Match: *
    if_missing,       ///< If-None-Match: * (upserts only: create-only)
};

/// The member named `name` as in the SDK ("Unconditionally", "IfNotModified",
/// "IfModified", "IfPresent", "IfMissing"), or nullopt for any other text.
[[nodiscard]] std::optional<MatchCondition> parse_match_condition(std::string_view name) noexcept;
/// The SDK's name of a member ("IfNotModified", ...).
[[nodiscard]] const char* to_string(MatchCondition condition) noexcept;

/// The condition that applies when a client passes `condition` (nullopt: none
/// given) and `etag`: none given means IfNotModified when an etag is given
/// (twinsim's choice: the SDK silently ignores a lone etag), else
/// Unconditionally. Throws ValidationError (InvalidArgument) for
/// IfNotModified without an etag.
[[nodiscard]] MatchCondition effective_condition(std::optional<MatchCondition> condition,
                                                 const std::optional<std::string>& etag);

/// The WriteCondition of an upsert (PUT a twin or relationship):
/// IfNotModified -> if_match = etag, IfPresent -> if_match = "*", IfMissing ->
/// if_none_match (create-only), Unconditionally -> none. Throws
/// ValidationError (InvalidArgument) for IfModified, and as effective_condition.
[[nodiscard]] WriteCondition upsert_condition(std::optional<MatchCondition> condition,
                                              const std::optional<std::string>& etag);

/// The If-Match of an update or delete (PATCH, DELETE): the etag for
/// IfNotModified, "*" for IfPresent, none for Unconditionally. Throws
/// ValidationError (InvalidArgument) for IfMissing (create-only applies to
/// upserts only) and IfModified, and as effective_condition.
[[nodiscard]] std::optional<std::string> if_match(std::optional<MatchCondition> condition,
                                                  const std::optional<std::string>& etag);

// --- models ----------------------------------------------------------------------

/// The requested models and, transitively, every interface they depend on
/// (the interfaces they extend, at any depth, and their components'
/// interfaces), as GET /models?dependenciesFor= selects them. Returned in
/// list_models' order (by id), each once. Throws NotFoundError (ModelNotFound,
/// naming the id) for an id the snapshot does not hold.
[[nodiscard]] std::vector<ModelInfo> dependencies_for(const Snapshot& snapshot, std::span<const std::string> model_ids);

/// A model as ADT's model data (the SDK's DigitalTwinsModelData): {"id",
/// "displayName", "description" (language -> text; a plain string becomes
/// {"en": text}; {} when absent or for an interface defined inside another
/// model), "uploadTime" (ADT timestamp text), "decommissioned"} and, with
/// include_definition, "model": the DTDL interface as uploaded (null for an
/// inline interface).
[[nodiscard]] nlohmann::json model_data(const ModelInfo& model, bool include_definition = false);

/// PATCH /models/{id}: a JSON Patch of a model, whose only writable member
/// is "decommissioned" (ADT's rule): every operation must be "replace" (or
/// "add") of "/decommissioned" with the value true; a decommissioned model
/// cannot be brought back. Throws ValidationError (JsonPatchInvalid, naming
/// the operation and why) for anything else, before changing anything, and
/// what TwinGraph::decommission_model throws (NotFoundError ModelNotFound).
/// Precondition: not called from a listener.
void update_model(TwinGraph& graph, std::string_view model_id, const nlohmann::json& patch);

/// What ADT's delete job does (POST /jobs/deletions): removes every
/// relationship, twin and model of the graph, as one atomic change (all or
/// nothing; one batch for a journal). Models are deleted dependents first.
/// Returns the counts removed {models, twins, relationships}. Throws what the
/// graph's deletes throw (nothing is changed then). Precondition: not called
/// from a listener.
struct DeletedCounts {
    std::size_t models = 0, twins = 0, relationships = 0;
};
DeletedCounts delete_all(TwinGraph& graph);

// --- components --------------------------------------------------------------------

/// One component of a twin, as GET /digitaltwins/{id}/components/{name}: its
/// properties and "$metadata". Throws NotFoundError: DigitalTwinNotFound for
/// an unknown twin, ComponentNotFound (naming the twin and the component)
/// when the twin's model declares no Component of that name.
[[nodiscard]] nlohmann::json get_component(const Snapshot& snapshot, std::string_view twin_id,
                                           std::string_view component_name);

/// PATCH /digitaltwins/{id}/components/{name}: `patch`'s paths are relative
/// to the component ("/setpoint" means "/<component_name>/setpoint"); the
/// If-Match etag is the twin's. Checks that the component exists and applies
/// the patch in one atomic change (TwinGraph::update_twin). Throws
/// NotFoundError (DigitalTwinNotFound, ComponentNotFound), and what
/// update_twin throws (ValidationError JsonPatchInvalid / ValidationFailed,
/// ConflictError PreconditionFailed). Precondition: not called from a listener.
void update_component(TwinGraph& graph, std::string_view twin_id, std::string_view component_name,
                      const nlohmann::json& patch, const std::optional<std::string>& if_match = std::nullopt);

/// `patch` with every operation's "path" prefixed by "/<component_name>"
/// (the name escaped as a JSON Pointer token). Operations that are not
/// objects, or have no string path, are kept as they are for update_twin to
/// report.
[[nodiscard]] nlohmann::json component_patch(std::string_view component_name, const nlohmann::json& patch);

}  // namespace twinsim::graph::adt
