// Fuzz target: the ingestion readers and mappings (sim/live/ingest). The
// first byte chooses what the rest is: NDJSON messages, a CSV file (long or
// wide, decided by its header), a mapping file, or MQTT messages (topic and
// payload pairs, each "topic\npayload", separated by NUL); everything is
// ingested into a small graph with the mapping below.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
#include <algorithm>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/ingest/ingest.hpp"

namespace {

const char* const models = R"([
 {"@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"], "@id": "dtmi:fuzz:Room;1", "@type": "Interface", "contents": [
   {"@type": ["Property", "Temperature"], "name": "temperature", "schema": "double", "unit": "degreeCelsius", "writable": true},
   {"@type": "Property", "name": "people", "schema": "integer", "writable": true},
   {"@type": "Property", "name": "settings", "writable": true,
    "schema": {"@type": "Object", "fields": [{"name": "mode", "schema": "string"}]}}]},
 {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:fuzz:Sensor;1", "@type": "Interface", "contents": [
   {"@type": "Property", "name": "serial", "schema": "string", "writable": true},
   {"@type": "Relationship", "name": "serves", "target": "dtmi:fuzz:Room;1"}]}])";

const char* const mapping_text = R"(
mappings:
  - twin: {id: "{dev}", transform: lower}
    follow: serves
    set: {t: {property: temperature, unit: degF}, n: people}
  - twin: {where: "serial = {sn}"}
    follow: serves
    set: {m: settings/mode}
  - topic: "site/{site}/+/{room}/#"
    twin: "room-{room}"
    set: {t: temperature}
columns:
  "R1 [degF]": {twin: room-1, property: temperature, unit: degF}
)";

std::unique_ptr<twinsim::graph::TwinGraph> make_graph() {
    auto graph = std::make_unique<twinsim::graph::TwinGraph>();
    const twinsim::dtdl::Document doc{"<models>", models};
    graph->add_models({&doc, 1});
    graph->upsert_twin("room-1", {{"$metadata", {{"$model", "dtmi:fuzz:Room;1"}}}});
    graph->upsert_twin("s-1", {{"$metadata", {{"$model", "dtmi:fuzz:Sensor;1"}}}, {"serial", "A1"}});
    graph->upsert_relationship("s-1", "r1", {{"$targetId", "room-1"}, {"$relationshipName", "serves"}});
    return graph;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const std::unique_ptr<twinsim::graph::TwinGraph> base = make_graph();
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto graph = twinsim::graph::TwinGraph::from_snapshot(base->snapshot());
    try {
        const auto choice = data[0] % 5;
        const std::string& mapping_source = choice == 3 ? text : std::string(mapping_text);
        const auto mapping =
            twinsim::live::ingest::Mapping::parse(mapping_source, "<mapping>", *graph->snapshot().models());
        twinsim::live::ingest::IngestOptions options;
        options.order = (data[0] & 4) ? twinsim::live::ingest::OrderPolicy::source_time
                                      : twinsim::live::ingest::OrderPolicy::arrival;
        twinsim::live::ingest::Ingestor ingestor(*graph, &mapping, options);
        if (choice == 4) {
            std::vector<twinsim::live::ingest::TopicMessage> messages;
            std::size_t start = 0;
            while (start <= text.size()) {
                const auto end = std::min(text.find('\0', start), text.size());
                const std::string part = text.substr(start, end - start);
                const auto newline = part.find('\n');
                messages.push_back({part.substr(0, newline), newline == std::string::npos ? "" : part.substr(newline + 1)});
                start = end + 1;
            }
            (void)ingestor.ingest_messages(messages);
            return 0;
        }
        std::istringstream in(choice == 3 ? std::string("{\"dev\": \"S-1\", \"t\": 70}\n") : text);
        const auto format = choice == 0 || choice == 3 ? twinsim::live::ingest::Format::ndjson
                                                       : twinsim::live::ingest::Format::automatic;
        (void)ingestor.ingest_stream(in, "<fuzz>", format);
    } catch (const twinsim::Error&) {
    }
    return 0;
}
