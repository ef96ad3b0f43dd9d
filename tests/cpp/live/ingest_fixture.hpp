#pragma once
// The sample graph of scenarios/ingest (models.json, graph.ndjson) for the ingestion tests.

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "../test_support.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::test {

inline std::filesystem::path ingest_sample(const std::string& name) { return source_dir() / "scenarios" / "ingest" / name; }

inline std::unique_ptr<graph::TwinGraph> ingest_graph() {
    auto graph = std::make_unique<graph::TwinGraph>();
    const std::filesystem::path models[] = {ingest_sample("models.json")};
    graph->add_models(dtdl::read_documents(models));
    graph::import_ndjson(*graph, ingest_sample("graph.ndjson"));
    return graph;
}

/// A file in a fresh temporary folder, removed with the object.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() /
               ("twinsim-ingest-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + "-" +
                std::to_string(std::rand()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name, std::ios::binary) << text;
        return path / name;
    }
};

}  // namespace twinsim::test
