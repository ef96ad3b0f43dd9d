#pragma once
// Shared by the fuzz targets (tests/fuzz, docs/fuzzing.md): a small twin graph
// to query and patch, built once per process from NDJSON text.
//
// Every target passes the input to one library entry point and catches only
// twinsim::Error, the family the library documents for bad input. Anything
// else (a crash, a sanitizer report, another exception, a leak, a timeout)
// is a finding.

#include <cstdio>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <unistd.h>

#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::fuzz {

/// Models, twins and relationships in the ADT import format: a building, a
/// floor with two rooms (one with a component) and a chiller.
inline constexpr const char* sample_ndjson = R"({"Section":"Header"}
{"fileVersion":"1.0.0","author":"twinsim fuzz","organization":"twinsim"}
{"Section":"Models"}
{"@id":"dtmi:fuzz:Space;1","@type":"Interface","@context":"dtmi:dtdl:context;3","contents":[{"@type":"Property","name":"name","schema":"string","writable":true},{"@type":"Relationship","name":"contains","target":"dtmi:fuzz:Space;1"}]}
{"@id":"dtmi:fuzz:Sensor;1","@type":"Interface","@context":"dtmi:dtdl:context;3","contents":[{"@type":"Property","name":"reading","schema":"double","writable":true}]}
{"@id":"dtmi:fuzz:Room;1","@type":"Interface","@context":"dtmi:dtdl:context;3","extends":"dtmi:fuzz:Space;1","contents":[{"@type":"Property","name":"temperature","schema":"double","writable":true},{"@type":"Property","name":"capacity","schema":"integer","writable":true},{"@type":"Property","name":"occupied","schema":"boolean","writable":true},{"@type":"Property","name":"tags","schema":{"@type":"Array","elementSchema":"string"},"writable":true},{"@type":"Property","name":"limits","schema":{"@type":"Object","fields":[{"name":"low","schema":"double"},{"name":"high","schema":"double"}]},"writable":true},{"@type":"Property","name":"attributes","schema":{"@type":"Map","mapKey":{"name":"k","schema":"string"},"mapValue":{"name":"v","schema":"string"}},"writable":true},{"@type":"Component","name":"sensor","schema":"dtmi:fuzz:Sensor;1"},{"@type":"Relationship","name":"servedBy","target":"dtmi:fuzz:Chiller;1","properties":[{"@type":"Property","name":"share","schema":"double","writable":true}]}]}
{"@id":"dtmi:fuzz:Chiller;1","@type":"Interface","@context":"dtmi:dtdl:context;3","contents":[{"@type":"Property","name":"power","schema":"double","writable":true},{"@type":"Property","name":"state","schema":{"@type":"Enum","valueSchema":"string","enumValues":[{"name":"on","enumValue":"on"},{"name":"off","enumValue":"off"}]},"writable":true}]}
{"Section":"Twins"}
{"$dtId":"building","$metadata":{"$model":"dtmi:fuzz:Space;1"},"name":"Building"}
{"$dtId":"floor-1","$metadata":{"$model":"dtmi:fuzz:Space;1"},"name":"Floor 1"}
{"$dtId":"room-1","$metadata":{"$model":"dtmi:fuzz:Room;1"},"name":"Room 1","temperature":21.5,"capacity":4,"occupied":true,"tags":["north","quiet"],"limits":{"low":18.0,"high":26.0},"attributes":{"wing":"A"},"sensor":{"$metadata":{},"reading":0.5}}
{"$dtId":"room-2","$metadata":{"$model":"dtmi:fuzz:Room;1"},"name":"Room 2","temperature":27.0,"capacity":12,"occupied":false,"sensor":{"$metadata":{}}}
{"$dtId":"chiller-1","$metadata":{"$model":"dtmi:fuzz:Chiller;1"},"power":120.0,"state":"on"}
{"Section":"Relationships"}
{"$dtId":"building","$relationshipId":"b-f1","$targetId":"floor-1","$relationshipName":"contains"}
{"$dtId":"floor-1","$relationshipId":"f1-r1","$targetId":"room-1","$relationshipName":"contains"}
{"$dtId":"floor-1","$relationshipId":"f1-r2","$targetId":"room-2","$relationshipName":"contains"}
{"$dtId":"room-1","$relationshipId":"r1-c1","$targetId":"chiller-1","$relationshipName":"servedBy","share":0.6}
{"$dtId":"room-2","$relationshipId":"r2-c1","$targetId":"chiller-1","$relationshipName":"servedBy","share":0.4}
)";

/// The sample graph, built on first use (a failure to build it is a bug in
/// the sample, so it throws out of the target and stops the run).
inline const graph::Snapshot& sample_snapshot() {
    static const graph::Snapshot snapshot = [] {
        graph::TwinGraph graph;
        std::istringstream in(sample_ndjson);
        try {
            (void)graph::import_ndjson(graph, in, "<fuzz sample>");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "the fuzz sample graph does not import: %s\n", e.what());
            if (const auto* import = dynamic_cast<const graph::ImportError*>(&e))
                for (const auto& p : import->problems()) std::fprintf(stderr, "  line %zu: %s\n", static_cast<std::size_t>(p.line), p.message.c_str());
            throw;
        }
        return graph.snapshot();
    }();
    return snapshot;
}

/// Writes the input to this process's scratch file
/// ("twinsim-fuzz-<name>-<pid>.h5" in the temporary folder, the same path on
/// every call) and returns its path: for readers that take a file (HDF5).
inline const std::filesystem::path& input_as_file(const std::uint8_t* data, std::size_t size, const char* name) {
    static const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("twinsim-fuzz-" + std::string(name) + "-" + std::to_string(::getpid()) + ".h5");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path;
}

}  // namespace twinsim::fuzz
