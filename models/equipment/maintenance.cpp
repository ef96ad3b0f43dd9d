#include "models/equipment/maintenance.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/generic/support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/kernel/philox.hpp"
#include "twinsim/kernel/process.hpp"
#include "twinsim/kernel/resource.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

std::string_view policy_name(MaintenancePolicy policy) noexcept {
    switch (policy) {
        case MaintenancePolicy::fixed_interval: return "fixed_interval";
        case MaintenancePolicy::condition: return "condition";
        case MaintenancePolicy::run_to_failure: break;
    }
    return "run_to_failure";
}

double replacement_age(const MaintenancePlan& plan, const WeibullLife& life) {
    constexpr double never = std::numeric_limits<double>::infinity();
    switch (plan.policy) {
        case MaintenancePolicy::fixed_interval: return plan.interval;
        case MaintenancePolicy::condition: {
            const std::optional<double> age = life.age_at_conditional_risk(plan.risk_horizon, plan.risk_threshold);
            if (!age) return never;
            if (plan.inspection_interval <= 0.0) return *age;
            return std::ceil(*age / plan.inspection_interval) * plan.inspection_interval;
        }
        case MaintenancePolicy::run_to_failure: break;
    }
    return never;
}

UnitLives unit_lives(const MaintenancePlan& plan, const WeibullLife& installed, double installed_age,
                     const WeibullLife& renewal) {
    UnitLives l;
    l.installed = installed;
    l.installed_age = installed_age;
    l.renewal = renewal;
    l.renewal_replacement_age = replacement_age(plan, renewal);
    if (l.renewal_replacement_age <= 0.0) {
        // A new unit is as risky as the threshold from the start: replacing cannot help.
        l.renewal_replacement_age = l.installed_replacement_age = std::numeric_limits<double>::infinity();
        l.installed_failure_probability = l.renewal_failure_probability = 1.0;
        return l;
    }
    l.installed_replacement_age = replacement_age(plan, installed);
    l.renewal_failure_probability =
        std::isfinite(l.renewal_replacement_age) ? renewal.cdf(l.renewal_replacement_age) : 1.0;
    if (!std::isfinite(l.installed_replacement_age))
        l.installed_failure_probability = 1.0;
    else if (l.installed_replacement_age <= installed_age)
        l.installed_failure_probability = 0.0;
    else
        l.installed_failure_probability =
            installed.conditional_failure_probability(installed_age, l.installed_replacement_age - installed_age);
    return l;
}

NextEvent next_event(const WeibullLife& life, double age, double replacement_age, double failure_probability,
                     double u) noexcept {
    const double to_planned = std::max(replacement_age - age, 0.0);
    if (u < failure_probability) {
        // Mathematically below to_planned; min() keeps an ulp of rounding from passing it.
        return {true, std::min(life.sample_residual(age, u), to_planned)};
    }
    return {false, to_planned};
}

namespace {

/// The words of kernel::RandomStream(key, substream), generated one Philox
/// block at a time: a unit uses two to four words a year, where the stream
/// computes eight blocks (sixteen words) ahead.
class BlockStream {
public:
    BlockStream(kernel::PhiloxKey key, std::uint64_t substream) noexcept : key_(key), substream_(substream) {}
    [[nodiscard]] double uniform01() noexcept {
        if (next_ == 2) {
            kernel::philox_words_scalar<1>(block_++, substream_, key_, words_);
            next_ = 0;
        }
        return static_cast<double>(words_[next_++] >> 11) * 0x1.0p-53;  // as RandomStream::uniform01
    }

private:
    kernel::PhiloxKey key_;
    std::uint64_t substream_;
    std::uint64_t block_ = 0;
    std::uint64_t words_[2] = {0, 0};
    unsigned next_ = 2;
};

template <class Stream>
UnitOutcome run_unit(const MaintenancePlan& plan, const UnitLives& lives, double horizon, Stream& stream) noexcept {
    UnitOutcome o;
    double t = 0.0;
    double age = lives.installed_age;
    const WeibullLife* life = &lives.installed;
    double replace_at = lives.installed_replacement_age;
    double failure_probability = lives.installed_failure_probability;
    while (t < horizon) {
        const NextEvent next = next_event(*life, age, replace_at, failure_probability, stream.uniform01());
        const bool fails = next.fails;
        const double event = t + next.after;
        if (event >= horizon) break;
        double up;
        if (fails) {
            ++o.failures;
            o.cost += plan.failure_cost;
            up = event + plan.lead_time + plan.repair_time;
            const double down = std::min(up, horizon) - event;
            o.unplanned_downtime += down;
            o.cost += down * plan.unplanned_downtime_cost;
        } else {
            ++o.planned;
            o.cost += plan.planned_cost;
            up = event + plan.replacement_time;
            const double down = std::min(up, horizon) - event;
            o.planned_downtime += down;
            o.cost += down * plan.planned_downtime_cost;
        }
        t = up;
        age = 0.0;
        life = &lives.renewal;
        replace_at = lives.renewal_replacement_age;
        failure_probability = lives.renewal_failure_probability;
    }
    return o;
}

}  // namespace

UnitOutcome simulate_unit(const MaintenancePlan& plan, const UnitLives& lives, double horizon,
                          kernel::RandomStream& stream) noexcept {
    return run_unit(plan, lives, horizon, stream);
}

UnitOutcome simulate_unit(const MaintenancePlan& plan, const UnitLives& lives, double horizon, kernel::PhiloxKey key,
                          std::uint64_t substream) noexcept {
    BlockStream stream(key, substream);
    return run_unit(plan, lives, horizon, stream);
}

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

const std::array<ModelParameter, 22> declared{{
    ModelParameter{"policy", "", "\"run_to_failure\", \"fixed_interval\" or \"condition\"", "run_to_failure"},
    ModelParameter{"beta", "1", "Weibull shape of a unit's life (a twin's weibullShape overrides it)", 1.5}
        .positive()
        .overridden_by("weibullShape"),
    ModelParameter{"eta", "h",
                   "Weibull scale of a unit's life (a twin's weibullScaleHours overrides it; with aft_coefficients, "
                   "exp(b0 + sum b_j x_j) replaces it); \"none\" = from the twins or the AFT",
                   detail::none}
        .positive()
        .overridden_by("weibullScaleHours"),
    ModelParameter{"aft_covariates", "",
                   "accelerated-failure-time covariates: names of numeric properties of the twins (e.g. [load, "
                   "temperature]); \"none\" = no AFT",
                   detail::none}
        .fixed_per_scenario(),
    ModelParameter{"aft_coefficients", "",
                   "[b0, b1, ...]: ln eta = b0 + sum b_j x_j, eta in hours, one b_j per aft_covariates entry",
                   detail::none}
        .fixed_per_scenario(),
    ModelParameter{"interval", "h", "fixed_interval: replace a working unit at this age", detail::none}.positive(),
    ModelParameter{"risk_horizon", "h", "condition: the h of P(fail within h | age)", 720.0}.positive(),
    ModelParameter{"risk_threshold", "1",
                   "condition: replace once P(fail within risk_horizon | age) >= this (the same as: once the "
                   "remaining life's risk_threshold-quantile drops below risk_horizon)",
                   0.1}
        .within(0.0, 1.0),
    ModelParameter{"inspection_interval", "h", "condition: the risk is looked at every this many hours of age; 0 = continuously",
                   0.0}
        .within(0.0),
    ModelParameter{"rul_mean_property", "",
                   "the twin property holding the mean remaining useful life from prognostics (DegradingEquipment: "
                   "rulMean); with rul_low_property set on a twin, the installed unit's remaining life follows them",
                   "rulMeanHours"}
        .fixed_per_scenario(),
    ModelParameter{"rul_low_property", "",
                   "the twin property holding the rul_quantile quantile of the remaining useful life (DegradingEquipment: "
                   "rulP05 with rul_quantile 0.05)",
                   "rulLowHours"}
        .fixed_per_scenario(),
    ModelParameter{"rul_quantile", "1", "the quantile rul_low_property holds", 0.1}.within(0.0, 0.6),
    ModelParameter{"rul_hours_per_unit", "h",
                   "hours per unit of the RUL properties (1 for hours; the hours of one cycle for prognostics in cycles)",
                   1.0}
        .positive(),
    ModelParameter{"crews", "1", "maintenance crews shared by the binding's units; 0 = as many as needed", 0.0}.within(0.0),
    ModelParameter{"lead_time", "h", "hours from a failure until its spare part is there", 0.0}.within(0.0),
    ModelParameter{"repair_time", "h", "crew hours to replace a failed unit", 8.0}.within(0.0),
    ModelParameter{"replacement_time", "h", "crew hours for a planned replacement", 4.0}.within(0.0),
    ModelParameter{"failure_cost", "1", "cost of a failure (corrective replacement, part included)", 10000.0}.within(0.0),
    ModelParameter{"planned_cost", "1", "cost of a planned replacement (part included)", 3000.0}.within(0.0),
    ModelParameter{"unplanned_downtime_cost", "1", "cost per hour down after a failure", 500.0}.within(0.0),
    ModelParameter{"planned_downtime_cost", "1", "cost per hour down for a planned replacement", 100.0}.within(0.0),
    ModelParameter{"fail_event", "",
                   "deliver `fail`/`repair` to the unit's other behaviours (availability) when it goes down/up",
                   true}
        .fixed_per_scenario(),
}};

/// The properties the behaviour writes, in this order.
constexpr std::array<const char*, 6> outputs{"available",          "failures",           "plannedReplacements",
                                             "unplannedDowntimeHours", "plannedDowntimeHours", "maintenanceCost"};

struct Config {
    MaintenancePlan plan;
    std::size_t crews = 0;
    double rul_quantile = 0.1;
    std::string rul_mean_property;
    std::string rul_low_property;
    double rul_hours_per_unit = 1.0;
    std::vector<std::string> covariates;
    std::vector<double> coefficients;
    bool deliver = true;
    bool eta_given = false;
    bool unresolved = false;  ///< a number is still a "${name}" reference (check time)
};

std::vector<std::string> string_list(scenario::ParameterReader& reader, const char* name) {
    if (!detail::given(reader, name)) return {};
    const nlohmann::json& v = reader.raw(name);
    if (!v.is_array()) throw ModelParameterError(name, "expected a list of property names, found " + v.dump());
    std::vector<std::string> out;
    for (const auto& e : v) {
        if (!e.is_string() || e.get<std::string>().empty())
            throw ModelParameterError(name, "expected property names, found " + e.dump());
        out.push_back(e.get<std::string>());
    }
    return out;
}

Config read(const scenario::Binding& binding, const graph::Snapshot& graph, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    Config c;
    auto number = [&](std::string_view name, double fallback) {
        const std::optional<double> v = resolved ? std::optional<double>(reader.required_number(name)) : reader.number(name);
        if (!v) c.unresolved = true;
        return v.value_or(fallback);
    };
    const std::string policy = reader.string("policy");
    if (policy == "run_to_failure")
        c.plan.policy = MaintenancePolicy::run_to_failure;
    else if (policy == "fixed_interval")
        c.plan.policy = MaintenancePolicy::fixed_interval;
    else if (policy == "condition")
        c.plan.policy = MaintenancePolicy::condition;
    else
        throw ModelParameterError("policy", "expected \"run_to_failure\", \"fixed_interval\" or \"condition\", found \"" +
                                                policy + "\"");
    if (c.plan.policy == MaintenancePolicy::fixed_interval) {
        if (!detail::given(reader, "interval"))
            throw ModelParameterError("interval", "the fixed_interval policy needs the replacement age (hours)");
        c.plan.interval = number("interval", 1.0);
    }
    c.plan.risk_horizon = number("risk_horizon", 720.0);
    c.plan.risk_threshold = number("risk_threshold", 0.1);
    if (c.plan.policy == MaintenancePolicy::condition && !c.unresolved &&
        !(c.plan.risk_threshold > 0.0 && c.plan.risk_threshold < 1.0))
        throw ModelParameterError("risk_threshold", "the condition policy needs 0 < p < 1, found " +
                                                        nlohmann::json(c.plan.risk_threshold).dump());
    c.plan.inspection_interval = number("inspection_interval", 0.0);
    c.rul_quantile = number("rul_quantile", 0.1);
    c.rul_mean_property = reader.string("rul_mean_property");
    c.rul_low_property = reader.string("rul_low_property");
    c.rul_hours_per_unit = number("rul_hours_per_unit", 1.0);
    if (!c.unresolved && !(c.rul_quantile > 0.0))
        throw ModelParameterError("rul_quantile", "must be > 0, found " + nlohmann::json(c.rul_quantile).dump());
    const double crews = number("crews", 0.0);
    if (crews != std::floor(crews) || crews > 1e6)
        throw ModelParameterError("crews", "expected a whole number of crews, found " + nlohmann::json(crews).dump());
    c.crews = static_cast<std::size_t>(crews);
    c.plan.lead_time = number("lead_time", 0.0);
    c.plan.repair_time = number("repair_time", 8.0);
    c.plan.replacement_time = number("replacement_time", 4.0);
    c.plan.failure_cost = number("failure_cost", 10000.0);
    c.plan.planned_cost = number("planned_cost", 3000.0);
    c.plan.unplanned_downtime_cost = number("unplanned_downtime_cost", 500.0);
    c.plan.planned_downtime_cost = number("planned_downtime_cost", 100.0);
    const nlohmann::json& deliver = reader.raw("fail_event");
    if (!deliver.is_boolean()) throw ModelParameterError("fail_event", "expected true or false, found " + deliver.dump());
    c.deliver = deliver.get<bool>();

    c.eta_given = detail::given(reader, "eta");
    c.covariates = string_list(reader, "aft_covariates");
    if (detail::given(reader, "aft_coefficients")) {
        const nlohmann::json& v = reader.raw("aft_coefficients");
        if (!v.is_array()) throw ModelParameterError("aft_coefficients", "expected a list of numbers, found " + v.dump());
        for (const auto& e : v) {
            if (!e.is_number() || !std::isfinite(e.get<double>()))
                throw ModelParameterError("aft_coefficients", "expected finite numbers, found " + e.dump());
            c.coefficients.push_back(e.get<double>());
        }
        if (c.coefficients.size() != c.covariates.size() + 1)
            throw ModelParameterError("aft_coefficients",
                                      std::to_string(c.coefficients.size()) + " coefficients for " +
                                          std::to_string(c.covariates.size()) +
                                          " aft_covariates (b0 first, then one per covariate)");
    } else if (!c.covariates.empty()) {
        throw ModelParameterError("aft_covariates", "needs aft_coefficients ([b0, b1, ...])");
    }
    for (const std::string& name : c.covariates)
        (void)scenario::numeric_columns(graph, binding.twins, name, "aft_covariates");
    if (c.coefficients.empty() && !detail::given(reader, "eta")) {
        // Every twin must then carry its own scale.
        for (const graph::TwinIndex t : binding.twins) {
            const auto& model = graph.models()->at(graph.twin_model(t));
            const dtdl::PropertySlot* slot = model.layout.find("weibullScaleHours");
            if (slot == nullptr || !graph.numeric_value(t, slot->column))
                throw ModelParameterError("eta", "twin \"" + graph.twin_id(t) +
                                                     "\" has no weibullScaleHours, and neither eta nor aft_coefficients "
                                                     "is given: its life is unknown");
        }
    }
    return c;
}

/// The column of a numeric (double, integer, boolean) property of a twin, or nullopt.
std::optional<std::uint32_t> numeric_slot(const graph::Snapshot& graph, graph::TwinIndex twin, std::string_view property) {
    const auto& model = graph.models()->at(graph.twin_model(twin));
    const dtdl::PropertySlot* slot = model.layout.find(property);
    if (slot == nullptr || (slot->type != dtdl::ColumnType::float64 && slot->type != dtdl::ColumnType::int64 &&
                            slot->type != dtdl::ColumnType::boolean))
        return std::nullopt;
    return slot->column;
}

/// Payload of the behaviour's own kernel events.
struct MaintenanceEvent {
    std::uint32_t position;
    std::uint32_t kind;
};
constexpr std::uint32_t failure_kind = 0;
constexpr std::uint32_t planned_kind = 1;
constexpr std::uint32_t flush_kind = 2;

constexpr double hour = 3600.0;

class MaintenanceBehaviour final : public scenario::Behaviour {
public:
    MaintenanceBehaviour(const scenario::Binding& binding, const graph::Snapshot& graph, Config config,
                         scenario::Run& run)
        : twins_(binding.twins.begin(), binding.twins.end()), config_(std::move(config)) {
        const std::size_t n = twins_.size();
        // The outputs are written where the twin declares them (a MaintainedUnit declares all).
        for (std::size_t k = 0; k < outputs.size(); ++k)
            for (const graph::TwinIndex t : twins_) columns_[k].push_back(numeric_slot(graph, t, outputs[k]));
        std::vector<std::vector<std::uint32_t>> covariate_columns;
        for (const std::string& name : config_.covariates)
            covariate_columns.push_back(scenario::numeric_columns(graph, twins_, name, "aft_covariates"));

        scenario::ParameterReader reader(binding.parameters, declared);
        const auto current = [&run](graph::TwinIndex t, std::uint32_t column) { return run.value(t, column); };
        const std::vector<std::optional<double>> betas = reader.per_twin("beta", graph, twins_, current);
        const std::vector<std::optional<double>> scales =
            config_.eta_given ? reader.per_twin("eta", graph, twins_, current)
                              : std::vector<std::optional<double>>(twins_.size());
        const auto optional_value = [&](graph::TwinIndex t, std::string_view property) -> std::optional<double> {
            const std::optional<std::uint32_t> column = numeric_slot(graph, t, property);
            if (!column) return std::nullopt;
            return run.value(t, *column);
        };

        units_.resize(n);
        lives_.reserve(n);
        ids_.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            const graph::TwinIndex t = twins_[i];
            ids_.push_back(graph.twin_id(t));
            const auto fail = [&](const std::string& what) {
                return Error(detail::twin_message("maintenance", ids_.back(), what));
            };
            // The twin's own scale (weibullScaleHours) wins; else the AFT; else eta.
            std::optional<double> eta;
            if (const std::optional<double> own = optional_value(t, "weibullScaleHours")) {
                if (!(*own > 0.0)) throw fail("weibullScaleHours must be > 0");
                eta = own;
            } else if (!config_.coefficients.empty()) {
                double log_eta = config_.coefficients[0];
                for (std::size_t j = 0; j < config_.covariates.size(); ++j) {
                    const std::optional<double> x = run.value(t, covariate_columns[j][i]);
                    if (!x) throw fail("covariate " + config_.covariates[j] + " is not set (the AFT life needs it)");
                    log_eta += config_.coefficients[j + 1] * *x;
                }
                eta = std::exp(log_eta);
            } else {
                eta = scales[i];
            }
            if (!eta || !betas[i]) throw fail("no Weibull life (beta and eta, or weibullShape and weibullScaleHours)");
            try {
                const WeibullLife renewal(*betas[i], *eta);
                WeibullLife installed = renewal;
                double age = optional_value(t, "ageHours").value_or(0.0);
                if (age < 0.0) throw fail("ageHours is negative");
                const std::optional<double> rul_mean = optional_value(t, config_.rul_mean_property);
                const std::optional<double> rul_low = optional_value(t, config_.rul_low_property);
                if (rul_mean && rul_low) {
                    // Prognostics know this unit: its remaining life follows them.
                    installed = weibull_from_mean_and_quantile(*rul_mean * config_.rul_hours_per_unit,
                                                               config_.rul_quantile,
                                                               *rul_low * config_.rul_hours_per_unit);
                    age = 0.0;
                }
                lives_.push_back(unit_lives(config_.plan, installed, age, renewal));
            } catch (const LifetimeError& e) {
                throw fail(e.what());
            }
            units_[i].stream = run.twin_stream(binding.index, t);
        }
    }

    void start(scenario::Run& run) override {
        run_ = &run;
        kernel::Simulator& sim = run.simulator();
        if (config_.crews > 0) crews_ = std::make_unique<kernel::Resource>(sim, config_.crews);
        type_ = sim.on<MaintenanceEvent>([this](kernel::Simulator&, const MaintenanceEvent& e) {
            if (e.kind == failure_kind)
                go_down(e.position, false);
            else if (e.kind == planned_kind)
                go_down(e.position, true);
            else
                flush();
        });
        std::vector<graph::PropertyWrite> writes;
        for (std::size_t i = 0; i < units_.size(); ++i) {
            units_[i].age = lives_[i].installed_age;
            for (std::size_t k = 0; k < outputs.size(); ++k)
                if (columns_[k][i]) writes.push_back({twins_[i], *columns_[k][i], k == 0 ? 1.0 : 0.0, std::nullopt});
        }
        run.write(writes);
        for (std::size_t i = 0; i < units_.size(); ++i) install(i, true);
        if (std::isfinite(run.horizon()))
            (void)sim.schedule_at(type_, run.horizon(), MaintenanceEvent{0, flush_kind}, kernel::max_priority - 1);
    }

    [[nodiscard]] MaintenanceStatistics statistics(double now) const {
        MaintenanceStatistics s;
        s.plan = config_.plan;
        s.crews = config_.crews;
        s.lives = lives_;
        for (const Unit& u : units_) {
            UnitOutcome o = u.outcome;
            if (u.down) {
                const double down = (now - u.down_since) / hour;
                (u.planned ? o.planned_downtime : o.unplanned_downtime) += down;
                o.cost += down * (u.planned ? config_.plan.planned_downtime_cost : config_.plan.unplanned_downtime_cost);
            }
            s.units.push_back(o);
        }
        if (crews_) {
            const kernel::ResourceStatistics r = crews_->statistics();
            s.mean_crew_wait = r.mean_wait / hour;
            s.max_crew_wait = r.max_wait / hour;
            s.crew_waits = r.waited;
        }
        return s;
    }

private:
    struct Unit {
        kernel::RandomStream stream{kernel::StreamId{}, 0};
        UnitOutcome outcome;
        double age = 0.0;         ///< age (hours) when installed or at the start
        bool down = false;
        bool planned = false;     ///< the current downtime is planned
        double down_since = 0.0;  ///< seconds
        bool renewed = false;     ///< the installed unit has been replaced
    };

    /// A unit starts working: draw its residual life (one uniform, as simulate_unit) and schedule
    /// its failure or its planned replacement, whichever comes first.
    void install(std::size_t i, bool first) {
        Unit& u = units_[i];
        const UnitLives& l = lives_[i];
        const WeibullLife& life = first ? l.installed : l.renewal;
        const double replace_at = first ? l.installed_replacement_age : l.renewal_replacement_age;
        const double age = first ? l.installed_age : 0.0;
        const double probability = first ? l.installed_failure_probability : l.renewal_failure_probability;
        const NextEvent next = next_event(life, age, replace_at, probability, u.stream.uniform01());
        const bool fails = next.fails;
        const double delay = next.after * hour;
        if (!std::isfinite(delay) || run_->simulator().now() + delay > run_->horizon()) return;  // beyond the run
        (void)run_->simulator().schedule(type_, delay, MaintenanceEvent{static_cast<std::uint32_t>(i),
                                                                        fails ? failure_kind : planned_kind});
    }

    void write_unit(std::size_t i) {
        const Unit& u = units_[i];
        const graph::TwinIndex t = twins_[i];
        const std::array<double, outputs.size()> values{u.down ? 0.0 : 1.0,
                                                        static_cast<double>(u.outcome.failures),
                                                        static_cast<double>(u.outcome.planned),
                                                        u.outcome.unplanned_downtime,
                                                        u.outcome.planned_downtime,
                                                        u.outcome.cost};
        std::array<graph::PropertyWrite, outputs.size()> writes;
        std::size_t n = 0;
        for (std::size_t k = 0; k < outputs.size(); ++k)
            if (columns_[k][i]) writes[n++] = {t, *columns_[k][i], values[k], std::nullopt};
        if (n > 0) run_->write(std::span<const graph::PropertyWrite>(writes.data(), n));
    }

    void go_down(std::size_t i, bool planned) {
        Unit& u = units_[i];
        kernel::Simulator& sim = run_->simulator();
        u.down = true;
        u.planned = planned;
        u.down_since = sim.now();
        if (planned) {
            ++u.outcome.planned;
            u.outcome.cost += config_.plan.planned_cost;
        } else {
            ++u.outcome.failures;
            u.outcome.cost += config_.plan.failure_cost;
        }
        write_unit(i);
        run_->log_event(ids_[i], planned ? "planned_replacement" : "unit_failure",
                        {{"policy", policy_name(config_.plan.policy)},
                         {"cost", planned ? config_.plan.planned_cost : config_.plan.failure_cost}});
        if (config_.deliver) (void)run_->deliver(twins_[i], "fail", {{"planned", planned}});
        kernel::start(sim, replace(i));
    }

    /// The replacement: wait for the part (after a failure), then for a crew, then the work.
    kernel::Process replace(std::size_t i) {
        kernel::Simulator& sim = run_->simulator();
        const bool planned = units_[i].planned;
        if (!planned && config_.plan.lead_time > 0.0) co_await sim.delay(config_.plan.lead_time * hour);
        if (crews_) co_await crews_->acquire();
        co_await sim.delay((planned ? config_.plan.replacement_time : config_.plan.repair_time) * hour);
        if (crews_) crews_->release();
        come_up(i);
    }

    void come_up(std::size_t i) {
        Unit& u = units_[i];
        const double down = (run_->simulator().now() - u.down_since) / hour;
        if (u.planned) {
            u.outcome.planned_downtime += down;
            u.outcome.cost += down * config_.plan.planned_downtime_cost;
        } else {
            u.outcome.unplanned_downtime += down;
            u.outcome.cost += down * config_.plan.unplanned_downtime_cost;
        }
        u.down = false;
        u.renewed = true;
        write_unit(i);
        if (config_.deliver) (void)run_->deliver(twins_[i], "repair", nlohmann::json::object());
        install(i, false);
    }

    /// At the horizon: count the downtime still in progress, so `final` KPIs see it.
    void flush() {
        const double now = run_->simulator().now();
        for (std::size_t i = 0; i < units_.size(); ++i) {
            Unit& u = units_[i];
            if (!u.down) continue;
            const double down = (now - u.down_since) / hour;
            (u.planned ? u.outcome.planned_downtime : u.outcome.unplanned_downtime) += down;
            u.outcome.cost += down * (u.planned ? config_.plan.planned_downtime_cost : config_.plan.unplanned_downtime_cost);
            u.down_since = now;
            write_unit(i);
        }
    }

    std::vector<graph::TwinIndex> twins_;
    std::vector<std::string> ids_;
    Config config_;
    std::array<std::vector<std::optional<std::uint32_t>>, outputs.size()> columns_;
    std::vector<UnitLives> lives_;
    std::vector<Unit> units_;
    std::unique_ptr<kernel::Resource> crews_;
    scenario::Run* run_ = nullptr;
    kernel::EventType<MaintenanceEvent> type_{};
};

}  // namespace

std::string_view MaintenanceModel::description() const {
    return "Maintenance policies for replaceable units (MaintainedUnit, DegradingEquipment or any twin with a life): "
           "run to failure, fixed-interval, condition-based on P(fail within h | age) or the RUL's lower quantile, "
           "with Weibull/AFT lives or prognostics' RUL, crews, spare lead times, planned and unplanned downtime and "
           "costs; drives `availability` through fail/repair.";
}

std::span<const scenario::ModelParameter> MaintenanceModel::parameters() const { return declared; }

std::vector<scenario::PropertyUse> MaintenanceModel::properties(const scenario::Binding& binding) const {
    (void)binding;
    std::vector<scenario::PropertyUse> out;
    for (const char* p : outputs)
        out.push_back(scenario::PropertyUse(p, scenario::PropertyUse::Access::write).optional());
    return out;
}

void MaintenanceModel::check(const scenario::Binding& binding) const {
    const graph::Snapshot& g = detail::binding_graph(binding);
    const Config c = read(binding, g, false);
    scenario::ParameterReader reader(binding.parameters, declared);
    const auto value = [&g](graph::TwinIndex t, std::uint32_t column) { return g.numeric_value(t, column); };
    (void)reader.per_twin("beta", g, binding.twins, value);
    if (c.eta_given) (void)reader.per_twin("eta", g, binding.twins, value);
}

std::unique_ptr<scenario::Behaviour> MaintenanceModel::instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const {
    detail::require_ascending(binding);
    const graph::Snapshot& graph = detail::binding_graph(binding, &run.base());
    return std::make_unique<MaintenanceBehaviour>(binding, graph, read(binding, graph, true), run);
}

std::optional<MaintenanceStatistics> maintenance_statistics(const scenario::Behaviour& behaviour, double now) {
    const auto* m = dynamic_cast<const MaintenanceBehaviour*>(&behaviour);
    if (m == nullptr) return std::nullopt;
    return m->statistics(now);
}

}  // namespace twinsim::models
