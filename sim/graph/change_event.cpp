#include "twinsim/graph/change_event.hpp"

namespace twinsim::graph {

const char* event_type(ChangeType type) noexcept {
    switch (type) {
    case ChangeType::twin_create: return "Microsoft.DigitalTwins.Twin.Create";
    case ChangeType::twin_update: return "Microsoft.DigitalTwins.Twin.Update";
    case ChangeType::twin_delete: return "Microsoft.DigitalTwins.Twin.Delete";
    case ChangeType::relationship_create: return "Microsoft.DigitalTwins.Relationship.Create";
    case ChangeType::relationship_update: return "Microsoft.DigitalTwins.Relationship.Update";
    case ChangeType::relationship_delete: return "Microsoft.DigitalTwins.Relationship.Delete";
    }
    return "unknown";
}

}  // namespace twinsim::graph
