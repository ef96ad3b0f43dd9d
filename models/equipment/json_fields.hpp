#pragma once
// Reading the fields of a prognostics parameters file (internal): each
// helper throws PrognosticsParameterError naming the field's path.

#include <cmath>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/equipment/health_indicator.hpp"

namespace twinsim::models::detail {

inline const nlohmann::json& field(const nlohmann::json& object, const std::string& name, const std::string& where) {
    if (!object.is_object()) throw PrognosticsParameterError(where + ": expected an object");
    const auto it = object.find(name);
    if (it == object.end()) throw PrognosticsParameterError(where + ": no \"" + name + "\"");
    return *it;
}

inline double number(const nlohmann::json& value, const std::string& where) {
    if (!value.is_number() || !std::isfinite(value.get<double>()))
        throw PrognosticsParameterError(where + ": expected a finite number, found " + value.dump().substr(0, 60));
    return value.get<double>();
}

inline std::vector<double> numbers(const nlohmann::json& value, const std::string& where, std::size_t min_size,
                                   std::size_t max_size) {
    if (!value.is_array() || value.size() < min_size || value.size() > max_size)
        throw PrognosticsParameterError(where + ": expected an array of " + std::to_string(min_size) + " to " +
                                        std::to_string(max_size) + " numbers");
    std::vector<double> out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) out.push_back(number(value[i], where + "[" + std::to_string(i) + "]"));
    return out;
}

inline std::vector<std::string> names(const nlohmann::json& value, const std::string& where, std::size_t max_size) {
    if (!value.is_array() || value.size() > max_size)
        throw PrognosticsParameterError(where + ": expected an array of at most " + std::to_string(max_size) + " names");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_string() || value[i].get<std::string>().empty())
            throw PrognosticsParameterError(where + "[" + std::to_string(i) + "]: expected a non-empty string");
        for (const std::string& seen : out)
            if (seen == value[i].get<std::string>())
                throw PrognosticsParameterError(where + ": \"" + seen + "\" appears twice");
        out.push_back(value[i].get<std::string>());
    }
    return out;
}

}  // namespace twinsim::models::detail
