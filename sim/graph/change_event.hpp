#pragma once
// Change records emitted by every mutation of a TwinGraph, shaped like Azure
// Digital Twins' event notifications (a later layer wraps them as CloudEvents
// and routes them).

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "twinsim/common/time.hpp"

namespace twinsim::graph {

enum class ChangeType : std::uint8_t {
    twin_create,          ///< Microsoft.DigitalTwins.Twin.Create, data = the whole twin
    twin_update,          ///< Microsoft.DigitalTwins.Twin.Update, data = {"modelId", "patch"}
    twin_delete,          ///< Microsoft.DigitalTwins.Twin.Delete, data = the twin's last state
    relationship_create,  ///< Microsoft.DigitalTwins.Relationship.Create, data = the relationship
    relationship_update,  ///< Microsoft.DigitalTwins.Relationship.Update, data = {"modelId", "patch"}
    relationship_delete,  ///< Microsoft.DigitalTwins.Relationship.Delete, data = its last state
};

/// "Microsoft.DigitalTwins.Twin.Create", ...
[[nodiscard]] const char* event_type(ChangeType type) noexcept;

struct ChangeEvent {
    ChangeType type = ChangeType::twin_update;
    std::string subject;  ///< twin id, or "<source>/relationships/<relationshipId>"
    std::string twin_id;  ///< the twin, or the relationship's source twin
    std::string relationship_id;  ///< empty for twin events
    Timestamp time;       ///< when the change was applied (the graph's clock)
    std::uint64_t sequence = 0;   ///< strictly increasing per graph, gap-free
    nlohmann::json data;  ///< as described for each ChangeType
    std::string cause;    ///< what made the change: empty for a direct write, "rule:<name>" for a live rule's firing
};

/// Called synchronously, on the writer's thread, after a change is committed
/// (for an atomic batch: after the whole batch; after the journal, see
/// TwinGraphOptions::journal, accepted it). Must not modify the graph: a
/// write from a listener throws twinsim::UsageError (common/error.hpp) to the
/// listener (an exception a listener lets escape is dropped, like any: the
/// change stays committed and the other listeners still hear of it).
using ChangeListener = std::function<void(const ChangeEvent&)>;

}  // namespace twinsim::graph
