#include "twinsim/dtdl/elements.hpp"

#include <array>

namespace twinsim::dtdl {

const char* to_string(SchemaKind kind) noexcept {
    switch (kind) {
    case SchemaKind::boolean: return "boolean";
    case SchemaKind::date: return "date";
    case SchemaKind::date_time: return "dateTime";
    case SchemaKind::double_: return "double";
    case SchemaKind::duration: return "duration";
    case SchemaKind::float_: return "float";
    case SchemaKind::integer: return "integer";
    case SchemaKind::long_: return "long";
    case SchemaKind::string: return "string";
    case SchemaKind::time: return "time";
    case SchemaKind::point: return "point";
    case SchemaKind::multi_point: return "multiPoint";
    case SchemaKind::line_string: return "lineString";
    case SchemaKind::multi_line_string: return "multiLineString";
    case SchemaKind::polygon: return "polygon";
    case SchemaKind::multi_polygon: return "multiPolygon";
    case SchemaKind::array: return "Array";
    case SchemaKind::enum_: return "Enum";
    case SchemaKind::map: return "Map";
    case SchemaKind::object: return "Object";
    }
    return "?";
}

const char* to_string(ContentKind kind) noexcept {
    switch (kind) {
    case ContentKind::property: return "Property";
    case ContentKind::telemetry: return "Telemetry";
    case ContentKind::command: return "Command";
    case ContentKind::relationship: return "Relationship";
    case ContentKind::component: return "Component";
    }
    return "?";
}

SchemaPtr primitive_schema(SchemaKind kind) {
    // Built once, immutable, shared by every model set (no mutable global state).
    static const std::array<SchemaPtr, 16> singletons = [] {
        std::array<SchemaPtr, 16> a;
        for (std::size_t i = 0; i < a.size(); ++i) {
            auto s = std::make_shared<Schema>();
            s->kind = static_cast<SchemaKind>(i);
            a[i] = s;
        }
        return a;
    }();
    if (is_complex(kind)) return nullptr;
    return singletons[static_cast<std::size_t>(kind)];
}

}  // namespace twinsim::dtdl
