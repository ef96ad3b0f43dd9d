#pragma once
// thermal_zones: the sample building's rooms as a resistance-capacitance
// network (an air node and a mass node per room, conductances to outdoors,
// between air and mass and between adjacent rooms of a level), with internal
// and solar gains, a diurnal or recorded outdoor temperature, and the cooling
// of the HVAC plant the graph describes (pumps feed chillers, chillers feed
// air-handling units, air-handling units serve rooms), limited by the
// capacity available upstream. Every room is solved at once; see
// models/building/thermal.md for the equations, parameters and sources.
//
// Eigen is an implementation detail of thermal.cpp: nothing here needs it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twinsim/common/time.hpp"
#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class ThermalZonesModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "thermal_zones"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    /// dtmi:twinsim:building:Room;1 (and the interfaces that extend it).
    [[nodiscard]] std::string_view interface() const override;
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override;
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

/// What a thermal_zones behaviour has done so far: the heat balance of the
/// whole network accumulated step by step exactly as the integrator saw it
/// (gains - cooling - outdoor_loss = stored, to rounding), the HVAC's energy,
/// and the last step's per-zone and per-chiller values.
struct ThermalStatistics {
    std::size_t steps = 0;
    double gains = 0.0;         ///< J: internal + solar heat put into the zones
    double cooling = 0.0;       ///< J: heat removed by the HVAC
    double outdoor_loss = 0.0;  ///< J: heat conducted to outdoors (negative when gained from outdoors)
    double stored = 0.0;        ///< J: increase of the heat stored in air and mass nodes
    double electric = 0.0;      ///< J: chillers (cooling / COP) plus pumps and fans when auxiliaries are on
    double overheating = 0.0;   ///< K*h: sum over zones of the time integral of max(0, T - (setpoint + deadband/2))
    std::string integrator;     ///< "exact" or "implicit" (the one chosen)
    std::size_t states = 0;     ///< nodes of the network (zones + mass nodes)
    std::size_t components = 0; ///< connected groups of zones solved as blocks (exact integrator)

    std::vector<std::string> zones;        ///< $dtId of each zone (binding order)
    std::vector<double> zone_cooling;      ///< W, last step, per zone
    std::vector<double> zone_demand;       ///< W, last step: what each thermostat asked for before upstream limits
    std::vector<double> mass_temperature;  ///< degC per zone (NaN without a mass node)
    std::vector<std::string> chillers;     ///< $dtId of each chiller reached from the zones
    std::vector<double> chiller_load;      ///< W of cooling, last step, per chiller
    std::vector<double> chiller_power;     ///< W electric (compressor + its running pump), last step
    std::vector<double> chiller_energy;    ///< J electric per chiller, accumulated
    std::vector<std::string> air_handlers; ///< $dtId of each air-handling unit reached from the zones
};

/// What a thermal_zones binding builds at the start of a run, without a run:
/// the zones and their network parameters (after zone_parameters), the
/// adjacency, the room properties that drive the gains as the graph holds
/// them, and the weather and solar profiles. Calibration
/// (calibration.hpp) simulates the network from it with recorded inputs.
struct ThermalSetup {
    std::vector<std::string> zones;  ///< $dtId of each zone (binding order)
    std::vector<double> area;        ///< m2
    std::vector<double> volume;      ///< m3 (airVolume, or 2.8 m x area when unset)
    // per zone, W/(m2.K), J/(m3.K), J/(m2.K), W/(m2.K):
    std::vector<double> ua_per_area, air_heat_capacity, mass_capacity, air_mass_conductance;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> adjacent;  ///< coupled zone pairs
    double adjacent_conductance = 0.0;  ///< W/K per pair
    double gain_per_person = 0.0;       ///< W
    double radiant_fraction = 0.0;      ///< share of gains to the mass node (with mass nodes)
    double solar_peak = 0.0;            ///< W/m2
    bool has_mass = false;
    std::vector<double> occupancy, lighting, equipment;  ///< per zone, the graph's values (0 when unset)
    std::vector<double> temperature;    ///< per zone, the graph's value (NaN when unset)
    double step = 60.0;                 ///< s: the binding's step (or the scenario's)
    Timestamp start;                    ///< the scenario's start: simulated time 0
    std::string integrator;             ///< "exact", "implicit" or "auto"
    double max_exact_states = 400.0;
    /// Outdoor temperature (degC) at simulated time t (s from the scenario's start).
    std::function<double(double)> outdoor;
    /// Solar gain per m2 at time t divided by solar_peak (the half sine, 0 at night).
    std::function<double(double)> solar_shape;
};

/// The setup of a thermal_zones binding whose parameters are all fixed (no
/// "${name}" drawn per replication), for a scenario starting at `start` with
/// step `scenario_step` s. Reads the rooms from
/// binding.graph. Throws scenario::ModelParameterError (a parameter: unknown,
/// out of range, drawn per replication) and twinsim::Error (a room without
/// area > 0 or with airVolume <= 0).
[[nodiscard]] ThermalSetup thermal_setup(const scenario::Binding& binding, Timestamp start, double scenario_step);

/// The statistics of a thermal_zones behaviour now; nullopt for another behaviour.
[[nodiscard]] std::optional<ThermalStatistics> thermal_statistics(const scenario::Behaviour& behaviour);

}  // namespace twinsim::models
