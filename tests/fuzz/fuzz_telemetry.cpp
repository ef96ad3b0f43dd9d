// Fuzz target: telemetry messages (sim/live/telemetry.hpp) as a device or a
// client sends them: JSON text checked against the twin's DTDL Telemetry
// contents. The first line is the target: a twin id, optionally
// "/<component>", optionally followed by a space and a JSON object of units
// by telemetry name; the rest is the payload's JSON text (refused above the
// JSON depth limit before it is parsed, as every reader does).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "twinsim/common/error.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/telemetry.hpp"

namespace {

const char* const models = R"([
 {"@context":"dtmi:dtdl:context;2","@id":"dtmi:fuzz:Thermostat;1","@type":"Interface","contents":[
   {"@type":"Property","name":"setpoint","schema":"double","writable":true},
   {"@type":["Telemetry","Temperature"],"name":"supply","schema":"double","unit":"degreeCelsius"}]},
 {"@context":"dtmi:dtdl:context;2","@id":"dtmi:fuzz:Room;1","@type":"Interface","contents":[
   {"@type":"Property","name":"temperature","schema":"double","writable":true},
   {"@type":["Telemetry","Temperature"],"name":"airTemperature","schema":"double","unit":"degreeCelsius"},
   {"@type":"Telemetry","name":"occupancy","schema":"integer"},
   {"@type":"Telemetry","name":"seen","schema":"dateTime"},
   {"@type":"Telemetry","name":"state","schema":{"@type":"Enum","valueSchema":"string",
      "enumValues":[{"name":"ok","enumValue":"ok"},{"name":"alarm","enumValue":"alarm"}]}},
   {"@type":"Telemetry","name":"reading","schema":{"@type":"Object","fields":[
      {"name":"value","schema":"double"},{"name":"quality","schema":"string"}]}},
   {"@type":"Telemetry","name":"levels","schema":{"@type":"Array","elementSchema":"integer"}},
   {"@type":"Telemetry","name":"tags","schema":{"@type":"Map","mapKey":{"name":"k","schema":"string"},
      "mapValue":{"name":"v","schema":"double"}}},
   {"@type":"Component","name":"thermostat","schema":"dtmi:fuzz:Thermostat;1"}]}])";

const twinsim::graph::Snapshot& sample() {
    static const twinsim::graph::Snapshot snapshot = [] {
        twinsim::graph::TwinGraph graph;
        const twinsim::dtdl::Document doc{"<models>", models};
        graph.add_models({&doc, 1});
        graph.upsert_twin("room-1", nlohmann::json::parse(R"({"$metadata":{"$model":"dtmi:fuzz:Room;1"},
            "thermostat":{"$metadata":{}}})"));
        return graph.snapshot();
    }();
    return snapshot;
}

std::optional<nlohmann::json> parse(std::string_view text) {
    if (twinsim::find_json_depth_excess(text)) return std::nullopt;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t eol = input.find('\n');
    if (eol == std::string_view::npos) return 0;
    std::string_view target = input.substr(0, eol);
    std::map<std::string, std::string> units;
    if (const std::size_t space = target.find(' '); space != std::string_view::npos) {
        const auto u = parse(target.substr(space + 1));
        if (!u || !u->is_object()) return 0;
        for (const auto& [name, unit] : u->items()) {
            if (!unit.is_string()) return 0;
            units[name] = unit.get<std::string>();
        }
        target = target.substr(0, space);
    }
    std::string_view twin = target;
    std::string_view component;
    if (const std::size_t slash = target.find('/'); slash != std::string_view::npos) {
        twin = target.substr(0, slash);
        component = target.substr(slash + 1);
    }
    const auto payload = parse(input.substr(eol + 1));
    if (!payload) return 0;
    try {
        const auto message = twinsim::live::check_telemetry(sample(), twin, component, *payload, units);
        (void)message;
    } catch (const twinsim::Error&) {
    }
    return 0;
}
