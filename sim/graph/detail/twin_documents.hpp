#pragma once
// Reading the documents a client writes — twins and relationships as Azure
// Digital Twins JSON — into checked values ready to store (internal).
//
// Everything here only reads the graph's state: a document is parsed and
// checked against the models whole (every problem collected, then thrown
// together as one ValidationError naming the object, the JSON path and why)
// before the writer changes anything.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/detail/graph_state.hpp"

namespace twinsim::graph::detail {

/// `twin "<id>"`, the context of a twin's messages.
[[nodiscard]] std::string twin_ctx(std::string_view id);
/// `relationship "<rel>" of twin "<source>"`.
[[nodiscard]] std::string rel_ctx(std::string_view source, std::string_view rel);
/// `prefix` + "/" + the escaped member name (a JSON Pointer one level deeper).
[[nodiscard]] std::string member_path(std::string_view prefix, std::string_view name);

/// Collects every problem of one twin or relationship, then throws them together.
class Problems {
public:
    explicit Problems(std::string context) : context_(std::move(context)) {}
    void add(std::string_view path, std::string_view message);
    [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
    /// Throws ValidationError(code, "<context>: <path>: <why>; ...") when any problem was added.
    void throw_if_any(const char* code = "ValidationFailed") const;

private:
    std::string context_;
    std::vector<std::string> items_;
};

/// One validated top-level property of a twin to be stored.
struct PropValue {
    std::uint32_t column = 0;
    std::string name;
    nlohmann::json value;
    std::int64_t source_time = no_time;
    std::int64_t last_update = 0;
    std::int64_t recorded_update = no_time;  ///< lastUpdateTime given to restore_twin
};

/// A twin document checked against its model, ready to store.
struct ParsedTwin {
    dtdl::InterfaceIndex model = 0;
    std::string model_id;
    std::vector<PropValue> props;  ///< sorted by column
    /// name -> {props..., "$metadata": {prop: {"sourceTime"?}}}; when restoring,
    /// also the recorded "$lastUpdateTime" and per-property "lastUpdateTime".
    nlohmann::json components = nlohmann::json::object();
    std::int64_t recorded_update = no_time;  ///< $metadata.$lastUpdateTime given to restore_twin
};

/// A relationship document checked against the source twin's model.
struct ParsedRel {
    TwinIndex target = no_index;
    std::string name;
    nlohmann::json props = nlohmann::json::object();
};

/// Checks a whole twin document against its model: every property value
/// (type, enum member, object fields, map/array elements), no undeclared
/// member, every component present. `restore` (restore_twin) also reads the
/// recorded times; otherwise they are ignored. Throws ValidationError (every
/// problem at once), NotFoundError (ModelNotFound).
[[nodiscard]] ParsedTwin parse_twin(const GraphState& s, std::string_view id, const nlohmann::json& doc,
                                    bool restore = false);

/// Gives stored components their service fields ($lastUpdateTime, per property
/// lastUpdateTime): `now` where `touched(component, property)` (property ""
/// asks about the component itself), else the previous time from `old` (the
/// components stored before, or nullptr). Recorded times already present are kept.
void finalize_components(nlohmann::json& comps, const nlohmann::json* old, std::int64_t now,
                         const std::function<bool(const std::string&, const std::string&)>& touched);

/// Checks a relationship document of the twin `source`: $targetId and
/// $relationshipName, the Relationship declared by the source's model, no
/// self-loop, an existing target whose model satisfies the Relationship's
/// target, declared and valid properties. Throws ValidationError
/// (InvalidRelationship, ValidationFailed), NotFoundError (TargetTwinNotFound).
[[nodiscard]] ParsedRel parse_relationship(const GraphState& s, TwinIndex source, std::string_view source_id,
                                           std::string_view rel_id, const nlohmann::json& doc);

}  // namespace twinsim::graph::detail
