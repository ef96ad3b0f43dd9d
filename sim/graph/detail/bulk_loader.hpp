#pragma once
// NDJSON import's entry point into TwinGraph's writer (internal).
//
// Import applies a million lines inside one TwinGraph::atomically group, and
// its cost there is mostly waiting for memory: each twin or relationship
// looks up one to three ids in the graph's hash indices, at random places
// far larger than the caches. A BulkLoader lets the importer (1) pass id
// hashes computed on the reader thread, so the writer's thread does not hash
// again, and (2) announce the lookups of the next lines before applying them
// (prefetch_* below), so their cache misses overlap instead of following
// one another. Creating goes through the same TwinGraph::Impl functions as
// TwinGraph::try_create_twin / try_create_relationship: the result, errors
// and events are the same.

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>

#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::graph::detail {

/// Hashes an importer may compute on any thread, ahead of the lines' turn.
struct BulkHashes {
    /// The twin index's hash of a $dtId (GraphState::twin_hash).
    [[nodiscard]] static std::uint64_t twin(std::string_view id) noexcept;
    /// The relationship id's part of its index hash (GraphState::rel_id_hash).
    [[nodiscard]] static std::uint64_t relationship_id(std::string_view id) noexcept;
};

struct BulkLoader {
    /// Holds the graph's writer lock until destroyed. Precondition: called
    /// on the thread running a TwinGraph::atomically body of `graph`, not
    /// from a listener; throws twinsim::UsageError otherwise.
    explicit BulkLoader(TwinGraph& graph);
    BulkLoader(const BulkLoader&) = delete;
    BulkLoader& operator=(const BulkLoader&) = delete;
    ~BulkLoader();

    /// TwinGraph::try_create_twin, with `hash` == BulkHashes::twin(twin_id).
    bool create_twin(std::string_view twin_id, std::uint64_t hash, std::string_view model_id,
                     std::span<const ScalarValue> properties, std::optional<Timestamp> last_update,
                     std::span<const PropertyTimes> times);
    /// TwinGraph::try_create_relationship, with the hashes of the source and
    /// target ids (BulkHashes::twin) and of the relationship id (BulkHashes::relationship_id).
    bool create_relationship(std::string_view source_id, std::uint64_t source_hash, std::string_view relationship_id,
                             std::uint64_t id_hash, std::string_view target_id, std::uint64_t target_hash,
                             std::string_view name, std::span<const ScalarValue> properties);

    // Cache hints for the lookups of lines about to be applied. Each stage
    // reads what the one before it fetched, so for a group of lines: every
    // line's stage 1, then every line's stage 2, and so on; the lines are then
    // applied. They change nothing, and a stale hint (an earlier line of the
    // group changed the index) costs only a wasted fetch.
    /// Stage 1: the index shard of a twin id.
    void prefetch_twin_shard(std::uint64_t hash) const noexcept;
    /// Stage 2: the slot the twin id's probe starts at.
    void prefetch_twin_slot(std::uint64_t hash) const noexcept;
    /// Stage 3: the twin the slot names, if any (its id, bookkeeping and
    /// adjacency), which it returns so that stage 4 can find its relationship.
    std::optional<TwinIndex> prefetch_twin(std::uint64_t hash) const noexcept;
    /// Stage 4: the text of twin t's id (held apart from the twin's entry
    /// when longer than a short string), which the lookup compares.
    void prefetch_twin_id(TwinIndex t) const noexcept;
    /// Stages 4 and 5: the shard, then the slot, of relationship id `id_hash` of twin `source`.
    void prefetch_relationship_shard(TwinIndex source, std::uint64_t id_hash) const noexcept;
    void prefetch_relationship_slot(TwinIndex source, std::uint64_t id_hash) const noexcept;

private:
    TwinGraph::Impl& impl_;
    std::unique_lock<std::recursive_mutex> lock_;
};

}  // namespace twinsim::graph::detail
