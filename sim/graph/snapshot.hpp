#pragma once
// Snapshot: an immutable, consistent view of a TwinGraph at one moment.
// Taking one costs the same whatever the graph's size (it shares the graph's
// copy-on-write chunks); reading it never blocks the writer and never sees a
// later write. Snapshots are cheap to copy and safe to read from any number of
// threads at once.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::graph {

namespace detail {
struct GraphState;
}

/// Dense index of a twin: stable while the twin exists; the index of a deleted
/// twin may be reused by a later one. Indices are < twin_capacity().
using TwinIndex = std::uint32_t;
/// Dense index of a relationship, same rules (< relationship_capacity()).
using RelationshipIndex = std::uint32_t;
inline constexpr std::uint32_t no_index = 0xFFFFFFFFu;

/// What the graph knows about one uploaded model (an interface).
struct ModelInfo {
    std::string id;
    bool decommissioned = false;
    Timestamp upload_time;
    nlohmann::json definition;  ///< the DTDL interface as uploaded
};

/// A numeric property over the twins of a model, gathered in twin-index order.
struct NumericColumn {
    std::vector<TwinIndex> twins;      ///< twins of the model (and derived models if asked) that have the property set
    std::vector<double> values;        ///< same length; integers and booleans converted to double
    std::string unit;                  ///< the property's DTDL unit, empty when none
};

/// The read operations shared by Snapshot and TwinGraph. Every method is const
/// and thread-safe on a Snapshot. Methods taking string ids throw
/// NotFoundError naming the id when it does not exist.
class Snapshot {
public:
    /// An empty graph with no models.
    Snapshot();
    explicit Snapshot(std::shared_ptr<const detail::GraphState> state);

    // --- models ---------------------------------------------------------------
    /// The compiled models of every uploaded interface (decommissioned included).
    [[nodiscard]] const std::shared_ptr<const dtdl::ModelSet>& models() const noexcept;
    [[nodiscard]] std::vector<ModelInfo> list_models() const;
    /// Throws NotFoundError (ModelNotFound).
    [[nodiscard]] ModelInfo get_model(std::string_view model_id) const;

    // --- twins ----------------------------------------------------------------
    [[nodiscard]] std::size_t twin_count() const noexcept;
    [[nodiscard]] std::size_t twin_capacity() const noexcept;
    [[nodiscard]] bool contains(std::string_view twin_id) const;
    [[nodiscard]] std::optional<TwinIndex> find(std::string_view twin_id) const;
    /// True when `twin` is the index of an existing twin.
    [[nodiscard]] bool alive(TwinIndex twin) const noexcept;
    /// Precondition: alive(twin).
    [[nodiscard]] const std::string& twin_id(TwinIndex twin) const;
    /// Index of the twin's model in models(). Precondition: alive(twin).
    [[nodiscard]] dtdl::InterfaceIndex twin_model(TwinIndex twin) const;
    /// The twin as ADT JSON: $dtId, $etag, $metadata ($model, $lastUpdateTime,
    /// per property lastUpdateTime and sourceTime), set properties, components.
    [[nodiscard]] nlohmann::json get_twin(std::string_view twin_id) const;
    [[nodiscard]] nlohmann::json get_twin(TwinIndex twin) const;
    [[nodiscard]] std::string twin_etag(std::string_view twin_id) const;
    /// One property value (top-level property or "component/property"), or
    /// nullopt when unset. Throws NotFoundError for an unknown twin and
    /// ValidationError for a property the twin's model does not declare.
    [[nodiscard]] std::optional<nlohmann::json> get_property(std::string_view twin_id, std::string_view property) const;
    /// A numeric property over all twins of `model_id` (and of models derived
    /// from it when include_derived). Throws NotFoundError for an unknown model
    /// and ValidationError when the property is not numeric or not declared.
    [[nodiscard]] NumericColumn numeric_column(std::string_view model_id, std::string_view property,
                                               bool include_derived = true) const;
    /// A top-level numeric (double, integer or boolean) property of a twin by
    /// its slot in the twin's model layout; nullopt when unset. No lookup by
    /// name, no JSON: the read behaviour models and recorders use.
    /// Preconditions: alive(twin), `column` is a numeric slot of twin_model(twin).
    [[nodiscard]] std::optional<double> numeric_value(TwinIndex twin, std::uint32_t column) const;
    /// Every existing twin index, ascending.
    [[nodiscard]] std::vector<TwinIndex> twins() const;

    // --- relationships --------------------------------------------------------
    [[nodiscard]] std::size_t relationship_count() const noexcept;
    [[nodiscard]] std::size_t relationship_capacity() const noexcept;
    [[nodiscard]] bool relationship_alive(RelationshipIndex r) const noexcept;
    /// Throws NotFoundError (RelationshipNotFound / DigitalTwinNotFound).
    [[nodiscard]] nlohmann::json get_relationship(std::string_view source_id, std::string_view relationship_id) const;
    [[nodiscard]] nlohmann::json get_relationship(RelationshipIndex r) const;
    /// Outgoing relationships of a twin as ADT JSON, optionally of one name.
    [[nodiscard]] std::vector<nlohmann::json> list_relationships(std::string_view source_id,
                                                                 std::string_view relationship_name = {}) const;
    /// Incoming relationships: {"$relationshipId", "$sourceId", "$relationshipName", "$relationshipLink"}.
    [[nodiscard]] std::vector<nlohmann::json> list_incoming_relationships(std::string_view target_id) const;

    // --- topology (for algorithms; no JSON, no allocation) ----------------------
    /// Outgoing / incoming relationship indices of a twin. Precondition: alive(twin).
    [[nodiscard]] std::span<const RelationshipIndex> out_relationships(TwinIndex twin) const;
    [[nodiscard]] std::span<const RelationshipIndex> in_relationships(TwinIndex twin) const;
    /// Preconditions: relationship_alive(r).
    [[nodiscard]] TwinIndex source(RelationshipIndex r) const;
    [[nodiscard]] TwinIndex target(RelationshipIndex r) const;
    [[nodiscard]] const std::string& relationship_name(RelationshipIndex r) const;
    [[nodiscard]] const std::string& relationship_id(RelationshipIndex r) const;

    // --- version ----------------------------------------------------------------
    /// The graph's change count at this snapshot: strictly increases with
    /// every committed change to a twin or relationship (create, replace,
    /// patch, property write, delete), so two snapshots of one graph with the
    /// same version hold the same twins and relationships. Computed from the
    /// state (2 x the etag counter, which every write bumps, minus the live
    /// twins and relationships, which only deletes lower without a bump).
    /// Model operations do not change it (they change no twin). Continuation
    /// tokens of queries carry it.
    [[nodiscard]] std::uint64_t version() const noexcept;

    /// The sequence number of the last change event the graph had emitted when
    /// this snapshot was taken (0 for a graph that never emitted one). A graph
    /// cloned from the snapshot (TwinGraph::from_snapshot) numbers its events on from here.
    [[nodiscard]] std::uint64_t event_sequence() const noexcept;

    /// The shared state (for the graph layer's own algorithms).
    [[nodiscard]] const detail::GraphState& state() const noexcept { return *state_; }

private:
    std::shared_ptr<const detail::GraphState> state_;
};

}  // namespace twinsim::graph
