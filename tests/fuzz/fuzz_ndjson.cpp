// Fuzz target: NDJSON bulk import (the ADT import-job format) into an empty
// graph. The input is the whole file.

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    twinsim::graph::TwinGraph graph;
    try {
        (void)twinsim::graph::import_ndjson(graph, in, "<fuzz>");
    } catch (const twinsim::Error&) {
    }
    return 0;
}
