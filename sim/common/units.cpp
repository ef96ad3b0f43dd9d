#include "twinsim/common/units.hpp"

#include <stdexcept>

namespace twinsim {

std::optional<UnitInfo> unit_info(std::string_view unit) {
    struct Entry {
        std::string_view names[3];
        UnitInfo info;
    };
    static constexpr Entry table[] = {
        {{"degC", "degreeCelsius", "°C"}, {"temperature", 1.0, 273.15}},
        {{"degF", "degreeFahrenheit", "°F"}, {"temperature", 5.0 / 9.0, 273.15 - 32.0 * 5.0 / 9.0}},
        {{"kelvin", "", ""}, {"temperature", 1.0, 0.0}},
        {{"K", "delta_degC", ""}, {"temperature difference", 1.0, 0.0}},
        {{"delta_degF", "", ""}, {"temperature difference", 5.0 / 9.0, 0.0}},
        {{"s", "second", "sec"}, {"time", 1.0, 0.0}},
        {{"min", "minute", ""}, {"time", 60.0, 0.0}},
        {{"h", "hour", ""}, {"time", 3600.0, 0.0}},
        {{"d", "day", ""}, {"time", 86400.0, 0.0}},
        {{"W", "watt", ""}, {"power", 1.0, 0.0}},
        {{"kW", "kilowatt", ""}, {"power", 1e3, 0.0}},
        {{"MW", "megawatt", ""}, {"power", 1e6, 0.0}},
        {{"J", "joule", ""}, {"energy", 1.0, 0.0}},
        {{"kWh", "kilowattHour", ""}, {"energy", 3.6e6, 0.0}},
        {{"MWh", "megawattHour", ""}, {"energy", 3.6e9, 0.0}},
        {{"m2", "squareMetre", ""}, {"area", 1.0, 0.0}},
        {{"m3", "cubicMetre", ""}, {"volume", 1.0, 0.0}},
        {{"L", "litre", ""}, {"volume", 1e-3, 0.0}},
        {{"m3/s", "cubicMetrePerSecond", ""}, {"volume flow", 1.0, 0.0}},
        {{"L/s", "litrePerSecond", ""}, {"volume flow", 1e-3, 0.0}},
        {{"m3/h", "cubicMetrePerHour", ""}, {"volume flow", 1.0 / 3600.0, 0.0}},
        {{"1", "", ""}, {"fraction", 1.0, 0.0}},
        {{"%", "percent", ""}, {"fraction", 0.01, 0.0}},
    };
    if (unit.empty()) return std::nullopt;
    for (const Entry& e : table)
        for (const std::string_view n : e.names)
            if (!n.empty() && n == unit) return e.info;
    return std::nullopt;
}

std::optional<double> convert_unit(double value, std::string_view from, std::string_view to) {
    if (from == to) return value;
    const auto f = unit_info(from);
    const auto t = unit_info(to);
    if (!f || !t) return std::nullopt;
    if (f->kind == t->kind) return (value * f->scale + f->offset - t->offset) / t->scale;
    // Temperatures: "300 K" for an absolute temperature, "2 degC" for a difference.
    if (t->kind == "temperature" && from == "K") return (value - t->offset) / t->scale;
    if (t->kind == "temperature difference" && f->kind == "temperature") return value * f->scale / t->scale;
    return std::nullopt;
}

std::optional<Quantity> split_quantity(std::string_view text) {
    const std::string s(text);
    std::size_t used = 0;
    double x = 0.0;
    try {
        x = std::stod(s, &used);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    std::size_t u = used;
    while (u < s.size() && s[u] == ' ') ++u;
    return Quantity{x, s.substr(u)};
}

}  // namespace twinsim
