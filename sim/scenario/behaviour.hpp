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
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/snapshot.hpp"

namespace twinsim::scenario {

class Run;

/// A parameter a model declares (for documentation, `twinsim models`, and
/// the defaults the ParameterReader fills in).
struct ModelParameter {
    std::string name;
    std::string unit;         ///< "s", "1", "degC", ... ; "" for text or property names
    std::string description;
    nlohmann::json default_value;  ///< null = required
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
    /// The scenario's graph after structural edits (before overrides).
    const graph::Snapshot* graph = nullptr;
};

/// Reads a binding's parameters with defaults, types and ranges checked;
/// every failure throws ModelParameterError naming the parameter. Unknown
/// parameter names are refused by finish().
class ParameterReader {
public:
    ParameterReader(const nlohmann::json& parameters, std::span<const ModelParameter> declared);
    /// A number (a duration string "PT2H" is accepted for unit "s"). When the
    /// value is a still-unresolved "${name}" reference (check time), returns
    /// nullopt without complaint; otherwise the value, checked to be finite
    /// and inside [min, max].
    std::optional<double> number(std::string_view name, double min = -HUGE_VAL, double max = HUGE_VAL);
    /// A number that must be resolved (instantiate time). Throws ModelParameterError.
    double required_number(std::string_view name, double min = -HUGE_VAL, double max = HUGE_VAL);
    /// A string (e.g. a property name).
    std::string string(std::string_view name);
    /// The raw JSON value (default applied), for parameters of other shapes.
    const nlohmann::json& raw(std::string_view name);
    /// Throws ModelParameterError for a parameter given that the model does not declare.
    void finish() const;

private:
    const nlohmann::json& parameters_;
    std::span<const ModelParameter> declared_;
};

/// The slot of a numeric (boolean, integer, double) property for every twin
/// of a binding: column[i] belongs to twins[i]. Throws ModelParameterError
/// (naming `parameter`) when some selected twin's model does not declare the
/// property as a number.
[[nodiscard]] std::vector<std::uint32_t> numeric_columns(const graph::Snapshot& graph,
                                                         std::span<const graph::TwinIndex> twins,
                                                         std::string_view property, std::string_view parameter);

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
};

/// A registered model.
class BehaviourModel {
public:
    virtual ~BehaviourModel() = default;
    [[nodiscard]] virtual std::string_view name() const = 0;
    [[nodiscard]] virtual std::string_view description() const = 0;
    [[nodiscard]] virtual std::span<const ModelParameter> parameters() const = 0;
    /// Names of the events its behaviours handle.
    [[nodiscard]] virtual std::vector<std::string> events() const { return {}; }
    /// Checks a binding before any run: parameter types and ranges, that the
    /// twins have the properties it reads and writes. Throws ModelParameterError.
    virtual void check(const Binding& binding) const = 0;
    /// The binding's behaviour in one run. Throws ModelParameterError.
    [[nodiscard]] virtual std::unique_ptr<Behaviour> instantiate(const Binding& binding, Run& run) const = 0;
};

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
