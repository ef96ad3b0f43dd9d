#pragma once
// maintenance: maintenance policies for replaceable units as a scenario
// behaviour (models/equipment/maintenance.md) — run to failure, fixed-interval
// replacement, condition-based replacement (P(fail within h | age) >= p, or
// equivalently the RUL's lower quantile below a threshold) — with crews as a
// limited kernel::Resource, spare-part lead times, planned and unplanned
// downtime and their costs. A unit going down is delivered `fail` (and
// coming back `repair`), so a bound `availability` behaviour zeroes its
// capacity and the failure propagates through the graph like an injected one.
//
// The per-unit arithmetic (the replacement age a policy implies, one unit's
// renewal history) is public so the fleet fast path (simulate_unit, used by
// `twinsim-bench fleet`) is the same model as the behaviour; a test proves
// they agree unit by unit.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/equipment/lifetime.hpp"
#include "twinsim/kernel/rng.hpp"
#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

enum class MaintenancePolicy : std::uint8_t { run_to_failure, fixed_interval, condition };

/// "run_to_failure", "fixed_interval", "condition".
[[nodiscard]] std::string_view policy_name(MaintenancePolicy policy) noexcept;

/// A policy and its economics. Times in hours, costs in one currency unit.
struct MaintenancePlan {
    MaintenancePolicy policy = MaintenancePolicy::run_to_failure;
    double interval = 0.0;             ///< fixed_interval: replace a working unit at this age (> 0)
    double risk_horizon = 720.0;       ///< condition: h of P(fail within h | age) (> 0)
    double risk_threshold = 0.1;       ///< condition: replace once that risk reaches p (0 < p < 1)
    double inspection_interval = 0.0;  ///< condition: the risk is seen every this many hours of age; 0 = continuously
    double lead_time = 0.0;            ///< hours from a failure until its spare part is there
    double repair_time = 8.0;          ///< crew hours to replace a failed unit
    double replacement_time = 4.0;     ///< crew hours for a planned replacement
    double failure_cost = 10000.0;     ///< per failure (corrective replacement)
    double planned_cost = 3000.0;      ///< per planned replacement
    double unplanned_downtime_cost = 500.0;  ///< per hour down after a failure
    double planned_downtime_cost = 100.0;    ///< per hour down for a planned replacement
};

/// The age at which `plan` replaces a working unit whose life is `life`:
/// `interval` (fixed_interval); the first inspection age at or after
/// life.age_at_conditional_risk(risk_horizon, risk_threshold) (condition;
/// infinity when the risk never gets there); infinity (run_to_failure).
[[nodiscard]] double replacement_age(const MaintenancePlan& plan, const WeibullLife& life);

/// One unit as the policy sees it: the installed unit (its life, its age at
/// the start, the age at which it will be replaced) and the units that
/// replace it (new, age 0).
struct UnitLives {
    WeibullLife installed{1.0, 1.0};
    double installed_age = 0.0;
    double installed_replacement_age = std::numeric_limits<double>::infinity();
    WeibullLife renewal{1.0, 1.0};
    double renewal_replacement_age = std::numeric_limits<double>::infinity();
    /// P(the installed unit fails before its planned replacement | it works at installed_age):
    /// 1 - exp(H(installed_age) - H(installed_replacement_age)); 1 when never replaced, 0 when due now.
    double installed_failure_probability = 1.0;
    /// P(a new unit fails before its planned replacement) = F(renewal_replacement_age).
    double renewal_failure_probability = 1.0;
};

/// What happens next to a unit that starts working at `age` (0 for a new one):
/// a failure after `after` hours, or its planned replacement.
struct NextEvent {
    bool fails = false;
    double after = 0.0;
};

/// The next event of a unit from one uniform u in [0, 1): it fails before
/// its replacement age exactly when u < failure_probability (the inverse
/// transform is increasing), and then after its residual life
/// sample_residual(age, u); else it is replaced at replacement_age. Deciding
/// on u first spares the power and logarithm for the lives that end in a
/// planned replacement. The behaviour and simulate_unit both use it.
[[nodiscard]] NextEvent next_event(const WeibullLife& life, double age, double replacement_age,
                                   double failure_probability, double u) noexcept;

/// What happened to one unit over a horizon.
struct UnitOutcome {
    std::uint32_t failures = 0;
    std::uint32_t planned = 0;
    double unplanned_downtime = 0.0;  ///< hours, within the horizon
    double planned_downtime = 0.0;
    double cost = 0.0;
};

/// The lives of a unit under `plan`: replacement_age() of each, except that a
/// replacement that cannot lower the risk is never planned — when a new unit
/// (`renewal`) is already at or above the condition policy's threshold at
/// age 0, neither it nor the installed unit is replaced on condition (it
/// would be replaced again at once, forever).
[[nodiscard]] UnitLives unit_lives(const MaintenancePlan& plan, const WeibullLife& installed, double installed_age,
                                   const WeibullLife& renewal);

/// One unit over [0, horizon] hours with unlimited crews — the fleet fast
/// path. Exactly the maintenance behaviour's model and draws: one uniform
/// from `stream` per installed unit (its residual life by the closed-form
/// conditional Weibull), then a failure or a planned replacement, whichever
/// comes first, the downtime (lead time + repair, or replacement) and the
/// costs, renewal at age 0. No allocation.
[[nodiscard]] UnitOutcome simulate_unit(const MaintenancePlan& plan, const UnitLives& lives, double horizon,
                                        kernel::RandomStream& stream) noexcept;
/// The same, the stream given as what kernel::RandomStream(key, substream)
/// would be (a scenario run's Run::twin_stream): the same values, generated
/// one Philox block at a time instead of eight (a unit uses a few words a
/// year) — the fleet benchmark's form.
[[nodiscard]] UnitOutcome simulate_unit(const MaintenancePlan& plan, const UnitLives& lives, double horizon,
                                        kernel::PhiloxKey key, std::uint64_t substream) noexcept;

/// The behaviour (registered as "maintenance"). It binds to any twin with a
/// life (its `where` selects them): a dtmi:twinsim:equipment:MaintainedUnit;1
/// declares every property it reads and writes; a
/// dtmi:twinsim:equipment:DegradingEquipment;1 (prognostics) gives the
/// installed unit's RUL (rul_mean_property: rulMean, rul_low_property: rulP05).
/// The outputs (available, failures, ...) are written where declared.
class MaintenanceModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "maintenance"; }
    [[nodiscard]] std::string_view description() const override;
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override;
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override;
    void check(const scenario::Binding& binding) const override;
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override;
};

/// A maintenance behaviour's state for tests and tools.
struct MaintenanceStatistics {
    std::vector<UnitOutcome> units;      ///< per bound twin, up to now (downtime in progress included)
    std::vector<UnitLives> lives;        ///< per bound twin, as resolved at the start
    MaintenancePlan plan;
    std::size_t crews = 0;               ///< 0 = unlimited
    double mean_crew_wait = 0.0;         ///< hours a replacement waited for a crew, on average
    double max_crew_wait = 0.0;
    std::uint64_t crew_waits = 0;        ///< replacements that had to wait
};

/// nullopt when `behaviour` is not a maintenance behaviour.
[[nodiscard]] std::optional<MaintenanceStatistics> maintenance_statistics(const scenario::Behaviour& behaviour,
                                                                          double now);

}  // namespace twinsim::models
