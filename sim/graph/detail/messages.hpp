#pragma once
// Small helpers shared by the graph layer's error messages.

#include <string>
#include <string_view>

namespace twinsim::graph::detail {

/// `s` between double quotes, as error messages name twins, relationships and properties.
inline std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

}  // namespace twinsim::graph::detail
