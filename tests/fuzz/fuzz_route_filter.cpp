// Fuzz target: ADT event-route filters (sim/live/route_filter.hpp). The input
// is the filter text; one that compiles is evaluated on a change
// notification, a telemetry notification and a model notification (the three
// shapes of CloudEvent a route sees).

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "twinsim/common/error.hpp"
#include "twinsim/live/route_filter.hpp"

namespace {

const nlohmann::json& sample_events() {
    static const nlohmann::json events = nlohmann::json::parse(R"([
 {"specversion":"1.0","id":"e1","type":"Microsoft.DigitalTwins.Twin.Update","source":"twinsim.local",
  "subject":"room-1","time":"2026-07-14T14:00:00Z","datacontenttype":"application/json","sequence":"00000000000000000001",
  "data":{"modelId":"dtmi:fuzz:Room;1","patch":[{"op":"replace","path":"/temperature","value":21.5}]}},
 {"specversion":"1.0","id":"e2","type":"microsoft.iot.telemetry","source":"twinsim.local","subject":"room-1",
  "dataschema":"dtmi:fuzz:Room;1","sequence":"00000000000000000002","telemetrysourcetime":"2026-07-14T14:00:01Z",
  "data":{"supply":14.5,"nested":{"a":[1,2,{"b":null}]}}},
 {"specversion":"1.0","id":"e3","type":"twinsim.model.create","source":"twinsim.local","subject":"dtmi:fuzz:Room;1",
  "sequence":"00000000000000000003","data":{"id":"dtmi:fuzz:Room;1"}}])");
    return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const twinsim::live::RouteFilter filter = twinsim::live::RouteFilter::parse(text);
        for (const auto& event : sample_events()) (void)filter.matches(event);
    } catch (const twinsim::Error&) {
    }
    return 0;
}
