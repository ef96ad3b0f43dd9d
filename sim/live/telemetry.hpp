#pragma once
// Telemetry as in Azure Digital Twins (PublishTelemetry and
// PublishComponentTelemetry), checked against the twin's DTDL Telemetry
// contents. A telemetry message changes no twin state: it becomes a
// microsoft.iot.telemetry notification (cloud_event.hpp) that is routed
// (routes.hpp, EventRouter::publish_telemetry).

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/live/cloud_event.hpp"
#include "twinsim/live/errors.hpp"

namespace twinsim::live {

/// A telemetry payload the twin's model refuses. The message names the twin,
/// its model (and component), the telemetry and why.
class TelemetryError : public LiveError {
public:
    using LiveError::LiveError;
};

/// Checks a telemetry payload and returns the message to route.
///
/// `payload` must be a JSON object whose every member names a Telemetry of
/// the twin's model (of the component's model when `component` is not empty)
/// and whose value conforms to that Telemetry's schema (dtdl::validate_value:
/// types, ranges, enums, objects, maps, arrays, date/time formats).
/// `units` optionally gives the unit a numeric value was measured in, by
/// telemetry name ({"temperature": "degreeFahrenheit"}); the value is then
/// converted to the Telemetry's DTDL unit (common/units.hpp) and the routed
/// payload carries the converted number. A unit for a Telemetry that declares
/// none, an unknown unit, a unit of another kind, or a unit for a value that
/// is not a number is refused.
///
/// Throws graph::NotFoundError (DigitalTwinNotFound; ComponentNotFound when
/// the model has no such component) and TelemetryError (payload not an
/// object, empty, nested deeper than max_json_depth, an unknown name, a
/// Property or other content named as telemetry, a bad value, a bad unit).
/// Does not change the graph.
[[nodiscard]] TelemetryMessage check_telemetry(const graph::Snapshot& snapshot, std::string_view twin_id,
                                               std::string_view component, const nlohmann::json& payload,
                                               const std::map<std::string, std::string>& units = {});

}  // namespace twinsim::live
