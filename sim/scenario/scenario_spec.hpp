#pragma once
// A scenario as data: what to simulate (base graph, time span, replications,
// seed), what to change (property overrides, structural edits, injected
// events, random parameters), which design points to sweep, what to record
// and which KPIs to compute. docs/scenario-format.md documents the file format.
//
// Readers validate everything that can be checked without the graph: types,
// unknown keys, durations, expressions (parsed with query::parse_expression),
// distribution parameters, parameter references. A ScenarioError names the
// file, the line and the field.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/time.hpp"
#include "twinsim/scenario/distribution_spec.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/sweep.hpp"

namespace twinsim::scenario {

/// Set properties on the twins an expression selects. Values may be JSON of
/// any kind; a string "${name}" stands for the scenario parameter `name`.
struct PropertyOverride {
    nlohmann::json set;  ///< object: property name -> value
    std::string where;   ///< query expression text (validated to parse); "" = every twin
    friend bool operator==(const PropertyOverride&, const PropertyOverride&) = default;
};

/// Add or remove a twin or a relationship before the run starts.
struct StructuralEdit {
    enum class Kind { add_twin, remove_twin, add_relationship, remove_relationship };
    Kind kind = Kind::add_twin;
    /// add_twin: the ADT twin JSON ($dtId, $metadata.$model, properties);
    /// add_relationship: the ADT relationship JSON ($dtId = source,
    /// $relationshipId, $targetId, $relationshipName, properties).
    nlohmann::json body;
    std::string twin_id;          ///< remove_twin: the twin; remove_relationship: the source twin
    std::string relationship_id;  ///< remove_relationship only
    friend bool operator==(const StructuralEdit&, const StructuralEdit&) = default;
};

/// An event delivered to a twin at a simulated time.
struct InjectedEvent {
    double at = 0.0;       ///< seconds after the start, in [0, horizon]
    std::string event;     ///< event name the twin's behaviour handles, e.g. "fail"
    std::string twin;      ///< target $dtId
    nlohmann::json data = nlohmann::json::object();  ///< payload; "${name}" references allowed
    friend bool operator==(const InjectedEvent&, const InjectedEvent&) = default;
};

/// A named scenario parameter: a fixed value, or drawn per replication.
struct Parameter {
    std::string name;
    std::optional<nlohmann::json> value;          ///< fixed value, or
    std::optional<DistributionSpec> distribution;  ///< drawn once per replication
    friend bool operator==(const Parameter&, const Parameter&) = default;
};

/// A behaviour model bound to the twins an expression selects (sim/scenario/behaviour.hpp).
struct ModelBindingSpec {
    std::string model;   ///< registered name, e.g. "relaxation"
    std::string where;   ///< query expression selecting the twins; "" = every twin
    nlohmann::json parameters = nlohmann::json::object();  ///< "${name}" references allowed
    friend bool operator==(const ModelBindingSpec&, const ModelBindingSpec&) = default;
};

/// Where a spec was read from, so later checks (prepare()) can name the file
/// and line of a field. Not compared by ==.
struct SpecSource {
    std::string file;  ///< "" for a spec built in code
    /// JSON pointer ("/behaviours/0/parameters/tau") -> 1-based line; may be null.
    std::shared_ptr<const std::map<std::string, std::uint32_t>> lines;
    /// The line of the pointer or of its nearest ancestor that has one; 0 when unknown.
    [[nodiscard]] std::uint32_t line_of(std::string pointer) const;
    /// The key of the behaviour bindings as written: "behaviours", or
    /// "models", its older name; errors name the fields under it
    /// ("behaviours[0].parameters.tau").
    std::string behaviours_section = "behaviours";
    friend bool operator==(const SpecSource&, const SpecSource&) { return true; }
};

/// Which properties of which twins to record, and when.
struct RecordSeries {
    std::string where;                    ///< expression selecting twins; "" = every twin
    std::vector<std::string> properties;  ///< at least one
    std::optional<double> interval;       ///< seconds > 0: sample every interval
    bool on_change = false;               ///< record each change (at least one of the two)
    friend bool operator==(const RecordSeries&, const RecordSeries&) = default;
};

struct RecordingSpec {
    std::vector<RecordSeries> series;
    bool events = true;  ///< keep the event log (failures, rule firings, alarms)
    friend bool operator==(const RecordingSpec&, const RecordingSpec&) = default;
};

/// A key performance indicator computed per run, then across replications.
struct KpiSpec {
    /// excess_above / excess_below: the time integral of how far the value
    /// lies beyond the threshold, in unit x hours (degree-hours for a temperature).
    enum class Statistic { mean, min, max, final, integral, time_above, time_below, event_count, excess_above, excess_below };
    /// How the per-twin values of one run combine into the run's KPI.
    enum class Over { each, mean, sum, min, max };
    /// Summaries over the replications (percentiles: p50, p90 and p95).
    enum class Across { mean, std, ci95, percentiles };
    std::string name;
    Statistic statistic = Statistic::mean;
    std::string where;     ///< twins (expression); "" = every twin
    std::string property;  ///< required except for event_count
    std::optional<double> threshold;  ///< required by time_above / time_below / excess_above / excess_below
    std::string event;                ///< event_count: the event name ("" = every event)
    /// The parser's default is each, but sum (one fleet-wide total) for event_count.
    Over over = Over::each;
    std::vector<Across> across{Across::mean, Across::std, Across::ci95, Across::percentiles};
    friend bool operator==(const KpiSpec&, const KpiSpec&) = default;
};

/// One recorded input of a replay (docs/scenario-format.md, "Replay"): the
/// recorded series of `property` of `twin` (or of each twin `where` selects)
/// drives a property of a twin, or a behaviour's series parameter.
struct ReplayInput {
    std::string twin;      ///< the recorded twin; or
    std::string where;     ///< every twin the expression selects, each by its own series
    std::string property;  ///< the recorded key ("temperature", "thermostat.setpoint", a telemetry name)
    /// The target: by default the recorded twin's `property` itself.
    std::string to_twin;       ///< another twin (only with `twin`)
    std::string to_property;   ///< another property
    std::string to_behaviour;  ///< a behaviour (its model name: the first binding of that model), with
    std::string to_parameter;  ///< the parameter that takes the series [[seconds, value], ...]
    std::optional<Interpolation> interpolation;  ///< default: the section's
    std::optional<double> max_gap;               ///< seconds; default: the section's
    std::optional<GapAction> on_gap;             ///< default: the section's
    friend bool operator==(const ReplayInput&, const ReplayInput&) = default;
};

/// A recorded history loaded by a front end (a live store read with
/// live::history_tables), so prepare() does not read `source` itself. Not
/// written by to_json and not compared by ==.
struct LoadedHistory {
    std::shared_ptr<const RecordedHistory> history;
    friend bool operator==(const LoadedHistory&, const LoadedHistory&) { return true; }
};

/// The `replay:` section: recorded history drives chosen inputs over the
/// window [start, start + horizon) and the recorded outputs are compared.
struct ReplaySpec {
    /// An HDF5 history file or a live store directory (relative to the
    /// scenario file); "" when the front end supplies the history (--store).
    std::string source;
    Interpolation interpolation = Interpolation::step;
    GapPolicy gaps;
    std::vector<ReplayInput> inputs;
    /// Record "<property>.recorded" beside every interval series whose
    /// twins' property the history holds (modelled vs recorded).
    bool compare = true;
    LoadedHistory loaded;
    friend bool operator==(const ReplaySpec&, const ReplaySpec&) = default;
};

struct ScenarioSpec {
    std::string name;         ///< required; sweep points append "[p=v,...]"
    std::string description;
    std::string base;         ///< the base graph: a file path (relative to the scenario file), or "live"
    /// DTDL files or folders the base file's twins need when the file has no
    /// Models section (relative to the scenario file); loaded first, as one batch.
    std::vector<std::string> base_models;
    Timestamp start;   ///< required: the simulated instant t = 0 (UTC)
    double horizon = 0.0;     ///< required: seconds > 0
    double step = 60.0;       ///< seconds > 0: the period of continuous physics steps
    std::uint32_t replications = 1;  ///< >= 1
    std::uint64_t seed = 0;
    std::vector<Parameter> parameters;
    std::vector<PropertyOverride> overrides;
    std::vector<StructuralEdit> edits;
    std::vector<InjectedEvent> events;
    /// The `behaviours:` section (older name `models:`, still read; see
    /// SpecSource::behaviours_section).
    std::vector<ModelBindingSpec> models;
    std::optional<SweepSpec> sweep;
    RecordingSpec recording;
    std::vector<KpiSpec> kpis;
    /// Recorded history driving the run (docs/replay.md); nullopt: none.
    std::optional<ReplaySpec> replay;
    SpecSource source;
    friend bool operator==(const ScenarioSpec&, const ScenarioSpec&) = default;
};

/// A ScenarioError for `field` (dotted, "behaviours[0].parameters.tau") found at
/// JSON pointer `pointer` ("/behaviours/0/parameters/tau") of `spec`, naming the
/// spec's file and the line when known.
[[nodiscard]] ScenarioError spec_error(const ScenarioSpec& spec, const std::string& pointer, std::string field,
                                       std::string reason);

/// Reads a scenario file: YAML for .yaml/.yml, JSON for .json. A relative
/// `base` stays as written (resolve it against the file's folder).
/// Throws IoError if the file cannot be read, ScenarioError if it is invalid.
[[nodiscard]] ScenarioSpec read_scenario_file(const std::filesystem::path& path);
/// From YAML text; `source` names it in errors. Throws ScenarioError.
[[nodiscard]] ScenarioSpec scenario_from_yaml(std::string_view text, std::string source = "<yaml>");
/// From JSON text; `source` names it in errors. Throws ScenarioError.
[[nodiscard]] ScenarioSpec scenario_from_json_text(std::string_view text, std::string source = "<json>");
/// From a parsed JSON document (no line numbers). Throws ScenarioError.
[[nodiscard]] ScenarioSpec from_json(const nlohmann::ordered_json& document);
/// The spec as JSON in the file format (every field written, defaults too);
/// from_json(to_json(s)) == s for every valid s.
[[nodiscard]] nlohmann::ordered_json to_json(const ScenarioSpec& spec);
/// Checks a spec built in code as the readers check a file. Throws ScenarioError.
void validate(const ScenarioSpec& spec);

/// How many design points the spec's sweep has (1 without a sweep), counted
/// without expanding it.
[[nodiscard]] std::uint64_t design_points(const ScenarioSpec& spec) noexcept;

/// Checks the spec against the bounds of scenario/limits.hpp (replications,
/// design points, runs, steps per run, samples per series), which the readers
/// and prepare() check too; call it after changing a field read from a file.
/// Throws ScenarioError naming the field and the limit.
void check_limits(const ScenarioSpec& spec);

/// Whether `text` is a parameter reference "${name}" (a non-empty name).
[[nodiscard]] constexpr bool is_parameter_reference(std::string_view text) noexcept {
    return text.size() > 3 && text.starts_with("${") && text.ends_with("}");
}
/// Whether `value` is a string holding a parameter reference "${name}".
[[nodiscard]] inline bool is_parameter_reference(const nlohmann::json& value) {
    return value.is_string() && is_parameter_reference(std::string_view(value.get_ref<const std::string&>()));
}

}  // namespace twinsim::scenario
