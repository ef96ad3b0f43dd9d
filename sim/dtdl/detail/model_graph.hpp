#pragma once
// The parser's working representation: every DTDL element found in the
// documents, with its class, version, context and member values, and the
// references between elements. Built by ElementReader (element_reader.cpp),
// checked by the cross-element rules (graph_rules.cpp), turned into the public
// structs of elements.hpp by build_interfaces (build_interfaces.cpp).

#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "twinsim/dtdl/detail/extensions.hpp"
#include "twinsim/dtdl/detail/metamodel.hpp"
#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/dtdl/elements.hpp"

namespace twinsim::dtdl::detail {

/// One value of an element-valued member.
struct Ref {
    int node = -1;                       ///< the element (inline, or resolved reference); -1 when none
    std::string id;                      ///< dependent reference as written (empty for inline)
    std::optional<SchemaKind> standard;  ///< a standard or extension schema string
    std::string path;                    ///< JSON Pointer of the value
};

/// One DTDL element.
struct Node {
    Cls cls = Cls::Interface;
    int version = 3;
    bool top_level = false;
    bool informal = false;   ///< informally co-typed (undefined extension in force)
    int doc = 0;
    /// The elements nested in one Interface (or top-level element) share a
    /// partition; unique across all documents (ModelGraph::new_partition).
    /// An element that is neither top-level nor an Interface may only be
    /// referenced from its own partition (DependencyReferenceable).
    int partition = 0;
    int parent = -1;         ///< structural parent
    Slot parent_slot = Slot::contents;
    std::string path;
    std::string id;          ///< "@id" when given
    std::string nearest_id;  ///< own id or nearest structural ancestor's
    std::vector<std::string> contexts;
    std::vector<std::string> cotypes;  ///< "@type" strings beyond the class
    std::optional<Cotype> semantic;    ///< semantic type (v2 table or QuantitativeTypes)
    bool value_annotation = false;
    bool override_ = false;
    std::string unit;
    std::string annotates;
    std::string overrides;

    std::string name;
    bool has_name = false;
    std::string comment;
    LocalizedText display_name;
    LocalizedText description;
    std::optional<bool> writable;
    std::optional<std::int64_t> min_multiplicity;
    std::optional<std::int64_t> max_multiplicity;
    std::string target;
    std::string value_schema;  ///< Enum: "integer" or "string" (canonical)
    const nlohmann::json* enum_value = nullptr;
    std::string enum_value_path;

    std::vector<std::pair<Slot, std::vector<Ref>>> refs;

    [[nodiscard]] const std::vector<Ref>* find(Slot s) const noexcept {
        for (const auto& [slot, v] : refs)
            if (slot == s) return &v;
        return nullptr;
    }
    std::vector<Ref>& slot(Slot s) {
        for (auto& [k, v] : refs)
            if (k == s) return v;
        return refs.emplace_back(s, std::vector<Ref>{}).second;
    }
};

/// Every element of every document, plus where diagnostics go.
struct ModelGraph {
    std::vector<Node> nodes;
    std::vector<std::string> sources;          ///< document names, by index
    std::deque<nlohmann::json> roots;          ///< parsed documents; a deque so nodes may point into them while more arrive
    std::unordered_map<std::string, int> by_id;
    std::vector<Diagnostic> diagnostics;
    std::vector<int> diag_doc;                 ///< document index of each diagnostic (for ordering)
    int next_partition = 0;                    ///< see Node::partition; never restarts, so no two documents share one

    int new_partition() noexcept { return next_partition++; }

    void report(Severity sev, int doc, std::string id, std::string path, std::string rule, std::string message) {
        diagnostics.push_back(Diagnostic{sev, sources[static_cast<std::size_t>(doc)], std::move(id), std::move(path),
                                         std::move(message), std::move(rule)});
        diag_doc.push_back(doc);
    }
    void error(const Node& n, std::string path, std::string rule, std::string message) {
        report(Severity::error, n.doc, n.nearest_id, std::move(path), std::move(rule), std::move(message));
    }
    void warning(const Node& n, std::string path, std::string rule, std::string message) {
        report(Severity::warning, n.doc, n.nearest_id, std::move(path), std::move(rule), std::move(message));
    }
};

/// Reads one parsed document into `graph` (appending nodes and diagnostics).
/// `doc` indexes graph.sources/graph.roots.
void read_document(ModelGraph& graph, int doc, bool allow_undefined_extensions);

/// Links dependent references to their elements; returns ids nobody defines.
[[nodiscard]] std::vector<std::string> link_references(ModelGraph& graph);

/// The dependent references no element defines (sorted, unique); reports nothing.
[[nodiscard]] std::vector<std::string> unresolved_ids(const ModelGraph& graph);

/// Applies the rules that span elements (paths, limits, inheritance, uniqueness).
void check_graph(ModelGraph& graph);

/// The DTDL v3 limit on the JSON text of each Interface (1 MiB, braces
/// included, descendant Interfaces excluded), for the Interfaces read from
/// document `doc`, whose text is `text`. Needs the text, which the graph does not keep.
void check_interface_text_sizes(ModelGraph& graph, int doc, std::string_view text);

/// Builds the public Interface structs for every Interface node.
[[nodiscard]] std::vector<Interface> build_interfaces(const ModelGraph& graph);

}  // namespace twinsim::dtdl::detail
