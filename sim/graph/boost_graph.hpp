#pragma once
// Boost.Graph adaptor: graph_traits and property maps over a Snapshot's
// topology, without copying it, so the BGL algorithms (breadth_first_search,
// dijkstra_shortest_paths, topological_sort, ...) run on the twin graph itself.
//
//   const Snapshot snap = graph.snapshot();
//   std::vector<double> dist(boost::num_vertices(snap));
//   boost::dijkstra_shortest_paths(snap, *snap.find("room-1"),
//       boost::weight_map(relationship_weight_map(snap, "length"))
//           .distance_map(boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, snap))));
//
// Vertices are twin indices (TwinIndex), edges relationship indices
// (RelationshipIndex); the graph is directed with in-edges (a
// BidirectionalGraph), a VertexListGraph, an EdgeListGraph and an
// AdjacencyGraph, and may have parallel edges (two relationships between the
// same twins). connected_components and other algorithms that need an
// undirected graph take undirected(snapshot), a view whose edges are the
// relationships in either direction.
//
// Deleted twins: num_vertices() is twin_capacity(), so vertex-indexed arrays
// can be indexed by TwinIndex directly. An index whose twin was deleted (or
// never used) is an isolated vertex: no edges, visited by vertex-list
// algorithms (it is a component of its own for connected_components and
// appears in a topological order). Use Snapshot::alive() to skip them.
// Edges are only the existing relationships; edge indices are
// < relationship_capacity(), which can exceed num_edges() after deletions:
// size edge-indexed storage with relationship_capacity().
//
// The adaptor only reads the snapshot, which is immutable: writes to the
// TwinGraph after snapshot() do not change what an algorithm sees, and any
// number of algorithms may run on one snapshot from several threads. The
// Snapshot must outlive the iterators and UndirectedSnapshot views taken from it.
//
// This header pulls in Boost: include it only where BGL is used.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/graph/adjacency_iterator.hpp>
#include <boost/graph/graph_traits.hpp>
#include <boost/graph/properties.hpp>
#include <boost/iterator/counting_iterator.hpp>
#include <boost/iterator/filter_iterator.hpp>
#include <boost/iterator/iterator_facade.hpp>
#include <boost/iterator/transform_iterator.hpp>
#include <boost/property_map/property_map.hpp>

#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/graph/snapshot.hpp"

namespace twinsim::graph {

class UndirectedSnapshot;

namespace bgl {

/// Every BGL traversal concept the directed adaptor models.
struct snapshot_traversal_tag : boost::bidirectional_graph_tag,
                                boost::vertex_list_graph_tag,
                                boost::edge_list_graph_tag,
                                boost::adjacency_graph_tag {};

/// Keeps the relationship indices that exist (EdgeListGraph's edges()).
struct RelationshipAlive {
    const Snapshot* snapshot = nullptr;
    bool operator()(RelationshipIndex r) const noexcept { return snapshot->relationship_alive(r); }
};

using vertex_iterator = boost::counting_iterator<TwinIndex>;
using incidence_iterator = const RelationshipIndex*;
using edge_iterator = boost::filter_iterator<RelationshipAlive, boost::counting_iterator<RelationshipIndex>>;

/// A relationship seen from one of its ends in an UndirectedSnapshot.
/// `reversed` is true when it was reached from its target. Two descriptors of
/// the same relationship compare equal whatever their orientation, as BGL
/// expects of an undirected graph.
struct UndirectedEdge {
    RelationshipIndex relationship = no_index;
    bool reversed = false;
    friend bool operator==(const UndirectedEdge& a, const UndirectedEdge& b) noexcept {
        return a.relationship == b.relationship;
    }
    friend bool operator<(const UndirectedEdge& a, const UndirectedEdge& b) noexcept {
        return a.relationship < b.relationship;
    }
};

/// The outgoing relationships of a twin, then its incoming ones (reversed).
class UndirectedOutEdgeIterator
    : public boost::iterator_facade<UndirectedOutEdgeIterator, UndirectedEdge, boost::forward_traversal_tag,
                                    UndirectedEdge> {
public:
    UndirectedOutEdgeIterator() = default;
    UndirectedOutEdgeIterator(incidence_iterator out, incidence_iterator out_end, incidence_iterator in)
        : out_(out), out_end_(out_end), in_(in) {}

private:
    friend class boost::iterator_core_access;
    [[nodiscard]] UndirectedEdge dereference() const noexcept {
        return out_ != out_end_ ? UndirectedEdge{*out_, false} : UndirectedEdge{*in_, true};
    }
    void increment() noexcept {
        if (out_ != out_end_) ++out_;
        else ++in_;
    }
    [[nodiscard]] bool equal(const UndirectedOutEdgeIterator& other) const noexcept {
        return out_ == other.out_ && in_ == other.in_;
    }

    incidence_iterator out_ = nullptr;
    incidence_iterator out_end_ = nullptr;
    incidence_iterator in_ = nullptr;
};

/// Existing relationships as undirected edges (reached from their source).
struct ToUndirectedEdge {
    UndirectedEdge operator()(RelationshipIndex r) const noexcept { return {r, false}; }
};

}  // namespace bgl

/// An undirected view of a snapshot: every relationship is an edge between its
/// two twins, listed among the out-edges of both. For connected_components
/// and other algorithms that require an undirected graph. Holds a copy of the
/// Snapshot (a reference count), so it stays valid on its own.
class UndirectedSnapshot {
public:
    explicit UndirectedSnapshot(Snapshot snapshot) : snapshot_(std::move(snapshot)) {}
    [[nodiscard]] const Snapshot& snapshot() const noexcept { return snapshot_; }

private:
    Snapshot snapshot_;
};

/// The undirected view of `snapshot` (no copy of the topology).
[[nodiscard]] inline UndirectedSnapshot undirected(const Snapshot& snapshot) { return UndirectedSnapshot(snapshot); }

}  // namespace twinsim::graph

namespace boost {

template <>
struct graph_traits<twinsim::graph::Snapshot> {
    using vertex_descriptor = twinsim::graph::TwinIndex;
    using edge_descriptor = twinsim::graph::RelationshipIndex;
    using directed_category = bidirectional_tag;
    using edge_parallel_category = allow_parallel_edge_tag;
    using traversal_category = twinsim::graph::bgl::snapshot_traversal_tag;

    using vertex_iterator = twinsim::graph::bgl::vertex_iterator;
    using out_edge_iterator = twinsim::graph::bgl::incidence_iterator;
    using in_edge_iterator = twinsim::graph::bgl::incidence_iterator;
    using edge_iterator = twinsim::graph::bgl::edge_iterator;
    using adjacency_iterator =
        adjacency_iterator_generator<twinsim::graph::Snapshot, vertex_descriptor, out_edge_iterator>::type;

    using vertices_size_type = std::size_t;
    using edges_size_type = std::size_t;
    using degree_size_type = std::size_t;

    static vertex_descriptor null_vertex() noexcept { return twinsim::graph::no_index; }
};

template <>
struct graph_traits<twinsim::graph::UndirectedSnapshot> {
    using vertex_descriptor = twinsim::graph::TwinIndex;
    using edge_descriptor = twinsim::graph::bgl::UndirectedEdge;
    using directed_category = undirected_tag;
    using edge_parallel_category = allow_parallel_edge_tag;
    struct traversal_category : incidence_graph_tag, vertex_list_graph_tag, edge_list_graph_tag, adjacency_graph_tag {};

    using vertex_iterator = twinsim::graph::bgl::vertex_iterator;
    using out_edge_iterator = twinsim::graph::bgl::UndirectedOutEdgeIterator;
    using edge_iterator =
        transform_iterator<twinsim::graph::bgl::ToUndirectedEdge, twinsim::graph::bgl::edge_iterator,
                           twinsim::graph::bgl::UndirectedEdge, twinsim::graph::bgl::UndirectedEdge>;
    using adjacency_iterator =
        adjacency_iterator_generator<twinsim::graph::UndirectedSnapshot, vertex_descriptor, out_edge_iterator>::type;

    using vertices_size_type = std::size_t;
    using edges_size_type = std::size_t;
    using degree_size_type = std::size_t;

    static vertex_descriptor null_vertex() noexcept { return twinsim::graph::no_index; }
};

/// vertex_index: the twin index itself; edge_index: the relationship index.
template <>
struct property_map<twinsim::graph::Snapshot, vertex_index_t> {
    using type = typed_identity_property_map<twinsim::graph::TwinIndex>;
    using const_type = type;
};
template <>
struct property_map<twinsim::graph::Snapshot, edge_index_t> {
    using type = typed_identity_property_map<twinsim::graph::RelationshipIndex>;
    using const_type = type;
};
template <>
struct property_map<twinsim::graph::UndirectedSnapshot, vertex_index_t> {
    using type = typed_identity_property_map<twinsim::graph::TwinIndex>;
    using const_type = type;
};

}  // namespace boost

namespace twinsim::graph {

// --- the directed graph (free functions found by argument-dependent lookup) ----

/// twin_capacity(): deleted twins are isolated vertices (see the top of this file).
[[nodiscard]] inline std::size_t num_vertices(const Snapshot& g) noexcept { return g.twin_capacity(); }
[[nodiscard]] inline std::pair<bgl::vertex_iterator, bgl::vertex_iterator> vertices(const Snapshot& g) noexcept {
    return {bgl::vertex_iterator(0), bgl::vertex_iterator(static_cast<TwinIndex>(g.twin_capacity()))};
}
/// The relationships that exist (relationship_count()).
[[nodiscard]] inline std::size_t num_edges(const Snapshot& g) noexcept { return g.relationship_count(); }
[[nodiscard]] inline std::pair<bgl::edge_iterator, bgl::edge_iterator> edges(const Snapshot& g) {
    const bgl::RelationshipAlive alive{&g};
    const auto end = static_cast<RelationshipIndex>(g.relationship_capacity());
    return {bgl::edge_iterator(alive, boost::counting_iterator<RelationshipIndex>(0), boost::counting_iterator<RelationshipIndex>(end)),
            bgl::edge_iterator(alive, boost::counting_iterator<RelationshipIndex>(end), boost::counting_iterator<RelationshipIndex>(end))};
}

/// Precondition: g.relationship_alive(e).
[[nodiscard]] inline TwinIndex source(RelationshipIndex e, const Snapshot& g) { return g.source(e); }
[[nodiscard]] inline TwinIndex target(RelationshipIndex e, const Snapshot& g) { return g.target(e); }

namespace bgl {
[[nodiscard]] inline std::pair<incidence_iterator, incidence_iterator> range(std::span<const RelationshipIndex> s) noexcept {
    return {s.data(), s.data() + s.size()};
}
}  // namespace bgl

/// Outgoing relationships of twin `v`; empty for a deleted twin (v < num_vertices(g)).
[[nodiscard]] inline std::pair<bgl::incidence_iterator, bgl::incidence_iterator> out_edges(TwinIndex v, const Snapshot& g) {
    if (!g.alive(v)) return {nullptr, nullptr};
    return bgl::range(g.out_relationships(v));
}
/// Incoming relationships of twin `v`; empty for a deleted twin.
[[nodiscard]] inline std::pair<bgl::incidence_iterator, bgl::incidence_iterator> in_edges(TwinIndex v, const Snapshot& g) {
    if (!g.alive(v)) return {nullptr, nullptr};
    return bgl::range(g.in_relationships(v));
}
[[nodiscard]] inline std::size_t out_degree(TwinIndex v, const Snapshot& g) {
    return g.alive(v) ? g.out_relationships(v).size() : 0;
}
[[nodiscard]] inline std::size_t in_degree(TwinIndex v, const Snapshot& g) {
    return g.alive(v) ? g.in_relationships(v).size() : 0;
}
[[nodiscard]] inline std::size_t degree(TwinIndex v, const Snapshot& g) { return out_degree(v, g) + in_degree(v, g); }

/// Targets of the outgoing relationships of `v`, one per relationship.
[[nodiscard]] inline std::pair<boost::graph_traits<Snapshot>::adjacency_iterator, boost::graph_traits<Snapshot>::adjacency_iterator>
adjacent_vertices(TwinIndex v, const Snapshot& g) {
    using iterator = boost::graph_traits<Snapshot>::adjacency_iterator;
    const auto [first, last] = out_edges(v, g);
    return {iterator(first, &g), iterator(last, &g)};
}

// --- index maps ------------------------------------------------------------------

[[nodiscard]] inline boost::typed_identity_property_map<TwinIndex> get(boost::vertex_index_t, const Snapshot&) noexcept {
    return {};
}
[[nodiscard]] inline TwinIndex get(boost::vertex_index_t, const Snapshot&, TwinIndex v) noexcept { return v; }
[[nodiscard]] inline boost::typed_identity_property_map<RelationshipIndex> get(boost::edge_index_t, const Snapshot&) noexcept {
    return {};
}
[[nodiscard]] inline RelationshipIndex get(boost::edge_index_t, const Snapshot&, RelationshipIndex e) noexcept { return e; }

// --- the undirected view -----------------------------------------------------------

[[nodiscard]] inline std::size_t num_vertices(const UndirectedSnapshot& g) noexcept { return g.snapshot().twin_capacity(); }
[[nodiscard]] inline std::pair<bgl::vertex_iterator, bgl::vertex_iterator> vertices(const UndirectedSnapshot& g) noexcept {
    return vertices(g.snapshot());
}
[[nodiscard]] inline std::size_t num_edges(const UndirectedSnapshot& g) noexcept { return g.snapshot().relationship_count(); }
[[nodiscard]] inline std::pair<boost::graph_traits<UndirectedSnapshot>::edge_iterator, boost::graph_traits<UndirectedSnapshot>::edge_iterator>
edges(const UndirectedSnapshot& g) {
    using iterator = boost::graph_traits<UndirectedSnapshot>::edge_iterator;
    const auto [first, last] = edges(g.snapshot());
    return {iterator(first, bgl::ToUndirectedEdge{}), iterator(last, bgl::ToUndirectedEdge{})};
}
/// The end the edge was reached from (the relationship's target when reversed).
[[nodiscard]] inline TwinIndex source(const bgl::UndirectedEdge& e, const UndirectedSnapshot& g) {
    return e.reversed ? g.snapshot().target(e.relationship) : g.snapshot().source(e.relationship);
}
[[nodiscard]] inline TwinIndex target(const bgl::UndirectedEdge& e, const UndirectedSnapshot& g) {
    return e.reversed ? g.snapshot().source(e.relationship) : g.snapshot().target(e.relationship);
}
/// Outgoing then incoming relationships of `v`; empty for a deleted twin.
[[nodiscard]] inline std::pair<bgl::UndirectedOutEdgeIterator, bgl::UndirectedOutEdgeIterator>
out_edges(TwinIndex v, const UndirectedSnapshot& g) {
    const auto [out, out_end] = out_edges(v, g.snapshot());
    const auto [in, in_end] = in_edges(v, g.snapshot());
    return {bgl::UndirectedOutEdgeIterator(out, out_end, in), bgl::UndirectedOutEdgeIterator(out_end, out_end, in_end)};
}
[[nodiscard]] inline std::size_t out_degree(TwinIndex v, const UndirectedSnapshot& g) { return degree(v, g.snapshot()); }
[[nodiscard]] inline std::size_t degree(TwinIndex v, const UndirectedSnapshot& g) { return degree(v, g.snapshot()); }
[[nodiscard]] inline std::pair<boost::graph_traits<UndirectedSnapshot>::adjacency_iterator,
                               boost::graph_traits<UndirectedSnapshot>::adjacency_iterator>
adjacent_vertices(TwinIndex v, const UndirectedSnapshot& g) {
    using iterator = boost::graph_traits<UndirectedSnapshot>::adjacency_iterator;
    const auto [first, last] = out_edges(v, g);
    return {iterator(first, &g), iterator(last, &g)};
}
[[nodiscard]] inline boost::typed_identity_property_map<TwinIndex> get(boost::vertex_index_t, const UndirectedSnapshot&) noexcept {
    return {};
}
[[nodiscard]] inline TwinIndex get(boost::vertex_index_t, const UndirectedSnapshot&, TwinIndex v) noexcept { return v; }

// --- value maps ----------------------------------------------------------------------

/// A readable property map from an index to a double, over values gathered
/// once when the map is made (copies of it share them). Keys are TwinIndex
/// (vertex maps) or RelationshipIndex (edge maps); UndirectedEdge keys read
/// their relationship, so an edge map serves both views.
class IndexedValueMap : public boost::put_get_helper<double, IndexedValueMap> {
public:
    using key_type = std::uint32_t;
    using value_type = double;
    using reference = double;
    using category = boost::readable_property_map_tag;

    IndexedValueMap() = default;
    explicit IndexedValueMap(std::shared_ptr<const std::vector<double>> values) : values_(std::move(values)) {}
    /// Precondition: key < size().
    double operator[](std::uint32_t key) const { return (*values_)[key]; }
    double operator[](const bgl::UndirectedEdge& e) const { return (*values_)[e.relationship]; }
    [[nodiscard]] std::size_t size() const noexcept { return values_ ? values_->size() : 0; }
    [[nodiscard]] const std::vector<double>& values() const noexcept { return *values_; }

private:
    std::shared_ptr<const std::vector<double>> values_;
};

/// The same weight for every edge (1 by default: hop counts).
[[nodiscard]] inline boost::static_property_map<double, RelationshipIndex> unit_weight_map(double weight = 1.0) {
    return boost::static_property_map<double, RelationshipIndex>(weight);
}

/// Edge weights from a numeric property of the relationships: the property
/// `property` of each relationship (optionally only of relationships named
/// `relationship_name`; others weigh `missing`), or `missing` where it is unset.
/// Reads every relationship's stored properties once, here
/// (O(relationship_capacity()), no JSON built); get() is then O(1). Throws
/// ValidationError naming the relationship when the property holds something
/// other than a number.
[[nodiscard]] inline IndexedValueMap relationship_weight_map(const Snapshot& g, std::string_view property,
                                                             double missing = 1.0,
                                                             std::string_view relationship_name = {}) {
    auto values = std::make_shared<std::vector<double>>(g.relationship_capacity(), missing);
    const detail::GraphState& state = g.state();
    for (RelationshipIndex r = 0; r < values->size(); ++r) {
        if (!g.relationship_alive(r)) continue;
        if (!relationship_name.empty() && g.relationship_name(r) != relationship_name) continue;
        const detail::JsonPtr& properties = state.rel_props[r];
        if (!properties || !properties->is_object()) continue;
        const auto found = properties->find(property);
        if (found == properties->end() || found->is_null()) continue;
        if (!found->is_number()) {
            std::string message = "relationship '";
            message += g.relationship_id(r);
            message += "' of twin '";
            message += g.twin_id(g.source(r));
            message += "': property '";
            message += property;
            message += "' is not a number, so it cannot be an edge weight";
            throw ValidationError("ValidationFailed", message);
        }
        (*values)[r] = found->get<double>();
    }
    return IndexedValueMap(std::move(values));
}

/// A vertex map of a numeric twin property: the value of `property` for each
/// twin whose model is `model_id` (or derives from it when include_derived),
/// `missing` (NaN by default) for every other index and where it is unset.
/// Gathered once with Snapshot::numeric_column (O(twins of the model)).
/// Throws as numeric_column: NotFoundError for an unknown model,
/// ValidationError when the property is not declared or not numeric.
[[nodiscard]] inline IndexedValueMap twin_property_map(const Snapshot& g, std::string_view model_id,
                                                       std::string_view property,
                                                       double missing = std::numeric_limits<double>::quiet_NaN(),
                                                       bool include_derived = true) {
    auto values = std::make_shared<std::vector<double>>(g.twin_capacity(), missing);
    const NumericColumn column = g.numeric_column(model_id, property, include_derived);
    for (std::size_t i = 0; i < column.twins.size(); ++i) (*values)[column.twins[i]] = column.values[i];
    return IndexedValueMap(std::move(values));
}

/// As above, over every model that declares `property` as a number (boolean,
/// integer or floating point), whatever the twin's model. Throws
/// ValidationError when no model declares it as a number.
[[nodiscard]] inline IndexedValueMap twin_property_map(const Snapshot& g, std::string_view property,
                                                       double missing = std::numeric_limits<double>::quiet_NaN()) {
    auto values = std::make_shared<std::vector<double>>(g.twin_capacity(), missing);
    bool declared = false;
    for (const dtdl::CompiledInterface& model : g.models()->interfaces()) {
        const dtdl::PropertySlot* slot = model.layout.find(property);
        if (slot == nullptr || (slot->type != dtdl::ColumnType::float64 && slot->type != dtdl::ColumnType::int64 &&
                                slot->type != dtdl::ColumnType::boolean))
            continue;
        declared = true;
        const NumericColumn column = g.numeric_column(model.definition->id, property, /*include_derived=*/false);
        for (std::size_t i = 0; i < column.twins.size(); ++i) (*values)[column.twins[i]] = column.values[i];
    }
    if (!declared) {
        std::string message = "no model declares a numeric property '";
        message += property;
        message += "'";
        throw ValidationError("ValidationFailed", message);
    }
    return IndexedValueMap(std::move(values));
}

}  // namespace twinsim::graph

// The functions above are found by argument-dependent lookup from inside the
// BGL algorithms; these using-declarations make the usual qualified calls
// (boost::num_vertices(g), boost::get(boost::vertex_index, g)) work too.
namespace boost {
using twinsim::graph::adjacent_vertices;
using twinsim::graph::degree;
using twinsim::graph::edges;
using twinsim::graph::get;
using twinsim::graph::in_degree;
using twinsim::graph::in_edges;
using twinsim::graph::num_edges;
using twinsim::graph::num_vertices;
using twinsim::graph::out_degree;
using twinsim::graph::out_edges;
using twinsim::graph::source;
using twinsim::graph::target;
using twinsim::graph::vertices;
}  // namespace boost
