// Live rules from Python (models/rules/live_rules.hpp): TwinGraph.add_rules,
// remove_rules, rules, rule_firings, rules_statistics, drain_rules and
// start_rules, and twinsim.RuleFileError. One engine per graph, started on
// first use; a store's engine keeps its rule sets in the store directory and
// is started by open_store when the store keeps some. Everything happens in
// the C++ engine; this file only converts arguments.

#include <pybind11/stl.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>

#include "bindings.hpp"
#include "document_arguments.hpp"
#include "json_conversion.hpp"
#include "models/rules/live_rules.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

using graph::TwinGraph;
using models::LiveRules;

PyObject* rule_file_error = nullptr;

std::unordered_map<const TwinGraph*, std::unique_ptr<LiveRules>>& engines() {
    static auto* m = new std::unordered_map<const TwinGraph*, std::unique_ptr<LiveRules>>();
    return *m;
}
/// Plain graphs with a running engine: the engine uses the graph until it
/// stops, so the graph's Python object is kept alive until stop_rules()
/// (a graph may already be destroyed when a weak reference's callback runs).
std::unordered_map<const TwinGraph*, py::object>& keepers() {
    static auto* m = new std::unordered_map<const TwinGraph*, py::object>();
    return *m;
}
std::unordered_map<const TwinGraph*, std::filesystem::path>& store_directories() {
    static auto* m = new std::unordered_map<const TwinGraph*, std::filesystem::path>();
    return *m;
}

models::RuleClock clock_argument(const std::string& name) {
    if (name == "source") return models::RuleClock::source;
    if (name == "wall") return models::RuleClock::wall;
    throw py::value_error("clock must be \"source\" (the updates' sourceTime) or \"wall\" (the machine's clock), not \"" +
                          name + "\"");
}

/// Starts the engine of `graph` (the GIL is released while it subscribes).
LiveRules& start(TwinGraph& graph, models::LiveRulesOptions options) {
    if (const auto it = store_directories().find(&graph); it != store_directories().end()) {
        options.directory = it->second;
        if (options.dead_letter.empty()) options.dead_letter = it->second / "rules-dead-letter.ndjson";
    }
    std::unique_ptr<LiveRules> made;
    {
        py::gil_scoped_release release;
        made = std::make_unique<LiveRules>(graph, std::move(options));
    }
    auto& slot = engines()[&graph];
    slot = std::move(made);
    return *slot;
}

void release(const TwinGraph* graph) {
    const auto it = engines().find(graph);
    if (it == engines().end()) return;
    std::unique_ptr<LiveRules> engine = std::move(it->second);
    engines().erase(it);
    py::gil_scoped_release release;
    engine.reset();
}

LiveRules& engine_of(const py::object& self) {
    TwinGraph& graph = self.cast<TwinGraph&>();
    if (const auto it = engines().find(&graph); it != engines().end()) return *it->second;
    if (store_directories().count(&graph) == 0) keepers()[&graph] = self;  // until stop_rules()
    return start(graph, {});
}

py::dict info_dict(const models::LiveRuleSetInfo& i) {
    py::dict d;
    d["id"] = i.id;
    d["source"] = i.source;
    d["clock"] = models::to_string(i.clock);
    d["rules"] = i.rules;
    d["definition"] = to_python(nlohmann::json::parse(i.definition));
    return d;
}

template <class F>
void method(py::object& cls, const char* name, F&& f, const char* doc, auto... extra) {
    cls.attr(name) = py::cpp_function(std::forward<F>(f), py::name(name), py::is_method(cls),
                                      py::sibling(py::getattr(cls, name, py::none())), extra..., doc);
}

}  // namespace

void note_store_rules(TwinGraph& graph, const std::filesystem::path& directory) {
    store_directories()[&graph] = directory;
    if (!models::kept_rule_sets(directory).empty()) start(graph, {});
}

void release_graph_rules(const TwinGraph* graph) {
    release(graph);
    store_directories().erase(graph);
}

void define_rules(py::module_& m) {
    rule_file_error = new_exception(
        m, "RuleFileError", py::make_tuple(m.attr("TwinsimError"), py::handle(PyExc_ValueError)).ptr(),
        "A live rule file (or dict) the models refuse, or an unknown rule-set id: the message names the file, line, "
        "group, rule, field and reason. Also a ValueError.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const models::RuleFileError& e) {
            PyErr_SetString(rule_file_error, e.what());
        }
    });
    py::object cls = m.attr("TwinGraph");
    method(
        cls, "start_rules",
        [](const py::object& self, const std::string& clock, const py::object& dead_letter, std::size_t queue_capacity) {
            TwinGraph& graph = self.cast<TwinGraph&>();
            if (engines().count(&graph) != 0)
                throw py::value_error("the live rules of this graph are already running (start_rules first, before "
                                      "add_rules)");
            models::LiveRulesOptions o;
            o.clock = clock_argument(clock);
            if (!dead_letter.is_none()) o.dead_letter = to_path(dead_letter);
            o.queue_capacity = queue_capacity;
            if (store_directories().count(&graph) == 0) keepers()[&graph] = self;  // until stop_rules()
            start(graph, std::move(o));
        },
        "Starts this graph's live rules engine with options (otherwise add_rules starts it with the defaults).\n\n"
        "clock: 'source' (default: `for` durations measured on the updates' sourceTime) or 'wall' (a timer); a rule "
        "file's own `clock` wins. dead_letter: NDJSON file for failed firings (a store's default: "
        "DIR/rules-dead-letter.ndjson). queue_capacity: batches waiting before writers block.",
        py::kw_only(), py::arg("clock") = "source", py::arg("dead_letter") = py::none(), py::arg("queue_capacity") = 1024);
    method(
        cls, "stop_rules",
        [](const py::object& self) {
            const TwinGraph* graph = &self.cast<TwinGraph&>();
            release(graph);
            keepers().erase(graph);
        },
        "Stops this graph's live rules engine (queued changes are dropped: drain_rules() first to evaluate them). "
        "A plain graph with running rules is kept alive until this is called; a store's engine stops when the "
        "store closes.");
    method(
        cls, "add_rules",
        [](const py::object& self, const py::object& rules) {
            LiveRules& engine = engine_of(self);
            if (py::isinstance<py::dict>(rules) || py::isinstance<py::list>(rules)) {
                const nlohmann::json doc = to_json(rules);
                py::gil_scoped_release release;
                return engine.add_json(doc, "<dict>");
            }
            const std::filesystem::path path = to_path(rules);
            py::gil_scoped_release release;
            return engine.add_file(path);
        },
        "Adds live rules (models/rules/rules.md, 'Live rules'): a rule file (YAML/JSON path) or the same as a list "
        "of {where, rules} groups or a dict {clock, groups}. Checked against the models first (RuleFileError names "
        "file, line, group, rule, field and reason). Returns the rule set's id. On a store, the set is kept in the "
        "store directory and runs whenever the store is opened.",
        py::arg("rules"));
    method(
        cls, "remove_rules",
        [](const py::object& self, const std::string& id) {
            LiveRules& engine = engine_of(self);
            py::gil_scoped_release release;
            engine.remove(id);
        },
        "Stops the rule set `id` (and forgets it in a store). RuleFileError when none has this id.", py::arg("id"));
    method(
        cls, "rules",
        [](const py::object& self) {
            py::list out;
            TwinGraph& graph = self.cast<TwinGraph&>();
            if (engines().count(&graph) == 0) return out;
            for (const auto& i : engine_of(self).list()) out.append(info_dict(i));
            return out;
        },
        "The running rule sets: [{id, source, clock, rules (names), definition}].");
    method(
        cls, "drain_rules",
        [](const py::object& self) {
            TwinGraph& graph = self.cast<TwinGraph&>();
            if (engines().count(&graph) == 0) return;
            LiveRules& engine = engine_of(self);
            py::gil_scoped_release release;
            engine.drain();
        },
        "Waits until every change committed so far has been evaluated by the live rules and their firings committed.");
    method(
        cls, "rule_firings",
        [](const py::object& self) {
            py::list out;
            TwinGraph& graph = self.cast<TwinGraph&>();
            if (engines().count(&graph) == 0) return out;
            for (const auto& f : engine_of(self).firings()) {
                py::dict d;
                d["rule_set"] = f.rule_set;
                d["rule"] = f.rule;
                d["twin"] = f.twin;
                d["trigger_sequence"] = f.trigger_sequence;
                d["source_time"] = f.source_time.ns == 0 ? py::object(py::none())
                                                         : py::object(py::str(format_timestamp(f.source_time)));
                d["patch"] = to_python(nlohmann::json::parse(f.patch));
                d["alarms"] = f.alarms;
                py::dict related;
                for (const auto& [twin, patch] : f.related) related[py::str(twin)] = to_python(nlohmann::json::parse(patch));
                d["related"] = related;
                d["sequence"] = f.sequence;
                d["failed"] = f.failed;
                out.append(d);
            }
            return out;
        },
        "The live rules' firings so far, in order: [{rule_set, rule, twin, trigger_sequence, source_time, patch, "
        "alarms, related ({twin: patch} written through an action's on:), sequence, failed}].");
    method(
        cls, "rules_statistics",
        [](const py::object& self) {
            py::dict d;
            TwinGraph& graph = self.cast<TwinGraph&>();
            const models::LiveRulesStatistics s =
                engines().count(&graph) == 0 ? models::LiveRulesStatistics{} : engine_of(self).statistics();
            d["batches"] = s.batches;
            d["evaluations"] = s.evaluations;
            d["recomputations"] = s.recomputations;
            d["firings"] = s.firings;
            d["failures"] = s.failures;
            d["queue_high_water"] = s.queue_high_water;
            return d;
        },
        "Counters of the live rules: batches, evaluations, recomputations, firings, failures, queue_high_water.");
}

}  // namespace twinsim::python
