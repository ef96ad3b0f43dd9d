#pragma once
// Units of measure: the one table twinsim converts quantities with, so a
// scenario value ("77 degF"), a model parameter and a DTDL property unit
// ("degreeCelsius") mean the same everywhere.

#include <optional>
#include <string>
#include <string_view>

namespace twinsim {

/// A known unit: its kind ("temperature", "power", ...) and the affine map to
/// the kind's base unit (base = value * scale + offset).
struct UnitInfo {
    std::string_view kind;
    double scale = 1.0;
    double offset = 0.0;
};

/// The unit named `unit`: temperature degC/degF/kelvin (absolute) and
/// K/delta_degC/delta_degF (differences), time s/min/h/d, power W/kW/MW,
/// energy J/kWh/MWh, area m2, volume m3/L, volume flow m3/s, L/s, m3/h, "1"
/// and "%" for fractions, each also under its DTDL name (degreeCelsius,
/// kilowatt, hour, ...). nullopt for an unknown unit or "".
[[nodiscard]] std::optional<UnitInfo> unit_info(std::string_view unit);

/// Converts `value` given in `from` to `to`. Units of the same kind convert;
/// besides, "K" (a difference) reads as an absolute temperature for an
/// absolute target ("300 K"), and an absolute temperature unit converts to a
/// difference by its scale alone. Returns `value` when from == to; nullopt when
/// either unit is unknown or the kinds differ.
[[nodiscard]] std::optional<double> convert_unit(double value, std::string_view from, std::string_view to);

/// A number followed by a unit, as written in a scenario.
struct Quantity {
    double value = 0.0;
    std::string unit;  ///< "" when the text is a bare number
};

/// Splits "<number> <unit>" ("77 degF", "20degC", "2.5"; any spaces between)
/// into its number and unit text; nullopt when the text does not start with
/// a number. The unit is not looked up.
[[nodiscard]] std::optional<Quantity> split_quantity(std::string_view text);

}  // namespace twinsim
