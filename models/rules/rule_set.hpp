#pragma once
// The rules of models/rules/rules.md, read and checked once for both places
// that run them: the scenario behaviour `rules` (rules.cpp) and the live rules
// engine on a live graph (live_rules.cpp). One parser, one set of checks, one
// aggregate and one `set` evaluation: the two only differ in when they
// evaluate and how they write.
//
// Internal to models/rules (includes nlohmann/json and the query compiler).

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/query/expression.hpp"

namespace twinsim::models::rules {

using nlohmann::json;

enum class ActionKind : std::uint8_t { set, fail, restore, alarm, start };

struct Assignment {
    std::string property;
    json value;                                          ///< the literal, when no expression
    std::optional<query::CompiledExpression> expression; ///< {expression: "..."}
    std::string expression_text;
};

/// `on:` of an action: the twins it acts on are those related to the rule's
/// twin by `relationship` (outgoing by default: the rule's twin is the source,
/// `room -servedBy-> air handler`), that satisfy `where` (the shared
/// expression language, on the related twin), instead of the rule's own twin.
struct ActionTarget {
    std::string relationship;
    bool incoming = false;
    std::optional<query::CompiledExpression> where;
    std::string where_text;
};

struct Action {
    ActionKind kind = ActionKind::alarm;
    std::vector<Assignment> assignments;  ///< set
    json data = json::object();           ///< fail / restore payload
    std::string text;                     ///< alarm; start: the process
    std::string property;                 ///< alarm: the string property the text is written to ("" none)
    std::optional<ActionTarget> on;       ///< set / alarm: related twins instead of the rule's own
};

enum class Aggregate : std::uint8_t { mean, min, max, sum, count, all, any };
inline constexpr std::array<const char*, 7> aggregate_names{"mean", "min", "max", "sum", "count", "all", "any"};

inline bool needs_values(Aggregate a) { return a == Aggregate::mean || a == Aggregate::min || a == Aggregate::max || a == Aggregate::sum; }

struct Source {
    graph::TwinIndex twin = 0;
    std::optional<std::uint32_t> column;  ///< numeric slot of source_property (when declared)
};

struct Target {
    graph::TwinIndex twin = 0;
    std::string id;
    std::uint32_t column = 0;
    dtdl::ColumnType type = dtdl::ColumnType::float64;
    std::vector<Source> sources;  ///< ascending, unique
};

struct Rule {
    std::string name;
    std::string path;  ///< "rules[2]"
    bool propagation = false;
    // condition rules
    std::string when_text;
    query::CompiledExpression when;
    std::optional<double> for_s;  ///< seconds; nullopt: fire at once
    std::vector<Action> then;
    // propagation rules
    std::string relationship;
    bool incoming = true;
    Aggregate aggregate = Aggregate::mean;
    std::string source_property;
    std::string target_property;
    std::optional<query::CompiledExpression> target;
    std::optional<query::CompiledExpression> where;
    std::string where_text;
    bool log = false;
    std::vector<Target> targets;
};


/// How read_rules reads a list.
struct ReadOptions {
    /// Parameter references ("${name}") must have been resolved (run time);
    /// false at check time, where they are accepted unresolved.
    bool resolved = false;
    /// The processes the scenario provides (for `start:`); nullptr: not checked.
    const std::vector<std::string>* processes = nullptr;
    /// On a live graph: `fail`, `restore` and `start` (which need a scenario's
    /// behaviours and kernel) are refused with a clear reason.
    bool live = false;
};

/// Reads and checks a `rules` list against the models and twins of `g`:
/// `twins` are the twins the rules apply to (a binding's; a live group's
/// `where` selection), ascending. Propagation rules get their targets and
/// related twins from `g`. Throws scenario::ModelParameterError naming the
/// offending entry ("rules[2].when", "rules[0].then[1].set.temprature") and
/// the reason (models/rules/rules.md "Errors").
[[nodiscard]] std::vector<Rule> read_rules(const json& list, const graph::Snapshot& g,
                                           std::span<const graph::TwinIndex> twins, const ReadOptions& options);

/// The aggregate of a propagation rule for one target on `snap`, already
/// converted to the target's type (rounded for integers, 1/0 for booleans);
/// nullopt = the property is to be unset. `where`: an evaluator of rule.where
/// on `snap`, or nullptr when the rule has none.
[[nodiscard]] std::optional<double> target_value(const Rule& rule, const Target& target, const graph::Snapshot& snap,
                                                 query::Evaluator* where);

/// The twins an action acts on, for a rule that fired on `twin`: `twin`
/// itself, or (action.on) the twins related to it that satisfy `where` on
/// `snap`, ascending and unique.
[[nodiscard]] std::vector<graph::TwinIndex> action_twins(const Action& action, graph::TwinIndex twin,
                                                         const graph::Snapshot& snap);

/// The JSON Patch of an `alarm` action that writes its text to a property
/// (action.property): empty when it writes none.
[[nodiscard]] json alarm_patch(const Action& action);

/// The JSON Patch of a `set` action for `twin` on `snap` (expressions
/// evaluated there, on the rule's own twin even when the action acts on
/// related twins; an undefined result leaves its property out). Empty
/// array: nothing to set.
[[nodiscard]] json set_patch(const Action& action, graph::TwinIndex twin, const graph::Snapshot& snap);

}  // namespace twinsim::models::rules
