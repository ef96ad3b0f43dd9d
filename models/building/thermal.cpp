#include "models/building/thermal.hpp"

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numbers>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "models/building/rc_network.hpp"
#include "models/building/weather.hpp"
#include "models/generic/support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/excerpt.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

constexpr const char* model_name = "thermal_zones";
constexpr const char* level_model = "dtmi:twinsim:building:Level;1";
constexpr const char* ahu_model = "dtmi:twinsim:building:AirHandlingUnit;1";
constexpr const char* chiller_model = "dtmi:twinsim:building:Chiller;1";
constexpr const char* pump_model = "dtmi:twinsim:building:Pump;1";

const std::array<ModelParameter, 30> declared{{
    // --- weather
    ModelParameter{"outdoor_mean", "degC", "daily mean of the diurnal outdoor temperature", 24.0}.within(-100.0, 100.0),
    ModelParameter{"outdoor_amplitude", "K", "half the daily swing of the outdoor temperature (>= 0)", 6.0}.within(0.0, 100.0),
    {"outdoor_peak_hour", "h", "local hour of the daily maximum outdoor temperature, [0, 24)", 15.0},
    ModelParameter{"outdoor_series", "",
     "a recorded outdoor temperature instead of the diurnal model: [[seconds from the start, degC], ...] with "
     "ascending times, interpolated linearly and held beyond its ends; \"none\" = the diurnal model",
     "none"}.fixed_per_scenario(),
    ModelParameter{"weather_file", "",
     "a TMY3 weather file (CSV, plain or gzip; relative to the scenario file) whose dry-bulb temperature and global "
     "horizontal irradiance drive the outdoor temperature and the solar gains instead of the diurnal models; "
     "\"none\" = the diurnal models",
     "none"}.file(),
    ModelParameter{"weather_start", "",
     "the weather file's moment at the scenario's start, \"MM-DD\" or \"MM-DDTHH:MM\" in the file's local standard "
     "time; \"none\" = the scenario's start instant in the file's time zone",
     "none"}.fixed_per_scenario(),
    {"utc_offset", "h", "local time = UTC + utc_offset, for the hours of the diurnal profiles", 0.0},
    {"solar_peak", "W/m2", "solar gain per m2 of floor area at solar noon (diurnal model), or at a global horizontal irradiance of 1000 W/m2 (weather_file) (>= 0)", 20.0},
    {"sunrise_hour", "h", "local hour the solar gain starts (a half sine until sunset_hour)", 6.0},
    {"sunset_hour", "h", "local hour the solar gain ends, > sunrise_hour", 20.0},
    // --- envelope and network
    {"ua_per_area", "W/(m2.K)", "conductance air node <-> outdoors (envelope + infiltration) per m2 of floor area (>= 0)", 1.5},
    ModelParameter{"air_heat_capacity", "J/(m3.K)", "volumetric heat capacity of the air node (rho * c_p of air, > 0)", 1206.0}.positive(),
    ModelParameter{"mass_capacity", "J/(m2.K)", "heat capacity of the mass node per m2 of floor area (>= 0; 0 = no mass node)", 100000.0}.within(0.0),
    {"air_mass_conductance", "W/(m2.K)", "conductance air node <-> mass node per m2 of floor area (> 0 with a mass node)", 22.75},
    ModelParameter{"adjacency", "", "which rooms of a level exchange heat: \"row\" (consecutive by $dtId), \"level\" (every pair), \"none\"", "row"}.fixed_per_scenario(),
    {"adjacent_conductance", "W/K", "conductance between two adjacent rooms (>= 0)", 20.0},
    ModelParameter{"zone_parameters", "",
     "per-room values replacing the binding's (what twinsim calibrate writes): {\"<room $dtId>\": {\"ua_per_area\": "
     "x, \"air_heat_capacity\": x, \"mass_capacity\": x, \"air_mass_conductance\": x}, ...}; \"none\" = none",
     "none"}.fixed_per_scenario(),
    // --- gains
    {"gain_per_person", "W", "sensible heat per person present (the room's occupancy)", 75.0},
    {"radiant_fraction", "1", "share of internal and solar gains that goes to the mass node, [0, 1]", 0.5},
    // --- HVAC
    ModelParameter{"deadband", "K", "thermostat band: cooling goes from 0 at setpoint - deadband/2 to full at setpoint + deadband/2 (>= 0; 0 = ideal)", 1.0}.within(0.0),
    ModelParameter{"zone_cooling_capacity", "W/m2", "largest cooling a room's terminal unit delivers per m2 of floor area (>= 0)", 100.0}.within(0.0),
    ModelParameter{"ahu_design_delta_t", "K", "air-side capacity of an air-handling unit = 1206 J/(m3.K) * supplyAirflow * this (> 0)", 10.0}.positive(),
    ModelParameter{"default_cop", "1", "coefficient of performance of a chiller without coefficientOfPerformance (> 0); a chiller's own coefficientOfPerformance overrides it", 3.5}
        .positive()
        .overridden_by("coefficientOfPerformance"),
    ModelParameter{"chiller_cop", "", "per-chiller coefficient of performance replacing the chiller's coefficientOfPerformance (what twinsim calibrate --fit cop writes): {\"<chiller $dtId>\": cop > 0, ...}; \"none\" = none", "none"}.fixed_per_scenario(),
    ModelParameter{"auxiliaries", "", "count the running pump of each loaded chiller and the fan of each cooling air-handling unit at their ratedPower", true}.fixed_per_scenario(),
    ModelParameter{"chiller_power_property", "", "a numeric chiller property to write the electric power (kW) to every step; \"none\" = not written", "none"}.fixed_per_scenario(),
    ModelParameter{"zone_cooling_property", "", "a numeric room property to write the delivered cooling (W) to every step; \"none\" = not written", "none"}.fixed_per_scenario(),
    ModelParameter{"integrator", "", "\"exact\" (matrix exponential per connected group of rooms), \"implicit\" (backward Euler, sparse), \"auto\"", "auto"}.fixed_per_scenario(),
    ModelParameter{"max_exact_states", "1", "\"auto\" uses the exact integrator while the largest connected group has at most this many nodes", 400.0}.fixed_per_scenario(),
    {"step", "s", "integration step > 0; \"none\" = the scenario's step (60 s in a bare run)", "none"},
}};

/// A room's own network parameters (zone_parameters), each replacing the binding's when set.
struct ZoneValues {
    std::optional<double> ua, air_capacity, mass_capacity, air_mass;
};

/// The most rooms zone_parameters may name (a bound on outside input).
constexpr std::size_t max_zone_parameters = 1'000'000;

struct Config {
    std::optional<double> outdoor_mean, outdoor_amplitude, outdoor_peak_hour, utc_offset;
    std::vector<std::pair<double, double>> outdoor_series;  ///< empty: diurnal model
    std::optional<double> solar_peak, sunrise, sunset;
    /// From weather_file: dry-bulb (degC) and global horizontal irradiance
    /// (W/m2) by hour of the year (null: the diurnal models), and the file's
    /// time zone.
    std::shared_ptr<const WeatherSeries> weather_temperature, weather_ghi;
    double weather_utc_offset = 0.0;
    std::optional<double> weather_start;  ///< hours after Jan 1 00:00 (local standard time) at t = 0
    std::optional<double> ua, air_capacity, mass_capacity, air_mass, adjacent;
    /// zone_parameters: room $dtId -> its own values (unset: the binding's).
    std::map<std::string, ZoneValues> zone_values;
    std::string adjacency;
    std::optional<double> per_person, radiant_fraction, deadband, zone_capacity, ahu_dt, default_cop;
    /// chiller_cop: chiller $dtId -> its COP, replacing coefficientOfPerformance.
    std::map<std::string, double> chiller_cop;
    bool auxiliaries = true;
    std::string chiller_power_property, zone_cooling_property;
    std::string integrator;
    std::optional<double> max_exact_states;
    std::optional<double> step;
};

/// The HVAC plant reached from the zones, and each zone's level.
struct Topology {
    std::vector<std::vector<std::uint32_t>> zone_ahus;  ///< per zone: positions in ahus
    std::vector<graph::TwinIndex> ahus;
    std::vector<std::vector<std::uint32_t>> ahu_chillers;  ///< per AHU: positions in chillers
    std::vector<std::vector<std::int64_t>> ahu_chiller_priority;  ///< per AHU, per chiller: the feed's priority (1 = normal, >= 2 = backup)
    std::vector<graph::TwinIndex> chillers;
    std::vector<std::vector<graph::TwinIndex>> chiller_pumps;  ///< per chiller, by priority (duty first)
    std::vector<graph::TwinIndex> level;  ///< per zone: its level (or topmost isPartOf ancestor, or itself)
};

std::optional<dtdl::InterfaceIndex> interface_of(const graph::Snapshot& g, const char* id) { return g.models()->find(id); }

bool is_kind(const graph::Snapshot& g, graph::TwinIndex t, const std::optional<dtdl::InterfaceIndex>& base) {
    return base && g.models()->is_a(g.twin_model(t), *base);
}

Topology discover(const graph::Snapshot& g, std::span<const graph::TwinIndex> zones) {
    Topology topo;
    const auto level_if = interface_of(g, level_model);
    const auto ahu_if = interface_of(g, ahu_model);
    const auto chiller_if = interface_of(g, chiller_model);
    const auto pump_if = interface_of(g, pump_model);
    std::map<graph::TwinIndex, std::uint32_t> ahu_pos, chiller_pos;

    for (const graph::TwinIndex z : zones) {
        // The zone and its isPartOf ancestors (cycle-safe), nearest first.
        std::vector<graph::TwinIndex> chain{z};
        std::set<graph::TwinIndex> seen{z};
        graph::TwinIndex level = graph::no_index;
        for (graph::TwinIndex t = z;;) {
            graph::TwinIndex parent = graph::no_index;
            for (const graph::RelationshipIndex r : g.out_relationships(t))
                if (g.relationship_name(r) == "isPartOf") {
                    parent = g.target(r);
                    break;
                }
            if (parent == graph::no_index || !seen.insert(parent).second) break;
            chain.push_back(parent);
            if (level == graph::no_index && is_kind(g, parent, level_if)) level = parent;
            t = parent;
        }
        topo.level.push_back(level != graph::no_index ? level : chain.back());

        // Air-handling units: servedBy from the zone or an ancestor, or feeding one of them.
        std::set<graph::TwinIndex> ahus;
        for (const graph::TwinIndex t : chain) {
            for (const graph::RelationshipIndex r : g.out_relationships(t))
                if (g.relationship_name(r) == "servedBy" && is_kind(g, g.target(r), ahu_if)) ahus.insert(g.target(r));
            for (const graph::RelationshipIndex r : g.in_relationships(t))
                if (g.relationship_name(r) == "feeds" && is_kind(g, g.source(r), ahu_if)) ahus.insert(g.source(r));
        }
        std::vector<std::uint32_t> mine;
        for (const graph::TwinIndex a : ahus) {
            auto [it, added] = ahu_pos.try_emplace(a, static_cast<std::uint32_t>(topo.ahus.size()));
            if (added) topo.ahus.push_back(a);
            mine.push_back(it->second);
        }
        topo.zone_ahus.push_back(std::move(mine));
    }
    auto feed_priority = [&g](graph::RelationshipIndex r) {
        const nlohmann::json rel = g.get_relationship(r);
        if (const auto it = rel.find("priority"); it != rel.end() && it->is_number_integer()) return it->get<std::int64_t>();
        return std::int64_t{1};
    };
    for (const graph::TwinIndex a : topo.ahus) {
        std::map<graph::TwinIndex, std::int64_t> feeding;  // chiller -> smallest priority of its feeds to a
        for (const graph::RelationshipIndex r : g.in_relationships(a))
            if (g.relationship_name(r) == "feeds" && is_kind(g, g.source(r), chiller_if)) {
                const std::int64_t p = feed_priority(r);
                auto [it, added] = feeding.try_emplace(g.source(r), p);
                if (!added) it->second = std::min(it->second, p);
            }
        std::vector<std::uint32_t> mine;
        std::vector<std::int64_t> priorities;
        for (const auto& [c, p] : feeding) {
            auto [it, added] = chiller_pos.try_emplace(c, static_cast<std::uint32_t>(topo.chillers.size()));
            if (added) topo.chillers.push_back(c);
            mine.push_back(it->second);
            priorities.push_back(p);
        }
        topo.ahu_chillers.push_back(std::move(mine));
        topo.ahu_chiller_priority.push_back(std::move(priorities));
    }
    for (const graph::TwinIndex c : topo.chillers) {
        std::vector<std::pair<std::int64_t, graph::TwinIndex>> pumps;
        for (const graph::RelationshipIndex r : g.in_relationships(c)) {
            if (g.relationship_name(r) != "feeds" || !is_kind(g, g.source(r), pump_if)) continue;
            std::int64_t priority = std::numeric_limits<std::int64_t>::max();
            const nlohmann::json rel = g.get_relationship(r);
            if (const auto it = rel.find("priority"); it != rel.end() && it->is_number_integer()) priority = it->get<std::int64_t>();
            pumps.emplace_back(priority, g.source(r));
        }
        std::sort(pumps.begin(), pumps.end());
        std::vector<graph::TwinIndex> ordered;
        for (const auto& p : pumps)
            if (std::find(ordered.begin(), ordered.end(), p.second) == ordered.end()) ordered.push_back(p.second);
        topo.chiller_pumps.push_back(std::move(ordered));
    }
    return topo;
}

/// The slot of `property` in twin t's model, when numeric; nullopt when the model does not declare it.
std::optional<std::uint32_t> optional_column(const graph::Snapshot& g, graph::TwinIndex t, std::string_view property) {
    const auto& model = g.models()->at(g.twin_model(t));
    const dtdl::PropertySlot* slot = model.layout.find(property);
    if (slot == nullptr) return std::nullopt;
    switch (slot->type) {
        case dtdl::ColumnType::float64:
        case dtdl::ColumnType::int64:
        case dtdl::ColumnType::boolean:
            return slot->column;
        default:
            return std::nullopt;
    }
}

/// chiller_cop: an object of chiller $dtId -> COP (a finite number > 0).
std::map<std::string, double> read_chiller_cop(const nlohmann::json& j) {
    auto bad = [](const std::string& why) { return ModelParameterError("chiller_cop", why); };
    if (!j.is_object()) throw bad("expected an object {\"<chiller $dtId>\": cop}, found " + excerpt(j.dump()));
    if (j.size() > max_zone_parameters)
        throw bad("names " + std::to_string(j.size()) + " chillers, more than the limit of " +
                  std::to_string(max_zone_parameters));
    std::map<std::string, double> out;
    for (const auto& [chiller, value] : j.items()) {
        if (!value.is_number() || !std::isfinite(value.get<double>()) || !(value.get<double>() > 0.0))
            throw bad("\"" + chiller + "\": expected a finite number > 0, found " + value.dump());
        out[chiller] = value.get<double>();
    }
    return out;
}

/// zone_parameters: an object of room $dtId -> {name: number}; each number in
/// the range its binding-wide parameter accepts. Mass nodes are all or
/// nothing (RcNetwork), so a room's mass_capacity must be > 0 exactly when
/// the binding's is.
std::map<std::string, ZoneValues> read_zone_values(const nlohmann::json& z, const Config& c) {
    auto bad = [](const std::string& why) { return ModelParameterError("zone_parameters", why); };
    if (!z.is_object()) throw bad("expected an object {\"<room $dtId>\": {\"ua_per_area\": x, ...}}, found " + z.dump());
    if (z.size() > max_zone_parameters)
        throw bad("names " + std::to_string(z.size()) + " rooms, more than the limit of " + std::to_string(max_zone_parameters));
    const bool binding_mass = !c.mass_capacity || *c.mass_capacity > 0.0;
    std::map<std::string, ZoneValues> out;
    for (const auto& [room, values] : z.items()) {
        if (!values.is_object()) throw bad("\"" + room + "\": expected an object of parameter values, found " + values.dump());
        ZoneValues v;
        for (const auto& [name, value] : values.items()) {
            const std::string where = "\"" + room + "\"." + name;
            if (!value.is_number() || !std::isfinite(value.get<double>()))
                throw bad(where + ": expected a finite number, found " + value.dump());
            const double x = value.get<double>();
            if (name == "ua_per_area") {
                if (!(x >= 0.0)) throw bad(where + ": must be >= 0, found " + value.dump());
                v.ua = x;
            } else if (name == "air_heat_capacity") {
                if (!(x > 0.0)) throw bad(where + ": must be > 0, found " + value.dump());
                v.air_capacity = x;
            } else if (name == "mass_capacity") {
                if (binding_mass && !(x > 0.0))
                    throw bad(where + ": must be > 0 (the binding's mass_capacity gives every room a mass node), found " + value.dump());
                if (!binding_mass) throw bad(where + ": the binding's mass_capacity is 0 (no mass nodes), so no room can have one");
                v.mass_capacity = x;
            } else if (name == "air_mass_conductance") {
                if (!(x > 0.0)) throw bad(where + ": must be > 0, found " + value.dump());
                v.air_mass = x;
            } else {
                throw bad(where + ": unknown; a room may set ua_per_area, air_heat_capacity, mass_capacity, "
                                  "air_mass_conductance");
            }
        }
        out.emplace(room, v);
    }
    return out;
}

Config read(const scenario::Binding& binding, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    auto number = [&](std::string_view name, double min, double max = HUGE_VAL) {
        return resolved ? std::optional<double>(reader.required_number(name, min, max)) : reader.number(name, min, max);
    };
    auto positive = [&](std::string_view name) {
        std::optional<double> x = number(name, -HUGE_VAL);
        if (x && !(*x > 0.0)) throw ModelParameterError(std::string(name), "must be > 0, found " + nlohmann::json(*x).dump());
        return x;
    };
    auto choice = [&](std::string_view name, std::initializer_list<const char*> allowed) {
        const std::string v = reader.string(name);
        for (const char* a : allowed)
            if (v == a) return v;
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
        throw ModelParameterError(std::string(name), "expected one of " + list + ", found \"" + v + "\"");
    };

    Config c;
    c.outdoor_mean = number("outdoor_mean", -HUGE_VAL);
    c.outdoor_amplitude = number("outdoor_amplitude", -HUGE_VAL);
    c.outdoor_peak_hour = number("outdoor_peak_hour", 0.0, 24.0);
    c.utc_offset = number("utc_offset", -24.0, 24.0);
    if (detail::given(reader, "outdoor_series")) {
        const nlohmann::json& s = reader.raw("outdoor_series");
        auto bad = [](const std::string& why) { return ModelParameterError("outdoor_series", why); };
        if (!s.is_array() || s.empty()) throw bad("expected a non-empty list of [seconds, degC] pairs");
        for (std::size_t k = 0; k < s.size(); ++k) {
            const nlohmann::json& p = s[k];
            if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
                throw bad("item " + std::to_string(k) + " is not a [seconds, degC] pair of numbers: " + p.dump());
            const double t = p[0].get<double>(), v = p[1].get<double>();
            if (!std::isfinite(t) || !std::isfinite(v)) throw bad("item " + std::to_string(k) + " is not finite");
            if (!c.outdoor_series.empty() && !(t > c.outdoor_series.back().first))
                throw bad("times must be strictly ascending (item " + std::to_string(k) + ")");
            c.outdoor_series.emplace_back(t, v);
        }
    }
    if (detail::given(reader, "weather_file")) {
        if (!c.outdoor_series.empty())
            throw ModelParameterError("weather_file", "cannot be combined with outdoor_series (both give the outdoor temperature)");
        const std::string file = reader.string("weather_file");
        try {
            const Tmy3Weather w = read_tmy3(file);
            // Row k is line k + 3; dry-bulb is stamped at the hour's end, irradiance is the hour's mean.
            c.weather_temperature = std::make_shared<const WeatherSeries>(w.dry_bulb, 1.0, "Dry-bulb (C)", w.source, 3);
            c.weather_ghi = std::make_shared<const WeatherSeries>(w.ghi, 0.5, "GHI (W/m^2)", w.source, 3);
            c.weather_utc_offset = w.station.utc_offset;
        } catch (const WeatherInputError& e) {
            throw ModelParameterError("weather_file", e.what());
        } catch (const IoError& e) {
            throw ModelParameterError("weather_file", e.what());
        }
    }
    if (detail::given(reader, "weather_start")) {
        if (!c.weather_temperature) throw ModelParameterError("weather_start", "needs a weather_file");
        const std::string v = reader.string("weather_start");
        auto two = [&](std::size_t at) {
            const char a = v[at], b = v[at + 1];
            if (a < '0' || a > '9' || b < '0' || b > '9') return -1;
            return (a - '0') * 10 + (b - '0');
        };
        const bool has_time = v.size() == 11 && v[5] == 'T' && v[8] == ':';
        if (!((v.size() == 5 || has_time) && v[2] == '-'))
            throw ModelParameterError("weather_start", "expected \"MM-DD\" or \"MM-DDTHH:MM\", found \"" + v + "\"");
        const int month = two(0), day = two(3), h = has_time ? two(6) : 0, m = has_time ? two(9) : 0;
        if (h < 0 || h > 23 || m < 0 || m > 59)
            throw ModelParameterError("weather_start", "expected \"MM-DD\" or \"MM-DDTHH:MM\", found \"" + v + "\"");
        try {
            c.weather_start = hour_of_year(month, day, h + m / 60.0);
        } catch (const WeatherInputError& e) {
            throw ModelParameterError("weather_start", std::string("\"") + v + "\": " + e.what());
        }
    }
    c.solar_peak = number("solar_peak", 0.0);
    c.sunrise = number("sunrise_hour", 0.0, 24.0);
    c.sunset = number("sunset_hour", 0.0, 24.0);
    if (c.sunrise && c.sunset && !(*c.sunset > *c.sunrise))
        throw ModelParameterError("sunset_hour", "must be later than sunrise_hour");
    c.ua = number("ua_per_area", 0.0);
    c.air_capacity = number("air_heat_capacity", -HUGE_VAL);
    c.mass_capacity = number("mass_capacity", 0.0);
    c.air_mass = number("air_mass_conductance", 0.0);
    if (c.mass_capacity && c.air_mass && *c.mass_capacity > 0.0 && !(*c.air_mass > 0.0))
        throw ModelParameterError("air_mass_conductance", "must be > 0 when mass_capacity > 0");
    if (detail::given(reader, "zone_parameters")) c.zone_values = read_zone_values(reader.raw("zone_parameters"), c);
    c.adjacency = choice("adjacency", {"row", "level", "none"});
    c.adjacent = number("adjacent_conductance", 0.0);
    c.per_person = number("gain_per_person", 0.0);
    c.radiant_fraction = number("radiant_fraction", 0.0, 1.0);
    c.deadband = number("deadband", 0.0);
    c.zone_capacity = number("zone_cooling_capacity", 0.0);
    c.ahu_dt = number("ahu_design_delta_t", -HUGE_VAL);
    c.default_cop = number("default_cop", -HUGE_VAL);
    if (detail::given(reader, "chiller_cop")) c.chiller_cop = read_chiller_cop(reader.raw("chiller_cop"));
    const nlohmann::json& aux = reader.raw("auxiliaries");
    if (!aux.is_boolean()) throw ModelParameterError("auxiliaries", "expected true or false, found " + aux.dump());
    c.auxiliaries = aux.get<bool>();
    if (detail::given(reader, "chiller_power_property")) c.chiller_power_property = reader.string("chiller_power_property");
    if (detail::given(reader, "zone_cooling_property")) c.zone_cooling_property = reader.string("zone_cooling_property");
    c.integrator = choice("integrator", {"auto", "exact", "implicit"});
    c.max_exact_states = number("max_exact_states", 1.0, 1e5);
    if (detail::given(reader, "step")) c.step = positive("step");
    return c;
}

/// Checks the room properties and optional write targets; returns the topology.
Topology check_graph(const scenario::Binding& binding, const graph::Snapshot& g, const Config& c) {
    // The properties' existence and ranges are checked by prepare() from properties().
    (void)detail::typed_columns(g, binding.twins, "temperature", "zones", {dtdl::ColumnType::float64},
                                "a double temperature");
    if (!c.zone_cooling_property.empty())
        (void)detail::typed_columns(g, binding.twins, c.zone_cooling_property, "zone_cooling_property",
                                    {dtdl::ColumnType::float64}, "a double");
    if (!c.zone_values.empty()) {
        std::set<std::string> rooms;
        for (const graph::TwinIndex t : binding.twins) rooms.insert(g.twin_id(t));
        for (const auto& [room, values] : c.zone_values)
            if (!rooms.contains(room))
                throw ModelParameterError("zone_parameters", "\"" + room + "\" is not one of the binding's " +
                                                                 std::to_string(rooms.size()) + " rooms");
    }
    Topology topo = discover(g, binding.twins);
    if (!c.chiller_cop.empty()) {
        std::set<std::string> chillers;
        for (const graph::TwinIndex t : topo.chillers) chillers.insert(g.twin_id(t));
        for (const auto& [chiller, cop] : c.chiller_cop)
            if (!chillers.contains(chiller))
                throw ModelParameterError("chiller_cop", "\"" + chiller + "\" is not one of the " +
                                                             std::to_string(chillers.size()) +
                                                             " chillers the binding's rooms reach");
    }
    if (!c.chiller_power_property.empty())
        (void)detail::typed_columns(g, topo.chillers, c.chiller_power_property, "chiller_power_property",
                                    {dtdl::ColumnType::float64}, "a double");
    return topo;
}

/// Local hour of day at simulated time t (s from the scenario's start, itself
/// `start_seconds` s after 1970).
double local_hour(const Config& c, double start_seconds, double t) {
    const double local = start_seconds + t + *c.utc_offset * 3600.0;
    double s = std::fmod(local, 86400.0);
    if (s < 0) s += 86400.0;
    return s / 3600.0;
}

/// The weather file's hour of the year (local standard time) at simulated time t: from
/// weather_start, or else from the start instant in the file's time zone.
double weather_hour(const Config& c, double start_seconds, double t) {
    if (c.weather_start) return *c.weather_start + t / 3600.0;
    using namespace std::chrono;
    const sys_time<duration<double>> local{duration<double>(start_seconds + c.weather_utc_offset * 3600.0)};
    const auto day = floor<days>(local);
    const year_month_day ymd{day};
    const double within = duration<double, std::ratio<3600>>(local - day).count();
    return hour_of_year(static_cast<int>(static_cast<unsigned>(ymd.month())), static_cast<int>(static_cast<unsigned>(ymd.day())),
                        within) +
           t / 3600.0;
}

/// The outdoor temperature (degC) at simulated time t: the weather file, the recorded series or the diurnal model.
double outdoor_at(const Config& c, double start_seconds, double t) {
    if (c.weather_temperature) return c.weather_temperature->at(weather_hour(c, start_seconds, t));
    if (!c.outdoor_series.empty()) {
        const auto& s = c.outdoor_series;
        if (t <= s.front().first) return s.front().second;
        if (t >= s.back().first) return s.back().second;
        const auto it = std::upper_bound(s.begin(), s.end(), t, [](double v, const auto& p) { return v < p.first; });
        const auto& [t1, v1] = *it;
        const auto& [t0, v0] = *(it - 1);
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0);
    }
    return *c.outdoor_mean +
           *c.outdoor_amplitude * std::cos(2.0 * std::numbers::pi * (local_hour(c, start_seconds, t) - *c.outdoor_peak_hour) / 24.0);
}

/// The solar gain per m2 of floor area at simulated time t divided by solar_peak (0 at night):
/// the half sine, or with a weather file its global horizontal irradiance / 1000 W/m2.
double solar_shape_at(const Config& c, double start_seconds, double t) {
    if (c.weather_ghi) return std::max(0.0, c.weather_ghi->at(weather_hour(c, start_seconds, t))) / 1000.0;
    const double h = local_hour(c, start_seconds, t);
    if (h <= *c.sunrise || h >= *c.sunset) return 0.0;
    return std::sin(std::numbers::pi * (h - *c.sunrise) / (*c.sunset - *c.sunrise));
}

/// The adjacent pairs of zones: rooms of one level ordered by $dtId (row) or every pair (level).
std::vector<std::pair<std::uint32_t, std::uint32_t>> adjacent_pairs(const Config& c, const Topology& topo,
                                                                   std::span<const graph::TwinIndex> twins,
                                                                   const std::vector<std::string>& ids) {
    std::map<graph::TwinIndex, std::vector<std::uint32_t>> by_level;
    for (std::uint32_t i = 0; i < twins.size(); ++i) by_level[topo.level[i]].push_back(i);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
    if (c.adjacency == "none" || !(*c.adjacent > 0.0)) return pairs;
    for (auto& [level, members] : by_level) {
        if (members.size() < 2 || level == twins[members.front()]) continue;  // no level: no neighbours
        std::sort(members.begin(), members.end(), [&](std::uint32_t x, std::uint32_t y) { return ids[x] < ids[y]; });
        if (c.adjacency == "row") {
            for (std::size_t k = 1; k < members.size(); ++k) pairs.emplace_back(members[k - 1], members[k]);
        } else {
            for (std::size_t k = 0; k < members.size(); ++k)
                for (std::size_t m = k + 1; m < members.size(); ++m) pairs.emplace_back(members[k], members[m]);
        }
    }
    return pairs;
}

/// A room's network parameters: its zone_parameters entry, else the binding's.
ZoneValues zone_values(const Config& c, const std::string& id) {
    ZoneValues v{c.ua, c.air_capacity, c.mass_capacity, c.air_mass};
    if (const auto it = c.zone_values.find(id); it != c.zone_values.end()) {
        if (it->second.ua) v.ua = it->second.ua;
        if (it->second.air_capacity) v.air_capacity = it->second.air_capacity;
        if (it->second.mass_capacity) v.mass_capacity = it->second.mass_capacity;
        if (it->second.air_mass) v.air_mass = it->second.air_mass;
    }
    return v;
}

class ThermalBehaviour final : public scenario::Behaviour {
public:
    ThermalBehaviour(const scenario::Binding& binding, const graph::Snapshot& g, Config config, Topology topo,
                     double step, scenario::Run& run)
        : twins_(binding.twins.begin(), binding.twins.end()), c_(std::move(config)), topo_(std::move(topo)), dt_(step) {
        const std::size_t nz = twins_.size();
        // Columns (every twin is a Room-like model; slots may differ by model).
        auto cols = [&](const char* p) { return scenario::numeric_columns(g, binding.twins, p, "zones"); };
        col_area_ = cols("area");
        col_volume_ = cols("airVolume");
        col_temperature_ = cols("temperature");
        col_setpoint_ = cols("temperatureSetpoint");
        col_occupancy_ = cols("occupancy");
        col_lighting_ = cols("lightingPower");
        col_equipment_ = cols("equipmentHeatGain");
        if (!c_.zone_cooling_property.empty())
            col_zone_cooling_ = scenario::numeric_columns(g, binding.twins, c_.zone_cooling_property, "zone_cooling_property");
        if (!c_.chiller_power_property.empty())
            col_chiller_power_ = scenario::numeric_columns(g, topo_.chillers, c_.chiller_power_property, "chiller_power_property");
        for (const graph::TwinIndex t : topo_.chillers) {
            col_capacity_.push_back(optional_column(g, t, "coolingCapacity"));
            col_cop_.push_back(optional_column(g, t, "coefficientOfPerformance"));
            col_chiller_rated_.push_back(optional_column(g, t, "ratedPower"));
        }
        for (const auto& pumps : topo_.chiller_pumps) {
            std::vector<std::optional<std::uint32_t>> flow, rated;
            for (const graph::TwinIndex p : pumps) {
                flow.push_back(optional_column(g, p, "flowRate"));
                rated.push_back(optional_column(g, p, "ratedPower"));
            }
            col_pump_flow_.push_back(std::move(flow));
            col_pump_rated_.push_back(std::move(rated));
        }
        for (const graph::TwinIndex a : topo_.ahus) {
            col_ahu_flow_.push_back(optional_column(g, a, "supplyAirflow"));
            col_ahu_rated_.push_back(optional_column(g, a, "ratedPower"));
        }
        // The plant's properties, read once per step in one batch (plant_value()).
        auto slots = [&](const std::vector<graph::TwinIndex>& twins, const std::vector<std::optional<std::uint32_t>>& columns) {
            std::vector<std::size_t> out;
            for (std::size_t k = 0; k < twins.size(); ++k) out.push_back(plant_slot(twins[k], columns[k]));
            return out;
        };
        slot_capacity_ = slots(topo_.chillers, col_capacity_);
        slot_cop_ = slots(topo_.chillers, col_cop_);
        for (std::size_t c = 0; c < topo_.chillers.size(); ++c) {
            slot_pump_flow_.push_back(slots(topo_.chiller_pumps[c], col_pump_flow_[c]));
            slot_pump_rated_.push_back(slots(topo_.chiller_pumps[c], col_pump_rated_[c]));
        }
        slot_ahu_flow_ = slots(topo_.ahus, col_ahu_flow_);
        slot_ahu_rated_ = slots(topo_.ahus, col_ahu_rated_);
        plant_values_.assign(plant_twins_.size(), 0.0);
        for (const graph::TwinIndex t : twins_) ids_.push_back(g.twin_id(t));
        for (const graph::TwinIndex t : topo_.chillers) chiller_ids_.push_back(g.twin_id(t));
        for (const std::string& id : chiller_ids_) {
            const auto it = c_.chiller_cop.find(id);
            cop_fixed_.push_back(it == c_.chiller_cop.end() ? std::nan("") : it->second);
        }
        for (const graph::TwinIndex t : topo_.ahus) ahu_ids_.push_back(g.twin_id(t));

        start_seconds_ = std::chrono::duration<double>(run.simulator().start_instant().time_since_epoch()).count();
        const double t_out0 = outdoor(run.simulator().now());

        // --- zones: areas, capacities, conductances (from the run's graph, after overrides)
        area_.resize(nz);
        h_out_.resize(nz);
        std::vector<double> cap_air(nz), h_am(nz), mass_cap(nz);
        for (std::size_t i = 0; i < nz; ++i) {
            const std::optional<double> a = run.value(twins_[i], col_area_[i]);
            if (!a || !(*a > 0.0) || !std::isfinite(*a))
                throw Error(detail::twin_message(model_name, ids_[i], "needs an area > 0 m2 (found " +
                                                                         (a ? nlohmann::json(*a).dump() : std::string("none")) + ")"));
            area_[i] = *a;
            std::optional<double> v = run.value(twins_[i], col_volume_[i]);
            if (!v) v = *a * 2.8;
            if (!(*v > 0.0) || !std::isfinite(*v))
                throw Error(detail::twin_message(model_name, ids_[i], "needs an airVolume > 0 m3 (found " + nlohmann::json(*v).dump() + ")"));
            const ZoneValues zv = zone_values(c_, ids_[i]);
            cap_air[i] = *v * *zv.air_capacity;
            h_out_[i] = *zv.ua * area_[i];
            h_am[i] = *zv.air_mass * area_[i];
            mass_cap[i] = *zv.mass_capacity * area_[i];
            zone_max_.push_back(*c_.zone_capacity * area_[i]);
        }

        // --- adjacency: rooms of one level, ordered by $dtId
        std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs = adjacent_pairs(c_, topo_, twins_, ids_);
        adjacent_pairs_ = pairs.size();

        // --- the RC network (rc_network.hpp): numbering, integrator, responses
        RcNetwork::Zones zones;
        zones.air_capacity = cap_air;
        zones.to_outdoor = h_out_;
        if (*c_.mass_capacity > 0.0) {
            zones.mass_capacity = mass_cap;
            zones.air_to_mass = h_am;
        }
        zones.adjacent = std::move(pairs);
        zones.adjacent_conductance = *c_.adjacent;
        const RcNetwork::Integrator integrator = c_.integrator == "exact"      ? RcNetwork::Integrator::exact
                                                 : c_.integrator == "implicit" ? RcNetwork::Integrator::implicit
                                                                               : RcNetwork::Integrator::automatic;
        net_ = std::make_unique<RcNetwork>(zones, dt_, integrator, *c_.max_exact_states);
        stats_.integrator = net_->exact() ? "exact" : "implicit";
        stats_.states = net_->states();
        stats_.components = net_->groups().size();

        // --- initial state: the room temperature (outdoor at time 0 when unset); mass = air.
        std::vector<double> t_initial(nz);
        for (std::size_t i = 0; i < nz; ++i) {
            const std::optional<double> t0 = run.value(twins_[i], col_temperature_[i]);
            t_initial[i] = t0 && std::isfinite(*t0) ? *t0 : t_out0;
        }
        net_->set_temperatures(t_initial);
        air_in_.assign(nz, 0.0);
        mass_in_.assign(nz, 0.0);
        demand_.assign(nz, 0.0);
        warm_.assign(nz, 0.0);
        occupancy_.assign(nz, 0.0);
        lighting_.assign(nz, 0.0);
        equipment_.assign(nz, 0.0);
        end_.assign(nz, 0.0);
        delivered_.assign(nz, 0.0);
        writes_.reserve(nz + topo_.chillers.size() + (col_zone_cooling_.empty() ? 0 : nz));
        stats_.zones = ids_;
        stats_.chillers = chiller_ids_;
        stats_.air_handlers = ahu_ids_;
        stats_.chiller_load.assign(topo_.chillers.size(), 0.0);
        stats_.chiller_power.assign(topo_.chillers.size(), 0.0);
        stats_.chiller_energy.assign(topo_.chillers.size(), 0.0);
    }

    void start(scenario::Run& run) override {
        run_ = &run;
        kernel::Simulator& sim = run.simulator();
        if (std::isfinite(run.horizon()) && run.horizon() >= sim.now()) {
            summary_ = sim.on<std::uint32_t>([this](kernel::Simulator&, std::uint32_t) { log_summary(); });
            sim.schedule_at(summary_, run.horizon(), std::uint32_t{0}, kernel::max_priority - 1);
        }
    }

    [[nodiscard]] ThermalStatistics statistics() const {
        ThermalStatistics s = stats_;
        s.zone_cooling = delivered_;
        s.zone_demand = demand_;
        s.mass_temperature.resize(twins_.size());
        for (std::size_t i = 0; i < twins_.size(); ++i)
            s.mass_temperature[i] = net_->mass_temperature(static_cast<std::uint32_t>(i));
        return s;
    }

private:
    /// A thermostat's state at a solution: no cooling, proportional, at its capacity.
    enum class State : std::uint8_t { off, proportional, full };
    struct Packed {
        std::vector<double> matrix, gain, max, inv_max;
        std::vector<double> extra;  ///< 1/gain - g per active zone (1/K; 0 without a deadband)
        std::vector<std::uint32_t> active;
        std::vector<State> state;         ///< per active zone at the last solution (empty: none yet)
        std::vector<State> factor_state;  ///< the states `factor` was computed for (empty: none)
        std::vector<std::uint32_t> proportional;  ///< the active positions in State::proportional
        std::vector<double> factor;  ///< Cholesky factor over `proportional`, lower, row-major
        std::vector<double> inv_diagonal;  ///< 1 / its diagonal
    };

    double outdoor(double t) const { return outdoor_at(c_, start_seconds_, t); }

    /// Solar gain per m2 of floor area at simulated time t.
    double solar(double t) const { return *c_.solar_peak > 0.0 ? *c_.solar_peak * solar_shape_at(c_, start_seconds_, t) : 0.0; }

    static constexpr std::size_t no_slot = static_cast<std::size_t>(-1);

    /// The position of (t, col) in the plant's batch read; no_slot without a column.
    std::size_t plant_slot(graph::TwinIndex t, const std::optional<std::uint32_t>& col) {
        if (!col) return no_slot;
        plant_twins_.push_back(t);
        plant_columns_.push_back(*col);
        return plant_twins_.size() - 1;
    }

    /// A plant property as this step's batch read it, `fallback` when the model has no such
    /// property or it is unset or not finite.
    [[nodiscard]] double plant_value(std::size_t slot, double fallback) const {
        if (slot == no_slot) return fallback;
        const double v = plant_values_[slot];
        return std::isfinite(v) ? v : fallback;
    }

    [[nodiscard]] double step_period() const override { return dt_; }

    /// Integrates [now - dt, now]: inputs held at their values at the middle of the step.
    void step(scenario::Run& run, double now, double dt) override {
        (void)dt;  // == dt_
        const std::size_t nz = twins_.size();
        const double mid = now - 0.5 * dt_;
        const double t_out = outdoor(mid);
        const double sol = solar(mid);
        const double rf = net_->has_mass() ? *c_.radiant_fraction : 0.0;
        const double deadband = *c_.deadband;

        // Inputs (W per node): outdoor coupling plus gains.
        double gains = 0.0, h_t_out = 0.0;
        // Every zone's inputs at once, one contiguous array per property.
        setpoint_.resize(nz);
        const std::array<graph::NumericRead, 4> reads{{{col_occupancy_, occupancy_, 0.0},
                                                       {col_lighting_, lighting_, 0.0},
                                                       {col_equipment_, equipment_, 0.0},
                                                       {col_setpoint_, setpoint_}}};
        run.read(twins_, reads);
        // Gains of every zone as one vector expression over the gathered columns.
        using Column = Eigen::Map<const Eigen::VectorXd>;
        const auto n = static_cast<Eigen::Index>(nz);
        gain_ = Column(occupancy_.data(), n) * *c_.per_person + Column(lighting_.data(), n) +
                Column(equipment_.data(), n) + sol * Column(area_.data(), n);
        gains = gain_.sum();
        h_t_out = t_out * Column(h_out_.data(), n).sum();
        for (std::size_t i = 0; i < nz; ++i) {
            const double gi = gain_[static_cast<Eigen::Index>(i)];
            air_in_[i] = h_out_[i] * t_out + (1.0 - rf) * gi;
            mass_in_[i] = rf * gi;
            if (!std::isfinite(setpoint_[i])) setpoint_[i] = std::numeric_limits<double>::quiet_NaN();
        }

        // Free response (no cooling) at the end of the step.
        net_->hold_inputs(air_in_, mass_in_);

        // Thermostats: proportional over the deadband, evaluated at the end of the step,
        // all of a group's thermostats at once (each one's cooling also cools its neighbours).
        demand_.swap(warm_);  // warm_: the previous step's demands (the joint solve starts there)
        std::fill(demand_.begin(), demand_.end(), 0.0);
        if (net_->has_group_responses())
            thermostats_joint();
        else
            thermostats_implicit();
        allocate(run);

        // Cooling (a heat sink at each air node, held over the step).
        double cooling = 0.0;
        for (std::size_t i = 0; i < nz; ++i) cooling += delivered_[i];
        const RcNetwork::StepResult moved = net_->advance(delivered_, h_t_out);
        stats_.gains += gains * dt_;
        stats_.cooling += cooling * dt_;
        stats_.outdoor_loss += moved.outdoor_loss;
        stats_.stored += moved.stored;
        ++stats_.steps;

        // One write batch: temperatures, then the optional cooling and power properties.
        writes_.clear();
        for (std::size_t i = 0; i < nz; ++i) {
            const double t_air = net_->air_temperature(static_cast<std::uint32_t>(i));
            writes_.push_back(graph::PropertyWrite{twins_[i], col_temperature_[i], t_air, std::nullopt});
            if (!std::isnan(setpoint_[i]))
                stats_.overheating += std::max(0.0, t_air - (setpoint_[i] + 0.5 * deadband)) * dt_ / 3600.0;
        }
        if (!col_zone_cooling_.empty())
            for (std::size_t i = 0; i < nz; ++i)
                writes_.push_back(graph::PropertyWrite{twins_[i], col_zone_cooling_[i], delivered_[i], std::nullopt});
        if (!col_chiller_power_.empty())
            for (std::size_t c = 0; c < topo_.chillers.size(); ++c)
                writes_.push_back(graph::PropertyWrite{topo_.chillers[c], col_chiller_power_[c],
                                                       stats_.chiller_power[c] / 1000.0, std::nullopt});
        run.write(writes_);
    }

    [[nodiscard]] bool controlled(std::size_t i) const {
        return !topo_.zone_ahus[i].empty() && !std::isnan(setpoint_[i]) && zone_max_[i] > 0.0;
    }

    /// The demand of thermostat i when its air would end the step at `own` K without its own
    /// cooling and `g` K/W is its response to its own cooling.
    [[nodiscard]] double control(std::size_t i, double own, double g) const {
        const double deadband = *c_.deadband;
        double d;
        if (deadband > 0.0) {
            const double k = zone_max_[i] / deadband;
            d = k * (own - (setpoint_[i] - 0.5 * deadband)) / (1.0 + k * g);
        } else {
            d = (own - setpoint_[i]) / g;
        }
        return std::clamp(d, 0.0, zone_max_[i]);
    }

    /// Projected Gauss-Seidel on each group's end-of-step response G (net_->group_response():
    /// the exact integrator's Gamma, or the implicit one's dt (C + dt L)^-1, restricted to the
    /// air nodes; symmetric positive definite): converges to the demands that every
    /// thermostat would choose knowing the others' cooling. control() is applied as
    /// clamp(gain (own - low), 0, max) with gain = K / (1 + K g) computed once per active set.
    ///
    /// The fixed point is unique, so where the sweeps start changes only how many they
    /// take, not where they stop (the same stopping rule: no demand moves by more than
    /// 1e-13 of its room's capacity in a sweep). They start from the solution of the
    /// linear system the fixed point satisfies when each thermostat is in the state it
    /// had at the previous step's solution (off, proportional or at full capacity):
    /// for the proportional ones F, with the others' demands fixed at 0 or their capacity,
    ///     (diag(1/gain - g) + G)_FF d_F = (T_free - low)_F - G_FC d_C
    /// (symmetric positive definite; its Cholesky factor is kept until the states change).
    /// When the states still hold, the first sweep moves nothing by more than rounding
    /// and is the last; when one changed, the sweeps carry on from there. The first step
    /// (or a new active set) starts from the previous demands.
    void thermostats_joint() {
        const std::vector<std::vector<std::uint32_t>>& groups = net_->groups();
        if (packed_.size() != groups.size()) packed_.assign(groups.size(), {});
        const double deadband = *c_.deadband;
        for (std::size_t k = 0; k < groups.size(); ++k) {
            const std::vector<std::uint32_t>& group = groups[k];
            active_.clear();  // positions in the group
            for (std::uint32_t a = 0; a < group.size(); ++a)
                if (controlled(group[a])) active_.push_back(a);
            const std::size_t m = active_.size();
            if (m == 0) continue;
            // The active rows and columns of G packed column by column (column c: the
            // response to active zone c's cooling) with each active zone's constants,
            // rebuilt only when the active set changes.
            Packed& p = packed_[k];
            if (p.active != active_) {
                const double* g = net_->group_response(k).data();
                const std::size_t n = group.size();
                p.matrix.resize(m * m);
                for (std::size_t c = 0; c < m; ++c)
                    for (std::size_t r = 0; r < m; ++r) p.matrix[c * m + r] = g[active_[r] * n + active_[c]];
                p.gain.resize(m);
                p.max.resize(m);
                p.inv_max.resize(m);
                p.extra.resize(m);
                for (std::size_t c = 0; c < m; ++c) {
                    const std::uint32_t i = group[active_[c]];
                    const double gii = p.matrix[c * m + c];
                    const double kk = deadband > 0.0 ? zone_max_[i] / deadband : 0.0;
                    p.gain[c] = deadband > 0.0 ? kk / (1.0 + kk * gii) : 1.0 / gii;
                    p.extra[c] = deadband > 0.0 ? 1.0 / kk : 0.0;
                    p.max[c] = zone_max_[i];
                    p.inv_max[c] = 1.0 / zone_max_[i];
                }
                p.active = active_;
                p.state.clear();
                p.factor_state.clear();
            }
            local_end_.resize(m);
            local_low_.resize(m);
            local_demand_.resize(m);
            double* __restrict end = local_end_.data();
            double* __restrict low = local_low_.data();
            double* __restrict d = local_demand_.data();
            const double* __restrict matrix = p.matrix.data();
            const double* __restrict gain = p.gain.data();
            const double* __restrict max = p.max.data();
            const double* __restrict inv_max = p.inv_max.data();
            for (std::size_t r = 0; r < m; ++r) {
                const std::uint32_t i = group[active_[r]];
                end[r] = net_->free_air_temperature(i);
                low[r] = deadband > 0.0 ? setpoint_[i] - 0.5 * deadband : setpoint_[i];
            }
            if (!p.state.empty() && predict(p, m, end, low, d)) {
                // d: the fixed point if every thermostat keeps its state
            } else {
                for (std::size_t r = 0; r < m; ++r) d[r] = std::clamp(warm_[group[active_[r]]], 0.0, max[r]);
            }
            // The end temperatures under the starting demands.
            for (std::size_t c = 0; c < m; ++c) {
                if (d[c] == 0.0) continue;
                const double* __restrict column = matrix + c * m;
                const double dc = d[c];
                for (std::size_t r = 0; r < m; ++r) end[r] -= column[r] * dc;
            }
            for (int sweep = 0; sweep < 500; ++sweep) {
                double change = 0.0;
                for (std::size_t c = 0; c < m; ++c) {
                    const double* __restrict column = matrix + c * m;
                    const double own = end[c] + column[c] * d[c];
                    const double next = std::clamp(gain[c] * (own - low[c]), 0.0, max[c]);
                    const double delta = next - d[c];
                    if (delta == 0.0) continue;
                    for (std::size_t r = 0; r < m; ++r) end[r] -= column[r] * delta;  // element-wise: vectorises
                    d[c] = next;
                    change = std::max(change, std::abs(delta) * inv_max[c]);
                }
                if (change <= 1e-13) break;
            }
            p.state.resize(m);
            for (std::size_t r = 0; r < m; ++r) {
                const std::uint32_t i = group[active_[r]];
                end_[i] = end[r];
                demand_[i] = d[r];
                p.state[r] = d[r] <= 0.0 ? State::off : d[r] >= max[r] ? State::full : State::proportional;
            }
        }
    }

    /// thermostats_joint()'s starting point: the demands d (m active zones) that satisfy
    /// the fixed point when every thermostat keeps p.state, from the free end temperatures
    /// `end` and low band edges `low`. False (d unset) when the factorisation fails.
    bool predict(Packed& p, std::size_t m, const double* end, const double* low, double* d) {
        const double* matrix = p.matrix.data();
        if (p.factor_state != p.state) {
            p.proportional.clear();
            for (std::uint32_t c = 0; c < m; ++c)
                if (p.state[c] == State::proportional) p.proportional.push_back(c);
            const std::size_t f = p.proportional.size();
            // Cholesky factor (lower, row-major) of (diag(1/gain - g) + G) over the proportional zones.
            p.factor.assign(f * f, 0.0);
            p.inv_diagonal.assign(f, 0.0);
            double* l = p.factor.data();
            for (std::size_t a = 0; a < f; ++a) {
                const std::uint32_t ca = p.proportional[a];
                for (std::size_t b = 0; b <= a; ++b) {
                    const std::uint32_t cb = p.proportional[b];
                    double sum = matrix[cb * m + ca] + (a == b ? p.extra[ca] : 0.0);
                    for (std::size_t j = 0; j < b; ++j) sum -= l[a * f + j] * l[b * f + j];
                    if (a == b) {
                        if (!(sum > 0.0)) {
                            p.factor_state.clear();
                            return false;
                        }
                        l[a * f + a] = std::sqrt(sum);
                        p.inv_diagonal[a] = 1.0 / l[a * f + a];
                    } else {
                        l[a * f + b] = sum * p.inv_diagonal[b];
                    }
                }
            }
            p.factor_state = p.state;
        }
        const std::size_t f = p.proportional.size();
        for (std::size_t c = 0; c < m; ++c) d[c] = p.state[c] == State::full ? p.max[c] : 0.0;
        if (f == 0) return true;
        local_rhs_.resize(f);
        double* rhs = local_rhs_.data();
        for (std::size_t a = 0; a < f; ++a) {
            const std::uint32_t c = p.proportional[a];
            double v = end[c] - low[c];
            for (std::size_t j = 0; j < m; ++j)
                if (p.state[j] == State::full) v -= matrix[j * m + c] * p.max[j];
            rhs[a] = v;
        }
        const double* l = p.factor.data();
        for (std::size_t a = 0; a < f; ++a) {  // L y = rhs
            double v = rhs[a];
            for (std::size_t j = 0; j < a; ++j) v -= l[a * f + j] * rhs[j];
            rhs[a] = v * p.inv_diagonal[a];
        }
        for (std::size_t a = f; a-- > 0;) {  // L^T x = y
            double v = rhs[a];
            for (std::size_t j = a + 1; j < f; ++j) v -= l[j * f + a] * rhs[j];
            rhs[a] = v * p.inv_diagonal[a];
        }
        for (std::size_t a = 0; a < f; ++a) d[p.proportional[a]] = rhs[a];
        return true;
    }

    /// Implicit integrator with groups too large for dense responses: damped Jacobi
    /// iterations, each one sparse solve for the end-of-step temperatures under the
    /// current demands (at most 60).
    void thermostats_implicit() {
        const std::size_t nz = twins_.size();
        bool any = false;
        for (std::size_t i = 0; i < nz; ++i)
            if (controlled(i)) {
                demand_[i] = control(i, net_->free_air_temperature(static_cast<std::uint32_t>(i)),
                                     net_->self_response(static_cast<std::uint32_t>(i)));
                any = true;
            }
        if (!any) return;
        for (int iteration = 0; iteration < 60; ++iteration) {
            net_->sink_response(demand_, end_);
            double change = 0.0;
            for (std::size_t i = 0; i < nz; ++i) {
                if (!controlled(i)) continue;
                const auto zone = static_cast<std::uint32_t>(i);
                const double g = net_->self_response(zone);
                const double t_end = net_->free_air_temperature(zone) - end_[i];
                const double d = control(i, t_end + g * demand_[i], g);
                const double next = demand_[i] + 0.5 * (d - demand_[i]);
                change = std::max(change, std::abs(next - demand_[i]) / zone_max_[i]);
                demand_[i] = next;
            }
            if (change <= 1e-10) break;
        }
    }

    /// Limits the thermostats' demands by the capacity upstream (air handlers,
    /// chillers, pumps) and computes the plant's electric power.
    void allocate(scenario::Run& run) {
        const std::size_t nz = twins_.size(), na = topo_.ahus.size(), nc = topo_.chillers.size();
        run.read(plant_twins_, plant_columns_, plant_values_);  // every plant property this step needs, at once
        ahu_demand_.assign(na, 0.0);
        for (std::size_t i = 0; i < nz; ++i)
            for (const std::uint32_t a : topo_.zone_ahus[i])
                ahu_demand_[a] += demand_[i] / static_cast<double>(topo_.zone_ahus[i].size());
        // Chillers: available capacity (W) when one of their pumps runs.
        chiller_available_.assign(nc, 0.0);
        running_pumps_.assign(nc, 0);
        for (std::size_t c = 0; c < nc; ++c) {
            const double cap = plant_value(slot_capacity_[c], 0.0) * 1000.0;
            const auto& pumps = topo_.chiller_pumps[c];
            for (std::size_t p = 0; p < pumps.size(); ++p) {
                const double flow = plant_value(slot_pump_flow_[c][p], 1.0);
                if (flow > 0.0) ++running_pumps_[c];
            }
            const bool pumped = pumps.empty() || running_pumps_[c] > 0;
            chiller_available_[c] = pumped ? std::max(0.0, cap) : 0.0;
        }
        // The chillers that serve each AHU this step: its available normal
        // (priority 1) chillers; when none is available, its available backup
        // chillers (feeds with priority >= 2) that run a second pump, which
        // drives the water through the cross-connection.
        serving_.resize(na);
        for (std::size_t a = 0; a < na; ++a) {
            serving_[a].clear();
            const auto& list = topo_.ahu_chillers[a];
            const auto& prio = topo_.ahu_chiller_priority[a];
            for (std::size_t k = 0; k < list.size(); ++k)
                if (prio[k] <= 1 && chiller_available_[list[k]] > 0.0) serving_[a].push_back(list[k]);
            if (!serving_[a].empty()) continue;
            for (std::size_t k = 0; k < list.size(); ++k)
                if (prio[k] >= 2 && chiller_available_[list[k]] > 0.0 && running_pumps_[list[k]] >= 2)
                    serving_[a].push_back(list[k]);
        }
        // Each AHU: limited by its air side, then its request split equally among its available chillers.
        chiller_request_.assign(nc, 0.0);
        ahu_request_.assign(na, 0.0);
        for (std::size_t a = 0; a < na; ++a) {
            double request = ahu_demand_[a];
            const double flow = plant_value(slot_ahu_flow_[a], std::nan(""));
            if (std::isfinite(flow)) request = std::min(request, std::max(0.0, flow) * 1206.0 * *c_.ahu_dt);
            const std::size_t available = serving_[a].size();
            ahu_request_[a] = available > 0 ? request : 0.0;
            for (const std::uint32_t c : serving_[a]) chiller_request_[c] += request / static_cast<double>(available);
        }
        chiller_fraction_.assign(nc, 0.0);
        for (std::size_t c = 0; c < nc; ++c)
            chiller_fraction_[c] =
                chiller_request_[c] > 0.0 ? std::min(1.0, chiller_available_[c] / chiller_request_[c]) : 0.0;
        ahu_ratio_.assign(na, 0.0);
        for (std::size_t a = 0; a < na; ++a) {
            if (!(ahu_demand_[a] > 0.0) || !(ahu_request_[a] > 0.0)) continue;
            const std::size_t available = serving_[a].size();
            double delivered = 0.0;
            for (const std::uint32_t c : serving_[a])
                delivered += chiller_fraction_[c] * ahu_request_[a] / static_cast<double>(available);
            ahu_ratio_[a] = delivered / ahu_demand_[a];
        }
        for (std::size_t i = 0; i < nz; ++i) {
            double ratio = 0.0;
            for (const std::uint32_t a : topo_.zone_ahus[i]) ratio += ahu_ratio_[a];
            delivered_[i] = topo_.zone_ahus[i].empty() ? 0.0 : demand_[i] * ratio / static_cast<double>(topo_.zone_ahus[i].size());
        }
        // Electric power.
        double electric = 0.0;
        for (std::size_t c = 0; c < nc; ++c) {
            const double load = chiller_fraction_[c] * chiller_request_[c];
            double cop = std::isnan(cop_fixed_[c]) ? plant_value(slot_cop_[c], *c_.default_cop)
                                                    : cop_fixed_[c];
            if (!(cop > 0.0)) cop = *c_.default_cop;
            double power = load / cop;
            if (c_.auxiliaries && load > 0.0)  // every running pump of a loaded chiller
                for (std::size_t p = 0; p < topo_.chiller_pumps[c].size(); ++p)
                    if (plant_value(slot_pump_flow_[c][p], 1.0) > 0.0)
                        power += plant_value(slot_pump_rated_[c][p], 0.0) * 1000.0;
            stats_.chiller_load[c] = load;
            stats_.chiller_power[c] = power;
            stats_.chiller_energy[c] += power * dt_;
            electric += power;
        }
        if (c_.auxiliaries)
            for (std::size_t a = 0; a < na; ++a)
                if (ahu_ratio_[a] > 0.0) electric += plant_value(slot_ahu_rated_[a], 0.0) * 1000.0;
        stats_.electric += electric * dt_;
    }

    void log_summary() {
        constexpr double kwh = 3.6e6;
        nlohmann::json chillers = nlohmann::json::object();
        for (std::size_t c = 0; c < chiller_ids_.size(); ++c) chillers[chiller_ids_[c]] = stats_.chiller_energy[c] / kwh;
        run_->log_event("", "thermal_summary",
                        {{"integrator", stats_.integrator},
                         {"zones", twins_.size()},
                         {"states", stats_.states},
                         {"adjacent_pairs", adjacent_pairs_},
                         {"gains_kwh", stats_.gains / kwh},
                         {"cooling_kwh", stats_.cooling / kwh},
                         {"outdoor_loss_kwh", stats_.outdoor_loss / kwh},
                         {"stored_kwh", stats_.stored / kwh},
                         {"electric_kwh", stats_.electric / kwh},
                         {"overheating_kh", stats_.overheating},
                         {"chiller_electric_kwh", chillers}});
    }

    std::vector<graph::TwinIndex> twins_;
    std::vector<std::string> ids_, chiller_ids_, ahu_ids_;
    std::vector<double> cop_fixed_;  ///< per chiller: chiller_cop's value, NaN when none
    Config c_;
    Topology topo_;
    double dt_;
    double start_seconds_ = 0.0;
    std::size_t adjacent_pairs_ = 0;

    std::vector<std::uint32_t> col_area_, col_volume_, col_temperature_, col_setpoint_, col_occupancy_, col_lighting_,
        col_equipment_, col_zone_cooling_, col_chiller_power_;
    std::vector<std::optional<std::uint32_t>> col_capacity_, col_cop_, col_chiller_rated_, col_ahu_flow_, col_ahu_rated_;
    std::vector<std::vector<std::optional<std::uint32_t>>> col_pump_flow_, col_pump_rated_;
    /// The plant's properties as one batch read per step (plant_value()): twins, columns,
    /// values, and each property's position in them (no_slot: the model lacks it).
    std::vector<graph::TwinIndex> plant_twins_;
    std::vector<std::uint32_t> plant_columns_;
    std::vector<double> plant_values_;
    std::vector<std::size_t> slot_capacity_, slot_cop_, slot_ahu_flow_, slot_ahu_rated_;
    std::vector<std::vector<std::size_t>> slot_pump_flow_, slot_pump_rated_;

    std::vector<double> area_, h_out_, zone_max_, setpoint_, demand_, delivered_;
    std::vector<double> end_;  ///< per zone: the end-of-step air temperature (exact) or cooling's drop of it (implicit) the thermostats work with
    std::vector<double> air_in_, mass_in_;  ///< this step's heat input (W) per zone at its air and mass node
    std::vector<double> occupancy_, lighting_, equipment_;  ///< this step's gains inputs (W or people), per zone
    std::vector<std::uint32_t> active_;
    /// thermostats_joint(): per group, its active zones' response matrix (packed by
    /// column), their thermostat gains and capacities, and the active set they were packed
    /// for; the active zones' end temperatures, low band edges and demands.
    std::vector<Packed> packed_;
    std::vector<double> local_end_, local_low_, local_demand_, local_rhs_;
    std::vector<double> warm_;  ///< per zone: the previous step's demand (W)
    std::unique_ptr<RcNetwork> net_;  ///< the zones' numerics (rc_network.hpp)
    Eigen::VectorXd gain_;  ///< W of internal + solar gain per zone, this step

    std::vector<double> ahu_demand_, ahu_request_, ahu_ratio_, chiller_available_, chiller_request_, chiller_fraction_;
    std::vector<int> running_pumps_;                   ///< per chiller: pumps with flow this step
    std::vector<std::vector<std::uint32_t>> serving_;  ///< per AHU: the chillers serving it this step
    std::vector<graph::PropertyWrite> writes_;
    ThermalStatistics stats_;
    scenario::Run* run_ = nullptr;
    kernel::EventType<std::uint32_t> summary_{};
};

}  // namespace

std::string_view ThermalZonesModel::description() const {
    return "Rooms as a resistance-capacitance network (air and mass node per room, outdoor, air-mass and "
           "adjacent-room conductances; occupancy, lighting, equipment and solar gains; diurnal, recorded or TMY3 weather-file "
           "outdoor temperature and solar gains) solved at once, exactly or implicitly, with the cooling of the HVAC plant in the graph "
           "(pumps -> chillers -> air-handling units -> rooms) limited by the capacity upstream; writes "
           "Room.temperature every step.";
}

std::span<const scenario::ModelParameter> ThermalZonesModel::parameters() const { return declared; }

std::string_view ThermalZonesModel::interface() const { return "dtmi:twinsim:building:Room;1"; }

std::vector<scenario::PropertyUse> ThermalZonesModel::properties(const scenario::Binding& binding) const {
    using Use = scenario::PropertyUse;
    using Access = Use::Access;
    const graph::Snapshot& g = detail::binding_graph(binding);
    std::vector<Use> out;
    out.push_back(Use("area").in("m2").positive());
    out.push_back(Use("airVolume").in("m3").positive());
    out.push_back(Use("temperature", Access::read_write).in("degC").within(-100.0, 200.0));
    out.push_back(Use("temperatureSetpoint").in("degC").within(-50.0, 100.0));
    out.push_back(Use("occupancy").in("people").within(0.0));
    out.push_back(Use("lightingPower").in("W").within(0.0));
    out.push_back(Use("equipmentHeatGain").in("W").within(0.0));
    const Topology topo = discover(g, binding.twins);
    std::vector<graph::TwinIndex> pumps;
    for (const auto& p : topo.chiller_pumps) pumps.insert(pumps.end(), p.begin(), p.end());
    out.push_back(Use("coolingCapacity").in("kW").within(0.0).optional().on(topo.chillers));
    out.push_back(Use("ratedPower").in("kW").within(0.0).optional().on(topo.chillers));
    out.push_back(Use("supplyAirflow").in("m3/s").within(0.0).optional().on(topo.ahus));
    out.push_back(Use("ratedPower").in("kW").within(0.0).optional().on(topo.ahus));
    out.push_back(Use("flowRate").in("L/s").within(0.0).optional().on(pumps));
    for (const auto& [name, parameter] : {std::pair{"zone_cooling_property", "zone_cooling_property"},
                                          std::pair{"chiller_power_property", "chiller_power_property"}}) {
        const auto it = binding.parameters.find(name);
        if (it == binding.parameters.end() || !it->is_string() || *it == "none") continue;
        Use use(it->get<std::string>(), Access::write, parameter);
        out.push_back(std::string_view(name) == "chiller_power_property" ? std::move(use).in("kW").on(topo.chillers)
                                                                          : std::move(use).in("W"));
    }
    return out;
}

void ThermalZonesModel::check(const scenario::Binding& binding) const {
    const Config c = read(binding, false);
    const graph::Snapshot& g = detail::binding_graph(binding);
    const Topology topo = check_graph(binding, g, c);
    // Each chiller's own coefficientOfPerformance overrides default_cop: it must be > 0 too.
    scenario::ParameterReader reader(binding.parameters, declared);
    (void)reader.per_twin("default_cop", g, topo.chillers,
                          [&g](graph::TwinIndex t, std::uint32_t column) { return g.numeric_value(t, column); });
}

std::unique_ptr<scenario::Behaviour> ThermalZonesModel::instantiate(const scenario::Binding& binding,
                                                                    scenario::Run& run) const {
    detail::require_ascending(binding);
    const graph::Snapshot& g = detail::binding_graph(binding, &run.base());
    Config c = read(binding, true);
    Topology topo = check_graph(binding, g, c);
    double step = 60.0;
    if (c.step)
        step = *c.step;
    else if (run.scenario() != nullptr)
        step = run.scenario()->spec.step;
    return std::make_unique<ThermalBehaviour>(binding, g, std::move(c), std::move(topo), step, run);
}

ThermalSetup thermal_setup(const scenario::Binding& binding, Timestamp start, double scenario_step) {
    const double start_seconds = static_cast<double>(start.ns) * 1e-9;
    const graph::Snapshot& g = detail::binding_graph(binding);
    auto c = std::make_shared<const Config>(read(binding, true));
    const Topology topo = check_graph(binding, g, *c);
    ThermalSetup s;
    const std::size_t nz = binding.twins.size();
    auto numeric = [&](graph::TwinIndex t, std::string_view property) -> std::optional<double> {
        const std::optional<std::uint32_t> col = optional_column(g, t, property);
        if (!col) return std::nullopt;
        const std::optional<double> v = g.numeric_value(t, *col);
        return v && std::isfinite(*v) ? v : std::nullopt;
    };
    s.has_mass = *c->mass_capacity > 0.0;
    for (const graph::TwinIndex t : binding.twins) {
        const std::string id = g.twin_id(t);
        const std::optional<double> a = numeric(t, "area");
        if (!a || !(*a > 0.0))
            throw Error(detail::twin_message(model_name, id, "needs an area > 0 m2 (found " +
                                                                 (a ? nlohmann::json(*a).dump() : std::string("none")) + ")"));
        const double v = numeric(t, "airVolume").value_or(*a * 2.8);
        if (!(v > 0.0)) throw Error(detail::twin_message(model_name, id, "needs an airVolume > 0 m3 (found " + nlohmann::json(v).dump() + ")"));
        const ZoneValues zv = zone_values(*c, id);
        s.zones.push_back(id);
        s.area.push_back(*a);
        s.volume.push_back(v);
        s.ua_per_area.push_back(*zv.ua);
        s.air_heat_capacity.push_back(*zv.air_capacity);
        s.mass_capacity.push_back(s.has_mass ? *zv.mass_capacity : 0.0);
        s.air_mass_conductance.push_back(*zv.air_mass);
        s.occupancy.push_back(numeric(t, "occupancy").value_or(0.0));
        s.lighting.push_back(numeric(t, "lightingPower").value_or(0.0));
        s.equipment.push_back(numeric(t, "equipmentHeatGain").value_or(0.0));
        s.temperature.push_back(numeric(t, "temperature").value_or(std::numeric_limits<double>::quiet_NaN()));
    }
    (void)nz;
    s.adjacent = adjacent_pairs(*c, topo, binding.twins, s.zones);
    s.adjacent_conductance = *c->adjacent;
    s.gain_per_person = *c->per_person;
    s.radiant_fraction = *c->radiant_fraction;
    s.solar_peak = *c->solar_peak;
    s.step = c->step ? *c->step : scenario_step;
    s.start = start;
    s.integrator = c->integrator;
    s.max_exact_states = *c->max_exact_states;
    s.outdoor = [c, start_seconds](double t) { return outdoor_at(*c, start_seconds, t); };
    s.solar_shape = [c, start_seconds](double t) { return solar_shape_at(*c, start_seconds, t); };
    return s;
}

std::optional<ThermalStatistics> thermal_statistics(const scenario::Behaviour& behaviour) {
    const auto* b = dynamic_cast<const ThermalBehaviour*>(&behaviour);
    if (b == nullptr) return std::nullopt;
    return b->statistics();
}

}  // namespace twinsim::models
