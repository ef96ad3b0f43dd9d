#pragma once
// Tables transcribed from the DTDL specifications (see spec_tables.cpp).

#include <string_view>
#include <vector>

namespace twinsim::dtdl::detail {

/// One row of the DTDL v2 "Semantic types" table: a semantic type and one of its units.
struct SemanticUnitRow {
    std::string_view type;
    std::string_view unit;
};

/// One row of the QuantitativeTypes v1 chart: semantic type, unit type, units.
struct QuantityRow {
    std::string_view semantic_type;
    std::string_view unit_type;
    std::vector<std::string_view> units;
};

/// One row of a "Reserved strings" table: term and DTMI.
struct ReservedString {
    std::string_view term;
    std::string_view dtmi;
};

const std::vector<SemanticUnitRow>& v2_semantic_units();
const std::vector<QuantityRow>& quantitative_types_v1();
const std::vector<ReservedString>& reserved_strings_v2();
const std::vector<ReservedString>& reserved_strings_v3();

}  // namespace twinsim::dtdl::detail
