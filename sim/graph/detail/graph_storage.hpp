#pragma once
// Storage: placing checked twins and relationships into the columnar,
// copy-on-write GraphState (internal).
//
// GraphStorage owns the writer's GraphState and the counter of what
// copy-on-write has copied. Its methods allocate and free twin indices,
// table rows and relationship indices (reusing free lists), set and clear
// typed cells, keep the id indices and adjacency lists in step, and stamp
// etags. They assume their input was validated (twin_documents.hpp) and
// check nothing a client could get wrong: every precondition is the caller's.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/graph/detail/twin_documents.hpp"
#include "twinsim/graph/scalar_value.hpp"

namespace twinsim::graph::detail {

/// Sizes every array of a column (its typed values, presence bitmap,
/// lastUpdateTime and sourceTime) for `rows` rows; new rows read as unset.
void resize_column(Column& c, std::size_t rows, CopyCounter& copies);

struct GraphStorage {
    GraphState state;
    CopyCounter copies;

    /// The table of `model_id`, created (one column per slot of the model's layout) on first use.
    std::uint32_t table_for(std::string_view model_id, dtdl::InterfaceIndex interface);
    /// A free row of table `ti` (reused, or appended to every column), assigned to `twin`.
    std::uint32_t alloc_row(std::uint32_t ti, TwinIndex twin);
    /// Unsets one cell (presence bit, string/json payload, sourceTime).
    void clear_cell(Column& c, std::uint32_t row);
    /// Clears every cell of a row and returns it to the table's free list.
    void free_row(std::uint32_t ti, std::uint32_t row);
    /// Sets one cell from JSON. Precondition: `v` holds the column's type (validated).
    void set_cell(Column& c, std::uint32_t row, const nlohmann::json& v);
    /// set_cell(c, row, v.to_json()) without the JSON (a value validated
    /// against the column's schema).
    void set_scalar(Column& c, std::uint32_t row, const ScalarValue& v);
    /// A new twin index for `id` (reused or appended), entered in the id index.
    /// Throws GraphError (TooManyTwins) when the index space is exhausted.
    TwinIndex alloc_twin(std::string_view id) { return alloc_twin(id, GraphState::twin_hash(id)); }
    /// alloc_twin with `hash` == GraphState::twin_hash(id), computed beforehand.
    TwinIndex alloc_twin(std::string_view id, std::uint64_t hash);
    /// Stores a validated twin at index t (new: meta.table == no_index): its
    /// row (moved to another table on a model change), cells, a new etag,
    /// `now` as $lastUpdateTime and its components.
    void write_twin(TwinIndex t, const ParsedTwin& p, std::int64_t now, nlohmann::json components);
    /// Removes a twin. Precondition: it is alive and has no relationships.
    void remove_twin(TwinIndex t);
    /// The interned index of a relationship name.
    std::uint32_t intern(const std::string& name);
    /// A free relationship index (reused or appended). Throws GraphError (TooManyRelationships).
    RelationshipIndex alloc_rel();
    /// Removes a relationship from both adjacency lists, the id index and the arrays.
    void remove_rel(RelationshipIndex r);
    /// Stores a validated relationship; `existing` is no_index for a new one.
    /// Gives it a new etag and `now` as its last update; moves `p.props`.
    RelationshipIndex write_rel(RelationshipIndex existing, TwinIndex source, std::string_view rel_id, ParsedRel& p,
                                std::int64_t now);
};

}  // namespace twinsim::graph::detail
