#include "models/generic/relaxation.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/generic/support.hpp"
#include "twinsim/kernel/distributions.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

const std::array<ModelParameter, 5> declared{{
    ModelParameter{"property", "", "the double property that relaxes (e.g. temperature)", nullptr}.fixed_per_scenario(),
    {"target", "",
     "the value it relaxes toward, in the property's unit: a number, or the name of another numeric property of "
     "the same twin (e.g. temperatureSetpoint), read at every step",
     nullptr},
    ModelParameter{"time_constant", "s", "tau > 0: after tau the distance to the target has shrunk by a factor e", nullptr}.positive(),
    ModelParameter{"noise", "",
                   "standard deviation of a Gaussian disturbance added at every step (property's unit, >= 0; 0 = deterministic)",
                   0.0}
        .within(0.0),
    ModelParameter{"step", "s", "integration step > 0; \"none\" = the scenario's step (60 s in a bare run)", "none"}.positive(),
}};

struct Config {
    std::string property;
    std::vector<std::uint32_t> columns;
    detail::NumberOrProperty target;
    std::vector<std::uint32_t> target_columns;
    std::optional<double> time_constant;
    std::optional<double> noise;
    std::optional<double> step;  ///< when given
};

/// Reads and checks every parameter. `resolved`: every "${name}" must have a value (instantiate).
Config read(const scenario::Binding& binding, const graph::Snapshot& graph, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    auto number = [&](std::string_view name) {
        return resolved ? std::optional<double>(reader.required_number(name)) : reader.number(name);
    };

    Config c;
    c.property = reader.string("property");
    c.columns = detail::typed_columns(graph, binding.twins, c.property, "property", {dtdl::ColumnType::float64},
                                      "a double (an integer cannot relax continuously)");
    c.target = detail::number_or_property(reader, "target");
    if (c.target.unresolved && resolved)
        throw ModelParameterError("target", "refers to a parameter that has no value: " + reader.raw("target").dump());
    if (!c.target.property.empty())
        c.target_columns = scenario::numeric_columns(graph, binding.twins, c.target.property, "target");
    c.time_constant = number("time_constant");
    c.noise = number("noise");
    if (detail::given(reader, "step")) c.step = number("step");
    return c;
}

class RelaxationBehaviour final : public scenario::Behaviour {
public:
    RelaxationBehaviour(const scenario::Binding& binding, Config config, double step, scenario::Run& run)
        : twins_(binding.twins.begin(), binding.twins.end()),
          config_(std::move(config)),
          step_(step),
          decay_(std::exp(-step / *config_.time_constant)),
          noise_(0.0, *config_.noise) {
        if (*config_.noise > 0.0) {
            streams_.reserve(twins_.size());
            for (const graph::TwinIndex t : twins_) streams_.push_back(run.twin_stream(binding.index, t));
        }
        writes_.reserve(twins_.size());
        x_.resize(twins_.size());
        target_.resize(twins_.size());
    }

    void start(scenario::Run& run) override { (void)run; }

    // The step at t brings the state from t - dt to t, so the graph at time t
    // holds x(t) (recorded samples and KPIs read it there).
    [[nodiscard]] double step_period() const override { return step_; }

    void step(scenario::Run& run, double t, double dt) override {
        (void)t, (void)dt;
        // Every twin's state and target at once, then one batch of writes.
        run.read(twins_, config_.columns, x_);
        if (!config_.target.number) run.read(twins_, config_.target_columns, target_);
        writes_.clear();
        const bool noisy = !streams_.empty();
        for (std::size_t i = 0; i < twins_.size(); ++i) {
            // Drawn whether or not the twin is written, so each twin's
            // disturbance sequence depends only on the step number.
            const double disturbance = noisy ? noise_.sample(streams_[i]) : 0.0;
            const double target = config_.target.number ? *config_.target.number : target_[i];
            if (std::isnan(x_[i]) || std::isnan(target)) continue;  // unset: left alone until something sets it
            writes_.push_back(graph::PropertyWrite{twins_[i], config_.columns[i],
                                                   target + (x_[i] - target) * decay_ + disturbance, std::nullopt});
        }
        if (!writes_.empty()) run.write(writes_);
    }

private:
    std::vector<graph::TwinIndex> twins_;
    Config config_;
    double step_;
    double decay_;
    kernel::Normal noise_;
    std::vector<kernel::RandomStream> streams_;
    std::vector<graph::PropertyWrite> writes_;
    std::vector<double> x_, target_;  ///< this step's inputs, one contiguous array each
};

}  // namespace

std::string_view RelaxationModel::description() const {
    return "First-order relaxation of a double property toward a target (a number or another property): "
           "dx/dt = (target - x) / time_constant, integrated exactly on a periodic step, with optional Gaussian noise.";
}

std::span<const scenario::ModelParameter> RelaxationModel::parameters() const { return declared; }

std::vector<scenario::PropertyUse> RelaxationModel::properties(const scenario::Binding& binding) const {
    scenario::ParameterReader reader(binding.parameters, declared);
    using Use = scenario::PropertyUse;
    std::vector<Use> out;
    out.emplace_back(reader.string("property"), Use::Access::read_write, "property");
    const detail::NumberOrProperty target = detail::number_or_property(reader, "target");
    if (!target.property.empty()) out.emplace_back(target.property, Use::Access::read, "target");
    return out;
}

void RelaxationModel::check(const scenario::Binding& binding) const {
    (void)read(binding, detail::binding_graph(binding), false);
}

std::unique_ptr<scenario::Behaviour> RelaxationModel::instantiate(const scenario::Binding& binding,
                                                                  scenario::Run& run) const {
    detail::require_ascending(binding);
    Config config = read(binding, detail::binding_graph(binding, &run.base()), true);
    double step = 60.0;
    if (config.step)
        step = *config.step;
    else if (run.scenario() != nullptr)
        step = run.scenario()->spec.step;
    return std::make_unique<RelaxationBehaviour>(binding, std::move(config), step, run);
}

}  // namespace twinsim::models
