#pragma once
// The whole state of a twin graph as copy-on-write parts (internal).
//
// Copying a GraphState copies a handful of shared pointers per table and per
// column — O(tables + columns), independent of the number of twins — and is
// what TwinGraph::snapshot() and atomically() do. The writer mutates its own
// GraphState through the `mut` accessors, which copy only the chunks touched
// (see cow_vector.hpp for why that is safe while snapshots are read on other
// threads).

#include <cstdint>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/graph/detail/cow_vector.hpp"
#include "twinsim/graph/detail/sharded_index.hpp"
#include "twinsim/graph/snapshot.hpp"

namespace twinsim::graph::detail {

using JsonPtr = std::shared_ptr<const nlohmann::json>;
/// Sentinel of an absent sourceTime.
inline constexpr std::int64_t no_time = INT64_MIN;

/// Per-twin bookkeeping, one chunked array indexed by TwinIndex.
struct TwinMeta {
    std::uint32_t table = no_index;  ///< PropertyTable holding the twin's row; no_index = no twin here
    std::uint32_t row = 0;
    std::uint64_t etag = 0;          ///< the $etag is W/"<etag in hex>"
    std::int64_t last_update = 0;    ///< $metadata.$lastUpdateTime (ns)
};

/// One relationship, indexed by RelationshipIndex.
struct RelRecord {
    TwinIndex source = no_index;     ///< no_index = free slot
    TwinIndex target = no_index;
    std::uint32_t name = 0;          ///< into GraphState::names
    std::uint64_t etag = 0;
    std::int64_t last_update = 0;
};

/// Indices of a twin's outgoing or incoming relationships (insertion order).
using Adjacency = std::vector<RelationshipIndex>;

/// One property column of a model's table: typed values plus presence,
/// per-property lastUpdateTime and (sparse) sourceTime.
struct Column {
    dtdl::ColumnType type = dtdl::ColumnType::json;
    CowVector<double> f64;
    CowVector<std::int64_t> i64;
    CowVector<std::uint8_t, 8> b;
    CowVector<std::string> str;
    CowVector<JsonPtr> js;
    CowVector<std::uint64_t> present;  ///< bitmap, one bit per row
    CowVector<std::int64_t> last_update;
    /// sourceTime stored with its top bit flipped, so the default 0 reads as
    /// no_time and the column stays unallocated until a sourceTime is set.
    CowVector<std::int64_t> source_time;

    [[nodiscard]] bool has(std::uint32_t row) const noexcept {
        return ((present[row >> 6] >> (row & 63)) & 1U) != 0;
    }
    [[nodiscard]] std::int64_t source_time_at(std::uint32_t row) const noexcept { return source_time[row] ^ no_time; }
    void set_source_time(std::uint32_t row, std::int64_t t, CopyCounter& counter) {
        if (source_time[row] != (t ^ no_time)) source_time.set(row, t ^ no_time, counter);
    }
};

/// The twins of one model: rows <-> twins and one Column per PropertySlot of
/// the model's PropertyLayout (same order). Tables are keyed by model id, not
/// by InterfaceIndex, because adding models re-indexes the ModelSet.
struct PropertyTable {
    std::string model_id;
    dtdl::InterfaceIndex interface = no_index;  ///< in the current ModelSet (no_index once the model is deleted)
    std::size_t live = 0;                       ///< twins in this table
    std::uint32_t rows = 0;                     ///< rows ever allocated
    CowVector<TwinIndex> row_twin;              ///< no_index for a free row
    CowBox<std::vector<std::uint32_t>> free_rows;
    std::vector<Column> columns;
};

struct GraphState {
    // models
    std::shared_ptr<const dtdl::ModelSet> models;
    std::shared_ptr<const std::vector<ModelInfo>> model_infos = std::make_shared<std::vector<ModelInfo>>();  ///< sorted by id
    std::vector<PropertyTable> tables;

    // twins, by TwinIndex
    CowVector<std::string> twin_ids;
    CowVector<TwinMeta> twin_meta;
    CowVector<JsonPtr> components;   ///< {"<component>": {props..., "$metadata": {...}}} or null
    CowVector<Adjacency> out;
    CowVector<Adjacency> in;
    ShardedIndex twin_index;
    CowBox<std::vector<TwinIndex>> free_twins;
    std::size_t twin_count = 0;

    // relationships, by RelationshipIndex
    CowVector<RelRecord> rels;
    CowVector<std::string> rel_ids;
    CowVector<JsonPtr> rel_props;    ///< object of the relationship's properties, or null
    ShardedIndex rel_index;
    CowBox<std::vector<RelationshipIndex>> free_rels;
    std::size_t relationship_count = 0;
    CowBox<std::vector<std::string>> names;  ///< interned relationship names
    std::shared_ptr<const std::unordered_map<std::string, std::uint32_t>> name_index =
        std::make_shared<std::unordered_map<std::string, std::uint32_t>>();

    std::uint64_t etag_counter = 0;
    /// The last change-event sequence number when this state was snapshotted
    /// (set by TwinGraph::snapshot(); a graph cloned from it continues from there).
    std::uint64_t sequence = 0;

    // --- helpers shared by Snapshot and TwinGraph -----------------------------
    [[nodiscard]] static std::uint64_t twin_hash(std::string_view id) noexcept {
        return mix_hash(std::hash<std::string_view>{}(id));
    }
    /// The unmixed hash of a relationship id; rel_hash_of(source, it) is its key's hash.
    [[nodiscard]] static std::uint64_t rel_id_hash(std::string_view id) noexcept { return std::hash<std::string_view>{}(id); }
    [[nodiscard]] static std::uint64_t rel_hash_of(TwinIndex source, std::uint64_t id_hash) noexcept {
        return mix_hash(id_hash ^ (std::uint64_t{source} * 0x9E3779B97F4A7C15ULL));
    }
    [[nodiscard]] static std::uint64_t rel_hash(TwinIndex source, std::string_view id) noexcept {
        return rel_hash_of(source, rel_id_hash(id));
    }
    [[nodiscard]] std::optional<TwinIndex> find_twin(std::string_view id) const { return find_twin(id, twin_hash(id)); }
    /// find_twin with `hash` == twin_hash(id), computed beforehand.
    [[nodiscard]] std::optional<TwinIndex> find_twin(std::string_view id, std::uint64_t hash) const {
        return twin_index.find(hash, [&](std::uint32_t i) { return twin_ids[i] == id; });
    }
    [[nodiscard]] std::optional<RelationshipIndex> find_rel(TwinIndex source, std::string_view id) const {
        return find_rel(source, id, rel_hash(source, id));
    }
    /// find_rel with `hash` == rel_hash(source, id), computed beforehand.
    [[nodiscard]] std::optional<RelationshipIndex> find_rel(TwinIndex source, std::string_view id, std::uint64_t hash) const {
        return rel_index.find(hash, [&](std::uint32_t r) { return rels[r].source == source && rel_ids[r] == id; });
    }
    [[nodiscard]] bool alive(TwinIndex t) const noexcept { return t < twin_meta.size() && twin_meta[t].table != no_index; }
    [[nodiscard]] bool rel_alive(RelationshipIndex r) const noexcept { return r < rels.size() && rels[r].source != no_index; }
    [[nodiscard]] const dtdl::CompiledInterface& model_of(TwinIndex t) const {
        return models->at(tables[twin_meta[t].table].interface);
    }
    [[nodiscard]] const ModelInfo* model_info(std::string_view id) const;
    /// A numeric cell (Snapshot::numeric_value). Precondition: alive(t).
    [[nodiscard]] std::optional<double> numeric_value(TwinIndex t, std::uint32_t column) const noexcept {
        const TwinMeta& m = twin_meta[t];
        const Column& c = tables[m.table].columns[column];
        if (!c.has(m.row)) return std::nullopt;
        switch (c.type) {
            case dtdl::ColumnType::float64: return c.f64[m.row];
            case dtdl::ColumnType::int64: return static_cast<double>(c.i64[m.row]);
            case dtdl::ColumnType::boolean: return c.b[m.row] != 0 ? 1.0 : 0.0;
            default: return std::nullopt;
        }
    }
};

/// W/"<hex>"
[[nodiscard]] std::string format_etag(std::uint64_t etag);

}  // namespace twinsim::graph::detail
