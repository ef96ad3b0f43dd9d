// The class tables of DTDL v2 and v3, transcribed from the "DTDL element"
// sections of reference/dtdl/v2_DTDL.Specification.v2.md and v3_DTDL.Specification.v3.md.

#include "twinsim/dtdl/detail/metamodel.hpp"

#include <array>

namespace twinsim::dtdl::detail {

std::string_view class_name(Cls c) noexcept {
    static constexpr std::array<std::string_view, class_count> names = {
        "Array", "Command", "CommandPayload", "CommandRequest", "CommandResponse", "Component", "Enum",
        "EnumValue", "Field", "Interface", "Map", "MapKey", "MapValue", "Object", "Property", "Relationship",
        "Telemetry"};
    return names[static_cast<std::size_t>(c)];
}

namespace {

using K = ValueKind;

std::vector<ClassSpec> build(int v) {
    const bool v3 = v == 3;
    // Limits that differ between versions.
    const std::size_t name_len = v3 ? 512 : 64;
    const std::size_t display_len = v3 ? 512 : 64;
    const std::size_t text_len = 512;
    const std::vector<Cls> complex = {Cls::Array, Cls::Enum, Cls::Map, Cls::Object};

    auto common = [&](std::vector<MemberSpec> extra) {
        std::vector<MemberSpec> m;
        m.push_back({.term = "comment", .slot = Slot::comment, .kind = K::string, .max_length = text_len});
        m.push_back({.term = "description", .slot = Slot::description, .kind = K::langstring, .max_length = text_len});
        m.push_back({.term = "displayName", .slot = Slot::display_name, .kind = K::langstring, .max_length = display_len});
        for (auto& e : extra) m.push_back(std::move(e));
        return m;
    };
    auto name = [&] {
        return MemberSpec{.term = "name", .slot = Slot::name, .kind = K::string, .required = true,
                          .max_length = name_len, .name_pattern = true};
    };
    auto schema = [&](std::vector<Cls> classes, bool required = true) {
        return MemberSpec{.term = "schema", .slot = Slot::schema, .kind = K::schema, .required = required,
                          .classes = std::move(classes), .allow_v2 = v3};
    };
    std::vector<std::string_view> string_schema = {"string", v3 ? "dtmi:dtdl:instance:Schema:string;3" : "dtmi:dtdl:instance:Schema:string;2"};
    if (v3) string_schema.push_back("dtmi:dtdl:instance:Schema:string;2");
    std::vector<std::string_view> value_schemas = {"integer", "string", "dtmi:dtdl:instance:Schema:integer;2",
                                                   "dtmi:dtdl:instance:Schema:string;2"};
    if (v3) {
        value_schemas.push_back("dtmi:dtdl:instance:Schema:integer;3");
        value_schemas.push_back("dtmi:dtdl:instance:Schema:string;3");
    }
    std::vector<std::string_view> command_types = {"asynchronous", "synchronous"};
    command_types.push_back(v3 ? "dtmi:dtdl:instance:CommandType:asynchronous;3" : "dtmi:dtdl:instance:CommandType:asynchronous;2");
    command_types.push_back(v3 ? "dtmi:dtdl:instance:CommandType:synchronous;3" : "dtmi:dtdl:instance:CommandType:synchronous;2");

    std::vector<ClassSpec> c(class_count);
    for (int i = 0; i < class_count; ++i) c[static_cast<std::size_t>(i)].cls = static_cast<Cls>(i);
    auto at = [&](Cls k) -> ClassSpec& { return c[static_cast<std::size_t>(k)]; };

    at(Cls::Array).members = common({{.term = "elementSchema", .slot = Slot::element_schema, .kind = K::schema,
                                      .required = true, .classes = complex, .allow_v2 = v3}});
    at(Cls::Array).id_required_in_schemas = true;

    MemberSpec payload_ref{.term = "request", .slot = Slot::request, .kind = K::elements,
                           .classes = {v3 ? Cls::CommandRequest : Cls::CommandPayload}};
    MemberSpec response_ref = payload_ref;
    response_ref.term = "response";
    response_ref.slot = Slot::response;
    response_ref.classes = {v3 ? Cls::CommandResponse : Cls::CommandPayload};
    at(Cls::Command).members = common({name(),
                                       {.term = "commandType", .slot = Slot::command_type, .kind = K::literal,
                                        .literals = command_types, .deprecated = true},
                                       payload_ref, response_ref});

    at(Cls::CommandPayload).members = common({name(), schema(complex)});
    at(Cls::CommandRequest).members = at(Cls::CommandPayload).members;
    at(Cls::CommandResponse).members = at(Cls::CommandPayload).members;

    at(Cls::Component).members = common({name(), schema({Cls::Interface})});
    at(Cls::Component).members.back().kind = K::elements;

    at(Cls::Enum).members = common({{.term = "enumValues", .slot = Slot::enum_values, .kind = K::elements,
                                     .required = !v3, .many = true, .classes = {Cls::EnumValue},
                                     .min_count = v3 ? 0 : 1, .max_count = v3 ? 0 : 100},
                                    {.term = "valueSchema", .slot = Slot::value_schema, .kind = K::literal,
                                     .required = true, .literals = value_schemas}});
    at(Cls::Enum).id_required_in_schemas = true;

    at(Cls::EnumValue).members = common({name(), {.term = "enumValue", .slot = Slot::enum_value,
                                                  .kind = K::enum_value, .required = true}});

    at(Cls::Field).members = common({name(), schema(complex)});

    at(Cls::Interface).members = common({
        {.term = "contents", .slot = Slot::contents, .kind = K::elements, .many = true,
         .classes = {Cls::Command, Cls::Component, Cls::Property, Cls::Relationship, Cls::Telemetry},
         .allow_v2 = v3, .max_count = v3 ? 0 : 300},
        {.term = "extends", .slot = Slot::extends, .kind = K::elements, .many = true, .classes = {Cls::Interface},
         .allow_v2 = v3, .max_count = v3 ? 0 : 2},
        {.term = "schemas", .slot = Slot::schemas, .kind = K::elements, .many = true, .classes = complex},
    });
    at(Cls::Interface).id_required = true;

    at(Cls::Map).members = common({{.term = "mapKey", .slot = Slot::map_key, .kind = K::elements, .required = true,
                                    .classes = {Cls::MapKey}},
                                   {.term = "mapValue", .slot = Slot::map_value, .kind = K::elements,
                                    .required = true, .classes = {Cls::MapValue}}});
    at(Cls::Map).id_required_in_schemas = true;
    at(Cls::MapKey).members = common({name(), {.term = "schema", .slot = Slot::schema, .kind = K::literal,
                                               .required = true, .literals = string_schema}});
    at(Cls::MapValue).members = common({name(), schema(complex)});

    at(Cls::Object).members = common({{.term = "fields", .slot = Slot::fields, .kind = K::elements,
                                       .required = !v3, .many = true, .classes = {Cls::Field},
                                       .min_count = v3 ? 0 : 1, .max_count = v3 ? 0 : 30}});
    at(Cls::Object).id_required_in_schemas = true;

    auto property_schema = schema(v3 ? complex : std::vector<Cls>{Cls::Enum, Cls::Map, Cls::Object});
    property_schema.no_geospatial = !v3;
    at(Cls::Property).members = common({name(), property_schema,
                                        {.term = "writable", .slot = Slot::writable, .kind = K::boolean}});

    MemberSpec max_mult{.term = "maxMultiplicity", .slot = Slot::max_multiplicity, .kind = K::integer,
                        .min_value = 1};
    if (!v3) max_mult.max_value = 500;
    at(Cls::Relationship).members = common({
        name(),
        max_mult,
        {.term = "minMultiplicity", .slot = Slot::min_multiplicity, .kind = K::integer, .min_value = 0, .max_value = 0},
        {.term = "properties", .slot = Slot::properties, .kind = K::elements, .many = true,
         .classes = {Cls::Property}, .allow_v2 = v3, .max_count = v3 ? 0 : 300},
        {.term = "target", .slot = Slot::target, .kind = K::dtmi},
        {.term = "writable", .slot = Slot::writable, .kind = K::boolean},
    });

    at(Cls::Telemetry).members = common({name(), schema(complex)});
    return c;
}

}  // namespace

const std::vector<ClassSpec>& metamodel(int version) {
    static const std::vector<ClassSpec> v2 = build(2);
    static const std::vector<ClassSpec> v3 = build(3);
    return version == 2 ? v2 : v3;
}

const MemberSpec* find_member(const ClassSpec& spec, std::string_view term) noexcept {
    for (const auto& m : spec.members)
        if (m.term == term) return &m;
    return nullptr;
}

}  // namespace twinsim::dtdl::detail
