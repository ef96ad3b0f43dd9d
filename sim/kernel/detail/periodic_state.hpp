#pragma once
// Internal: the state behind Simulator's periodic steps and threshold monitors.

#include <cstdint>
#include <vector>

#include "twinsim/kernel/simulator.hpp"

namespace twinsim::kernel {

struct Simulator::Periodic {
    double first = 0.0;
    double dt = 0.0;
    int priority = 0;
    bool active = true;
    StepFunction step;
    std::vector<std::uint32_t> monitors;
    EventHandle next;
};

struct Simulator::Monitor {
    std::uint32_t periodic = 0;
    QuantityFunction quantity;
    double threshold = 0.0;
    Crossing direction = Crossing::either;
    CrossingFunction on_cross;
    double before = 0.0;  // q at the start of the current step
    bool last_rising = false;
};

}  // namespace twinsim::kernel
