// The rules' reader and checker, and the evaluation pieces that the scenario
// behaviour (rules.cpp) and the live engine (live_rules.cpp) share.
#include "models/rules/rule_set.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/query/parser.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::models::rules {

using scenario::ModelParameterError;

namespace {

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

/// Reads `on:` of an action (ActionTarget) and returns the twins it reaches
/// from the binding's twins now, for the checks of the action's properties.
ActionTarget read_target(const json& v, const std::string& p, const graph::Snapshot& g) {
    if (!v.is_object())
        throw ModelParameterError(p, "expected {relationship: name, direction: outgoing|incoming, where: expression}, found " +
                                         dump(v));
    for (const auto& [k, x] : v.items()) {
        (void)x;
        if (k != "relationship" && k != "direction" && k != "where")
            throw ModelParameterError(p + "." + k, "unknown key (on: takes relationship, direction, where)");
    }
    ActionTarget out;
    const json& rel = member(v, "relationship");
    if (!rel.is_string() || rel.get_ref<const std::string&>().empty())
        throw ModelParameterError(p + ".relationship", "expected the relationship's name (a non-empty string), found " + dump(rel));
    out.relationship = rel.get<std::string>();
    bool known = false;
    for (const dtdl::CompiledInterface& ci : g.models()->interfaces()) {
        const dtdl::Content* c = ci.find(out.relationship);
        if (c != nullptr && c->kind == dtdl::ContentKind::relationship) known = true;
    }
    if (!known) throw ModelParameterError(p + ".relationship", "no model declares a relationship \"" + out.relationship + "\"");
    if (v.contains("direction")) {
        const json& d = v["direction"];
        if (d != "outgoing" && d != "incoming")
            throw ModelParameterError(p + ".direction", "expected \"outgoing\" (the rule's twin is the relationship's "
                                                        "source; the default) or \"incoming\", found " + dump(d));
        out.incoming = d == "incoming";
    }
    if (v.contains("where")) {
        out.where = expression(v["where"], p + ".where");
        out.where_text = v["where"].get<std::string>();
    }
    return out;
}

Action read_action(const json& a, const std::string& p, const graph::Snapshot& g, std::span<const graph::TwinIndex> twins,
                   const std::set<dtdl::InterfaceIndex>& models, const ReadOptions& options) {
    const bool resolved = options.resolved;
    const std::vector<std::string>* processes = options.processes;
    static const char* expected =
        "expected an action: \"fail\", \"restore\", {set: {property: value}}, {fail: {data}}, {restore: {data}}, "
        "{alarm: text}, {alarm: {text, property}} or {start: process}; set and alarm also take on: {relationship, "
        "direction, where}";
    Action out;
    std::string key;
    json value;
    if (a.is_string()) {
        key = a.get<std::string>();
        if (key != "fail" && key != "restore")
            throw ModelParameterError(p, "unknown action \"" + key + "\" (" + expected + ")");
    } else if (a.is_object() && (a.size() == 1 || (a.size() == 2 && a.contains("on")))) {
        for (const auto& [k, v] : a.items())
            if (k != "on") {
                key = k;
                value = v;
            }
        if (key.empty()) throw ModelParameterError(p, std::string(expected) + ", found " + dump(a));
    } else {
        throw ModelParameterError(p, std::string(expected) + ", found " + dump(a));
    }
    // The twins the action writes: the binding's own, or those `on:` reaches from them now.
    std::vector<graph::TwinIndex> reached(twins.begin(), twins.end());
    std::set<dtdl::InterfaceIndex> reached_models = models;
    if (a.is_object() && a.contains("on")) {
        if (key != "set" && key != "alarm")
            throw ModelParameterError(p + ".on", "only set and alarm act on related twins (\"" + key + "\" acts on the "
                                                 "rule's own twin)");
        out.on = read_target(a["on"], p + ".on", g);
        std::set<graph::TwinIndex> all;
        std::set<dtdl::InterfaceIndex> related_models;
        for (const graph::TwinIndex t : twins) {
            const auto rels = out.on->incoming ? g.in_relationships(t) : g.out_relationships(t);
            for (const graph::RelationshipIndex rel : rels)
                if (g.relationship_name(rel) == out.on->relationship)
                    related_models.insert(g.twin_model(out.on->incoming ? g.source(rel) : g.target(rel)));
        }
        if (out.on->where) check_reads(*out.on->where, g, related_models, p + ".on.where", "the related twins");
        Action probe;
        probe.on = out.on;
        for (const graph::TwinIndex t : twins)
            for (const graph::TwinIndex r : action_twins(probe, t, g)) all.insert(r);
        reached.assign(all.begin(), all.end());
        reached_models = models_of(g, reached);
    }
    const std::string whose = out.on ? "related twin" : "twin";
    if (key == "set") {
        out.kind = ActionKind::set;
        if (!value.is_object() || value.empty())
            throw ModelParameterError(p + ".set", "expected a mapping of property -> value, found " + dump(value));
        for (const auto& [property, v] : value.items()) {
            const std::string pp = p + ".set." + property;
            Assignment s;
            s.property = property;
            for (const graph::TwinIndex t : reached) {
                const auto& model = g.models()->at(g.twin_model(t));
                if (model.layout.find(property) == nullptr)
                    throw ModelParameterError(pp, "unknown property: " + whose + " \"" + g.twin_id(t) + "\" (" +
                                                      model.definition->id + ") has no property \"" + property + "\"");
            }
            if (out.on && reached.empty()) {
                bool anywhere = false;
                for (const dtdl::CompiledInterface& ci : g.models()->interfaces())
                    if (ci.layout.find(property) != nullptr) anywhere = true;
                if (!anywhere) throw ModelParameterError(pp, "unknown property \"" + property + "\": no model declares it");
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
                if (!reached.empty()) {
                    const dtdl::PropertySlot* slot = g.models()->at(g.twin_model(reached.front())).layout.find(property);
                    numeric = slot != nullptr && (slot->type == dtdl::ColumnType::float64 || slot->type == dtdl::ColumnType::int64);
                }
                if (numeric && v.is_string() && !scenario::is_parameter_reference(v))
                    s.value = *scenario::quantity(v, scenario::property_unit(g, reached, property, pp), pp);
                if (scenario::is_parameter_reference(v)) {
                    if (resolved) throw ModelParameterError(pp, "refers to a parameter that has no value: " + dump(v));
                } else {
                    for (const dtdl::InterfaceIndex m : reached_models) {
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
    } else if (options.live && (key == "fail" || key == "restore" || key == "start")) {
        throw ModelParameterError(p, "the action \"" + key + "\" is not available on the live graph (it needs a scenario's "
                                     "behaviours); use set: {property: value} (e.g. set: {operatingState: failed})");
    } else if (key == "fail" || key == "restore") {
        out.kind = key == "fail" ? ActionKind::fail : ActionKind::restore;
        if (value.is_object())
            out.data = value;
        else if (!value.is_null())
            throw ModelParameterError(p + "." + key, "expected the event's data (a mapping) or nothing, found " + dump(value));
    } else if (key == "alarm") {
        out.kind = ActionKind::alarm;
        const json* text = &value;
        if (value.is_object()) {
            for (const auto& [k, x] : value.items()) {
                (void)x;
                if (k != "text" && k != "property")
                    throw ModelParameterError(p + ".alarm." + k, "unknown key (alarm: takes text, property)");
            }
            text = &member(value, "text");
            const json& property = member(value, "property");
            if (!property.is_null()) {
                if (!property.is_string() || property.get_ref<const std::string&>().empty())
                    throw ModelParameterError(p + ".alarm.property",
                                              "expected the name of a string property, found " + dump(property));
                out.property = property.get<std::string>();
                for (const graph::TwinIndex t : reached) {
                    const auto& model = g.models()->at(g.twin_model(t));
                    const dtdl::PropertySlot* slot = model.layout.find(out.property);
                    if (slot == nullptr)
                        throw ModelParameterError(p + ".alarm.property", "unknown property: " + whose + " \"" + g.twin_id(t) +
                                                                             "\" (" + model.definition->id +
                                                                             ") has no property \"" + out.property + "\"");
                    if (slot->type != dtdl::ColumnType::string)
                        throw ModelParameterError(p + ".alarm.property", "property \"" + out.property + "\" of " +
                                                                             model.definition->id + " is " +
                                                                             dtdl::to_string(slot->type) +
                                                                             ", not a string: an alarm writes its text");
                    const json& alarm_text = member(value, "text");
                    if (alarm_text.is_string() && slot->property != nullptr && slot->property->schema) {
                        const auto errors = dtdl::validate_value(*slot->property->schema, alarm_text);
                        if (!errors.empty())
                            throw ModelParameterError(p + ".alarm.text", dump(alarm_text) + " is not a valid value of " +
                                                                             model.definition->id + "'s \"" + out.property +
                                                                             "\": " + errors.front().message);
                    }
                }
            }
        }
        if (!text->is_string() || text->get_ref<const std::string&>().empty())
            throw ModelParameterError(p + ".alarm", "expected the alarm's text (a non-empty string), found " + dump(*text));
        out.text = text->get<std::string>();
        if (out.property.empty() && out.on)
            throw ModelParameterError(p + ".alarm", "an alarm on related twins needs the property its text is written to "
                                                    "({alarm: {text, property}, on: ...})");
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
                    const std::set<dtdl::InterfaceIndex>& models, const ReadOptions& options) {
    const bool resolved = options.resolved;
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
            read_action(then[k], r.path + ".then[" + std::to_string(k) + "]", g, twins, models, options));
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


}  // namespace

std::vector<Rule> read_rules(const json& list, const graph::Snapshot& g, std::span<const graph::TwinIndex> twins,
                             const ReadOptions& options) {
    if (!list.is_array() || list.empty()) throw ModelParameterError("rules", "expected a non-empty list of rules, found " + dump(list));
    const std::set<dtdl::InterfaceIndex> models = models_of(g, twins);
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
            read_propagation(r, j, g, twins, models);
        else
            read_condition(r, j, g, twins, models, options);
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<double> target_value(const Rule& rule, const Target& tg, const graph::Snapshot& snap, query::Evaluator* where) {
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
    std::optional<double> v;
    switch (rule.aggregate) {
        case Aggregate::mean: v = values > 0 ? std::optional<double>(acc / static_cast<double>(values)) : std::nullopt; break;
        case Aggregate::min:
        case Aggregate::max: v = values > 0 ? std::optional<double>(acc) : std::nullopt; break;
        case Aggregate::sum: v = acc; break;
        case Aggregate::count: v = static_cast<double>(matched); break;
        case Aggregate::all: v = matched == tg.sources.size() ? 1.0 : 0.0; break;
        case Aggregate::any: v = matched > 0 ? 1.0 : 0.0; break;
    }
    if (v && tg.type == dtdl::ColumnType::int64) v = std::round(*v);
    if (v && tg.type == dtdl::ColumnType::boolean) v = *v != 0.0 ? 1.0 : 0.0;
    return v;
}

std::vector<graph::TwinIndex> action_twins(const Action& action, graph::TwinIndex twin, const graph::Snapshot& snap) {
    if (!action.on) return {twin};
    const ActionTarget& on = *action.on;
    std::vector<graph::TwinIndex> related;
    const auto rels = on.incoming ? snap.in_relationships(twin) : snap.out_relationships(twin);
    for (const graph::RelationshipIndex rel : rels)
        if (snap.relationship_name(rel) == on.relationship) related.push_back(on.incoming ? snap.source(rel) : snap.target(rel));
    std::sort(related.begin(), related.end());
    related.erase(std::unique(related.begin(), related.end()), related.end());
    if (on.where) {
        query::Evaluator ev(*on.where, snap);
        std::erase_if(related, [&](graph::TwinIndex t) {
            const std::array<std::uint32_t, 1> row{t};
            return !ev.matches(row);
        });
    }
    return related;
}

json alarm_patch(const Action& action) {
    if (action.kind != ActionKind::alarm || action.property.empty()) return json::array();
    return json::array({{{"op", "add"}, {"path", "/" + action.property}, {"value", action.text}}});
}

json set_patch(const Action& action, graph::TwinIndex twin, const graph::Snapshot& snap) {
    json patch = json::array();
    for (const Assignment& s : action.assignments) {
        json value = s.value;
        if (s.expression) {
            query::Evaluator ev(*s.expression, snap);
            const std::array<std::uint32_t, 1> row{twin};
            const query::Value v = ev.value(row);
            if (!v.defined()) continue;  // nothing to set
            value = v.to_json();
        }
        patch.push_back({{"op", "add"}, {"path", "/" + s.property}, {"value", std::move(value)}});
    }
    return patch;
}

}  // namespace twinsim::models::rules
