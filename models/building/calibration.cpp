#include "models/building/calibration.hpp"

#include <tbb/parallel_for.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <set>

#include "models/building/rc_network.hpp"
#include <filesystem>
#include <fstream>

#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/recorded_input.hpp"

namespace twinsim::models {

namespace {

constexpr std::array<std::string_view, 8> names{"ua_per_area",          "air_heat_capacity",    "mass_capacity",
                                                "air_mass_conductance", "adjacent_conductance", "gain_per_person",
                                                "radiant_fraction",     "solar_peak"};
constexpr std::size_t per_room_names = 4;  ///< the first four may be per room

std::string fmt(double x) { return nlohmann::json(x).dump(); }

/// Where each fitted value goes and what it changes.
struct Column {
    std::size_t name = 0;               ///< index in `names`
    std::vector<std::uint32_t> zones;   ///< the rooms it sets (every room for binding-wide network values)
    bool binding_wide = false;
    double initial = 0.0, lower = 0.0, upper = 0.0;
    double scale = 1.0;                 ///< the solver works on value / scale
};

/// The recorded inputs and outputs on the step grid.
struct Grid {
    std::size_t steps = 0;
    double dt = 0.0, start = 0.0;  ///< s; start from the scenario's start
    Timestamp window_start;
    std::size_t warmup_steps = 0;
    std::vector<double> outdoor, solar;           ///< per step, at its middle
    std::vector<std::vector<double>> gains;       ///< per zone, per step: W excluding solar (people x gain_per_person separately)
    std::vector<std::vector<double>> people;      ///< per zone, per step: occupancy
    std::vector<std::vector<double>> cooling;     ///< per zone, per step: W removed (empty: none)
    std::vector<std::vector<double>> recorded;    ///< per zone, per step end: degC (empty: not recorded)
    std::vector<double> initial;                  ///< per zone: air temperature at the window's start
};

/// The recorded (twin, key) at window start + times: linear, gaps up to max_gap bridged, else refused.
std::vector<double> recorded_values(const scenario::RecordedHistory& h, const std::string& twin, const std::string& key,
                                    Timestamp window_start, const std::vector<double>& times, double max_gap) {
    std::vector<double> v = scenario::resample(h, twin, key, window_start, times, scenario::Interpolation::linear,
                                               scenario::GapPolicy{max_gap, scenario::GapAction::refuse});
    for (std::size_t k = 0; k < v.size(); ++k)
        if (!std::isfinite(v[k]))
            throw CalibrationError("recorded " + key + " of " + twin + " is not finite at " +
                                   format_timestamp(Timestamp{window_start.ns + static_cast<std::int64_t>(std::llround(times[k] * 1e9))}));
    return v;
}

Grid make_grid(const ThermalSetup& setup, const scenario::RecordedHistory& recorded, const CalibrationOptions& o) {
    if (!std::isfinite(o.window_start) || !std::isfinite(o.window_end))
        throw CalibrationError("the window's start and end must be finite");
    if (!(setup.step > 0.0)) throw CalibrationError("the network's step must be > 0 s");
    if (!(o.max_gap > 0.0)) throw CalibrationError("max_gap must be > 0 s, found " + fmt(o.max_gap));
    if (!(o.warmup >= 0.0)) throw CalibrationError("warmup must be >= 0 s, found " + fmt(o.warmup));
    Grid g;
    g.dt = setup.step;
    g.start = o.window_start;
    const double span = o.window_end - o.window_start;
    g.steps = span > 0.0 ? static_cast<std::size_t>(std::floor(span / g.dt + 1e-9)) : 0;
    if (g.steps == 0)
        throw CalibrationError("the window [" + fmt(o.window_start) + ", " + fmt(o.window_end) +
                               "] s is empty: it must hold at least one step of " + fmt(g.dt) + " s");
    constexpr std::size_t max_steps = 100'000'000;
    if (g.steps * std::max<std::size_t>(setup.zones.size(), 1) > max_steps)
        throw CalibrationError("the window holds " + std::to_string(g.steps) + " steps of " +
                               std::to_string(setup.zones.size()) + " rooms, more than the limit of " +
                               std::to_string(max_steps) + " room-steps");
    g.warmup_steps = static_cast<std::size_t>(std::ceil(o.warmup / g.dt - 1e-9));
    if (g.warmup_steps >= g.steps) throw CalibrationError("the warm-up covers the whole window");
    const std::size_t n = g.steps, nz = setup.zones.size();
    g.window_start = Timestamp{setup.start.ns + static_cast<std::int64_t>(std::llround(g.start * 1e9))};
    std::vector<double> mids(n), ends(n), all(n + 1);
    for (std::size_t k = 0; k < n; ++k) {
        mids[k] = (static_cast<double>(k) + 0.5) * g.dt;
        ends[k] = static_cast<double>(k + 1) * g.dt;
    }
    for (std::size_t k = 0; k <= n; ++k) all[k] = static_cast<double>(k) * g.dt;
    g.outdoor.resize(n);
    g.solar.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
        g.outdoor[k] = setup.outdoor(g.start + mids[k]);
        g.solar[k] = setup.solar_shape(g.start + mids[k]);
        if (!std::isfinite(g.outdoor[k]))
            throw CalibrationError("the outdoor temperature is not finite at t = " + fmt(g.start + mids[k]) + " s");
    }
    g.gains.assign(nz, {});
    g.people.assign(nz, {});
    g.cooling.assign(nz, {});
    g.recorded.assign(nz, {});
    g.initial.assign(nz, 0.0);
    std::size_t with_temperature = 0;
    for (std::size_t i = 0; i < nz; ++i) {
        const std::string& id = setup.zones[i];
        // Gains: recorded when the history holds them, else the graph's value.
        auto input = [&](const char* property, double fallback) {
            if (recorded.find(id, property) != nullptr) return recorded_values(recorded, id, property, g.window_start, mids, o.max_gap);
            return std::vector<double>(n, fallback);
        };
        g.people[i] = input("occupancy", setup.occupancy[i]);
        const std::vector<double> lighting = input("lightingPower", setup.lighting[i]);
        g.gains[i] = input("equipmentHeatGain", setup.equipment[i]);
        for (std::size_t k = 0; k < n; ++k) g.gains[i][k] += lighting[k];
        if (!o.cooling_property.empty())  // refused naming the room when it has none
            g.cooling[i] = recorded_values(recorded, id, o.cooling_property, g.window_start, ends, o.max_gap);
        if (recorded.find(id, o.temperature_property) != nullptr) {
            std::vector<double> values = recorded_values(recorded, id, o.temperature_property, g.window_start, all, o.max_gap);
            g.initial[i] = values.front();
            values.erase(values.begin());
            g.recorded[i] = std::move(values);
            ++with_temperature;
        } else {
            const double t0 = setup.temperature[i];
            g.initial[i] = std::isfinite(t0) ? t0 : g.outdoor.front();
        }
    }
    if (with_temperature == 0)
        throw CalibrationError("the history has no recorded " + o.temperature_property + " of any of the " +
                               std::to_string(nz) + " rooms in the window");
    return g;
}

/// The connected groups of zones (the network's blocks): residuals of one
/// group depend on its rooms' values and the binding-wide ones only.
std::vector<std::vector<std::uint32_t>> zone_groups(const ThermalSetup& s) {
    const std::size_t nz = s.zones.size();
    std::vector<std::uint32_t> parent(nz);
    std::iota(parent.begin(), parent.end(), 0u);
    auto root = [&](std::uint32_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    if (s.adjacent_conductance > 0.0)
        for (const auto& [a, b] : s.adjacent) parent[root(a)] = root(b);
    std::map<std::uint32_t, std::vector<std::uint32_t>> groups;
    for (std::uint32_t i = 0; i < nz; ++i) groups[root(i)].push_back(i);
    std::vector<std::vector<std::uint32_t>> out;
    for (auto& [r, members] : groups) out.push_back(std::move(members));
    return out;
}

/// The network's values with the solver's vector p in place.
struct Values {
    std::vector<double> ua, air_capacity, mass_capacity, air_mass;
    double adjacent = 0.0, per_person = 0.0, radiant = 0.0, solar_peak = 0.0;
};

Values values_of(const ThermalSetup& s) {
    return {s.ua_per_area, s.air_heat_capacity, s.mass_capacity, s.air_mass_conductance,
            s.adjacent_conductance, s.gain_per_person, s.radiant_fraction, s.solar_peak};
}

void put(Values& v, const Column& c, double x) {
    switch (c.name) {
        case 0: for (const std::uint32_t z : c.zones) v.ua[z] = x; break;
        case 1: for (const std::uint32_t z : c.zones) v.air_capacity[z] = x; break;
        case 2: for (const std::uint32_t z : c.zones) v.mass_capacity[z] = x; break;
        case 3: for (const std::uint32_t z : c.zones) v.air_mass[z] = x; break;
        case 4: v.adjacent = x; break;
        case 5: v.per_person = x; break;
        case 6: v.radiant = x; break;
        default: v.solar_peak = x; break;
    }
}

double get(const ThermalSetup& s, std::size_t name, std::uint32_t zone) {
    switch (name) {
        case 0: return s.ua_per_area[zone];
        case 1: return s.air_heat_capacity[zone];
        case 2: return s.mass_capacity[zone];
        case 3: return s.air_mass_conductance[zone];
        case 4: return s.adjacent_conductance;
        case 5: return s.gain_per_person;
        case 6: return s.radiant_fraction;
        default: return s.solar_peak;
    }
}

/// Simulates one group of zones over the grid with values v; writes each
/// zone's end-of-step air temperature into out[zone] (steps long).
class GroupSimulator {
public:
    GroupSimulator(const ThermalSetup& s, const Grid& g, const std::vector<std::uint32_t>& zones, bool exact)
        : s_(s), g_(g), zones_(zones), exact_(exact) {
        std::map<std::uint32_t, std::uint32_t> local;
        for (std::uint32_t k = 0; k < zones.size(); ++k) local[zones[k]] = k;
        for (const auto& [a, b] : s.adjacent)
            if (local.contains(a) && local.contains(b)) pairs_.emplace_back(local[a], local[b]);
    }

    void run(const Values& v, std::vector<std::vector<double>>& out) const {
        const std::size_t nz = zones_.size();
        RcNetwork::Zones z;
        std::vector<double> h_out(nz);
        for (std::size_t k = 0; k < nz; ++k) {
            const std::uint32_t i = zones_[k];
            z.air_capacity.push_back(s_.volume[i] * v.air_capacity[i]);
            h_out[k] = v.ua[i] * s_.area[i];
            z.to_outdoor.push_back(h_out[k]);
            if (s_.has_mass) {
                z.mass_capacity.push_back(v.mass_capacity[i] * s_.area[i]);
                z.air_to_mass.push_back(v.air_mass[i] * s_.area[i]);
            }
        }
        z.adjacent = pairs_;
        z.adjacent_conductance = v.adjacent;
        RcNetwork net(z, g_.dt, exact_ ? RcNetwork::Integrator::exact : RcNetwork::Integrator::implicit);
        std::vector<double> t0(nz), air(nz), mass(nz), q(nz, 0.0);
        for (std::size_t k = 0; k < nz; ++k) t0[k] = g_.initial[zones_[k]];
        net.set_temperatures(t0);
        const double rf = s_.has_mass ? v.radiant : 0.0;
        const double h_sum = std::accumulate(h_out.begin(), h_out.end(), 0.0);
        for (std::size_t step = 0; step < g_.steps; ++step) {
            const double t_out = g_.outdoor[step];
            const double sol = v.solar_peak > 0.0 ? v.solar_peak * g_.solar[step] : 0.0;
            for (std::size_t k = 0; k < nz; ++k) {
                const std::uint32_t i = zones_[k];
                const double gain = g_.people[i][step] * v.per_person + g_.gains[i][step] + sol * s_.area[i];
                air[k] = h_out[k] * t_out + (1.0 - rf) * gain;
                mass[k] = rf * gain;
                q[k] = g_.cooling[i].empty() ? 0.0 : g_.cooling[i][step];
            }
            net.hold_inputs(air, mass);
            (void)net.advance(q, h_sum * t_out);
            for (std::size_t k = 0; k < nz; ++k)
                if (!g_.recorded[zones_[k]].empty()) out[zones_[k]][step] = net.air_temperature(static_cast<std::uint32_t>(k));
        }
    }

private:
    const ThermalSetup& s_;
    const Grid& g_;
    const std::vector<std::uint32_t>& zones_;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs_;
    bool exact_;
};

/// The integrator thermal_zones would choose for the whole network (auto's rule).
bool use_exact(const ThermalSetup& s, const std::vector<std::vector<std::uint32_t>>& groups) {
    if (s.integrator == "exact") return true;
    if (s.integrator == "implicit") return false;
    const double per_zone = s.has_mass ? 2.0 : 1.0;
    std::size_t largest = 0;
    for (const auto& g : groups) largest = std::max(largest, g.size());
    return per_zone * static_cast<double>(largest) <= s.max_exact_states &&
           per_zone * static_cast<double>(s.zones.size()) <= 10.0 * s.max_exact_states;
}

/// Guideline 14 of the recorded rooms' temperatures after the warm-up
/// (twinsim/common/guideline14.hpp: UTC clock hours, p = 1), and the RMSE.
ModelFit fit_statistics(const ThermalSetup& s, const Grid& g, const std::vector<std::vector<double>>& model) {
    ModelFit fit;
    std::vector<std::string> twins;
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < s.zones.size(); ++i)
        if (!g.recorded[i].empty()) {
            twins.push_back(s.zones[i]);
            rows.push_back(i);
        }
    const std::size_t n = g.steps - g.warmup_steps;
    std::vector<double> times(n), measured(n * rows.size()), modelled(n * rows.size());
    double sq = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t step = g.warmup_steps + k;
        times[k] = static_cast<double>(step + 1) * g.dt;
        for (std::size_t c = 0; c < rows.size(); ++c) {
            measured[k * rows.size() + c] = g.recorded[rows[c]][step];
            modelled[k * rows.size() + c] = model[rows[c]][step];
            const double r = model[rows[c]][step] - g.recorded[rows[c]][step];
            sq += r * r;
        }
    }
    fit.guideline14 = guideline14_report(g.window_start, times, twins, measured, modelled);
    fit.rmse = measured.empty() ? 0.0 : std::sqrt(sq / static_cast<double>(measured.size()));
    return fit;
}

std::vector<Column> make_columns(const ThermalSetup& s, std::span<const ParameterChoice> fit) {
    if (fit.empty()) throw CalibrationError("no parameter to fit: choose at least one (e.g. ua_per_area@room-01-*)");
    std::vector<Column> out;
    std::set<std::pair<std::size_t, std::int64_t>> taken;  // (name, zone or -1 for binding-wide)
    for (const ParameterChoice& choice : fit) {
        const auto it = std::find(names.begin(), names.end(), choice.name);
        if (it == names.end()) {
            std::string list;
            for (const std::string_view n : names) list += (list.empty() ? "" : ", ") + std::string(n);
            throw CalibrationError("unknown parameter \"" + choice.name + "\": thermal_zones can calibrate " + list);
        }
        const auto name = static_cast<std::size_t>(it - names.begin());
        if (!s.has_mass && (name == 2 || name == 3 || name == 6))
            throw CalibrationError("\"" + choice.name + "\" cannot be fitted: the binding's rooms have no mass node (mass_capacity 0)");
        std::vector<std::vector<std::uint32_t>> sets;  // one column per set
        if (choice.zones.empty()) {
            std::vector<std::uint32_t> every(s.zones.size());
            std::iota(every.begin(), every.end(), 0u);
            sets.push_back(std::move(every));
        } else {
            if (name >= per_room_names)
                throw CalibrationError("\"" + choice.name + "\" is binding-wide: it takes no room selector (\"" +
                                       choice.name + "@" + choice.zones + "\")");
            const bool prefix = choice.zones.back() == '*';
            const std::string stem = prefix ? choice.zones.substr(0, choice.zones.size() - 1) : choice.zones;
            for (std::uint32_t i = 0; i < s.zones.size(); ++i)
                if (prefix ? s.zones[i].starts_with(stem) : s.zones[i] == stem) sets.push_back({i});
            if (sets.empty())
                throw CalibrationError("\"" + choice.name + "@" + choice.zones + "\": no room of the binding's " +
                                       std::to_string(s.zones.size()) + " is " +
                                       (prefix ? "named \"" + stem + "...\"" : "\"" + stem + "\""));
        }
        for (std::vector<std::uint32_t>& zones : sets) {
            Column c;
            c.name = name;
            c.binding_wide = choice.zones.empty();
            const std::int64_t key = c.binding_wide ? -1 : static_cast<std::int64_t>(zones.front());
            if (!taken.insert({name, key}).second)
                throw CalibrationError("\"" + choice.name + "\"" + (c.binding_wide ? "" : " of " + s.zones[zones.front()]) +
                                       " is chosen twice");
            c.initial = get(s, name, zones.front());
            if (!c.binding_wide) {
                // A per-room value and the binding-wide one of the same name would fight.
                if (taken.contains({name, -1}))
                    throw CalibrationError("\"" + choice.name + "\" is chosen both binding-wide and for " + s.zones[zones.front()]);
            } else {
                for (const auto& [n2, k2] : taken)
                    if (n2 == name && k2 >= 0)
                        throw CalibrationError("\"" + choice.name + "\" is chosen both binding-wide and for " +
                                               s.zones[static_cast<std::size_t>(k2)]);
            }
            c.zones = std::move(zones);
            const bool fraction = name == 6;
            const double mag = std::abs(c.initial);
            c.lower = choice.lower.value_or(fraction ? 0.0 : (mag > 0.0 ? c.initial / 10.0 : 0.0));
            c.upper = choice.upper.value_or(fraction ? 1.0 : (mag > 0.0 ? c.initial * 10.0 : 1.0));
            if (!(c.lower <= c.initial && c.initial <= c.upper) || !std::isfinite(c.lower) || !std::isfinite(c.upper))
                throw CalibrationError("\"" + choice.name + "\": the bounds [" + fmt(c.lower) + ", " + fmt(c.upper) +
                                       "] do not hold the initial value " + fmt(c.initial));
            const bool positive = name <= 3 && name != 0;  // capacities and the air-mass conductance must stay > 0
            if (positive && !(c.lower > 0.0))
                throw CalibrationError("\"" + choice.name + "\": the lower bound must be > 0, found " + fmt(c.lower));
            if (c.lower < 0.0) throw CalibrationError("\"" + choice.name + "\": the lower bound must be >= 0, found " + fmt(c.lower));
            if (fraction && c.upper > 1.0) throw CalibrationError("\"radiant_fraction\": the upper bound must be <= 1");
            c.scale = mag > 0.0 ? mag : std::max(1.0, std::abs(c.upper));
            out.push_back(std::move(c));
        }
    }
    return out;
}

}  // namespace

std::span<const std::string_view> calibratable_parameters() { return names; }

ParameterChoice parse_parameter_choice(std::string_view text) {
    ParameterChoice c;
    std::string_view head = text;
    std::string_view bounds;
    if (const auto eq = text.find('='); eq != std::string_view::npos) {
        head = text.substr(0, eq);
        bounds = text.substr(eq + 1);
        const auto colon = bounds.find(':');
        if (colon == std::string_view::npos)
            throw CalibrationError("\"" + std::string(text) + "\": bounds are written LOW:HIGH (either may be empty)");
        auto number = [&](std::string_view s) -> std::optional<double> {
            if (s.empty()) return std::nullopt;
            std::size_t used = 0;
            double x = 0;
            try {
                x = std::stod(std::string(s), &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != s.size() || !std::isfinite(x))
                throw CalibrationError("\"" + std::string(text) + "\": \"" + std::string(s) + "\" is not a finite number");
            return x;
        };
        c.lower = number(bounds.substr(0, colon));
        c.upper = number(bounds.substr(colon + 1));
    }
    if (const auto at = head.find('@'); at != std::string_view::npos) {
        c.name = std::string(head.substr(0, at));
        c.zones = std::string(head.substr(at + 1));
        if (c.zones.empty()) throw CalibrationError("\"" + std::string(text) + "\": an empty room selector after '@'");
    } else {
        c.name = std::string(head);
    }
    if (c.name.empty()) throw CalibrationError("\"" + std::string(text) + "\": no parameter name");
    return c;
}

ThermalSetup thermal_setup(const scenario::PreparedScenario& prepared, std::size_t binding) {
    std::size_t seen = 0;
    for (std::size_t k = 0; k < prepared.bindings.size(); ++k) {
        const scenario::BindingPlan& plan = prepared.bindings[k];
        if (plan.model == nullptr || plan.model->name() != "thermal_zones") continue;
        if (seen++ != binding) continue;
        scenario::Binding b;
        b.index = k;
        b.model = plan.name;
        b.parameters = plan.parameters;
        b.twins = plan.twins;
        b.graph = &prepared.graph;
        b.processes = &prepared.processes;
        return thermal_setup(b, prepared.spec.start, prepared.spec.step);
    }
    throw CalibrationError("scenario " + prepared.spec.name + " has " + std::to_string(seen) +
                           " thermal_zones binding(s): no binding " + std::to_string(binding) + " to calibrate");
}

namespace {

/// The least-squares problem: residuals grouped by connected group of zones.
class Problem {
public:
    Problem(const ThermalSetup& s, const Grid& g, std::vector<Column> columns)
        : s_(s), g_(g), columns_(std::move(columns)), groups_(zone_groups(s)), exact_(use_exact(s, groups_)) {
        std::vector<std::size_t> group_of(s.zones.size());
        for (std::size_t k = 0; k < groups_.size(); ++k)
            for (const std::uint32_t z : groups_[k]) group_of[z] = k;
        touching_.resize(groups_.size());
        for (std::size_t j = 0; j < columns_.size(); ++j) {
            std::set<std::size_t> gs;
            if (columns_[j].name >= per_room_names || columns_[j].binding_wide) {
                for (std::size_t k = 0; k < groups_.size(); ++k) gs.insert(k);
            } else {
                for (const std::uint32_t z : columns_[j].zones) gs.insert(group_of[z]);
            }
            for (const std::size_t k : gs) touching_[k].push_back(j);
        }
        for (const auto& grp : groups_) sims_.emplace_back(s, g, grp, exact_);
        for (std::size_t i = 0; i < s.zones.size(); ++i)
            if (!g.recorded[i].empty()) m_ += g.steps - g.warmup_steps;
    }

    [[nodiscard]] std::size_t parameters() const { return columns_.size(); }
    [[nodiscard]] std::size_t residuals() const { return m_; }
    [[nodiscard]] const std::vector<Column>& columns() const { return columns_; }
    [[nodiscard]] std::size_t simulations() const { return simulations_; }

    [[nodiscard]] Values values(const Eigen::VectorXd& p) const {
        Values v = values_of(s_);
        for (std::size_t j = 0; j < columns_.size(); ++j) put(v, columns_[j], p[static_cast<Eigen::Index>(j)] * columns_[j].scale);
        return v;
    }

    /// Modelled temperatures of every recorded zone.
    void simulate(const Eigen::VectorXd& p, std::vector<std::vector<double>>& model) {
        model.assign(s_.zones.size(), std::vector<double>(g_.steps, 0.0));
        const Values v = values(p);
        tbb::parallel_for(std::size_t{0}, groups_.size(), [&](std::size_t k) { sims_[k].run(v, model); });
        simulations_ += groups_.size();
    }

    [[nodiscard]] double rss(const std::vector<std::vector<double>>& model) const {
        double sum = 0.0;
        for (std::size_t i = 0; i < s_.zones.size(); ++i)
            if (!g_.recorded[i].empty())
                for (std::size_t k = g_.warmup_steps; k < g_.steps; ++k) {
                    const double r = model[i][k] - g_.recorded[i][k];
                    sum += r * r;
                }
        return sum;
    }

    /// J^T J and J^T r at p (forward differences, one group at a time: a
    /// group's residuals move only with the columns touching it), and the
    /// sum of squares there. `model` holds the simulation at p.
    void normal_equations(const Eigen::VectorXd& p, const std::vector<std::vector<double>>& model, Eigen::MatrixXd& a,
                          Eigen::VectorXd& b) {
        const auto np = static_cast<Eigen::Index>(columns_.size());
        std::vector<Eigen::MatrixXd> part_a(groups_.size());
        std::vector<Eigen::VectorXd> part_b(groups_.size());
        std::vector<std::size_t> sims(groups_.size(), 0);
        const Values base = values(p);
        tbb::parallel_for(std::size_t{0}, groups_.size(), [&](std::size_t k) {
            const auto& cols = touching_[k];
            const auto nc = static_cast<Eigen::Index>(cols.size());
            part_a[k] = Eigen::MatrixXd::Zero(nc, nc);
            part_b[k] = Eigen::VectorXd::Zero(nc);
            if (cols.empty()) return;
            std::vector<std::uint32_t> rows;
            for (const std::uint32_t z : groups_[k])
                if (!g_.recorded[z].empty()) rows.push_back(z);
            if (rows.empty()) return;
            const std::size_t per = g_.steps - g_.warmup_steps;
            const auto nr = static_cast<Eigen::Index>(rows.size() * per);
            Eigen::MatrixXd j(nr, nc);
            Eigen::VectorXd r(nr);
            for (std::size_t q = 0; q < rows.size(); ++q)
                for (std::size_t t = 0; t < per; ++t)
                    r[static_cast<Eigen::Index>(q * per + t)] =
                        model[rows[q]][g_.warmup_steps + t] - g_.recorded[rows[q]][g_.warmup_steps + t];
            std::vector<std::vector<double>> perturbed(s_.zones.size());
            for (const std::uint32_t z : groups_[k]) perturbed[z].assign(g_.steps, 0.0);
            for (Eigen::Index c = 0; c < nc; ++c) {
                const Column& col = columns_[cols[static_cast<std::size_t>(c)]];
                const double pj = p[static_cast<Eigen::Index>(cols[static_cast<std::size_t>(c)])];
                double h = 1e-6 * std::max(std::abs(pj), 1e-3);
                // Step away from the upper bound so the perturbed value stays feasible.
                if ((pj + h) * col.scale > col.upper) h = -h;
                Values v = base;
                put(v, col, (pj + h) * col.scale);
                sims_[k].run(v, perturbed);
                ++sims[k];
                for (std::size_t q = 0; q < rows.size(); ++q)
                    for (std::size_t t = 0; t < per; ++t) {
                        const std::size_t step = g_.warmup_steps + t;
                        j(static_cast<Eigen::Index>(q * per + t), c) = (perturbed[rows[q]][step] - model[rows[q]][step]) / h;
                    }
            }
            part_a[k].noalias() = j.transpose() * j;
            part_b[k].noalias() = j.transpose() * r;
        });
        // Summed in group order: the same result at any thread count.
        a = Eigen::MatrixXd::Zero(np, np);
        b = Eigen::VectorXd::Zero(np);
        for (std::size_t k = 0; k < groups_.size(); ++k) {
            const auto& cols = touching_[k];
            for (std::size_t x = 0; x < cols.size(); ++x) {
                b[static_cast<Eigen::Index>(cols[x])] += part_b[k][static_cast<Eigen::Index>(x)];
                for (std::size_t y = 0; y < cols.size(); ++y)
                    a(static_cast<Eigen::Index>(cols[x]), static_cast<Eigen::Index>(cols[y])) +=
                        part_a[k](static_cast<Eigen::Index>(x), static_cast<Eigen::Index>(y));
            }
            simulations_ += sims[k];
        }
    }

private:
    const ThermalSetup& s_;
    const Grid& g_;
    std::vector<Column> columns_;
    std::vector<std::vector<std::uint32_t>> groups_;
    bool exact_;
    std::vector<std::vector<std::size_t>> touching_;  ///< per group: the columns that move its residuals
    std::vector<GroupSimulator> sims_;
    std::size_t m_ = 0;
    std::size_t simulations_ = 0;
};

nlohmann::json statistics_json(const Guideline14& g) {
    auto number = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
    return {{"nmbe_percent", number(g.nmbe)},
            {"cv_rmse_percent", number(g.cv_rmse)},
            {"hours", g.hours},
            {"meets_guideline_14", g.meets()}};
}

}  // namespace

CalibrationResult calibrate_thermal(const ThermalSetup& setup, const scenario::RecordedHistory& recorded,
                                    std::span<const ParameterChoice> fit, const CalibrationOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    if (options.max_iterations < 1) throw CalibrationError("max_iterations must be >= 1");
    std::vector<Column> columns = make_columns(setup, fit);
    const Grid grid = make_grid(setup, recorded, options);
    Problem problem(setup, grid, std::move(columns));
    const auto np = static_cast<Eigen::Index>(problem.parameters());
    if (problem.residuals() <= problem.parameters())
        throw CalibrationError("the window holds " + std::to_string(problem.residuals()) +
                               " recorded temperatures, not more than the " + std::to_string(problem.parameters()) +
                               " parameters to fit");

    Eigen::VectorXd p(np), lo(np), hi(np);
    for (Eigen::Index j = 0; j < np; ++j) {
        const Column& c = problem.columns()[static_cast<std::size_t>(j)];
        p[j] = c.initial / c.scale;
        lo[j] = c.lower / c.scale;
        hi[j] = c.upper / c.scale;
    }
    std::vector<std::vector<double>> model, trial;
    problem.simulate(p, model);
    double f = problem.rss(model);
    CalibrationResult result;
    result.initial_rss = f;
    Eigen::MatrixXd a;
    Eigen::VectorXd b;
    problem.normal_equations(p, model, a, b);
    // Bounded Levenberg-Marquardt: Marquardt's scaling by diag(J^T J), Nielsen's damping update,
    // steps projected onto the bounds.
    double mu = 1e-3, nu = 2.0;
    result.stop_reason = "max_iterations reached";
    for (int it = 0; it < options.max_iterations; ++it) {
        ++result.iterations;
        Eigen::VectorXd d = a.diagonal().cwiseMax(1e-300);
        Eigen::MatrixXd damped = a;
        damped.diagonal() += mu * d;
        const Eigen::VectorXd step = damped.ldlt().solve(-b);
        const Eigen::VectorXd next = (p + step).cwiseMax(lo).cwiseMin(hi);
        const Eigen::VectorXd taken = next - p;
        if (taken.norm() <= 1e-14 * (p.norm() + 1e-14)) {
            result.converged = true;
            result.stop_reason = "step below 1e-14 relative (at a minimum or a bound)";
            break;
        }
        problem.simulate(next, trial);
        const double f_next = problem.rss(trial);
        // Predicted reduction of the linear model: -(2 b.dx + dx' A dx).
        const double predicted = -(2.0 * b.dot(taken) + taken.dot(a * taken));
        const double rho = predicted > 0.0 ? (f - f_next) / predicted : -1.0;
        if (f_next < f && rho > 0.0) {
            const double reduction = (f - f_next) / std::max(f, 1e-300);
            p = next;
            f = f_next;
            std::swap(model, trial);
            problem.normal_equations(p, model, a, b);
            mu *= std::max(1.0 / 3.0, 1.0 - std::pow(2.0 * rho - 1.0, 3));
            nu = 2.0;
            if (reduction < options.tolerance) {
                result.converged = true;
                result.stop_reason = "sum of squares reduced by less than the tolerance";
                break;
            }
        } else {
            mu *= nu;
            nu *= 2.0;
            if (mu > 1e16) {
                result.converged = true;
                result.stop_reason = "no step lowers the sum of squares (damping exhausted)";
                break;
            }
        }
    }
    result.rss = f;
    result.residuals = problem.residuals();
    result.simulations = problem.simulations();
    const double dof = static_cast<double>(problem.residuals() - problem.parameters());
    const double s2 = f / dof;
    result.residual_sd = std::sqrt(s2);
    // Covariance of the scaled estimates: s^2 (J^T J)^-1 (the Gauss-Newton
    // approximation at the optimum; residuals taken as independent).
    Eigen::MatrixXd cov = s2 * a.completeOrthogonalDecomposition().pseudoInverse();
    result.correlation.assign(static_cast<std::size_t>(np), std::vector<double>(static_cast<std::size_t>(np), 0.0));
    for (Eigen::Index j = 0; j < np; ++j) {
        const Column& c = problem.columns()[static_cast<std::size_t>(j)];
        FittedParameter fp;
        fp.name = std::string(names[c.name]);
        fp.zone = c.binding_wide ? "" : setup.zones[c.zones.front()];
        fp.initial = c.initial;
        fp.value = p[j] * c.scale;
        fp.standard_error = std::sqrt(std::max(0.0, cov(j, j))) * c.scale;
        fp.lower = c.lower;
        fp.upper = c.upper;
        fp.at_bound = p[j] <= lo[j] || p[j] >= hi[j];
        if (fp.at_bound)
            result.warnings.push_back(fp.name + (fp.zone.empty() ? "" : "@" + fp.zone) + " = " + fmt(fp.value) +
                                      " sits on a bound: widen the bounds or fix it; its standard error is not meaningful");
        result.parameters.push_back(std::move(fp));
        for (Eigen::Index k = 0; k < np; ++k) {
            const double den = std::sqrt(cov(j, j) * cov(k, k));
            result.correlation[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)] = den > 0.0 ? cov(j, k) / den : 0.0;
        }
    }
    for (std::size_t j = 0; j < result.parameters.size(); ++j)
        for (std::size_t k = j + 1; k < result.parameters.size(); ++k)
            if (std::abs(result.correlation[j][k]) > options.correlation_warning) {
                const auto& x = result.parameters[j];
                const auto& y = result.parameters[k];
                result.warnings.push_back("the estimates of " + x.name + (x.zone.empty() ? "" : "@" + x.zone) + " and " +
                                          y.name + (y.zone.empty() ? "" : "@" + y.zone) + " are correlated (" +
                                          fmt(std::round(result.correlation[j][k] * 1000.0) / 1000.0) +
                                          "): the window hardly tells them apart");
            }
    if (!result.converged) result.warnings.push_back("not converged after " + std::to_string(result.iterations) + " iterations");
    result.guideline14 = fit_statistics(setup, grid, model).guideline14;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

ThermalSetup apply_calibration(ThermalSetup setup, const CalibrationResult& result) {
    for (const FittedParameter& fp : result.parameters) {
        const auto name = static_cast<std::size_t>(std::find(names.begin(), names.end(), fp.name) - names.begin());
        std::vector<std::uint32_t> zones;
        for (std::uint32_t i = 0; i < setup.zones.size(); ++i)
            if (fp.zone.empty() || setup.zones[i] == fp.zone) zones.push_back(i);
        Values v = values_of(setup);
        Column c;
        c.name = name;
        c.zones = zones;
        put(v, c, fp.value);
        setup.ua_per_area = v.ua;
        setup.air_heat_capacity = v.air_capacity;
        setup.mass_capacity = v.mass_capacity;
        setup.air_mass_conductance = v.air_mass;
        setup.adjacent_conductance = v.adjacent;
        setup.gain_per_person = v.per_person;
        setup.radiant_fraction = v.radiant;
        setup.solar_peak = v.solar_peak;
    }
    return setup;
}

ModelFit evaluate_thermal(const ThermalSetup& setup, const scenario::RecordedHistory& recorded,
                          const CalibrationOptions& options) {
    const Grid grid = make_grid(setup, recorded, options);
    Problem problem(setup, grid, {});
    std::vector<std::vector<double>> model;
    problem.simulate(Eigen::VectorXd(0), model);
    return fit_statistics(setup, grid, model);
}

nlohmann::json CalibrationResult::report() const {
    nlohmann::json params = nlohmann::json::array();
    for (const FittedParameter& p : parameters)
        params.push_back({{"name", p.name},
                          {"zone", p.zone},
                          {"initial", p.initial},
                          {"value", p.value},
                          {"standard_error", p.standard_error},
                          {"bounds", {p.lower, p.upper}},
                          {"at_bound", p.at_bound}});
    nlohmann::json zones = nlohmann::json::object();
    for (std::size_t k = 0; k < guideline14.twins.size(); ++k) zones[guideline14.twins[k]] = statistics_json(guideline14.per_twin[k]);
    return {{"parameters", params},
            {"correlation", correlation},
            {"warnings", warnings},
            {"residuals", residuals},
            {"iterations", iterations},
            {"simulations", simulations},
            {"converged", converged},
            {"stop_reason", stop_reason},
            {"initial_rss_k2", initial_rss},
            {"rss_k2", rss},
            {"residual_sd_k", residual_sd},
            {"seconds", seconds},
            {"guideline_14", statistics_json(guideline14.overall)},
            {"guideline_14_per_zone", zones}};
}

nlohmann::json CalibrationResult::to_file_json() const {
    nlohmann::json params = nlohmann::json::object();
    nlohmann::json rooms = nlohmann::json::object();
    for (const FittedParameter& p : parameters) {
        if (p.zone.empty())
            params[p.name] = p.value;
        else
            rooms[p.zone][p.name] = p.value;
    }
    if (!rooms.empty()) params["zone_parameters"] = rooms;
    return {{"format", "twinsim-calibration"},
            {"version", 1},
            {"behaviours", nlohmann::json::array({{{"model", "thermal_zones"}, {"parameters", params}}})},
            {"fit", report()}};
}

void CalibrationResult::save(const std::string& path) const {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw IoError("cannot write " + temporary);
        out << to_file_json().dump(1) << '\n';
        if (!out) throw IoError("cannot write " + temporary);
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) throw IoError("cannot rename " + temporary + " to " + path + ": " + ec.message());
}

}  // namespace twinsim::models
