#pragma once
// Behaviour models: what makes twins act during a run (DESIGN.md, "models").
//
// A BehaviourModel is registered by name in a ModelRegistry. A scenario's
// `models:` section binds it to the twins an expression selects, with
// parameters. Before any run starts, the runner calls check() on every
// binding (so a bad parameter is refused with the scenario file, line and
// field); then, in every run, instantiate() creates the binding's Behaviour,
// whose start() schedules its events and periodic steps on the run's kernel
// and whose on_event() handles the named events (injected by the scenario or
// sent by other behaviours) addressed to its twins.
//
// Behaviours keep their per-run state in themselves and write the run's graph
// through Run::write / Run::update_twin, so the recorder sees every change.
// They draw random numbers only from Run::twin_stream / Run::binding_stream,
// so results do not depend on the thread count or the order of runs.
//
// The generic models that ship with twinsim live in models/ and register
// themselves with models::register_builtin_models (models/builtin.hpp).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/snapshot.hpp"

namespace twinsim::scenario {

class Run;

/// A parameter a model declares (for documentation, `twinsim behaviours`, and
/// the defaults and checks the ParameterReader applies).
///
/// A number may be written in the scenario as a plain number in `unit`, or
/// as a string with a unit of the same kind ("77 degF", "2 h", "PT2H",
/// "1.5 kW"), converted to `unit`; a unit of another kind, or one twinsim
/// does not know, is refused before any run (see twinsim::convert_unit() in
/// common/units.hpp).
struct ModelParameter {
    /// A parameter without range, twin property or restriction; refine it with
    /// the chained setters: `ModelParameter{"tau", "s", "time constant", nullptr}.positive()`.
    ModelParameter(std::string name_, std::string unit_, std::string description_, nlohmann::json default_value_)
        : name(std::move(name_)),
          unit(std::move(unit_)),
          description(std::move(description_)),
          default_value(std::move(default_value_)) {}

    std::string name;
    std::string unit;         ///< "s", "1", "degC", ... ; "" for text or property names
    std::string description;
    nlohmann::json default_value;  ///< null = required
    /// Allowed range of a number in `unit`. It holds for the scenario's value,
    /// a value drawn per replication and every twin property that overrides
    /// the parameter (`twin_property`); outside it the scenario is refused
    /// before any run (or, for a drawn value, the run fails) naming the value.
    double min = -HUGE_VAL;
    double max = HUGE_VAL;
    bool min_exclusive = false;  ///< true: the value must be > min (a heat capacity, a COP), not >= min
    /// When not empty, the name of a twin property that overrides the binding's
    /// value for every twin on which it is set (a chiller's own
    /// coefficientOfPerformance over the model's default_cop): read it with
    /// ParameterReader::per_twin().
    std::string twin_property;
    /// Whether the scenario may give this parameter as a "${name}" reference
    /// (a scenario parameter: fixed, swept or drawn per replication). False
    /// for parameters that shape the model (property names, integrator choice).
    bool scenario_parameter = true;
    /// A path to a file the model reads (a weather file): the front ends
    /// resolve it against the scenario file's folder and confine it like the
    /// scenario's `base:` (resolve_parameter_paths, scenario/input_paths.hpp),
    /// so the model receives a canonical path. Implies fixed_per_scenario().
    bool input_file = false;

    /// >= lo (and <= hi).
    [[nodiscard]] ModelParameter within(double lo, double hi = HUGE_VAL) && {
        min = lo, max = hi;
        return std::move(*this);
    }
    /// > 0.
    [[nodiscard]] ModelParameter positive() && {
        min = 0.0, min_exclusive = true;
        return std::move(*this);
    }
    /// Overridden per twin by this twin property where it is set.
    [[nodiscard]] ModelParameter overridden_by(std::string property) && {
        twin_property = std::move(property);
        return std::move(*this);
    }
    /// Not settable from a scenario parameter (it shapes the model).
    [[nodiscard]] ModelParameter fixed_per_scenario() && {
        scenario_parameter = false;
        return std::move(*this);
    }
    /// A path to a file the model reads ("none" or absent = no file).
    [[nodiscard]] ModelParameter file() && {
        input_file = true;
        scenario_parameter = false;
        return std::move(*this);
    }
};

/// A model parameter that cannot be used. field() is the parameter's name
/// ("time_constant"); the runner turns it into a ScenarioError naming the
/// scenario file, the line and "models[i].parameters.<name>".
class ModelParameterError : public Error {
public:
    ModelParameterError(std::string parameter, const std::string& reason)
        : Error(parameter + ": " + reason), parameter_(std::move(parameter)) {}
    [[nodiscard]] const std::string& parameter() const noexcept { return parameter_; }

private:
    std::string parameter_;
};

/// A value for a numeric property whose unit is `unit` (a DTDL unit such as
/// "degreeCelsius", or a twinsim unit; "" = none): a number is taken as it
/// is; a string "<number> <unit>" ("68 degF") is converted with
/// twinsim::convert_unit(). Returns nullopt for a "${name}" reference. Throws
/// ModelParameterError naming `parameter` for anything else: not a number, an
/// unknown unit, a unit of another kind, a unit for a property without one.
[[nodiscard]] std::optional<double> quantity(const nlohmann::json& value, std::string_view unit, const std::string& parameter);

/// The DTDL unit of a property on the twins ("" when it has none), the same
/// on every twin. Throws ModelParameterError naming `parameter` when two
/// twins' models declare it with different units.
[[nodiscard]] std::string property_unit(const graph::Snapshot& graph, std::span<const graph::TwinIndex> twins,
                                        std::string_view property, const std::string& parameter);

/// One binding of a model as the runner hands it to check() and instantiate().
struct Binding {
    std::size_t index = 0;            ///< position in the scenario's `models:` list
    std::string model;                ///< registered model name
    /// Parameters as written in the scenario with fixed and sweep parameters
    /// substituted. In check(), a "${name}" string still stands for a
    /// parameter drawn per replication; in instantiate() every reference is
    /// resolved to the replication's value.
    nlohmann::json parameters = nlohmann::json::object();
    /// The twins the binding's `where` selected (ascending index) on the
    /// scenario's graph after structural edits; the same in every run.
    std::span<const graph::TwinIndex> twins;
    /// The scenario's graph after structural edits. In check() it also holds
    /// the overrides whose values are known before the run (fixed or swept),
    /// so checks see the values runs start with; in instantiate() it is the
    /// graph before overrides (read current values through the Run).
    const graph::Snapshot* graph = nullptr;
    /// Every process the scenario's bindings provide (BehaviourModel::processes),
    /// for checking a model that starts processes by name; nullptr when unknown
    /// (a binding made by hand for a bare Run).
    const std::vector<std::string>* processes = nullptr;
};

/// Reads a binding's parameters with defaults, types, units and ranges
/// checked; every failure throws ModelParameterError naming the parameter.
/// Unknown parameter names are refused by finish().
/// Precondition of every reader: the model declared the parameter it reads
/// (and, for per_twin(), declared it with a twin_property); a model that
/// breaks it gets twinsim::UsageError naming the parameter.
class ParameterReader {
public:
    /// Reads the value of a property of a twin for per_twin(): the column is
    /// the property's slot in the twin's model; nullopt when unset.
    using TwinValue = std::function<std::optional<double>(graph::TwinIndex twin, std::uint32_t column)>;

    ParameterReader(const nlohmann::json& parameters, std::span<const ModelParameter> declared);
    /// A number in the declared unit: a plain number, or a string "<number>
    /// <unit>" converted from a unit of the same kind (for unit "s" also an
    /// ISO 8601 duration "PT2H"). When the value is a still-unresolved
    /// "${name}" reference (check time), returns nullopt without complaint
    /// (unless the parameter is not a scenario_parameter). Otherwise the value,
    /// checked to be finite and inside both the declared range and [min, max].
    std::optional<double> number(std::string_view name, double min = -HUGE_VAL, double max = HUGE_VAL);
    /// A number that must be resolved (instantiate time). Throws ModelParameterError.
    double required_number(std::string_view name, double min = -HUGE_VAL, double max = HUGE_VAL);
    /// The value for each twin of `twins` of a parameter declared with a
    /// `twin_property`: the twin's property when its model declares it as a
    /// number and it is set, else the binding's value (nullopt entries when
    /// that is an unresolved reference at check time). Every twin value is
    /// checked against the declared range; a failure names the twin, the
    /// property and its value.
    std::vector<std::optional<double>> per_twin(std::string_view name, const graph::Snapshot& graph,
                                                std::span<const graph::TwinIndex> twins, const TwinValue& value);
    /// A string (e.g. a property name).
    std::string string(std::string_view name);
    /// The raw JSON value (default applied), for parameters of other shapes.
    const nlohmann::json& raw(std::string_view name);
    /// Throws ModelParameterError for a parameter given that the model does not declare.
    void finish() const;

private:
    [[nodiscard]] const ModelParameter& declared(std::string_view name) const;
    void check_range(const ModelParameter& p, double x, double min, double max, const std::string& what) const;

    const nlohmann::json& parameters_;
    std::span<const ModelParameter> declared_;
};

/// A property a model reads or writes on twins, declared by
/// BehaviourModel::properties() so that prepare() checks it before any run:
/// every twin of `twins` (the binding's twins when empty) must declare it as a
/// number (boolean, integer or double) when `required`, and every value the
/// run would start with must lie inside [min, max] (the scenario's graph
/// after structural edits and the overrides whose values are known before
/// the run). A failure is a ModelParameterError naming `parameter` (the
/// parameter that names the property, or "properties.<property>").
struct PropertyUse {
    enum class Access : std::uint8_t { read, write, read_write };

    explicit PropertyUse(std::string property_, Access access_ = Access::read, std::string parameter_ = {})
        : property(std::move(property_)), access(access_), parameter(std::move(parameter_)) {}

    std::string property;
    Access access = Access::read;
    std::string parameter;     ///< the parameter that names the property; "" = fixed by the model
    bool required = true;      ///< false: used on the twins that declare it
    /// The unit the model reads or writes the property in. When the twin's
    /// DTDL property declares a unit, it must be this one (under its DTDL
    /// name, e.g. degreeCelsius for degC): prepare() refuses a property the
    /// model would misread (a setpoint in degreeFahrenheit for a model
    /// working in degC, a write target in another unit).
    std::string unit;
    double min = -HUGE_VAL;
    double max = HUGE_VAL;
    bool min_exclusive = false;
    std::vector<graph::TwinIndex> twins;  ///< other twins than the binding's (e.g. the chillers a zone model reaches)

    /// Used where declared, ignored elsewhere.
    [[nodiscard]] PropertyUse optional() && {
        required = false;
        return std::move(*this);
    }
    [[nodiscard]] PropertyUse in(std::string u) && {
        unit = std::move(u);
        return std::move(*this);
    }
    [[nodiscard]] PropertyUse within(double lo, double hi = HUGE_VAL) && {
        min = lo, max = hi;
        return std::move(*this);
    }
    [[nodiscard]] PropertyUse positive() && {
        min = 0.0, min_exclusive = true;
        return std::move(*this);
    }
    [[nodiscard]] PropertyUse on(std::vector<graph::TwinIndex> other) && {
        twins = std::move(other);
        return std::move(*this);
    }
};

/// Checks one PropertyUse as prepare() does before any run (see PropertyUse):
/// on use.twins, or on `binding_twins` when that is empty. Throws
/// ModelParameterError naming use.parameter (or "properties.<property>"),
/// the twin and the value.
void check_property_use(const graph::Snapshot& graph, std::span<const graph::TwinIndex> binding_twins, const PropertyUse& use);

/// The slot of a numeric (boolean, integer, double) property for every twin
/// of a binding: column[i] belongs to twins[i]. Throws ModelParameterError
/// (naming `parameter`) when some selected twin's model does not declare the
/// property as a number.
[[nodiscard]] std::vector<std::uint32_t> numeric_columns(const graph::Snapshot& graph,
                                                         std::span<const graph::TwinIndex> twins,
                                                         std::string_view property, std::string_view parameter);

/// Kernel priority of the behaviours' periodic steps: before every other
/// event of the same instant, so a step that integrates (t - dt, t] sees the
/// inputs that held during that interval, not changes made at t.
inline constexpr int step_priority = -1000;

/// One binding's state in one run.
class Behaviour {
public:
    virtual ~Behaviour() = default;
    /// Called once at time 0, before any event runs: schedule the first
    /// events, add periodic steps, set initial values.
    virtual void start(Run& run) = 0;
    /// A named event for `twin` (one of the binding's twins). Returns false
    /// when this behaviour does not handle `event`. Throw twinsim::Error for a
    /// payload it cannot use: the run fails with that message.
    virtual bool on_event(Run& run, graph::TwinIndex twin, std::string_view event, const nlohmann::json& data) {
        (void)run, (void)twin, (void)event, (void)data;
        return false;
    }
    /// Names of the events on_event handles (checked against injected events before any run).
    [[nodiscard]] virtual std::vector<std::string> handled_events() const { return {}; }
    /// The period (simulated seconds, > 0) of step(); 0 (the default) = no
    /// step. Asked once, right after start(); the run then calls step() at
    /// start + period, start + 2 period, ... (kernel priority step_priority).
    [[nodiscard]] virtual double step_period() const { return 0.0; }
    /// Advances every twin of the binding over (t - dt, t] in one call: read
    /// the inputs of all twins at once (Run::read into contiguous arrays,
    /// which Eigen can map), compute, and write all results in one
    /// Run::write batch. Throw twinsim::Error to fail the run.
    virtual void step(Run& run, double t, double dt) { (void)run, (void)t, (void)dt; }
};

/// A registered model.
class BehaviourModel {
public:
    virtual ~BehaviourModel() = default;
    [[nodiscard]] virtual std::string_view name() const = 0;
    [[nodiscard]] virtual std::string_view description() const = 0;
    [[nodiscard]] virtual std::span<const ModelParameter> parameters() const = 0;
    /// The DTDL interface (a DTMI) the model binds to, or "" for a generic
    /// model that binds to any twin. A binding's twins must all be of this
    /// interface or of one that extends it (prepare() refuses others, naming
    /// the twin); a binding without `where` selects exactly those twins.
    [[nodiscard]] virtual std::string_view interface() const { return {}; }
    /// The properties a binding reads and writes, with the checks prepare()
    /// applies to them (see PropertyUse). May depend on the parameters
    /// (property names given as parameters). Throws ModelParameterError.
    [[nodiscard]] virtual std::vector<PropertyUse> properties(const Binding& binding) const {
        (void)binding;
        return {};
    }
    /// Names of the events its behaviours handle.
    [[nodiscard]] virtual std::vector<std::string> events() const { return {}; }
    /// Names of the processes a binding provides: activities that do not start
    /// with the run but when something starts them by name during it
    /// (Run::start_process; the `start` action of a rule). The behaviour
    /// registers each with Run::add_process in start(). Throws ModelParameterError.
    [[nodiscard]] virtual std::vector<std::string> processes(const Binding& binding) const {
        (void)binding;
        return {};
    }
    /// Checks a binding before any run, after prepare() has checked the
    /// interface and properties(): parameter types, units and ranges (read
    /// them all with a ParameterReader and call finish()), and whatever else
    /// the model needs of the graph. Throws ModelParameterError.
    virtual void check(const Binding& binding) const = 0;
    /// The binding's behaviour in one run. Throws ModelParameterError.
    [[nodiscard]] virtual std::unique_ptr<Behaviour> instantiate(const Binding& binding, Run& run) const = 0;
};

/// What a behaviour is and takes, as JSON: name, description, interface (the
/// DTDL interface it binds to, null for any twin), events it handles, and
/// parameters (each: name, unit, description, default, required,
/// scenario_parameter, min or greater_than, max, twin_property where set).
/// The one description `twinsim behaviours` and Python's
/// twinsim.behaviours() show.
[[nodiscard]] nlohmann::json describe(const BehaviourModel& behaviour);

/// Models by name. Immutable once built; shared by runners on any thread.
class ModelRegistry {
public:
    /// Throws std::invalid_argument when the name is taken or empty.
    void add(std::shared_ptr<const BehaviourModel> model);
    /// nullptr when unknown.
    [[nodiscard]] const BehaviourModel* find(std::string_view name) const;
    /// Every registered model, by name.
    [[nodiscard]] std::vector<const BehaviourModel*> list() const;

private:
    std::map<std::string, std::shared_ptr<const BehaviourModel>, std::less<>> models_;
};

}  // namespace twinsim::scenario
