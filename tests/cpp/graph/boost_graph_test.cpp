// The Boost.Graph adaptor: BGL algorithms run on a Snapshot and give the exact
// answers of small hand-checked graphs.

#include "twinsim/graph/boost_graph.hpp"

#include <algorithm>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/connected_components.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/graph/graph_concepts.hpp>
#include <boost/graph/topological_sort.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::graph {
namespace {

using json = nlohmann::json;

// The adaptor models the concepts it claims.
BOOST_CONCEPT_ASSERT((boost::BidirectionalGraphConcept<Snapshot>));
BOOST_CONCEPT_ASSERT((boost::VertexListGraphConcept<Snapshot>));
BOOST_CONCEPT_ASSERT((boost::EdgeListGraphConcept<Snapshot>));
BOOST_CONCEPT_ASSERT((boost::AdjacencyGraphConcept<Snapshot>));
BOOST_CONCEPT_ASSERT((boost::ReadablePropertyGraphConcept<Snapshot, TwinIndex, boost::vertex_index_t>));
BOOST_CONCEPT_ASSERT((boost::IncidenceGraphConcept<UndirectedSnapshot>));
BOOST_CONCEPT_ASSERT((boost::VertexListGraphConcept<UndirectedSnapshot>));
BOOST_CONCEPT_ASSERT((boost::EdgeListGraphConcept<UndirectedSnapshot>));

constexpr const char* space_model = R"({
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:test:bgl:Space;1",
  "@type": "Interface",
  "contents": [
    {"@type": "Property", "name": "area", "schema": "double"},
    {"@type": "Property", "name": "level", "schema": "integer"},
    {"@type": "Property", "name": "label", "schema": "string"},
    {"@type": "Relationship", "name": "pipe",
     "properties": [{"@type": "Property", "name": "length", "schema": "double"},
                    {"@type": "Property", "name": "note", "schema": "string"}]}
  ]
})";

constexpr const char* room_model = R"({
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:test:bgl:Room;1",
  "@type": "Interface",
  "extends": "dtmi:test:bgl:Space;1",
  "contents": [{"@type": "Property", "name": "seats", "schema": "integer"}]
})";

void add_models(TwinGraph& g) {
    const std::vector<dtdl::Document> documents{{"space.json", space_model}, {"room.json", room_model}};
    g.add_models(documents);
}

void add_twin(TwinGraph& g, const std::string& id, json properties = json::object(),
              const char* model = "dtmi:test:bgl:Space;1") {
    properties["$metadata"] = {{"$model", model}};
    g.upsert_twin(id, properties);
}

void add_pipe(TwinGraph& g, const std::string& source, const std::string& target, double length) {
    g.upsert_relationship(source, source + "-" + target,
                          {{"$targetId", target}, {"$relationshipName", "pipe"}, {"length", length}});
}

// a -4-> b, a -1-> c, c -2-> b, b -5-> d, c -8-> d, d -3-> e (a DAG), and
// f -1-> g beside it, h alone.
void build_network(TwinGraph& g) {
    add_models(g);
    for (const char* id : {"a", "b", "c", "d", "e", "f", "g", "h"}) add_twin(g, id);
    add_pipe(g, "a", "b", 4);
    add_pipe(g, "a", "c", 1);
    add_pipe(g, "c", "b", 2);
    add_pipe(g, "b", "d", 5);
    add_pipe(g, "c", "d", 8);
    add_pipe(g, "d", "e", 3);
    add_pipe(g, "f", "g", 1);
}

TwinIndex index_of(const Snapshot& s, const char* id) {
    const auto found = s.find(id);
    REQUIRE(found.has_value());
    return *found;
}

struct ShortestPaths {
    std::vector<double> distance;
    std::vector<TwinIndex> predecessor;
};

template <typename WeightMap>
ShortestPaths dijkstra(const Snapshot& s, TwinIndex from, WeightMap weights) {
    ShortestPaths out{std::vector<double>(boost::num_vertices(s)), std::vector<TwinIndex>(boost::num_vertices(s))};
    const auto index = boost::get(boost::vertex_index, s);
    boost::dijkstra_shortest_paths(s, from,
                                   boost::weight_map(weights)
                                       .distance_map(boost::make_iterator_property_map(out.distance.begin(), index))
                                       .predecessor_map(boost::make_iterator_property_map(out.predecessor.begin(), index)));
    return out;
}

std::map<std::string, double> distances_by_id(const Snapshot& s, const std::vector<double>& distance) {
    std::map<std::string, double> out;
    for (TwinIndex v : s.twins())
        if (distance[v] < std::numeric_limits<double>::max()) out[s.twin_id(v)] = distance[v];
    return out;
}

std::size_t component_count(const Snapshot& s) {
    std::vector<std::size_t> component(boost::num_vertices(s));
    const UndirectedSnapshot view = undirected(s);
    return static_cast<std::size_t>(boost::connected_components(
        view, boost::make_iterator_property_map(component.begin(), boost::get(boost::vertex_index, view))));
}

TEST_CASE("the adaptor exposes the snapshot's topology", "[boost_graph]") {
    TwinGraph g;
    build_network(g);
    const Snapshot s = g.snapshot();
    CHECK(boost::num_vertices(s) == s.twin_capacity());
    CHECK(boost::num_edges(s) == 7);
    const TwinIndex a = index_of(s, "a");
    const TwinIndex b = index_of(s, "b");
    CHECK(boost::out_degree(a, s) == 2);
    CHECK(boost::in_degree(a, s) == 0);
    CHECK(boost::in_degree(b, s) == 2);
    CHECK(boost::degree(b, s) == 3);

    std::set<std::string> targets;
    for (auto [it, end] = boost::adjacent_vertices(a, s); it != end; ++it) targets.insert(s.twin_id(*it));
    CHECK(targets == std::set<std::string>{"b", "c"});

    // Every edge is an existing relationship, and source/target agree with the snapshot.
    std::size_t seen = 0;
    for (auto [it, end] = boost::edges(s); it != end; ++it, ++seen) {
        const RelationshipIndex r = *it;
        CHECK(s.relationship_alive(r));
        CHECK(boost::source(r, s) == s.source(r));
        CHECK(boost::target(r, s) == s.target(r));
        CHECK(boost::get(boost::edge_index, s, r) == r);
    }
    CHECK(seen == 7);
    for (auto [it, end] = boost::in_edges(b, s); it != end; ++it) CHECK(boost::target(*it, s) == b);
    CHECK(boost::get(boost::vertex_index, s, b) == b);

    // The undirected view lists each relationship at both ends.
    const UndirectedSnapshot view = undirected(s);
    CHECK(boost::out_degree(b, view) == 3);
    std::set<std::string> neighbours;
    for (auto [it, end] = boost::out_edges(b, view); it != end; ++it) {
        CHECK(boost::source(*it, view) == b);
        neighbours.insert(s.twin_id(boost::target(*it, view)));
    }
    CHECK(neighbours == std::set<std::string>{"a", "c", "d"});
}

TEST_CASE("breadth_first_search gives hop distances", "[boost_graph]") {
    TwinGraph g;
    build_network(g);
    const Snapshot s = g.snapshot();
    std::vector<std::size_t> hops(boost::num_vertices(s), std::numeric_limits<std::size_t>::max());
    const TwinIndex a = index_of(s, "a");
    hops[a] = 0;
    boost::breadth_first_search(
        s, a,
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(
            boost::make_iterator_property_map(hops.begin(), boost::get(boost::vertex_index, s)), boost::on_tree_edge()))));
    std::map<std::string, std::size_t> reached;
    for (TwinIndex v : s.twins())
        if (hops[v] != std::numeric_limits<std::size_t>::max()) reached[s.twin_id(v)] = hops[v];
    CHECK(reached == std::map<std::string, std::size_t>{{"a", 0}, {"b", 1}, {"c", 1}, {"d", 2}, {"e", 3}});
}

TEST_CASE("dijkstra_shortest_paths with weights from a relationship property", "[boost_graph]") {
    TwinGraph g;
    build_network(g);
    const Snapshot s = g.snapshot();
    const TwinIndex a = index_of(s, "a");
    const ShortestPaths paths = dijkstra(s, a, relationship_weight_map(s, "length"));
    CHECK(distances_by_id(s, paths.distance) ==
          std::map<std::string, double>{{"a", 0}, {"b", 3}, {"c", 1}, {"d", 8}, {"e", 11}});
    auto predecessor = [&](const char* id) { return s.twin_id(paths.predecessor[index_of(s, id)]); };
    CHECK(predecessor("c") == "a");
    CHECK(predecessor("b") == "c");
    CHECK(predecessor("d") == "b");
    CHECK(predecessor("e") == "d");
    CHECK(paths.predecessor[a] == a);

    SECTION("unit weights count hops") {
        const ShortestPaths hops = dijkstra(s, a, unit_weight_map());
        CHECK(distances_by_id(s, hops.distance) ==
              std::map<std::string, double>{{"a", 0}, {"b", 1}, {"c", 1}, {"d", 2}, {"e", 3}});
    }
    SECTION("a relationship without the property weighs the default") {
        g.upsert_relationship("a", "a-e", {{"$targetId", "e"}, {"$relationshipName", "pipe"}});
        const Snapshot later = g.snapshot();
        CHECK(distances_by_id(later, dijkstra(later, a, relationship_weight_map(later, "length", 2.5)).distance)
                  .at("e") == 2.5);
    }
    SECTION("a non-numeric weight property is refused, naming the relationship") {
        g.upsert_relationship("a", "a-e", {{"$targetId", "e"}, {"$relationshipName", "pipe"}, {"note", "wide"}});
        CHECK_THROWS_WITH(relationship_weight_map(g.snapshot(), "note"), Catch::Contains("a-e") && Catch::Contains("note"));
    }
}

TEST_CASE("connected_components on the undirected view", "[boost_graph]") {
    TwinGraph g;
    build_network(g);
    const Snapshot s = g.snapshot();
    REQUIRE(s.twin_capacity() == s.twin_count());
    std::vector<std::size_t> component(boost::num_vertices(s));
    const UndirectedSnapshot view = undirected(s);
    const auto count = boost::connected_components(
        view, boost::make_iterator_property_map(component.begin(), boost::get(boost::vertex_index, view)));
    CHECK(count == 3);  // {a..e}, {f, g}, {h}
    auto component_of = [&](const char* id) { return component[index_of(s, id)]; };
    for (const char* id : {"b", "c", "d", "e"}) CHECK(component_of(id) == component_of("a"));
    CHECK(component_of("f") == component_of("g"));
    CHECK(component_of("f") != component_of("a"));
    CHECK(component_of("h") != component_of("a"));
    CHECK(component_of("h") != component_of("f"));

    SECTION("joining two parts") {
        add_pipe(g, "e", "f", 1);
        CHECK(component_count(g.snapshot()) == 2);
        CHECK(component_count(s) == 3);  // the earlier snapshot is unchanged
    }
}

TEST_CASE("topological_sort orders a DAG and refuses a cycle", "[boost_graph]") {
    TwinGraph g;
    build_network(g);
    const Snapshot s = g.snapshot();
    std::vector<TwinIndex> reverse_order;
    boost::topological_sort(s, std::back_inserter(reverse_order));
    CHECK(reverse_order.size() == boost::num_vertices(s));
    std::vector<std::size_t> position(boost::num_vertices(s));
    for (std::size_t i = 0; i < reverse_order.size(); ++i) position[reverse_order[i]] = reverse_order.size() - 1 - i;
    std::size_t checked = 0;
    for (auto [it, end] = boost::edges(s); it != end; ++it, ++checked)
        CHECK(position[boost::source(*it, s)] < position[boost::target(*it, s)]);
    CHECK(checked == 7);

    add_pipe(g, "e", "a", 1);  // a -> c -> d -> e -> a
    const Snapshot cyclic = g.snapshot();
    std::vector<TwinIndex> ignored;
    CHECK_THROWS_AS(boost::topological_sort(cyclic, std::back_inserter(ignored)), boost::not_a_dag);
    // The snapshot taken before the cycle still sorts.
    reverse_order.clear();
    CHECK_NOTHROW(boost::topological_sort(s, std::back_inserter(reverse_order)));
}

TEST_CASE("a deleted twin is an isolated vertex", "[boost_graph]") {
    TwinGraph g;
    build_network(g);
    add_twin(g, "x");
    add_pipe(g, "x", "a", 1);
    add_pipe(g, "b", "x", 1);
    const TwinIndex x = index_of(g.snapshot(), "x");
    g.delete_twin("x", std::nullopt, /*cascade=*/true);

    const Snapshot s = g.snapshot();
    REQUIRE_FALSE(s.alive(x));
    REQUIRE(x < boost::num_vertices(s));
    CHECK(boost::num_vertices(s) == s.twin_capacity());
    CHECK(boost::num_edges(s) == 7);
    CHECK(boost::out_degree(x, s) == 0);
    CHECK(boost::in_degree(x, s) == 0);
    CHECK(boost::out_edges(x, s).first == boost::out_edges(x, s).second);
    CHECK(boost::out_degree(x, undirected(s)) == 0);
    for (auto [it, end] = boost::edges(s); it != end; ++it) {
        CHECK(boost::source(*it, s) != x);
        CHECK(boost::target(*it, s) != x);
    }
    // Every unused index is a component of its own.
    const std::size_t dead = s.twin_capacity() - s.twin_count();
    CHECK(dead >= 1);
    CHECK(component_count(s) == 3 + dead);

    const ShortestPaths paths = dijkstra(s, index_of(s, "a"), relationship_weight_map(s, "length"));
    CHECK(paths.distance[x] == std::numeric_limits<double>::max());
    CHECK(distances_by_id(s, paths.distance).at("e") == 11);
}

TEST_CASE("writes after a snapshot do not change what an algorithm sees", "[boost_graph]") {
    TwinGraph g;
    build_network(g);
    const Snapshot before = g.snapshot();
    const TwinIndex a = index_of(before, "a");

    add_pipe(g, "a", "e", 0.5);                                   // a shortcut
    g.update_relationship("c", "c-b", json::parse(R"([{"op": "replace", "path": "/length", "value": 10}])"));
    g.delete_relationship("d", "d-e");
    add_twin(g, "late");
    add_pipe(g, "late", "a", 1);

    const std::map<std::string, double> expected_before{{"a", 0}, {"b", 3}, {"c", 1}, {"d", 8}, {"e", 11}};
    CHECK(distances_by_id(before, dijkstra(before, a, relationship_weight_map(before, "length")).distance) ==
          expected_before);
    CHECK(boost::num_edges(before) == 7);
    CHECK_FALSE(before.contains("late"));

    const Snapshot after = g.snapshot();
    CHECK(distances_by_id(after, dijkstra(after, a, relationship_weight_map(after, "length")).distance) ==
          std::map<std::string, double>{{"a", 0}, {"b", 4}, {"c", 1}, {"d", 9}, {"e", 0.5}});
    CHECK(boost::num_edges(after) == 8);
}

TEST_CASE("vertex maps read numeric twin properties", "[boost_graph]") {
    TwinGraph g;
    add_models(g);
    add_twin(g, "s1", {{"area", 12.5}, {"level", 2}});
    add_twin(g, "s2", {{"label", "no area"}});
    add_twin(g, "r1", {{"area", 30.0}, {"seats", 8}}, "dtmi:test:bgl:Room;1");
    const Snapshot s = g.snapshot();
    const TwinIndex s1 = index_of(s, "s1");
    const TwinIndex s2 = index_of(s, "s2");
    const TwinIndex r1 = index_of(s, "r1");

    const IndexedValueMap area = twin_property_map(s, "dtmi:test:bgl:Space;1", "area");
    CHECK(boost::get(area, s1) == 12.5);
    CHECK(std::isnan(boost::get(area, s2)));
    CHECK(boost::get(area, r1) == 30.0);  // derived models included

    const IndexedValueMap own_only = twin_property_map(s, "dtmi:test:bgl:Space;1", "area", -1.0, false);
    CHECK(boost::get(own_only, r1) == -1.0);

    const IndexedValueMap seats = twin_property_map(s, "seats", 0.0);  // whatever the model
    CHECK(boost::get(seats, r1) == 8.0);
    CHECK(boost::get(seats, s1) == 0.0);
    const IndexedValueMap level = twin_property_map(s, "level");
    CHECK(boost::get(level, s1) == 2.0);

    CHECK_THROWS_AS(twin_property_map(s, "label"), ValidationError);
    CHECK_THROWS_AS(twin_property_map(s, "nothing"), ValidationError);
    CHECK_THROWS_AS(twin_property_map(s, "dtmi:test:bgl:Nope;1", "area"), NotFoundError);
}

}  // namespace
}  // namespace twinsim::graph
