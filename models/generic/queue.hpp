#pragma once
// queue: an M/M/c(/K) queue per twin — Poisson arrivals, exponential service,
// c servers, optional room for K in the system (models/generic/queue.md).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#include <optional>
#include <span>
#include <string_view>

#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

class QueueModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "queue"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override;
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

/// What one twin's queue has done since the start of the run.
struct QueueStatistics {
    std::uint64_t arrivals = 0;   ///< every arrival, lost ones included
    std::uint64_t lost = 0;       ///< arrivals turned away because max_in_system were present
    std::uint64_t served = 0;     ///< departures
    std::int64_t in_system = 0;   ///< now
    std::int64_t servers = 0;
    double elapsed = 0.0;         ///< seconds since the start
    double time_average = 0.0;    ///< time-average number in system over [start, now]
    std::uint64_t started = 0;           ///< with wait_threshold: arrivals whose service started
    std::uint64_t answered_in_time = 0;  ///< of those, started within wait_threshold (the service level's numerator)
};

/// The statistics of the twin at `position` (in the binding's twins) of a
/// behaviour made by QueueModel, as of `now`; nullopt when `behaviour` is not
/// a queue or `position` is out of range.
[[nodiscard]] std::optional<QueueStatistics> queue_statistics(const scenario::Behaviour& behaviour,
                                                              std::size_t position, double now);

}  // namespace twinsim::models
