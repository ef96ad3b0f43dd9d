#pragma once
// Periodic steps for continuous dynamics and threshold crossings between them.
//
// A step registered with Simulator::add_periodic(dt, step, first) runs at
// first, first + dt, first + 2 dt, ... (times computed as first + k * dt, so
// they do not drift). The step at time t advances the continuous state over
// [t, t + dt]: it leaves the state as it is at t + dt.
//
// A threshold monitor attached to a periodic step evaluates its quantity just
// before the step (the value at t) and just after it (the value at t + dt).
// When the two straddle the threshold in the monitored direction, the
// crossing time is located by linear interpolation,
//     t* = t + dt * (threshold - q(t)) / (q(t + dt) - q(t)),
// and the monitor's callback is scheduled as a discrete event at t* (which
// lies in (t, t + dt]). For a smooth quantity the error in t* is at most
// dt^2 * max|q''| / (8 * |q'|) — second order in the step. The crossing event
// is scheduled before the next step, so at equal times it runs first.

#include <cstdint>
#include <functional>

namespace twinsim::kernel {

class Simulator;

/// Identifies a periodic step of one Simulator.
struct PeriodicId {
    std::uint32_t index = 0;
};

/// Identifies a threshold monitor of one Simulator.
struct MonitorId {
    std::uint32_t index = 0;
};

/// Which crossings a monitor reports: q rising through the threshold
/// (q(t) < threshold <= q(t + dt)), falling (q(t) > threshold >= q(t + dt)), or both.
enum class Crossing : std::uint8_t { rising, falling, either };

/// Advances the continuous state from `time` to `time + dt`.
using StepFunction = std::function<void(Simulator& sim, double time, double dt)>;
/// The monitored quantity, read from the current state.
using QuantityFunction = std::function<double(const Simulator& sim)>;
/// Runs at the located crossing time (sim.now() is that time); `rising` tells the direction.
using CrossingFunction = std::function<void(Simulator& sim, bool rising)>;

}  // namespace twinsim::kernel
