#pragma once
// Graphs, bindings and runs shared by the [models] tests.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::test {

/// The DTDL interfaces of models/building.
inline const std::vector<dtdl::Document>& building_interfaces() {
    static const std::vector<dtdl::Document> documents = [] {
        const std::vector<std::filesystem::path> paths{source_dir() / "models" / "building"};
        return dtdl::read_documents(paths);
    }();
    return documents;
}

/// The bundled sample building (scenarios/building/building.ndjson).
inline const graph::Snapshot& sample_building() {
    static const graph::Snapshot snapshot = [] {
        graph::TwinGraph g;
        g.add_models(building_interfaces());
        graph::import_ndjson(g, source_dir() / "scenarios" / "building" / "building.ndjson");
        return g.snapshot();
    }();
    return snapshot;
}

/// A graph of `n` twins of one building model ("<prefix>-0000" ...), each
/// with the given properties.
inline graph::Snapshot fleet(const std::string& model, const std::string& prefix, int n,
                             const nlohmann::json& properties) {
    graph::TwinGraph g;
    g.add_models(building_interfaces());
    for (int i = 0; i < n; ++i) {
        nlohmann::json twin = properties;
        twin["$metadata"] = {{"$model", model}};
        std::string id = std::to_string(i);
        id = prefix + "-" + std::string(4 - std::min<std::size_t>(4, id.size()), '0') + id;
        g.upsert_twin(id, twin);
    }
    return g.snapshot();
}

inline constexpr const char* room_model = "dtmi:twinsim:building:Room;1";
inline constexpr const char* chiller_model = "dtmi:twinsim:building:Chiller;1";

/// The twins of `model` (or a model extending it), ascending.
inline std::vector<graph::TwinIndex> twins_of(const graph::Snapshot& g, const std::string& model) {
    std::vector<graph::TwinIndex> out;
    const auto base = g.models()->find(model);
    for (const graph::TwinIndex t : g.twins())
        if (base && g.models()->is_a(g.twin_model(t), *base)) out.push_back(t);
    std::sort(out.begin(), out.end());
    return out;
}

/// A binding of `model` to `twins` of `g`; `twins` must outlive it.
inline scenario::Binding bind(const graph::Snapshot& g, const std::string& model, const nlohmann::json& parameters,
                              const std::vector<graph::TwinIndex>& twins, std::size_t index = 0) {
    scenario::Binding b;
    b.index = index;
    b.model = model;
    b.parameters = parameters;
    b.twins = twins;
    b.graph = &g;
    return b;
}

inline scenario::RunOptions run_options(std::uint64_t seed = 1, std::uint64_t replication = 0) {
    scenario::RunOptions o;
    o.stream = {.seed = seed, .scenario = 0, .replication = replication};
    o.start = kernel::Instant{std::chrono::seconds{1'782'864'000}};  // 2026-07-01T00:00:00Z
    return o;
}

/// The parameter named by the ModelParameterError that `f` throws; "" when
/// it throws nothing; "<other>" for another exception.
template <class F>
std::string parameter_error(F&& f) {
    try {
        f();
    } catch (const scenario::ModelParameterError& e) {
        return e.parameter();
    } catch (...) {
        return "<other>";
    }
    return "";
}

/// Column of `property` in the model of twin `t`.
inline std::uint32_t column_of(const graph::Snapshot& g, graph::TwinIndex t, const std::string& property) {
    return g.models()->at(g.twin_model(t)).layout.find(property)->column;
}

/// The temperature of every twin of `twins` in the run, now.
inline std::vector<double> temperatures(const scenario::Run& run, const graph::Snapshot& g,
                                        const std::vector<graph::TwinIndex>& twins) {
    std::vector<double> out;
    for (const graph::TwinIndex t : twins) out.push_back(*run.value(t, column_of(g, t, "temperature")));
    return out;
}

}  // namespace twinsim::test
