// Extension definitions (reference/dtdl/v3_DTDL.*.v1.md and the v2 "Semantic types" table).

#include "twinsim/dtdl/detail/extensions.hpp"

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "twinsim/dtdl/detail/spec_tables.hpp"

namespace twinsim::dtdl::detail {
namespace {

constexpr std::string_view qt_class = "dtmi:dtdl:extension:quantitativeTypes:v1:class:";
constexpr std::string_view qt_unit = "dtmi:dtdl:extension:quantitativeTypes:v1:unit:";
constexpr std::string_view v2_class = "dtmi:standard:class:";
constexpr std::string_view v2_unit = "dtmi:standard:unit:";

// A semantic-type table for one DTDL version: type -> row, row -> allowed units.
struct SemanticTable {
    std::unordered_map<std::string, int> type_row;       // by term and by DTMI
    std::vector<std::string_view> row_term;
    std::vector<std::unordered_set<std::string>> units;  // by term and by DTMI
    std::unordered_set<std::string> all_units;
};

const SemanticTable& v2_table() {
    static const SemanticTable table = [] {
        SemanticTable t;
        for (const auto& r : v2_semantic_units()) {
            auto it = t.type_row.find(std::string(r.type));
            int row = 0;
            if (it == t.type_row.end()) {
                row = static_cast<int>(t.row_term.size());
                t.row_term.push_back(r.type);
                t.units.emplace_back();
                t.type_row.emplace(std::string(r.type), row);
                t.type_row.emplace(std::string(v2_class) + std::string(r.type) + ";2", row);
            } else {
                row = it->second;
            }
            auto& u = t.units[static_cast<std::size_t>(row)];
            u.insert(std::string(r.unit));
            u.insert(std::string(v2_unit) + std::string(r.unit) + ";2");
            t.all_units.insert(std::string(r.unit));
            t.all_units.insert(std::string(v2_unit) + std::string(r.unit) + ";2");
        }
        return t;
    }();
    return table;
}

const SemanticTable& qt_table() {
    static const SemanticTable table = [] {
        SemanticTable t;
        for (const auto& r : quantitative_types_v1()) {
            const int row = static_cast<int>(t.row_term.size());
            t.row_term.push_back(r.semantic_type);
            t.type_row.emplace(std::string(r.semantic_type), row);
            t.type_row.emplace(std::string(qt_class) + std::string(r.semantic_type), row);
            auto& u = t.units.emplace_back();
            for (auto unit : r.units) {
                u.insert(std::string(unit));
                u.insert(std::string(qt_unit) + std::string(unit));
                t.all_units.insert(std::string(unit));
                t.all_units.insert(std::string(qt_unit) + std::string(unit));
            }
        }
        return t;
    }();
    return table;
}

}  // namespace

std::optional<Ext> find_extension(std::string_view context, int dtdl_version) noexcept {
    if (dtdl_version == 3) {
        if (context == "dtmi:dtdl:extension:quantitativeTypes;1") return Ext::quantitative_types;
        if (context == "dtmi:dtdl:extension:historization;1") return Ext::historization;
        if (context == "dtmi:dtdl:extension:annotation;1") return Ext::annotation;
        if (context == "dtmi:dtdl:extension:overriding;1") return Ext::overriding;
    }
    if (dtdl_version == 2 && context == "dtmi:iotcentral:context;2") return Ext::iotcentral;
    return std::nullopt;
}

std::optional<Cotype> find_cotype(std::string_view s, int version, ExtMask mask) {
    const std::string key(s);
    if (version == 2) {
        const auto& t = v2_table();
        if (auto it = t.type_row.find(key); it != t.type_row.end())
            return Cotype{CotypeKind::semantic, t.row_term[static_cast<std::size_t>(it->second)], it->second};
        return std::nullopt;
    }
    if ((mask & bit(Ext::quantitative_types)) != 0) {
        const auto& t = qt_table();
        if (auto it = t.type_row.find(key); it != t.type_row.end())
            return Cotype{CotypeKind::semantic, t.row_term[static_cast<std::size_t>(it->second)], it->second};
    }
    if ((mask & bit(Ext::historization)) != 0 &&
        (s == "Historized" || s == "dtmi:dtdl:extension:historization:v1:Historized"))
        return Cotype{CotypeKind::historized, "Historized"};
    if ((mask & bit(Ext::annotation)) != 0 &&
        (s == "ValueAnnotation" || s == "dtmi:dtdl:extension:annotation:v1:ValueAnnotation"))
        return Cotype{CotypeKind::value_annotation, "ValueAnnotation"};
    if ((mask & bit(Ext::overriding)) != 0 &&
        (s == "Override" || s == "dtmi:dtdl:extension:overriding:v1:Override"))
        return Cotype{CotypeKind::override_, "Override"};
    return std::nullopt;
}

bool cotype_applies(const Cotype& cotype, Cls cls, int version) noexcept {
    switch (cotype.kind) {
    case CotypeKind::semantic:
        if (version == 2) return cls == Cls::Property || cls == Cls::Telemetry;
        return cls == Cls::Property || cls == Cls::Telemetry || cls == Cls::CommandRequest ||
               cls == Cls::CommandResponse || cls == Cls::Field || cls == Cls::MapValue;
    case CotypeKind::historized:
    case CotypeKind::value_annotation: return cls == Cls::Property || cls == Cls::Telemetry;
    case CotypeKind::override_: return cls == Cls::Property;
    }
    return false;
}

bool unit_fits(const Cotype& cotype, std::string_view unit, int version) {
    const auto& t = version == 2 ? v2_table() : qt_table();
    if (cotype.row < 0) return false;
    return t.units[static_cast<std::size_t>(cotype.row)].count(std::string(unit)) != 0;
}

bool is_known_unit(std::string_view unit, int version) {
    const auto& t = version == 2 ? v2_table() : qt_table();
    return t.all_units.count(std::string(unit)) != 0;
}

std::string_view unit_term(std::string_view unit) noexcept {
    if (unit.substr(0, qt_unit.size()) == qt_unit) return unit.substr(qt_unit.size());
    if (unit.substr(0, v2_unit.size()) == v2_unit) {
        auto rest = unit.substr(v2_unit.size());
        return rest.substr(0, rest.find(';'));
    }
    return unit;
}

std::string_view extension_member(std::string_view m, int version, ExtMask mask) noexcept {
    if (version == 2) return (m == "unit" || m == "dtmi:dtdl:property:unit;2") ? "unit" : "";
    if ((mask & bit(Ext::quantitative_types)) != 0 &&
        (m == "unit" || m == "dtmi:dtdl:extension:quantitativeTypes:v1:property:unit"))
        return "unit";
    if ((mask & bit(Ext::annotation)) != 0 &&
        (m == "annotates" || m == "dtmi:dtdl:extension:annotation:v1:ValueAnnotation:annotates"))
        return "annotates";
    if ((mask & bit(Ext::overriding)) != 0 &&
        (m == "overrides" || m == "dtmi:dtdl:extension:overriding:v1:Override:overrides"))
        return "overrides";
    return "";
}

std::optional<SchemaKind> extension_schema(std::string_view s, ExtMask mask) noexcept {
    if ((mask & bit(Ext::iotcentral)) == 0) return std::nullopt;
    if (s == "geopoint" || s == "dtmi:iotcentral:schema:geopoint;2") return SchemaKind::point;
    if (s == "vector" || s == "dtmi:iotcentral:schema:vector;2") return SchemaKind::object;
    return std::nullopt;
}

}  // namespace twinsim::dtdl::detail
