#pragma once
// CloudEvents 1.0 notifications in Azure Digital Twins' shapes, built from the
// graph's change events, its model changes and telemetry messages.
//
// Every notification is a CloudEvent in structured JSON form:
//   specversion "1.0", id (a random UUID; a telemetry message's id), type,
//   source (the graph's host name; telemetry: "<host>/digitaltwins/<twin>"),
//   subject, time (when twinsim emitted it), datacontenttype
//   "application/json", dataschema (telemetry: the emitting model),
//   telemetrysourcetime (telemetry, when the message gave one),
//   sequence (a twinsim extension: per graph, strictly increasing and
//   gap-free over every notification of the graph, as a 20-digit
//   zero-padded decimal string so it orders lexicographically too, as the
//   CloudEvents sequence extension asks), twinsimcause (a twinsim extension,
//   present only on a change with a cause, graph::ChangeEvent::cause: e.g.
//   "rule:<name>" for a live rule's firing), data.
// docs/events.md shows each type with a real example.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "twinsim/common/time.hpp"
#include "twinsim/graph/change_event.hpp"
#include "twinsim/graph/journal.hpp"

namespace twinsim::live {

/// The event type of a telemetry message (lower case, as ADT spells it).
inline constexpr std::string_view telemetry_event_type = "microsoft.iot.telemetry";
/// twinsim's model lifecycle events (ADT has none).
inline constexpr std::string_view model_create_event_type = "twinsim.model.create";
inline constexpr std::string_view model_decommission_event_type = "twinsim.model.decommission";
inline constexpr std::string_view model_delete_event_type = "twinsim.model.delete";

/// One notification as routed: its sequence number, the key whose order
/// delivery keeps (the twin id: a relationship's source twin for relationship
/// events, the model id for model events) and the CloudEvent.
struct Notification {
    std::uint64_t sequence = 0;
    std::string partition;
    nlohmann::json event;
};
using NotificationPtr = std::shared_ptr<const Notification>;

/// The `sequence` attribute's text: 20 digits, zero-padded.
[[nodiscard]] std::string sequence_text(std::uint64_t sequence);

/// A random (version 4) UUID in its 36-character text form.
[[nodiscard]] std::string random_uuid();

/// The attributes every notification shares.
struct EventHeader {
    std::string host;         ///< the source of graph notifications
    std::uint64_t sequence = 0;
    Timestamp time;           ///< when the notification is emitted
};

/// A twin or relationship change as ADT notifies it (type from
/// graph::event_type, subject the twin id or "<twin>/relationships/<id>",
/// data the twin or relationship, or {modelId, patch} for an update).
[[nodiscard]] Notification change_notification(const graph::ChangeEvent& change, const EventHeader& header);

/// One notification per model of a model change: twinsim.model.create with
/// data {"id", "uploadTime"}; twinsim.model.decommission and
/// twinsim.model.delete with data {"id"}; subject = the model id.
/// `header.sequence` numbers the first; the others follow.
[[nodiscard]] std::vector<Notification> model_notifications(const graph::ModelChange& change, const EventHeader& header);

/// A telemetry message, as ADT routes it.
struct TelemetryMessage {
    std::string twin_id;
    std::string component;          ///< empty: the twin itself
    std::string model_id;           ///< the emitting model (the component's when a component emits it)
    nlohmann::json payload;         ///< as validated
    std::string message_id;         ///< empty: a random UUID is used
    std::optional<Timestamp> source_time;
};

/// microsoft.iot.telemetry: id = the message id, source
/// "<host>/digitaltwins/<twin id>", subject = the component name (absent for
/// the twin itself), dataschema = the model id, data = the payload.
[[nodiscard]] Notification telemetry_notification(const TelemetryMessage& message, const EventHeader& header);

}  // namespace twinsim::live
