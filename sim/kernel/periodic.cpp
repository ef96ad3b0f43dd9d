// Simulator's periodic steps and threshold monitors (the method: periodic.hpp).

#include <string>

#include "twinsim/kernel/detail/periodic_state.hpp"
#include "twinsim/kernel/simulator.hpp"

namespace twinsim::kernel {

PeriodicId Simulator::add_periodic(double dt, StepFunction step, double first, int priority) {
    if (!(dt > 0.0) || !std::isfinite(dt)) throw KernelError("add_periodic: dt must be finite and > 0");
    if (!(first >= now_) || !std::isfinite(first)) throw KernelError("add_periodic: first must be finite and >= now");
    if (!step) throw KernelError("add_periodic: empty step function");
    auto p = std::make_unique<Periodic>();
    p->first = first;
    p->dt = dt;
    p->priority = priority;
    p->step = std::move(step);
    const auto index = static_cast<std::uint32_t>(periodics_.size());
    periodics_.push_back(std::move(p));
    periodics_.back()->next = schedule_at(tick_type_, first, PeriodicTick{index, 0, 0}, priority);
    return PeriodicId{index};
}

void Simulator::remove_periodic(PeriodicId id) {
    if (id.index >= periodics_.size()) throw KernelError("remove_periodic: unknown periodic step");
    Periodic& p = *periodics_[id.index];
    p.active = false;
    cancel(p.next);
}

MonitorId Simulator::add_threshold(PeriodicId periodic, QuantityFunction quantity, double threshold,
                                   Crossing direction, CrossingFunction on_cross) {
    if (periodic.index >= periodics_.size()) throw KernelError("add_threshold: unknown periodic step");
    if (!std::isfinite(threshold)) throw KernelError("add_threshold: the threshold must be finite");
    if (!quantity || !on_cross) throw KernelError("add_threshold: empty quantity or callback");
    auto m = std::make_unique<Monitor>();
    m->periodic = periodic.index;
    m->quantity = std::move(quantity);
    m->threshold = threshold;
    m->direction = direction;
    m->on_cross = std::move(on_cross);
    const auto index = static_cast<std::uint32_t>(monitors_.size());
    monitors_.push_back(std::move(m));
    periodics_[periodic.index]->monitors.push_back(index);
    return MonitorId{index};
}

void Simulator::on_tick(const PeriodicTick& tick) {
    Periodic& p = *periodics_[tick.index];
    if (!p.active) return;
    const double t = now_;
    for (std::uint32_t i : p.monitors) {
        Monitor& m = *monitors_[i];
        m.before = m.quantity(*this);
    }
    p.step(*this, t, p.dt);
    const double t_next = p.first + static_cast<double>(tick.k + 1) * p.dt;
    const double dt = t_next - t;
    for (std::uint32_t i : p.monitors) {
        Monitor& m = *monitors_[i];
        const double after = m.quantity(*this);
        const bool rising = m.before < m.threshold && after >= m.threshold;
        const bool falling = m.before > m.threshold && after <= m.threshold;
        if ((rising && m.direction != Crossing::falling) || (falling && m.direction != Crossing::rising)) {
            double fraction = (m.threshold - m.before) / (after - m.before);
            if (!(fraction >= 0.0)) fraction = 0.0;
            if (fraction > 1.0) fraction = 1.0;
            m.last_rising = rising;
            schedule_at(crossing_type_, t + dt * fraction, i, p.priority);
        }
    }
    if (p.active) p.next = schedule_at(tick_type_, t_next, PeriodicTick{tick.index, 0, tick.k + 1}, p.priority);
}

}  // namespace twinsim::kernel
