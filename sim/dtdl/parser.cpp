// parse(): documents -> JSON -> elements -> references (with the resolver) ->
// cross-element rules -> Interface structs.

#include "twinsim/dtdl/parser.hpp"

#include <algorithm>
#include <numeric>
#include <set>

#include "twinsim/common/json_depth.hpp"
#include "twinsim/dtdl/detail/json_text.hpp"
#include "twinsim/dtdl/detail/model_graph.hpp"

namespace twinsim::dtdl {

bool ParseResult::valid() const {
    if (!unresolved.empty()) return false;
    return std::none_of(diagnostics.begin(), diagnostics.end(),
                        [](const Diagnostic& d) { return d.severity == Severity::error; });
}

std::vector<Diagnostic> ParseResult::errors() const {
    std::vector<Diagnostic> out;
    for (const auto& d : diagnostics)
        if (d.severity == Severity::error) out.push_back(d);
    return out;
}

namespace {

// Parses each document's text and reads its elements into the graph. Documents
// are read as they arrive because the text is needed once more (for the size
// limit of each Interface) and the graph does not keep it.
void add_documents(detail::ModelGraph& g, std::span<const Document> documents, bool allow_undefined_extensions) {
    for (const auto& d : documents) {
        const int index = static_cast<int>(g.sources.size());
        g.sources.push_back(d.source.empty() ? "<document " + std::to_string(index + 1) + ">" : d.source);
        // Refused before parsing: the reader recurses once per level, and copies
        // the path of every level into each one below it.
        if (auto deep = detail::find_deep_value(d.text)) {
            g.roots.emplace_back();
            g.report(Severity::error, index, deep->id, deep->pointer, "MaxDepth",
                     "the document " + json_depth_reason() + " (at " + deep->position + ")");
            continue;
        }
        std::string error;
        auto parsed = detail::parse_json_text(d.text, error);
        if (!parsed) {
            g.roots.emplace_back();  // keeps roots indexed like sources
            g.report(Severity::error, index, "", "", error.rfind("text is not valid UTF-8", 0) == 0 ? "Utf8" : "JsonSyntax", error);
            continue;
        }
        g.roots.push_back(std::move(*parsed));
        detail::read_document(g, index, allow_undefined_extensions);
        detail::check_interface_text_sizes(g, index, d.text);
    }
}

}  // namespace

ParseResult parse(std::span<const Document> documents, const ParseOptions& options) {
    detail::ModelGraph g;
    add_documents(g, documents, options.allow_undefined_extensions);
    if (options.resolver) {
        std::set<std::string> asked;
        while (true) {
            auto missing = detail::unresolved_ids(g);
            std::vector<std::string> fresh;
            for (auto& id : missing)
                if (asked.insert(id).second) fresh.push_back(id);
            if (fresh.empty()) break;
            auto more = options.resolver(fresh);
            if (more.empty()) break;
            add_documents(g, more, options.allow_undefined_extensions);
        }
    }
    ParseResult result;
    result.unresolved = detail::link_references(g);
    detail::check_graph(g);
    for (const auto& node : g.nodes)
        if (node.cls == detail::Cls::Interface && !node.id.empty()) result.interface_ids.push_back(node.id);
    // Only a valid, complete model is built: an invalid one may hold reference
    // cycles (a schema containing itself) that shared schema pointers cannot own.
    const bool has_error = std::any_of(g.diagnostics.begin(), g.diagnostics.end(),
                                       [](const Diagnostic& d) { return d.severity == Severity::error; });
    if (!has_error && result.unresolved.empty()) result.interfaces = detail::build_interfaces(g);
    // Diagnostics in document order (stable within a document).
    std::vector<std::size_t> order(g.diagnostics.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return g.diag_doc[a] < g.diag_doc[b]; });
    result.diagnostics.reserve(order.size());
    for (auto i : order) result.diagnostics.push_back(std::move(g.diagnostics[i]));
    return result;
}

}  // namespace twinsim::dtdl
