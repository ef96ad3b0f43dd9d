#include "models/rules/rules.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/generic/support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/query/parser.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::models {

namespace {

using nlohmann::json;
using scenario::ModelParameter;
using scenario::ModelParameterError;

const std::array<ModelParameter, 1> declared{{
    {"rules", "",
     "the list of rules: condition rules {name, when, for, then} and propagation rules {name, relationship, "
     "direction, aggregate, source_property, target_property, target, where, log} (models/rules/rules.md)",
     nullptr},
}};

/// Evaluation passes allowed at one instant before the run is failed (rules
/// that keep re-triggering each other never settle).
constexpr std::uint32_t max_rounds_per_instant = 1000;

enum class ActionKind : std::uint8_t { set, fail, restore, alarm, start };

struct Assignment {
    std::string property;
    json value;                                          ///< the literal, when no expression
    std::optional<query::CompiledExpression> expression; ///< {expression: "..."}
    std::string expression_text;
};

struct Action {
    ActionKind kind = ActionKind::alarm;
    std::vector<Assignment> assignments;  ///< set
    json data = json::object();           ///< fail / restore payload
    std::string text;                     ///< alarm; start: the process
};

enum class Aggregate : std::uint8_t { mean, min, max, sum, count, all, any };
constexpr std::array<const char*, 7> aggregate_names{"mean", "min", "max", "sum", "count", "all", "any"};

bool needs_values(Aggregate a) { return a == Aggregate::mean || a == Aggregate::min || a == Aggregate::max || a == Aggregate::sum; }

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

// --- reading and checking ---------------------------------------------------------

std::string dump(const json& v) { return v.dump(); }

query::CompiledExpression expression(const json& v, const std::string& parameter) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
        throw ModelParameterError(parameter, "expected an expression (a non-empty string), found " + dump(v));
    try {
        return query::compile_expression(v.get_ref<const std::string&>());
    } catch (const query::QueryError& e) {
        throw ModelParameterError(parameter, std::string("invalid expression: ") + e.what());
    }
}

std::set<dtdl::InterfaceIndex> models_of(const graph::Snapshot& g, std::span<const graph::TwinIndex> twins) {
    std::set<dtdl::InterfaceIndex> out;
    for (const graph::TwinIndex t : twins) out.insert(g.twin_model(t));
    return out;
}

/// Every property `e` reads is a top-level property of some model in `models`
/// (of any model of the set when `models` is empty); components are refused
/// (changes inside them are not watched).
void check_reads(const query::CompiledExpression& e, const graph::Snapshot& g,
                 const std::set<dtdl::InterfaceIndex>& models, const std::string& parameter, const std::string& whose) {
    for (const std::string& name : e.twin_property_names()) {
        bool found = false;
        auto look = [&](const dtdl::CompiledInterface& ci) {
            const dtdl::Content* c = ci.find(name);
            if (c == nullptr) return;
            if (c->kind == dtdl::ContentKind::component)
                throw ModelParameterError(parameter, "reads \"" + name + "\", a component of " + ci.definition->id +
                                                         ": rules watch top-level properties only");
            if (c->kind == dtdl::ContentKind::property) found = true;
        };
        if (models.empty()) {
            for (const dtdl::CompiledInterface& ci : g.models()->interfaces()) look(ci);
        } else {
            for (const dtdl::InterfaceIndex m : models) look(g.models()->at(m));
        }
        if (!found) {
            std::string list;
            for (const dtdl::InterfaceIndex m : models) list += (list.empty() ? "" : ", ") + g.models()->at(m).definition->id;
            throw ModelParameterError(parameter, "unknown property \"" + name + "\": no model of " + whose +
                                                     (list.empty() ? std::string() : " (" + list + ")") + " declares it");
        }
    }
}

std::optional<double> duration(const json& v, const std::string& parameter, bool resolved) {
    if (scenario::is_parameter_reference(v)) {
        if (resolved) throw ModelParameterError(parameter, "refers to a parameter that has no value: " + dump(v));
        return std::nullopt;
    }
    std::optional<double> d;
    if (v.is_number()) d = v.get<double>();
    if (v.is_string()) d = duration_seconds(v.get_ref<const std::string&>());
    if (!d || !std::isfinite(*d) || *d < 0.0)
        throw ModelParameterError(parameter, "expected a duration >= 0 (seconds or ISO 8601 like \"PT15M\"), found " + dump(v));
    return d;
}

const json& member(const json& rule, const char* key) {
    static const json null_value;
    const auto it = rule.find(key);
    return it == rule.end() ? null_value : *it;
}

Action read_action(const json& a, const std::string& p, const graph::Snapshot& g, std::span<const graph::TwinIndex> twins,
                   const std::set<dtdl::InterfaceIndex>& models, bool resolved, const std::vector<std::string>* processes) {
    static const char* expected =
        "expected an action: \"fail\", \"restore\", {set: {property: value}}, {fail: {data}}, {restore: {data}} or "
        "{alarm: text} or {start: process}";
    Action out;
    std::string key;
    json value;
    if (a.is_string()) {
        key = a.get<std::string>();
        if (key != "fail" && key != "restore")
            throw ModelParameterError(p, "unknown action \"" + key + "\" (" + expected + ")");
    } else if (a.is_object() && a.size() == 1) {
        key = a.begin().key();
        value = a.begin().value();
    } else {
        throw ModelParameterError(p, std::string(expected) + ", found " + dump(a));
    }
    if (key == "set") {
        out.kind = ActionKind::set;
        if (!value.is_object() || value.empty())
            throw ModelParameterError(p + ".set", "expected a mapping of property -> value, found " + dump(value));
        for (const auto& [property, v] : value.items()) {
            const std::string pp = p + ".set." + property;
            Assignment s;
            s.property = property;
            for (const graph::TwinIndex t : twins) {
                const auto& model = g.models()->at(g.twin_model(t));
                if (model.layout.find(property) == nullptr)
                    throw ModelParameterError(pp, "unknown property: twin \"" + g.twin_id(t) + "\" (" + model.definition->id +
                                                      ") has no property \"" + property + "\"");
            }
            if (v.is_object() && v.size() == 1 && v.contains("expression")) {
                s.expression_text = v["expression"].is_string() ? v["expression"].get<std::string>() : std::string();
                s.expression = expression(v["expression"], pp + ".expression");
                check_reads(*s.expression, g, models, pp + ".expression", "the binding's twins");
            } else {
                s.value = v;
                if (v.is_null()) throw ModelParameterError(pp, "expected a value, found null");
                // "70 degF" for a numeric property: converted to the property's DTDL unit now.
                bool numeric = false;
                if (!twins.empty()) {
                    const dtdl::PropertySlot* slot = g.models()->at(g.twin_model(twins.front())).layout.find(property);
                    numeric = slot != nullptr && (slot->type == dtdl::ColumnType::float64 || slot->type == dtdl::ColumnType::int64);
                }
                if (numeric && v.is_string() && !scenario::is_parameter_reference(v))
                    s.value = *scenario::quantity(v, scenario::property_unit(g, twins, property, pp), pp);
                if (scenario::is_parameter_reference(v)) {
                    if (resolved) throw ModelParameterError(pp, "refers to a parameter that has no value: " + dump(v));
                } else {
                    for (const dtdl::InterfaceIndex m : models) {
                        const auto& model = g.models()->at(m);
                        const dtdl::PropertySlot* slot = model.layout.find(property);
                        if (slot == nullptr || slot->property == nullptr || !slot->property->schema) continue;
                        const auto errors = dtdl::validate_value(*slot->property->schema, s.value);
                        if (!errors.empty())
                            throw ModelParameterError(pp, dump(s.value) + " is not a valid value of " + model.definition->id +
                                                              "'s \"" + property + "\": " + errors.front().message);
                    }
                }
            }
            out.assignments.push_back(std::move(s));
        }
    } else if (key == "fail" || key == "restore") {
        out.kind = key == "fail" ? ActionKind::fail : ActionKind::restore;
        if (value.is_object())
            out.data = value;
        else if (!value.is_null())
            throw ModelParameterError(p + "." + key, "expected the event's data (a mapping) or nothing, found " + dump(value));
    } else if (key == "alarm") {
        out.kind = ActionKind::alarm;
        if (!value.is_string() || value.get_ref<const std::string&>().empty())
            throw ModelParameterError(p + ".alarm", "expected the alarm's text (a non-empty string), found " + dump(value));
        out.text = value.get<std::string>();
    } else if (key == "start") {
        out.kind = ActionKind::start;
        if (!value.is_string() || value.get_ref<const std::string&>().empty())
            throw ModelParameterError(p + ".start", "expected the name of a process (a non-empty string), found " + dump(value));
        out.text = value.get<std::string>();
        if (processes != nullptr && std::find(processes->begin(), processes->end(), out.text) == processes->end()) {
            std::string known;
            for (const std::string& n : *processes) known += (known.empty() ? "\"" : ", \"") + n + "\"";
            throw ModelParameterError(p + ".start", "no binding of the scenario provides the process \"" + out.text + "\" (" +
                                                        (known.empty() ? std::string("there is none; a `schedule` with a `process` parameter is one")
                                                                       : "provided: " + known) +
                                                        ")");
        }
    } else {
        throw ModelParameterError(p, "unknown action \"" + key + "\" (" + expected + ")");
    }
    return out;
}

void check_keys(const json& rule, const std::string& p, std::initializer_list<const char*> allowed) {
    for (const auto& [k, v] : rule.items()) {
        (void)v;
        if (std::none_of(allowed.begin(), allowed.end(), [&k = k](const char* a) { return k == a; })) {
            std::string list;
            for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            throw ModelParameterError(p + "." + k, "unknown key (a " +
                                                       std::string(rule.contains("relationship") ? "propagation" : "condition") +
                                                       " rule takes: " + list + ")");
        }
    }
}

void read_condition(Rule& r, const json& j, const graph::Snapshot& g, std::span<const graph::TwinIndex> twins,
                    const std::set<dtdl::InterfaceIndex>& models, bool resolved, const std::vector<std::string>* processes) {
    check_keys(j, r.path, {"name", "when", "for", "then"});
    r.when = expression(member(j, "when"), r.path + ".when");
    r.when_text = j["when"].get<std::string>();
    check_reads(r.when, g, models, r.path + ".when", "the binding's twins");
    if (j.contains("for")) {
        r.for_s = duration(j["for"], r.path + ".for", resolved);
        if (!r.for_s && !resolved) r.for_s = 0.0;  // an unresolved reference at check time
    }
    const json& then = member(j, "then");
    if (!then.is_array() || then.empty())
        throw ModelParameterError(r.path + ".then", "expected a non-empty list of actions, found " + dump(then));
    for (std::size_t k = 0; k < then.size(); ++k)
        r.then.push_back(
            read_action(then[k], r.path + ".then[" + std::to_string(k) + "]", g, twins, models, resolved, processes));
}

void read_propagation(Rule& r, const json& j, const graph::Snapshot& g, std::span<const graph::TwinIndex> twins,
                      const std::set<dtdl::InterfaceIndex>& models) {
    check_keys(j, r.path,
               {"name", "relationship", "direction", "aggregate", "source_property", "target_property", "target", "where", "log"});
    const dtdl::ModelSet& set = *g.models();
    auto text = [&](const char* key, bool required) -> std::string {
        const json& v = member(j, key);
        if (v.is_null() && !required) return {};
        if (!v.is_string() || v.get_ref<const std::string&>().empty())
            throw ModelParameterError(r.path + "." + key, "expected a non-empty string, found " + dump(v));
        return v.get<std::string>();
    };
    r.relationship = text("relationship", true);
    {
        bool known = false;
        for (const dtdl::CompiledInterface& ci : set.interfaces()) {
            const dtdl::Content* c = ci.find(r.relationship);
            if (c != nullptr && c->kind == dtdl::ContentKind::relationship) known = true;
        }
        if (!known)
            throw ModelParameterError(r.path + ".relationship", "no model declares a relationship \"" + r.relationship + "\"");
    }
    const std::string direction = j.contains("direction") ? text("direction", true) : "incoming";
    if (direction != "incoming" && direction != "outgoing")
        throw ModelParameterError(r.path + ".direction", "expected \"incoming\" or \"outgoing\", found \"" + direction + "\"");
    r.incoming = direction == "incoming";
    const std::string aggregate = text("aggregate", true);
    const auto a = std::find_if(aggregate_names.begin(), aggregate_names.end(), [&](const char* n) { return aggregate == n; });
    if (a == aggregate_names.end())
        throw ModelParameterError(r.path + ".aggregate",
                                  "expected mean, min, max, sum, count, all or any, found \"" + aggregate + "\"");
    r.aggregate = static_cast<Aggregate>(a - aggregate_names.begin());
    r.source_property = text("source_property", false);
    if (needs_values(r.aggregate) && r.source_property.empty())
        throw ModelParameterError(r.path + ".source_property", "required by aggregate \"" + aggregate + "\"");
    if (!needs_values(r.aggregate) && !r.source_property.empty())
        throw ModelParameterError(r.path + ".source_property",
                                  "not used by aggregate \"" + aggregate + "\" (it counts or tests the related twins that satisfy `where`)");
    r.target_property = text("target_property", true);
    if (j.contains("log")) {
        if (!j["log"].is_boolean()) throw ModelParameterError(r.path + ".log", "expected true or false, found " + dump(j["log"]));
        r.log = j["log"].get<bool>();
    }
    if (j.contains("target")) {
        r.target = expression(j["target"], r.path + ".target");
        check_reads(*r.target, g, models, r.path + ".target", "the binding's twins");
    }
    if (j.contains("where")) {
        r.where = expression(j["where"], r.path + ".where");
        r.where_text = j["where"].get<std::string>();
    } else if (r.aggregate == Aggregate::all || r.aggregate == Aggregate::any) {
        throw ModelParameterError(r.path + ".where", "required by aggregate \"" + aggregate +
                                                         "\" (the condition every / some related twin must satisfy)");
    }

    // Targets: the binding's twins that `target` selects, each with its related twins.
    std::optional<query::Evaluator> target_ev;
    if (r.target) target_ev.emplace(*r.target, g);
    std::set<dtdl::InterfaceIndex> source_models;
    bool source_declares = false;
    for (const graph::TwinIndex t : twins) {
        const std::array<std::uint32_t, 1> row{t};
        if (target_ev && !target_ev->matches(row)) continue;
        Target tg;
        tg.twin = t;
        tg.id = g.twin_id(t);
        const auto& model = set.at(g.twin_model(t));
        const dtdl::PropertySlot* slot = model.layout.find(r.target_property);
        if (slot == nullptr)
            throw ModelParameterError(r.path + ".target_property", "unknown property: twin \"" + tg.id + "\" (" +
                                                                       model.definition->id + ") has no property \"" +
                                                                       r.target_property + "\"");
        const bool boolean = slot->type == dtdl::ColumnType::boolean;
        if ((slot->type != dtdl::ColumnType::float64 && slot->type != dtdl::ColumnType::int64 && !boolean) ||
            (boolean && r.aggregate != Aggregate::all && r.aggregate != Aggregate::any))
            throw ModelParameterError(r.path + ".target_property",
                                      "property \"" + r.target_property + "\" of " + model.definition->id + " is " +
                                          dtdl::to_string(slot->type) + "; aggregate \"" + aggregate + "\" needs " +
                                          (r.aggregate == Aggregate::all || r.aggregate == Aggregate::any
                                               ? "a boolean or a number"
                                               : "a number (double or integer)"));
        tg.column = slot->column;
        tg.type = slot->type;
        const auto rels = r.incoming ? g.in_relationships(t) : g.out_relationships(t);
        std::vector<graph::TwinIndex> related;
        for (const graph::RelationshipIndex rel : rels)
            if (g.relationship_name(rel) == r.relationship) related.push_back(r.incoming ? g.source(rel) : g.target(rel));
        std::sort(related.begin(), related.end());
        related.erase(std::unique(related.begin(), related.end()), related.end());
        for (const graph::TwinIndex s : related) {
            Source src;
            src.twin = s;
            source_models.insert(g.twin_model(s));
            if (!r.source_property.empty()) {
                const auto& sm = set.at(g.twin_model(s));
                if (const dtdl::PropertySlot* ss = sm.layout.find(r.source_property)) {
                    if (ss->type != dtdl::ColumnType::float64 && ss->type != dtdl::ColumnType::int64 &&
                        ss->type != dtdl::ColumnType::boolean)
                        throw ModelParameterError(r.path + ".source_property",
                                                  "property \"" + r.source_property + "\" of " + sm.definition->id + " (twin \"" +
                                                      g.twin_id(s) + "\") is " + dtdl::to_string(ss->type) +
                                                      "; aggregate \"" + aggregate + "\" needs a number");
                    src.column = ss->column;
                    source_declares = true;
                }
            }
            tg.sources.push_back(src);
        }
        r.targets.push_back(std::move(tg));
    }
    if (!r.source_property.empty() && !source_declares) {
        // No related twin declares it: refuse a name no model declares at all.
        bool anywhere = false;
        for (const dtdl::CompiledInterface& ci : set.interfaces())
            if (ci.layout.find(r.source_property) != nullptr) anywhere = true;
        if (!anywhere || !source_models.empty())
            throw ModelParameterError(r.path + ".source_property",
                                      "unknown property \"" + r.source_property + "\": " +
                                          (source_models.empty() ? std::string("no model declares it")
                                                                 : "no twin related by \"" + r.relationship + "\" declares it"));
    }
    if (r.where) check_reads(*r.where, g, source_models, r.path + ".where", "the related twins");
}

std::vector<Rule> read(const scenario::Binding& binding, const graph::Snapshot& g, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    const json& list = reader.raw("rules");
    if (!list.is_array() || list.empty()) throw ModelParameterError("rules", "expected a non-empty list of rules, found " + dump(list));
    const std::set<dtdl::InterfaceIndex> models = models_of(g, binding.twins);
    std::vector<Rule> out;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const json& j = list[i];
        Rule r;
        r.path = "rules[" + std::to_string(i) + "]";
        if (!j.is_object()) throw ModelParameterError(r.path, "expected a rule (a mapping), found " + dump(j));
        const json& name = member(j, "name");
        if (!name.is_string() || name.get_ref<const std::string&>().empty())
            throw ModelParameterError(r.path + ".name", "expected the rule's name (a non-empty string), found " + dump(name));
        r.name = name.get<std::string>();
        if (!names.insert(r.name).second) throw ModelParameterError(r.path + ".name", "duplicate rule name \"" + r.name + "\"");
        const bool condition = j.contains("when");
        r.propagation = j.contains("relationship");
        if (condition == r.propagation)
            throw ModelParameterError(r.path, condition ? "a rule has either `when` (a condition rule) or `relationship` "
                                                          "(a propagation rule), not both"
                                                        : "expected `when` (a condition rule) or `relationship` (a "
                                                          "propagation rule)");
        if (r.propagation)
            read_propagation(r, j, g, binding.twins, models);
        else
            read_condition(r, j, g, binding.twins, models, resolved, binding.processes);
        out.push_back(std::move(r));
    }
    return out;
}

// --- the behaviour -------------------------------------------------------------

struct RuleTimer {
    std::uint32_t rule;
    std::uint32_t position;
};
struct EvaluateTick {
    std::uint32_t pad;
};

class RulesBehaviour final : public scenario::Behaviour {
public:
    RulesBehaviour(const scenario::Binding& binding, const graph::Snapshot& g, std::vector<Rule> rules)
        : twins_(binding.twins.begin(), binding.twins.end()), rules_(std::move(rules)) {
        ids_.reserve(twins_.size());
        for (const graph::TwinIndex t : twins_) ids_.push_back(g.twin_id(t));
        states_.resize(rules_.size());
        flags_.resize(rules_.size());
        // What each (rule, twin) reads: (twin, column) -> items to re-evaluate.
        for (std::uint32_t r = 0; r < rules_.size(); ++r) {
            const Rule& rule = rules_[r];
            if (!rule.propagation) {
                states_[r].resize(twins_.size());
                flags_[r].assign(twins_.size(), 0);
                const auto names = rule.when.twin_property_names();
                for (std::uint32_t n = 0; n < twins_.size(); ++n) watch_names(g, twins_[n], names, r, n);
                continue;
            }
            flags_[r].assign(rule.targets.size(), 0);
            const auto where_names = rule.where ? rule.where->twin_property_names() : std::vector<std::string>{};
            for (std::uint32_t k = 0; k < rule.targets.size(); ++k)
                for (const Source& s : rule.targets[k].sources) {
                    if (s.column) watches_[key(s.twin, *s.column)].push_back({r, k});
                    watch_names(g, s.twin, where_names, r, k);
                }
        }
    }

    void start(scenario::Run& run) override {
        run_ = &run;
        kernel::Simulator& sim = run.simulator();
        timer_type_ = sim.on<RuleTimer>([this](kernel::Simulator&, const RuleTimer& t) {
            CondState& st = states_[t.rule][t.position];
            if (st.holds) fire(t.rule, t.position);
        });
        evaluate_type_ = sim.on<EvaluateTick>([this](kernel::Simulator&, const EvaluateTick&) { evaluate(); });
        run.on_write([this](graph::TwinIndex twin, std::uint32_t column) {
            const auto it = watches_.find(key(twin, column));
            if (it == watches_.end()) return;
            for (const Item& item : it->second) mark(item);
        });
        // Everything is evaluated once at the start, after every behaviour has started.
        for (std::uint32_t r = 0; r < rules_.size(); ++r)
            for (std::uint32_t n = 0; n < flags_[r].size(); ++n) mark({r, n});
    }

    [[nodiscard]] const RulesStatistics& statistics() const noexcept { return stats_; }

private:
    struct Item {
        std::uint32_t rule;
        std::uint32_t position;  ///< twin (condition rule) or target (propagation rule)
        bool operator<(const Item& o) const noexcept { return rule != o.rule ? rule < o.rule : position < o.position; }
    };
    struct CondState {
        bool holds = false;
        double since = 0.0;
        kernel::EventHandle timer;
    };

    static std::uint64_t key(graph::TwinIndex t, std::uint32_t column) { return (std::uint64_t{t} << 32) | column; }

    void watch_names(const graph::Snapshot& g, graph::TwinIndex twin, const std::vector<std::string>& names,
                     std::uint32_t rule, std::uint32_t position) {
        const auto& layout = g.models()->at(g.twin_model(twin)).layout;
        for (const std::string& name : names)
            if (const dtdl::PropertySlot* slot = layout.find(name)) {
                auto& items = watches_[key(twin, slot->column)];
                if (items.empty() || items.back().rule != rule || items.back().position != position)
                    items.push_back({rule, position});
            }
    }

    void mark(const Item& item) {
        std::uint8_t& flag = flags_[item.rule][item.position];
        if (flag != 0) return;
        flag = 1;
        dirty_.push_back(item);
        if (!evaluation_pending_) {
            evaluation_pending_ = true;
            // Before every other event of this instant: the rules see a change
            // right after the event that made it.
            (void)run_->simulator().schedule(evaluate_type_, 0.0, EvaluateTick{0}, kernel::min_priority);
        }
    }

    void evaluate() {
        evaluation_pending_ = false;
        kernel::Simulator& sim = run_->simulator();
        const double now = sim.now();
        if (now == round_time_) {
            if (++rounds_ > max_rounds_per_instant)
                throw Error("rules: the rules did not settle at t = " + std::to_string(now) + " s after " +
                            std::to_string(max_rounds_per_instant) +
                            " evaluation rounds (rules that keep re-triggering each other?)");
        } else {
            round_time_ = now;
            rounds_ = 1;
        }
        std::vector<Item> items = std::move(dirty_);
        dirty_.clear();
        for (const Item& i : items) flags_[i.rule][i.position] = 0;
        std::sort(items.begin(), items.end());

        // Rules in the order listed: a propagated value is visible to the
        // rules after it in the same pass; condition rules fire at the end of
        // the pass, in (rule, twin) order.
        std::optional<graph::Snapshot> snap;
        std::vector<Item> fire_now;
        for (std::size_t first = 0; first < items.size();) {
            const std::uint32_t r = items[first].rule;
            std::size_t last = first;
            while (last < items.size() && items[last].rule == r) ++last;
            const std::span<const Item> group(items.data() + first, last - first);
            first = last;
            if (!snap) snap = run_->snapshot();
            const Rule& rule = rules_[r];
            if (!rule.propagation) {
                query::Evaluator ev(rule.when, *snap);
                for (const Item& item : group) {
                    ++stats_.evaluations;
                    const std::array<std::uint32_t, 1> row{twins_[item.position]};
                    const bool holds = ev.test(row) == query::Truth::true_;
                    CondState& st = states_[r][item.position];
                    if (holds == st.holds) continue;
                    st.holds = holds;
                    if (holds) {
                        st.since = now;
                        if (rule.for_s && *rule.for_s > 0.0)
                            st.timer = sim.schedule(timer_type_, *rule.for_s, RuleTimer{r, item.position});
                        else
                            fire_now.push_back(item);
                    } else {
                        (void)sim.cancel(st.timer);
                    }
                }
                continue;
            }
            if (propagate(rule, group, *snap)) snap.reset();
        }
        for (const Item& item : fire_now) fire(item.rule, item.position);
    }

    /// Recomputes the targets of one propagation rule; returns whether it wrote.
    bool propagate(const Rule& rule, std::span<const Item> group, const graph::Snapshot& snap) {
        std::optional<query::Evaluator> where;
        if (rule.where) where.emplace(*rule.where, snap);
        std::vector<graph::PropertyWrite> writes;
        std::vector<const Target*> removals;
        std::vector<std::pair<const Target*, std::optional<double>>> logged;
        for (const Item& item : group) {
            ++stats_.recomputations;
            const Target& tg = rule.targets[item.position];
            std::optional<double> v = aggregate(rule, tg, snap, where ? &*where : nullptr);
            if (v && tg.type == dtdl::ColumnType::int64) v = std::round(*v);
            if (v && tg.type == dtdl::ColumnType::boolean) v = *v != 0.0 ? 1.0 : 0.0;
            if (v == snap.numeric_value(tg.twin, tg.column)) continue;
            ++stats_.propagated;
            if (v)
                writes.push_back({tg.twin, tg.column, *v, std::nullopt});
            else
                removals.push_back(&tg);
            if (rule.log) logged.emplace_back(&tg, v);
        }
        where.reset();
        if (!writes.empty()) {
            try {
                run_->write(writes);
            } catch (const std::exception& x) {
                throw Error(message(rule, snap.twin_id(writes.front().twin), x.what()));
            }
        }
        for (const Target* tg : removals) {
            try {
                run_->update_twin(tg->id, json::array({{{"op", "remove"}, {"path", "/" + rule.target_property}}}));
            } catch (const std::exception& x) {
                throw Error(message(rule, tg->id, x.what()));
            }
        }
        for (const auto& [tg, v] : logged)
            run_->log_event(tg->id, "rule",
                            {{"rule", rule.name},
                             {"aggregate", aggregate_names[static_cast<std::size_t>(rule.aggregate)]},
                             {"property", rule.target_property},
                             {"value", v ? json(*v) : json()}});
        return !writes.empty() || !removals.empty();
    }

    std::optional<double> aggregate(const Rule& rule, const Target& tg, const graph::Snapshot& snap, query::Evaluator* where) const {
        double acc = 0.0;
        std::size_t values = 0, matched = 0;
        for (const Source& s : tg.sources) {
            if (where != nullptr) {
                const std::array<std::uint32_t, 1> row{s.twin};
                if (!where->matches(row)) continue;
            }
            ++matched;
            if (!needs_values(rule.aggregate) || !s.column) continue;
            const std::optional<double> v = snap.numeric_value(s.twin, *s.column);
            if (!v) continue;
            if (values++ == 0) {
                acc = *v;
                continue;
            }
            switch (rule.aggregate) {
                case Aggregate::mean:
                case Aggregate::sum: acc += *v; break;
                case Aggregate::min: acc = std::min(acc, *v); break;
                case Aggregate::max: acc = std::max(acc, *v); break;
                default: break;
            }
        }
        switch (rule.aggregate) {
            case Aggregate::mean: return values > 0 ? std::optional<double>(acc / static_cast<double>(values)) : std::nullopt;
            case Aggregate::min:
            case Aggregate::max: return values > 0 ? std::optional<double>(acc) : std::nullopt;
            case Aggregate::sum: return acc;
            case Aggregate::count: return static_cast<double>(matched);
            case Aggregate::all: return matched == tg.sources.size() ? 1.0 : 0.0;
            case Aggregate::any: return matched > 0 ? 1.0 : 0.0;
        }
        return std::nullopt;
    }

    static std::string message(const Rule& rule, const std::string& twin, std::string_view what) {
        return "rules: rule \"" + rule.name + "\" (" + rule.path + "): twin \"" + twin + "\": " + std::string(what);
    }

    void fire(std::uint32_t r, std::uint32_t position) {
        const Rule& rule = rules_[r];
        const graph::TwinIndex twin = twins_[position];
        const std::string& id = ids_[position];
        const CondState& st = states_[r][position];
        ++stats_.firings;
        json detail = {{"rule", rule.name}, {"when", rule.when_text}};
        if (rule.for_s) {
            detail["for_s"] = *rule.for_s;
            detail["since"] = st.since;
        }
        run_->log_event(id, "rule", std::move(detail));
        for (const Action& a : rule.then) {
            switch (a.kind) {
                case ActionKind::set: {
                    json patch = json::array();
                    std::optional<graph::Snapshot> snap;
                    for (const Assignment& s : a.assignments) {
                        json value = s.value;
                        if (s.expression) {
                            if (!snap) snap = run_->snapshot();
                            query::Evaluator ev(*s.expression, *snap);
                            const std::array<std::uint32_t, 1> row{twin};
                            const query::Value v = ev.value(row);
                            if (!v.defined()) continue;  // nothing to set
                            value = v.to_json();
                        }
                        patch.push_back({{"op", "add"}, {"path", "/" + s.property}, {"value", std::move(value)}});
                    }
                    if (patch.empty()) break;
                    try {
                        run_->update_twin(id, patch);
                    } catch (const std::exception& x) {
                        throw Error(message(rule, id, std::string("set: ") + x.what()));
                    }
                    break;
                }
                case ActionKind::fail:
                case ActionKind::restore: {
                    const char* event = a.kind == ActionKind::fail ? "fail" : "repair";
                    if (!run_->deliver(twin, event, a.data))
                        throw Error(message(rule, id, std::string("no behaviour bound to the twin handled the event \"") + event +
                                                          "\" (bind the availability model to it)"));
                    break;
                }
                case ActionKind::alarm:
                    run_->log_event(id, "alarm", {{"rule", rule.name}, {"text", a.text}});
                    break;
                case ActionKind::start:
                    try {
                        run_->start_process(a.text, {{"rule", rule.name}, {"twin", id}});
                    } catch (const std::exception& x) {
                        throw Error(message(rule, id, std::string("start: ") + x.what()));
                    }
                    break;
            }
        }
    }

    std::vector<graph::TwinIndex> twins_;
    std::vector<std::string> ids_;
    std::vector<Rule> rules_;
    std::vector<std::vector<CondState>> states_;       ///< per condition rule, per twin
    std::vector<std::vector<std::uint8_t>> flags_;     ///< dirty flags per rule, per twin / target
    std::unordered_map<std::uint64_t, std::vector<Item>> watches_;
    std::vector<Item> dirty_;
    bool evaluation_pending_ = false;
    double round_time_ = -1.0;
    std::uint32_t rounds_ = 0;
    scenario::Run* run_ = nullptr;
    kernel::EventType<RuleTimer> timer_type_{};
    kernel::EventType<EvaluateTick> evaluate_type_{};
    RulesStatistics stats_;
};

}  // namespace

std::string_view RulesModel::description() const {
    return "Declarative business rules: `when <expression> [for <duration>] then <actions>` (set properties, fail or "
           "restore the twin, raise an alarm) and propagation of aggregates (mean, min, max, sum, count, all, any) "
           "along relationships; evaluated incrementally when a property a rule reads changes.";
}

std::span<const scenario::ModelParameter> RulesModel::parameters() const { return declared; }

void RulesModel::check(const scenario::Binding& binding) const { (void)read(binding, detail::binding_graph(binding), false); }

std::unique_ptr<scenario::Behaviour> RulesModel::instantiate(const scenario::Binding& binding, scenario::Run& run) const {
    detail::require_ascending(binding);
    const graph::Snapshot& g = detail::binding_graph(binding, &run.base());
    return std::make_unique<RulesBehaviour>(binding, g, read(binding, g, true));
}

std::optional<RulesStatistics> rules_statistics(const scenario::Behaviour& behaviour) {
    const auto* b = dynamic_cast<const RulesBehaviour*>(&behaviour);
    if (b == nullptr) return std::nullopt;
    return b->statistics();
}

}  // namespace twinsim::models
