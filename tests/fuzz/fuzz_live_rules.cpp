// Fuzz target: live rule files (models/rules/live_rules.hpp). The first
// byte chooses the dialect (even: YAML, odd: JSON); the rest is the rule
// file. One that is accepted runs on a clone of the sample graph: it is
// evaluated once as added, then on an update of a room's temperature (with a
// source time, so `for` deadlines are reached) and of the chiller's power,
// and removed.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "models/rules/live_rules.hpp"
#include "twinsim/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string source = (data[0] & 1) != 0 ? "<fuzz>.json" : "<fuzz>.yaml";
    auto graph = twinsim::graph::TwinGraph::from_snapshot(twinsim::fuzz::sample_snapshot());
    try {
        twinsim::models::LiveRules engine(*graph);
        const std::string id = engine.add_text(text, source);
        engine.drain();
        try {
            graph->update_twin("room-1", nlohmann::json::parse(R"([{"op":"replace","path":"/temperature","value":30.0},
              {"op":"add","path":"/$metadata/temperature/sourceTime","value":"2026-07-01T12:00:00Z"}])"));
            graph->update_twin("chiller-1", nlohmann::json::parse(R"([{"op":"replace","path":"/power","value":10.0},
              {"op":"add","path":"/$metadata/power/sourceTime","value":"2026-07-02T12:00:00Z"}])"));
        } catch (const twinsim::Error&) {
            // A rule's firing may have changed what these writes expect; the rules still ran.
        }
        engine.drain();
        engine.remove(id);
        engine.drain();
    } catch (const twinsim::Error&) {
    }
    return 0;
}
