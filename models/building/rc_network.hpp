#pragma once
// The numerics of thermal_zones (thermal.hpp), testable without a graph or a
// scenario: zones as a linear resistance-capacitance network, C dx/dt = -L x
// + u - q, with an air node per zone (and a mass node when the zones have
// thermal mass), conductances to outdoors, air to mass and between adjacent
// zones' air, integrated over a fixed step with inputs u and sinks q held
// over it. Two integrators: exact (per connected group of zones, through
// the eigen-decomposition of the symmetrised group matrix) and implicit
// Euler (one sparse factorisation, O(n) per step). See thermal.md for the
// equations.
//
// Eigen stays in rc_network.cpp: nothing here needs it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace twinsim::models {

/// (e^z - 1)/z and (e^z - 1 - z)/z^2, accurate for every z <= 0 (and small z > 0).
[[nodiscard]] std::pair<double, double> phi12(double z);

class RcNetwork {
public:
    /// The zones, all vectors one entry per zone.
    struct Zones {
        std::vector<double> air_capacity;   ///< J/K, > 0
        std::vector<double> to_outdoor;     ///< W/K from the air node to outdoors, >= 0
        std::vector<double> mass_capacity;  ///< J/K, > 0; empty: no mass nodes
        std::vector<double> air_to_mass;    ///< W/K between air and mass (with mass nodes)
        std::vector<std::pair<std::uint32_t, std::uint32_t>> adjacent;  ///< zones whose air nodes are coupled
        double adjacent_conductance = 0.0;  ///< W/K of each adjacent pair
    };
    enum class Integrator {
        exact,
        implicit,
        /// exact when the largest connected group has at most max_exact_states
        /// nodes and the network at most ten times that, else implicit
        automatic,
    };

    /// Numbers the nodes (each group of connected zones contiguous, a zone's
    /// air node then its mass node) and prepares the integrator for steps of
    /// `dt` seconds (> 0). Temperatures start at 0 (set_temperatures()).
    /// Throws twinsim::Error when the decomposition or factorisation fails.
    RcNetwork(const Zones& zones, double dt, Integrator integrator, double max_exact_states = 0.0);
    RcNetwork(RcNetwork&&) noexcept;
    RcNetwork& operator=(RcNetwork&&) noexcept;
    ~RcNetwork();

    [[nodiscard]] bool exact() const noexcept;
    [[nodiscard]] bool has_mass() const noexcept;
    [[nodiscard]] std::size_t zones() const noexcept;
    [[nodiscard]] std::size_t states() const noexcept;  ///< nodes
    /// The zones of each connected group (coupled by adjacency), each group's
    /// zones in ascending order; the exact integrator solves each alone.
    [[nodiscard]] const std::vector<std::vector<std::uint32_t>>& groups() const noexcept;

    /// Every zone's air temperature (degC, one per zone); mass nodes take
    /// their zone's air temperature.
    void set_temperatures(std::span<const double> air);
    [[nodiscard]] double air_temperature(std::uint32_t zone) const;
    /// NaN without mass nodes.
    [[nodiscard]] double mass_temperature(std::uint32_t zone) const;

    /// Starts a step: the heat (W) put into each zone's air and mass node,
    /// held over the step (mass_watts is ignored without mass nodes); computes
    /// where every node would end the step without sinks.
    void hold_inputs(std::span<const double> air_watts, std::span<const double> mass_watts);
    /// A zone's air temperature at the end of the step begun by hold_inputs(), without sinks.
    [[nodiscard]] double free_air_temperature(std::uint32_t zone) const;
    /// K by which 1 W removed from `zone`'s air over the step lowers its own
    /// end-of-step air temperature (exact: the group's response; implicit:
    /// its air/mass pair alone).
    [[nodiscard]] double self_response(std::uint32_t zone) const;
    /// Exact integrator only: K by which 1 W removed from `from`'s air lowers
    /// `to`'s end-of-step air temperature; 0 for zones of different groups.
    [[nodiscard]] double response(std::uint32_t to, std::uint32_t from) const;
    /// Implicit integrator only: how much the sinks `zone_watts` (W per zone's
    /// air, held over the step) lower each zone's end-of-step air temperature.
    void sink_response(std::span<const double> zone_watts, std::vector<double>& air_drop) const;

    /// Whether group_response() is available: always with the exact
    /// integrator; with the implicit one when every connected group has at
    /// most max_group_response_zones zones and all the groups' responses
    /// together at most max_group_response_entries numbers (else the
    /// controller iterates with sink_response()).
    [[nodiscard]] bool has_group_responses() const noexcept;
    static constexpr std::size_t max_group_response_zones = 128;
    static constexpr std::size_t max_group_response_entries = std::size_t{16} << 20;
    /// Group k's (groups()[k]) end-of-step air response, dense and row-major,
    /// n x n for its n zones in groups()[k]'s order: entry (a, b) is the K by
    /// which 1 W removed from zone groups()[k][b]'s air over the step lowers
    /// zone groups()[k][a]'s end-of-step air temperature (exact: the air rows
    /// and columns of Gamma, response()'s values; implicit: of dt (C + dt
    /// L)^-1). Symmetric positive definite. Precondition: has_group_responses().
    [[nodiscard]] std::span<const double> group_response(std::size_t group) const;

    struct StepResult {
        double outdoor_loss = 0.0;  ///< J conducted to outdoors over the step
        double stored = 0.0;        ///< J: increase of the heat stored in the nodes
    };
    /// Ends the step begun by hold_inputs(): removes `zone_watts` from each
    /// zone's air over the step and moves every node to its end-of-step
    /// temperature. `outdoor_heat_rate` is sum_i to_outdoor_i * T_outdoor (W),
    /// the outdoor side of the loss.
    StepResult advance(std::span<const double> zone_watts, double outdoor_heat_rate);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::models
